"""The benchmark's plain baselines compute what the project computes: benchmarks/plain_floor.sql (one
hand-written DuckDB query) and benchmarks/plain_pandas.py, each run as the benchmark runs it (a
subprocess on the raw file), give every organization the same goal flags and is_activated as
marts.trial_goals and marts.trial_activation, row for row.

The baselines write in the default goals of seeds/activation_goals.csv and do no quarantine, so the
comparison is exact only on a log with no quarantined row: each test first asserts that the build
quarantined nothing (otherwise the marts would rightly differ, and the test must compare with the
independent oracle of tests/python/independent.py on what both define instead).
"""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pandas as pd

from independent import read_goals
from trial_activation.project import PROJECT_ROOT

BENCH = PROJECT_ROOT / "benchmarks"
DEFAULT_GOALS = [goal["goal_id"] for goal in read_goals(PROJECT_ROOT / "seeds" / "activation_goals.csv")]
FLAGS = [*DEFAULT_GOALS, "is_activated"]


def marts_flags(context) -> pd.DataFrame:
    """Per organization: is_completed of each goal (one column per goal_id) and is_activated."""
    goals = context.fetchdf("SELECT organization_id, goal_id, is_completed FROM marts.trial_goals")
    activation = context.fetchdf("SELECT organization_id, is_activated FROM marts.trial_activation")
    flags = goals.pivot(index="organization_id", columns="goal_id", values="is_completed")
    return flags.join(activation.set_index("organization_id"), how="outer").reset_index()


def plain_floor_flags(events, tmp_path) -> pd.DataFrame:
    database = tmp_path / "plain_floor.duckdb"
    run([sys.executable, str(BENCH / "run_benchmark.py"), "_plain_floor", str(events), str(database)])
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.sql("SELECT * FROM plain_activation").df()


def pandas_flags(events, tmp_path) -> pd.DataFrame:
    output = tmp_path / "plain_pandas.parquet"
    run([sys.executable, str(BENCH / "plain_pandas.py"), str(events), str(output)])
    return pd.read_parquet(output)


def run(command: list[str]) -> None:
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr[-3000:]}"


def assert_same_flags(baseline: pd.DataFrame, marts: pd.DataFrame, name: str) -> None:
    """The same organizations, and for each the same goal flags and is_activated."""
    assert list(baseline.columns) == ["organization_id", *FLAGS], (
        f"{name} has columns {list(baseline.columns)}: it writes in the default goals {DEFAULT_GOALS}"
    )
    assert sorted(baseline.organization_id) == sorted(marts.organization_id), f"{name}: not the marts' organizations"
    joined = baseline.merge(marts, on="organization_id", suffixes=("", "_marts"))
    for flag in FLAGS:
        differs = joined[joined[flag].astype(bool) != joined[f"{flag}_marts"].astype(bool)]
        assert differs.empty, f"{name}: {flag} differs from the marts for {len(differs)} organizations, e.g.\n{differs.head()}"


def assert_nothing_quarantined(context) -> None:
    quarantined = context.fetchdf("SELECT COUNT(*) AS n FROM staging.trial_events_quarantine").n[0]
    assert quarantined == 0, (
        f"{quarantined} rows quarantined: the plain baselines keep them, so compare with tests/python/independent.py"
    )


def check_baselines(context, events, tmp_path) -> pd.DataFrame:
    assert_nothing_quarantined(context)
    marts = marts_flags(context)
    assert_same_flags(plain_floor_flags(events, tmp_path), marts, "benchmarks/plain_floor.sql")
    assert_same_flags(pandas_flags(events, tmp_path), marts, "benchmarks/plain_pandas.py")
    return marts


def test_baselines_match_marts_on_sample(sample_build, tmp_path):
    """On the committed sample (messy spellings: True/TRUE/true, '.000' suffixes; exact duplicates)."""
    context, events = sample_build
    marts = check_baselines(context, events, tmp_path)
    # Every flag is true for some organizations and false for others, so the comparison can fail.
    assert marts[FLAGS].any().all() and (~marts[FLAGS].astype(bool)).any().all(), marts[FLAGS].sum()


def test_baselines_match_marts_on_real_log(real_log_build, tmp_path):
    context, events = real_log_build
    marts = check_baselines(context, events, tmp_path)
    assert len(marts) == 966
