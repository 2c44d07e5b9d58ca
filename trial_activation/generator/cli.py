"""`trial-activation generate ...` / `python -m trial_activation.generator ...`: the generator's command line."""

from __future__ import annotations

import argparse
import sys

import trial_activation.generator as generator_package
from trial_activation.generator.draw import PlantedEffect
from trial_activation.generator.parameters import P_CONVERT
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
    plant = parser.add_argument_group(
        "planted effect", "off unless --plant-activity is given: organizations with at least --plant-min-events "
        f"events of the activity on trial days --plant-days convert at --plant-lift x {P_CONVERT:.0%}, the others at "
        f"{P_CONVERT:.0%}; nothing else goes with converting (lift 1: a log with nothing to find). The events are "
        "the same as without it; only CONVERTED changes")
    plant.add_argument("--plant-activity", metavar="NAME",
                       help="activity of the planted rule, e.g. Scheduling.Shift.AssignmentChanged")
    plant.add_argument("--plant-min-events", type=int, default=3, metavar="K", help="at least K events (default 3)")
    plant.add_argument("--plant-days", default="0-6", metavar="FIRST-LAST", help="trial days counted (default 0-6)")
    plant.add_argument("--plant-lift", type=float, default=2.0, metavar="LIFT",
                       help="conversion rate multiplier (default 2)")
    args = parser.parse_args(argv)
    planted = None
    if args.plant_activity is not None:
        first_day, _, last_day = args.plant_days.partition("-")
        if not (first_day.isdigit() and last_day.isdigit()):
            parser.error(f"--plant-days takes FIRST-LAST trial days, e.g. 0-6, not {args.plant_days!r}")
        try:
            planted = PlantedEffect(args.plant_activity, args.plant_min_events, int(first_day), int(last_day),
                                    args.plant_lift)
        except ValueError as error:
            parser.error(str(error))
    stats = generate(args.out, args.orgs, args.seed, events=args.events, format=args.format,
                     start_date=args.start_date, cohort_days=args.cohort_days,
                     events_per_org_scale=args.events_per_org_scale, style=args.style,
                     partition_by_day=args.partition_by_day, plant=planted)
    print(" ".join(f"{name}={value}" for name, value in stats.items()), file=sys.stderr)
    return 0
