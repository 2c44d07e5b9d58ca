"""The tests' shared helpers (the logs' paths and copy_project are trial_activation.testing's, shared with
the benchmarks): where screenshots go, a project copy built into prod once per module, plan without applying, what SQLMesh computed (from its state), an environment's physical tables, edit a
goal in the seed, a throwaway PostgreSQL database (on the TRIAL_PG_* server) and a project built
there on the sample. Marts are read and compared with tests/python/marts.py."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlglot import exp
from sqlmesh import Context

from trial_activation.project import PROJECT_ROOT, build, open_context
from trial_activation.testing import REAL_LOG, SAMPLE_LOG, copy_project

ARTIFACTS = PROJECT_ROOT / "artifacts"  # screenshots of the browser tests (git-ignored), one folder per test


def events_path() -> Path:
    """The committed sample; the shared real log (read in place, never copied) until the sample exists."""
    return SAMPLE_LOG if SAMPLE_LOG.exists() else REAL_LOG


def short_name(fqn: str) -> str:
    """'"warehouse"."marts"."trial_goals"' -> 'marts.trial_goals'."""
    table = exp.to_table(fqn, dialect="duckdb")
    return f"{table.db}.{table.name}"


# The models' unit tests and the linter have their own tests; here they would only run again per plan.
FAST = {"skip_tests": True, "skip_linter": True}


def plan(context: Context, environment: str):
    """The plan for `environment`, not applied yet (so its missing intervals are still missing)."""
    return context.plan(environment, no_prompts=True, auto_apply=False, **FAST)


def planned_intervals(plan) -> dict[str, list[tuple[dt.datetime, dt.datetime]]]:
    """Model -> the intervals the plan will compute (its missing intervals), as naive UTC datetimes."""
    return {
        short_name(missing.snapshot_id.name): [(_utc(start), _utc(end)) for start, end in missing.intervals]
        for missing in plan.missing_intervals
    }


def backfilled_models(plan) -> set[str]:
    """Models the plan will compute (those with missing intervals)."""
    return set(planned_intervals(plan))


def directly_modified(plan) -> set[str]:
    return {short_name(s_id.name) for s_id in plan.directly_modified}


def physical_tables(context: Context, environment: str) -> dict[str, str]:
    """Model -> the physical table its view points to in `environment`."""
    env = context.state_reader.get_environment(environment)
    assert env is not None, f"environment {environment} does not exist"
    return {short_name(s.name): s.table_name() for s in env.snapshots}


def environment_views(context: Context, environment: str) -> list[str]:
    """The views of `environment`'s virtual layer (schema__environment.name) in the warehouse."""
    rows = context.fetchdf(
        f"""
        SELECT table_schema || '.' || table_name AS view_name
        FROM information_schema.tables
        WHERE table_schema LIKE '%\\_\\_{environment}' ESCAPE '\\'
        """
    )
    return sorted(rows.view_name)


@contextmanager
def newly_computed(context: Context, snapshots):
    """Yield a dict that, on exit, maps each model whose snapshot (of `snapshots`: ids, table infos or
    snapshots) SQLMesh computed meanwhile to the intervals it computed, as naive UTC datetimes.

    Read from SQLMesh's state: an interval is recorded for a snapshot once its evaluation succeeded,
    so the intervals a snapshot gained are what was computed. (Not a restatement: that removes the
    intervals and computes them again; its plan's missing_intervals say what it computes.)
    """
    snapshots = list(snapshots)
    before = _recorded_intervals(context, snapshots)
    computed: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
    yield computed
    for model, intervals in _recorded_intervals(context, snapshots).items():
        gained = sorted(set(_outside(intervals, before.get(model, []))))
        if gained:
            computed[model] = [(_utc(start), _utc(end)) for start, end in gained]


def _recorded_intervals(context: Context, snapshots) -> dict[str, list[tuple[int, int]]]:
    found = context.state_reader.get_snapshots(snapshots)
    return {short_name(s.name): [*s.intervals, *s.dev_intervals] for s in found.values()}


def _outside(intervals, covered) -> list[tuple[int, int]]:
    """The parts of `intervals` that `covered` does not cover (both lists of [start, end) pairs)."""
    parts = list(intervals)
    for c_start, c_end in covered:
        parts = [p for start, end in parts for p in ((start, min(end, c_start)), (max(start, c_end), end)) if p[0] < p[1]]
    return parts


def _utc(epoch_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, dt.timezone.utc).replace(tzinfo=None)


def apply_computing(context: Context, plan) -> set[str]:
    """Apply plan and return the models it computed."""
    with newly_computed(context, plan.snapshots) as computed:
        context.apply(plan)
    return set(computed)


def failed_models(caplog) -> list[str]:
    """What SQLMesh logged for each model that failed (at INFO, with the exception): the failure, then
    its cause. Set caplog to INFO for the "sqlmesh" logger before planning."""
    return [
        f"{record.getMessage()} {record.exc_info[1].__cause__}"
        for record in caplog.records
        if record.name.startswith("sqlmesh") and record.exc_info
    ]


def plan_and_apply_without_computing(context: Context, environment: str) -> None:
    """Plan environment and apply it, asserting that nothing is backfilled or evaluated: only the
    virtual layer moves (promotion of what dev built, or a rollback to tables that still exist)."""
    planned = plan(context, environment)
    assert backfilled_models(planned) == set()
    assert apply_computing(context, planned) == set()


def plan_dev_with_edit(context: Context, environment: str, path: Path, edited: bytes) -> None:
    """Plan and apply `environment` with `path` holding `edited`, then put the file back and reload, so
    a project shared by several tests keeps its own files (prod is left as it was)."""
    original = path.read_bytes()
    path.write_bytes(edited)
    try:
        context.load()
        context.plan(environment, auto_apply=True, no_prompts=True, **FAST)
    finally:
        path.write_bytes(original)
        context.load()


def edit_goal(seed_path: Path, goal_id: str, **values) -> list[dict]:
    """Set columns of one goal row of the seed file in place; returns every goal row after the edit."""
    text = seed_path.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    matched = [row for row in rows if row["goal_id"] == goal_id]
    assert matched, f"no goal {goal_id} in {seed_path}"
    for row in matched:
        row.update({key: str(value) for key, value in values.items()})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    seed_path.write_text(out.getvalue(), encoding="utf-8")
    return rows


class SharedProject:
    """One project copy built into prod, shared by a test module (a prod build is the slow part).

    Each test starts from `fresh_prod()`: the project's own files are put back and prod is planned,
    which after a finished experiment recomputes nothing (prod's previous tables are reused).
    """

    def __init__(self, root: Path):
        self.project = copy_project(root / "project")
        self.warehouse = root / "warehouse.duckdb"
        self.events = events_path()
        self.pristine = {
            path: path.read_bytes()
            for folder in ("seeds", "models")
            for path in (self.project / folder).rglob("*")
            if path.is_file()
        }
        self.context: Context | None = None

    def environ(self, monkeypatch) -> None:
        """The variables the project's config reads (the conftest clears them for every test)."""
        monkeypatch.setenv("TRIAL_EVENTS_PATH", str(self.events))
        monkeypatch.setenv("TRIAL_WAREHOUSE_PATH", str(self.warehouse))

    def fresh_prod(self, monkeypatch) -> Context:
        self.environ(monkeypatch)
        for path, content in self.pristine.items():
            if path.read_bytes() != content:
                path.write_bytes(content)
        if self.context is None:
            self.context = open_context(self.project, events_path=self.events, warehouse_path=self.warehouse)
        else:
            self.context.load()
        build(self.context, **FAST)
        if self.context.state_reader.get_environment("dev") is not None:  # left by a failed test
            self.context.invalidate_environment("dev")
            self.context.run_janitor(ignore_ttl=False)
        return self.context


@pytest.fixture(scope="module")
def shared_project(tmp_path_factory) -> SharedProject:
    return SharedProject(tmp_path_factory.mktemp("environments"))


# --- PostgreSQL: the server .ci/postgres.sh starts (TRIAL_PG_*) --------------------------------------

RAW_COLUMNS = ("organization_id", "activity_name", "timestamp", "converted", "converted_at", "trial_start", "trial_end")


def require_postgres():
    try:
        import psycopg2
    except ImportError:
        pytest.fail("PostgreSQL gateway test: psycopg2 is not installed (pip install -e '.[test]')")
    if not os.environ.get("TRIAL_PG_HOST"):
        pytest.fail(
            "PostgreSQL gateway test: TRIAL_PG_HOST is not set. Run the tests with `bash .ci/run` (it starts a"
            " throwaway server) or export TRIAL_PG_HOST/TRIAL_PG_PORT/TRIAL_PG_USER/TRIAL_PG_PASSWORD/TRIAL_PG_DATABASE."
        )
    try:
        psycopg2.connect(**postgres_server(), connect_timeout=10).close()
    except psycopg2.OperationalError as error:
        pytest.fail(f"PostgreSQL gateway test: cannot connect to the server in TRIAL_PG_*: {error}")
    return psycopg2


@contextmanager
def fresh_postgres_database():
    """A new, empty database on the TRIAL_PG_* server, dropped (connections and all) on exit: yields
    psycopg2's connection arguments for it."""
    psycopg2 = require_postgres()
    server = postgres_server()
    database = f"trial_activation_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(**server)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{database}"')
    try:
        yield {**server, "dbname": database}
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


def postgres_server() -> dict:
    """psycopg2 connection arguments for the server's maintenance database."""
    return {
        "host": os.environ["TRIAL_PG_HOST"],
        "port": int(os.environ.get("TRIAL_PG_PORT", "5432")),
        "user": os.environ.get("TRIAL_PG_USER", "postgres"),
        "password": os.environ.get("TRIAL_PG_PASSWORD", ""),
        "dbname": os.environ.get("TRIAL_PG_DATABASE", "postgres"),
    }


@contextmanager
def postgres_sample_project(tmp_path: Path, monkeypatch):
    """A Context on the postgres gateway (a copy of the project under tmp_path), in a fresh database
    whose raw.trial_events holds the committed sample (every column text, as the CSV); not built yet.
    Closed, and the database dropped, on exit."""
    with fresh_postgres_database() as server:
        import psycopg2

        with psycopg2.connect(**server) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA raw; CREATE TABLE raw.trial_events ({', '.join(f'{c} TEXT' for c in RAW_COLUMNS)})")
            with gzip.open(SAMPLE_LOG, "rt", encoding="utf-8", newline="") as rows:
                cursor.copy_expert("COPY raw.trial_events FROM STDIN WITH (FORMAT csv, HEADER true)", rows)
        monkeypatch.setenv("TRIAL_GATEWAY", "postgres")
        monkeypatch.setenv("TRIAL_PG_DATABASE", server["dbname"])
        context = open_context(copy_project(tmp_path / "project"), warehouse_path=tmp_path / "unused.duckdb", gateway="postgres")
        try:
            yield context
        finally:
            context.close()
