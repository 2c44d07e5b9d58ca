"""intermediate.candidate_goal_counts: every candidate goal of the search grid, its threshold and its
2x2 table on the honest population (one row per candidate goal).

A candidate is one activity pattern x one window x one threshold rule of seeds/candidate_goal_grid.csv,
a window_count goal an analyst could adopt as one seed row: its metric is the organization's in-trial
events of trial days [window_start_day, window_end_day] whose activity matches the pattern (SQL
LIKE), exactly as for the goals. Its threshold is the fixed count, or the percentile of the converted
organizations' metrics (inactive ones counting 0) computed by trial_activation/modeling/thresholds.py, the
same code as the goals' thresholds (intermediate.goal_thresholds): a candidate equal to a goal has
that goal's threshold.

The population is the honest one of marts.goal_conversion: organizations not converted when the
window ended (converted_at >= trial_start + window_end_day + 1 days, or never converted).

An Ibis expression compiled for the engine that runs it (like intermediate.goal_thresholds). Only
organizations with matching events are rows; the inactive ones enter as counts: in a percentile, as
the zeros that make up the number of converted organizations, and in the 2x2 table, as the population
minus those that completed. Each pattern and window's values are sorted once, for all its percentile
rules.
"""

import ibis
from sqlglot import exp
from sqlmesh import model
from sqlmesh.core.macros import MacroEvaluator

from trial_activation.modeling.engine import LIKE_ESCAPE, ibis_sql
from trial_activation.modeling.thresholds import continuous_percentile

# Patterns of the grid that are expanded from the activities in the data rather than used as written.
EACH_ACTIVITY, EACH_FAMILY = "each_activity", "each_family"
SEPARATOR = "|"  # of the parts of candidate_id

COLUMNS = {
    "candidate_id": "TEXT",
    "activity_pattern": "TEXT",
    "window_start_day": "INT",
    "window_end_day": "INT",
    "threshold_rule": "TEXT",
    "threshold_percentile": "DOUBLE",
    "fixed_threshold": "DOUBLE",
    "converted_org_count": "BIGINT",
    "threshold": "DOUBLE",
    "organizations": "BIGINT",
    "completed": "BIGINT",
    "completed_converted": "BIGINT",
    "not_completed": "BIGINT",
    "not_completed_converted": "BIGINT",
}


@model(
    "intermediate.candidate_goal_counts",
    is_sql=True,
    kind="FULL",
    # A search for better goals is read weekly, not daily, and it is the costliest model of a daily
    # run: it is refreshed once a week, on the run that loads a week's last day (SQLMesh's @weekly
    # intervals end on Sunday 00:00 UTC).
    cron="@weekly",
    grain="candidate_id",
    columns=COLUMNS,
    description=(
        "Every candidate goal of seeds/candidate_goal_grid.csv (activity pattern x window x threshold rule), its"
        " threshold (the goals' percentile code) and its 2x2 table on the organizations not converted when its"
        " window ended: one row per candidate goal."
    ),
    column_descriptions={
        "candidate_id": "activity_pattern|window|threshold_rule, e.g. Scheduling.%|0-6|p75",
        "activity_pattern": "SQL LIKE pattern on activity_name (a backslash escapes %, _ and itself)",
        "window_start_day": "First trial day (0-based) of the counted window",
        "window_end_day": "Last trial day (inclusive) of the counted window",
        "threshold_rule": "The grid's threshold label, e.g. at_least_1 or p75",
        "threshold_percentile": "Percentile (0-100) of converted organizations' counts; NULL for a fixed threshold",
        "fixed_threshold": "Fixed threshold; NULL for a percentile",
        "converted_org_count": "Converted organizations the percentile is taken over",
        "threshold": "Events needed: the fixed threshold or the percentile",
        "organizations": "Organizations not converted when the window ended",
        "completed": "Of which reached the threshold",
        "completed_converted": "Of which reached it and converted",
        "not_completed": "Of which did not reach it",
        "not_completed_converted": "Of which did not reach it but converted",
    },
    audits=[
        ("not_null", {"columns": [exp.column(c) for c in ("candidate_id", "organizations", "completed", "not_completed")]}),
        ("unique_values", {"columns": [exp.column("candidate_id")]}),
        "two_by_two_adds_up",
    ],
)
def entrypoint(evaluator: MacroEvaluator) -> exp.Expression:
    return ibis_sql(evaluator, candidate_goal_counts())


def candidate_goal_counts() -> ibis.Table:
    grid = ibis.table(
        {
            "dimension": "string",
            "value": "string",
            "window_start_day": "int32",
            "window_end_day": "int32",
            "threshold_percentile": "float64",
            "fixed_threshold": "float64",
        },
        name="candidate_goal_grid",
        database="staging",
    )
    activity = ibis.table(
        {"organization_id": "string", "activity_name": "string", "trial_day": "int32", "event_count": "int64"},
        name="org_daily_activity",
        database="intermediate",
    )
    # The organizations of the marts (marts.trial_activation has one row per organization of this
    # model), read here rather than from the mart: a goal edited in the seed then leaves the search as
    # it is, instead of repeating it in every dev environment that tries a threshold.
    organizations = ibis.table(
        {"organization_id": "string", "trial_start": "timestamp", "converted": "boolean", "converted_at": "timestamp"},
        name="trial_organizations",
        database="intermediate",
    )

    # The activity patterns: the grid's own, plus each activity and each family when the grid asks.
    pattern_rows = grid.filter(grid.dimension == "activity_pattern")
    # An activity's name is matched as itself: its %, _ and escape characters are escaped (an activity
    # named _obile.X must not match Mobile.X), in the pattern and so in the seed row that adopts it.
    names = activity.select("activity_name").distinct()
    dot = names.activity_name.find(".")
    expanded = names.select(
        names.activity_name,
        exact=like_literal(names.activity_name),
        family=ibis.cases((dot > 0, like_literal(names.activity_name.left(dot + 1)) + "%"), else_=ibis.null("string")),
    )
    patterns = ibis.union(
        pattern_rows.filter(~pattern_rows.value.isin([EACH_ACTIVITY, EACH_FAMILY])).select(activity_pattern=pattern_rows.value),
        expanded.cross_join(pattern_rows.filter(pattern_rows.value == EACH_ACTIVITY).select("value")).select(
            activity_pattern=expanded.exact
        ),
        expanded.filter(expanded.family.notnull())
        .cross_join(pattern_rows.filter(pattern_rows.value == EACH_FAMILY).select("value"))
        .select(activity_pattern=expanded.family),
        distinct=True,
    )
    windows = grid.filter(grid.dimension == "window").select(
        window_label=grid.value, window_start_day=grid.window_start_day, window_end_day=grid.window_end_day
    )
    rules = grid.filter(grid.dimension == "threshold").select(
        threshold_rule=grid.value, threshold_percentile=grid.threshold_percentile, fixed_threshold=grid.fixed_threshold
    )
    pattern_windows = patterns.cross_join(windows)
    candidates = pattern_windows.cross_join(rules)
    candidates = candidates.mutate(
        candidate_id=candidates.activity_pattern + SEPARATOR + candidates.window_label + SEPARATOR + candidates.threshold_rule
    )

    # Each organization's metric for each pattern and window it has matching events in. The patterns
    # are matched against the few distinct activity names, then joined to the activity on the name
    # (an equi-join instead of a LIKE against every row).
    pattern_names = names.cross_join(patterns)
    pattern_names = pattern_names.filter(pattern_names.activity_name.like(pattern_names.activity_pattern))
    named = activity.join(pattern_names, "activity_name")
    matched = named.join(windows, named.trial_day.between(windows.window_start_day, windows.window_end_day))
    metrics = matched.group_by(["organization_id", "activity_pattern", "window_label"]).aggregate(
        metric_value=matched.event_count.sum().cast("int64")
    )

    # Each organization and window: converted or not, and in the window's honest population or not.
    org_windows = organizations.cross_join(windows)
    org_windows = org_windows.mutate(
        is_honest=~org_windows.converted
        | (org_windows.converted_at >= org_windows.trial_start + ibis.interval(days=1) * (org_windows.window_end_day + 1))
    )
    honest = org_windows.filter(org_windows.is_honest)
    population = honest.group_by("window_label").aggregate(
        organizations=honest.count(), converted_total=honest.count(where=honest.converted)
    )
    # The metrics with both flags: one table that the percentiles and the 2x2 tables each filter
    # (one CTE of the compiled SQL, so the metrics are computed once).
    flagged_metrics = metrics.join(
        org_windows.select("organization_id", "window_label", "converted", "is_honest"), ["organization_id", "window_label"]
    )

    # Percentile thresholds: of each pattern and window, over every converted organization; those
    # without matching events are the zeros that make up the count of converted organizations.
    converted = organizations.filter(organizations.converted)
    requests = candidates.filter(candidates.threshold_percentile.notnull()).cross_join(
        converted.aggregate(value_count=converted.count())
    )
    percentiles = continuous_percentile(
        requests.select("candidate_id", "activity_pattern", "window_label", "threshold_percentile", "value_count"),
        flagged_metrics.filter(flagged_metrics.converted),
        ["activity_pattern", "window_label"],
        "metric_value",
        "threshold_percentile",
        "value_count",
    )
    candidates = candidates.left_join(percentiles.select("candidate_id", "value_count", "percentile_value"), "candidate_id")
    candidates = candidates.select(
        *[c for c in candidates.columns if c not in ("candidate_id_right", "value_count", "percentile_value")],
        converted_org_count=candidates.value_count.fill_null(0),
        threshold=candidates.fixed_threshold.coalesce(candidates.percentile_value.cast("float64")),
    )

    # Those of the honest population that reached each candidate's threshold: each candidate meets the
    # metrics of its pattern and window (a left join, so that a candidate nobody has events for keeps
    # its row).
    honest_metrics = flagged_metrics.filter(flagged_metrics.is_honest)
    outcomes = candidates.left_join(honest_metrics, ["activity_pattern", "window_label"])
    is_reached = outcomes.metric_value >= outcomes.threshold
    counts = outcomes.group_by(candidates.columns).aggregate(
        reached=outcomes.count(where=is_reached), reached_converted=outcomes.count(where=is_reached & outcomes.converted)
    )
    counts = counts.join(population, "window_label")
    # A threshold of 0 is reached without any event: by every organization of the population. A
    # candidate nobody has events for counts NULL on Spark (Ibis compiles a filtered count to a SUM).
    everyone = counts.threshold <= 0
    completed = ibis.cases((everyone, counts.organizations), else_=counts.reached.fill_null(0))
    completed_converted = ibis.cases((everyone, counts.converted_total), else_=counts.reached_converted.fill_null(0))
    return counts.select(
        counts.candidate_id,
        counts.activity_pattern,
        counts.window_start_day,
        counts.window_end_day,
        counts.threshold_rule,
        counts.threshold_percentile,
        counts.fixed_threshold,
        counts.converted_org_count,
        counts.threshold,
        organizations=counts.organizations,
        completed=completed,
        completed_converted=completed_converted,
        not_completed=counts.organizations - completed,
        not_completed_converted=counts.converted_total - completed_converted,
    )


def like_literal(text):
    """A LIKE pattern that matches `text` (an Ibis string) and nothing else: the escape character, %
    and _ each escaped (the escape character first, so that the others' escapes stay single)."""
    for special in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(special, LIKE_ESCAPE + special)
    return text
