"""Benchmark: full prod build, daily run, a floor query and two plain baselines, at several log sizes.

For each size (approximate raw rows, duplicates included) the script

1. generates a log once with trial_activation.generator (clean style, one Parquet file per event day,
   cached in benchmarks/work/events_<size>/, git-ignored);
2. picks the "new day" D: the last day of the log holding at least 0.5% of its rows (a full business
   day; the log's last few days only hold the tail of the last trials). The history is every day
   before D; the days after D + 1 are not used;
3. repeats `--repeats` times, each in a fresh warehouse and in a subprocess (timed wall clock, CPU
   seconds (user + system, the command and its children) and peak RSS from /usr/bin/time):
   - full build: `sqlmesh plan --execution-time D` on the history (every interval before D);
   - daily run: D's file is added to the input folder, then `sqlmesh run --end D` at the execution
     time D+1 (benchmarks/daily_run.py: as a scheduler runs it, just after the day); then the next
     day's, at D+2 (one of the two may be a week's last day, which runs the weekly models too);
   - floor: benchmarks/floor_query.sql on the history, writing its two tables into a fresh DuckDB file;
   - plain floor: benchmarks/plain_floor.sql on the history (one hand-written query, the default goals
     written in, no typing or quarantine), writing the goal flags into a fresh DuckDB file;
   - pandas: benchmarks/plain_pandas.py on the history (the same computation in plain pandas),
     writing the goal flags into a Parquet file;
4. at the smallest size (and any size with --check), checks on history + D + D+1 that the floor
   query equals the marts after the daily runs, and that the plain floor's and the pandas script's goal
   flags and is_activated equal the marts' (an exception if not: a baseline must do the same work);
5. writes benchmarks/results.md (medians, ratios, peak memory, per-model times) and
   benchmarks/results.svg (time against size), and benchmarks/results.json (every measurement;
   entries measured before a step existed lack its key and are reported blank).

Usage (from the repository root):

    .venv/bin/python benchmarks/run_benchmark.py --sizes 1e6,1e7,1e8 --repeats 3

Sizes already measured are kept in results.json, so sizes can be run one at a time
(`--sizes 1e8 --repeats 1` after `--sizes 1e6,1e7`) and the report covers all of them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
WORK = BENCH / "work"
PYTHON = sys.executable
SQLMESH = str(Path(PYTHON).parent / "sqlmesh")
MODEL_LINE = re.compile(r"\[\d+/\d+\]\s+(\S+)\s+\[(.*?)\]\s+([\d.]+)s")
MIN_DAY_SHARE = 0.005


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7,1e8", help="comma-separated raw row counts, e.g. 1e6,1e7")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check", action="store_true", help="check floor and baselines == marts at every size, not only the smallest")
    parser.add_argument("--no-check", action="store_true", help="skip the floor and baselines == marts check (already done on this data)")
    parser.add_argument("--results", default=str(BENCH / "results.json"))
    parser.add_argument("--merge", nargs="*", default=None, help="other results JSON files to fold in (e.g. a size run separately), then only report")
    args = parser.parse_args()

    sizes = [int(float(s)) for s in args.sizes.split(",")]
    results_path = Path(args.results)
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    if args.merge is not None:  # --merge with no file: only report what --results holds
        for other in args.merge:
            results.update(json.loads(Path(other).read_text()))
        results_path.write_text(json.dumps(results, indent=1, sort_keys=True))
        write_report(results)
        print((BENCH / "results.md").read_text())
        return
    for size in sizes:
        results[str(size)] = bench_size(size, args.repeats, args.seed, check=args.check or (size == min(sizes) and not args.no_check))
        results_path.write_text(json.dumps(results, indent=1, sort_keys=True))
        write_report(results)
    print((BENCH / "results.md").read_text())


def bench_size(size: int, repeats: int, seed: int, check: bool) -> dict:
    import pyarrow.parquet as pq  # here, not at the top: the floors' subprocesses import this file

    log = ensure_log(size, seed)
    days = sorted(log.glob("event_date=*"))
    rows = {d.name: sum(pq.ParquetFile(f).metadata.num_rows for f in d.glob("*.parquet")) for d in days}
    total = sum(rows.values())
    new_day = [d for d in days if rows[d.name] >= MIN_DAY_SHARE * total][-1]
    history = [d for d in days if d.name < new_day.name]
    day = new_day.name.split("=", 1)[1]
    # The day after D, loaded by a second daily run: of D and D + 1 at most one is a week's last day,
    # the day whose run also refreshes the weekly models (the candidate search, the predictability ceiling).
    next_day = days[days.index(new_day) + 1]
    next_day_name = next_day.name.split("=", 1)[1]
    info = {
        "size": size,
        "log_rows": total,
        "history_rows": sum(rows[d.name] for d in history),
        "history_days": len(history),
        "new_day": day,
        "new_day_rows": rows[new_day.name],
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "full_build": [],
        "daily_run": [],
        "next_daily_run": [],
        "next_day": next_day_name,
        "floor": [],
        "plain_floor": [],
        "pandas": [],
    }
    print(f"== {size:,}: {total:,} rows, history {info['history_rows']:,} rows before {day}, new day {rows[new_day.name]:,} rows", flush=True)

    run_dir = WORK / f"run_{size}"
    project = run_dir / "project"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    from trial_activation.testing import copy_project

    copy_project(project)
    inputs = run_dir / "input"
    for repeat in range(repeats):
        # Fresh input folder (symlinks to the cached files) and fresh warehouse for every repeat.
        if inputs.exists():
            shutil.rmtree(inputs)
        inputs.mkdir(parents=True)
        for d in history:
            (inputs / d.name).symlink_to(d.resolve())
        warehouse = run_dir / "warehouse.duckdb"
        for leftover in run_dir.glob("warehouse.duckdb*"):
            leftover.unlink()
        shutil.rmtree(project / ".cache", ignore_errors=True)
        env = {
            **os.environ,
            "TRIAL_EVENTS_PATH": str(inputs / "*" / "*.parquet"),
            "TRIAL_WAREHOUSE_PATH": str(warehouse),
            "COLUMNS": "250",
        }
        env.pop("TRIAL_EVENTS_START", None)

        build = timed([SQLMESH, "plan", "--auto-apply", "--no-prompts", "--skip-tests", "--skip-linter",
                       "--execution-time", day], cwd=project, env=env)
        info["full_build"].append(build)
        (inputs / new_day.name).symlink_to(new_day.resolve())
        # Each daily run is timed as a scheduler runs it: just after its day has ended (the execution
        # time), so that a weekly model runs only when the day ends a week, as it would in production.
        daily = timed([PYTHON, str(BENCH / "daily_run.py"), day, _day_after(day)], cwd=project, env=env)
        info["daily_run"].append(daily)
        processed = {m: d for m, d, _ in daily["models"]}
        for model in ("staging.trial_events", "intermediate.org_days"):
            assert processed.get(model, "").startswith(f"insert {day} - {day}"), (model, processed.get(model))
        (inputs / next_day.name).symlink_to(next_day.resolve())
        info["next_daily_run"].append(
            timed([PYTHON, str(BENCH / "daily_run.py"), next_day_name, _day_after(next_day_name)], cwd=project, env=env)
        )

        floor_db = run_dir / "floor.duckdb"
        floor_db.unlink(missing_ok=True)
        history_glob = str(run_dir / "history" / "*" / "*.parquet")
        make_glob_folder(run_dir / "history", history)
        info["floor"].append(timed([PYTHON, __file__, "_floor", history_glob, str(floor_db)], cwd=ROOT, env=env))
        plain_db = run_dir / "plain_floor.duckdb"
        plain_db.unlink(missing_ok=True)
        info["plain_floor"].append(timed([PYTHON, __file__, "_plain_floor", history_glob, str(plain_db)], cwd=ROOT, env=env,
                                         may_fail=True))
        pandas_out = run_dir / "plain_pandas.parquet"
        pandas_out.unlink(missing_ok=True)
        info["pandas"].append(timed([PYTHON, str(BENCH / "plain_pandas.py"), history_glob, str(pandas_out)], cwd=ROOT, env=env,
                                    may_fail=True))
        print(f"   repeat {repeat + 1}: build {build['seconds']:.1f}s ({build['cpu_seconds']:.1f} CPU s),"
              f" daily {daily['seconds']:.1f}s, next day {info['next_daily_run'][-1]['seconds']:.1f}s, floor {info['floor'][-1]['seconds']:.1f}s,"
              f" plain floor {info['plain_floor'][-1]['seconds']:.1f}s, pandas {info['pandas'][-1]['seconds']:.1f}s", flush=True)

        if check and repeat == 0:
            full_glob = str(inputs / "*" / "*.parquet")
            floor_db.unlink(missing_ok=True)
            run_floor(full_glob, str(floor_db))
            mismatches = compare(floor_db, warehouse)
            info["floor_equals_marts"] = not any(mismatches.values())
            assert info["floor_equals_marts"], f"floor query differs from the marts: {mismatches}"
            print("   floor query == marts (after the daily runs)", flush=True)
            # A baseline that failed its timed run (out of memory) is not run again for the check.
            flag_mismatches = {}
            if "failed" not in info["plain_floor"][-1]:
                plain_db.unlink(missing_ok=True)
                run_plain_floor(full_glob, str(plain_db))
                flag_mismatches["plain floor"] = compare_flags("SELECT * FROM plain.plain_activation", warehouse, attach=plain_db)
            if "failed" not in info["pandas"][-1]:
                pandas_out.unlink(missing_ok=True)
                subprocess.run([PYTHON, str(BENCH / "plain_pandas.py"), full_glob, str(pandas_out)], cwd=ROOT, env=env, check=True)
                flag_mismatches["pandas"] = compare_flags(f"SELECT * FROM READ_PARQUET('{pandas_out}')", warehouse)
            if flag_mismatches:
                info["baselines_equal_marts"] = not any(flag_mismatches.values())
                assert info["baselines_equal_marts"], f"goal flags differ from the marts (rows only in one side, each way): {flag_mismatches}"
                print(f"   {' and '.join(flag_mismatches)} goal flags == marts (after the daily runs)", flush=True)
    info["load_average_at_end"] = os.getloadavg()
    return info


def ensure_log(size: int, seed: int) -> Path:
    log = WORK / f"events_{size}"
    if not log.exists():
        tmp = WORK / f"events_{size}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        started = time.perf_counter()
        subprocess.run([PYTHON, "-m", "trial_activation.generator", "--events", str(size), "--seed", str(seed),
                        "--out", str(tmp), "--partition-by-day", "--style", "clean"], cwd=ROOT, check=True)
        tmp.rename(log)
        print(f"   generated {log} in {time.perf_counter() - started:.0f}s", flush=True)
    return log


def make_glob_folder(folder: Path, days: list[Path]) -> None:
    if folder.exists():
        return
    folder.mkdir(parents=True)
    for d in days:
        (folder / d.name).symlink_to(d.resolve())


def timed(command: list[str], cwd: Path, env: dict, may_fail: bool = False) -> dict:
    """Run command under /usr/bin/time: wall seconds, CPU seconds (user + system of the command and the
    children it waited for; DuckDB's threads are in-process), peak RSS (GiB), per-model (model, what, seconds).

    may_fail: a baseline that fails (the pandas script can run out of memory on a large log) is recorded
    with "failed" (its exit status and last line of output) instead of stopping the benchmark."""
    stats = cwd / ".time_stats" if cwd != ROOT else WORK / ".time_stats"
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", str(stats), *command], cwd=cwd, env=env,
                          capture_output=True, text=True, preexec_fn=_cap_memory if may_fail else None)
    seconds = time.perf_counter() - started
    peak_kib, user, system = stats.read_text().strip().splitlines()[-1].split()
    if proc.returncode and may_fail:
        last_line = (proc.stderr.strip().splitlines() or [""])[-1][:200]
        print(f"   {' '.join(Path(c).name for c in command[1:3])} failed (exit {proc.returncode}): {last_line}", flush=True)
        return {"seconds": seconds, "peak_rss_gib": int(peak_kib) / 2**20,
                "failed": f"exit {proc.returncode}" + (f": {last_line}" if last_line else "")}
    if proc.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    text = re.sub(r"\s*\n\s*", " ", proc.stdout)  # rich may still wrap long lines
    models = [(m, what, float(s)) for m, what, s in MODEL_LINE.findall(text)]
    return {"seconds": seconds, "cpu_seconds": float(user) + float(system), "peak_rss_gib": int(peak_kib) / 2**20,
            "models": models}


def _day_after(day: str) -> str:
    """The midnight that ends `day` (YYYY-MM-DD): when a scheduler runs that day's load."""
    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()


def _cap_memory() -> None:
    """A baseline that may fail gets at most 3/4 of the machine's memory (address space): past that it
    fails with MemoryError, before the kernel's out-of-memory killer picks a process to kill."""
    import resource

    cap = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 3 // 4
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def floor_sql(events_glob: str) -> str:
    import csv

    goals = ROOT / "seeds" / "activation_goals.csv"
    with goals.open() as handle:
        percentiles = sorted({float(r["threshold_percentile"]) for r in csv.DictReader(handle) if r["threshold_percentile"]})
    fractions = "[" + ", ".join(repr(p / 100) for p in percentiles) + "]" if percentiles else "[0.5]"
    sql = (BENCH / "floor_query.sql").read_text().split("*/", 1)[1]  # drop the header comment
    for key, value in {"{events}": events_glob, "{goals}": str(goals), "{fractions}": fractions,
                       "{far_outside_trial_days}": "90"}.items():
        sql = sql.replace(key, value)
    return sql


def run_floor(events_glob: str, database: str) -> None:
    import duckdb

    with duckdb.connect(database) as connection:
        connection.execute("SET enable_progress_bar = false")
        if os.environ.get("BENCH_FLOOR_MEMORY_LIMIT"):  # e.g. when a build runs next to it on the same machine
            connection.execute(f"SET memory_limit = '{os.environ['BENCH_FLOOR_MEMORY_LIMIT']}'")
        connection.execute(floor_sql(events_glob))


def plain_read(events: str) -> str:
    """The table function reading the log in plain_floor.sql: Parquet (a file or glob) or CSV(.gz)."""
    quoted = events.replace("'", "''")
    return f"READ_PARQUET('{quoted}')" if events.endswith(".parquet") else f"READ_CSV('{quoted}')"


def run_plain_floor(events: str, database: str) -> None:
    """benchmarks/plain_floor.sql over the log, its table plain_activation written into database."""
    import duckdb

    sql = (BENCH / "plain_floor.sql").read_text().replace("{read}", plain_read(events))
    with duckdb.connect(database) as connection:
        connection.execute("SET enable_progress_bar = false")
        connection.execute(sql)


GOAL_FLAGS_OF_MARTS = """
    SELECT
      a.organization_id,
      {flags},
      a.is_activated
    FROM {catalog}.marts.trial_activation AS a
    LEFT JOIN {catalog}.marts.trial_goals AS g
      ON a.organization_id = g.organization_id
    GROUP BY
      a.organization_id,
      a.is_activated
"""


def compare_flags(baseline: str, warehouse: Path, attach: Path | None = None) -> list[int]:
    """Rows of a baseline's result (organization_id, one column per goal, is_activated) missing from
    the marts' goal flags and the other way round; [] when equal. baseline is a query, over the
    database attached as `plain` when attach is given."""
    import duckdb

    with duckdb.connect() as connection:
        connection.execute(f"ATTACH '{warehouse}' AS {warehouse.stem} (READ_ONLY)")
        if attach:
            connection.execute(f"ATTACH '{attach}' AS plain (READ_ONLY)")
        goals = [c for c in connection.sql(baseline).columns if c not in ("organization_id", "is_activated")]
        seed_goals = {r[0] for r in connection.sql(f"SELECT DISTINCT goal_id FROM {warehouse.stem}.marts.trial_goals").fetchall()}
        assert seed_goals == set(goals), (
            f"the marts' goals {sorted(seed_goals)} are not the baselines' {goals}: plain_floor.sql and plain_pandas.py"
            " write in the default goals of seeds/activation_goals.csv; benchmark the default goals or edit both baselines")
        flags = ",\n      ".join(f"BOOL_OR(g.is_completed) FILTER (WHERE g.goal_id = '{goal}') AS {goal}" for goal in goals)
        marts = GOAL_FLAGS_OF_MARTS.format(flags=flags, catalog=warehouse.stem)
        columns = ", ".join(["organization_id", *goals, "is_activated"])
        counts = [
            connection.sql(f"SELECT COUNT(*) FROM (SELECT {columns} FROM ({a}) EXCEPT ALL SELECT {columns} FROM ({b}))").fetchone()[0]
            for a, b in ((baseline, marts), (marts, baseline))
        ]
        assert connection.sql(f"SELECT COUNT(*) FROM ({baseline})").fetchone()[0] > 0
        return counts if any(counts) else []


GOALS_COLUMNS = ("organization_id, goal_id, goal_name, goal_kind, metric_value, ROUND(threshold, 9),"
                 " ROUND(completion_pct, 9), is_completed, completed_at")
ACTIVATION_COLUMNS = ("organization_id, trial_start, trial_end, converted, converted_at, conversion_timing,"
                      " has_conflicting_attributes, goals_total, goals_completed, is_activated, activated_at,"
                      " days_to_activation, ROUND(activation_score, 9)")


def compare(floor_db: Path, warehouse: Path) -> dict:
    """Rows in one table and not the other (both ways), per mart."""
    import duckdb

    with duckdb.connect(str(floor_db), read_only=True) as connection:
        # The prod views name their catalog after the warehouse file, so attach it under that name.
        connection.execute(f"ATTACH '{warehouse}' AS {warehouse.stem} (READ_ONLY)")
        out = {}
        for table, columns in (("trial_goals", GOALS_COLUMNS), ("trial_activation", ACTIVATION_COLUMNS)):
            out[table] = [
                connection.sql(f"SELECT COUNT(*) FROM (SELECT {columns} FROM {a} EXCEPT ALL SELECT {columns} FROM {b})").fetchone()[0]
                for a, b in ((table, f"{warehouse.stem}.marts.{table}"), (f"{warehouse.stem}.marts.{table}", table))
            ]
            assert connection.sql(f"SELECT COUNT(*) FROM {table}").fetchone()[0] > 0
        return {t: v for t, v in out.items() if any(v)}


# ---------------------------------------------------------------------------------------------- report

def median(values):
    return statistics.median(values) if values else float("nan")


def per_model_medians(runs: list[dict]) -> dict[str, float]:
    """Each model's seconds in a run (summed over its batches: a batched first load evaluates a model
    once per batch), then the median over the runs."""
    models: dict[str, list[float]] = {}
    for run in runs:
        in_run: dict[str, float] = {}
        for model, _, seconds in run["models"]:
            in_run[model] = in_run.get(model, 0.0) + seconds
        for model, seconds in in_run.items():
            models.setdefault(model, []).append(seconds)
    return {m: median(v) for m, v in models.items()}


def write_report(results: dict) -> None:
    sizes = sorted(results.values(), key=lambda r: r["size"])
    lines = [
        "# Benchmark results",
        "",
        "Written by `benchmarks/run_benchmark.py` (see its docstring for the method). Medians over the repeats;"
        " wall-clock seconds of the whole command (project load, plan, models, audits, virtual layer);"
        " peak memory is the maximum RSS of the command's process (DuckDB runs in-process).",
        f" Machine: {os.cpu_count()} cores, shared with other jobs while measuring (load averages below), so"
        " absolute times are noisy; the ratios are between runs made back to back in the same session.",
        "",
        "| log rows | history rows (days) | new day rows | repeats | full build s | daily run s | floor s"
        " | build / floor | daily / build | peak RSS build / daily / floor GiB | load avg (1 min) start-end |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in sizes:
        build = median([x["seconds"] for x in r["full_build"]])
        daily = median([x["seconds"] for x in r["daily_run"]])
        floor = median([x["seconds"] for x in r["floor"]])
        rss = "/".join(f"{max(x['peak_rss_gib'] for x in r[k]):.2f}" for k in ("full_build", "daily_run", "floor"))
        lines.append(
            f"| {r['log_rows']:,} | {r['history_rows']:,} ({r['history_days']}) | {r['new_day_rows']:,} ({r['new_day']})"
            f" | {len(r['full_build'])} | {build:.1f} | {daily:.1f} | {floor:.1f} | {build / floor:.2f}"
            f" | {daily / build:.2f} | {rss} | {r['load_average_at_start'][0]:.1f}-{r.get('load_average_at_end', [float('nan')])[0]:.1f} |"
        )
    lines += [
        "",
        "## The two daily runs: a day inside a week, and a week's last day",
        "",
        "After the daily run for the new day D, a second run loads D + 1. SQLMesh's `@weekly` intervals end on"
        " Sunday 00:00 UTC, so the run that loads a Saturday also refreshes the weekly models (the candidate"
        " search: `intermediate.candidate_goal_counts`, `marts.candidate_goals`; the predictability ceiling:"
        " `marts.predictability`); on the other six days they are skipped.",
        "",
        "| log rows | daily run: day | s | / build | weekly models ran | next run: day | s | / build | weekly models ran |",
        "|---:|---|---:|---:|---|---|---:|---:|---|",
    ]
    for r in sizes:
        if not r.get("next_daily_run"):
            continue
        build = median([x["seconds"] for x in r["full_build"]])
        cells = []
        for step, on in (("daily_run", r["new_day"]), ("next_daily_run", r["next_day"])):
            seconds = median([x["seconds"] for x in r[step]])
            weekly = "yes" if any(m == "intermediate.candidate_goal_counts" for m, _, _ in r[step][0]["models"]) else "no"
            weekday = dt.date.fromisoformat(on).strftime("%a")
            cells.append(f"{on} ({weekday}) | {seconds:.1f} | {seconds / build:.2f} | {weekly}")
        lines.append(f"| {r['log_rows']:,} | " + " | ".join(cells) + " |")
    lines += ["", "Floor query equal to the marts (checked after the daily runs, on history + D + D+1): "
              + ", ".join(f"{r['log_rows']:,}: {r['floor_equals_marts']}" for r in sizes if "floor_equals_marts" in r), ""]
    lines += [
        "## The build against the baselines (same run; wall s, CPU s in brackets)",
        "",
        "CPU seconds are user + system time of the command and its children. floor: `floor_query.sql`, the"
        " project's rules by hand (typing, quarantine, both marts); plain floor: `plain_floor.sql`, the one"
        " query a user writes for the default goals' flags; pandas: `plain_pandas.py`, the same in plain pandas."
        " A ratio above 1 means the build is slower. Blank: not measured in that run (older entries).",
        "",
        "| log rows | full build s | floor s | plain floor s | pandas s | build / floor | build / plain floor"
        " | build / pandas | peak RSS plain floor / pandas GiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    failures = []
    for r in sizes:
        steps = {k: (_median_of(r, k, "seconds"), _median_of(r, k, "cpu_seconds"))
                 for k in ("full_build", "floor", "plain_floor", "pandas")}
        build = steps["full_build"]
        rss = "/".join(f"{max(x['peak_rss_gib'] for x in r[k]):.2f}" if r.get(k) else "" for k in ("plain_floor", "pandas"))
        if any("failed" in x for k in ("plain_floor", "pandas") for x in r.get(k, [])):
            failures.append(r)
        cells = [_pair(*steps[k], "{:.1f}") or _failure(r, k) for k in ("full_build", "floor", "plain_floor", "pandas")]
        cells += [_pair(_ratio(build[0], steps[k][0]), _ratio(build[1], steps[k][1]), "{:.2f}")
                  for k in ("floor", "plain_floor", "pandas")]
        lines.append(f"| {r['log_rows']:,} | " + " | ".join(cells) + f" | {rss if rss != '/' else ''} |")
    for r in failures:
        for k in ("plain_floor", "pandas"):
            failed = [x["failed"] for x in r.get(k, []) if "failed" in x]
            if failed:
                lines += ["", f"At {r['log_rows']:,} rows, {k.replace('_', ' ')} failed in {len(failed)} of"
                          f" {len(r[k])} repeats ({failed[0]}); its peak RSS includes the failed runs."]
    checked = [f"{r['log_rows']:,}: {r['baselines_equal_marts']}" for r in sizes if "baselines_equal_marts" in r]
    lines += ["", "Plain floor and pandas goal flags and is_activated equal to the marts' (checked after the daily runs,"
              " on history + D + D+1): " + (", ".join(checked) or "not checked in these runs"), ""]
    lines += ["## Per-model seconds (medians; model evaluation plus its audits)", ""]
    header = "| model |" + "".join(f" build {r['size']:.0e} | daily {r['size']:.0e} |" for r in sizes)
    lines += [header, "|---|" + "---:|---:|" * len(sizes)]
    model_names: list[str] = []
    tables = []
    for r in sizes:
        b, d = per_model_medians(r["full_build"]), per_model_medians(r["daily_run"])
        tables.append((b, d))
        for m in list(b) + list(d):
            if m not in model_names:
                model_names.append(m)
    for m in model_names:
        cells = "".join(f" {_fmt(b.get(m))} | {_fmt(d.get(m))} |" for b, d in tables)
        lines.append(f"| {m} |{cells}")
    lines.append("")
    (BENCH / "results.md").write_text("\n".join(lines))
    write_svg(sizes)


def _fmt(value) -> str:
    return "" if value is None else f"{value:.1f}"


def _median_of(r: dict, step: str, field: str) -> float | None:
    """Median of a step's field over the repeats; None when the entry predates the step or the field."""
    values = [x[field] for x in r.get(step, []) if field in x and "failed" not in x]
    return median(values) if values else None


def _failure(r: dict, step: str) -> str:
    return "failed" if any("failed" in x for x in r.get(step, [])) else ""


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _pair(wall: float | None, cpu: float | None, form: str) -> str:
    """'wall (cpu)', blank parts left out."""
    text = form.format(wall) if wall is not None else ""
    return text + (f" ({form.format(cpu)})" if cpu is not None else "")


def write_svg(sizes: list[dict]) -> None:
    """Time against size, log-log, one line per measurement: a dependency-free SVG."""
    import math

    series = {
        "full build": ("full_build", "#1f77b4"),
        "daily run": ("daily_run", "#2ca02c"),
        "hand-written floor": ("floor", "#d62728"),
        "plain floor": ("plain_floor", "#9467bd"),
        "plain pandas": ("pandas", "#ff7f0e"),
    }
    points = {name: [(r["history_rows"], _median_of(r, key, "seconds")) for r in sizes if _median_of(r, key, "seconds")]
              for name, (key, _) in series.items()}
    xs = [x for p in points.values() for x, _ in p]
    ys = [y for p in points.values() for _, y in p]
    if not xs:
        return
    width, height, left, right, top, bottom = 640, 420, 70, 170, 30, 50
    x0, x1 = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)

    def sx(x):
        return left + (math.log10(x) - x0) / (x1 - x0) * (width - left - right)

    def sy(y):
        return height - bottom - (math.log10(y) - y0) / (y1 - y0) * (height - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="14">trial-activation on DuckDB: seconds against events (log-log)</text>']
    for e in range(x0, x1 + 1):
        out.append(f'<line x1="{sx(10**e):.1f}" y1="{top}" x2="{sx(10**e):.1f}" y2="{height - bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{sx(10**e):.1f}" y="{height - bottom + 16}" text-anchor="middle">1e{e}</text>')
    for e in range(y0, y1 + 1):
        out.append(f'<line x1="{left}" y1="{sy(10**e):.1f}" x2="{width - right}" y2="{sy(10**e):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{sy(10**e) + 4:.1f}" text-anchor="end">{10**e:g} s</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">events in the history (raw rows)</text>')
    for i, (name, (_, color)) in enumerate(series.items()):
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points[name])
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in points[name]:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>')
        out.append(f'<line x1="{width - right + 12}" y1="{top + 20 + 18 * i}" x2="{width - right + 32}" y2="{top + 20 + 18 * i}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{width - right + 38}" y="{top + 24 + 18 * i}">{name}</text>')
    out.append("</svg>")
    (BENCH / "results.svg").write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "_floor":
        run_floor(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "_plain_floor":
        run_plain_floor(sys.argv[2], sys.argv[3])
    else:
        main()
