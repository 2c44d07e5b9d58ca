"""The threshold an organization must reach for a goal, and what that means in whole events: the two
macros every goal kind shares, used by the models that evaluate goals."""

from sqlglot import exp
from sqlmesh import macro


@macro()
def organization_threshold(
    evaluator, thresholds: exp.Expression, metrics: exp.Expression, threshold: exp.Expression = exp.column("threshold")
) -> exp.Expression:
    """The goal's threshold (intermediate.goal_thresholds, aliased `thresholds`; its column `threshold`,
    or another such as search_threshold), or for a steadiness goal the organization's own:
    baseline_ratio x its baseline_value (intermediate.org_goal_metrics, aliased `metrics`), never below
    threshold_floor.

    >>> from sqlglot import exp
    >>> organization_threshold(None, exp.column("t"), exp.column("m")).sql("duckdb")
    "CASE WHEN t.goal_kind = 'steadiness' THEN GREATEST(t.threshold_floor, t.baseline_ratio * m.baseline_value) ELSE t.threshold END"
    >>> organization_threshold(None, exp.column("t"), exp.column("m"), exp.column("search_threshold")).sql("duckdb")
    "CASE WHEN t.goal_kind = 'steadiness' THEN GREATEST(t.threshold_floor, t.baseline_ratio * m.baseline_value) ELSE t.search_threshold END"
    """
    t, m = thresholds.name, metrics.name
    own_threshold = exp.Greatest(
        this=exp.column("threshold_floor", table=t),
        expressions=[exp.Mul(this=exp.column("baseline_ratio", table=t), expression=exp.column("baseline_value", table=m))],
        ignore_nulls=True,  # GREATEST as DuckDB, Spark and PostgreSQL define it: NULLs are skipped
    )
    is_steadiness = exp.column("goal_kind", table=t).eq(exp.Literal.string("steadiness"))
    return exp.case().when(is_steadiness, own_threshold).else_(exp.column(threshold.name, table=t))


@macro()
def events_needed(evaluator, threshold: exp.Expression) -> exp.Expression:
    """What a goal needs to be met, in whole units of its metric (events, or active days): CEIL(threshold).
    completed_at is the time of the event that brings the metric to this number.

    >>> from sqlglot import exp
    >>> events_needed(None, exp.column("threshold")).sql("duckdb")
    'CAST(CEIL(threshold) AS BIGINT)'
    """
    return exp.cast(exp.Ceil(this=threshold), exp.DataType.Type.BIGINT)
