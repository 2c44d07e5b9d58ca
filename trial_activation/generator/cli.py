"""`trial-activation generate ...` / `python -m trial_activation.generator ...`: the generator's command line."""

from __future__ import annotations

import argparse
import sys

import trial_activation.generator as generator_package
from trial_activation.generator.write import generate


def main(argv: list[str] | None = None, prog: str = "python -m trial_activation.generator") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=generator_package.__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--orgs", type=int, help="number of organisations")
    size.add_argument("--events", type=int, help="approximate total rows incl. duplicates (sets --orgs)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", required=True, help="output file (.csv, .csv.gz, .parquet) or directory")
    parser.add_argument("--format", choices=["csv", "csv.gz", "parquet"], help="default: from the extension")
    parser.add_argument("--start-date", default="2024-01-01", help="first possible trial start (UTC)")
    parser.add_argument("--cohort-days", type=int, default=90, help="trial starts spread over this many days")
    parser.add_argument("--events-per-org-scale", type=float, default=1.0, help="multiplies activity volume")
    parser.add_argument("--style", choices=["clean", "messy"], default="messy", help="CSV spellings (see docs)")
    parser.add_argument("--partition-by-day", action="store_true",
                        help="write DIR/event_date=YYYY-MM-DD/part-0.parquet by event date")
    args = parser.parse_args(argv)
    stats = generate(args.out, args.orgs, args.seed, events=args.events, format=args.format,
                     start_date=args.start_date, cohort_days=args.cohort_days,
                     events_per_org_scale=args.events_per_org_scale, style=args.style,
                     partition_by_day=args.partition_by_day)
    print(" ".join(f"{name}={value}" for name, value in stats.items()), file=sys.stderr)
    return 0
