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

import gzip
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlmesh.utils.errors import SQLMeshError

from trial_activation.project import build, copy_project, open_context

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


FILE_ERRORS = {
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


def test_row_with_wrong_number_of_fields_fails_naming_file_and_line(make_context, tmp_path):
    """A ragged row fails the load rather than being quarantined: which value belongs to which column
    is unknown (an unquoted comma, a truncated export), so no reason could be trusted; DuckDB's error
    names the file, the line and the field count, and nothing reaches staging or the marts."""
    path = write_csv(tmp_path / "ragged.csv", [event(), event(at="2024-02-03 10:00:00")[:6], event()])
    context = make_context(events_path=path)
    failures = []
    context.console.log_failed_models = failures.extend  # the plan's error only says "failed"

    with pytest.raises(SQLMeshError, match="Plan application failed"):
        build(context, skip_tests=True)

    messages = "\n".join(str(failure.__cause__) for failure in failures)
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
    with pytest.MonkeyPatch.context() as patch:
        for name in ("TRIAL_EVENTS_PATH", "TRIAL_WAREHOUSE_PATH"):
            patch.setenv(name, "")  # so that leaving the block removes what open_context sets
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
    assert rows_build.audit(start="2024-01-01", end="2024-12-31", models=["staging.trial_events_quarantine_dated"])


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
    audit = dict(start="2024-02-03", end="2024-12-31", models=["staging.trial_events_quarantine_dated"])
    assert context.audit(**audit)

    staged_table = context.get_snapshot("staging.trial_events", raise_if_missing=True).table_name()
    context.engine_adapter.execute(f"DELETE FROM {staged_table} WHERE event_at = '2024-02-03 10:00:00'")

    assert raw_rows_accounted(context) == (4, 1, 2)
    assert not context.audit(**audit)


def test_events_of_today_are_pending_not_lost(make_context, tmp_path):
    """A live export holds events of today, which the daily load takes tomorrow: the plan succeeds,
    they are not staged yet, and the accounting audit of the loaded days passes. Audited with today
    included (a day not loaded yet), the same audit reports them."""
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    start = now - timedelta(days=2)
    today = event(org="org_live", at=f"{now}", trial_start=f"{start}", trial_end=f"{start + timedelta(days=30)}")
    context = make_context(events_path=write_csv(tmp_path / "events.csv", [event(), CONVERTED, today]))
    build(context, skip_tests=True)

    assert raw_rows_accounted(context) == (3, 2, 0)
    loaded_days = dict(start="2024-01-01", models=["staging.trial_events_quarantine_dated"])
    assert context.audit(end=(now.date() - timedelta(days=1)).isoformat(), **loaded_days)
    assert not context.audit(end=now.date().isoformat(), **loaded_days)
