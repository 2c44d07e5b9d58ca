"""Lenient parsing of the raw event log's text values, shared by the staging models."""

from sqlglot import exp
from sqlmesh import macro

from trial_activation.engine import engine_dialect

TRUE_SPELLINGS = ("true", "t", "1", "yes", "y")
FALSE_SPELLINGS = ("false", "f", "0", "no", "n")


@macro()
def parse_boolean(evaluator, value: exp.Expression) -> exp.Expression:
    """TRUE/FALSE from the spellings real exports use (True, TRUE, true, t, 1, ...); NULL otherwise.

    The engine's own cast first: from text, DuckDB and Spark accept exactly these spellings (in any
    case), so the spelling lists are only consulted for the rest (e.g. padded with blanks), and a
    BOOLEAN column (typed Parquet) needs no parsing at all: 0.1 s instead of 6.8 s per 100M values.
    raw.trial_events hands a numeric CONVERTED column over as text, so that 2 is not TRUE.
    PostgreSQL has no TRY_CAST: the lists only.
    """
    text = f"CAST({value.sql('duckdb')} AS TEXT)"
    spelled = f"LOWER(TRIM({text}))"
    if engine_dialect(evaluator) == "postgres":
        return exp.maybe_parse(
            f"CASE WHEN {spelled} IN {TRUE_SPELLINGS} THEN TRUE WHEN {spelled} IN {FALSE_SPELLINGS} THEN FALSE END",
            dialect="duckdb",
        )
    cast = f"TRY_CAST({value.sql('duckdb')} AS BOOLEAN)"
    # A simple CASE rather than IN lists: DuckDB turns an IN list into a join that every query over
    # staging.trial_events_typed then pays for, even one that does not read CONVERTED (1.4 s per 10M
    # rows). Only the rows the cast could not read get this far.
    spellings = " ".join(
        f"WHEN '{spelling}' THEN {value}"
        for value, spellings_of_value in (("TRUE", TRUE_SPELLINGS), ("FALSE", FALSE_SPELLINGS))
        for spelling in spellings_of_value
    )
    return exp.maybe_parse(
        f"CASE WHEN NOT {cast} IS NULL THEN {cast} ELSE CASE {spelled} {spellings} END END", dialect="duckdb"
    )


@macro()
def parse_timestamp(evaluator, value: exp.Expression) -> exp.Expression:
    """A timestamp from text like 'YYYY-MM-DD HH:MM:SS[.fff]' (or a typed column); NULL when it does not parse.

    TRY_CAST alone (no TRIM or CAST to text first) so a typed Parquet column stays typed and the
    incremental time filter is pushed down to the file scan.
    """
    if engine_dialect(evaluator) == "postgres":
        return _postgres_try_cast_timestamp(value)
    return exp.TryCast(this=value, to=exp.DataType.build("TIMESTAMP"))


# PostgreSQL has no TRY_CAST (sqlglot writes a CAST, and one bad row would fail the whole query):
# cast only text shaped like a timestamp whose day exists in its month. CASE evaluates in order, so
# the CASTs never see other text.
_TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?)?$"
)


def _postgres_try_cast_timestamp(value: exp.Expression) -> exp.Expression:
    text = f"TRIM(CAST({value.sql('postgres')} AS TEXT))"
    last_day_of_month = f"EXTRACT(DAY FROM CAST(SUBSTRING({text}, 1, 7) || '-01' AS DATE) + INTERVAL '1 month' - INTERVAL '1 day')"
    return exp.maybe_parse(
        f"CASE WHEN NOT {text} ~ '{_TIMESTAMP_PATTERN}' THEN NULL"
        f" WHEN CAST(SUBSTRING({text}, 9, 2) AS INT) <= {last_day_of_month} THEN CAST({text} AS TIMESTAMP) END",
        dialect="postgres",
    )
