"""Readers while the daily run writes: the multi-process setup, on the PostgreSQL gateway (docs/operations.md).

A DuckDB file has one writer or any number of readers, never both, so a team that reads while the
daily run writes puts the warehouse on PostgreSQL. Here a reader process queries the marts in a loop,
each read in one REPEATABLE READ transaction (one snapshot, as a BI tool's query is), while
`sqlmesh run` loads a new day appended to raw.trial_events. Every read must succeed and show complete
marts: each mart exactly as it was before the run or as it is after it, never a mart being replaced,
and the invariants of a complete mart hold in it. The marts are not replaced together: a read between
their commits sees a new trial_goals beside the old trial_activation, which the test pins down to
exactly that. The reader starts before the run (it says so on its
stdout after its first read) and stops after it (told on its stdin), so no sleep synchronises anything;
its reads are written to a file with their start and end on the system's monotonic clock, which the
test compares with the run's.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import subprocess
import sys
import time

import pytest

from helpers import RAW_COLUMNS, fresh_postgres_database, require_postgres
from trial_activation.project import build, open_context
from trial_activation.testing import SAMPLE_LOG, copy_project


READER = r"""
import hashlib, json, select, sys, time
import psycopg2

server, out = json.loads(sys.argv[1]), open(sys.argv[2], "w")
connection = psycopg2.connect(**server)
connection.set_session(isolation_level="REPEATABLE READ", readonly=True)


def digest(rows):
    return hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()


def read():
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM marts.trial_goals")
        goals = cursor.fetchall()
        goal_columns = [column.name for column in cursor.description]
        cursor.execute("SELECT * FROM marts.trial_activation")
        activation = cursor.fetchall()
        activation_columns = [column.name for column in cursor.description]
    connection.commit()
    g = [dict(zip(goal_columns, row)) for row in goals]
    a = [dict(zip(activation_columns, row)) for row in activation]
    organizations = {row["organization_id"] for row in g}
    goal_ids = {row["goal_id"] for row in g}
    completed = {}
    for row in g:
        completed[row["organization_id"]] = completed.get(row["organization_id"], 0) + bool(row["is_completed"])
    return {
        "goals": digest(goals),
        "activation": digest(activation),
        "goal_rows": len(goals),
        # a complete trial_goals: one row per organization and goal, no more, no fewer
        "goals_complete": len(goals) == len(organizations) * len(goal_ids)
        and len({(row["organization_id"], row["goal_id"]) for row in g}) == len(goals),
        # a complete trial_activation: every goal counted, activated exactly when all are completed
        "activation_complete": all(
            row["goals_total"] == len(goal_ids) and row["is_activated"] == (row["goals_completed"] == row["goals_total"])
            for row in a
        ),
        # the two marts of one snapshot agree: the same organizations, each goal count from trial_goals
        "marts_agree": {row["organization_id"] for row in a} == organizations
        and all(row["goals_completed"] == completed[row["organization_id"]] for row in a),
    }


def record(final=False):
    started = time.monotonic()
    try:
        result = read()
    except Exception as error:
        connection.rollback()
        result = {"error": f"{type(error).__name__}: {error}"}
    result.update(started=started, ended=time.monotonic(), final=final)
    out.write(json.dumps(result) + "\n")
    out.flush()


record()
print("reading", flush=True)
while not select.select([sys.stdin], [], [], 0)[0]:
    record()
record(final=True)  # after the test said stop, so after the run
"""


def _rows_by_day(path) -> dict:
    """The sample's raw rows (text, as delivered) by the day of their TIMESTAMP."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        days: dict = {}
        for row in reader:
            days.setdefault(row[2][:10], []).append(row)
    return days


def _copy_rows(cursor, rows) -> None:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    text.seek(0)
    cursor.copy_expert("COPY raw.trial_events FROM STDIN WITH (FORMAT csv)", text)


@pytest.mark.slow
def test_a_reader_sees_complete_marts_while_the_daily_run_writes_on_postgres(tmp_path, monkeypatch):
    psycopg2 = require_postgres()
    days = _rows_by_day(SAMPLE_LOG)
    day_names = sorted(days)
    new_day = day_names[int(len(day_names) * 0.6)]  # a day while many trials run
    with fresh_postgres_database() as target:
        database = target["dbname"]
        with psycopg2.connect(**target) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA raw; CREATE TABLE raw.trial_events ({', '.join(f'{c} TEXT' for c in RAW_COLUMNS)})")
            _copy_rows(cursor, [row for day in day_names if day < new_day for row in days[day]])
        monkeypatch.setenv("TRIAL_GATEWAY", "postgres")
        monkeypatch.setenv("TRIAL_PG_DATABASE", database)
        project = copy_project(tmp_path / "project")
        context = open_context(project, warehouse_path=tmp_path / "unused.duckdb", gateway="postgres")
        day = dt.date.fromisoformat(new_day)
        build(context, execution_time=day, skip_tests=True, skip_linter=True)  # prod up to the day before
        context.close()

        with psycopg2.connect(**target) as connection, connection.cursor() as cursor:
            _copy_rows(cursor, days[new_day])  # the new day lands
        reads = tmp_path / "reads.jsonl"
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, json.dumps(target), str(reads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert reader.stdout.readline().strip() == "reading", "the reader did not start"
            context = open_context(project, warehouse_path=tmp_path / "unused.duckdb", gateway="postgres")  # the cron job's process
            run_started = time.monotonic()
            context.run(end=day, execution_time=dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))
            run_ended = time.monotonic()
            context.close()
        finally:
            reader.communicate("stop\n", timeout=120)
        assert reader.returncode == 0
        records = [json.loads(line) for line in reads.read_text().splitlines()]
        # The CLI's read commands on this gateway: no DuckDB warehouse file is needed, or created.
        unused = tmp_path / "no_warehouse" / "unused.duckdb"
        summary = subprocess.run(
            [sys.executable, "-m", "trial_activation", "summary", "--project", str(project), "--warehouse", str(unused)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert summary.returncode == 0, summary.stderr
        assert summary.stdout.splitlines()[1].startswith("Input (prod): ") and not unused.parent.exists()

    before, after = records[0], records[-1]
    assert before["ended"] < run_started and after["final"] and after["started"] > run_ended
    assert "error" not in before and "error" not in after
    assert (before["goals"], before["activation"]) != (after["goals"], after["activation"]), "the run changed nothing: the test would be vacuous"
    during = [r for r in records if r["started"] >= run_started and r["ended"] <= run_ended]
    assert len(during) >= 3, f"only {len(during)} reads overlapped the run"
    errors = [r["error"] for r in records if "error" in r]
    assert errors == []
    for r in records:
        assert r["goals"] in (before["goals"], after["goals"]), r
        assert r["activation"] in (before["activation"], after["activation"]), r
        assert r["goals_complete"] and r["activation_complete"], r
    # Each mart is replaced in a transaction of its own, trial_goals first (trial_activation is computed
    # from it): a read between the two commits sees the new trial_goals beside the old trial_activation.
    # Only then, and only that way (docs/operations.md says what a reader joining the marts should do).
    assert before["marts_agree"] and after["marts_agree"]
    mixed = [r for r in records if not r["marts_agree"]]
    for r in mixed:
        assert (r["goals"], r["activation"]) == (after["goals"], before["activation"]), r
        assert r["started"] >= run_started and r["ended"] <= run_ended, r
    print(f"{len(records)} reads, {len(during)} during the {run_ended - run_started:.1f} s run, {len(mixed)} between the marts' commits")
