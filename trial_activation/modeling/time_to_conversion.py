"""Time to conversion by goal completion: the figures of marts.goal_time_to_conversion and
marts.goal_survival_summary.

A landmark analysis from the end of each goal's window (trial day window_end_day + 1): organizations
that converted before it are left out (the goal cannot have led to their purchase), as are those whose
landmark is after as_of; the others are followed in whole days since trial_start until they convert,
or until as_of when they have not (censored). Every organization that has not converted is censored
at as_of, pending or not_converted alike: the log says it had not bought by as_of, the longest
follow-up the data has; censoring a not_converted one at trial_end + conversion_window_days instead
would throw away the days between that and as_of, in which it is known not to have bought.

Days are whole days (the floor of the 24-hour periods since trial_start, as trial_day counts them),
so the curve has one row per day and a conversion and a censoring on the same day count the censored
organization as still at risk that day (the usual Kaplan-Meier convention). Pure functions on pandas
frames; tests/python/test_time_to_conversion.py checks them on a hand-computed example.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlglot import exp

from trial_activation.modeling.validation import kaplan_meier_by_group, landmark_durations

GOALS = "staging.activation_goals"
COMPLETIONS = "marts.trial_goals"
ACTIVATION = "marts.trial_activation"
# Activation (every goal completed) is followed from the latest window end of the goals, as in marts.goal_conversion.
ACTIVATION_ID = "activation"
ORGANIZATIONS = "intermediate.trial_organizations"

GROUPS = ("completed", "not_completed")
CURVE_COLUMNS = ["goal_id", "completion_group", "day", "at_risk", "conversions", "censored", "survival", "share_converted"]
SUMMARY_COLUMNS = [
    "goal_id",
    "landmark_day",
    "excluded_converted_before_landmark",
    "excluded_landmark_after_as_of",
    "completed",
    "completed_converted",
    "not_completed",
    "not_completed_converted",
    "median_days_completed",
    "median_days_not_completed",
    "log_rank_statistic",
    "log_rank_p",
]


def goal_outcomes(context) -> pd.DataFrame:
    """One row per goal and organization, and per organization for activation (goal_id 'activation',
    is_activated, the latest window_end_day of the goals): window_end_day, trial_start, converted_at
    (NULL unless converted), as_of and is_completed."""
    goals, completions, activation, organizations = (
        exp.to_table(context.resolve_table(name), dialect=context.default_dialect).as_(alias)
        for name, alias in ((GOALS, "a"), (COMPLETIONS, "g"), (ACTIVATION, "t"), (ORGANIZATIONS, "o"))
    )
    outcome = [
        "o.trial_start",
        exp.case().when("o.converted", "o.converted_at").as_("converted_at"),
        "o.as_of",
    ]
    per_goal = (
        exp.select("g.goal_id", "a.window_end_day", *outcome, "g.is_completed")
        .from_(completions)
        .join(goals, on="a.goal_id = g.goal_id")
        .join(organizations, on="o.organization_id = g.organization_id")
    )
    latest_window_end = exp.select("MAX(a.window_end_day)").from_(goals.copy()).subquery()
    activated = (
        exp.select(exp.Literal.string(ACTIVATION_ID).as_("goal_id"), latest_window_end.as_("window_end_day"))
        .select(*outcome, "t.is_activated AS is_completed")
        .from_(activation)
        .join(organizations.copy(), on="o.organization_id = t.organization_id")
    )
    rows = context.fetchdf(exp.union(per_goal, activated, distinct=False))
    rows.columns = [c.lower() for c in rows.columns]
    for column in ("trial_start", "converted_at", "as_of"):
        rows[column] = pd.to_datetime(rows[column], utc=True).dt.tz_localize(None)
    return rows


def landmark_days(rows: pd.DataFrame) -> pd.DataFrame:
    """The organizations of one goal followed from its landmark: completion_group, day (whole days since
    trial_start to the conversion or to as_of) and is_converted; with attrs counting those left out.

    rows: one row per organization with window_end_day, trial_start, converted_at (NULL when not
    converted), as_of and is_completed."""
    landmark = int(rows["window_end_day"].iloc[0]) + 1
    frame = landmark_durations(rows["trial_start"], rows["converted_at"], rows["as_of"].iloc[0], landmark)
    converted_before = (~frame["is_included"]) & frame["is_converted"] & (frame["days"] < landmark)
    kept = frame["is_included"].to_numpy()
    followed = pd.DataFrame(
        {
            "completion_group": np.where(rows["is_completed"].astype(bool).to_numpy()[kept], GROUPS[0], GROUPS[1]),
            "day": np.floor(frame["days"].to_numpy(float)[kept]).astype("int64"),
            "is_converted": frame["is_converted"].to_numpy(bool)[kept],
        }
    )
    followed.attrs = {
        "landmark_day": landmark,
        "excluded_converted_before_landmark": int(converted_before.sum()),
        "excluded_landmark_after_as_of": int((~frame["is_included"] & ~converted_before).sum()),
    }
    return followed


def daily_curve(days, is_converted, first_day: int) -> pd.DataFrame:
    """The Kaplan-Meier curve of one group, one row per whole day from first_day (the landmark) to the
    group's last day: at_risk (followed up to at least that day), conversions and censored that day,
    survival (the product over days so far of 1 - conversions / at_risk) and share_converted = 1 - survival."""
    days = np.asarray(days, dtype="int64")
    is_converted = np.asarray(is_converted, dtype=bool)
    span = np.arange(first_day, days.max() + 1)
    at_risk = np.array([(days >= day).sum() for day in span])
    conversions = np.bincount(days[is_converted] - first_day, minlength=len(span))
    censored = np.bincount(days[~is_converted] - first_day, minlength=len(span))
    survival = np.cumprod(1 - conversions / at_risk)
    return pd.DataFrame(
        {
            "day": span,
            "at_risk": at_risk,
            "conversions": conversions,
            "censored": censored,
            "survival": survival,
            "share_converted": 1 - survival,
        }
    )


def goal_time_to_conversion(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, summary) of every goal: the rows of marts.goal_time_to_conversion (one per goal,
    completion group and day) and of marts.goal_survival_summary (one per goal, with the log-rank test
    and each group's Kaplan-Meier median in days since trial_start, NULL when not reached).

    rows: one row per goal and organization: goal_id, window_end_day, trial_start, converted_at (NULL
    when not converted), as_of, is_completed."""
    curves, summaries = [], []
    for goal_id, goal_rows in rows.groupby("goal_id", sort=True):
        followed = landmark_days(goal_rows.reset_index(drop=True))
        summary = {"goal_id": goal_id, **followed.attrs}
        figures = {"groups": {}, "log_rank_statistic": None, "log_rank_p": None}
        if len(followed):
            figures = kaplan_meier_by_group(followed["day"], followed["is_converted"], followed["completion_group"])
        for group in GROUPS:
            members = followed[followed["completion_group"] == group]
            summary[group] = len(members)
            summary[f"{group}_converted"] = int(members["is_converted"].sum())
            summary[f"median_days_{group}"] = figures["groups"].get(group, {}).get("median_days")
            if len(members):
                curve = daily_curve(members["day"], members["is_converted"], followed.attrs["landmark_day"])
                curves.append(curve.assign(goal_id=goal_id, completion_group=group))
        summary["log_rank_statistic"] = figures["log_rank_statistic"]
        summary["log_rank_p"] = figures["log_rank_p"]
        summaries.append(summary)
    curve_frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=CURVE_COLUMNS)
    return curve_frame[CURVE_COLUMNS], pd.DataFrame(summaries, columns=SUMMARY_COLUMNS)
