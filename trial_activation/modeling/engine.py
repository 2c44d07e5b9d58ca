"""The SQL dialect of the engine a model is rendered for, for the few expressions that must differ.

Models are written in DuckDB's dialect and SQLMesh transpiles them to each gateway's engine. Where a
construct has no transpilable equivalent (PostgreSQL has no TRY_CAST; Ibis compiles per engine), a
macro asks for the engine's dialect here.

It lives in the project's package, not in macros/: `from macros.engine import ...` resolves to whichever
`macros` folder is first on sys.path (the checkout's, with the editable install), so a copy of the
project built from another process would serialize it differently and see its models as changed.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlmesh.utils.errors import SQLMeshError

# Ibis names its compilers after its backends; where that differs from sqlglot's dialect name:
IBIS_COMPILERS = {"spark": "pyspark"}
# The escape character of every LIKE of the project (the goals' SQL says ESCAPE '\' too): a pattern
# matches a literal % or _ as \% or \_ (and a backslash as \\) on every engine. PostgreSQL and Spark
# escape with a backslash by default, DuckDB has no escape character unless told, so each LIKE names it.
LIKE_ESCAPE = "\\"


def engine_dialect(evaluator) -> str:
    """The dialect of the engine that will run the query: 'duckdb', 'spark', 'postgres', ...

    When SQLMesh evaluates a model (and in unit tests) the evaluator carries the engine adapter of the
    gateway (or of the test connection). While the project loads there is none: the query is then
    rendered in the model's own dialect, which is only used to find dependencies, never executed.
    """
    try:
        return evaluator.engine_adapter.dialect
    except SQLMeshError:
        return evaluator.dialect


def ibis_sql(evaluator, expression) -> exp.Expression:
    """An Ibis expression as the SQL of the engine that will run it, for a Python model with is_sql=True.

    Compiled by Ibis for that engine and parsed back in its dialect, so that what SQLMesh writes out is
    Ibis's own SQL for the engine (SQLMesh's transpilation of another dialect's functions is not
    enough). While the project loads there is no engine: the model's dialect, DuckDB's, which only
    serves to find the dependencies. Every LIKE gets the project's escape character (Ibis's `like`
    takes none), so that the Ibis models match patterns as the SQL models do.
    """
    import ibis

    dialect = engine_dialect(evaluator)
    compiler = IBIS_COMPILERS.get(dialect, dialect)
    if compiler == "pyspark":
        ibis.pyspark  # loading the backend registers the options its compiler reads
    query = sqlglot.parse_one(ibis.to_sql(expression, dialect=compiler), dialect=dialect)
    return query.transform(_escaped_like)


def _escaped_like(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Like) and not isinstance(node.parent, exp.Escape):
        return exp.Escape(this=node.copy(), expression=exp.Literal.string(LIKE_ESCAPE))
    return node
