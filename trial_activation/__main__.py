"""Command line: `trial-activation build|summary|generate ...` (also `python -m trial_activation`)."""

from __future__ import annotations

import argparse
import sys

from trial_activation.project import activation_summary, build, open_context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trial-activation", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="plan and apply an environment (prod by default), then summarise it")
    summary_cmd = commands.add_parser("summary", help="print the activation summary of an environment")
    for command in (build_cmd, summary_cmd):
        command.add_argument("--environment", "-e", default="prod")
        command.add_argument("--events", help="raw event file or glob (default: TRIAL_EVENTS_PATH, then the sample)")
        command.add_argument("--warehouse", help="DuckDB warehouse file (default: TRIAL_WAREHOUSE_PATH, then warehouse/)")
    commands.add_parser("generate", help="generate a trial event log (see --help)", add_help=False)

    args, rest = parser.parse_known_args(argv)
    if args.command == "generate":
        from trial_activation.generate import main as generate_main

        return generate_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    context = open_context(events_path=args.events, warehouse_path=args.warehouse)
    if args.command == "build":
        build(context, args.environment)
    print(activation_summary(context, args.environment))
    return 0


if __name__ == "__main__":
    sys.exit(main())
