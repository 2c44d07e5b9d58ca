"""The one way the tests read and compare marts.

`read_marts` gives every row of an environment's marts as pandas frames, sorted by each mart's grain,
with one spelling per value whatever the engine (so a DuckDB, PostgreSQL or Spark build, or an
independent computation, compare alike). `assert_same_rows` compares two such frames row for row;
`assert_marts_equal` does it for two reads of the same marts, `assert_marts_match_independent` for
a read and the independent computation of tests/python/independent.py.
"""

from __future__ import annotations

import datetime as dt
import decimal
import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from trial_activation.project import environment_table

# Each mart's grain: one row per value of these columns.
GRAIN = {
    "marts.trial_goals": ["organization_id", "goal_id"],
    "marts.trial_activation": ["organization_id"],
    "marts.goal_conversion_counts": ["goal_id", "population"],
    "marts.goal_conversion": ["goal_id", "population"],
    "marts.activation_funnel": ["section", "step"],
    "marts.activation_cohorts": ["trial_start_week"],
    "marts.candidate_goals": ["candidate_id"],
    "marts.report_headline": [],  # one row
    "marts.report_rows": [],  # one row
    "marts.report_goals": ["goal_id"],
    "marts.report_goal_histograms": ["goal_id", "converted", "bin"],
    "marts.report_days_to_activation": ["days_to_activation"],
    "marts.report_candidates": ["candidate_id"],
    "marts.report_input": ["input_source"],
    "marts.report_status": [],  # one row
    "marts.report_candidate_holdout": ["candidate_id"],
    "marts.predictability": ["window_id"],
    "marts.goal_time_to_conversion": ["goal_id", "completion_group", "day"],
    "marts.goal_survival_summary": ["goal_id"],
    "marts.trial_worklist": ["organization_id"],
}
MARTS = ("marts.trial_goals", "marts.trial_activation")
# For floats computed another way (another engine, the independent oracle): summation order differs.
TOLERANCE = 1e-9


def read_marts(context, environment: str = "prod", models: Sequence[str] = MARTS) -> dict[str, pd.DataFrame]:
    """{model: every row of the mart in `environment`, sorted by its grain, values normalised}."""
    return {model: read_mart(context, model, environment) for model in models}


def read_mart(context, model: str, environment: str = "prod") -> pd.DataFrame:
    frame = context.fetchdf(f"SELECT * FROM {environment_table(context, model, environment)}")
    frame.columns = [column.lower() for column in frame.columns]  # Spark and PostgreSQL may differ in case
    return _sorted(_normalised(frame), GRAIN[model])


def assert_marts_equal(
    actual: dict, expected: dict, *, atol: float = 0.0, rtol: float = 0.0, same_types: bool = True
) -> None:
    """The same marts in both reads, each with the same columns and rows (see assert_same_rows); on one
    engine also with the same column types (same_types=False across engines)."""
    assert actual.keys() == expected.keys()
    for model in expected:
        assert_same_rows(
            actual[model], expected[model], GRAIN[model], atol=atol, rtol=rtol, same_types=same_types, name=model
        )


def assert_marts_match_independent(marts: dict, expected_goals: pd.DataFrame, expected_activation: pd.DataFrame) -> None:
    """marts.trial_goals and marts.trial_activation hold the rows tests/python/independent.py computed
    (expected_marts), in each of its columns, floats within TOLERANCE."""
    for model, rows in (("marts.trial_goals", expected_goals), ("marts.trial_activation", expected_activation)):
        assert_same_rows(marts[model], rows, GRAIN[model], columns=list(rows.columns), atol=TOLERANCE, name=model)


def assert_same_rows(
    actual: pd.DataFrame,
    expected: pd.DataFrame,
    grain: Sequence[str],
    *,
    columns: Sequence[str] | None = None,
    atol: float = 0.0,
    rtol: float = 0.0,
    same_types: bool = False,
    name: str = "rows",
) -> None:
    """Row for row: the same grain values, and in each column equal values, NULLs alike.

    columns: the columns to compare (default: all, and both frames must have the same ones, and with
    same_types the same dtypes). Floats are equal within atol + rtol * |expected| (exactly equal by
    default); integers, text, booleans and timestamps are equal exactly.
    """
    grain = list(grain)
    if columns is None:
        assert list(actual.columns) == list(expected.columns), (
            f"{name}: columns {list(actual.columns)}, expected {list(expected.columns)}"
        )
        columns = list(expected.columns)
    else:
        missing = [c for c in columns if c not in actual.columns or c not in expected.columns]
        assert not missing, f"{name}: no column {missing} in the actual or the expected rows"
    if same_types:
        types = [(c, actual[c].dtype, expected[c].dtype) for c in columns if actual[c].dtype != expected[c].dtype]
        assert not types, f"{name}: column types differ (column, actual, expected): {types}"
    actual, expected = (_sorted(_normalised(frame), grain) for frame in (actual, expected))

    assert len(actual) == len(expected), f"{name}: {len(actual)} rows, expected {len(expected)}"
    actual_keys, expected_keys = (_keys(frame, grain) for frame in (actual, expected))
    if actual_keys != expected_keys:
        only_actual = sorted(set(actual_keys) - set(expected_keys))[:5]
        only_expected = sorted(set(expected_keys) - set(actual_keys))[:5]
        raise AssertionError(f"{name}: the {grain} differ: only in actual {only_actual}, only expected {only_expected}")
    for column in columns:
        got, want = actual[column], expected[column]
        same = _equal(got, want, atol, rtol)
        if not same.all():
            rows = actual.loc[~same, grain].assign(actual=got[~same], expected=want[~same])
            raise AssertionError(f"{name}.{column} differs on {int((~same).sum())} rows, e.g.\n{rows.head(10)}")


def _keys(frame: pd.DataFrame, grain: list[str]) -> list[tuple]:
    """The grain's values of each row as text, numbers as floats: an integer column with NULLs is a
    nullable integer from DuckDB and floats from psycopg2, and 3 must match 3.0."""
    keys = frame[grain].copy()
    for column in grain:
        if _is_number(keys[column]):
            keys[column] = keys[column].astype(float)
    return list(keys.astype(str).itertuples(index=False, name=None))


def _equal(got: pd.Series, want: pd.Series, atol: float, rtol: float) -> pd.Series:
    both_null = got.isna() & want.isna()
    if _is_number(got) and _is_number(want):
        if pd.api.types.is_integer_dtype(got) and pd.api.types.is_integer_dtype(want):
            return (got == want) | both_null
        return pd.Series(np.isclose(got.astype(float), want.astype(float), atol=atol, rtol=rtol, equal_nan=True))
    if pd.api.types.is_datetime64_any_dtype(got) or pd.api.types.is_datetime64_any_dtype(want):
        return (pd.to_datetime(got) == pd.to_datetime(want)) | both_null
    return (got.astype(object) == want.astype(object)) | both_null


def _is_number(column: pd.Series) -> bool:
    """A numeric column (not a boolean one), or text-typed values that are all numbers."""
    if pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_numeric_dtype(column):
        return True
    values = column.dropna()
    return column.dtype == object and all(
        isinstance(v, (numbers.Real, decimal.Decimal)) and not isinstance(v, (bool, np.bool_)) for v in values
    )


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps naive in UTC, DATE values as timestamps, DECIMAL values as floats (what DuckDB's
    fetchdf gives already; PostgreSQL's and Spark's drivers give Python objects or aware times)."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            frame[column] = values.dt.tz_convert("UTC").dt.tz_localize(None)
        elif values.dtype == object and len(values.dropna()):
            present = values.dropna()
            if all(isinstance(v, (dt.date, np.datetime64)) for v in present):  # a datetime is a date too
                frame[column] = pd.to_datetime(values, utc=True).dt.tz_localize(None)
            elif all(isinstance(v, decimal.Decimal) for v in present):
                frame[column] = values.astype(float)
    return frame


def _sorted(frame: pd.DataFrame, grain: Sequence[str]) -> pd.DataFrame:
    return frame.sort_values(list(grain)).reset_index(drop=True)
