"""Lenient parsing of the raw event log's text values, shared by the staging models."""

from sqlglot import exp
from sqlmesh import macro

from trial_activation.engine import engine_dialect

TRUE_SPELLINGS = ("true", "t", "1", "yes", "y")
FALSE_SPELLINGS = ("false", "f", "0", "no", "n")
# How exports spell a missing value in a text column, besides leaving it empty (any case).
NULL_SPELLING = "null"


@macro()
def parse_text(evaluator, value: exp.Expression) -> exp.Expression:
    """The value trimmed; NULL when it is empty, blank or spelled NULL (any case).

    Exports write a missing id as the text NULL as often as they leave it empty: that is not an
    organization called "NULL".
    """
    text = f"TRIM(CAST({value.sql('duckdb')} AS TEXT))"
    return exp.maybe_parse(
        f"CASE WHEN {text} = '' OR LOWER({text}) = '{NULL_SPELLING}' THEN NULL ELSE {text} END", dialect="duckdb"
    )


@macro()
def future_events_from(evaluator) -> exp.Expression:
    """The first instant that is in the future for an event time: the end of today (UTC, the
    connection's time zone) plus future_event_margin_days.

    Today's events (a live export) are not due yet: the daily load takes a day once it has ended; the
    margin allows for an exporting clock a little ahead. A later time is a corrupt timestamp, not an
    event that will arrive: it is quarantined (event_in_future) instead of waiting forever.
    """
    margin = evaluator.var("future_event_margin_days")
    return exp.maybe_parse(
        f"CAST(CURRENT_DATE AS TIMESTAMP) + (1 + {int(margin)}) * INTERVAL '1' DAY", dialect="duckdb"
    )


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
    """A UTC timestamp from text like 'YYYY-MM-DD HH:MM:SS[.fff]' (or a typed column); NULL when it
    does not parse or is not a finite time ('infinity' parses in DuckDB and PostgreSQL).

    Text with a UTC offset ('+02:00', 'Z') denotes an instant: it is converted to UTC, not cut to
    its wall-clock part (DuckDB's cast to TIMESTAMP drops the offset, its cast to TIMESTAMPTZ
    keeps it; the connection's time zone is pinned to UTC in config.yaml). Only text that has an
    offset takes that slower cast.

    A typed (Parquet) column gets TRY_CAST alone: DuckDB folds TYPEOF when it binds the query, so
    the CASE disappears and the incremental time filter is still pushed down to the file scan. A
    time-zone-aware Parquet column is converted to UTC by that cast.
    Spark casts text with an offset to the instant it denotes and has no infinite timestamps.
    PostgreSQL: only text without an offset parses (see below); the rest is quarantined.
    """
    dialect = engine_dialect(evaluator)
    if dialect == "postgres":
        return _postgres_try_cast_timestamp(value)
    if dialect != "duckdb":
        return exp.TryCast(this=value, to=exp.DataType.build("TIMESTAMP"))
    column = value.sql("duckdb")
    text = f"CAST({column} AS TEXT)"
    has_offset = (
        f"CONTAINS(SUBSTRING({text}, 11), '+') OR CONTAINS(SUBSTRING({text}, 11), '-')"
        f" OR CONTAINS(UPPER({text}), 'Z')"
    )
    parsed = (
        f"CASE WHEN {has_offset} THEN TRY_CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP)"
        f" ELSE TRY_CAST({text} AS TIMESTAMP) END"
    )
    return exp.maybe_parse(
        f"CASE WHEN TYPEOF({column}) <> 'VARCHAR' THEN TRY_CAST({column} AS TIMESTAMP)"
        f" WHEN ISFINITE({parsed}) THEN {parsed} END",
        dialect="duckdb",
    )


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
