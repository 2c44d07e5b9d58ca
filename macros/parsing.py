"""Lenient parsing of the raw event log's text values, shared by the staging models."""

import sqlglot
from sqlglot import exp
from sqlmesh import macro

from trial_activation.modeling.engine import engine_dialect

TRUE_SPELLINGS = ("true", "t", "1", "yes", "y")
FALSE_SPELLINGS = ("false", "f", "0", "no", "n")
# How exports spell a missing value in a text column, besides leaving it empty (any case).
NULL_SPELLING = "null"


# The models are written in DuckDB's dialect, so are the types these expressions cast to (DuckDB's
# TIMESTAMP has no time zone: Spark's TIMESTAMP_NTZ, PostgreSQL's TIMESTAMP).
def _cast(value: exp.Expression, to: str) -> exp.Expression:
    return exp.cast(value.copy(), exp.DataType.build(to, dialect="duckdb"))


def _text(value: exp.Expression) -> exp.Expression:
    return _cast(value, "TEXT")


def _try_cast(value: exp.Expression, to: str) -> exp.Expression:
    return exp.TryCast(this=value.copy(), to=exp.DataType.build(to, dialect="duckdb"), safe=True)


@macro()
def parse_text(evaluator, value: exp.Expression) -> exp.Expression:
    """The value trimmed; NULL when it is empty, blank or spelled NULL (any case).

    Exports write a missing id as the text NULL as often as they leave it empty: that is not an
    organization called "NULL".
    """
    raw = _text(value)
    text = exp.func("TRIM", raw.copy())
    missing = exp.or_(text.eq(""), exp.func("LOWER", text.copy()).eq(NULL_SPELLING))
    # Nearly every value is already clean: longer than "null" and without a blank at either end, so
    # TRIM would leave it as it is and it cannot be missing. Those are passed through by a cheap test
    # first, which spares the TRIM and LOWER of every row (TRIM removes spaces only, in DuckDB, Spark
    # and PostgreSQL alike, which is what the two LIKEs look for).
    clean = exp.and_(
        exp.GT(this=exp.func("LENGTH", raw.copy()), expression=exp.Literal.number(len(NULL_SPELLING))),
        exp.not_(raw.copy().like(exp.Literal.string(" %"))),
        exp.not_(raw.copy().like(exp.Literal.string("% "))),
    )
    return exp.Case().when(clean, raw.copy()).when(missing, exp.null()).else_(text.copy())


@macro()
def future_events_from(evaluator) -> exp.Expression:
    """The first instant that is in the future for an event time: the end of today (UTC, the
    connection's time zone) plus future_event_margin_days.

    Today's events (a live export) are not due yet: the daily load takes a day once it has ended; the
    margin allows for an exporting clock a little ahead. A later time is a corrupt timestamp, not an
    event that will arrive: it is quarantined (event_in_future) instead of waiting forever.
    """
    days = 1 + int(evaluator.var("future_event_margin_days"))
    one_day = exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY"))
    return exp.Add(this=_cast(exp.CurrentDate(), "TIMESTAMP"), expression=exp.Mul(this=exp.Literal.number(days), expression=one_day))


@macro()
def parse_boolean(evaluator, value: exp.Expression) -> exp.Expression:
    """TRUE/FALSE from the spellings real exports use (True, TRUE, true, t, 1, ...); NULL otherwise.

    The engine's own cast first: from text, DuckDB and Spark accept exactly these spellings (in any
    case), so the spelling lists are only consulted for the rest (e.g. padded with blanks), and a
    BOOLEAN column (typed Parquet) needs no parsing at all. raw.trial_events hands a numeric
    CONVERTED column over as text, so that 2 is not TRUE. PostgreSQL has no TRY_CAST: the lists only.
    """
    spelled = exp.func("LOWER", exp.func("TRIM", _text(value)))
    if engine_dialect(evaluator) == "postgres":
        def spelled_in(spellings):
            return spelled.copy().isin(*spellings)

        return exp.Case().when(spelled_in(TRUE_SPELLINGS), exp.true()).when(spelled_in(FALSE_SPELLINGS), exp.false())
    cast = _try_cast(value, "BOOLEAN")
    # A simple CASE rather than IN lists: DuckDB turns an IN list into a join that every query over
    # staging.trial_events_typed then pays for, even one that does not read CONVERTED. Only the rows
    # the cast could not read get this far.
    by_spelling = exp.Case(this=spelled)
    for boolean, spellings in ((exp.true(), TRUE_SPELLINGS), (exp.false(), FALSE_SPELLINGS)):
        for spelling in spellings:
            by_spelling = by_spelling.when(exp.Literal.string(spelling), boolean.copy())
    return exp.Case().when(exp.not_(cast.is_(exp.null())), cast.copy()).else_(by_spelling)


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
        return exp.TryCast(this=value.copy(), to=exp.DataType.build("TIMESTAMP"))
    text = _text(value)
    after_date = exp.Substring(this=text, start=exp.Literal.number(11))
    has_offset = exp.or_(
        exp.func("CONTAINS", after_date, exp.Literal.string("+")),
        exp.func("CONTAINS", after_date.copy(), exp.Literal.string("-")),
        exp.func("CONTAINS", exp.Upper(this=text.copy()), exp.Literal.string("Z")),
    )
    parsed = (
        exp.Case()
        .when(has_offset, _try_cast(_try_cast(text, "TIMESTAMPTZ"), "TIMESTAMP"))
        .else_(_try_cast(text, "TIMESTAMP"))
    )
    is_typed = exp.NEQ(this=exp.func("TYPEOF", value.copy()), expression=exp.Literal.string("VARCHAR"))
    return (
        exp.Case()
        .when(is_typed, _try_cast(value, "TIMESTAMP"))
        .when(exp.func("ISFINITE", parsed), parsed.copy())
    )


# PostgreSQL has no TRY_CAST (sqlglot writes a CAST, and one bad row would fail the whole query):
# cast only text shaped like a timestamp whose day exists in its month. CASE evaluates in order, so
# the CASTs never see other text.
_TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?)?$"
)


def _postgres_try_cast_timestamp(value: exp.Expression) -> exp.Expression:
    text = exp.func("TRIM", _text(value))

    def part(start: int, length: int) -> exp.Expression:
        return exp.Substring(this=text.copy(), start=exp.Literal.number(start), length=exp.Literal.number(length))

    def interval(unit: str) -> exp.Expression:
        return exp.Interval(this=exp.Literal.string("1"), unit=exp.var(unit))

    month_start = exp.cast(exp.DPipe(this=part(1, 7), expression=exp.Literal.string("-01")), "DATE")
    last_day_of_month = exp.Extract(this=exp.var("DAY"), expression=month_start + interval("MONTH") - interval("DAY"))
    return (
        exp.Case()
        .when(exp.not_(exp.RegexpLike(this=text.copy(), expression=exp.Literal.string(_TIMESTAMP_PATTERN))), exp.null())
        .when(exp.cast(part(9, 2), "INT") <= last_day_of_month, _cast(text, "TIMESTAMP"))
    )


# Why a row's trial attributes cannot be used, in order of precedence; NULL when they can. The same
# attributes arrive on every event row and on each row of the trials input: both staging models ask here.
TRIAL_ATTRIBUTES_REASON = """
CASE
  WHEN trial_start IS NULL THEN 'unparseable_trial_start'
  WHEN trial_end IS NULL THEN 'unparseable_trial_end'
  WHEN converted IS NULL THEN 'unparseable_converted'
  WHEN converted_at IS NULL AND NOT raw_converted_at IS NULL THEN 'unparseable_converted_at'
  WHEN trial_end < trial_start THEN 'trial_end_before_trial_start'
  WHEN converted AND converted_at IS NULL THEN 'converted_without_converted_at'
  WHEN NOT converted AND NOT converted_at IS NULL THEN 'converted_at_without_conversion'
END
"""


@macro()
def trial_attributes_reason(
    evaluator,
    trial_start: exp.Expression,
    trial_end: exp.Expression,
    converted: exp.Expression,
    converted_at: exp.Expression,
    raw_converted_at: exp.Expression,
) -> exp.Expression:
    """The quarantine reason of a row's parsed trial attributes (TRIAL_ATTRIBUTES_REASON), NULL when they
    are usable. raw_converted_at is the value as delivered: a converted_at that did not parse is only a
    reason when something was delivered (@parse_text of it is not NULL)."""
    values = {
        "trial_start": trial_start,
        "trial_end": trial_end,
        "converted": converted,
        "converted_at": converted_at,
        "raw_converted_at": parse_text(evaluator, raw_converted_at),
    }
    template = sqlglot.parse_one(TRIAL_ATTRIBUTES_REASON, dialect="duckdb")
    return template.transform(lambda node: values[node.name].copy() if isinstance(node, exp.Column) else node)
