"""Threshold experiments in virtual dev environments (docs/environments.md).

The tests share one copy of the project built into prod. The seed-edit scenario is a sequence of
tests, run in file order on one module-scoped experiment, each checking one step, so a failing step
is reported as that step (the steps after it that need its result then fail too): an analyst lowers
a goal's percentile in the seed and plans it into `dev`; SQLMesh plans and computes only the goal
models, prod does not move, both environments hold what an independent computation from the raw
file says, the diff and the compare summary name exactly the organizations whose activation flipped,
promotion to prod recomputes nothing, a rollback returns prod to its previous physical tables, and a
discarded dev leaves no views behind. A second experiment edits the Ibis threshold model's code.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import (
    apply_computing,
    backfilled_models,
    directly_modified,
    edit_goal,
    environment_views,
    events_path,
    physical_tables,
    plan,
    plan_and_apply_without_computing,
    shared_project,  # noqa: F401 (a fixture)
)
from independent import expected_goal_conversion, expected_marts, read_goals
from marts import assert_marts_equal, assert_marts_match_independent, read_marts

from trial_activation.compare import compare_environments, format_comparison

EVENTS = events_path()
# The models a goal change may recompute: the seed, the threshold model and what reads them.
GOAL_DOWNSTREAM = {
    "intermediate.goal_windows",
    "intermediate.window_metrics",
    "intermediate.window_thresholds",
    "intermediate.org_goal_metrics",
    "intermediate.goal_thresholds",
    "intermediate.goal_completions",
    "marts.trial_goals",
    "marts.trial_activation",
}

pytestmark = pytest.mark.skipif(not EVENTS.exists(), reason=f"no event log at {EVENTS}")


@pytest.fixture(autouse=True)
def _project_variables(shared_project, monkeypatch):  # noqa: F811 (the fixture above)
    """The variables the project's config reads, for every test here (the conftest clears them)."""
    shared_project.environ(monkeypatch)


def downstream_of(context, model: str) -> set[str]:
    fqns = context.dag.downstream(context.get_model(model).fqn)
    return {context.get_model(fqn).name for fqn in fqns}


class SeedEdit:
    """The seed-edit experiment the scenario's steps share; each step stores what later steps need."""

    def __init__(self, shared):
        with pytest.MonkeyPatch.context() as patch:
            self.context = context = shared.fresh_prod(patch)
            self.prod_before = read_marts(context, "prod")
            self.prod_tables_before = physical_tables(context, "prod")
            # The analyst lowers week 1's percentile from 75 to 60.
            self.seed = shared.project / "seeds" / "activation_goals.csv"
            self.original_seed = self.seed.read_text(encoding="utf-8")
            self.goals_before = read_goals(self.seed)
            self.goals_after = edit_goal(self.seed, "week_1_activity", threshold_percentile=60)
            context.load()
            self.dev_plan = plan(context, "dev")
            self.expected_rebuilt = {"staging.activation_goals"} | downstream_of(context, "staging.activation_goals")
        self.dev_tables: dict[str, str] | None = None  # set by the apply step

        # What the rules of docs/goals.md give before and after the edit, computed from the raw file.
        self.expected_before = expected_marts(EVENTS, self.goals_before)
        self.expected_after = expected_marts(EVENTS, self.goals_after)
        flips = self.expected_before[1][["organization_id", "is_activated"]].merge(
            self.expected_after[1][["organization_id", "is_activated"]], on="organization_id", suffixes=("_before", "_after")
        )
        self.gained = set(flips.organization_id[~flips.is_activated_before & flips.is_activated_after])
        self.lost = set(flips.organization_id[flips.is_activated_before & ~flips.is_activated_after])
        self.organizations = len(flips)


@pytest.fixture(scope="module")
def seed_edit(shared_project) -> SeedEdit:  # noqa: F811 (the fixture above)
    return SeedEdit(shared_project)


def test_seed_edit_plans_the_seed_and_what_reads_it(seed_edit):
    assert GOAL_DOWNSTREAM <= seed_edit.expected_rebuilt
    assert directly_modified(seed_edit.dev_plan) == {"staging.activation_goals"}
    assert backfilled_models(seed_edit.dev_plan) == seed_edit.expected_rebuilt


def test_applying_dev_computes_what_the_plan_listed_and_reuses_prod_for_the_rest(seed_edit):
    context = seed_edit.context
    computed = apply_computing(context, seed_edit.dev_plan)
    seed_edit.dev_tables = dev_tables = physical_tables(context, "dev")

    assert computed == seed_edit.expected_rebuilt
    reused = [m for m in computed if m.startswith(("raw.", "staging.")) and m != "staging.activation_goals"]
    assert reused == [], "raw and the events' staging must be reused from prod"
    assert dev_tables.keys() == seed_edit.prod_tables_before.keys()
    for model, table in seed_edit.prod_tables_before.items():
        assert (dev_tables[model] != table) == (model in seed_edit.expected_rebuilt), model


def test_prod_did_not_move(seed_edit):
    context = seed_edit.context
    assert physical_tables(context, "prod") == seed_edit.prod_tables_before
    assert_marts_equal(read_marts(context, "prod"), seed_edit.prod_before)


def test_both_environments_hold_the_independent_computation(seed_edit):
    assert_marts_match_independent(seed_edit.prod_before, *seed_edit.expected_before)
    assert_marts_match_independent(read_marts(seed_edit.context, "dev"), *seed_edit.expected_after)
    assert seed_edit.gained, "a lower week-1 percentile should activate more organizations on this data"
    assert not seed_edit.lost


def test_table_diff_names_the_organizations_whose_activation_flipped(seed_edit):
    """`sqlmesh table_diff prod:dev marts.trial_activation`, through the Python API: joined on the grain."""
    organizations = seed_edit.organizations
    (diff,) = seed_edit.context.table_diff(
        "prod", "dev", select_models=["marts.trial_activation"], show=False, limit=organizations
    )
    row_diff = diff.row_diff()
    assert diff.key_columns[2] == ["organization_id"]  # the model's grain
    assert row_diff.s_only_count == row_diff.t_only_count == 0
    assert row_diff.join_count == organizations
    sample = row_diff.sample  # every row that differs (limit = all organizations), as s__/t__ columns
    activation_changed = sample[sample["s__is_activated"] != sample["t__is_activated"]]
    assert set(activation_changed["s__organization_id"]) == seed_edit.gained | seed_edit.lost


def test_compare_counts_the_flips_and_each_goals_completions_and_threshold(seed_edit):
    """trial-activation compare: the same organizations, and per goal the counts before and after."""
    context, gained, lost = seed_edit.context, seed_edit.gained, seed_edit.lost
    (goals_before, activation_before), (goals_after, activation_after) = seed_edit.expected_before, seed_edit.expected_after
    comparison = compare_environments(context, "prod", "dev", sample=seed_edit.organizations)
    assert (comparison.gained_count, comparison.lost_count) == (len(gained), len(lost))
    assert set(comparison.gained_sample) == gained and set(comparison.lost_sample) == lost
    assert comparison.activated == (int(activation_before.is_activated.sum()), int(activation_after.is_activated.sum()))
    goals = comparison.goals.set_index("goal_id")
    for suffix, expected_goals in (("_source", goals_before), ("_target", goals_after)):
        completed = expected_goals.groupby("goal_id").is_completed.sum()
        assert goals["completed" + suffix].astype(int).to_dict() == completed.astype(int).to_dict()
    week_1 = goals.loc["week_1_activity"]
    expected_threshold = {
        suffix: expected.loc[expected.goal_id == "week_1_activity", "threshold"].iloc[0]
        for suffix, expected in (("_source", goals_before), ("_target", goals_after))
    }
    assert week_1.threshold_source == pytest.approx(expected_threshold["_source"])
    assert week_1.threshold_target == pytest.approx(expected_threshold["_target"])
    text = format_comparison(compare_environments(context, "prod", "dev", sample=3))
    assert f"organizations that gain activation: {len(gained)}" in text
    assert "p75" in text and "p60" in text


def test_compare_says_what_each_goal_means_for_converting_on_the_honest_population(seed_edit):
    context = seed_edit.context
    comparison = compare_environments(context, "prod", "dev", sample=seed_edit.organizations)
    conversion = comparison.conversion.set_index("goal_id")
    assert list(conversion.index) == [g["goal_id"] for g in seed_edit.goals_after] + ["activation"]  # in goal_order
    for suffix, goals_list in (("_source", seed_edit.goals_before), ("_target", seed_edit.goals_after)):
        expected = expected_goal_conversion(EVENTS, goals_list)
        honest = expected[expected.population == "unconverted_at_window_end"].set_index("goal_id").loc[conversion.index]
        for column in ("completed", "lift", "rate_difference", "rate_difference_low", "rate_difference_high"):
            np.testing.assert_allclose(
                conversion[column + suffix].astype(float), honest[column].astype(float), rtol=0, atol=1e-9, err_msg=column
            )
    assert conversion.completed_target["week_1_activity"] > conversion.completed_source["week_1_activity"]
    text = format_comparison(compare_environments(context, "prod", "dev", sample=3))
    meaning = text.split("does completing the goal go with converting?")[1].splitlines()
    week_1_line = next(line for line in meaning if line.strip().startswith("week_1_activity"))
    assert week_1_line.count("pts [") == 2 and week_1_line.count("x ->") == 1


def test_promotion_to_prod_computes_nothing(seed_edit):
    """Prod's views swap to the tables dev built."""
    context = seed_edit.context
    dev = read_marts(context, "dev")
    plan_and_apply_without_computing(context, "prod")
    assert physical_tables(context, "prod") == seed_edit.dev_tables
    assert_marts_equal(read_marts(context, "prod"), dev)


def test_rollback_points_prod_back_at_its_previous_tables(seed_edit):
    """Restoring the seed and planning prod again computes nothing either."""
    context = seed_edit.context
    seed_edit.seed.write_text(seed_edit.original_seed, encoding="utf-8")
    context.load()
    plan_and_apply_without_computing(context, "prod")
    assert physical_tables(context, "prod") == seed_edit.prod_tables_before
    assert_marts_equal(read_marts(context, "prod"), seed_edit.prod_before)


def test_discarding_dev_drops_its_views_and_leaves_prod(seed_edit):
    """`sqlmesh invalidate dev` + `sqlmesh janitor`."""
    context = seed_edit.context
    assert "marts__dev.trial_activation" in environment_views(context, "dev")
    context.invalidate_environment("dev")
    context.run_janitor(ignore_ttl=False)
    assert environment_views(context, "dev") == []
    assert context.state_reader.get_environment("dev") is None
    assert_marts_equal(read_marts(context, "prod"), seed_edit.prod_before)


def test_ibis_model_edit_rebuilds_thresholds_and_downstream_only(shared_project, monkeypatch):
    context = shared_project.fresh_prod(monkeypatch)
    project_copy = shared_project.project
    prod_before = read_marts(context, "prod")
    prod_tables_before = physical_tables(context, "prod")

    # A code change that does not change the result: the two measures are unioned in the other order.
    model_file = project_copy / "models" / "intermediate" / "window_thresholds.py"
    code = model_file.read_text(encoding="utf-8")
    old = 'for measure in ("events", "active_days")'
    assert code.count(old) == 1, "window_thresholds.py changed: update this test's edit"
    model_file.write_text(code.replace(old, 'for measure in ("active_days", "events")'), encoding="utf-8")
    context.load()

    dev_plan = plan(context, "dev")
    expected_rebuilt = {"intermediate.window_thresholds"} | downstream_of(context, "intermediate.window_thresholds")
    assert {"intermediate.goal_thresholds", "marts.trial_goals", "marts.trial_activation"} <= expected_rebuilt
    assert "intermediate.window_metrics" not in expected_rebuilt
    assert directly_modified(dev_plan) == {"intermediate.window_thresholds"}
    assert backfilled_models(dev_plan) == expected_rebuilt
    assert apply_computing(context, dev_plan) == expected_rebuilt

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
