"""The daily job's alerts (trial_activation/alerts.py, `trial-activation run`), against a real HTTP receiver
on 127.0.0.1 and real SQLMesh runs on a copy of the project: a failed audit (the accounting audit) and a
failed run reach the receiver; a receiver that refuses, answers 500 or never answers changes nothing
about a run that succeeds (exit 0, one line on stderr); with no URL, alerts go to the console only.

Each run replays one day as the scheduler would: prod built up to the day before, then the run of DAY
with its clock at the next midnight. The receiver puts each request on a queue before it answers, so
a notice is on the queue once the run that sent it has returned; tests wait on the queue, never sleep.
"""

from __future__ import annotations

import csv
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from helpers import edit_goal
from trial_activation.__main__ import main
from trial_activation.project import build, open_context
from trial_activation.testing import copy_project

DAY, NEXT_MIDNIGHT = "2024-02-10", "2024-02-11"
HEADER = ["ORGANIZATION_ID", "ACTIVITY_NAME", "TIMESTAMP", "CONVERTED", "CONVERTED_AT", "TRIAL_START", "TRIAL_END"]
TRIAL = ("2024-02-01 09:00:00", "2024-03-02 09:00:00")
# Days before DAY (loaded by the build) and DAY itself (loaded by the run).
ROWS = [
    ["org_a", "Scheduling.Shift.Created", "2024-02-02 10:00:00", "False", "", *TRIAL],
    ["org_a", "Scheduling.Shift.Created", "2024-02-05 11:00:00", "False", "", *TRIAL],
    ["org_b", "Scheduling.Shift.Created", "2024-02-03 10:00:00", "True", "2024-02-20 00:00:00", *TRIAL],
    ["org_a", "Scheduling.Shift.Created", f"{DAY} 08:00:00", "False", "", *TRIAL],
    ["org_b", "Scheduling.Shift.Created", f"{DAY} 09:30:00", "True", "2024-02-20 00:00:00", *TRIAL],
    ["org_b", "Scheduling.Shift.Approved", f"{DAY} 12:00:00", "True", "2024-02-20 00:00:00", *TRIAL],
]
ROWS_OF_DAY = sum(1 for row in ROWS if row[2].startswith(DAY))
SECRET = "B0SECRET/xoxTOKEN"  # the credential part of a webhook URL, which must never be printed
BUILD_OPTIONS = {"skip_tests": True, "skip_linter": True}


class Receiver:
    """An HTTP server on 127.0.0.1 that queues (path, content type, JSON body) and answers `status`."""

    def __init__(self, status: int = 200):
        requests: queue.Queue = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                requests.put((self.path, self.headers["Content-Type"], json.loads(body)))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"rollup_error")

            def log_message(self, *args):  # the test's output is the CLI's
                pass

        self.requests = requests
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/{SECRET}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def notice(self) -> dict:
        path, content_type, body = self.requests.get(timeout=30)
        assert path == f"/services/T0/{SECRET}" and content_type == "application/json"
        return body

    def notices(self) -> dict[str, list[dict]]:
        """Every notice of a run that returned (each was queued before the run went on), by event."""
        by_event = {}
        for notice in [self.notice()] + [self.notice() for _ in range(self.requests.qsize())]:
            by_event.setdefault(notice["trial_activation"]["event"], []).append(notice)
        return by_event


def write_events(path: Path, rows=ROWS) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    return path


def built(root: Path, tamper=None) -> dict:
    """A project copy with prod built up to the day before DAY: paths the CLI's run takes."""
    project = copy_project(root / "project")
    if tamper:
        tamper(project)
    events = write_events(root / "events.csv")
    warehouse = root / "warehouse.duckdb"
    context = open_context(project, events_path=events, warehouse_path=warehouse, notification_targets=[])
    build(context, execution_time=DAY, **BUILD_OPTIONS)
    context.close()
    return {"project": project, "events": events, "warehouse": warehouse}


def loses_the_new_days_rows(project: Path) -> None:
    """A staging bug the accounting audit exists for: staging.trial_events drops DAY's rows (so the
    build of the days before is right, and the run of DAY stages nothing of its rows)."""
    model = project / "models" / "staging" / "trial_events.sql"
    text = model.read_text()
    condition = "quarantine_reason IS NULL AND event_at BETWEEN @start_ts AND @end_ts"
    assert condition in text
    model.write_text(text.replace(condition, f"{condition} AND event_at < '{DAY}'"))


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> dict:
    return built(tmp_path_factory.mktemp("healthy"))


@pytest.fixture(scope="module")
def losing_rows(tmp_path_factory) -> dict:
    return built(tmp_path_factory.mktemp("losing_rows"), tamper=loses_the_new_days_rows)


def own_warehouse(project: dict, tmp_path: Path) -> dict:
    """The built warehouse copied for one test (a run changes it)."""
    shutil.copy2(project["warehouse"], tmp_path / "warehouse.duckdb")
    return {**project, "warehouse": tmp_path / "warehouse.duckdb"}


def run_args(project: dict) -> list[str]:
    return [
        "run", "--project", str(project["project"]), "--events", str(project["events"]),
        "--warehouse", str(project["warehouse"]), "--end", DAY, "--execution-time", NEXT_MIDNIGHT,
    ]


def daily_run(capsys, project: dict) -> tuple[int, str, str]:
    status = main(run_args(project))
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    return status, out, err


def staged_rows_of_day(project: dict) -> int:
    context = open_context(project["project"], events_path=project["events"], warehouse_path=project["warehouse"])
    try:
        return int(context.fetchdf(f"SELECT COUNT(*) AS n FROM staging.trial_events WHERE event_at::DATE = '{DAY}'").n[0])
    finally:
        context.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_failed_accounting_audit_alerts_the_receiver_and_the_job_exits_1(losing_rows, tmp_path):
    """As cron runs it (a process of its own): the audit's notice names the audit, the model, the
    count and the day that does not add up; then the run's notice; exit status 1."""
    project = own_warehouse(losing_rows, tmp_path)
    with Receiver() as receiver:
        done = subprocess.run(
            [sys.executable, "-m", "trial_activation", *run_args(project)],
            capture_output=True, text=True, timeout=600,
            env={**os.environ, "TRIAL_ALERT_WEBHOOK_URL": receiver.url},
        )
        notices = receiver.notices()

    assert done.returncode == 1, done.stderr[-2000:]
    assert SECRET not in done.stdout + done.stderr
    # The accounting audit is on staging.trial_events and blocking: nothing downstream is built from a
    # day that does not add up, so the marts' non-blocking goal warning is not reached.
    assert sorted(notices) == ["audit_failure", "run_failure"], notices
    (audit,), (run,) = notices["audit_failure"], notices["run_failure"]  # one notice per failure
    fields = audit["trial_activation"]
    assert (fields["event"], fields["status"], fields["environment"]) == ("audit_failure", "failure", "prod")
    assert (fields["audit"], fields["model"], fields["count"]) == (
        "raw_rows_accounted_for", "staging.trial_events", 1
    )
    for words in ("accounting mismatch", "raw_rows_accounted_for", "staging.trial_events",
                  f"event_date {DAY}, raw_rows {ROWS_OF_DAY}, staged_rows_with_duplicates 0, quarantined_rows 0)"):
        assert words in audit["text"], words
    assert "staging.trial_events: audit raw_rows_accounted_for failed" in run["text"]
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("trial-activation run:")]
    assert len(error_lines) == 1 and "audit raw_rows_accounted_for failed" in error_lines[0]


def test_failed_run_alerts_the_receiver_with_the_failed_model(tmp_path, capsys, monkeypatch):
    """The day's file turns out unreadable (a row with a field missing): the model that reads it fails,
    and the notice names it and DuckDB's reason."""
    project = built(tmp_path)
    write_events(project["events"], [*ROWS, ["org_a", "Scheduling.Shift.Created", f"{DAY} 13:00:00", "False"]])
    with Receiver() as receiver:
        monkeypatch.setenv("TRIAL_ALERT_WEBHOOK_URL", receiver.url)
        status, _, err = daily_run(capsys, project)
        notice = receiver.notice()

    assert status == 1
    assert notice["trial_activation"]["event"] == "run_failure"
    assert notice["trial_activation"]["environment"] == "prod"
    assert "daily run FAILED" in notice["text"]
    assert "raw.trial_events: " in notice["text"] and "CSV Error on Line: 8" in notice["text"]  # header + 7 rows
    assert err.splitlines()[-1].startswith("trial-activation run: raw.trial_events: ")


@pytest.mark.parametrize("receiver_state", ["refusing", "answering_500", "never_answering"])
def test_an_alert_that_cannot_be_delivered_leaves_a_successful_run_successful(
    healthy, tmp_path, capsys, monkeypatch, receiver_state
):
    """The run's notices (its heartbeat, and the tiny log's goal warnings) cannot be delivered: the run
    still loads the day and exits 0, and each failed delivery is one line on stderr, naming the host but
    not the URL's secret path."""
    project = own_warehouse(healthy, tmp_path)
    received = {}
    if receiver_state == "refusing":
        monkeypatch.setenv("TRIAL_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{closed_port()}/services/T0/{SECRET}")
        status, out, err = daily_run(capsys, project)
        reason = "Connection refused"
    elif receiver_state == "answering_500":
        with Receiver(status=500) as receiver:
            monkeypatch.setenv("TRIAL_ALERT_WEBHOOK_URL", receiver.url)
            status, out, err = daily_run(capsys, project)
            received = receiver.notices()
        reason = "HTTP 500"
    else:
        with socket.socket() as silent:  # accepts connections into its backlog, never reads or answers
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            monkeypatch.setenv("TRIAL_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{silent.getsockname()[1]}/services/T0/{SECRET}")
            monkeypatch.setenv("TRIAL_ALERT_TIMEOUT_SECONDS", "1")
            status, out, err = daily_run(capsys, project)
        reason = "no answer within 1 s"

    assert status == 0, err
    assert staged_rows_of_day(project) == ROWS_OF_DAY  # the run did load the day
    assert "Run (prod): finished" in out.splitlines()
    # Every notice is also on the console (the heartbeat on stdout, the warnings on stderr), and each
    # one that did not reach the webhook adds one line.
    console = [line for line in (out + err).splitlines() if line.startswith("alert: ")]
    assert any("daily run finished for `prod`" in line for line in console)
    undelivered = [line for line in err.splitlines() if not line.startswith("alert: ")]
    assert len(undelivered) == len(console), err
    for line in undelivered:
        assert line.startswith("trial-activation alert not delivered (webhook TRIAL_ALERT_WEBHOOK_URL at 127.0.0.1:")
        assert reason in line
    if received:  # the receiver got them, then answered 500
        assert sum(map(len, received.values())) == len(console)
        assert len(received["run_end"]) == 1
        # Two organizations: every goal is completed by both or by neither, which the non-blocking
        # goal_separates_organizations audit of marts.trial_goals reports. A warning, not a failure.
        warnings = received["audit_warning"]
        assert {(n["trial_activation"]["audit"], n["trial_activation"]["status"]) for n in warnings} == {
            ("goal_separates_organizations", "warning")
        }


def test_without_a_url_alerts_go_to_the_console_only(losing_rows, tmp_path, capsys):
    """No TRIAL_ALERT_WEBHOOK_URL: a receiver is listening, but a failing run sends it nothing; the
    alerts are on stderr, each one line, before the command's one-line error."""
    project = own_warehouse(losing_rows, tmp_path)
    with Receiver() as receiver:
        status, out, err = daily_run(capsys, project)
        # Notices are sent during the run, and the receiver queues a request before answering it.
        assert receiver.requests.empty()

    assert status == 1
    *alerts, error = err.splitlines()
    assert all(line.startswith("alert: trial-activation on ") for line in alerts), err
    failed_audits = [line for line in alerts if "FAILED on" in line]
    assert len(failed_audits) == 1 and "audit `raw_rows_accounted_for` FAILED on `staging.trial_events`" in failed_audits[0]
    assert "daily run FAILED" in alerts[-1] and "raw_rows_accounted_for" in alerts[-1]
    assert error.startswith("trial-activation run: staging.trial_events: audit raw_rows_accounted_for")


def test_a_run_that_cannot_start_alerts_too(tmp_path, capsys, monkeypatch):
    """Every exit status 1 of the job sends a notice, also when SQLMesh never started the run (here prod
    was never built): SQLMesh itself notifies nobody then."""
    project = copy_project(tmp_path / "project")
    paths = {"project": project, "events": write_events(tmp_path / "events.csv"), "warehouse": tmp_path / "w.duckdb"}
    with Receiver() as receiver:
        monkeypatch.setenv("TRIAL_ALERT_WEBHOOK_URL", receiver.url)
        status, _, err = daily_run(capsys, paths)
        notice = receiver.notice()

    assert status == 1
    assert notice["trial_activation"]["event"] == "run_failure"
    assert f"there is no warehouse at {paths['warehouse']}: build it first" in notice["text"]
    assert err.splitlines()[-1].startswith("trial-activation run: ")


def test_failed_apply_alerts_the_receiver_and_the_build_error_stays_one_line(tmp_path, capsys, monkeypatch):
    """`trial-activation build` (or any plan applied through open_context) with the webhook set: a goal
    that breaks a rule fails its audit and so the apply; both reach the receiver, and the console shows
    the build's one-line error only (the webhook took the notices)."""
    project = copy_project(tmp_path / "project")
    edit_goal(project / "seeds" / "activation_goals.csv", "week_2_activity", window_start_day=14)
    with Receiver() as receiver:
        monkeypatch.setenv("TRIAL_ALERT_WEBHOOK_URL", receiver.url)
        status = main(["build", "--project", str(project), "--warehouse", str(tmp_path / "w.duckdb")])
        notices = receiver.notices()
    out, err = capsys.readouterr()

    assert status == 1
    assert SECRET not in out + err
    (audit,), (apply,) = notices["audit_failure"], notices["apply_failure"]
    assert (audit["trial_activation"]["audit"], audit["trial_activation"]["model"]) == (
        "valid_goal_definitions", "staging.activation_goals"
    )
    assert "goal_id week_2_activity" in audit["text"] and "window_start_day is after window_end_day" in audit["text"]
    assert apply["trial_activation"]["environment"] == "prod"
    assert "plan apply FAILED" in apply["text"] and "staging.activation_goals: audit valid_goal_definitions" in apply["text"]
    assert len(err.splitlines()) == 1 and err.startswith("trial-activation build: staging.activation_goals: audit")


def test_accounting_check_of_the_loaded_days_alerts_a_late_file(tmp_path, capsys, monkeypatch):
    """A late event for a day the build already loaded: the run of DAY succeeds (it audits DAY only),
    and `--check-accounting` finds the past day over every loaded day, alerts and exits 1."""
    project = built(tmp_path)
    late_day = "2024-02-05"
    late = ["org_a", "Scheduling.Shift.Created", f"{late_day} 15:00:00", "False", "", *TRIAL]
    write_events(project["events"], [*ROWS, late])
    raw_rows_of_late_day = sum(1 for row in [*ROWS, late] if row[2].startswith(late_day))
    with Receiver() as receiver:
        monkeypatch.setenv("TRIAL_ALERT_WEBHOOK_URL", receiver.url)
        status = main([*run_args(project), "--check-accounting"])
        notices = receiver.notices()
    out, err = capsys.readouterr()

    assert status == 1
    assert "Run (prod): finished" in out.splitlines()  # the day itself loaded
    assert staged_rows_of_day(project) == ROWS_OF_DAY
    (audit,) = notices["audit_failure"]
    assert (audit["trial_activation"]["audit"], audit["trial_activation"]["model"]) == (
        "raw_rows_accounted_for", "staging.trial_events"
    )
    assert (
        f"event_date {late_day}, raw_rows {raw_rows_of_late_day}, staged_rows_with_duplicates"
        f" {raw_rows_of_late_day - 1}, quarantined_rows 0)"
    ) in audit["text"]
    assert "run_failure" not in notices  # the run did not fail; the check's notice is the one
    error = err.splitlines()[-1]
    assert error.startswith("trial-activation run: staging.trial_events: audit raw_rows_accounted_for")
    assert "over the loaded days 2024-01-01 to 2024-02-10" in error and "restate" in error


def test_accounting_check_passes_when_every_raw_row_is_accounted_for(healthy, tmp_path, capsys):
    project = own_warehouse(healthy, tmp_path)
    status = main([*run_args(project), "--check-accounting"])
    out, err = capsys.readouterr()

    assert status == 0, err
    assert "Accounting (prod): every raw row of 2024-01-01 to 2024-02-10 is staged or quarantined" in out.splitlines()
