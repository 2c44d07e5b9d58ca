"""The continuous percentile of a column over a group, the same figure on every engine."""

from sqlglot import exp
from sqlmesh import macro

from trial_activation.modeling.engine import engine_dialect


@macro()
def percentile_cont(evaluator, value: exp.Expression, fraction: exp.Expression) -> exp.Expression:
    """The `fraction` (a constant, 0-1) percentile of `value`, interpolated linearly between the two
    nearest values: DuckDB's QUANTILE_CONT, PostgreSQL's PERCENTILE_CONT and Spark's PERCENTILE. Not
    left to transpilation, which writes QUANTILE_CONT for Spark as a PERCENTILE_CONT of two arguments
    (Spark refuses it) and the WITHIN GROUP form as PERCENTILE_APPROX (an approximation).

    >>> from types import SimpleNamespace
    >>> from sqlglot import exp
    >>> def on(dialect): return SimpleNamespace(engine_adapter=SimpleNamespace(dialect=dialect))
    >>> percentile_cont(on("duckdb"), exp.column("x"), exp.Literal.number(0.9)).sql("duckdb")
    'QUANTILE_CONT(x, 0.9)'
    >>> percentile_cont(on("postgres"), exp.column("x"), exp.Literal.number(0.9)).sql("postgres")
    'PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY x)'
    >>> percentile_cont(on("spark"), exp.column("x"), exp.Literal.number(0.9)).sql("spark")
    'PERCENTILE(x, 0.9)'
    """
    if engine_dialect(evaluator) == "spark":
        return exp.Quantile(this=value, quantile=fraction)
    return exp.PercentileCont(this=value, expression=fraction)
