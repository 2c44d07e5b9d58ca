"""The trial-activation CLI: an anticipated error is one line naming what is wrong and what to do, with
exit status 1 (the traceback only with --debug); build and summary say which input they used."""

from __future__ import annotations

import csv
import gzip
import os
import subprocess
import sys

import pytest
from sqlmesh import Context

from trial_activation.__main__ import main
from trial_activation.project import PROJECT_ROOT
from trial_activation.testing import SAMPLE_LOG

from helpers import edit_goal, plan_dev_with_edit


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_missing_input_file_is_one_line_and_debug_shows_the_traceback(project_copy, tmp_path, capsys):
    missing = tmp_path / "nowhere.csv"
    args = ("build", "--project", str(project_copy), "--events", str(missing), "--warehouse", str(tmp_path / "w.duckdb"))

    status, out, err = run_cli(capsys, *args)

    assert status == 1
    assert err.splitlines() == [f"trial-activation build: {missing}: file not found (TRIAL_EVENTS_PATH)"]
    with pytest.raises(Exception, match="file not found"):
        main(["--debug", *args])


def test_locked_warehouse_says_what_holds_it_and_what_to_do(project_copy, tmp_path, capsys):
    """Another process holding the warehouse, as `sqlmesh ui` does: the CLI names the file and the PID."""
    warehouse = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(warehouse)!r}); print('open', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"  # the lock is held from here on
        status, _, err = run_cli(capsys, "summary", "--project", str(project_copy), "--warehouse", str(warehouse))
    finally:
        holder.communicate("", timeout=60)

    assert status == 1
    assert len(err.splitlines()) == 1
    assert err.startswith(f"trial-activation summary: the warehouse {warehouse} is being written by another process (PID {holder.pid}: ")
    assert err.rstrip().endswith(
        "): run this again when it is done (`--wait SECONDS` waits for it), stop it, or set TRIAL_WAREHOUSE_PATH"
        " to another warehouse file"
    )


def test_goal_that_breaks_a_rule_is_named_with_the_rule(project_copy, tmp_path, capsys):
    edit_goal(project_copy / "seeds" / "activation_goals.csv", "week_2_activity", window_start_day=14)

    status, _, err = run_cli(
        capsys, "build", "--project", str(project_copy), "--warehouse", str(tmp_path / "w.duckdb")
    )

    assert status == 1
    assert err.splitlines() == [
        "trial-activation build: staging.activation_goals: audit valid_goal_definitions failed (1 row: goal_id"
        " week_2_activity, goal_kind window_count, broken_rule window_start_day is after window_end_day)"
    ]


def test_goals_that_break_rules_are_each_named_with_their_rule(project_copy, tmp_path, capsys):
    """A goal_id twice, a pattern ending in a lone backslash (DuckDB would stop in goal_windows with
    'Like pattern must not end with escape character!', naming no goal), a window starting before
    trial_start: one line, each goal with its rule."""
    seed = project_copy / "seeds" / "activation_goals.csv"
    edit_goal(seed, "week_1_activity", activity_pattern="Scheduling.\\")
    edit_goal(seed, "week_4_steadiness", window_start_day=-7)
    lines = seed.read_text(encoding="utf-8").splitlines()
    copy = next(line for line in lines if line.startswith("week_2_activity,")).replace(",2,Week 2 activity,", ",9,Week 2 again,")
    seed.write_text("\n".join([*lines, copy]) + "\n", encoding="utf-8")

    status, _, err = run_cli(capsys, "build", "--project", str(project_copy), "--warehouse", str(tmp_path / "w.duckdb"))

    assert status == 1
    heading = "trial-activation build: staging.activation_goals: audit valid_goal_definitions failed (4 rows: "
    [line] = err.splitlines()
    assert line.startswith(heading) and line.endswith(")")
    repeated = "goal_id week_2_activity, goal_kind window_count, broken_rule goal_id is repeated: each goal once (edit or remove the other row)"
    assert sorted(line[len(heading) : -1].split(" | ")) == [
        "goal_id week_1_activity, goal_kind window_count, broken_rule activity_pattern ends with a lone backslash, which"
        " escapes the character after it: write \\\\ for a backslash",
        repeated,
        repeated,
        "goal_id week_4_steadiness, goal_kind steadiness, broken_rule window_start_day is negative: trial days count"
        " from 0, the day of trial_start",
    ]


def test_grid_rows_that_break_rules_are_each_named_with_their_rule(project_copy, tmp_path, capsys):
    grid = project_copy / "seeds" / "candidate_goal_grid.csv"
    text = grid.read_text(encoding="utf-8").replace("window,7-13,7,13,", "window,7-13,13,7,")
    grid.write_text(text + "activity_pattern,Scheduling.\\,,,,,A pattern ending in a lone backslash\n", encoding="utf-8")

    status, _, err = run_cli(capsys, "build", "--project", str(project_copy), "--warehouse", str(tmp_path / "w.duckdb"))

    assert status == 1
    heading = "trial-activation build: staging.candidate_goal_grid: audit valid_candidate_grid failed (2 rows: "
    [line] = err.splitlines()
    assert line.startswith(heading) and line.endswith(")")
    assert sorted(line[len(heading) : -1].split(" | ")) == [
        "dimension activity_pattern, value Scheduling.\\, broken_rule the pattern ends with a lone backslash, which"
        " escapes the character after it: write \\\\ for a backslash",
        "dimension window, value 7-13, broken_rule window_start_day is after window_end_day",
    ]


def test_a_goal_kind_not_accepted_is_listed_with_the_accepted_ones(project_copy, tmp_path, capsys):
    edit_goal(project_copy / "seeds" / "activation_goals.csv", "week_1_activity", goal_kind="windowcount")

    status, _, err = run_cli(capsys, "build", "--project", str(project_copy), "--warehouse", str(tmp_path / "w.duckdb"))

    assert status == 1
    [line] = err.splitlines()
    assert line.startswith("trial-activation build: staging.activation_goals: audit accepted_values failed (1 row: goal_id week_1_activity,")
    assert ", goal_kind windowcount, " in line and line.endswith("; accepted: ('window_count', 'active_days', 'steadiness'))")


def test_run_on_a_warehouse_never_built_says_build_first(project_copy, tmp_path, capsys):
    """Of a warehouse file that does not exist (and leaves none behind), or of an empty DuckDB file."""
    import duckdb

    missing = tmp_path / "new.duckdb"
    status, _, err = run_cli(capsys, "run", "--project", str(project_copy), "--warehouse", str(missing))
    assert not missing.exists()
    duckdb.connect(str(missing)).close()
    dev_status, _, dev_err = run_cli(capsys, "run", "--project", str(project_copy), "--warehouse", str(missing))

    assert status == dev_status == 1
    assert err.splitlines()[-1] == (
        f"trial-activation run: there is no warehouse at {missing}: build it first (`trial-activation build`), or point"
        " --warehouse / TRIAL_WAREHOUSE_PATH at the one that was built"
    )
    assert dev_err.splitlines()[-1] == "trial-activation run: environment 'prod' does not exist: build it first (`trial-activation build -e prod`)"


def test_a_report_that_cannot_be_written_names_the_path_asked_for(sample_build, tmp_path, capsys, monkeypatch):
    """The report is written to a temporary file beside the path, then renamed: an error names the path."""
    import errno
    import tempfile

    context, _ = sample_build
    out = tmp_path / "report.html"
    mkstemp = tempfile.mkstemp

    def refused(*args, dir=None, prefix="", suffix="", **kwargs):  # in the report's folder only (SQLMesh caches too)
        if str(dir) != str(out.parent):
            return mkstemp(*args, dir=dir, prefix=prefix, suffix=suffix, **kwargs)
        raise PermissionError(errno.EACCES, "Permission denied", f"{dir}/{prefix}x{suffix}")

    monkeypatch.setattr(tempfile, "mkstemp", refused)

    status, _, err = run_cli(capsys, "report", "--project", str(context.path), "--warehouse", str(context.path.parent / "warehouse.duckdb"), "--out", str(out))

    assert status == 1
    assert err.splitlines() == [f"trial-activation report: {out}: Permission denied: give another path, or one you may write to"]


def test_a_goal_seed_without_goals_says_so(project_copy, tmp_path, capsys):
    seed = project_copy / "seeds" / "activation_goals.csv"
    seed.write_text(seed.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")

    status, _, err = run_cli(capsys, "build", "--project", str(project_copy), "--warehouse", str(tmp_path / "w.duckdb"))

    assert status == 1
    assert err.splitlines() == [
        "trial-activation build: staging.activation_goals: audit valid_goal_definitions failed (1 row: goal_id None,"
        " goal_kind None, broken_rule the seed has no goals: add a row per goal to seeds/activation_goals.csv (docs/goals.md))"
    ]


@pytest.mark.parametrize(
    "seed, edit, message",
    [
        ("activation_goals.csv", lambda text: "", "seeds/activation_goals.csv: the file is empty: it needs its header row, then a row per entry"),
        (
            "activation_goals.csv",
            lambda text: text.replace(",Week 2 activity,", ",Week 2, activity,"),
            'seeds/activation_goals.csv line 3: 17 fields where the header has 16: separate fields with commas, and put'
            ' a value that holds a comma in double quotes ("a, b")',
        ),
        (
            "known_activities.csv",
            lambda text: text.replace("Absence.Request.Created,Absence", "Absence.Request.Created,Abwesenheit \u00e4"),
            "seeds/known_activities.csv line 3: not UTF-8 text: save the file as UTF-8 (CSV UTF-8 in a spreadsheet)",
        ),
    ],
    ids=["empty", "a-comma-unquoted", "not-utf8"],
)
def test_a_seed_that_does_not_parse_is_named_with_its_line(project_copy, tmp_path, capsys, seed, edit, message):
    """SQLMesh parses seeds with pandas while it loads the project, and its error names no file."""
    path = project_copy / "seeds" / seed
    text = edit(path.read_text(encoding="utf-8"))
    path.write_bytes(text.encode("cp1252"))  # cp1252 is UTF-8 for the first two cases' ASCII text

    status, _, err = run_cli(capsys, "build", "--project", str(project_copy), "--warehouse", str(tmp_path / "w.duckdb"))

    assert status == 1
    assert err.splitlines() == [f"trial-activation build: {message}"]


def test_a_warehouse_path_holding_something_else_is_named(project_copy, tmp_path, capsys):
    not_duckdb, folder = tmp_path / "notes.duckdb", tmp_path / "folder.duckdb"
    not_duckdb.write_text("not a database\n")
    folder.mkdir()

    said = {path: run_cli(capsys, "summary", "--project", str(project_copy), "--warehouse", str(path)) for path in (not_duckdb, folder)}

    assert said[not_duckdb][0] == said[folder][0] == 1
    assert said[not_duckdb][2].splitlines() == [
        f"trial-activation summary: {not_duckdb} is not a DuckDB database file (left as it is): point the setting that"
        " names it (--warehouse / TRIAL_WAREHOUSE_PATH, or TRIAL_SPARK_STATE_PATH) at a DuckDB file, or at a path that"
        " does not exist yet to create one"
    ]
    assert said[folder][2].splitlines() == [
        f"trial-activation summary: {folder} is a folder, not a warehouse file: point --warehouse / TRIAL_WAREHOUSE_PATH"
        " at a .duckdb file (a path that does not exist yet builds a new warehouse there)"
    ]
    assert not_duckdb.read_text() == "not a database\n"


def test_a_renamed_warehouse_says_its_name_and_environment_names_are_sqlmeshs(sample_build, tmp_path, capsys):
    """DuckDB names a file's catalog after the file, and SQLMesh's state names every table with it; an
    environment name is stored lower case, as `sqlmesh plan DEV` does."""
    import shutil

    context, _ = sample_build
    context.engine_adapter.execute("CHECKPOINT")  # the copy below then holds every table
    built = context.path.parent / "warehouse.duckdb"
    renamed = tmp_path / "renamed.duckdb"
    shutil.copyfile(built, renamed)

    status, _, err = run_cli(capsys, "summary", "--project", str(context.path), "--warehouse", str(renamed))
    upper_status, out, _ = run_cli(capsys, "summary", "--project", str(context.path), "--warehouse", str(built), "-e", "PROD")

    assert status == 1
    assert err.splitlines() == [
        "trial-activation summary: this warehouse was built in a file named warehouse.duckdb and its tables are named"
        " after it: rename (or copy) the file back to warehouse.duckdb, in any folder"
    ]
    assert upper_status == 0 and "Input (prod):" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "--target", "prod"], "--source and --target are both 'prod': compare two environments, e.g. --source prod --target dev"),
        (["compare", "--sample", "-1"], "--sample takes how many organization ids to list per direction, 0 or more, not -1"),
        (["run", "--start", "notadate"], "--start 'notadate' is not a date or time: give e.g. 2024-05-01 or '2024-05-01 06:00'"),
        (["run", "--start", "2024-03-01", "--end", "2024-02-01"], "--start 2024-03-01 is after --end 2024-02-01"),
    ],
    ids=["compare-itself", "negative-sample", "not-a-date", "start-after-end"],
)
def test_arguments_sqlmesh_would_reject_with_a_traceback_are_usage_errors(capsys, monkeypatch, argv, message):
    """The daily job's own mistakes alert too (on the console here: no webhook set)."""
    monkeypatch.delenv("TRIAL_ALERT_WEBHOOK_URL", raising=False)
    with pytest.raises(SystemExit) as exit_status:
        main(argv)

    err = capsys.readouterr().err.splitlines()
    assert exit_status.value.code == 2
    assert err[-1] == f"trial-activation {argv[0]}: error: {message}"
    assert any(line.startswith("alert: ") and "daily run FAILED" in line and message in line for line in err) == (argv[0] == "run")


def test_build_from_a_sub_directory_resolves_both_variables_against_the_project_and_reports_its_input(
    project_copy, capsys, monkeypatch
):
    """Relative TRIAL_EVENTS_PATH and TRIAL_WAREHOUSE_PATH are both relative to the project root, wherever
    the command runs; build and then summary print the file read and its raw rows."""
    monkeypatch.chdir(project_copy / "models")
    monkeypatch.setenv("TRIAL_EVENTS_PATH", "data/sample/trial_events.csv.gz")
    monkeypatch.setenv("TRIAL_WAREHOUSE_PATH", "warehouse/from_subdir.duckdb")
    with gzip.open(SAMPLE_LOG, "rt", newline="") as handle:
        raw_rows = sum(1 for _ in csv.reader(handle)) - 1

    status, out, _ = run_cli(capsys, "build", "--project", str(project_copy))
    summary_status, summary, _ = run_cli(capsys, "summary", "--project", str(project_copy))

    assert (status, summary_status) == (0, 0)
    assert (project_copy / "warehouse" / "from_subdir.duckdb").exists()
    assert not (project_copy / "models" / "warehouse").exists()
    line = f"Input (prod): {raw_rows:,} raw rows from {project_copy / 'data' / 'sample' / 'trial_events.csv.gz'}"
    assert out.splitlines()[:2] == [f"project: {project_copy}", line]
    assert summary.splitlines()[:2] == [f"project: {project_copy}", line]


def test_a_cli_build_and_a_plain_sqlmesh_plan_see_the_same_project(project_copy, tmp_path, capsys, monkeypatch):
    """The CLI passes the warehouse and the input to SQLMesh in its config, not through the environment;
    a plain `sqlmesh plan` (a Context on the project, reading config.yaml) on the same warehouse and
    variables then plans no change: the fingerprints agree, the relative TRIAL_EVENTS_PATH included."""
    warehouse = tmp_path / "w.duckdb"
    monkeypatch.chdir(project_copy)
    monkeypatch.setenv("TRIAL_EVENTS_PATH", "data/sample/trial_events.csv.gz")

    status, _, err = run_cli(capsys, "build", "--project", str(project_copy), "--warehouse", str(warehouse))
    assert status == 0, err
    assert "TRIAL_WAREHOUSE_PATH" not in os.environ  # the CLI set nothing for the plan below to inherit
    monkeypatch.setenv("TRIAL_WAREHOUSE_PATH", str(warehouse))
    plan = Context(paths=str(project_copy)).plan("prod", no_prompts=True, auto_apply=False, skip_tests=True)

    assert not plan.has_changes
    assert plan.missing_intervals == []


def test_generate_help_names_the_command(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])

    assert capsys.readouterr().out.startswith("usage: trial-activation generate ")


def test_loading_the_project_forks_no_worker_process(project_copy, tmp_path):
    """SQLMesh loads models in forked workers unless told not to; a killed build would orphan them.
    The CLI tells it (the library leaves the process's environment alone). Here any fork fails the build."""
    script = (
        "import os, sys\n"
        "def no_fork(*args, **kwargs):\n"
        "    raise AssertionError('forked a worker process')\n"
        "os.fork = no_fork\n"
        "from trial_activation.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--debug", "build", "--project", str(project_copy), "--warehouse", str(tmp_path / "w.duckdb")],
        capture_output=True,
        text=True,
        timeout=600,
        env={key: value for key, value in os.environ.items() if key != "MAX_FORK_WORKERS"},
    )

    assert done.returncode == 0, done.stderr[-2000:]


def test_compare_shows_the_floor_when_it_and_not_the_percentile_is_the_threshold():
    import pandas as pd

    from trial_activation.compare import EnvironmentComparison, format_comparison

    goal = {"rule": "p75", "threshold": 1.0, "percentile_value": 0.0, "threshold_floor": 1.0, "is_floor_the_threshold": True,
            "completed": 2, "organizations": 10, "completion_rate": 0.2}
    other = {**goal, "rule": "p60", "threshold": 9.0, "percentile_value": 9.0, "is_floor_the_threshold": False}
    goals = pd.DataFrame(
        [{"goal_id": "week_2_activity", **{f"{k}_source": v for k, v in goal.items()},
          **{f"{k}_target": v for k, v in other.items()}}]
    )
    comparison = EnvironmentComparison("prod", "dev", (10, 10), (1, 1), 0, 0, goals=goals)

    line = format_comparison(comparison).splitlines()[-1]

    assert line.split()[:8] == ["week_2_activity", "p75", "=", "0,", "floor", "1", "->", "p60:"]


def test_compare_shows_each_goals_held_out_check_and_as_of_in_both_environments(sample_build, capsys, caplog):
    """A threshold experiment (week_1_activity at p60 in dev): compare prints each environment's as_of and,
    per goal, the held-out figures of marts.goal_conversion (population holdout) in prod and in dev; the
    table diff's SQL is not logged (outside pytest, logged records reach stderr)."""
    import pandas as pd

    context, _ = sample_build
    dev = "cli_compare_dev"
    seed = context.path / "seeds" / "activation_goals.csv"
    original = seed.read_bytes()
    edit_goal(seed, "week_1_activity", threshold_percentile=60)
    edited = seed.read_bytes()
    seed.write_bytes(original)
    plan_dev_with_edit(context, dev, seed, edited)
    warehouse = context.path.parent / "warehouse.duckdb"

    status, out, _ = run_cli(capsys, "compare", "--project", str(context.path), "--warehouse", str(warehouse), "--target", dev)

    assert status == 0
    assert [r.getMessage()[:40] for r in caplog.records if r.name.startswith("sqlmesh.core.engine_adapter")] == []
    lines = out.splitlines()
    as_of = pd.Timestamp(context.fetchdf("SELECT MAX(as_of) AS a FROM marts.trial_activation").a.iloc[0]).strftime("%Y-%m-%d %H:%M UTC")
    assert f"  data as of               {as_of} -> {as_of}" in lines
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("held-out check"))
    shown = {line.split()[0]: line for line in lines[start + 2 :]}

    def figures(suffix: str) -> pd.DataFrame:
        return context.fetchdf(
            f"SELECT * FROM marts{suffix}.goal_conversion WHERE population = 'holdout' ORDER BY goal_order"
        ).set_index("goal_id")

    prod, target = figures(""), figures(f"__{dev}")
    assert list(shown) == list(prod.index) == list(target.index)

    def text(row) -> str:
        return (
            f"{100 * row.rate_difference:+.1f} pts [{100 * row.rate_difference_low:+.1f}, {100 * row.rate_difference_high:+.1f}]"
        )

    for goal, line in shown.items():
        a, b = prod.loc[goal], target.loc[goal]
        assert f"{a.organizations:,} ({a.completed:,} completed) -> {b.organizations:,} ({b.completed:,} completed)" in line
        assert line.rstrip().endswith(f"{text(a)} -> {text(b)}")
    # The experiment moved week_1_activity's held-out completers (its threshold changed on the search part).
    assert prod.loc["week_1_activity"].completed != target.loc["week_1_activity"].completed


def test_row_with_a_wrong_field_count_names_the_file_and_line(project_copy, tmp_path, capsys):
    header = "ORGANIZATION_ID,ACTIVITY_NAME,TIMESTAMP,CONVERTED,CONVERTED_AT,TRIAL_START,TRIAL_END"
    good = "org_a,Scheduling.Shift.Created,2024-02-02 10:00:00,False,,2024-02-01 09:00:00,2024-03-02 09:00:00"
    events = tmp_path / "ragged.csv"
    events.write_text("\n".join([header, good, good.replace(",False,", ",False")]) + "\n")

    status, _, err = run_cli(
        capsys, "build", "--project", str(project_copy), "--events", str(events), "--warehouse", str(tmp_path / "w.duckdb")
    )

    assert status == 1
    assert len(err.splitlines()) == 1
    assert "CSV Error on Line: 3" in err and f"(file {events})" in err


def test_a_model_that_does_not_load_is_named_with_its_cause(project_copy, tmp_path, capsys):
    """SQLMesh's loader puts the cause on the lines after its heading: the one line keeps both."""
    (project_copy / "models" / "marts" / "broken.sql").write_text(
        "MODEL (name marts.broken, kind FULL);\nSELECT organization_id FROM marts.trial_activation WHERE (\n"
    )
    status, _, err = run_cli(
        capsys, "build", "--project", str(project_copy), "--warehouse", str(tmp_path / "w.duckdb")
    )

    assert status == 1
    assert len(err.splitlines()) == 1
    assert "broken.sql" in err and not err.rstrip().endswith(":")
    heading, _, cause = err.partition("broken.sql")
    assert len(cause.strip(" ':")) > 10, err  # something after the heading: what is wrong
