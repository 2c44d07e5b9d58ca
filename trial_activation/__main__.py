"""Command line: `trial-activation build|summary|compare|report|export|generate ...` (also `python -m trial_activation`)."""

from __future__ import annotations

import argparse
import sys

from trial_activation.project import PROJECT_ROOT, MissingInEnvironment, activation_summary, build, open_context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trial-activation", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="plan and apply an environment (prod by default), then summarise it")
    summary_cmd = commands.add_parser("summary", help="print the activation summary of an environment")
    compare_cmd = commands.add_parser(
        "compare", help="what changes between two environments: activation gained/lost, per-goal thresholds and completion"
    )
    compare_cmd.add_argument("--source", default="prod", help="environment compared from (default: prod)")
    compare_cmd.add_argument("--target", default="dev", help="environment compared to (default: dev)")
    compare_cmd.add_argument("--sample", type=int, default=5, help="organization ids listed per direction (default: 5)")
    export_cmd = commands.add_parser(
        "export", help="write every mart of an environment to CSV or Parquet files, with a manifest.json"
    )
    export_cmd.add_argument("--format", choices=("csv", "parquet"), required=True, dest="file_format")
    export_cmd.add_argument("--out", required=True, help="folder the files are written to (replaced atomically)")
    report_cmd = commands.add_parser(
        "report", help="write the product team's report: one self-contained HTML file (charts inline, no network)"
    )
    report_cmd.add_argument("--out", help="HTML file to write (default: reports/trial_activation_<env>.html)")
    report_cmd.add_argument("--compare", metavar="ENV:ENV", help="two environments side by side, e.g. prod:dev")
    for command in (build_cmd, summary_cmd, compare_cmd, export_cmd, report_cmd):
        if command is not compare_cmd:
            command.add_argument("--environment", "-e", default="prod")
        command.add_argument("--events", help="raw event file or glob (default: TRIAL_EVENTS_PATH, then the sample)")
        command.add_argument("--warehouse", help="DuckDB warehouse file (default: TRIAL_WAREHOUSE_PATH, then warehouse/)")
        command.add_argument("--project", default=PROJECT_ROOT, help="project directory (default: this checkout)")
    commands.add_parser("generate", help="generate a trial event log (see --help)", add_help=False)

    args, rest = parser.parse_known_args(argv)
    if args.command == "generate":
        from trial_activation.generate import main as generate_main

        return generate_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    context = open_context(args.project, events_path=args.events, warehouse_path=args.warehouse)
    if args.command == "compare":
        from trial_activation.compare import compare_environments, format_comparison

        try:
            comparison = compare_environments(context, args.source, args.target, sample=args.sample)
        except ValueError as error:  # an environment that does not exist
            parser.exit(2, f"trial-activation compare: {error}\n")
        print(format_comparison(comparison))
        return 0
    if args.command == "export":
        from trial_activation.export import export_marts

        try:
            manifest = export_marts(context, args.environment, args.file_format, args.out)
        except MissingInEnvironment as error:
            parser.exit(2, f"trial-activation export: {error}\n")
        for entry in manifest["models"]:
            print(f"{entry['model']:<28} {entry['rows']:>9,} rows -> {entry['file']}")
        print(f"manifest: {args.out}/manifest.json")
        return 0
    if args.command == "report":
        from trial_activation.report import parse_compare, write_report

        try:
            environments = parse_compare(args.compare) if args.compare else [args.environment]
        except ValueError as error:
            parser.error(str(error))
        try:
            path = write_report(context, environments, args.out)
        except MissingInEnvironment as error:
            parser.exit(2, f"trial-activation report: {error}\n")
        print(f"report: {path}")
        return 0
    if args.command == "build":
        build(context, args.environment)
    try:
        print(activation_summary(context, args.environment))
    except MissingInEnvironment as error:
        parser.exit(2, f"trial-activation {args.command}: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
