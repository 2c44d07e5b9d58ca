"""The trial-day formula, written once for every model that turns a time into a trial day."""

from sqlglot import exp
from sqlmesh import macro

SECONDS_PER_DAY = 86400


@macro()
def trial_day(evaluator, trial_start: exp.Expression, at: exp.Expression) -> exp.Expression:
    """Whole days from trial_start to `at`, 0-based, negative before the trial: day 0 is
    [trial_start, trial_start + 24 h). Seconds, not calendar dates, so a trial that starts at 09:00
    has its day 1 start at 09:00 the next day.

    >>> from sqlglot import exp
    >>> trial_day(None, exp.column("trial_start"), exp.column("event_at")).sql("duckdb")
    "CAST(FLOOR(DATE_DIFF('SECOND', trial_start, event_at) / 86400) AS INT)"
    """
    seconds = exp.DateDiff(this=at, expression=trial_start, unit=exp.var("SECOND"))
    days = exp.Div(this=seconds, expression=exp.Literal.number(SECONDS_PER_DAY), typed=False, safe=True)
    return exp.cast(exp.Floor(this=days), exp.DataType.Type.INT)
