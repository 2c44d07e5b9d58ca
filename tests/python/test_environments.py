"""Threshold experiments in virtual dev environments (README: "Changing a goal (dev environments)").

The tests share one copy of the project built into prod (each starts from prod as first built,
which reuses its tables). Each changes a goal (the seed, or the Ibis threshold model's code), plans
it into `dev`, then checks what SQLMesh recomputed, that prod did
not move, that dev holds what an independent computation from the raw file says, that the diff and
the compare summary name exactly the organizations whose activation flipped, that promotion to prod
recomputes nothing, that a rollback returns prod to its previous physical tables, and that a
discarded dev leaves no views behind.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from env_helpers import (
    apply_recording,
    assert_marts_equal,
    backfilled_models,
    directly_modified,
    edit_goal,
    environment_views,
    events_path,
    physical_tables,
    plan,
    plan_and_apply_without_computing,
    read_marts,
    shared_project,  # noqa: F401 (a fixture)
)
from independent import expected_marts, read_goals

from trial_activation.compare import compare_environments, format_comparison

EVENTS = events_path()
# The models a goal change may recompute: the seed, the threshold model and what reads them.
GOAL_DOWNSTREAM = {
    "intermediate.org_goal_metrics",
    "intermediate.goal_thresholds",
    "intermediate.goal_threshold_history",
    "intermediate.goal_completions",
    "marts.trial_goals",
    "marts.trial_activation",
}

pytestmark = pytest.mark.skipif(not EVENTS.exists(), reason=f"no event log at {EVENTS}")


def downstream_of(context, model: str) -> set[str]:
    fqns = context.dag.downstream(context.get_model(model).fqn)
    return {context.get_model(fqn).name for fqn in fqns}


def assert_matches_expected(
    marts: dict[str, pd.DataFrame], expected_goals: pd.DataFrame, expected_activation: pd.DataFrame
) -> None:
    """The marts hold the independently computed rows, column by column."""
    for model, expected in (("marts.trial_goals", expected_goals), ("marts.trial_activation", expected_activation)):
        actual = marts[model]
        assert len(actual) == len(expected), model
        for column in expected.columns:
            a, e = actual[column].reset_index(drop=True), expected[column].reset_index(drop=True)
            if pd.api.types.is_datetime64_any_dtype(e):
                same = (pd.to_datetime(a) == e) | (a.isna() & e.isna())
            elif column in ("organization_id", "goal_id", "goal_kind"):
                same = a.astype(str) == e.astype(str)
            else:
                same = pd.Series(
                    np.isclose(a.astype("float64"), e.astype("float64"), equal_nan=True, rtol=0, atol=1e-9)
                )
            assert same.all(), f"{model}.{column} differs from the independent computation:\n" + str(
                pd.DataFrame({"actual": a[~same], "expected": e[~same]}).head()
            )


def test_seed_edit_in_dev_then_promote_rollback_and_discard(shared_project, monkeypatch):
    context = shared_project.fresh_prod(monkeypatch)
    project_copy = shared_project.project
    prod_before = read_marts(context, "prod")
    prod_tables_before = physical_tables(context, "prod")

    # The analyst lowers week 1's percentile from 75 to 60.
    seed = project_copy / "seeds" / "activation_goals.csv"
    original_seed = seed.read_text(encoding="utf-8")
    goals_before = read_goals(seed)
    goals_after = edit_goal(seed, "week_1_activity", threshold_percentile=60)
    context.load()

    dev_plan = plan(context, "dev")
    expected_rebuilt = {"staging.activation_goals"} | downstream_of(context, "staging.activation_goals")
    assert GOAL_DOWNSTREAM <= expected_rebuilt
    assert directly_modified(dev_plan) == {"staging.activation_goals"}
    assert backfilled_models(dev_plan) == expected_rebuilt
    evaluated = apply_recording(context, dev_plan)
    assert set(evaluated) == expected_rebuilt
    reused = [m for m in evaluated if m.startswith(("raw.", "staging.")) and m != "staging.activation_goals"]
    assert reused == [], "raw and the events' staging must be reused from prod"

    # dev reuses prod's tables for everything else; prod's views and rows did not move.
    dev_tables = physical_tables(context, "dev")
    assert dev_tables.keys() == prod_tables_before.keys()
    for model, table in prod_tables_before.items():
        assert (dev_tables[model] != table) == (model in expected_rebuilt), model
    assert physical_tables(context, "prod") == prod_tables_before
    assert_marts_equal(read_marts(context, "prod"), prod_before)

    # Both environments hold what the README's rules give, computed from the raw file.
    expected_goals_before, expected_activation_before = expected_marts(EVENTS, goals_before)
    expected_goals_after, expected_activation_after = expected_marts(EVENTS, goals_after)
    dev = read_marts(context, "dev")
    assert_matches_expected(prod_before, expected_goals_before, expected_activation_before)
    assert_matches_expected(dev, expected_goals_after, expected_activation_after)

    flips = expected_activation_before[["organization_id", "is_activated"]].merge(
        expected_activation_after[["organization_id", "is_activated"]],
        on="organization_id",
        suffixes=("_before", "_after"),
    )
    gained = set(flips.organization_id[~flips.is_activated_before & flips.is_activated_after])
    lost = set(flips.organization_id[flips.is_activated_before & ~flips.is_activated_after])
    assert gained, "a lower week-1 percentile should activate more organizations on this data"
    assert not lost

    # `sqlmesh table_diff prod:dev marts.trial_activation`, through the Python API: joined on the grain.
    organizations = len(expected_activation_after)
    (diff,) = context.table_diff(
        "prod", "dev", select_models=["marts.trial_activation"], show=False, limit=organizations
    )
    row_diff = diff.row_diff()
    assert diff.key_columns[2] == ["organization_id"]  # the model's grain
    assert row_diff.s_only_count == row_diff.t_only_count == 0
    assert row_diff.join_count == organizations
    sample = row_diff.sample  # every row that differs (limit = all organizations), as s__/t__ columns
    activation_changed = sample[sample["s__is_activated"] != sample["t__is_activated"]]
    assert set(activation_changed["s__organization_id"]) == gained | lost

    # trial-activation compare: the same organizations, and per goal the counts before and after.
    comparison = compare_environments(context, "prod", "dev", sample=organizations)
    assert (comparison.gained_count, comparison.lost_count) == (len(gained), len(lost))
    assert set(comparison.gained_sample) == gained and set(comparison.lost_sample) == lost
    assert comparison.activated == (
        int(expected_activation_before.is_activated.sum()),
        int(expected_activation_after.is_activated.sum()),
    )
    goals = comparison.goals.set_index("goal_id")
    for suffix, expected_goals in (("_source", expected_goals_before), ("_target", expected_goals_after)):
        completed = expected_goals.groupby("goal_id").is_completed.sum()
        assert goals["completed" + suffix].astype(int).to_dict() == completed.astype(int).to_dict()
    week_1 = goals.loc["week_1_activity"]
    expected_threshold = {
        suffix: expected.loc[expected.goal_id == "week_1_activity", "threshold"].iloc[0]
        for suffix, expected in (("_source", expected_goals_before), ("_target", expected_goals_after))
    }
    assert week_1.threshold_source == pytest.approx(expected_threshold["_source"])
    assert week_1.threshold_target == pytest.approx(expected_threshold["_target"])
    text = format_comparison(compare_environments(context, "prod", "dev", sample=3))
    assert f"organizations that gain activation: {len(gained)}" in text
    assert "p75" in text and "p60" in text

    # Promotion: prod's views swap to the tables dev built; nothing is computed again.
    plan_and_apply_without_computing(context, "prod")
    assert physical_tables(context, "prod") == dev_tables
    assert_marts_equal(read_marts(context, "prod"), dev)

    # Rollback: restoring the seed and planning prod again points prod back at its previous tables.
    seed.write_text(original_seed, encoding="utf-8")
    context.load()
    plan_and_apply_without_computing(context, "prod")
    assert physical_tables(context, "prod") == prod_tables_before
    assert_marts_equal(read_marts(context, "prod"), prod_before)

    # Discarding dev: `sqlmesh invalidate dev` + `sqlmesh janitor` drop its views; prod is untouched.
    assert "marts__dev.trial_activation" in environment_views(context, "dev")
    context.invalidate_environment("dev")
    context.run_janitor(ignore_ttl=False)
    assert environment_views(context, "dev") == []
    assert context.state_reader.get_environment("dev") is None
    assert_marts_equal(read_marts(context, "prod"), prod_before)


def test_ibis_model_edit_rebuilds_thresholds_and_downstream_only(shared_project, monkeypatch):
    context = shared_project.fresh_prod(monkeypatch)
    project_copy = shared_project.project
    prod_before = read_marts(context, "prod")
    prod_tables_before = physical_tables(context, "prod")

    # A code change that does not change the result: GREATEST's arguments swap places.
    model_file = project_copy / "models" / "intermediate" / "goal_thresholds.py"
    code = model_file.read_text(encoding="utf-8")
    old = "ibis.greatest(joined.threshold_floor, base_value)"
    assert code.count(old) == 1, "goal_thresholds.py changed: update this test's edit"
    model_file.write_text(code.replace(old, "ibis.greatest(base_value, joined.threshold_floor)"), encoding="utf-8")
    context.load()

    dev_plan = plan(context, "dev")
    expected_rebuilt = {"intermediate.goal_thresholds"} | downstream_of(context, "intermediate.goal_thresholds")
    assert {"intermediate.goal_thresholds", "marts.trial_goals", "marts.trial_activation"} <= expected_rebuilt
    assert "intermediate.org_goal_metrics" not in expected_rebuilt
    assert directly_modified(dev_plan) == {"intermediate.goal_thresholds"}
    assert backfilled_models(dev_plan) == expected_rebuilt
    evaluated = apply_recording(context, dev_plan)
    assert set(evaluated) == expected_rebuilt

    dev_tables = physical_tables(context, "dev")
    for model, table in prod_tables_before.items():
        assert (dev_tables[model] != table) == (model in expected_rebuilt), model
    assert physical_tables(context, "prod") == prod_tables_before
    # Same numbers in dev and prod: the rewrite is a refactoring, and table_diff agrees.
    assert_marts_equal(read_marts(context, "dev"), prod_before)
    (diff,) = context.table_diff("prod", "dev", select_models=["marts.trial_activation"], show=False)
    assert diff.row_diff().full_match_count == len(prod_before["marts.trial_activation"])

    plan_and_apply_without_computing(context, "prod")
    assert physical_tables(context, "prod") == dev_tables
    assert_marts_equal(read_marts(context, "prod"), prod_before)
