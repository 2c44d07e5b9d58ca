"""Time to conversion by goal completion (trial_activation/modeling/time_to_conversion.py) on a
hand-computed example, and the two marts built on the committed sample."""

from __future__ import annotations

import pandas as pd
import pytest
from marts import read_mart
from scipy.stats import chi2

from trial_activation.modeling.time_to_conversion import goal_time_to_conversion

START = pd.Timestamp("2024-01-01")
AS_OF = pd.Timestamp("2024-03-01")  # trial day 60 of START


def organization(completed: bool, converted_day: float | None, start: pd.Timestamp = START) -> dict:
    converted_at = None if converted_day is None else start + pd.Timedelta(days=converted_day)
    return {"goal_id": "g", "window_end_day": 6, "trial_start": start, "converted_at": converted_at,
            "as_of": AS_OF, "is_completed": completed}


# Goal g over trial days 0-6: landmark day 7.
ROWS = pd.DataFrame(
    [
        organization(True, 10.5),  # converts on day 10
        organization(True, 12.2),  # converts on day 12
        organization(True, None),  # censored at as_of, day 60
        organization(True, 3.0),  # converted before the landmark: left out
        organization(False, 20.1),  # converts on day 20
        organization(False, None),  # censored on day 60
        organization(False, None, start=pd.Timestamp("2024-02-25")),  # as_of is its day 5, before the landmark: left out
    ]
)


def test_curves_by_hand():
    curves, _ = goal_time_to_conversion(ROWS)
    completed = curves[curves.completion_group == "completed"].set_index("day")
    assert completed.index.tolist() == list(range(7, 61))
    # 3 at risk until day 10, 1 converts: 2/3; 2 at risk on day 12, 1 converts: 2/3 x 1/2 = 1/3.
    assert completed.loc[9, "survival"] == 1
    assert completed.loc[10, ["at_risk", "conversions"]].tolist() == [3, 1]
    assert completed.loc[10, "survival"] == pytest.approx(2 / 3)
    assert completed.loc[12, ["at_risk", "conversions"]].tolist() == [2, 1]
    assert completed.loc[12, "survival"] == pytest.approx(1 / 3)
    assert completed.loc[60, ["at_risk", "conversions", "censored"]].tolist() == [1, 0, 1]
    assert completed.loc[60, "share_converted"] == pytest.approx(2 / 3)
    others = curves[curves.completion_group == "not_completed"].set_index("day")
    assert others.loc[20, ["at_risk", "conversions"]].tolist() == [2, 1]
    assert others.loc[19, "survival"] == 1 and others.loc[20, "survival"] == pytest.approx(0.5)


def test_summary_by_hand():
    _, summary = goal_time_to_conversion(ROWS)
    row = summary.set_index("goal_id").loc["g"]
    assert row.landmark_day == 7
    assert (row.excluded_converted_before_landmark, row.excluded_landmark_after_as_of) == (1, 1)
    assert (row.completed, row.completed_converted, row.not_completed, row.not_completed_converted) == (3, 2, 2, 1)
    # Kaplan-Meier medians: the first day survival reaches 0.5 or below.
    assert (row.median_days_completed, row.median_days_not_completed) == (12, 20)
    # Log-rank by hand: on day 10, 5 at risk (3 completed), 1 conversion among the completed: expected
    # 3/5, variance 3 x 2 x 1 x 4 / (5^2 x 4); day 12: 4 at risk (2), expected 1/2, variance 1/4;
    # day 20: 3 at risk (1), the conversion among the others, expected 1/3, variance 2/9.
    observed, expected = 2, 3 / 5 + 1 / 2 + 1 / 3
    variance = 0.24 + 0.25 + 2 / 9
    statistic = (observed - expected) ** 2 / variance
    assert row.log_rank_statistic == pytest.approx(statistic)
    assert row.log_rank_p == pytest.approx(chi2.sf(statistic, 1))


def test_goal_nobody_completed_has_one_curve_and_no_test():
    curves, summary = goal_time_to_conversion(ROWS.assign(is_completed=False))
    assert set(curves.completion_group) == {"not_completed"}
    row = summary.iloc[0]
    assert row.completed == 0 and row.not_completed == 5
    assert row.log_rank_p is None or pd.isna(row.log_rank_p)
    assert row.median_days_completed is None or pd.isna(row.median_days_completed)


def test_marts_on_the_sample(sample_build):
    context, _ = sample_build
    curves = read_mart(context, "marts.goal_time_to_conversion")
    summary = read_mart(context, "marts.goal_survival_summary").set_index("goal_id")
    goals = context.fetchdf("SELECT goal_id, window_end_day FROM staging.activation_goals").set_index("goal_id")
    window_end = goals.window_end_day.to_dict() | {"activation": goals.window_end_day.max()}  # after every goal's window
    assert sorted(summary.index) == sorted(window_end)
    for goal_id, row in summary.iterrows():
        assert row.landmark_day == window_end[goal_id] + 1
        for group in ("completed", "not_completed"):
            curve = curves[(curves.goal_id == goal_id) & (curves.completion_group == group)]
            assert curve.day.min() == row.landmark_day
            assert curve.at_risk.iloc[0] == row[group]  # everyone is at risk on the landmark day
            assert curve.conversions.sum() == row[f"{group}_converted"]
            assert (curve.survival.diff().dropna() <= 0).all()
        assert 0 <= row.log_rank_p <= 1
