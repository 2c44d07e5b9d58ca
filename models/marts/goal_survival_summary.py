"""marts.goal_survival_summary: does completing a goal go with converting sooner or more? One row per goal
(and activation).

The companion of marts.goal_time_to_conversion (same landmark analysis and censoring): each group's
organizations and conversions, its Kaplan-Meier median days to convert, and the log-rank test of the
two curves (lifelines, trial_activation/modeling/validation.py).
"""

import typing as t

import pandas as pd
from sqlglot import exp
from sqlmesh import ExecutionContext, model

from trial_activation.modeling.time_to_conversion import (
    ACTIVATION,
    COMPLETIONS,
    GOALS,
    ORGANIZATIONS,
    SUMMARY_COLUMNS,
    goal_outcomes,
    goal_time_to_conversion,
)

COLUMNS = {
    "goal_id": "TEXT",
    "landmark_day": "INT",
    "excluded_converted_before_landmark": "BIGINT",
    "excluded_landmark_after_as_of": "BIGINT",
    "completed": "BIGINT",
    "completed_converted": "BIGINT",
    "not_completed": "BIGINT",
    "not_completed_converted": "BIGINT",
    "median_days_completed": "DOUBLE",
    "median_days_not_completed": "DOUBLE",
    "log_rank_statistic": "DOUBLE",
    "log_rank_p": "DOUBLE",
}
assert list(COLUMNS) == SUMMARY_COLUMNS


@model(
    "marts.goal_survival_summary",
    kind="FULL",
    grain=["goal_id"],
    depends_on=[GOALS, COMPLETIONS, ACTIVATION, ORGANIZATIONS],
    columns=COLUMNS,
    description=(
        "Time to conversion by goal completion, one row per goal (and 'activation', every goal): from the goal's landmark (trial day"
        " window_end_day + 1), the organizations that completed it and those that did not, how many of each"
        " converted, each group's Kaplan-Meier median days since trial_start to convert (NULL when fewer than"
        " half are estimated to convert), and the log-rank test of the two curves. Organizations not converted"
        " are censored at as_of. Curves: marts.goal_time_to_conversion. An association, not an effect."
    ),
    column_descriptions={
        "goal_id": "Goal key from seeds/activation_goals.csv, or 'activation' (every goal completed, marts.trial_activation; landmark after the latest window end of the goals)",
        "landmark_day": "Trial day the follow-up starts: window_end_day + 1",
        "excluded_converted_before_landmark": "Organizations left out: converted before the landmark",
        "excluded_landmark_after_as_of": "Organizations left out: their landmark is after as_of (not there yet)",
        "completed": "Organizations followed that completed the goal",
        "completed_converted": "Of which converted by as_of",
        "not_completed": "Organizations followed that did not complete the goal",
        "not_completed_converted": "Of which converted by as_of",
        "median_days_completed": "Kaplan-Meier median whole days from trial_start to conversion of the completers; NULL when not reached",
        "median_days_not_completed": "The same for the others",
        "log_rank_statistic": "Log-rank chi-square statistic (1 degree of freedom); NULL with fewer than two groups",
        "log_rank_p": "Log-rank p-value of the difference between the two curves; NULL with fewer than two groups",
    },
    audits=[
        ("not_null", {"columns": [exp.column(c) for c in SUMMARY_COLUMNS[:8]]}),
        ("unique_values", {"columns": [exp.column("goal_id")]}),
        ("accepted_range", {"column": exp.column("log_rank_p"), "min_v": exp.Literal.number(0), "max_v": exp.Literal.number(1)}),
    ],
)
def execute(context: ExecutionContext, **kwargs: t.Any) -> pd.DataFrame:
    _, summary = goal_time_to_conversion(goal_outcomes(context))
    return summary
