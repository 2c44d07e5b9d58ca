"""marts.candidate_goals: a search over simple goals an analyst could adopt, one row per candidate goal.

A Python model over intermediate.candidate_goal_counts (a few hundred rows: the engine does the
counting over organizations), read through the engine's own connection (context.fetchdf), so it runs
the same on DuckDB, PostgreSQL and Spark. The statistics are trial_activation/modeling/stats.py's, as in
marts.goal_conversion, plus Benjamini-Hochberg q-values across every candidate evaluated.
"""

import csv
import io
import re
import typing as t

import numpy as np
import pandas as pd
from sqlglot import exp
from sqlmesh import ExecutionContext, model

from trial_activation.modeling.stats import benjamini_hochberg, compare_groups

COUNTS = "intermediate.candidate_goal_counts"
GOALS = "staging.activation_goals"
# The columns of seeds/activation_goals.csv, in its order: seed_row is one line of that file.
SEED_COLUMNS = (
    "goal_id",
    "goal_order",
    "goal_name",
    "description",
    "goal_kind",
    "activity_pattern",
    "window_start_day",
    "window_end_day",
    "threshold_percentile",
    "fixed_threshold",
    "threshold_floor",
    "baseline_ratio",
    "baseline_start_day",
    "baseline_end_day",
    "fallback_start_day",
    "fallback_end_day",
)
CANDIDATE = [
    "candidate_id",
    "activity_pattern",
    "window_start_day",
    "window_end_day",
    "threshold_rule",
    "threshold_percentile",
    "fixed_threshold",
    "threshold",
]
TABLE = ["organizations", "completed", "completed_converted", "not_completed", "not_completed_converted"]
FIGURES = [
    "conversion_rate_completed",
    "conversion_rate_not_completed",
    "lift",
    "rate_difference",
    "rate_difference_low",
    "rate_difference_high",
    "p_value",
]

COLUMNS = {
    "candidate_id": "TEXT",
    "activity_pattern": "TEXT",
    "window_start_day": "INT",
    "window_end_day": "INT",
    "threshold_rule": "TEXT",
    "threshold_percentile": "DOUBLE",
    "fixed_threshold": "DOUBLE",
    "threshold": "DOUBLE",
    **{c: "BIGINT" for c in TABLE},
    **{c: "DOUBLE" for c in FIGURES},
    "q_value": "DOUBLE",
    "is_significant": "BOOLEAN",
    "is_supported": "BOOLEAN",
    "seed_row": "TEXT",
}


@model(
    "marts.candidate_goals",
    kind="FULL",
    cron="@weekly",  # with the search it reads (intermediate.candidate_goal_counts)
    grain=["candidate_id"],
    depends_on=[COUNTS, GOALS],
    columns=COLUMNS,
    description=(
        "Candidate goals: every activity pattern x window x threshold rule of seeds/candidate_goal_grid.csv, one"
        " row per candidate, with the figures of marts.goal_conversion on the honest population (organizations"
        " not converted when the candidate's window ended) and the seed row that would adopt it. Hundreds of"
        " candidates are tested at once, so some will look strong by chance: rank by q_value (Benjamini-Hochberg"
        " across all candidates), require is_supported, and confirm a winner on new trials before adopting it."
        " An association, not an effect. Computed in Python (trial_activation/modeling/stats.py) over the counts the"
        " engine aggregates; runs the same on DuckDB, PostgreSQL and Spark."
    ),
    column_descriptions={
        "candidate_id": "activity_pattern|window|threshold_rule, e.g. Scheduling.%|0-6|p75",
        "activity_pattern": "SQL LIKE pattern on activity_name (a backslash escapes %, _ and itself)",
        "window_start_day": "First trial day (0-based) of the counted window",
        "window_end_day": "Last trial day (inclusive) of the counted window",
        "threshold_rule": "The grid's threshold label: at_least_1, p50, p75, p90, ...",
        "threshold_percentile": "Percentile (0-100) of converted organizations' counts; NULL for fixed rules",
        "fixed_threshold": "Fixed threshold; NULL for percentile rules",
        "threshold": "Events needed in the window (the goals' threshold code)",
        "organizations": "Organizations not converted when the window ended (the honest population)",
        "completed": "Of which reached the threshold",
        "completed_converted": "Of which reached it and converted",
        "not_completed": "Of which did not reach it",
        "not_completed_converted": "Of which did not reach it but converted",
        "conversion_rate_completed": "completed_converted / completed (0-1); NULL when none completed",
        "conversion_rate_not_completed": "not_completed_converted / not_completed (0-1); NULL when all completed",
        "lift": "conversion_rate_completed / conversion_rate_not_completed; NULL when undefined",
        "rate_difference": "conversion_rate_completed - conversion_rate_not_completed",
        "rate_difference_low": "Lower bound of the difference's 95% interval (Newcombe's hybrid score)",
        "rate_difference_high": "Upper bound of the difference's 95% interval",
        "p_value": "Two-sided Fisher exact test of the 2x2 table",
        "q_value": "Benjamini-Hochberg adjusted p-value across every candidate of the grid (false discovery rate)",
        "is_significant": "The difference's 95% interval excludes 0 (not corrected for the many candidates: see q_value)",
        "is_supported": "At least the candidate_min_support variable's organizations (config.yaml) on each side",
        "seed_row": "The line of seeds/activation_goals.csv that would adopt the candidate as a goal",
    },
    audits=[
        ("not_null", {"columns": [exp.column(c) for c in ["candidate_id", *TABLE, "p_value", "q_value", "seed_row"]]}),
        ("unique_values", {"columns": [exp.column("candidate_id")]}),
        ("accepted_range", {"column": exp.column("q_value"), "min_v": exp.Literal.number(0), "max_v": exp.Literal.number(1)}),
        "two_by_two_adds_up",
    ],
)
def execute(context: ExecutionContext, **kwargs: t.Any) -> t.Iterator[pd.DataFrame]:
    min_support = int(context.var("candidate_min_support"))
    # Expressions, not SQL text: the engine adapter writes them in its own dialect (Spark's quoting).
    counts_table, goals_table = (
        exp.to_table(context.resolve_table(name), dialect=context.default_dialect) for name in (COUNTS, GOALS)
    )
    counts = context.fetchdf(exp.select(*CANDIDATE, *TABLE).from_(counts_table))
    counts.columns = [c.lower() for c in counts.columns]
    counts[TABLE] = counts[TABLE].astype("int64")
    if counts.empty:  # no outcome known yet (a young feed): no candidate to judge; SQLMesh writes no empty DataFrame
        yield from ()
        return
    goal_orders = context.fetchdf(exp.select("goal_order").from_(goals_table)).iloc[:, 0]
    next_goal_order = int(goal_orders.max()) + 1

    figures = pd.DataFrame(
        [
            compare_groups(row.completed, row.completed_converted, row.not_completed, row.not_completed_converted)
            for row in counts.itertuples(index=False)
        ],
        index=counts.index,
    )
    result = pd.concat([counts, figures], axis=1)
    result["q_value"] = benjamini_hochberg(result.p_value.to_numpy(dtype=float))
    result["is_supported"] = (result.completed >= min_support) & (result.not_completed >= min_support)
    result["seed_row"] = [seed_row(row, next_goal_order) for row in result.itertuples(index=False)]
    yield result[list(COLUMNS)]


def seed_row(candidate, goal_order: int) -> str:
    """The candidate as a window_count goal row of seeds/activation_goals.csv (threshold floor 0)."""
    pattern, start, end, rule = (
        candidate.activity_pattern,
        int(candidate.window_start_day),
        int(candidate.window_end_day),
        candidate.threshold_rule,
    )
    slug = re.sub(r"[^a-z0-9]+", "_", pattern.lower().replace("%", "any")).strip("_")
    is_percentile = not pd.isna(candidate.threshold_percentile)
    needed = (
        f"the {_number(candidate.threshold_percentile)}th percentile of converted organizations' counts"
        if is_percentile
        else f"{_number(candidate.fixed_threshold)}"
    )
    values = {
        "goal_id": f"{slug}_days_{start}_{end}_{re.sub(r'[^a-z0-9]+', '_', rule.lower())}",
        "goal_order": goal_order,
        "goal_name": f"{pattern} days {start}-{end} ({rule})",
        "description": f"Events matching {pattern} in trial days {start}-{end} at least {needed}",
        "goal_kind": "window_count",
        "activity_pattern": pattern,
        "window_start_day": start,
        "window_end_day": end,
        "threshold_percentile": _number(candidate.threshold_percentile) if is_percentile else "",
        "fixed_threshold": "" if is_percentile else _number(candidate.fixed_threshold),
        "threshold_floor": 0,
    }
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow([values.get(column, "") for column in SEED_COLUMNS])
    return line.getvalue()


def _number(value) -> str:
    """75.0 -> '75', 0.5 -> '0.5'."""
    return f"{float(value):g}" if not (value is None or (isinstance(value, float) and np.isnan(value))) else ""
