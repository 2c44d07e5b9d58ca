"""marts.goal_conversion: does completing a goal go with converting? One row per goal_id and population.

A Python model over the small 2x2 tables of marts.goal_conversion_counts (two rows per goal),
which it reads through the engine's own connection (context.fetchdf) on every gateway: DuckDB,
PostgreSQL and Spark alike; the counting over organizations stays in the engine, in SQL. The
statistics are trial_activation/modeling/stats.py's, the one definition the project has: Fisher's exact test
is not an SQL function on any of the engines.
"""

import typing as t

import pandas as pd
from sqlglot import exp
from sqlmesh import ExecutionContext, model

from trial_activation.modeling.stats import compare_groups
from trial_activation.modeling.validation import minimum_detectable_difference

COUNTS = "marts.goal_conversion_counts"
KEYS = ["goal_id", "goal_name", "goal_order", "population"]
TABLE = ["organizations", "completed", "completed_converted", "not_completed", "not_completed_converted", "pending_organizations"]

COLUMNS = {
    "goal_id": "TEXT",
    "goal_name": "TEXT",
    "goal_order": "INT",
    "population": "TEXT",
    "organizations": "BIGINT",
    "completed": "BIGINT",
    "completed_converted": "BIGINT",
    "not_completed": "BIGINT",
    "not_completed_converted": "BIGINT",
    "pending_organizations": "BIGINT",
    "conversion_rate_completed": "DOUBLE",
    "conversion_rate_completed_low": "DOUBLE",
    "conversion_rate_completed_high": "DOUBLE",
    "conversion_rate_not_completed": "DOUBLE",
    "conversion_rate_not_completed_low": "DOUBLE",
    "conversion_rate_not_completed_high": "DOUBLE",
    "lift": "DOUBLE",
    "rate_difference": "DOUBLE",
    "rate_difference_low": "DOUBLE",
    "rate_difference_high": "DOUBLE",
    "p_value": "DOUBLE",
    "is_significant": "BOOLEAN",
    "minimum_detectable_difference": "DOUBLE",
    "goal_auc": "DOUBLE",
}


@model(
    "marts.goal_conversion",
    kind="FULL",
    grain=["goal_id", "population"],
    depends_on=[COUNTS],
    columns=COLUMNS,
    description=(
        "Conversion of the organizations that completed each goal against those that did not: one row per"
        " goal_id (each seed goal, plus 'activation' = all goals) and population. Lead with population"
        " 'unconverted_at_window_end' (organizations not yet converted when the goal's window ended: a goal"
        " completed after the purchase cannot have led to it); 'all' is every organization. Rates are"
        " fractions 0-1 with 95% Wilson intervals; the difference has Newcombe's hybrid score interval; the"
        " p-value is Fisher's exact test (two-sided). An association, not an effect: trialists who would buy"
        " anyway may also be the ones who complete goals. Computed in Python (trial_activation/modeling/stats.py) over"
        " the 2x2 counts the engine aggregates; runs the same on DuckDB, PostgreSQL and Spark."
    ),
    column_descriptions={
        "goal_id": "Goal key from seeds/activation_goals.csv, or 'activation' for all goals completed",
        "goal_name": "Goal name; 'Activation (all goals)' for activation",
        "goal_order": "The goal's goal_order in the seed; activation is the last goal_order + 1",
        "population": "unconverted_at_window_end (the honest one: not converted before the window ended), all, or holdout (the honest one among the latest trials, intermediate.cohort_split, each goal judged against the threshold derived on the earlier trials: does it hold on new trials?)",
        "organizations": "Organizations in the population whose outcome is known (converted, or not within conversion_window_days)",
        "completed": "Organizations of the population that completed the goal",
        "completed_converted": "Of which converted",
        "not_completed": "Organizations of the population that did not complete the goal",
        "not_completed_converted": "Of which converted",
        "pending_organizations": "Organizations of the population whose outcome is not known yet: left out of every figure",
        "conversion_rate_completed": "completed_converted / completed (0-1); NULL when no organization completed",
        "conversion_rate_completed_low": "Lower bound of its 95% Wilson interval",
        "conversion_rate_completed_high": "Upper bound of its 95% Wilson interval",
        "conversion_rate_not_completed": "not_completed_converted / not_completed (0-1); NULL when every organization completed",
        "conversion_rate_not_completed_low": "Lower bound of its 95% Wilson interval",
        "conversion_rate_not_completed_high": "Upper bound of its 95% Wilson interval",
        "lift": "conversion_rate_completed / conversion_rate_not_completed; NULL when either is NULL or the latter is 0",
        "rate_difference": "conversion_rate_completed - conversion_rate_not_completed",
        "rate_difference_low": "Lower bound of the difference's 95% interval (Newcombe's hybrid score, from the two Wilson intervals)",
        "rate_difference_high": "Upper bound of the difference's 95% interval",
        "p_value": "Two-sided Fisher exact test of the 2x2 table (1 when a group is empty)",
        "is_significant": "The difference's 95% interval excludes 0 (false when it is undefined)",
        "minimum_detectable_difference": "Smallest difference in conversion rates (a fraction) these group sizes detect with 80% power at two-sided 5%: 'no difference seen' means none this large; NULL when none can be",
        "goal_auc": "The goal as a predictor of conversion: ROC AUC of completed (1) or not (0), (sensitivity + specificity) / 2; 0.5 is chance",
    },
    audits=[
        ("not_null", {"columns": [exp.column(c) for c in KEYS + TABLE + ["p_value", "is_significant"]]}),
        ("unique_combination_of_columns", {"columns": [exp.column("goal_id"), exp.column("population")]}),
        ("accepted_range", {"column": exp.column("p_value"), "min_v": exp.Literal.number(0), "max_v": exp.Literal.number(1)}),
        "two_by_two_adds_up",
    ],
)
def execute(context: ExecutionContext, **kwargs: t.Any) -> pd.DataFrame:
    # An expression, not SQL text: the engine adapter writes it in its own dialect (Spark's quoting).
    counts_table = exp.to_table(context.resolve_table(COUNTS), dialect=context.default_dialect)
    counts = context.fetchdf(exp.select(*KEYS, *TABLE).from_(counts_table))
    counts.columns = [c.lower() for c in counts.columns]
    counts[TABLE] = counts[TABLE].astype("int64")
    figures = [
        compare_groups(row.completed, row.completed_converted, row.not_completed, row.not_completed_converted)
        for row in counts.itertuples(index=False)
    ]
    result = pd.concat([counts.reset_index(drop=True), pd.DataFrame(figures)], axis=1)
    result["minimum_detectable_difference"] = [
        minimum_detectable_difference(
            row.completed, row.not_completed, (row.completed_converted + row.not_completed_converted) / max(row.organizations, 1)
        )
        for row in result.itertuples(index=False)
    ]
    result["goal_auc"] = [goal_auc(row) for row in result.itertuples(index=False)]
    return result[list(COLUMNS)]


def goal_auc(row) -> float | None:
    """ROC AUC of a yes/no score (completed the goal) for conversion: the mean of sensitivity (converted
    organizations that completed it) and specificity (non-converted ones that did not); None when a class
    is empty."""
    converted = row.completed_converted + row.not_completed_converted
    not_converted = row.organizations - converted
    if converted == 0 or not_converted == 0:
        return None
    specificity = (row.not_completed - row.not_completed_converted) / not_converted
    return (row.completed_converted / converted + specificity) / 2
