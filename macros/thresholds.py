"""The threshold an organization must reach for a goal, shared by the models that evaluate goals."""

from sqlglot import exp
from sqlmesh import macro


@macro()
def organization_threshold(evaluator, thresholds: exp.Expression, metrics: exp.Expression) -> exp.Expression:
    """The goal's threshold (intermediate.goal_thresholds, aliased `thresholds`), or for a steadiness
    goal the organization's own: baseline_ratio x its baseline_value (intermediate.org_goal_metrics,
    aliased `metrics`), never below threshold_floor.

    >>> from sqlglot import exp
    >>> organization_threshold(None, exp.column("t"), exp.column("m")).sql("duckdb")
    "CASE WHEN t.goal_kind = 'steadiness' THEN GREATEST(t.threshold_floor, t.baseline_ratio * m.baseline_value) ELSE t.threshold END"
    """
    t, m = thresholds.name, metrics.name
    own_threshold = exp.Greatest(
        this=exp.column("threshold_floor", table=t),
        expressions=[exp.Mul(this=exp.column("baseline_ratio", table=t), expression=exp.column("baseline_value", table=m))],
        ignore_nulls=True,  # GREATEST as DuckDB, Spark and PostgreSQL define it: NULLs are skipped
    )
    is_steadiness = exp.column("goal_kind", table=t).eq(exp.Literal.string("steadiness"))
    return exp.case().when(is_steadiness, own_threshold).else_(exp.column("threshold", table=t))
