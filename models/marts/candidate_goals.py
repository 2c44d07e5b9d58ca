"""marts.candidate_goals: a search over simple goals an analyst could adopt, one row per candidate goal.

A Python model over intermediate.candidate_goal_counts (a few hundred rows per population: the engine
does the counting over organizations), read through the engine's own connection (context.fetchdf), so
it runs the same on DuckDB, PostgreSQL and Spark. The statistics are trial_activation/modeling/stats.py's,
as in marts.goal_conversion, plus Benjamini-Hochberg q-values over the distinct candidates tested (a
threshold everyone or no one meets, or a 2x2 table identical to another candidate's, tests nothing new
and is left out of the correction), and the held-out check (trial_activation/modeling/validation.py):
chosen on the search part, a candidate is recommended only if its interval on the holdout, with the
search part's threshold held fixed, excludes 0 on the same side.
"""

import typing as t

import pandas as pd
from sqlglot import exp
from sqlmesh import ExecutionContext, model

from trial_activation.modeling.candidates import seed_row, with_figures
from trial_activation.modeling.validation import is_recommended, minimum_detectable_difference

COUNTS = "intermediate.candidate_goal_counts"
GOALS = "staging.activation_goals"
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

# Each column: its type and its description.
COLUMNS = {
    'candidate_id': ('TEXT', 'activity_pattern|window|threshold_rule, e.g. Scheduling.%|0-6|p75'),
    'activity_pattern': ('TEXT', 'SQL LIKE pattern on activity_name (a backslash escapes %, _ and itself)'),
    'window_start_day': ('INT', 'First trial day (0-based) of the counted window'),
    'window_end_day': ('INT', 'Last trial day (inclusive) of the counted window'),
    'threshold_rule': ('TEXT', "The grid's threshold label: at_least_1, p50, p75, p90, ..."),
    'threshold_percentile': ('DOUBLE', "Percentile (0-100) of converted organizations' counts; NULL for fixed rules"),
    'fixed_threshold': ('DOUBLE', 'Fixed threshold; NULL for percentile rules'),
    'threshold': ('DOUBLE', "Events needed in the window (the goals' threshold code)"),
    'organizations': ('BIGINT', 'Organizations not converted when the window ended (the honest population)'),
    'completed': ('BIGINT', 'Of which reached the threshold'),
    'completed_converted': ('BIGINT', 'Of which reached it and converted'),
    'not_completed': ('BIGINT', 'Of which did not reach it'),
    'not_completed_converted': ('BIGINT', 'Of which did not reach it but converted'),
    'conversion_rate_completed': ('DOUBLE', 'completed_converted / completed (0-1); NULL when none completed'),
    'conversion_rate_not_completed': ('DOUBLE', 'not_completed_converted / not_completed (0-1); NULL when all completed'),
    'lift': ('DOUBLE', 'conversion_rate_completed / conversion_rate_not_completed; NULL when undefined'),
    'rate_difference': ('DOUBLE', 'conversion_rate_completed - conversion_rate_not_completed'),
    'rate_difference_low': ('DOUBLE', "Lower bound of the difference's 95% interval (Newcombe's hybrid score)"),
    'rate_difference_high': ('DOUBLE', "Upper bound of the difference's 95% interval"),
    'p_value': ('DOUBLE', 'Two-sided Fisher exact test of the 2x2 table'),
    'q_value': ('DOUBLE', 'Benjamini-Hochberg adjusted p-value across the distinct candidates tested; NULL for a degenerate one'),
    'is_significant': ('BOOLEAN', "The difference's 95% interval excludes 0 (not corrected for the many candidates: see q_value)"),
    'is_supported': ('BOOLEAN', "At least the candidate_min_support variable's organizations (config.yaml) on each side"),
    'is_degenerate': ('BOOLEAN', "Tests nothing new, so left out of the correction: everyone or no one meets its threshold, or its 2x2 table is another candidate's"),
    'duplicate_of': ('TEXT', 'The candidate whose identical 2x2 table it repeats (the first by candidate_id); NULL otherwise'),
    'distinct_candidates_tested': ('BIGINT', 'Candidates of the grid neither degenerate nor duplicates: the number the correction is over'),
    'minimum_detectable_difference': ('DOUBLE', 'Smallest difference (fraction) these group sizes detect with 80% power at two-sided 5% corrected for the distinct candidates tested (Bonferroni); NULL when none can be'),
    'search_organizations': ('BIGINT', 'Organizations of the search part (the earlier trials, intermediate.cohort_split) in the honest population'),
    'search_threshold': ('DOUBLE', 'The threshold derived on the search part alone (held fixed on the holdout)'),
    'search_rate_difference': ('DOUBLE', 'Conversion difference (completed - not) on the search part'),
    'search_p_value': ('DOUBLE', 'Two-sided Fisher exact test on the search part'),
    'search_q_value': ('DOUBLE', 'Benjamini-Hochberg q-value on the search part, across its distinct candidates tested; NULL for a degenerate one'),
    'holdout_organizations': ('BIGINT', 'Organizations of the holdout (the later trials) in the honest population'),
    'holdout_completed': ('BIGINT', "Of which reached the search part's threshold"),
    'holdout_rate_difference': ('DOUBLE', "Conversion difference (completed - not) on the holdout, with the search part's threshold"),
    'holdout_rate_difference_low': ('DOUBLE', 'Lower bound of its 95% interval (Newcombe)'),
    'holdout_rate_difference_high': ('DOUBLE', 'Upper bound of its 95% interval'),
    'holdout_p_value': ('DOUBLE', 'Two-sided Fisher exact test on the holdout'),
    'is_recommended': ('BOOLEAN', 'Supported, significant after the correction on the search part (search_q_value < 0.05), and its holdout interval excludes 0 on the same side: worth adopting. False for all is a finding: nothing qualifies'),
    'seed_row': ('TEXT', 'The line of seeds/activation_goals.csv that would adopt the candidate as a goal'),
}


@model(
    "marts.candidate_goals",
    kind="FULL",
    cron="@weekly",  # with the search it reads (intermediate.candidate_goal_counts)
    grain=["candidate_id"],
    depends_on=[COUNTS, GOALS],
    columns={name: column_type for name, (column_type, _) in COLUMNS.items()},
    description=(
        "Candidate goals: every activity pattern x window x threshold rule of seeds/candidate_goal_grid.csv, one"
        " row per candidate, with the figures of marts.goal_conversion on the honest population (organizations"
        " not converted when the candidate's window ended) and the seed row that would adopt it. Hundreds of"
        " candidates are tested at once, so some will look strong by chance: rank by q_value (Benjamini-Hochberg"
        " across all candidates), require is_supported, and confirm a winner on new trials before adopting it."
        " An association, not an effect. Computed in Python (trial_activation/modeling/stats.py) over the counts the"
        " engine aggregates; runs the same on DuckDB, PostgreSQL and Spark."
    ),
    column_descriptions={name: description for name, (_, description) in COLUMNS.items()},
    audits=[
        ("not_null", {"columns": [exp.column(c) for c in ["candidate_id", *TABLE, "p_value", "is_degenerate", "is_recommended", "seed_row"]]}),
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
    counts = context.fetchdf(exp.select("population", *CANDIDATE, *TABLE).from_(counts_table))
    counts.columns = [c.lower() for c in counts.columns]
    counts[TABLE] = counts[TABLE].astype("int64")
    if counts.empty:  # no outcome known yet (a young feed): no candidate to judge; SQLMesh writes no empty DataFrame
        yield from ()
        return
    goal_orders = context.fetchdf(exp.select("goal_order").from_(goals_table)).iloc[:, 0]
    next_goal_order = int(goal_orders.max()) + 1

    result = with_figures(counts[counts.population == "all"])
    search = with_figures(counts[counts.population == "search"]).set_index("candidate_id")
    holdout = with_figures(counts[counts.population == "holdout"]).set_index("candidate_id")
    result["is_supported"] = (result.completed >= min_support) & (result.not_completed >= min_support)
    result["is_degenerate"] = ~result.is_tested
    result["distinct_candidates_tested"] = int(result.is_tested.sum())
    result["minimum_detectable_difference"] = [
        minimum_detectable_difference(
            row.completed, row.not_completed, (row.completed_converted + row.not_completed_converted) / max(row.organizations, 1),
            tests=max(int(result.is_tested.sum()), 1),
        )
        for row in result.itertuples(index=False)
    ]
    ids = result.candidate_id
    for name, part in (("search", search), ("holdout", holdout)):
        result[f"{name}_organizations"] = ids.map(part.organizations).fillna(0).astype("int64")
        result[f"{name}_rate_difference"] = ids.map(part.rate_difference)
        result[f"{name}_p_value"] = ids.map(part.p_value)
    result["search_threshold"] = ids.map(search.threshold)
    result["search_q_value"] = ids.map(search.q_value)
    result["holdout_completed"] = ids.map(holdout.completed).fillna(0).astype("int64")
    result["holdout_rate_difference_low"] = ids.map(holdout.rate_difference_low)
    result["holdout_rate_difference_high"] = ids.map(holdout.rate_difference_high)
    result["is_recommended"] = is_recommended(
        result.is_supported, result.search_q_value, result.search_rate_difference,
        result.holdout_rate_difference_low, result.holdout_rate_difference_high,
    )
    result["seed_row"] = [seed_row(row, next_goal_order) for row in result.itertuples(index=False)]
    yield result[list(COLUMNS)]
