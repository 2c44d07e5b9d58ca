"""The SQL dialect of the engine a model is rendered for, for the few expressions that must differ.

Models are written in DuckDB's dialect and SQLMesh transpiles them to each gateway's engine. Where a
construct has no transpilable equivalent (PostgreSQL has no TRY_CAST; Ibis compiles per engine), a
macro asks for the engine's dialect here.

It lives in the project's package, not in macros/: `from macros.engine import ...` resolves to whichever
`macros` folder is first on sys.path (the checkout's, with the editable install), so a copy of the
project built from another process would serialize it differently and see its models as changed.
"""

from __future__ import annotations

import hashlib

import sqlglot
from sqlglot import exp
from sqlmesh.utils.errors import ConfigError, SQLMeshError

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
    enough). Without an engine (while the project loads, or in a render outside a run) the model's
    dialect, DuckDB's. Every LIKE gets the project's escape character (Ibis's `like`
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


def upstream_table(evaluator, model_name: str):
    """The unbound Ibis table of an upstream model, with its columns and types as SQLMesh knows them.

    The model must be among the Ibis model's `depends_on` (SQLMesh gives a model its dependencies'
    schemas only). Types are the upstream model's own, in the project's dialect (DuckDB's), mapped by
    Ibis's DuckDB type mapper. The table is looked up by schema and name in whatever catalog SQLMesh
    keyed it under, not by a catalog name written out and parsed back (SQLMesh alters a catalog such as
    `ware"house\\` on the way; trial-activation refuses such warehouse names, the sqlmesh CLI does not).

    None while the project loads (SQLMesh knows no schema yet, or not every column's type: it renders
    the query again with the schemas before anything is planned, tested or run). At any later stage an
    unknown type is a ConfigError naming the upstream column: Ibis cannot compare an unknown
    type, and a guessed one could change the query.
    """
    import ibis
    from ibis.backends.sql.datatypes import DuckDBType

    wanted = exp.to_table(model_name)
    schema = evaluator._schema  # SQLMesh's MappingSchema of the model's dependencies
    columns = None
    for databases in (schema.mapping if schema is not None else {}).values():
        tables = databases.get(wanted.db) or {}
        if wanted.name in tables:
            columns = tables[wanted.name]
    loading = evaluator.runtime_stage == "loading"
    unknown = [name for name, dtype in (columns or {}).items() if exp.DataType.build(dtype).this == exp.DataType.Type.UNKNOWN]
    if loading and (columns is None or unknown):
        return None
    if columns is None or unknown:
        what = f"columns {', '.join(unknown)}" if columns else "its columns"
        raise ConfigError(
            f"{evaluator.locals.get('this_model', 'an Ibis model')}: SQLMesh cannot tell the types of {model_name}'s {what};"
            f" cast them in {model_name}'s SELECT (and list {model_name} in the Ibis model's depends_on)"
        )
    return ibis.table(
        {name: DuckDBType.from_string(str(dtype)) for name, dtype in columns.items()}, name=wanted.name, database=wanted.db
    )


def ibis_model_sql(evaluator, build, upstream: tuple[str, ...], columns: dict) -> exp.Expression:
    """build(*tables), an Ibis expression over the upstream models' tables (upstream_table, in the order
    `upstream` names them), compiled for the engine (ibis_sql).

    While the project loads no expression can be built without the upstream schemas: the query is then a
    placeholder naming the upstream tables, which SQLMesh only reads for the dependencies (a model's
    query must render to a SELECT; the Ibis model also declares them, depends_on=upstream), with the
    model's declared `columns` as typed NULLs, so that what walks the rendered query (the UI's column
    lineage) finds every column the model has. SQLMesh also compares two versions' rendered queries to
    tell a breaking change from a non-breaking one, at times without the schemas: the placeholder carries a digest of the model's serialized code, so two
    versions of the code never render the same placeholder (identical queries would be taken for a
    non-breaking change, and the downstream models would keep their tables).
    """
    tables = [upstream_table(evaluator, name) for name in upstream]
    if any(table is None for table in tables):
        code = sorted((name, str(executable.payload)) for name, executable in evaluator.python_env.items())
        digest = hashlib.sha256(repr(code).encode()).hexdigest()[:16]
        declared = [exp.cast(exp.null(), dtype).as_(name) for name, dtype in columns.items()]
        placeholder = exp.select(*declared, exp.Literal.string(digest).as_("code_digest")).from_(upstream[0])
        for name in upstream[1:]:
            placeholder = placeholder.join(name, join_type="cross")
        return placeholder
    return ibis_sql(evaluator, build(*tables))
