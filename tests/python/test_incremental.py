"""Incremental daily runs, late-arriving events and many-file input, end to end on a small generated log.

The log is a folder of daily Parquet files (one per event day, as trial_activation.generator
--partition-by-day writes it). SQLMesh processes intervals up to the wall clock (years after the
2024 data), so every build and run here pins its clock with `execution_time` (the CLI's
`plan --execution-time`; a run also with its `end`): "the data up to day D - 1 arrived, then day D did".
What a run computed is read from SQLMesh's state (the intervals it recorded), what a restatement
computes from its plan's missing intervals.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from helpers import newly_computed, planned_intervals
from marts import TOLERANCE, assert_marts_equal, read_marts

from trial_activation.generator import generate
from trial_activation.project import build, open_context
from trial_activation.testing import copy_project

INCREMENTAL_MODELS = (
    "staging.trial_events",
    "intermediate.org_days",
)
ACCOUNTING_MODEL = "staging.trial_events"  # carries the raw_rows_accounted_for audit
# Rebuilt by every run: the goal engine and what reads it.
FULL_MODELS = (
    "intermediate.trial_organizations",
    "intermediate.goal_windows",
    "intermediate.window_metrics",
    "intermediate.window_thresholds",
    "intermediate.goal_thresholds",
    "intermediate.org_goal_metrics",
    "intermediate.goal_completions",
    "marts.trial_goals",
    "marts.trial_activation",
)
BUILD_OPTIONS = {"skip_tests": True, "skip_linter": True}  # unit tests and lint are checked elsewhere


@pytest.fixture(scope="module")
def daily_log(tmp_path_factory):
    """(folder of daily files, [day folders up to and including the new day], new day as a date)."""
    root = tmp_path_factory.mktemp("incremental_log")
    generate(root / "days", orgs=300, seed=7, partition_by_day=True, cohort_days=30)
    days = sorted((root / "days").glob("event_date=*"))
    new_day = days[int(len(days) * 0.8)]  # a day in the thick of the trials, not the log's thin tail
    return root, [d for d in days if d.name <= new_day.name], _day_of(new_day)


def _day_of(folder: Path) -> dt.date:
    return dt.date.fromisoformat(folder.name.split("=", 1)[1])


def _input_folder(folder: Path, days: list[Path]) -> str:
    """A folder of links to `days` (what a landing folder looks like), returned as the glob to read."""
    folder.mkdir(parents=True, exist_ok=True)
    for day in days:
        (folder / day.name).symlink_to(day)
    return str(folder / "*" / "*.parquet")


def _context(root: Path, name: str, events: str):
    project = root / name / "project"
    if not project.exists():
        copy_project(project)
    return open_context(project, events_path=events, warehouse_path=root / name / "warehouse.duckdb")


def _marts(context) -> dict:
    marts = read_marts(context)
    assert all(len(rows) for rows in marts.values()), "a mart is empty: the comparison would be vacuous"
    return marts


def _assert_same_marts(actual: dict, expected: dict) -> None:
    """Equal up to float summation order (an incremental run adds up in another order than a build)."""
    assert_marts_equal(actual, expected, atol=TOLERANCE, rtol=TOLERANCE)


@pytest.fixture(scope="module")
def full_build(daily_log, tmp_path_factory):
    """The marts of a build from scratch on every day up to and including the new day."""
    _, days, new_day = daily_log
    root = tmp_path_factory.mktemp("full_build")
    context = _context(root, "full", _input_folder(root / "input", days))
    build(context, execution_time=new_day + dt.timedelta(days=1), **BUILD_OPTIONS)
    return _marts(context)


@pytest.mark.parametrize(
    "day_share, threshold_moves",
    [(0.8, False), (0.4, True)],
    ids=["late-day-thresholds-stay", "busy-day-thresholds-move"],
)
def test_daily_run_processes_only_the_new_day(daily_log, tmp_path, day_share, threshold_moves):
    """A daily run loads only the new day into the incremental models and rebuilds the goal engine
    from them, on a day that leaves the percentile thresholds where they were and on one that moves
    them: the marts equal a full build on the same days."""
    root, _, _ = daily_log
    all_days = sorted((root / "days").glob("event_date=*"))
    days = all_days[: int(len(all_days) * day_share) + 1]
    new_day = _day_of(days[-1])
    events = _input_folder(tmp_path / "input", days[:-1])
    context = _context(tmp_path, "daily", events)
    # Prod as of midnight before the new day: every interval up to new_day - 1 is processed.
    build(context, execution_time=new_day, **BUILD_OPTIONS)
    thresholds = "SELECT goal_id, threshold FROM intermediate.goal_thresholds ORDER BY goal_id"
    thresholds_before = context.fetchdf(thresholds)

    (tmp_path / "input" / days[-1].name).symlink_to(days[-1])  # the new day's file lands
    context = _context(tmp_path, "daily", events)  # a new process, as the daily cron job would be
    day_start = dt.datetime.combine(new_day, dt.time())
    day_end = day_start + dt.timedelta(days=1)
    with newly_computed(context, context.state_reader.get_environment("prod").snapshots) as computed:
        context.run(end=new_day, execution_time=day_end)  # the run just after midnight

    for model in INCREMENTAL_MODELS:
        assert computed.get(model) == [(day_start, day_end)], model
    assert set(FULL_MODELS) <= set(computed)
    assert (not context.fetchdf(thresholds).equals(thresholds_before)) == threshold_moves

    reference = _context(tmp_path, "full", _input_folder(tmp_path / "all_input", days))
    build(reference, execution_time=new_day + dt.timedelta(days=1), **BUILD_OPTIONS)
    _assert_same_marts(_marts(context), _marts(reference))


def test_late_event_restatement_equals_full_rebuild(daily_log, tmp_path):
    _, days, new_day = daily_log
    events = _input_folder(tmp_path / "input", days)
    run_clock = new_day + dt.timedelta(days=1)
    context = _context(tmp_path, "late", events)
    build(context, execution_time=run_clock, **BUILD_OPTIONS)
    before = _marts(context)

    # A late file with events for an already processed day: 40 extra in-trial events of one
    # organization, a second apart after one of its real events, so its week-1 goal changes.
    late_day = days[len(days) // 3]
    source = str(late_day / "*.parquet")
    late_dir = tmp_path / "input" / "late_delivery"
    late_dir.mkdir()
    duckdb.execute(
        f"""
        COPY (
          WITH first_event AS (
            SELECT * FROM READ_PARQUET('{source}', hive_partitioning = FALSE)
            WHERE "timestamp" BETWEEN trial_start AND trial_end
              AND DATE_DIFF('day', trial_start, "timestamp") < 6
            ORDER BY organization_id, "timestamp"
            LIMIT 1
          )
          SELECT first_event.* REPLACE ("timestamp" + TO_SECONDS(i) AS "timestamp")
          FROM first_event, RANGE(1, 41) AS r(i)
          WHERE CAST("timestamp" + TO_SECONDS(i) AS DATE) = CAST("timestamp" AS DATE)
        ) TO '{late_dir / "part-0.parquet"}' (FORMAT PARQUET)
        """
    )
    late_rows = duckdb.sql(f"SELECT COUNT(*) FROM '{late_dir / 'part-0.parquet'}'").fetchone()[0]
    assert late_rows > 0

    # Found by the documented check: the accounting audit over the days already loaded lists the day.
    context = _context(tmp_path, "late", events)
    day = _day_of(late_day)
    loaded_days = dict(start=_day_of(days[0]), end=new_day, execution_time=run_clock, models=[ACCOUNTING_MODEL])
    assert not context.audit(**loaded_days)

    # The documented path: restate the affected day of staging.trial_events. SQLMesh restates the
    # same interval of every downstream incremental-by-time model, and rebuilds the FULL ones.
    restatement = context.plan(
        "prod", restate_models=["staging.trial_events"], start=day, end=day, execution_time=run_clock,
        auto_apply=False, no_prompts=True, **BUILD_OPTIONS,
    )
    planned = planned_intervals(restatement)
    day_start = dt.datetime.combine(day, dt.time())
    for model in INCREMENTAL_MODELS:
        assert planned.get(model) == [(day_start, day_start + dt.timedelta(days=1))], model
    assert set(FULL_MODELS) <= set(planned)
    context.apply(restatement)
    assert context.audit(**loaded_days)  # every raw row accounted for again
    after = _marts(context)
    with pytest.raises(AssertionError):
        _assert_same_marts(after, before)  # the late events did change the marts

    reference = _context(tmp_path, "rebuild", events)
    build(reference, execution_time=run_clock, **BUILD_OPTIONS)
    _assert_same_marts(after, _marts(reference))


def test_a_first_load_in_batches_equals_one_in_a_single_batch(daily_log, full_build, tmp_path):
    """Typed Parquet is loaded into staging.trial_events 30 days per batch by a first build (full_build:
    the log spans two); the same rows with text timestamps cannot skip other days' row
    groups, so they are loaded in one batch. Both give the same marts."""
    _, days, new_day = daily_log
    assert (new_day - _day_of(days[0])).days > 30, "the log must span two batches at least"
    typed = _context(tmp_path, "typed", _input_folder(tmp_path / "input", days))
    assert typed.get_model("staging.trial_events").kind.batch_size == 30
    text = tmp_path / "text.parquet"
    files = ", ".join(f"'{f}'" for d in days for f in sorted(d.glob("*.parquet")))
    duckdb.execute(
        f"COPY (SELECT COLUMNS(*)::VARCHAR FROM READ_PARQUET([{files}], hive_partitioning = FALSE)) TO '{text}' (FORMAT PARQUET)"
    )
    context = _context(tmp_path, "text", str(text))
    assert context.get_model("staging.trial_events").kind.batch_size > (new_day - _day_of(days[0])).days
    build(context, execution_time=new_day + dt.timedelta(days=1), **BUILD_OPTIONS)
    _assert_same_marts(_marts(context), full_build)


def test_single_file_equals_folder_of_daily_files(daily_log, full_build, tmp_path):
    _, days, new_day = daily_log
    single = tmp_path / "trial_events.parquet"
    files = ", ".join(f"'{f}'" for d in days for f in sorted(d.glob("*.parquet")))
    duckdb.execute(f"COPY (SELECT * FROM READ_PARQUET([{files}], hive_partitioning = FALSE)) TO '{single}' (FORMAT PARQUET)")
    context = _context(tmp_path, "single", str(single))
    build(context, execution_time=new_day + dt.timedelta(days=1), **BUILD_OPTIONS)
    _assert_same_marts(_marts(context), full_build)
