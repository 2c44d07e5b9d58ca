"""intermediate.goal_thresholds: the threshold of each goal, derived from the data (one row per goal).

An Ibis expression over unbound tables named after the upstream models, compiled to SQL with Ibis's
own compiler (is_sql=True). SQLMesh sees the dependencies, points them at each environment's tables
and runs the query inside the engine; the model never opens a connection of its own.

The percentile (trial_activation/modeling/thresholds.py, shared with the candidate goals of
intermediate.candidate_goal_counts) is continuous with linear interpolation over the converted
organizations' metric values, inactive ones counting 0. Here every organization has a row of
intermediate.org_goal_metrics (the inactive ones with 0), so each goal's value count is the number
of its converted rows.
"""

import ibis
from sqlglot import exp
from sqlmesh import model
from sqlmesh.core.macros import MacroEvaluator

from trial_activation.modeling.engine import ibis_sql
from trial_activation.modeling.thresholds import continuous_percentile


COLUMNS = {
    "goal_id": "TEXT",
    "goal_kind": "TEXT",
    "threshold_percentile": "DOUBLE",
    "converted_org_count": "BIGINT",
    "percentile_value": "DOUBLE",
    "fixed_threshold": "DOUBLE",
    "threshold_floor": "DOUBLE",
    "threshold": "DOUBLE",
    "baseline_ratio": "DOUBLE",
}


@model(
    "intermediate.goal_thresholds",
    is_sql=True,
    kind="FULL",
    grain="goal_id",
    columns=COLUMNS,
    description="Threshold of each trial goal, derived from the data: one row per goal.",
    column_descriptions={
        "goal_id": "Goal key from seeds/activation_goals.csv",
        "goal_kind": "window_count, active_days or steadiness",
        "threshold_percentile": "Percentile (0-100) asked for by the goal; NULL for fixed and steadiness goals",
        "converted_org_count": "Converted organizations the percentile is taken over",
        "percentile_value": "Continuous percentile of converted organizations' metric values; NULL when not a percentile goal",
        "fixed_threshold": "Fixed threshold asked for by the goal, if any",
        "threshold_floor": "The threshold is never below this",
        "threshold": "GREATEST(floor, percentile or fixed value); NULL for steadiness (per organization, see marts.trial_goals)",
        "baseline_ratio": "steadiness: required share of the baseline window's events",
    },
    audits=[
        ("not_null", {"columns": [exp.column(c) for c in ("goal_id", "goal_kind", "threshold_floor")]}),
        ("unique_values", {"columns": [exp.column("goal_id")]}),
        "goals_have_threshold",
    ],
)
def entrypoint(evaluator: MacroEvaluator) -> exp.Expression:
    return ibis_sql(evaluator, goal_thresholds())


def goal_thresholds() -> ibis.Table:
    goals = ibis.table(
        {
            "goal_id": "string",
            "goal_kind": "string",
            "threshold_percentile": "float64",
            "fixed_threshold": "float64",
            "threshold_floor": "float64",
            "baseline_ratio": "float64",
        },
        name="activation_goals",
        database="staging",
    )
    metrics = ibis.table(
        {"organization_id": "string", "goal_id": "string", "converted": "boolean", "metric_value": "int64"},
        name="org_goal_metrics",
        database="intermediate",
    )

    converted = metrics.filter(metrics.converted)
    requests = goals.select("goal_id", "threshold_percentile").join(
        converted.group_by("goal_id").aggregate(value_count=converted.count()), "goal_id"
    )
    percentiles = continuous_percentile(
        requests, converted, ["goal_id"], "metric_value", "threshold_percentile", "value_count"
    )

    joined = goals.left_join(percentiles.select("goal_id", "value_count", "percentile_value"), "goal_id")
    percentile_value = ibis.cases(
        (joined.threshold_percentile.notnull(), joined.percentile_value.cast("float64")),
        else_=ibis.null("float64"),
    )
    base_value = joined.fixed_threshold.coalesce(percentile_value)
    # GREATEST of a NULL is NULL here on purpose: a percentile goal with no converted organization
    # has no threshold, and the goals_have_threshold audit stops the plan.
    # Every kind has a goal-level threshold but steadiness, whose threshold is each organization's own
    # (@organization_threshold).
    threshold = ibis.cases(
        (
            (joined.goal_kind != "steadiness") & base_value.notnull(),
            ibis.greatest(joined.threshold_floor, base_value),
        ),
        else_=ibis.null("float64"),
    )
    return joined.select(
        joined.goal_id,
        joined.goal_kind,
        joined.threshold_percentile,
        converted_org_count=joined.value_count.fill_null(0),
        percentile_value=percentile_value,
        fixed_threshold=joined.fixed_threshold,
        threshold_floor=joined.threshold_floor,
        threshold=threshold,
        baseline_ratio=joined.baseline_ratio,
    )
