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


# What SQLMesh's MacroEvaluator.columns_to_types returns for any model while the project loads: no
# schema is known yet (sqlmesh/core/macros.py). SQLMesh renders the query again once it has set each
# model's upstream schemas, before anything is planned, tested or run.
SCHEMA_UNAVAILABLE_AT_LOAD = "__schema_unavailable_at_load__"


def upstream_table(evaluator, model_name: str):
    """The unbound Ibis table of an upstream model, with the columns and types SQLMesh knows for it.

    The model must be among the Ibis model's `depends_on`: SQLMesh gives a model the schemas of its
    dependencies only. The types are the upstream model's own, in the project's dialect (DuckDB's),
    mapped to Ibis types by Ibis's DuckDB type mapper. None while the project loads (no schema yet).
    """
    import ibis
    from ibis.backends.sql.datatypes import DuckDBType

    columns = evaluator.columns_to_types(model_name)
    if SCHEMA_UNAVAILABLE_AT_LOAD in columns:
        return None
    table = exp.to_table(model_name)
    schema = {name: DuckDBType.to_ibis(dtype) for name, dtype in columns.items()}
    return ibis.table(schema, name=table.name, database=table.db)


def ibis_model_sql(evaluator, build, upstream) -> exp.Expression:
    """build(*tables), an Ibis expression over the upstream models' tables (`upstream`, names in the
    order build takes them), compiled for the engine (ibis_sql).

    While the project loads no upstream schema is known, so no expression can be built: the query is
    then a placeholder that names the upstream tables, which SQLMesh only reads for the dependencies
    (a model's query must render to a SELECT). SQLMesh renders the query again with the upstream
    schemas before it plans, tests or runs anything (the model declares them: `depends_on=upstream`).
    """
    tables = [upstream_table(evaluator, name) for name in upstream]
    if any(table is None for table in tables):
        placeholder = exp.select(exp.Null().as_(SCHEMA_UNAVAILABLE_AT_LOAD)).from_(upstream[0])
        for name in upstream[1:]:
            placeholder = placeholder.join(name, join_type="cross")
        return placeholder
    return ibis_sql(evaluator, build(*tables))
