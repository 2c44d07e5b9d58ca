"""Readers and the DuckDB warehouse's lock, with real second processes (never a mock).

DuckDB lets one process open a file read-write, or any number of processes open it read-only. The
commands that only read (summary, compare, report, export) open it read-only, so they run beside a
notebook or `duckdb -readonly` and beside each other; a build needs the file to itself, and
`--wait SECONDS` waits for it. Every command here runs as its own process, as a user would run it:
a process that has opened the warehouse keeps its connection (SQLMesh caches one per file), which
would hold the lock for the rest of the test session.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import edit_goal
from trial_activation.project import PROJECT_ROOT
from trial_activation.testing import SAMPLE_LOG, copy_project
CLI = [sys.executable, "-m", "trial_activation"]


def cli(*argv, **options) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=600, **options)


class Holder:
    """Another process with the warehouse open (read-only like a notebook or `duckdb -readonly`, or
    read-write like a plan or `sqlmesh ui`) until release(): it waits on its stdin."""

    def __init__(self, warehouse: Path, *, read_only: bool, arguments: tuple = ()):
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import duckdb, sys\n"
                f"connection = duckdb.connect({str(warehouse)!r}, read_only={read_only})\n"
                "connection.execute('SELECT COUNT(*) FROM duckdb_tables()').fetchall()\n"
                "print('open', flush=True)\n"
                "sys.stdin.read()\n",
                *arguments,  # what its command line shows besides
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "open", "the holder could not open the warehouse"
        self.pid = self.process.pid

    def release(self) -> None:
        self.process.communicate("", timeout=60)  # closes its stdin: the holder exits and the lock is free

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.release()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A project copy and its warehouse with prod (the sample) and dev (week 1's percentile at 50) built,
    by the CLI in its own process: (project, warehouse, what prod's build printed, what dev's printed).
    The project copy keeps dev's edit: a build of prod there promotes it."""
    root = tmp_path_factory.mktemp("warehouse_lock")
    project = copy_project(root / "project")
    warehouse = root / "warehouse.duckdb"
    common = ("--project", str(project), "--events", str(SAMPLE_LOG), "--warehouse", str(warehouse))
    prod = cli("build", *common)
    assert prod.returncode == 0, prod.stderr
    edit_goal(project / "seeds" / "activation_goals.csv", "week_1_activity", threshold_percentile=50)
    dev = cli("build", "-e", "dev", *common)
    assert dev.returncode == 0, dev.stderr
    return project, warehouse, prod.stdout, dev.stdout


def _options(built) -> tuple:
    project, warehouse, *_ = built
    return ("--project", str(project), "--events", str(SAMPLE_LOG), "--warehouse", str(warehouse))


def test_read_commands_run_beside_other_readers_and_each_other(built, tmp_path):
    """With a read-only holder open all along, the four read commands run at the same time, each in
    its own process, and each reads the marts prod's build wrote."""
    _, warehouse, built_output, _ = built
    options = _options(built)
    with Holder(warehouse, read_only=True) as reader:
        commands = {
            "summary": ["summary", *options],
            "compare": ["compare", *options],
            "report": ["report", "--out", str(tmp_path / "report.html"), *options],
            "export": ["export", "--format", "csv", "--out", str(tmp_path / "export"), *options],
        }
        started = {name: subprocess.Popen([*CLI, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name, argv in commands.items()}
        finished = {name: (process, *process.communicate(timeout=600)) for name, process in started.items()}
        assert reader.process.poll() is None  # the reader was open all along

    for name, (process, out, err) in finished.items():
        assert process.returncode == 0, f"{name}: {err}"
    # summary prints what the build printed (input and summary), read through the read-only connection
    assert finished["summary"][1] == built_output
    # compare sees dev's lower week-1 percentile: more organizations complete week 1 there
    assert "week_1_activity" in finished["compare"][1]
    # export: trial_goals has one row per organization of the input and goal of the seed
    with gzip.open(SAMPLE_LOG, "rt", newline="") as handle:
        organizations = {row["ORGANIZATION_ID"] for row in csv.DictReader(handle)}
    with open(PROJECT_ROOT / "seeds" / "activation_goals.csv", newline="") as handle:
        goals = list(csv.DictReader(handle))
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    rows = {entry["model"]: entry["rows"] for entry in manifest["models"]}
    assert rows["marts.trial_goals"] == len(organizations) * len(goals)
    assert rows["marts.trial_activation"] == len(organizations)
    assert (tmp_path / "report.html").stat().st_size > 0


def test_a_read_command_does_not_change_the_warehouse_file(built):
    _, warehouse, *_ = built
    files = (warehouse, Path(f"{warehouse}.wal"))

    def state() -> list:
        return [(file.stat().st_mtime_ns, file.stat().st_size) if file.exists() else None for file in files]

    before = state()
    result = cli("summary", *_options(built))
    assert result.returncode == 0, result.stderr
    assert state() == before
    assert not Path(f"{warehouse}.wal").exists(), "the build left its write-ahead log for every reader to replay"


def test_a_read_command_beside_a_writer_names_it_in_one_line(built):
    _, warehouse, *_ = built
    with Holder(warehouse, read_only=False) as writer:
        result = cli("summary", *_options(built))
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"trial-activation summary: the warehouse {warehouse} is being written by another process (PID {writer.pid}: ")
    assert "--wait SECONDS" in result.stderr


def test_build_beside_a_reader_says_so_in_one_line(built):
    _, warehouse, *_ = built
    with Holder(warehouse, read_only=True) as reader:
        result = cli("build", *_options(built))
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"trial-activation build: the warehouse {warehouse} is in use by another process (PID {reader.pid}: ")
    assert "Traceback" not in result.stderr


def _waits_for(holder, command: str, built) -> tuple[subprocess.Popen, str, str, str]:
    """`command --wait 300` started beside `holder`; the holder is released only once the command has
    said it waits (its first stderr line) and is still running. (process, that line, stdout, stderr)."""
    process = subprocess.Popen([*CLI, command, "--wait", "300", *_options(built)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    waiting = process.stderr.readline()
    assert process.poll() is None, f"{command} ended instead of waiting"
    holder.release()
    out, err = process.communicate(timeout=600)
    return process, waiting, out, err


def test_build_waits_for_a_reader_to_close_then_builds(built):
    """The build meets the reader's lock, says it waits (naming the PID); the reader closes only after
    that line; the build then gets the warehouse and finishes."""
    _, warehouse, _, dev_output = built
    with Holder(warehouse, read_only=True) as reader:
        build, waiting, out, err = _waits_for(reader, "build", built)

    assert waiting.startswith(f"trial-activation build: the warehouse {warehouse} is held by PID {reader.pid}: ")
    assert waiting.rstrip().endswith("waiting up to 300 s")
    assert build.returncode == 0, err
    assert err == ""
    assert out == dev_output.replace("(dev)", "(prod)")  # the build promoted dev's edit to prod


def test_build_wait_gives_up_after_the_time_in_one_line(built):
    _, warehouse, *_ = built
    with Holder(warehouse, read_only=True) as reader:
        started = time.monotonic()
        result = cli("build", "--wait", "2", *_options(built))
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    waiting, message = result.stderr.splitlines()
    assert waiting.startswith(f"trial-activation build: the warehouse {warehouse} is held by PID {reader.pid}")
    assert message.startswith(f"trial-activation build: the warehouse {warehouse} is in use by another process (PID {reader.pid}: ")
    assert "and still was after waiting 2 s:" in message
    assert elapsed >= 2


def test_read_command_on_a_missing_warehouse_creates_nothing(project_copy, tmp_path):
    warehouse = tmp_path / "nowhere" / "w.duckdb"
    result = cli("summary", "--project", str(project_copy), "--warehouse", str(warehouse))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"trial-activation summary: there is no warehouse at {warehouse}: build it first (`trial-activation build`),"
        " or point --warehouse / TRIAL_WAREHOUSE_PATH at the one that was built"
    ]
    assert not warehouse.parent.exists()


def test_read_command_on_a_warehouse_never_built(project_copy, tmp_path):
    import duckdb

    warehouse = tmp_path / "empty.duckdb"
    duckdb.connect(str(warehouse)).close()
    result = cli("summary", "--project", str(project_copy), "--warehouse", str(warehouse))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"trial-activation summary: the warehouse {warehouse} holds no environment yet: build it first (`trial-activation build`)"
    ]


def test_read_command_on_an_environment_that_does_not_exist(built):
    result = cli("summary", "-e", "nosuchenv", *_options(built))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "trial-activation summary: environment 'nosuchenv' does not exist: build it first (`trial-activation build -e nosuchenv`)"
    ]


def test_the_documented_retry_of_a_plain_sqlmesh_run_waits_for_a_reader(built):
    """docs/operations.md's retry-on-lock block, run as written there (its sleep shortened): it says who
    holds the warehouse, retries, and succeeds once the reader has closed (after that first line)."""
    project, warehouse, *_ = built
    docs = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    block = docs[docs.index("# retry-on-lock:") :]
    block = block[: block.index("```")]
    assert "sleep 30" in block and ".venv/bin/sqlmesh run" in block
    script = block.replace("sleep 30", "sleep 0.2").replace(".venv/bin/sqlmesh", str(Path(sys.executable).parent / "sqlmesh"))
    environment = {**os.environ, "TRIAL_WAREHOUSE_PATH": str(warehouse), "TRIAL_EVENTS_PATH": str(SAMPLE_LOG), "MAX_FORK_WORKERS": "1"}
    with Holder(warehouse, read_only=True) as reader:
        retry = subprocess.Popen(["bash", "-c", script], cwd=project, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        held = retry.stderr.readline()
        assert retry.poll() is None, "the retry ended instead of retrying"
        reader.release()
        _, err = retry.communicate(timeout=600)

    assert held == f"warehouse held by PID {reader.pid}; retrying in 30 s\n"
    assert retry.returncode == 0, err


def test_a_read_command_waits_for_a_writer_to_finish(built):
    """summary --wait beside a read-write holder (a build, `sqlmesh ui`): it says it waits, and reads
    once the writer (released only after that line) has closed."""
    _, warehouse, *_ = built
    with Holder(warehouse, read_only=False) as writer:
        summary, waiting, out, err = _waits_for(writer, "summary", built)

    assert waiting.startswith(f"trial-activation summary: the warehouse {warehouse} is held by PID {writer.pid}: ")
    assert summary.returncode == 0, err
    assert out.splitlines()[1].startswith("Input (prod): ") and "Trial activation (prod) as of " in out


def test_a_build_beside_sqlmesh_ui_points_to_the_ui_plan_page(built):
    """The holder's command line says `sqlmesh ui` (here a stand-in holding the file read-write, as the UI does)."""
    _, warehouse, *_ = built
    with Holder(warehouse, read_only=False, arguments=("sqlmesh", "ui", "--port", "8000")) as ui:
        result = cli("build", *_options(built))
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert f"(PID {ui.pid}: {sys.executable} -c import duckdb" in result.stderr  # its command line, cut to one line
    assert "stop it (or plan from the UI's Plan page), or set TRIAL_WAREHOUSE_PATH" in result.stderr
