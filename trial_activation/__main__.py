"""Command line: `trial-activation build|summary|compare|report|export|generate ...` (also `python -m trial_activation`).

An anticipated error (a bad input file, an environment that does not exist, a warehouse in use by
another process, a failed audit) ends in one line saying what is wrong and what to do, and exit
status 1; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys

# SQLMesh loads a project's models in a pool of forked worker processes (one per CPU) unless
# MAX_FORK_WORKERS is 1, read once when sqlmesh is first imported (below): a command killed while
# loading would leave those workers behind, and a dozen models load as fast in one process.
os.environ.setdefault("MAX_FORK_WORKERS", "1")

from sqlmesh.core.console import NoopConsole  # noqa: E402 - after MAX_FORK_WORKERS is set

from trial_activation.project import (  # noqa: E402 - after MAX_FORK_WORKERS is set
    LOCK_ERROR,
    PROJECT_ROOT,
    MissingInEnvironment,
    WarehouseLocked,
    activation_summary,
    build,
    input_report,
    open_warehouse,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trial-activation", description=__doc__.split("\n")[0])
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
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
    export_cmd.add_argument("--out", required=True, help="folder the files are written to (each file replaced atomically, the manifest last)")
    report_cmd = commands.add_parser(
        "report", help="write the product team's report: one self-contained HTML file (charts inline, no network)"
    )
    report_cmd.add_argument("--out", help="HTML file to write (default: reports/trial_activation_<env>.html)")
    report_cmd.add_argument("--compare", metavar="ENV:ENV", help="two environments side by side, e.g. prod:dev")
    for command in (build_cmd, summary_cmd, compare_cmd, export_cmd, report_cmd):
        if command is not compare_cmd:
            command.add_argument("--environment", "-e", default="prod")
        command.add_argument(
            "--events",
            help="raw event file or glob (default: TRIAL_EVENTS_PATH, relative to the project root, then the sample)",
        )
        command.add_argument(
            "--warehouse",
            help="DuckDB warehouse file (default: TRIAL_WAREHOUSE_PATH, relative to the project root, then warehouse/)",
        )
        command.add_argument("--project", default=PROJECT_ROOT, help="project directory (default: this checkout)")
        command.add_argument(
            "--wait",
            type=float,
            default=0,
            metavar="SECONDS",
            help="while another process holds the warehouse (build: any other process, readers included;"
            " the other commands: a writer), wait up to SECONDS for it (default: 0, give up at once)",
        )
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands.add_parser("generate", help="generate a trial event log (see generate --help)", add_help=False)

    args, rest = parser.parse_known_args(argv)
    if args.command == "generate":
        from trial_activation.generate import main as generate_main

        return generate_main(rest, prog=f"{parser.prog} generate")
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "report" and args.compare:
        from trial_activation.report import parse_compare

        try:
            args.environments = parse_compare(args.compare)
        except ValueError as error:
            parser.error(str(error))
    sqlmesh_logger = logging.getLogger("sqlmesh")
    level = sqlmesh_logger.level
    if not args.debug:
        # SQLMesh logs the error it then raises (e.g. the warehouse lock) as a warning: said once below.
        sqlmesh_logger.setLevel(logging.ERROR)
    try:
        return run(args)
    except Exception as error:  # noqa: BLE001 - anticipated errors become one line, the rest re-raise
        message = None if args.debug else explain(error)
        if message is None:
            raise
        print(f"{parser.prog} {args.command}: {message}", file=sys.stderr)
        return 1
    finally:
        sqlmesh_logger.setLevel(level)  # main() may be called from Python (the tests): leave logging as found


def run(args) -> int:
    # Every command but build only reads: it opens the warehouse read-only, beside any other reader.
    context = open_warehouse(
        args.project,
        events_path=args.events,
        warehouse_path=args.warehouse,
        read_only=args.command != "build",
        wait=args.wait,
        on_wait=lambda line: print(f"trial-activation {args.command}: {line}", file=sys.stderr, flush=True),
    )
    try:
        return run_command(context, args)
    finally:
        # Closed, not left to the end of the process: DuckDB then checkpoints a build's write-ahead log
        # into the file, which readers (who cannot checkpoint) would otherwise replay on every open.
        context.close()


def run_command(context, args) -> int:
    if args.command == "compare":
        from trial_activation.compare import compare_environments, format_comparison

        print(format_comparison(compare_environments(context, args.source, args.target, sample=args.sample)))
        return 0
    if args.command == "export":
        from trial_activation.export import export_marts

        manifest = export_marts(context, args.environment, args.file_format, args.out)
        for entry in manifest["models"]:
            print(f"{entry['model']:<28} {entry['rows']:>9,} rows -> {entry['file']}")
        print(f"manifest: {args.out}/manifest.json")
        return 0
    if args.command == "report":
        from trial_activation.report import write_report

        path = write_report(context, getattr(args, "environments", None) or [args.environment], args.out)
        print(f"report: {path}")
        return 0
    if args.command == "build":
        context.console = console = FailuresInOneLine()
        try:
            build(context, args.environment)
        except Exception as error:
            if console.failures:
                raise BuildFailedError(context, console.failures) from error
            raise
    print(input_report(context, args.environment))
    print(activation_summary(context, args.environment))
    return 0


class FailuresInOneLine(NoopConsole):
    """The console of a build: as silent as SQLMesh's default for a library (the CLI prints its own
    lines), but it keeps the models that fail, for the CLI's one-line error (BuildFailedError)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: list = []

    def log_failed_models(self, errors: list) -> None:
        self.failures.extend(errors)


class BuildFailedError(Exception):
    """A plan that failed while applying: the models that failed, each with its first error line."""

    def __init__(self, context, failures: list):
        self.context = context
        self.failures = failures
        super().__init__("; ".join(describe_failure(context, failure) for failure in failures))


def describe_failure(context, failure) -> str:
    """'<model>: <what failed>': an audit's returned rows (e.g. the goal and the rule it broke), or the
    first line of the engine's error."""
    from sqlmesh.utils.errors import AuditError, NodeAuditsErrors

    from sqlglot import exp

    cause = failure.__cause__ or failure
    node = getattr(failure, "node", None)
    table = exp.to_table(getattr(node, "snapshot_name", None) or str(node), dialect="duckdb")
    model = f"{table.db}.{table.name}"
    audits = cause.errors if isinstance(cause, NodeAuditsErrors) else [cause] if isinstance(cause, AuditError) else []
    if not audits:
        # DuckDB names the file of a CSV error further down its message: keep that too.
        file = re.search(r"^\s*file = (.+)$", str(cause), re.MULTILINE)
        return f"{model}: {first_line(cause)}" + (f" (file {file[1]})" if file else "")
    described = []
    for audit in audits:
        rows = _audit_rows(context, audit)
        described.append(f"audit {audit.audit_name} failed ({audit.count} row{'s' if audit.count != 1 else ''}{rows})")
    return f"{model}: {'; '.join(described)}"


def _audit_rows(context, audit, limit: int = 5) -> str:
    """The first rows an audit returned, as `column value, ...` (the audit says what it found)."""
    try:
        frame = context.engine_adapter.fetchdf(audit.query.limit(limit))
    except Exception:  # noqa: BLE001 - the row count is still worth reporting
        return ""
    rows = [", ".join(f"{column} {value}" for column, value in row.items()) for row in frame.to_dict("records")]
    return ": " + " | ".join(rows) if rows else ""


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def explain(error: BaseException) -> str | None:
    """One line for an anticipated error, or None for a bug (which keeps its traceback)."""
    import duckdb

    if isinstance(error, (BuildFailedError, MissingInEnvironment, WarehouseLocked)):
        return str(error)
    for cause in _chain(error):
        if type(cause).__name__ == "RawFileError":  # macros/raw_source.py: the input file is unusable
            return str(cause)
        locked = LOCK_ERROR.search(str(cause))
        if isinstance(cause, duckdb.IOException) and locked:  # met after the connection (wait_for_warehouse)
            return str(WarehouseLocked(locked[1], int(locked[2]), 0, read_only=False))
    from sqlmesh.utils.errors import SQLMeshError

    if isinstance(error, SQLMeshError):  # SQLMesh's own message for a user error (config, plan, ...)
        return one_line(error)
    return None


def one_line(error: BaseException) -> str:
    """The whole message on one line: SQLMesh's loader puts the cause on the lines after its heading
    ("Failed to load model from file '...':" then the error)."""
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__


def _chain(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


if __name__ == "__main__":
    sys.exit(main())
