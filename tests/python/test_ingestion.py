"""Ingestion loses nothing: each class of bad input has one documented outcome (docs/data-quality.md).

- a file that cannot be loaded as it is fails the plan with a message naming the file and the problem,
  before any staging or mart table exists;
- a row that cannot be used is set aside in staging.trial_events_quarantine with one reason;
- a row that is odd but usable is kept and flagged;
- and raw rows = staged rows (duplicates included) + quarantined rows, which the accounting audit
  raw_rows_accounted_for checks on every load (and which fails when a row really goes missing).

Every test writes a tiny event log in tmp and builds a copy of the project on it. Builds are the cost
(several seconds each), so the row-level classes share one build on one file with one bad row of
each class; file-level errors fail before building anything and each get their own file.
"""

from __future__ import annotations

import builtins
import gzip
import json
import logging
import os
import shutil
import subprocess
import sys
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlmesh.utils.errors import SQLMeshError

from helpers import failed_models
from trial_activation.__main__ import main
from trial_activation.project import build, check_warehouse_name, open_context, warehouse_catalog
from trial_activation.testing import copy_project

HEADER = "ORGANIZATION_ID,ACTIVITY_NAME,TIMESTAMP,CONVERTED,CONVERTED_AT,TRIAL_START,TRIAL_END"
COLUMNS = HEADER.split(",")
TRIAL_START, TRIAL_END = "2024-02-01 09:00:00", "2024-03-02 09:00:00"


def event(
    org: str = "org_good",
    activity: str = "Scheduling.Shift.Created",
    at: str = "2024-02-02 10:00:00",
    converted: str = "False",
    converted_at: str = "",
    trial_start: str = TRIAL_START,
    trial_end: str = TRIAL_END,
) -> tuple[str, ...]:
    """One raw row, valid unless told otherwise, in the export's column order."""
    return (org, activity, at, converted, converted_at, trial_start, trial_end)


# Goal thresholds are percentiles over converted organizations: a log that builds needs one.
CONVERTED = event(org="org_converted", at="2024-02-05 10:00:00", converted="TRUE", converted_at="2024-02-20 00:00:00")


def write_csv(path: Path, rows, header: str = HEADER) -> Path:
    """A CSV (gzipped when path ends in .gz) with header and rows; fields are written as given."""
    text = "\n".join([header, *(",".join(row) for row in rows)]) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def tables_in(context, *schemas: str) -> list[str]:
    """Tables and views the warehouse has in the given (environment-facing) schemas."""
    in_schemas = ", ".join(f"'{schema}'" for schema in schemas)
    return [
        f"{schema}.{name}"
        for schema, name in context.engine_adapter.fetchall(
            f"SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ({in_schemas})"
        )
    ]


def raw_rows_accounted(context) -> tuple[int, int, int]:
    """(rows in raw.trial_events, raw rows behind the staged events, quarantined rows)."""
    row = context.fetchdf(
        """
        SELECT
          (SELECT COUNT(*) FROM raw.trial_events) AS raw_rows,
          (SELECT SUM(raw_row_count) FROM staging.trial_events) AS staged_rows,
          (SELECT COUNT(*) FROM staging.trial_events_quarantine) AS quarantined_rows
        """
    ).iloc[0]
    return int(row.raw_rows), int(row.staged_rows), int(row.quarantined_rows)


# ---------------------------------------------------------------------------------------------------
# Files that cannot be loaded as they are: a clear error, before anything is written.


def _write_bytes(content: bytes):
    def write(path: Path) -> Path:
        path.write_bytes(content)
        return path

    return write


def _gzip_cut_at_a_flush_point(path: Path) -> Path:
    """A gzipped CSV whose transfer stopped after a flush: every byte before the cut decompresses,
    the gzip trailer (CRC and length) is missing."""
    text = "\n".join([HEADER, *(",".join(event(at=f"2024-02-0{day} 10:00:00")) for day in range(2, 8))]) + "\n"
    compressor = zlib.compressobj(wbits=31)
    path.write_bytes(compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH))
    return path


def _gzip_with_bad_crc(path: Path) -> Path:
    data = bytearray(gzip.compress(("\n".join([HEADER, ",".join(event())]) + "\n").encode()))
    data[-8] ^= 0xFF  # the CRC-32 of the trailer
    path.write_bytes(bytes(data))
    return path


def _parquet_with(path: Path, column: str, values) -> Path:
    columns = {name.lower(): [value] for name, value in zip(COLUMNS, event())}
    columns[column] = values
    pq.write_table(pa.table(columns), path)
    return path


FILE_ERRORS = {
    "gzip_cut_short": ("cut.csv.gz", _gzip_cut_at_a_flush_point, "the compressed file is truncated or corrupt"),
    "gzip_bad_crc": ("crc.csv.gz", _gzip_with_bad_crc, "the compressed file is truncated or corrupt"),
    # The last row cut in its last field: no line break after it.
    "csv_last_row_cut": (
        "cut.csv",
        _write_bytes((HEADER + "\n" + ",".join(event()) + "\n" + ",".join(event())[:-9]).encode()),
        "the last row has no line break after it",
    ),
    "header_only": ("header.csv", lambda path: write_csv(path, []), "no rows"),
    "header_only_parquet": ("header.parquet", lambda path: pq.write_table(
        pa.table({name.lower(): pa.array([], pa.string()) for name in COLUMNS}), path) or path, "no rows"),
    "cr_only_line_endings": (
        "mac.csv",
        _write_bytes(("\r".join([HEADER, ",".join(event()), ",".join(CONVERTED)]) + "\r").encode()),
        "lines end with a carriage return only",
    ),
    "parquet_integer_time": (
        "int_time.parquet",
        lambda path: _parquet_with(path, "timestamp", [1706868000]),
        "column timestamp has Parquet type int64; expected timestamps or text",
    ),
    "parquet_struct_time": (
        "struct_time.parquet",
        lambda path: _parquet_with(path, "trial_end", [{"date": "2024-03-02", "time": "09:00:00"}]),
        "column trial_end has Parquet type struct",
    ),
    # case: (file name, writer, problem the message must state)
    "missing_file": ("absent.csv", lambda path: path, "file not found"),
    "empty_file": ("empty.csv", _write_bytes(b""), "the file is empty"),
    "binary_garbage": ("garbage.csv", _write_bytes(bytes(range(256)) * 8), "cannot be read as CSV"),
    "corrupt_gzip": ("corrupt.csv.gz", _write_bytes(b"this is not gzip data\n" * 10), "cannot be read as CSV"),
    "not_parquet": (
        "events.parquet",
        lambda path: write_csv(path, [event()]),
        "cannot be read as CSV, gzipped CSV or Parquet",
    ),
    "missing_column": (
        "missing.csv",
        lambda path: write_csv(path, [event()[:4] + event()[5:]], HEADER.replace("CONVERTED_AT,", "")),
        "missing column(s) converted_at",
    ),
    "extra_column": (
        "extra.csv",
        lambda path: write_csv(path, [(*event(), "NL")], HEADER + ",COUNTRY"),
        "unexpected column(s) country",
    ),
    "renamed_column": (
        "renamed.csv",
        lambda path: write_csv(path, [event()], HEADER.replace("TIMESTAMP", "EVENT_TIME")),
        "missing column(s) timestamp; unexpected column(s) event_time",
    ),
    "repeated_column": (
        "repeated.csv",
        lambda path: write_csv(path, [(*event(), TRIAL_END)], HEADER + ",TRIAL_END"),
        "repeated column(s) trial_end",
    ),
}


@pytest.mark.parametrize("case", FILE_ERRORS)
def test_unloadable_file_fails_before_anything_is_written(make_context, tmp_path, case):
    name, write, problem = FILE_ERRORS[case]
    path = write(tmp_path / name)

    # The file is checked when the raw model is rendered, i.e. when the project loads.
    with pytest.raises(SQLMeshError) as error:
        build(make_context(events_path=path))

    assert f"{path.resolve()}: {problem}" in str(error.value)
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_glob_matching_no_file_fails(make_context, tmp_path):
    pattern = tmp_path / "exports" / "*.csv"

    with pytest.raises(SQLMeshError, match="no file matches this path"):
        build(make_context(events_path=pattern))

    assert not (tmp_path / "warehouse.duckdb").exists()


def test_glob_mixing_csv_and_parquet_fails(make_context, tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    write_csv(exports / "part-1.csv", [event()])
    table = pa.table({column.lower(): [value] for column, value in zip(COLUMNS, event())})
    pq.write_table(table, exports / "part-2.parquet")

    with pytest.raises(SQLMeshError, match="mixes Parquet and CSV files"):
        build(make_context(events_path=exports / "part-*"))

    assert not (tmp_path / "warehouse.duckdb").exists()


def test_row_with_wrong_number_of_fields_fails_naming_file_and_line(make_context, tmp_path, caplog):
    """A ragged row fails the load rather than being quarantined: which value belongs to which column
    is unknown (an unquoted comma, a truncated export), so no reason could be trusted; DuckDB's error
    names the file, the line and the field count, and nothing reaches staging or the marts."""
    path = write_csv(tmp_path / "ragged.csv", [event(), event(at="2024-02-03 10:00:00")[:6], event()])
    context = make_context(events_path=path)
    caplog.set_level(logging.INFO, logger="sqlmesh")  # the plan's error only says "failed"; the log says why

    with pytest.raises(SQLMeshError, match="Plan application failed"):
        build(context, skip_tests=True)

    messages = "\n".join(failed_models(caplog))
    assert f"file = {path.resolve()}" in messages
    assert "CSV Error on Line: 3" in messages
    assert "Expected Number of Columns: 7 Found: 6" in messages
    assert tables_in(context, "staging", "marts") == []
    assert context.state_reader.get_environment("prod") is None


# ---------------------------------------------------------------------------------------------------
# Rows: one build on one file with good rows and one bad row of each class.

# reason -> the bad row; the test checks the quarantine keeps its raw values.
QUARANTINED = {
    "missing_organization_id": event(org="", at="2024-02-05 01:00:00"),
    "missing_activity_name": event(org="bad_activity", activity=" "),
    "unparseable_timestamp": event(org="bad_timestamp", at="27/03/2024 11:03"),
    "unparseable_trial_start": event(org="bad_trial_start", trial_start="2024-13-01 00:00:00"),
    "unparseable_trial_end": event(org="bad_trial_end", trial_end="soon"),
    "unparseable_converted": event(org="bad_converted", converted="maybe"),
    "unparseable_converted_at": event(org="bad_converted_at", converted="True", converted_at="next week"),
    "trial_end_before_trial_start": event(org="bad_window", trial_start=TRIAL_END, trial_end=TRIAL_START),
    "converted_without_converted_at": event(org="bad_conversion", converted="True"),
    "converted_at_without_conversion": event(org="bad_non_conversion", converted_at="2024-02-20 00:00:00"),
    # 152 days after the trial, more than far_outside_trial_days = 90: a corrupt timestamp.
    "event_far_outside_trial": event(org="bad_far", at="2024-08-01 10:00:00"),
    # In its trial, but before the project's start (2024-01-01): no incremental load covers it.
    "event_before_project_start": event(
        org="bad_early", at="2023-12-20 10:00:00", trial_start="2023-12-15 09:00:00", trial_end="2024-01-14 09:00:00"
    ),
}
CONFLICTING = [  # one organization whose rows disagree on every trial and conversion column
    event(org="org_conflict", at="2024-02-03 10:00:00"),
    event(
        org="org_conflict",
        at="2024-02-04 10:00:00",
        converted="True",
        converted_at="2024-02-25 00:00:00",
        trial_start="2024-02-02 09:00:00",
        trial_end="2024-03-05 09:00:00",
    ),
]
DUPLICATED = [  # one event, three raw rows: an exact copy and a copy spelled differently
    event(activity="Mobile.Schedule.Loaded", at="2024-02-03 10:00:00"),
    event(activity="Mobile.Schedule.Loaded", at="2024-02-03 10:00:00"),
    event(activity="Mobile.Schedule.Loaded", at="2024-02-03 10:00:00.000", converted="FALSE"),
]
KEPT = [
    event(),
    CONVERTED,
    event(activity="Totally.Unknown.Event", at="2024-02-04 10:00:00"),  # unknown: kept, flagged
    event(at="2024-03-10 10:00:00"),  # 8 days after the trial: kept, not in the trial
]
ROWS = [*KEPT, *DUPLICATED, *CONFLICTING, *QUARANTINED.values()]


@pytest.fixture(scope="module")
def rows_build(tmp_path_factory):
    """The project built into prod on a CSV of ROWS (mixed-case header): the context."""
    root = tmp_path_factory.mktemp("rows_build")
    path = write_csv(root / "events.csv", ROWS, header=HEADER.title())
    context = open_context(copy_project(root / "project"), events_path=path, warehouse_path=root / "w.duckdb")
    build(context, skip_tests=True)  # the YAML unit tests run on their own
    return context


@pytest.mark.parametrize("reason", QUARANTINED)
def test_unusable_row_is_quarantined_with_its_reason_and_raw_values(rows_build, reason):
    org, activity, at, converted, converted_at, trial_start, trial_end = QUARANTINED[reason]
    quarantined = rows_build.fetchdf(
        f"SELECT * FROM staging.trial_events_quarantine WHERE quarantine_reason = '{reason}'"
    )

    assert len(quarantined) == 1
    row = quarantined.iloc[0]
    assert (row.raw_timestamp, row.raw_converted, row.raw_trial_start, row.raw_trial_end) == (
        at,
        converted,
        trial_start,
        trial_end,
    )
    assert (row.raw_converted_at or "") == converted_at
    assert row.organization_id == (org.strip() or None)


def test_quarantined_organizations_are_not_staged(rows_build):
    staged = set(rows_build.fetchdf("SELECT DISTINCT organization_id FROM staging.trial_events").organization_id)

    assert staged == {"org_good", "org_converted", "org_conflict"}


def test_duplicates_are_removed_and_counted_whatever_their_spelling(rows_build):
    events = rows_build.fetchdf(
        "SELECT event_at, converted, raw_row_count FROM staging.trial_events"
        " WHERE activity_name = 'Mobile.Schedule.Loaded'"
    )

    assert len(events) == 1
    assert (str(events.event_at[0]), bool(events.converted[0]), int(events.raw_row_count[0])) == (
        "2024-02-03 10:00:00",
        False,
        3,
    )


def test_unknown_activity_is_kept_and_flagged(rows_build):
    flags = rows_build.fetchdf("SELECT activity_name, is_known_activity FROM staging.trial_events")
    is_known = dict(zip(flags.activity_name, flags.is_known_activity))

    assert is_known == {
        "Scheduling.Shift.Created": True,
        "Mobile.Schedule.Loaded": True,
        "Totally.Unknown.Event": False,
    }


def test_event_slightly_outside_the_trial_is_kept_out_of_the_trial(rows_build):
    events = rows_build.fetchdf(
        "SELECT CAST(event_at AS TEXT) AS event_at, is_in_trial FROM staging.trial_events"
        " WHERE organization_id = 'org_good'"
    )
    is_in_trial = dict(zip(events.event_at, events.is_in_trial))

    assert {at: bool(flag) for at, flag in is_in_trial.items()} == {
        "2024-02-02 10:00:00": True,
        "2024-02-03 10:00:00": True,
        "2024-02-04 10:00:00": True,
        "2024-03-10 10:00:00": False,
    }


def test_conflicting_organization_is_kept_flagged_and_resolved(rows_build):
    organizations = rows_build.fetchdf(
        """
        SELECT
          o.organization_id,
          o.has_conflicting_attributes,
          CAST(o.trial_start AS TEXT) AS trial_start,
          CAST(o.trial_end AS TEXT) AS trial_end,
          o.converted,
          CAST(o.converted_at AS TEXT) AS converted_at,
          a.has_conflicting_attributes AS flagged_in_mart
        FROM intermediate.trial_organizations AS o
        JOIN marts.trial_activation AS a USING (organization_id)
        ORDER BY 1
        """
    ).set_index("organization_id")

    assert organizations.has_conflicting_attributes.to_dict() == {
        "org_conflict": True,
        "org_converted": False,
        "org_good": False,
    }
    assert organizations.flagged_in_mart.to_dict() == organizations.has_conflicting_attributes.to_dict()
    conflict = organizations.loc["org_conflict"]
    assert (conflict.trial_start, conflict.trial_end, bool(conflict.converted), conflict.converted_at) == (
        "2024-02-01 09:00:00",
        "2024-03-05 09:00:00",
        True,
        "2024-02-25 00:00:00",
    )


def test_every_raw_row_is_staged_or_quarantined(rows_build):
    raw_rows, staged_rows, quarantined_rows = raw_rows_accounted(rows_build)

    assert raw_rows == len(ROWS)
    assert (staged_rows, quarantined_rows) == (len(ROWS) - len(QUARANTINED), len(QUARANTINED))
    assert rows_build.audit(start="2024-01-01", end="2024-12-31", models=["staging.trial_events"])


# ---------------------------------------------------------------------------------------------------
# Other readable inputs, and the accounting audit itself.


def test_parquet_input_with_lower_case_columns_loads(make_context, tmp_path):
    """Parquet keeps its own types (here timestamps and a boolean): staging types them the same way."""
    rows = [event(), event(), CONVERTED, event(org="", at="2024-02-05 01:00:00")]
    columns = {name.lower(): [row[i] or None for row in rows] for i, name in enumerate(COLUMNS)}
    columns["converted"] = [row[3].lower() == "true" for row in rows]
    table = pa.table(columns)
    for name in ("timestamp", "converted_at", "trial_start", "trial_end"):
        table = table.set_column(table.column_names.index(name), name, table.column(name).cast(pa.timestamp("s")))
    path = tmp_path / "events.parquet"
    pq.write_table(table, path)
    context = make_context(events_path=path)

    build(context, skip_tests=True)

    assert raw_rows_accounted(context) == (4, 3, 1)
    staged = context.fetchdf(
        "SELECT organization_id, raw_row_count, converted FROM staging.trial_events ORDER BY organization_id"
    )
    assert staged.values.tolist() == [["org_converted", 1, True], ["org_good", 2, False]]


def test_parquet_numeric_converted_column_reads_only_0_and_1_as_booleans(make_context, tmp_path):
    """A numeric CONVERTED column: 1 and 0 are booleans, as in a CSV; 2 is quarantined, not TRUE."""
    rows = [event(), CONVERTED, event(org="org_two", at="2024-02-03 10:00:00")]
    columns = {name.lower(): [row[i] or None for row in rows] for i, name in enumerate(COLUMNS)}
    columns["converted"] = [0, 1, 2]
    path = tmp_path / "events.parquet"
    pq.write_table(pa.table(columns), path)
    context = make_context(events_path=path)

    build(context, skip_tests=True)

    assert raw_rows_accounted(context) == (3, 2, 1)
    staged = context.fetchdf("SELECT DISTINCT organization_id, converted FROM staging.trial_events ORDER BY 1")
    assert staged.values.tolist() == [["org_converted", True], ["org_good", False]]
    quarantined = context.fetchdf("SELECT organization_id, quarantine_reason, raw_converted FROM staging.trial_events_quarantine")
    assert quarantined.values.tolist() == [["org_two", "unparseable_converted", "2"]]


def test_gzipped_csv_with_lower_case_header_loads(make_context, tmp_path):
    path = write_csv(tmp_path / "events.csv.gz", [event(), CONVERTED], header=HEADER.lower())
    context = make_context(events_path=path)

    build(context, skip_tests=True)

    assert raw_rows_accounted(context) == (2, 2, 0)


def test_later_start_quarantines_earlier_events_and_the_audit_catches_a_lost_row(make_context, tmp_path, monkeypatch):
    """With TRIAL_EVENTS_START after some events, those are quarantined (no load covers them) and the
    accounting holds. The audit is not vacuous: take one event out of staging, and it fails."""
    monkeypatch.setenv("TRIAL_EVENTS_START", "2024-02-03")
    path = write_csv(tmp_path / "events.csv", [event(), event(at="2024-02-03 10:00:00"), CONVERTED, event(org="")])
    context = make_context(events_path=path)
    build(context, skip_tests=True)
    reasons = context.fetchdf("SELECT quarantine_reason FROM staging.trial_events_quarantine ORDER BY 1")
    assert reasons.quarantine_reason.tolist() == ["event_before_project_start", "missing_organization_id"]
    assert raw_rows_accounted(context) == (4, 2, 2)
    audit = dict(start="2024-02-03", end="2024-12-31", models=["staging.trial_events"])
    assert context.audit(**audit)

    staged_table = context.get_snapshot("staging.trial_events", raise_if_missing=True).table_name()
    context.engine_adapter.execute(f"DELETE FROM {staged_table} WHERE event_at = '2024-02-03 10:00:00'")

    assert raw_rows_accounted(context) == (4, 1, 2)
    assert not context.audit(**audit)


def test_events_of_today_are_pending_not_lost(make_context, tmp_path):
    """A live export holds events of today, which the daily load takes tomorrow: the plan succeeds,
    they are not staged yet, and the accounting audit of the loaded days passes. Audited with today
    included (a day not loaded yet), the same audit reports them.

    The events are dated by the wall clock, which the event_in_future rule reads (DuckDB's
    CURRENT_DATE); SQLMesh's clock is pinned to the same instant, so that a build running past
    midnight still loads only the days before `now` (the rule's clock can only move later, which
    quarantines nothing more)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    start = now - timedelta(days=2)
    today = event(org="org_live", at=f"{now}", trial_start=f"{start}", trial_end=f"{start + timedelta(days=30)}")
    # Within future_event_margin_days (1) of the end of today: an exporting clock ahead, still pending.
    tomorrow = (now + timedelta(days=1)).replace(hour=23, minute=0, second=0)
    ahead = event(org="org_live", at=f"{tomorrow}", trial_start=f"{start}", trial_end=f"{start + timedelta(days=30)}")
    context = make_context(events_path=write_csv(tmp_path / "events.csv", [event(), CONVERTED, today, ahead]))
    build(context, skip_tests=True, execution_time=now)

    assert raw_rows_accounted(context) == (4, 2, 0)
    loaded_days = dict(start="2024-01-01", models=["staging.trial_events"])
    assert context.audit(end=(now.date() - timedelta(days=1)).isoformat(), **loaded_days)
    assert not context.audit(end=now.date().isoformat(), **loaded_days)


# ---------------------------------------------------------------------------------------------------
# Hostile values: one build on one file, each row a value real exports produce by accident.

HOSTILE = {
    # organization -> (the row, its quarantine reason or None when it is staged)
    "org_null_text": (event(org="NULL", at="2024-02-03 11:00:00"), "missing_organization_id"),
    "org_null_lower": (event(org=" null ", at="2024-02-03 12:00:00"), "missing_organization_id"),
    "org_null_activity": (event(org="org_null_activity", activity="null"), "missing_activity_name"),
    "org_year_2999": (event(org="org_year_2999", at="2999-01-01 00:00:00"), "event_in_future"),
    "org_year_10000": (event(org="org_year_10000", at="10000-01-01 00:00:00"), "event_in_future"),
    "org_next_month": (
        event(org="org_next_month", at=f"{datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=30):%Y-%m-%d %H:%M:%S}"),
        "event_in_future",
    ),
    "org_infinite_event": (event(org="org_infinite_event", at="infinity"), "unparseable_timestamp"),
    "org_infinite_end": (event(org="org_infinite_end", trial_end="infinity"), "unparseable_trial_end"),
    "org_infinite_start": (event(org="org_infinite_start", trial_start="-infinity"), "unparseable_trial_start"),
    # With UTC offsets: 12:30+02:00 is 10:30 UTC; the trial bounds are the same instants as TRIAL_START/END.
    "org_offset": (
        event(org="org_offset", at="2024-02-02 12:30:00+02:00", trial_start="2024-02-01 04:00:00-05:00",
              trial_end="2024-03-02T09:00:00Z"),
        None,
    ),
}


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_build")
    rows = [event(), CONVERTED, *(row for row, _ in HOSTILE.values())]
    path = write_csv(root / "events.csv", rows)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("TRIAL_EVENTS_PATH", "TRIAL_WAREHOUSE_PATH"):
            patch.setenv(name, "")
        context = open_context(copy_project(root / "project"), events_path=path, warehouse_path=root / "w.duckdb")
        build(context, skip_tests=True)
    return context, len(rows)


def test_hostile_values_are_quarantined_with_a_reason_or_read_as_the_instant_they_denote(hostile_build):
    context, raw_rows = hostile_build
    quarantined = context.fetchdf(
        "SELECT raw_timestamp, raw_trial_start, raw_trial_end, quarantine_reason FROM staging.trial_events_quarantine"
    )
    got = {
        (row.raw_timestamp, row.raw_trial_start, row.raw_trial_end): row.quarantine_reason
        for row in quarantined.itertuples()
    }
    expected = {(row[2], row[5], row[6]): reason for row, reason in HOSTILE.values() if reason}
    assert got == expected
    staged_ids = set(context.fetchdf("SELECT DISTINCT organization_id FROM staging.trial_events").organization_id)
    assert staged_ids == {"org_good", "org_converted", "org_offset"}
    assert not {"NULL", "null"} & set(context.fetchdf("SELECT organization_id FROM marts.trial_activation").organization_id)
    # Nothing is pending: every raw row is staged or quarantined, the far-future ones included.
    assert raw_rows_accounted(context) == (raw_rows, raw_rows - len(expected), len(expected))


def test_utc_offsets_are_read_as_instants(hostile_build):
    context, _ = hostile_build
    row = context.fetchdf(
        "SELECT CAST(event_at AS TEXT) AS event_at, CAST(trial_start AS TEXT) AS trial_start,"
        " CAST(trial_end AS TEXT) AS trial_end, trial_day FROM staging.trial_events WHERE organization_id = 'org_offset'"
    ).iloc[0]
    assert (row.event_at, row.trial_start, row.trial_end, int(row.trial_day)) == (
        "2024-02-02 10:30:00",
        "2024-02-01 09:00:00",
        "2024-03-02 09:00:00",
        1,
    )


def test_parquet_with_time_zone_aware_timestamps_is_read_in_utc_whatever_the_process_time_zone(tmp_path):
    """The same instants under TZ=America/New_York and TZ=Asia/Tokyo: the connection is pinned to UTC.
    Each build runs in its own process, since the time zone is read when the process starts."""
    utc = pa.timestamp("us", tz="UTC")
    rows = [event(), CONVERTED]
    columns = {name.lower(): [row[i] or None for row in rows] for i, name in enumerate(COLUMNS)}
    table = pa.table(columns)
    for name in ("timestamp", "trial_start", "trial_end", "converted_at"):
        values = [datetime.fromisoformat(v).replace(tzinfo=timezone.utc) if v else None for v in columns[name]]
        table = table.set_column(table.column_names.index(name), name, pa.array(values, utc))
    path = tmp_path / "events_tz.parquet"
    pq.write_table(table, path)
    script = (
        "import json, sys\n"
        "from trial_activation.project import build, check_warehouse_name, open_context, warehouse_catalog\n"
        "context = open_context(sys.argv[1], events_path=sys.argv[2], warehouse_path=sys.argv[3])\n"
        "build(context, skip_tests=True)\n"
        "rows = context.fetchdf('SELECT organization_id, CAST(event_at AS TEXT) AS event_at, trial_day"
        " FROM staging.trial_events ORDER BY 1').values.tolist()\n"
        "print(json.dumps([[o, e, int(d)] for o, e, d in rows]))\n"
    )
    results = {}
    for zone in ("America/New_York", "Asia/Tokyo"):
        done = subprocess.run(
            [sys.executable, "-c", script, str(copy_project(tmp_path / zone.replace("/", "_"))), str(path), str(tmp_path / f"{zone[:4]}.duckdb")],
            env={**os.environ, "TZ": zone},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        results[zone] = json.loads(done.stdout.strip().splitlines()[-1])
    expected = [["org_converted", "2024-02-05 10:00:00", 4], ["org_good", "2024-02-02 10:00:00", 1]]
    assert results == {"America/New_York": expected, "Asia/Tokyo": expected}


# ---------------------------------------------------------------------------------------------------
# Which files a path names: the checks and DuckDB's reader read the same ones.


def raw_rows_read(context) -> list:
    """(source_file, organization_id, activity_name) of every row raw.trial_events would read, without a build."""
    query = context.render("raw.trial_events").sql("duckdb")
    return sorted(
        tuple(row)
        for row in context.engine_adapter.fetchall(
            f"SELECT source_file, organization_id, activity_name FROM ({query}) AS raw"
        )
    )


def test_recursive_glob_reads_each_file_with_its_own_header_and_leaves_hidden_files_out(make_context, tmp_path):
    """The files checked are the files DuckDB reads: `**` at any depth, each read by its own header's
    column order, not another file's. Hidden files (a dot-name below the glob's fixed part: a file, or
    a directory on the way) are left out, as Spark and Hadoop leave them out."""
    exports = tmp_path / "exports"
    (exports / "2024" / "02").mkdir(parents=True)
    (exports / ".staging").mkdir()
    top = write_csv(exports / "part-1.csv", [event(org="org_top")])
    reordered = ",".join(reversed(COLUMNS))
    nested = write_csv(exports / "2024" / "02" / "part-2.csv", [tuple(reversed(event(org="org_nested")))], reordered)
    write_csv(exports / ".part-3.csv", [event(org="org_hidden")])
    write_csv(exports / ".staging" / "part-4.csv", [event(org="org_in_hidden_folder")])

    rows = raw_rows_read(make_context(events_path=exports / "**" / "*.csv"))

    assert rows == sorted(
        (str(file), org, "Scheduling.Shift.Created") for file, org in ((top, "org_top"), (nested, "org_nested"))
    )


# The start of a macOS resource fork (AppleDouble: magic number, version, filler): the `._<name>` file
# the Finder writes next to each file it copies to a disk that has no extended attributes.
APPLE_DOUBLE = bytes.fromhex("00051607" "00020000") + b"Mac OS X        " + bytes(64)


def test_a_macos_resource_fork_in_the_folder_is_left_out_and_the_input_report_says_so(project_copy, tmp_path, capsys):
    """A `._` file beside each daily file no longer stops the build: it is left out, every raw row of
    the files read is accounted for (the blocking audit passes), and build names the file not read."""
    from trial_activation.__main__ import main

    exports = tmp_path / "exports"
    exports.mkdir()
    write_csv(exports / "day-1.csv", [event(), CONVERTED])
    write_csv(exports / "day-2.csv", [event(org="org_two", at="2024-02-03 10:00:00")])
    fork = exports / "._day-1.csv"
    fork.write_bytes(APPLE_DOUBLE)
    warehouse = tmp_path / "w.duckdb"

    status = main(["build", "--project", str(project_copy), "--events", str(exports / "*.csv"), "--warehouse", str(warehouse)])
    out, err = capsys.readouterr()

    assert status == 0, err
    assert out.splitlines()[1:3] == [
        f"Input (prod): 3 raw rows from 2 files: {exports / 'day-1.csv'} (2), {exports / 'day-2.csv'} (1)",
        f"  not read: 1 hidden file the path matches: {fork}",
    ]
    context = open_context(project_copy, events_path=exports / "*.csv", warehouse_path=warehouse)
    assert raw_rows_accounted(context) == (3, 3, 0)


def test_a_hidden_file_named_by_the_path_is_read(make_context, tmp_path):
    hidden = write_csv(tmp_path / ".events.csv", [event(org="org_named")])
    assert raw_rows_read(make_context(events_path=hidden)) == [(str(hidden), "org_named", "Scheduling.Shift.Created")]


def test_a_glob_matching_only_hidden_files_says_they_were_left_out(make_context, tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    fork = exports / "._day-1.csv"
    fork.write_bytes(APPLE_DOUBLE)

    with pytest.raises(SQLMeshError, match=f"no file matches this path \\(TRIAL_EVENTS_PATH\\) \\(hidden files are left out: {fork}\\)"):
        build(make_context(events_path=exports / "*.csv"))


def test_path_with_glob_characters_naming_an_existing_file_loads_that_file(make_context, tmp_path):
    literal = write_csv(tmp_path / "events[1].csv", [event(org="org_literal")])
    write_csv(tmp_path / "events1.csv", [event(org="org_matched_by_the_pattern")])

    assert raw_rows_read(make_context(events_path=literal)) == [
        (str(literal), "org_literal", "Scheduling.Shift.Created")
    ]


def test_upper_case_extensions_read_like_lower_case(make_context, tmp_path):
    gzipped = write_csv(tmp_path / "EVENTS.CSV.GZ", [event(org="org_gz")])
    gzipped.write_bytes(gzip.compress(("\n".join([HEADER, ",".join(event(org="org_gz"))]) + "\n").encode()))
    parquet = tmp_path / "EVENTS.PARQUET"
    pq.write_table(pa.table({name.lower(): [value] for name, value in zip(COLUMNS, event(org="org_pq"))}), parquet)

    assert raw_rows_read(make_context(events_path=gzipped)) == [(str(gzipped), "org_gz", "Scheduling.Shift.Created")]
    assert raw_rows_read(make_context(events_path=parquet)) == [(str(parquet), "org_pq", "Scheduling.Shift.Created")]


def test_paths_with_quotes_and_backslashes_load(project_copy, tmp_path, monkeypatch):
    """config.yaml writes the variables into YAML: a " or \\ in a path must not break it."""
    odd = tmp_path / 'exports "2024" \\ final'
    odd.mkdir()
    path = write_csv(odd / "events.csv", [event(org="org_odd")])
    monkeypatch.setenv("TRIAL_EVENTS_PATH", str(path))
    monkeypatch.setenv("TRIAL_WAREHOUSE_PATH", str(odd / "warehouse.duckdb"))

    context = open_context(project_copy)

    assert raw_rows_read(context) == [(str(path), "org_odd", "Scheduling.Shift.Created")]
    assert context.config.gateways["local"].connection.database == str(odd / "warehouse.duckdb")


def test_the_catalog_name_is_duckdbs(tmp_path):
    """DuckDB names a file's catalog after its name up to the first dot, and renames its own names."""
    for name, catalog in (("trial_activation.duckdb", "trial_activation"), ("warehouse.v2.duckdb", "warehouse"), ("main.duckdb", "main_db")):
        with duckdb.connect(str(tmp_path / name)) as connection:
            assert connection.execute("SELECT current_database()").fetchone()[0] == catalog == warehouse_catalog(Path(name))
        check_warehouse_name(Path(name))  # usable: no error


@pytest.mark.parametrize("name", ['ware"house\\.duckdb', "full.duckdb", "order.duckdb", "2024.duckdb", "my-warehouse.duckdb"])
def test_a_warehouse_file_sqlmesh_cannot_name_is_one_line_before_anything_runs(name, project_copy, tmp_path, capsys):
    """DuckDB names the catalog after the file, and SQLMesh's first plan fails deep inside (a parser
    error at `CREATE TABLE full.sqlmesh__staging...`) when that name is a reserved keyword or not a plain
    identifier: `trial-activation build` says so in one line, naming the file, before it plans."""
    warehouse = tmp_path / name
    code = main(["build", "--project", str(project_copy), "--warehouse", str(warehouse)])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1, err
    assert f"the warehouse file {warehouse} cannot be used" in err and "name the file with letters, digits and _" in err
    assert not warehouse.exists()


def test_parquet_type_check_accepts_dictionary_encoded_text(make_context, tmp_path):
    """A pandas categorical column is stored as a dictionary of strings: text, not a wrong type."""
    columns = {name.lower(): [value] for name, value in zip(COLUMNS, event(org="org_categorical"))}
    table = pa.table(columns)
    table = table.set_column(0, "organization_id", table.column(0).dictionary_encode())
    path = tmp_path / "categorical.parquet"
    pq.write_table(table, path)

    assert raw_rows_read(make_context(events_path=path)) == [(str(path), "org_categorical", "Scheduling.Shift.Created")]


# ---------------------------------------------------------------------------------------------------
# Each file is checked once per version of it: a render of unchanged files reads none of them.


def opens_of(path: Path, monkeypatch) -> list:
    """A list that records every open of `path` from Python in this process from now on: the checks'
    reads (a gzipped file is decompressed through it too); DuckDB's own reader does not open files here."""
    opened = []
    python_open = builtins.open

    def recording_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) == str(path):
            opened.append(os.fspath(file))
        return python_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    return opened


def forget_sqlmesh_caches(project: Path) -> None:
    """SQLMesh's own caches (rendered queries, loaded models, snapshots) out of the project, as in a
    fresh checkout: every model is rendered again when the project loads, and a run renders the raw
    model read back from SQLMesh's state. What the checks found is kept elsewhere (the user's cache)."""
    shutil.rmtree(project / ".cache")


def test_a_plan_with_no_change_reads_no_input_file(make_context, project_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user_cache"))
    path = write_csv(tmp_path / "events.csv.gz", [event(), CONVERTED])
    build(make_context(events_path=path), skip_tests=True)
    forget_sqlmesh_caches(project_copy)
    opened = opens_of(path, monkeypatch)

    plan = build(make_context(events_path=path), skip_tests=True)

    assert not plan.has_changes
    assert opened == []
    # Not vacuous: that load rendered raw.trial_events, which checks the file when its check is not known.
    forget_sqlmesh_caches(project_copy)
    (tmp_path / "user_cache" / "trial-activation" / "checked_files.json").unlink()
    assert not build(make_context(events_path=path), skip_tests=True).has_changes
    assert opened


def test_a_file_corrupted_after_its_check_fails_the_next_load_in_one_line(project_copy, tmp_path, monkeypatch, capsys):
    """Changed in place with its size and modification time kept (the CRC of the gzip trailer flipped,
    the time set back): its change time tells, the file is checked again when the next daily run
    creates the raw view, and the run ends in one line naming the file and what to do."""
    from trial_activation.__main__ import main

    path = write_csv(tmp_path / "events.csv.gz", [event(), CONVERTED, event(at="2024-02-06 10:00:00")])
    warehouse = tmp_path / "w.duckdb"
    context = open_context(project_copy, events_path=path, warehouse_path=warehouse)
    build(context, skip_tests=True, execution_time="2024-02-06")
    context.close()
    checked = os.stat(path)
    content = bytearray(path.read_bytes())
    content[-8] ^= 0xFF
    path.write_bytes(bytes(content))
    os.utime(path, ns=(checked.st_atime_ns, checked.st_mtime_ns))
    assert (os.stat(path).st_size, os.stat(path).st_mtime_ns) == (checked.st_size, checked.st_mtime_ns)

    status = main([
        "run", "--project", str(project_copy), "--events", str(path), "--warehouse", str(warehouse),
        "--end", "2024-02-06", "--execution-time", "2024-02-07",
    ])
    err = capsys.readouterr().err

    assert status == 1, err
    (error,) = [line for line in err.splitlines() if line.startswith("trial-activation run:")]  # the rest: the run's alert
    assert error.startswith(f"trial-activation run: raw.trial_events: {path}: the compressed file is truncated or corrupt (")
    assert error.endswith("); fetch it again")


def test_a_daily_run_reads_no_unchanged_input_file(project_copy, tmp_path, monkeypatch):
    """A daily run creates the raw view again (on DuckDB, at every evaluation): an unchanged file is
    not checked again, also when the run renders the model read back from SQLMesh's state, and the run
    loads its day."""
    path = write_csv(tmp_path / "events.csv.gz", [event(), CONVERTED, event(at="2024-02-06 10:00:00")])
    warehouse = tmp_path / "w.duckdb"
    context = open_context(project_copy, events_path=path, warehouse_path=warehouse)
    build(context, skip_tests=True, execution_time="2024-02-06")
    context.close()
    forget_sqlmesh_caches(project_copy)  # the run then renders the raw model from SQLMesh's state
    opened = opens_of(path, monkeypatch)

    context = open_context(project_copy, events_path=path, warehouse_path=warehouse)
    status = context.run(end="2024-02-06", execution_time="2024-02-07")

    assert not status.is_failure and not status.is_nothing_to_do
    assert opened == []
    assert raw_rows_accounted(context) == (3, 3, 0)
