"""End to end: plan prod on a copy of the project, then compare every mart row with an independent
computation of the same rules (tests/python/independent.py: plain DuckDB + pandas from the raw file)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from independent import ACTIVATION_COLUMNS, GOAL_COLUMNS, expected_marts, read_goals
from conftest import REAL_LOG, SAMPLE_LOG
from project_copy import copy_project
from trial_activation.project import PROJECT_ROOT, build, open_context

GOALS = read_goals(PROJECT_ROOT / "seeds" / "activation_goals.csv")


def actual_marts(context) -> tuple[pd.DataFrame, pd.DataFrame]:
    goals = context.fetchdf(
        f"SELECT {', '.join(GOAL_COLUMNS)} FROM marts.trial_goals ORDER BY organization_id, goal_id"
    )
    activation = context.fetchdf(
        f"SELECT {', '.join(ACTIVATION_COLUMNS)} FROM marts.trial_activation ORDER BY organization_id"
    )
    return goals, activation


def assert_frames_match(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    """Row for row: same keys, equal values (floats to 1e-9, timestamps to the microsecond, nulls alike)."""
    actual = actual.sort_values(keys).reset_index(drop=True)
    expected = expected[actual.columns].sort_values(keys).reset_index(drop=True)
    assert len(actual) == len(expected), f"{len(actual)} rows, expected {len(expected)}"
    assert actual[keys].equals(expected[keys].astype(actual[keys].dtypes)), "the rows' keys differ"
    for column in actual.columns:
        got, want = actual[column], expected[column]
        if pd.api.types.is_datetime64_any_dtype(got) or pd.api.types.is_datetime64_any_dtype(want):
            same = (pd.to_datetime(got) == pd.to_datetime(want)) | (got.isna() & want.isna())
        elif column in ("threshold", "completion_pct", "activation_score"):
            same = pd.Series(np.isclose(got.astype(float), want.astype(float), rtol=0, atol=1e-9, equal_nan=True))
        else:
            same = (got.astype(object) == want.astype(object)) | (got.isna() & want.isna())
        if not same.all():
            rows = actual.loc[~same, keys].assign(actual=got[~same], expected=want[~same])
            raise AssertionError(f"{column} differs on {int((~same).sum())} rows, e.g.\n{rows.head(10)}")


def test_sample_marts_match_independent_computation(sample_build):
    context, events_path = sample_build
    goals, activation = actual_marts(context)
    expected_goals, expected_activation = expected_marts(events_path, GOALS)

    assert_frames_match(goals, expected_goals, ["organization_id", "goal_id"])
    assert_frames_match(activation, expected_activation, ["organization_id"])


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


@pytest.mark.skipif(
    not REAL_LOG.exists(),
    reason=f"needs the real trial event log at {REAL_LOG} (not part of the repository)",
)
def test_real_log_marts_match_independent_computation(tmp_path):
    """The same row-for-row comparison on the real, deduplicated event log (966 organizations)."""
    context = open_context(
        copy_project(tmp_path / "project"), events_path=REAL_LOG, warehouse_path=tmp_path / "warehouse.duckdb"
    )
    build(context)
    goals, activation = actual_marts(context)
    expected_goals, expected_activation = expected_marts(REAL_LOG, GOALS)

    assert len(activation) == 966
    assert_frames_match(goals, expected_goals, ["organization_id", "goal_id"])
    assert_frames_match(activation, expected_activation, ["organization_id"])


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
    goals_actual, activation = actual_marts(context)
    expected_goals, expected_activation = expected_marts(SAMPLE_LOG, goals)

    assert_frames_match(goals_actual, expected_goals, ["organization_id", "goal_id"])
    assert_frames_match(activation, expected_activation, ["organization_id"])
    active = goals_actual[goals_actual.goal_kind == "active_days"]
    # Both new goals discriminate on the sample, so the comparison above exercises completed_at too.
    assert set(active.goal_id) == {"active_fortnight", "scheduling_days"}
    assert active.groupby("goal_id").is_completed.agg(["any", "all"]).eq([True, False]).all().all()
