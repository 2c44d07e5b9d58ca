"""The analyst's loop, timed: how long each step of a threshold experiment makes a person wait.

On a fresh copy of the project and a fresh warehouse (in a temporary folder), each step is one
whole command in a subprocess, as a person types it, timed from start to exit (wall clock and CPU of
the process and its children):

    floor_import   python -c "import sqlmesh": the physical floor of any sqlmesh command
    build          sqlmesh plan --auto-apply --no-prompts   (fresh warehouse: the full build)
    plan_no_change sqlmesh plan --auto-apply --no-prompts   (again, nothing changed)
    test           sqlmesh test                              (the YAML unit tests)
    plan_no_change_tests_changed_only
                   sqlmesh plan --auto-apply --no-prompts --test-changed-only (nothing changed)
    plan_dev_edit  week_1_activity's threshold_percentile edited in the seed, then
                   sqlmesh plan dev --auto-apply --no-prompts
    plan_dev_edit_tests_changed_only
                   the percentile edited again, then
                   sqlmesh plan dev --auto-apply --no-prompts --test-changed-only
    compare        trial-activation compare                  (prod -> dev)

and then where a no-change plan's time goes: the same plan's phases timed inside one process
(import, project load, the YAML unit tests every plan runs, the rest of the plan, Python's garbage
collector across them, the process's exit), and each YAML test file's seconds.

A plain `sqlmesh plan` runs every YAML unit test; with --test-changed-only it runs those of the models
the plan adds or changes (directly or downstream), the README's loop for tuning a goal in dev.

Each repeat uses a new warehouse and a different percentile (so a dev plan never finds the tables
of an earlier repeat), and the script reports medians. Input: the real log
../shared/data/trial_events.csv.gz when it is there, the committed sample otherwise (--events to
choose another file). Writes benchmarks/loop_results.md and prints it.

    .venv/bin/python benchmarks/loop.py --repeats 3
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trial_activation.testing import REAL_LOG, SAMPLE_LOG, copy_project

ROOT = Path(__file__).resolve().parent.parent

BIN = Path(sys.executable).parent
STEPS = (
    "floor_import",
    "build",
    "plan_no_change",
    "test",
    "plan_no_change_tests_changed_only",
    "plan_dev_edit",
    "plan_dev_edit_tests_changed_only",
    "compare",
)
TARGETS = {
    "build": 8,
    "plan_no_change": 4,
    "test": 5,
    "plan_no_change_tests_changed_only": 4,
    "plan_dev_edit": 6,
    "plan_dev_edit_tests_changed_only": 6,
    "compare": 4,
}


def timed(command: list[str], *, cwd: Path, env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the children) of one command, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


# The phases of a no-change `sqlmesh plan --auto-apply`, timed in one process as the CLI runs them:
# project load (Context), the plan's unit tests (Context.test, what `plan` calls before planning),
# then the plan itself without them. Prints one JSON object.
PHASES_SCRIPT = r"""
import gc, glob, json, time
start = time.perf_counter()
collecting = {"seconds": 0.0, "since": 0.0}
def on_collect(phase, info):
    if phase == "start":
        collecting["since"] = time.perf_counter()
    else:
        collecting["seconds"] += time.perf_counter() - collecting["since"]
gc.callbacks.append(on_collect)
import sqlmesh
from sqlmesh import Context
from sqlmesh.utils.yaml import load as load_yaml
phases = {"import sqlmesh": time.perf_counter() - start}
mark = time.perf_counter()
context = Context(paths=".")
phases["project load"] = time.perf_counter() - mark
mark = time.perf_counter()
for path in glob.glob("tests/*.yaml"):
    load_yaml(open(path, encoding="utf-8").read(), render_jinja=False)
yaml_seconds = time.perf_counter() - mark
mark = time.perf_counter()
result = context.test()
assert result.wasSuccessful()
phases["unit tests (%d, run by every plan)" % result.testsRun] = time.perf_counter() - mark
mark = time.perf_counter()
context.plan(skip_tests=True, no_prompts=True, auto_apply=True)
phases["plan without the tests"] = time.perf_counter() - mark
in_process = time.perf_counter() - start
files = {}
for path in sorted(glob.glob("tests/*.yaml")):
    mark = time.perf_counter()
    context.test(tests=[path])
    files[path] = time.perf_counter() - mark
print(json.dumps({"phases": phases, "in_process": in_process, "gc": collecting["seconds"],
                  "yaml": yaml_seconds, "files": files}))
"""


# The stages of a full build without its unit tests (the plan above times those), in one process on a
# fresh warehouse: SQLMesh's own methods for each stage are wrapped with a timer (the evaluator's
# per-model table creation, query and insert, audits; the state's interval records; the virtual
# layer's views). Prints one JSON object of seconds.
BUILD_PHASES_SCRIPT = r"""
import functools, json, time
start = time.perf_counter()
from sqlmesh import Context
from sqlmesh.core.plan.evaluator import BuiltInPlanEvaluator
from sqlmesh.core.snapshot.evaluator import SnapshotEvaluator
from sqlmesh.core.state_sync.db.facade import EngineAdapterStateSync
seconds = {}
def timer(owner, method, label):
    original = getattr(owner, method)
    @functools.wraps(original)
    def timed(*args, **kwargs):
        mark = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - mark
    setattr(owner, method, timed)
timer(SnapshotEvaluator, "_execute_create", "models: create each physical table")
timer(SnapshotEvaluator, "_render_and_insert_snapshot", "models: render each query and insert its rows")
timer(SnapshotEvaluator, "audit", "models: audits")
timer(EngineAdapterStateSync, "add_snapshots_intervals", "models: record the loaded intervals")
timer(BuiltInPlanEvaluator, "visit_backfill_stage", "backfill")
timer(BuiltInPlanEvaluator, "visit_virtual_layer_update_stage", "virtual layer: the views of the environment")
seconds["import sqlmesh"] = time.perf_counter() - start
mark = time.perf_counter()
context = Context(paths=".")
seconds["project load"] = time.perf_counter() - mark
mark = time.perf_counter()
context.plan(skip_tests=True, no_prompts=True, auto_apply=True)
seconds["plan and apply, without the unit tests"] = time.perf_counter() - mark
order = ["import sqlmesh", "project load", "plan and apply, without the unit tests", "backfill",
         "models: create each physical table", "models: render each query and insert its rows", "models: audits",
         "models: record the loaded intervals", "virtual layer: the views of the environment"]
print(json.dumps({stage: seconds.get(stage, 0.0) for stage in order}))
"""


def run_script(script: str, *, what: str, cwd: Path, env: dict) -> tuple[dict, float]:
    """Run one of the in-process timing scripts: (the JSON object it prints last, the process's wall seconds)."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{what} timing failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1]), wall


def build_phases(*, cwd: Path, env: dict) -> dict:
    """The stages of a full build on a fresh warehouse (BUILD_PHASES_SCRIPT)."""
    return run_script(BUILD_PHASES_SCRIPT, what="build phase", cwd=cwd, env=env)[0]


def phases(*, cwd: Path, env: dict) -> dict:
    """The phases of a no-change plan (PHASES_SCRIPT) with the process's exit: total wall minus in-process."""
    measured, wall = run_script(PHASES_SCRIPT, what="phase", cwd=cwd, env=env)
    files_seconds = sum(measured["files"].values())
    # The per-file test runs come after the plan; what is left of the wall time is start-up and exit.
    measured["exit"] = wall - measured["in_process"] - files_seconds
    return measured


def set_percentile(seed: Path, goal_id: str, percentile: int) -> None:
    rows = list(csv.DictReader(io.StringIO(seed.read_text(encoding="utf-8"))))
    for row in rows:
        if row["goal_id"] == goal_id:
            row["threshold_percentile"] = str(percentile)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    seed.write_text(out.getvalue(), encoding="utf-8")


def one_repeat(events: Path, percentile: int, second_percentile: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory(prefix="trial-loop-") as tmp:
        project = copy_project(Path(tmp) / "project")
        env = {
            **os.environ,
            "TRIAL_EVENTS_PATH": str(events),
            "TRIAL_WAREHOUSE_PATH": str(Path(tmp) / "warehouse.duckdb"),
        }
        sqlmesh = str(BIN / "sqlmesh")
        times = {"floor_import": timed([sys.executable, "-c", "import sqlmesh"], cwd=project, env=env)}
        times["build"] = timed([sqlmesh, "plan", "--auto-apply", "--no-prompts"], cwd=project, env=env)
        times["plan_no_change"] = timed([sqlmesh, "plan", "--auto-apply", "--no-prompts"], cwd=project, env=env)
        times["plan_no_change_tests_changed_only"] = timed(
            [sqlmesh, "plan", "--auto-apply", "--no-prompts", "--test-changed-only"], cwd=project, env=env
        )
        times["phases"] = phases(cwd=project, env=env)
        times["test"] = timed([sqlmesh, "test"], cwd=project, env=env)
        set_percentile(project / "seeds" / "activation_goals.csv", "week_1_activity", percentile)
        times["plan_dev_edit"] = timed([sqlmesh, "plan", "dev", "--auto-apply", "--no-prompts"], cwd=project, env=env)
        set_percentile(project / "seeds" / "activation_goals.csv", "week_1_activity", second_percentile)
        times["plan_dev_edit_tests_changed_only"] = timed(
            [sqlmesh, "plan", "dev", "--auto-apply", "--no-prompts", "--test-changed-only"], cwd=project, env=env
        )
        times["compare"] = timed(
            [str(BIN / "trial-activation"), "compare", "--project", str(project)], cwd=project, env=env
        )
        times["build_phases"] = build_phases(
            cwd=project, env={**env, "TRIAL_WAREHOUSE_PATH": str(Path(tmp) / "phases.duckdb")}
        )
        return times


def median_rows(measurements: list[dict], names) -> list[str]:
    """One table row per name: the median of its seconds over the repeats' measurements."""
    return [f"| {name} | {statistics.median(m[name] for m in measurements):.2f} |" for name in names]


def report(events: Path, runs: list[dict]) -> str:
    load = os.getloadavg()[0]
    lines = [
        "# The analyst's loop",
        "",
        f"Written by `benchmarks/loop.py` on `{events.name}`, {len(runs)} repeats, medians; whole-process",
        f"wall and CPU seconds (CPU of the command and its children). Load average at the end: {load:.1f}",
        "(2 cores: above ~1 the machine was busy with other work and the wall times are inflated).",
        "",
        "| step | wall s | CPU s | target wall s | per repeat (wall) |",
        "|---|---:|---:|---:|---|",
    ]
    for step in STEPS:
        walls = [run[step][0] for run in runs]
        cpus = [run[step][1] for run in runs]
        target = TARGETS.get(step)
        lines.append(
            f"| {step} | {statistics.median(walls):.1f} | {statistics.median(cpus):.1f} |"
            f" {'' if target is None else f'<= {target}'} | {', '.join(f'{w:.1f}' for w in walls)} |"
        )
    profiles = [run["phases"] for run in runs]
    lines += [
        "",
        "## Where a no-change plan's time goes",
        "",
        "The same plan's phases timed inside one process (medians; `PHASES_SCRIPT` in loop.py). The garbage",
        "collector's seconds and the YAML parsing are parts of the phases above them, not extra.",
        "",
        "| phase | seconds |",
        "|---|---:|",
    ]
    lines += median_rows([p["phases"] for p in profiles], profiles[0]["phases"])
    lines += [
        f"| start-up and exit (whole process minus the phases) | {statistics.median(p['exit'] for p in profiles):.2f} |",
        f"| (of all of it) Python's garbage collector | {statistics.median(p['gc'] for p in profiles):.2f} |",
        f"| (of project load) parsing the YAML test files | {statistics.median(p['yaml'] for p in profiles):.2f} |",
        "",
        "The unit tests by file (seconds, median; the plan runs them all):",
        "",
        "| test file | seconds |",
        "|---|---:|",
    ]
    files = [p["files"] for p in profiles]
    lines += median_rows(files, sorted(files[0], key=lambda path: -statistics.median(f[path] for f in files)))
    builds = [run["build_phases"] for run in runs]
    lines += [
        "",
        "## Where a full build's time goes",
        "",
        "A full build without its unit tests (timed above), on a fresh warehouse, in one process",
        "(medians; `BUILD_PHASES_SCRIPT` in loop.py). The `models:` rows are parts of the backfill, summed",
        "over every model.",
        "",
        "| stage | seconds |",
        "|---|---:|",
    ]
    lines += median_rows(builds, builds[0])
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--events", type=Path, help="event log (default: the real log if present, else the sample)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "loop_results.md")
    args = parser.parse_args()
    events = (args.events or (REAL_LOG if REAL_LOG.exists() else SAMPLE_LOG)).resolve()
    runs = [one_repeat(events, percentile=60 + repeat, second_percentile=50 + repeat) for repeat in range(args.repeats)]
    text = report(events, runs)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
