"""The same input gives the same marts, bit for bit: whether built once, twice, or interrupted at any
model boundary and re-run; and a copy of the project elsewhere is the same project (no rebuild)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlmesh.core.snapshot.evaluator import SnapshotEvaluator

from helpers import FAST, apply_computing, edit_goal, newly_computed, plan, short_name
from marts import assert_marts_equal, read_marts
from trial_activation.project import build, open_context
from trial_activation.testing import copy_project


def test_activation_score_is_exact_decimal_arithmetic(sample_build):
    """activation_score = the mean of completion_pct to 6 decimals, computed exactly (here with Python's
    Decimal) and rounded half up to 6 decimals: equal, not close. An AVG of doubles is neither."""
    context, _ = sample_build
    goals = context.fetchdf("SELECT organization_id, completion_pct FROM marts.trial_goals")
    scores = context.fetchdf("SELECT organization_id, activation_score FROM marts.trial_activation")
    places = Decimal("0.000001")
    expected = {
        org: float(
            (sum(Decimal(repr(p)).quantize(places, ROUND_HALF_UP) for p in pcts) / len(pcts)).quantize(places, ROUND_HALF_UP)
        )
        for org, pcts in goals.groupby("organization_id").completion_pct
    }

    assert dict(zip(scores.organization_id, scores.activation_score)) == expected


class Crash(Exception):
    pass


def build_crashing_after(context, models_done: int, environment: str = "prod") -> set[str]:
    """Apply a plan of `environment` that crashes (like a killed process) once `models_done` models
    were evaluated; returns the models computed before the crash (as SQLMesh's state records them)."""
    planned = plan(context, environment)
    evaluated = 0
    original = SnapshotEvaluator.evaluate

    # The one patch of SQLMesh in the tests: no public hook stops a plan between two models.
    def evaluate(self, snapshot, *args, **kwargs):
        nonlocal evaluated
        if evaluated == models_done:
            raise Crash(f"crash before {short_name(snapshot.name)}")
        result = original(self, snapshot, *args, **kwargs)
        evaluated += 1
        return result

    SnapshotEvaluator.evaluate = evaluate
    try:
        # SQLMesh reports the Crash as a failed plan.
        with newly_computed(context, planned.snapshots) as computed, pytest.raises(Exception):
            context.apply(planned)
    finally:
        SnapshotEvaluator.evaluate = original
    return set(computed)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted first build of the sample, and the same after a goal change: their marts."""
    root = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("TRIAL_EVENTS_PATH", "TRIAL_WAREHOUSE_PATH"):
            patch.setenv(name, "")
        project = copy_project(root / "project")
        context = open_context(project, warehouse_path=root / "w.duckdb")
        models = evaluated_models(context)
        first = read_marts(context, "prod")
        edit_goal(project / "seeds" / "activation_goals.csv", "week_1_activity", threshold_percentile=60)
        context.load()
        replanned = evaluated_models(context)
        changed = read_marts(context, "prod")
    return {"first": (models, first), "replan": (replanned, changed)}


def evaluated_models(context) -> set[str]:
    """Build prod; the models it computed."""
    return apply_computing(context, plan(context, "prod"))


def test_two_builds_of_one_input_are_identical(reference, make_context):
    context = make_context()
    build(context, **FAST)

    assert_marts_equal(read_marts(context, "prod"), reference["first"][1])


def crash_at_every_boundary_then_finish(context, models: set[str]) -> None:
    """Apply prod again and again, each plan crashing right after one more model than the previous
    one did (so every model boundary of the plan sees a crash), then once to the end. A crash that
    left a wrong table behind would show in the final marts: a re-run only computes what is missing."""
    crash_after_each_model(context, models)
    assert context.state_reader.get_environment("prod") is None  # never promoted so far
    build(context, **FAST)


def crash_after_each_model(context, models: set[str]) -> None:
    finished: set[str] = set()
    for _ in range(len(models) - 1):
        computed = build_crashing_after(context, 1)
        assert len(computed) == 1 and computed <= models and not computed & finished, computed
        finished |= computed


def test_first_build_crashed_at_each_model_boundary_reruns_to_identical_marts(reference, make_context):
    models, expected = reference["first"]
    context = make_context()

    crash_at_every_boundary_then_finish(context, models)

    assert_marts_equal(read_marts(context, "prod"), expected)


def test_replan_crashed_at_each_model_boundary_reruns_to_identical_marts(reference, project_copy, make_context):
    """A goal edit planned into prod, crashed after each model it recomputes (the goal engine among them)."""
    models, expected = reference["replan"]
    assert "intermediate.window_metrics" in models
    context = make_context()
    build(context, **FAST)
    edit_goal(project_copy / "seeds" / "activation_goals.csv", "week_1_activity", threshold_percentile=60)
    context.load()

    crash_after_each_model(context, models)
    build(context, **FAST)

    assert_marts_equal(read_marts(context, "prod"), expected)


def test_a_copy_of_the_project_elsewhere_plans_no_change_against_the_same_warehouse(tmp_path):
    """No machine-specific path in a model's fingerprint: a second checkout (or a moved one, or CI)
    shares the warehouse's state without rebuilding anything."""
    warehouse = tmp_path / "w.duckdb"
    first = open_context(copy_project(tmp_path / "checkout_a"), warehouse_path=warehouse)
    build(first, **FAST)
    first.close()

    second = open_context(copy_project(tmp_path / "elsewhere" / "checkout_b"), warehouse_path=warehouse)
    plan = second.plan("prod", no_prompts=True, auto_apply=False, **FAST)

    assert not plan.has_changes
    assert plan.missing_intervals == []
