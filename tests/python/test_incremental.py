"""Incremental daily runs, late-arriving events and many-file input, end to end on a small generated log.

The log is a folder of daily Parquet files (one per event day, as trial_activation.generate
--partition-by-day writes it). SQLMesh processes intervals up to the wall clock (years after the
2024 data), so every build and run here pins its clock with `execution_time` (the CLI's
`plan --execution-time`) or `run(end=...)`: "the data up to day D - 1 arrived, then day D did".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from project_copy import copy_project
from trial_activation.generate import generate
from trial_activation.project import build, open_context

MARTS = {
    "marts.trial_goals": "organization_id, goal_id",
    "marts.trial_activation": "organization_id",
}
INCREMENTAL_MODELS = (
    "staging.trial_events",
    "staging.trial_events_quarantine_dated",
    "intermediate.trial_organization_days",
    "intermediate.org_daily_activity",
)
ACCOUNTING_MODEL = "staging.trial_events_quarantine_dated"  # carries the raw_rows_accounted_for audit
# Incremental by organization: a run merges in the organizations with events in its interval.
ORGANIZATION_MODELS = (
    "intermediate.org_goal_metrics",
    "intermediate.goal_completions",
)
# Rebuilt by every run.
FULL_MODELS = (
    "staging.trial_events_quarantine",
    "intermediate.trial_organizations",
    "marts.trial_goals",
    "marts.trial_activation",
)
# Stamps each run's goal thresholds with the interval's last day (goal_completions reads the previous one).
HISTORY_MODEL = "intermediate.goal_threshold_history"
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


def _marts(context) -> dict[str, pd.DataFrame]:
    return {
        model: context.fetchdf(f"SELECT * FROM {model} ORDER BY {order}").reset_index(drop=True)
        for model, order in MARTS.items()
    }


def _assert_same_marts(actual: dict, expected: dict) -> None:
    for model in MARTS:
        assert len(actual[model]) > 0
        pd.testing.assert_frame_equal(actual[model], expected[model], check_exact=False, rtol=1e-9)


def _record_evaluations(context) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """Every (model, interval start, interval end) the context evaluates from now on."""
    evaluations = []
    original = context.console.update_snapshot_evaluation_progress

    def record(snapshot, interval, *args, **kwargs):
        start, end = (dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).replace(tzinfo=None) for ms in interval)
        evaluations.append((snapshot.name.replace('"', "").split(".", 1)[1], start, end))
        return original(snapshot, interval, *args, **kwargs)

    context.console.update_snapshot_evaluation_progress = record
    return evaluations


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
    """A daily run loads the new day and merges in the organizations it touched; their goal
    completions are re-evaluated only where the day can have changed them, except on a day that moves
    a percentile threshold, when every organization's completion of that goal is (intermediate.
    goal_completions): the marts equal a full build on the same days only if both paths are right."""
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
    evaluations = _record_evaluations(context)
    context.run(end=new_day)

    day_start, day_end = dt.datetime.combine(new_day, dt.time()), dt.datetime.combine(new_day, dt.time()) + dt.timedelta(days=1)
    for model in INCREMENTAL_MODELS + ORGANIZATION_MODELS + (HISTORY_MODEL,):
        assert [(s, e) for m, s, e in evaluations if m == model] == [(day_start, day_end)], model
    evaluated = {m for m, _, _ in evaluations}
    assert set(FULL_MODELS) <= evaluated
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
    # same interval of every downstream incremental-by-time model, and rebuilds the downstream
    # incremental-by-organization models (it restates INCREMENTAL_BY_UNIQUE_KEY models in full) and
    # the FULL ones.
    evaluations = _record_evaluations(context)
    context.plan(
        "prod", restate_models=["staging.trial_events"], start=day, end=day, execution_time=run_clock,
        auto_apply=True, no_prompts=True, **BUILD_OPTIONS,
    )
    day_start = dt.datetime.combine(day, dt.time())
    for model in INCREMENTAL_MODELS:
        assert [(s, e) for m, s, e in evaluations if m == model] == [(day_start, day_start + dt.timedelta(days=1))], model
    assert set(FULL_MODELS) | set(ORGANIZATION_MODELS) <= {m for m, _, _ in evaluations}
    assert context.audit(**loaded_days)  # every raw row accounted for again
    # The threshold history is rebuilt with the marts (unique-key models restate in full): its only
    # rows are the thresholds the rebuilt marts used, which the next daily run compares with.
    history = context.fetchdf(f"SELECT goal_id, threshold FROM {HISTORY_MODEL} ORDER BY goal_id")
    assert history.equals(context.fetchdf("SELECT goal_id, threshold FROM intermediate.goal_thresholds ORDER BY goal_id"))
    after = _marts(context)
    with pytest.raises(AssertionError):
        _assert_same_marts(after, before)  # the late events did change the marts

    reference = _context(tmp_path, "rebuild", events)
    build(reference, execution_time=run_clock, **BUILD_OPTIONS)
    _assert_same_marts(after, _marts(reference))


def test_single_file_equals_folder_of_daily_files(daily_log, full_build, tmp_path):
    _, days, new_day = daily_log
    single = tmp_path / "trial_events.parquet"
    files = ", ".join(f"'{f}'" for d in days for f in sorted(d.glob("*.parquet")))
    duckdb.execute(f"COPY (SELECT * FROM READ_PARQUET([{files}], hive_partitioning = FALSE)) TO '{single}' (FORMAT PARQUET)")
    context = _context(tmp_path, "single", str(single))
    build(context, execution_time=new_day + dt.timedelta(days=1), **BUILD_OPTIONS)
    _assert_same_marts(_marts(context), full_build)
