"""marts.goal_time_to_conversion: Kaplan-Meier curves of conversion by goal completion. One row per
goal_id (each goal, and activation), completion_group and day since trial_start.

A landmark analysis from the end of each goal's window: organizations converted before trial day
window_end_day + 1 are left out, the others are followed in whole days until they convert or until
as_of (censored: pending and not_converted alike, see trial_activation/modeling/time_to_conversion.py
for why). Unlike the honest population of marts.goal_conversion, later conversions count when they
happen instead of the outcome being read at one date. Reads the organizations' completions and
outcomes through the engine (context.fetchdf) on DuckDB, PostgreSQL and Spark alike; the curves are
computed in Python (lifelines for the medians and log-rank test in marts.goal_survival_summary).
"""

import typing as t

import pandas as pd
from sqlglot import exp
from sqlmesh import ExecutionContext, model

from trial_activation.modeling.time_to_conversion import (
    ACTIVATION,
    COMPLETIONS,
    CURVE_COLUMNS,
    GOALS,
    ORGANIZATIONS,
    goal_outcomes,
    goal_time_to_conversion,
)

COLUMNS = {
    "goal_id": "TEXT",
    "completion_group": "TEXT",
    "day": "INT",
    "at_risk": "BIGINT",
    "conversions": "BIGINT",
    "censored": "BIGINT",
    "survival": "DOUBLE",
    "share_converted": "DOUBLE",
}
assert list(COLUMNS) == CURVE_COLUMNS


@model(
    "marts.goal_time_to_conversion",
    kind="FULL",
    grain=["goal_id", "completion_group", "day"],
    depends_on=[GOALS, COMPLETIONS, ACTIVATION, ORGANIZATIONS],
    columns=COLUMNS,
    description=(
        "Kaplan-Meier curves of conversion for the organizations that completed each goal (and activation:"
        " every goal) and for those that did not: one row per goal_id, completion_group and whole day since trial_start, from the goal's"
        " landmark (trial day window_end_day + 1; organizations converted before it are left out) to the"
        " group's last day followed. Organizations not converted are censored at as_of. survival is the share"
        " not yet converted. Per-goal tests and medians: marts.goal_survival_summary. An association, not an effect."
    ),
    column_descriptions={
        "goal_id": "Goal key from seeds/activation_goals.csv, or 'activation' (every goal completed, marts.trial_activation; landmark after the latest window end of the goals)",
        "completion_group": "completed or not_completed (marts.trial_goals.is_completed)",
        "day": "Whole days since trial_start (as trial_day counts them), from the landmark on",
        "at_risk": "Organizations of the group followed up to at least this day and not converted before it",
        "conversions": "Organizations of the group that converted on this day",
        "censored": "Organizations of the group whose follow-up ends on this day without a conversion (as_of)",
        "survival": "Kaplan-Meier share of the group not yet converted at the end of this day (0-1)",
        "share_converted": "1 - survival: the estimated share converted by the end of this day",
    },
    audits=[
        ("not_null", {"columns": [exp.column(c) for c in COLUMNS]}),
        ("unique_combination_of_columns", {"columns": [exp.column(c) for c in ("goal_id", "completion_group", "day")]}),
        ("accepted_values", {"column": exp.column("completion_group"), "is_in": [exp.Literal.string("completed"), exp.Literal.string("not_completed")]}),
        ("accepted_range", {"column": exp.column("survival"), "min_v": exp.Literal.number(0), "max_v": exp.Literal.number(1)}),
    ],
)
def execute(context: ExecutionContext, **kwargs: t.Any) -> pd.DataFrame:
    curves, _ = goal_time_to_conversion(goal_outcomes(context))
    return curves
