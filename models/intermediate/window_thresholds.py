"""intermediate.window_thresholds: the percentile thresholds of goals and candidate goals alike, derived
from the data (one row per activity pattern, window, measure and percentile asked for).

An Ibis expression over unbound tables named after the upstream models, with their columns and types as
SQLMesh knows them (trial_activation/modeling/engine.py, upstream_table), compiled to SQL with Ibis's
own compiler (is_sql=True). SQLMesh sees the dependencies, points them at each environment's tables
and runs the query inside the engine; the model never opens a connection of its own.

A percentile is asked for by a goal of the seed (its window and metric) or by a candidate of the
search grid (each of its patterns and windows, per percentile rule), and taken over the metric from the
goal engine (intermediate.window_metrics) of the converted organizations whose window had closed by
as_of (a live trial's week 4 is not yet a week-4 figure), those without matching events counting 0
(trial_activation/modeling/thresholds.py). A candidate equal to a goal therefore has exactly that
goal's threshold. With no such organization yet, the percentile is NULL: the goal has no threshold yet.
Each is derived twice: over every such organization (population all: the goals' thresholds) and over the
search part of the held-out split only (population search: the thresholds checked on the holdout).
"""

import ibis
from sqlglot import exp
from sqlmesh import model
from sqlmesh.core.macros import MacroEvaluator

from trial_activation.modeling.engine import ibis_model_sql
from trial_activation.modeling.thresholds import continuous_percentile

# The upstream models, in the order window_thresholds() takes their tables: each with its columns and
# types as SQLMesh knows them from the model itself (engine.upstream_table), never a copied list.
UPSTREAM = (
    "staging.activation_goals",
    "staging.candidate_goal_grid",
    "intermediate.goal_windows",
    "intermediate.window_metrics",
    "intermediate.trial_organizations",
    "intermediate.cohort_split",
)
GROUP = ["activity_pattern", "window_start_day", "window_end_day", "measure"]
COLUMNS = {
    "activity_pattern": "TEXT",
    "window_start_day": "INT",
    "window_end_day": "INT",
    "measure": "TEXT",
    "threshold_percentile": "DOUBLE",
    "population": "TEXT",
    "converted_org_count": "BIGINT",
    "percentile_value": "DOUBLE",
}


@model(
    "intermediate.window_thresholds",
    is_sql=True,
    kind="FULL",
    depends_on=UPSTREAM,
    grain=[*GROUP, "threshold_percentile", "population"],
    columns=COLUMNS,
    description=(
        "Percentile thresholds of goals and candidate goals, derived from converted organizations' metrics: one row"
        " per activity pattern, window, measure and percentile asked for."
    ),
    column_descriptions={
        "activity_pattern": "SQL LIKE pattern on activity_name",
        "window_start_day": "First trial day (0-based) of the window",
        "window_end_day": "Last trial day (inclusive) of the window",
        "measure": "events (matching in-trial events) or active_days (trial days with one)",
        "threshold_percentile": "Percentile (0-100) asked for",
        "population": "all (every converted organization) or search (those outside the holdout: intermediate.cohort_split)",
        "converted_org_count": "Converted organizations the percentile is taken over",
        "percentile_value": "Continuous percentile of their metric (inactive ones counting 0); NULL with no converted organization",
    },
    audits=[("not_null", {"columns": [exp.column(c) for c in (*GROUP, "threshold_percentile", "population", "converted_org_count")]})],
)
def entrypoint(evaluator: MacroEvaluator) -> exp.Expression:
    return ibis_model_sql(evaluator, window_thresholds, UPSTREAM, COLUMNS)


def window_thresholds(
    goals: ibis.Table, grid: ibis.Table, windows: ibis.Table, metrics: ibis.Table, organizations: ibis.Table, split: ibis.Table
) -> ibis.Table:
    percentile_goals = goals.filter(goals.threshold_percentile.notnull() & (goals.goal_kind != "steadiness"))
    goal_requests = percentile_goals.select(
        "activity_pattern",
        "window_start_day",
        "window_end_day",
        measure=ibis.cases((percentile_goals.goal_kind == "active_days", "active_days"), else_="events"),
        threshold_percentile=percentile_goals.threshold_percentile,
    )
    candidate_windows = windows.filter(windows.is_candidate).select("activity_pattern", "window_start_day", "window_end_day")
    percentile_rules = grid.filter((grid.dimension == "threshold") & grid.threshold_percentile.notnull())
    candidate_requests = candidate_windows.cross_join(percentile_rules.select("threshold_percentile")).mutate(measure=ibis.literal("events"))
    requests = ibis.union(goal_requests, candidate_requests.select(goal_requests.columns), distinct=True)

    # Per requested window, the converted organizations whose window had closed by as_of: all of them,
    # whether or not their outcome is final (a converted organization's conversion window may still be
    # open; it is in no part of the split), and those of the search part.
    windows_asked = requests.select("window_start_day", "window_end_day").distinct()
    converted = organizations.filter(organizations.converted).cross_join(windows_asked)
    converted = converted.filter(
        converted.trial_start + ibis.interval(days=1) * (converted.window_end_day + 1) <= converted.as_of
    )
    search = converted.join(split.filter(~split.is_holdout), "organization_id").select(*converted.columns)
    # Each population's and measure's percentiles on their own, then stacked: one query over several
    # sets of values (a UNION of the same table twice) makes Spark's optimizer produce an invalid plan.
    parts = []
    for population, members in (("all", converted), ("search", search)):
        members = members.select("organization_id", "window_start_day", "window_end_day")
        counts = members.group_by(["window_start_day", "window_end_day"]).aggregate(converted_org_count=members.count())
        asked = requests.left_join(counts, ["window_start_day", "window_end_day"])
        asked = asked.select(
            *requests.columns, population=ibis.literal(population), converted_org_count=asked.converted_org_count.fill_null(0)
        )
        values = metrics.join(members, ["organization_id", "window_start_day", "window_end_day"])
        for measure in ("events", "active_days"):
            parts.append(
                continuous_percentile(
                    asked.filter(asked.measure == measure),
                    values.select(*GROUP[:3], measure=ibis.literal(measure), value=values[measure]),
                    GROUP,
                    "value",
                    "threshold_percentile",
                    "converted_org_count",
                )
            )
    return ibis.union(*parts)
