"""Lenient parsing of the raw event log's text values, shared by the staging models."""

from sqlglot import exp
from sqlmesh import macro

TRUE_SPELLINGS = ("true", "t", "1", "yes", "y")
FALSE_SPELLINGS = ("false", "f", "0", "no", "n")


@macro()
def parse_boolean(evaluator, value: exp.Expression) -> exp.Expression:
    """TRUE/FALSE from the spellings real exports use (True, TRUE, true, t, 1, ...); NULL otherwise."""
    text = f"LOWER(TRIM(CAST({value.sql('duckdb')} AS TEXT)))"
    return exp.maybe_parse(
        f"CASE WHEN {text} IN {TRUE_SPELLINGS} THEN TRUE WHEN {text} IN {FALSE_SPELLINGS} THEN FALSE END",
        dialect="duckdb",
    )


@macro()
def parse_timestamp(evaluator, value: exp.Expression) -> exp.Expression:
    """A timestamp from text like 'YYYY-MM-DD HH:MM:SS[.fff]' (or a typed column); NULL when it does not parse.

    TRY_CAST alone (no TRIM or CAST to text first) so a typed Parquet column stays typed and the
    incremental time filter is pushed down to the file scan.
    """
    return exp.TryCast(this=value, to=exp.DataType.build("TIMESTAMP"))
