"""Time the predictability ceiling (trial_activation/modeling/validation.py) on generated logs.

For each size: generate a log (with a planted effect, docs/generating.md), compute ~34 features per
organization from trial days 0-6 in DuckDB (log counts per activity, all events, active days,
distinct activities, day-0 events, days 1-6 events, span), keep organizations not converted before
day 7, then time cross_validated_auc and shuffled_auc_p95 with their defaults, on all organizations
and on a sample_organizations sample. Prints one markdown row per size (the table in
benchmarks/README.md). The features stand in for the ones the marts will compute in the engine.

    .venv/bin/python benchmarks/predictability.py --orgs 1000 50000 [--lift 2] [--sample 5000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

from trial_activation.generator import ACTIVITIES, PlantedEffect, generate
from trial_activation.modeling.validation import (
    FOLDS,
    PERMUTATIONS,
    REPEATS,
    cross_validated_auc,
    sample_organizations,
    shuffled_auc_p95,
)

PLANTED_ACTIVITY = "Scheduling.Shift.AssignmentChanged"


def week_1_features(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(organizations x features, converted) over trial days 0-6, for organizations not converted before day 7."""
    per_activity = ", ".join(
        f"ln(1 + count(*) FILTER (WHERE ACTIVITY_NAME = '{name}')) AS \"{name}\"" for name in ACTIVITIES
    )
    frame = duckdb.sql(f"""
        WITH events AS (
          SELECT DISTINCT ORGANIZATION_ID, ACTIVITY_NAME, TIMESTAMP, TRIAL_START, CONVERTED, CONVERTED_AT
          FROM '{path}'
        ), week_1 AS (
          SELECT *, floor(date_diff('second', TRIAL_START, TIMESTAMP) / 86400) AS trial_day  -- as @trial_day
          FROM events
          WHERE TIMESTAMP >= TRIAL_START AND TIMESTAMP < TRIAL_START + INTERVAL 7 DAY
        )
        SELECT
          any_value(CONVERTED) AS converted,
          any_value(CONVERTED AND CONVERTED_AT < TRIAL_START + INTERVAL 7 DAY) AS converted_before_day_7,
          {per_activity},
          ln(1 + count(*)) AS events,
          count(DISTINCT trial_day) AS active_days,
          count(DISTINCT ACTIVITY_NAME) AS activities,
          ln(1 + count(*) FILTER (WHERE trial_day = 0)) AS day_0_events,
          ln(1 + count(*) FILTER (WHERE trial_day BETWEEN 1 AND 6)) AS days_1_6_events,
          max(trial_day) - min(trial_day) AS span_days
        FROM week_1
        GROUP BY ORGANIZATION_ID
        ORDER BY ORGANIZATION_ID
    """).df()
    frame = frame[~frame.pop("converted_before_day_7")]
    labels = frame.pop("converted").to_numpy(bool)
    return frame.to_numpy(float), labels


def timed(function, *args, **kwargs):
    began = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orgs", type=int, nargs="+", default=[1000, 50000])
    parser.add_argument("--lift", type=float, default=2.0, help=f"planted on {PLANTED_ACTIVITY} >= 3 in days 0-6")
    parser.add_argument("--sample", type=int, default=5000, help="organizations in the sampled run")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    print(f"defaults: {REPEATS} repeats x {FOLDS} folds, {PERMUTATIONS} permutations; load {os.getloadavg()[0]:.1f}")
    print("| organizations | features | AUC (sd) | s | shuffled p95 | s | sample | AUC | p95 | s (both) |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for orgs in args.orgs:
            path = Path(folder) / f"log_{orgs}.parquet"
            plant = PlantedEffect(PLANTED_ACTIVITY, lift=args.lift)
            generate(path, orgs=orgs, seed=args.seed, style="clean", plant=plant)
            features, labels = week_1_features(path)
            cross_validated_auc(features[:200], labels[:200], repeats=1)  # imports, not timed
            (auc, sd), auc_seconds = timed(cross_validated_auc, features, labels)
            p95, p95_seconds = timed(shuffled_auc_p95, features, labels)
            sample = sample_organizations(labels, args.sample)
            began = time.perf_counter()
            sample_auc, _ = cross_validated_auc(features[sample], labels[sample])
            sample_p95 = shuffled_auc_p95(features[sample], labels[sample])
            sample_seconds = time.perf_counter() - began
            print(
                f"| {len(labels):,} | {features.shape[1]} | {auc:.3f} ({sd:.3f}) | {auc_seconds:.2f} | {p95:.3f} | "
                f"{p95_seconds:.1f} | {len(sample):,} | {sample_auc:.3f} | {sample_p95:.3f} | {sample_seconds:.1f} |",
                flush=True,
            )
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
