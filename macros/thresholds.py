"""The threshold an organization must reach for a goal, shared by the models that evaluate goals."""

from sqlglot import exp
from sqlmesh import macro


@macro()
def organization_threshold(evaluator, thresholds: exp.Expression, metrics: exp.Expression) -> exp.Expression:
    """The goal's threshold (intermediate.goal_thresholds, aliased `thresholds`), or for a steadiness
    goal the organization's own: baseline_ratio x its baseline_value (intermediate.org_goal_metrics,
    aliased `metrics`), never below threshold_floor."""
    t, m = thresholds.sql(dialect=evaluator.dialect), metrics.sql(dialect=evaluator.dialect)
    return exp.maybe_parse(
        f"CASE WHEN {t}.goal_kind = 'steadiness'"
        f" THEN GREATEST({t}.threshold_floor, {t}.baseline_ratio * {m}.baseline_value)"
        f" ELSE {t}.threshold END",
        dialect=evaluator.dialect,
    )
