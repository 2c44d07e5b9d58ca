"""The insight marts (marts.goal_conversion, activation_funnel, activation_cohorts, candidate_goals)
against an independent computation from the raw file (tests/python/independent.py: pandas, numpy and
scipy), on the committed sample and on the real log, and the seed rules they rely on."""

from __future__ import annotations

import csv
import io
import logging

import pandas as pd
import pytest
from helpers import failed_models
from independent import expected_candidate_goals, expected_goal_conversion, expected_marts, read_goals
from marts import GRAIN, TOLERANCE, assert_same_rows, read_mart

from sqlmesh.utils.errors import PlanError

from trial_activation.project import PROJECT_ROOT, build

SEED = PROJECT_ROOT / "seeds" / "activation_goals.csv"
GOALS = read_goals(SEED)
with open(PROJECT_ROOT / "seeds" / "candidate_goal_grid.csv", newline="", encoding="utf-8") as _grid:
    GRID = list(csv.DictReader(_grid))


# The 2x2 table and the figures both marts share, compared with the independent computation.
TWO_BY_TWO = ["organizations", "completed", "completed_converted", "not_completed", "not_completed_converted"]
# Organizations whose outcome is not known yet are left out of the table and counted apart.
PENDING = ["pending_organizations"]
DIFFERENCE = ["lift", "rate_difference", "rate_difference_low", "rate_difference_high", "p_value"]
GOAL_CONVERSION_COLUMNS = [
    "goal_name",
    "goal_order",
    *TWO_BY_TWO,
    *PENDING,
    "conversion_rate_completed",
    "conversion_rate_completed_low",
    "conversion_rate_completed_high",
    "conversion_rate_not_completed",
    "conversion_rate_not_completed_low",
    "conversion_rate_not_completed_high",
    *DIFFERENCE,
    "is_significant",
    "minimum_detectable_difference",
    "goal_auc",
]
CANDIDATE_COLUMNS = [
    "threshold",
    *TWO_BY_TWO,
    "conversion_rate_completed",
    "conversion_rate_not_completed",
    *DIFFERENCE,
    "q_value",
    "is_degenerate",
    "duplicate_of",
    "distinct_candidates_tested",
    "minimum_detectable_difference",
    "is_supported",
    "search_organizations",
    "search_threshold",
    "search_rate_difference",
    "search_p_value",
    "search_q_value",
    "holdout_organizations",
    "holdout_completed",
    "holdout_rate_difference",
    "holdout_rate_difference_low",
    "holdout_rate_difference_high",
    "holdout_p_value",
    "is_recommended",
]


def check_goal_conversion(context, events_path) -> None:
    actual = read_mart(context, "marts.goal_conversion")
    expected = expected_goal_conversion(events_path, GOALS)
    assert set(actual.population) == {"all", "unconverted_at_window_end", "holdout"}
    assert len(actual) == 3 * (len(GOALS) + 1)
    assert_same_rows(actual, expected, GRAIN["marts.goal_conversion"], columns=GOAL_CONVERSION_COLUMNS, atol=TOLERANCE)


def check_funnel_and_cohorts(context, events_path) -> None:
    """Funnel and cohorts from the independently computed marts.trial_goals / trial_activation;
    conversion rates over the organizations whose outcome is known, the pending ones counted apart."""
    goals_df, activation_df = expected_marts(events_path, GOALS)
    activation = activation_df.set_index("organization_id")
    completions = goals_df.pivot(index="organization_id", columns="goal_id", values="is_completed")
    ordered = sorted(GOALS, key=lambda g: int(g["goal_order"]))
    total = len(activation)
    pending = ~activation.is_outcome_final.astype(bool)

    def rate(members):  # converted / members with a known outcome; NULL when none is known
        known = (members & ~pending).sum()
        return (members & activation.converted).sum() / known if known else None

    def assert_rate(actual, expected):
        assert (pd.isna(actual) and expected is None) or actual == pytest.approx(expected, abs=TOLERANCE)

    funnel = context.fetchdf("SELECT * FROM marts.activation_funnel").set_index(["section", "step"])
    reached = pd.Series(True, index=activation.index)
    for step, goal in enumerate(ordered, start=1):
        reached &= completions[goal["goal_id"]].reindex(activation.index).astype(bool)
        row = funnel.loc[("funnel", step)]
        assert row.goal_id == goal["goal_id"]
        assert row.organizations == reached.sum()
        assert row.converted == (reached & activation.converted).sum()
        assert row.share_of_organizations == pytest.approx(reached.sum() / total, abs=TOLERANCE)
        assert row.pending_outcomes == (reached & pending).sum()
        assert_rate(row.conversion_rate, rate(reached))
    assert funnel.loc[("funnel", len(ordered))].organizations == activation.is_activated.sum()
    for goals_completed in range(len(ordered) + 1):
        bucket = activation.goals_completed == goals_completed
        row = funnel.loc[("goals_completed", goals_completed)]
        assert row.organizations == bucket.sum()
        assert row.converted == (bucket & activation.converted).sum()
        assert row.pending_outcomes == (bucket & pending).sum()
        assert_rate(row.conversion_rate, rate(bucket))

    cohorts = read_mart(context, "marts.activation_cohorts")
    week = (activation.trial_start - pd.to_timedelta(activation.trial_start.dt.weekday, unit="D")).dt.normalize()
    cohort = activation.assign(
        trial_start_week=week,
        is_pending=pending,
        is_in_progress=activation.activation_status == "in_progress",
        converted_known=activation.converted & ~pending,
    ).groupby("trial_start_week")
    expected = cohort.agg(
        organizations=("is_activated", "size"),
        activated=("is_activated", "sum"),
        in_progress=("is_in_progress", "sum"),
        converted=("converted", "sum"),
        pending_outcomes=("is_pending", "sum"),
        median_days_to_activation=("days_to_activation", lambda d: d.dropna().astype(float).median()),
    )
    expected["is_outcome_complete"] = expected.pending_outcomes == 0
    known = expected.organizations - expected.pending_outcomes
    expected["conversion_rate"] = (expected.converted / known).where(known > 0)
    assert_same_rows(
        cohorts, expected.reset_index(), GRAIN["marts.activation_cohorts"], columns=list(expected.columns), atol=TOLERANCE
    )
    iso = cohorts.trial_start_week.dt.isocalendar()
    assert list(cohorts.iso_year) == list(iso.year) and list(cohorts.iso_week) == list(iso.week)


def check_candidates(context, events_path) -> None:
    actual = read_mart(context, "marts.candidate_goals")
    expected = expected_candidate_goals(events_path, GRID)
    assert len(actual) > 100, "the default grid evaluates hundreds of candidates"
    assert_same_rows(actual, expected, GRAIN["marts.candidate_goals"], columns=CANDIDATE_COLUMNS, atol=TOLERANCE)
    # the oracle reads candidate_min_support from config.yaml; the build's own value must be that one
    support = int(context.config.variables["candidate_min_support"])
    assert (actual.is_supported == ((actual.completed >= support) & (actual.not_completed >= support))).all()


def check_candidate_equal_to_goal_reproduces_it(context) -> None:
    """'%|0-6|p75' is week_1_activity (every activity, trial days 0-6, P75, floor 0): same threshold as the
    goals' threshold model, same 2x2 table as goal_conversion's honest row for it."""
    week_1 = next(g for g in GOALS if g["goal_id"] == "week_1_activity")
    assert (week_1["activity_pattern"], week_1["window_start_day"], week_1["window_end_day"]) == ("%", "0", "6")
    assert (float(week_1["threshold_percentile"]), float(week_1["threshold_floor"])) == (75, 0)
    candidate = context.fetchdf("SELECT * FROM marts.candidate_goals WHERE candidate_id = '%|0-6|p75'").iloc[0]
    goal_threshold = context.fetchdf(
        "SELECT threshold FROM intermediate.goal_thresholds WHERE goal_id = 'week_1_activity'"
    ).threshold.iloc[0]
    assert candidate.threshold == goal_threshold  # exactly: the same percentile code
    honest = context.fetchdf(
        "SELECT * FROM marts.goal_conversion WHERE goal_id = 'week_1_activity' AND population = 'unconverted_at_window_end'"
    ).iloc[0]
    for column in ["organizations", "completed", "completed_converted", "not_completed", "not_completed_converted",
                   "lift", "rate_difference", "rate_difference_low", "rate_difference_high", "p_value"]:
        assert candidate[column] == honest[column], column


def test_sample_goal_conversion_matches_scipy(sample_build):
    check_goal_conversion(*sample_build)


def test_sample_funnel_and_cohorts_match_independent_computation(sample_build):
    check_funnel_and_cohorts(*sample_build)


def test_sample_candidates_match_independent_computation(sample_build):
    check_candidates(*sample_build)


def test_candidate_equal_to_a_goal_reproduces_its_threshold_and_figures(sample_build):
    check_candidate_equal_to_goal_reproduces_it(sample_build[0])


def test_real_log_insight_marts_match_independent_computation(real_log_build):
    """On the real log (966 organizations): goal_conversion, funnel, cohorts and every candidate."""
    context, events_path = real_log_build
    check_goal_conversion(context, events_path)
    check_funnel_and_cohorts(context, events_path)
    check_candidates(context, events_path)
    check_candidate_equal_to_goal_reproduces_it(context)


def test_adopting_a_candidates_seed_row_gives_the_candidates_goal(make_context, project_copy, sample_build):
    """The seed_row of a candidate, appended to the goals seed as it is, builds a goal with the
    candidate's threshold and the candidate's honest 2x2 table."""
    candidate = sample_build[0].fetchdf(
        "SELECT * FROM marts.candidate_goals WHERE candidate_id = 'Scheduling.%|7-13|p50'"
    ).iloc[0]
    seed = project_copy / "seeds" / "activation_goals.csv"
    header = next(csv.reader(io.StringIO(seed.read_text(encoding="utf-8"))))
    adopted = dict(zip(header, next(csv.reader(io.StringIO(candidate.seed_row)))))
    assert (adopted["activity_pattern"], adopted["window_start_day"], adopted["window_end_day"]) == ("Scheduling.%", "7", "13")
    assert adopted["goal_order"] == str(len(GOALS) + 1)
    with open(seed, "a", encoding="utf-8") as handle:
        handle.write(candidate.seed_row + "\n")
    context = make_context()
    build(context, skip_tests=True)
    goal_id = adopted["goal_id"]
    threshold = context.fetchdf(f"SELECT threshold FROM intermediate.goal_thresholds WHERE goal_id = '{goal_id}'")
    assert threshold.threshold.iloc[0] == candidate.threshold
    honest = context.fetchdf(
        f"SELECT * FROM marts.goal_conversion WHERE goal_id = '{goal_id}' AND population = 'unconverted_at_window_end'"
    ).iloc[0]
    for column in ["organizations", "completed", "completed_converted", "not_completed", "not_completed_converted", "p_value"]:
        assert honest[column] == candidate[column], column


@pytest.mark.parametrize(
    "bad_row",
    [
        'activation,4,Activation,"named like the all-goals row of goal_conversion",window_count,%,0,6,50,,0,,,,,',
        'twin,3,Twin,"the same goal_order as week_4_steadiness",window_count,%,0,6,50,,0,,,,,',
        'unordered,,Unordered,"no goal_order",window_count,%,0,6,50,,0,,,,,',
    ],
    ids=["goal_id activation", "repeated goal_order", "missing goal_order"],
)
def test_goal_definition_audit_rejects_bad_goal_rows(make_context, project_copy, bad_row, caplog):
    """The plan stops at the goals seed, and the failure names the goal-definition audit."""
    with open(project_copy / "seeds" / "activation_goals.csv", "a", encoding="utf-8") as seed:
        seed.write(bad_row + "\n")
    context = make_context()
    caplog.set_level(logging.INFO, logger="sqlmesh")
    with pytest.raises(PlanError):
        build(context, skip_tests=True, skip_linter=True)
    failures = failed_models(caplog)
    assert any("activation_goals" in f and "valid_goal_definitions" in f for f in failures), failures
