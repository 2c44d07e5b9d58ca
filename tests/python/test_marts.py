"""End to end: plan prod on a copy of the project, then compare every mart row with an independent
computation of the same rules (tests/python/independent.py: plain DuckDB + pandas from the raw file)."""

from __future__ import annotations

import logging

from independent import expected_marts, read_goals
from marts import assert_marts_match_independent, read_marts
from trial_activation.project import PROJECT_ROOT, build
from trial_activation.testing import REAL_LOG, SAMPLE_LOG

GOALS = read_goals(PROJECT_ROOT / "seeds" / "activation_goals.csv")


def test_sample_marts_match_independent_computation(sample_build):
    context, events_path = sample_build

    assert_marts_match_independent(read_marts(context), *expected_marts(events_path, GOALS))


def test_sample_exercises_every_goal_both_ways(sample_build):
    """The committed sample must keep exercising every rule: each goal both completed and not, some
    activated organizations, duplicates, late conversions and events outside the trial."""
    context, _ = sample_build
    outcomes = context.fetchdf(
        "SELECT goal_id, COUNT(*) FILTER (WHERE is_completed) AS done, COUNT(*) FILTER (WHERE NOT is_completed) AS open"
        " FROM marts.trial_goals GROUP BY goal_id"
    )
    assert set(outcomes.goal_id) == {goal["goal_id"] for goal in GOALS}
    assert (outcomes.done > 0).all() and (outcomes.open > 0).all(), outcomes
    facts = context.fetchdf(
        """
        SELECT
          (SELECT COUNT(*) FILTER (WHERE is_activated) FROM marts.trial_activation) AS activated,
          (SELECT COUNT(*) FILTER (WHERE conversion_timing = 'after_trial') FROM marts.trial_activation) AS late_conversions,
          (SELECT SUM(raw_row_count - 1) FROM staging.trial_events) AS duplicate_rows,
          (SELECT COUNT(*) FILTER (WHERE NOT is_in_trial) FROM staging.trial_events) AS outside_trial
        """
    ).iloc[0]
    assert facts.activated > 0 and facts.late_conversions > 0
    assert facts.duplicate_rows > 0 and facts.outside_trial > 0


def test_real_log_marts_match_independent_computation(real_log_build):
    """The same row-for-row comparison on the real, deduplicated event log (966 organizations)."""
    context, _ = real_log_build
    marts = read_marts(context)

    assert len(marts["marts.trial_activation"]) == 966
    assert_marts_match_independent(marts, *expected_marts(REAL_LOG, GOALS))


def test_goal_that_separates_no_one_warns_by_name_without_blocking(make_context, project_copy, caplog):
    """A goal every organization passes (percentile 0, floor 0) builds, and the warning names it."""
    with open(project_copy / "seeds" / "activation_goals.csv", "a", encoding="utf-8") as seed:
        seed.write('everyone,4,Everyone,"P0 with floor 0: passes everyone",window_count,%,0,6,0,,0,,,,,\n')
    context = make_context()
    with caplog.at_level(logging.WARNING):
        build(context)

    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any(w.startswith("Goal 'everyone' is completed by every organization") for w in warnings), warnings
    assert not any(w.startswith("Goal 'week_") for w in warnings), warnings
    completed = context.fetchdf(
        "SELECT COUNT(*) FILTER (WHERE NOT is_completed) AS open FROM marts.trial_goals WHERE goal_id = 'everyone'"
    )
    assert completed.open.iloc[0] == 0


def test_active_days_goals_match_independent_computation(make_context, project_copy):
    """The third goal kind, added as seed rows only: days of the window with a matching event, against
    a percentile of converted organizations and against a fixed number, row for row with the oracle."""
    seed = project_copy / "seeds" / "activation_goals.csv"
    with open(seed, "a", encoding="utf-8") as handle:
        handle.write('active_fortnight,4,Active fortnight,"Active on at least the P75 of converted organizations\' days in trial days 0-13",active_days,%,0,13,75,,1,,,,,\n')
        handle.write('scheduling_days,5,Scheduling days,"Scheduling on at least 2 days of week 1",active_days,Scheduling.%,0,6,,2,0,,,,,\n')
    goals = read_goals(seed)
    context = make_context()
    build(context)
    marts = read_marts(context)

    assert_marts_match_independent(marts, *expected_marts(SAMPLE_LOG, goals))
    goals_actual = marts["marts.trial_goals"]
    active = goals_actual[goals_actual.goal_kind == "active_days"]
    # Both new goals discriminate on the sample, so the comparison above exercises completed_at too.
    assert set(active.goal_id) == {"active_fortnight", "scheduling_days"}
    assert active.groupby("goal_id").is_completed.agg(["any", "all"]).eq([True, False]).all().all()
