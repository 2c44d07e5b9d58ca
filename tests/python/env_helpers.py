"""Helpers for the virtual-environment tests: a project copy built into prod once per module, plan
without applying, record what SQLMesh evaluates, read an environment's marts and physical tables,
edit a goal in the seed."""

from __future__ import annotations

import csv
import io
import threading
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from sqlglot import exp
from sqlmesh import Context
from sqlmesh.core.snapshot.evaluator import SnapshotEvaluator

from project_copy import copy_project
from trial_activation.project import PROJECT_ROOT, build, environment_table, open_context

SAMPLE_LOG = PROJECT_ROOT / "data" / "sample" / "trial_events.csv.gz"
REAL_LOG = PROJECT_ROOT.parent / "shared" / "data" / "trial_events.csv.gz"
MARTS = ("marts.trial_goals", "marts.trial_activation")
MART_KEYS = {"marts.trial_goals": ["organization_id", "goal_id"], "marts.trial_activation": ["organization_id"]}


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


def backfilled_models(plan) -> set[str]:
    """Models the plan will compute (those with missing intervals)."""
    return {short_name(intervals.snapshot_id.name) for intervals in plan.missing_intervals}


def directly_modified(plan) -> set[str]:
    return {short_name(s_id.name) for s_id in plan.directly_modified}


def physical_tables(context: Context, environment: str) -> dict[str, str]:
    """Model -> the physical table its view points to in `environment`."""
    env = context.state_reader.get_environment(environment)
    assert env is not None, f"environment {environment} does not exist"
    return {short_name(s.name): s.table_name() for s in env.snapshots}


def read_marts(context: Context, environment: str) -> dict[str, pd.DataFrame]:
    """Every row of both marts in `environment`, sorted by grain."""
    return {
        model: context.fetchdf(f"SELECT * FROM {environment_table(context, model, environment)}")
        .sort_values(MART_KEYS[model])
        .reset_index(drop=True)
        for model in MARTS
    }


def assert_marts_equal(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame]) -> None:
    for model in MARTS:
        pd.testing.assert_frame_equal(left[model], right[model], obj=model)


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
def recording_evaluations():
    """Yield a list that collects the model of every snapshot SQLMesh evaluates (computes) meanwhile."""
    evaluated: list[str] = []
    lock = threading.Lock()
    original = SnapshotEvaluator.evaluate

    def evaluate(self, snapshot, *args, **kwargs):
        with lock:
            evaluated.append(short_name(snapshot.name))
        return original(self, snapshot, *args, **kwargs)

    SnapshotEvaluator.evaluate = evaluate
    try:
        yield evaluated
    finally:
        SnapshotEvaluator.evaluate = original


def apply_recording(context: Context, plan) -> list[str]:
    """Apply plan and return the models it evaluated (computed), in order."""
    with recording_evaluations() as evaluated:
        context.apply(plan)
    return evaluated


def plan_and_apply_without_computing(context: Context, environment: str) -> None:
    """Plan environment and apply it, asserting that nothing is backfilled or evaluated: only the
    virtual layer moves (promotion of what dev built, or a rollback to tables that still exist)."""
    planned = plan(context, environment)
    assert backfilled_models(planned) == set()
    assert apply_recording(context, planned) == []


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
