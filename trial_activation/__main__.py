"""Command line: `trial-activation build|run|summary|compare|report|export|generate ...` (also `python -m trial_activation`).

An anticipated error (a bad input file, an environment that does not exist, a warehouse in use by
another process, a failed audit, a PostgreSQL server that cannot be reached or refuses the password,
an output path that cannot be written) ends in one line saying what is wrong and what to do, and exit
status 1; `--debug` shows the traceback instead.

The project is the one in the current folder (or the nearest folder above it holding the project's
config.yaml), as for `sqlmesh`; elsewhere, the checkout this package was installed from. Every command
prints which first.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from pathlib import Path

# SQLMesh loads a project's models in a pool of forked worker processes (one per CPU) unless
# MAX_FORK_WORKERS is 1, read once when sqlmesh is first imported (below): a command killed while
# loading would leave those workers behind, and a dozen models load as fast in one process.
os.environ.setdefault("MAX_FORK_WORKERS", "1")

from sqlmesh.core.console import NoopConsole  # noqa: E402 - after MAX_FORK_WORKERS is set

from trial_activation.alerts import AlertTarget, ConsoleAlertTarget, alert_targets  # noqa: E402 - after MAX_FORK_WORKERS is set
from trial_activation.alerts import logger as _alerts_logger  # noqa: E402
from trial_activation.project import (  # noqa: E402 - after MAX_FORK_WORKERS is set
    LOCK_ERROR,
    MissingInEnvironment,
    SeedFileError,
    WarehouseLocked,
    WarehouseNameUnusable,
    activation_summary,
    build,
    check_accounting,
    error_chain,
    find_project,
    input_report,
    open_warehouse,
    require_environment,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trial-activation", description=__doc__.split("\n")[0])
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="plan and apply an environment (prod by default), then summarise it")
    run_cmd = commands.add_parser(
        "run",
        help="the daily job: SQLMesh's run of an environment (prod by default), alerting the team when it fails",
        description="SQLMesh's `run` (the intervals that are due) with the project's alerts: a failed run, audit"
        " or accounting check is posted to TRIAL_ALERT_WEBHOOK_URL when it is set, and printed on the console."
        " Exit status 0 when the run succeeded (or had nothing to do), 1 when it failed; an alert that cannot be"
        " delivered is one line on stderr and changes neither. See docs/operations.md.",
    )
    run_cmd.add_argument("--start", help="the earliest interval to run (default: each model's first missing one)")
    run_cmd.add_argument("--end", help="the last interval to run, inclusive for a date (default: now)")
    run_cmd.add_argument(
        "--execution-time", help="the run's clock (default: now); to replay a past day, its next midnight"
    )
    run_cmd.add_argument(
        "--check-accounting",
        action="store_true",
        help="after the run, audit raw_rows_accounted_for over every loaded day, not only the new one: finds a"
        " late file for a past day (reads the whole input; e.g. weekly)",
    )
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
    export_cmd.add_argument(
        "--spreadsheet-safe",
        action="store_true",
        help="CSV for people who open it in a spreadsheet: a text cell starting with = + - @ is written with a ' first"
        " (default: every value as it is, for other tools)",
    )
    report_cmd = commands.add_parser(
        "report", help="write the product team's report: one self-contained HTML file (charts inline, no network)"
    )
    report_cmd.add_argument("--out", help="HTML file to write (default: reports/trial_activation_<env>.html)")
    report_cmd.add_argument("--compare", metavar="ENV:ENV", help="two environments side by side, e.g. prod:dev")
    for command in (build_cmd, run_cmd, summary_cmd, compare_cmd, export_cmd, report_cmd):
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
        command.add_argument(
            "--project",
            help="project directory (default: the current folder or the nearest one above it holding the project's"
            " config.yaml, else the checkout trial-activation was installed from)",
        )
        command.add_argument(
            "--wait",
            type=float,
            default=0,
            metavar="SECONDS",
            help="while another process holds the warehouse (build, run: any other process, readers included;"
            " the other commands: a writer), wait up to SECONDS for it (default: 0, give up at once)",
        )
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands.add_parser("generate", help="generate a trial event log (see generate --help)", add_help=False)

    args, rest = parser.parse_known_args(argv)
    if args.command == "generate":
        from trial_activation.generator import main as generate_main

        return generate_main(rest, prog=f"{parser.prog} generate")
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    # The daily job alerts on the console, and on the webhook when TRIAL_ALERT_WEBHOOK_URL is set.
    args.alerts = [*alert_targets(), ConsoleAlertTarget()] if args.command == "run" else None
    check_arguments(commands.choices[args.command], args)  # its errors show the command's usage
    sqlmesh_logger = logging.getLogger("sqlmesh")
    level = sqlmesh_logger.level
    if not args.debug:
        # SQLMesh logs the error it then raises (e.g. the warehouse lock) as a warning: said once below.
        sqlmesh_logger.setLevel(logging.ERROR)
    # An alert that could not be delivered: one line on stderr (alerts.py logs it; nothing else here does).
    alerts_logger, alerts_handler = _alerts_logger, logging.StreamHandler(sys.stderr)
    alerts_handler.setFormatter(logging.Formatter("%(message)s"))
    alerts_logger.addHandler(alerts_handler)
    propagate, alerts_logger.propagate = alerts_logger.propagate, False
    try:
        return run(args)
    except Exception as error:  # noqa: BLE001 - anticipated errors become one line, the rest re-raise
        message = None if args.debug else explain(error)
        if args.alerts:
            alert_if_unreported(args.alerts, args.environment, explain(error) or first_line(error))
        if message is None:
            raise
        print(f"{parser.prog} {args.command}: {message}", file=sys.stderr)
        return 1
    finally:
        # main() may be called from Python (the tests): leave logging as found.
        sqlmesh_logger.setLevel(level)
        alerts_logger.removeHandler(alerts_handler)
        alerts_logger.propagate = propagate


def check_arguments(parser: argparse.ArgumentParser, args) -> None:
    """Environment names as SQLMesh stores them (lower case, word characters: `-e Dev` builds `dev`), and
    the arguments SQLMesh would otherwise reject with a traceback, each said in one line (parser.error)."""
    from sqlmesh.core.environment import EnvironmentNamingInfo
    from sqlmesh.utils.date import to_datetime

    for option in ("environment", "source", "target"):
        if getattr(args, option, None) is not None:
            setattr(args, option, EnvironmentNamingInfo.sanitize_name(getattr(args, option)))
    if args.command == "report" and args.compare:
        from trial_activation.report import parse_compare

        try:
            args.environments = [EnvironmentNamingInfo.sanitize_name(name) for name in parse_compare(args.compare)]
        except ValueError as error:
            parser.error(str(error))
    if args.command == "compare":
        if args.source == args.target:
            parser.error(f"--source and --target are both '{args.source}': compare two environments, e.g. --source prod --target dev")
        if args.sample < 0:
            parser.error(f"--sample takes how many organization ids to list per direction, 0 or more, not {args.sample}")
    if args.command == "run":

        def refuse(message: str) -> None:  # the daily job: a scheduler's mis-built command is a failed run too
            alert_if_unreported(args.alerts, args.environment, message)
            parser.error(message)

        times = {}
        for option in ("start", "end", "execution_time"):
            value = getattr(args, option)
            try:
                times[option] = None if value is None else to_datetime(value)
            except ValueError:
                refuse(f"--{option.replace('_', '-')} {value!r} is not a date or time: give e.g. 2024-05-01 or '2024-05-01 06:00'")
        if times["start"] and times["end"] and times["start"] > times["end"]:
            refuse(f"--start {args.start} is after --end {args.end}")


def run(args) -> int:
    project = find_project() if args.project is None else args.project
    print(f"project: {Path(project).resolve()}")  # which copy of the project is read and written
    # Every command but build and run only reads: it opens the warehouse read-only, beside any other reader.
    context = open_warehouse(
        project,
        events_path=args.events,
        warehouse_path=args.warehouse,
        notification_targets=args.alerts,
        read_only=args.command not in ("build", "run"),
        create=args.command == "build",  # a run of a warehouse never built would leave an empty file behind
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
    if args.command == "run":
        return daily_run(context, args)
    if args.command == "compare":
        from trial_activation.compare import compare_environments, format_comparison

        print(format_comparison(compare_environments(context, args.source, args.target, sample=args.sample)))
        return 0
    if args.command == "export":
        from trial_activation.export import export_marts

        manifest = export_marts(context, args.environment, args.file_format, args.out, spreadsheet_safe=args.spreadsheet_safe)
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
        explain_alerts(context, console, args.environment)
        try:
            build(context, args.environment)
        except Exception as error:
            if console.failures:
                raise BuildFailedError(context, console.failures) from error
            raise
    print(input_report(context, args.environment))
    print(activation_summary(context, args.environment))
    return 0


def daily_run(context, args) -> int:
    """SQLMesh's run of the environment; SQLMesh notifies the alert targets of a failed run or audit (the
    targets are told the failed models and an audit's first rows, as the one-line error names them)."""
    require_environment(context, args.environment)  # SQLMesh would say only "Environment 'x' was not found."
    context.console = console = FailuresInOneLine()
    explain_alerts(context, console, args.environment)
    status = context.run(args.environment, start=args.start, end=args.end, execution_time=args.execution_time)
    if status.is_failure:
        if console.failures:
            raise BuildFailedError(context, console.failures)
        raise RunFailedError(f"the run of '{args.environment}' failed (run it with --debug for SQLMesh's log)")
    done = "nothing to do (every interval due was already run)" if status.is_nothing_to_do else "finished"
    print(f"Run ({args.environment}): {done}")
    if args.check_accounting:
        first, last, failed = check_accounting(context, args.environment, args.execution_time)
        if failed:
            found = "; ".join(describe_failure(context, AccountingFailure(error)) for error in failed)
            raise AccountingMismatchError(
                f"{found}, over the loaded days {first} to {last}: events arrived late for those days?"
                " restate them (docs/incremental.md#late-arriving-events)"
            )
        print(f"Accounting ({args.environment}): every raw row of {first} to {last} is staged or quarantined")
    return 0


class AccountingFailure(Exception):
    """An audit failure of the accounting check, shaped as a failed node for describe_failure."""

    def __init__(self, error):
        super().__init__(str(error))
        self.node = error.model.name
        self.__cause__ = error


class AccountingMismatchError(Exception):
    """The accounting audit over the loaded days found days whose raw rows do not add up."""


def explain_alerts(context, console: FailuresInOneLine, environment: str) -> None:
    """Tell the alert targets what the one-line error says: the failed models, an audit's first rows."""
    for target in context.notification_targets:
        if isinstance(target, AlertTarget):
            target.explain_with(
                environment=environment,
                failed_models=lambda: [describe_failure(context, failure) for failure in console.failures],
                audit_rows=lambda audit: _audit_rows(context, audit),
            )


class RunFailedError(Exception):
    """A run that SQLMesh reports as failed without naming a model."""


def alert_if_unreported(targets: list, environment: str, message: str) -> None:
    """A daily run that failed before SQLMesh notified anyone (the project did not load, the warehouse
    is locked, the environment does not exist): every exit status 1 of the job sends a notice."""
    if not any(target.failures_notified for target in targets):
        for target in targets:
            target.notify("run_failure", "daily run FAILED", details=[message], environment=environment)


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
    raw_file = next((error for error in error_chain(cause) if type(error).__name__ == "RawFileError"), None)
    if raw_file is not None:  # macros/raw_source.py: a file checked again when the raw view was created
        return f"{model}: {raw_file}"
    if not audits:
        # DuckDB names the file of a CSV error further down its message: keep that too.
        file = re.search(r"^\s*file = (.+)$", str(cause), re.MULTILINE)
        return f"{model}: {first_line(cause)}" + (f" (file {file[1]})" if file else "")
    described = []
    for audit in audits:
        rows = _audit_rows(context, audit)
        allowed = audit.audit_args.get("is_in") if audit.audit_name == "accepted_values" else None
        accepted = f"; accepted: {allowed.sql(dialect='duckdb')}" if isinstance(allowed, exp.Expression) else ""
        described.append(f"audit {audit.audit_name} failed ({audit.count} row{'s' if audit.count != 1 else ''}{rows}{accepted})")
    return f"{model}: {'; '.join(described)}"


def _audit_rows(context, audit, limit: int = 5) -> str:
    """The first rows an audit returned, as `column value, ...` (the audit says what it found)."""
    try:
        frame = context.engine_adapter.fetchdf(audit.query.limit(limit))
    except Exception:  # noqa: BLE001 - the row count is still worth reporting
        return ""
    rows = [", ".join(f"{column} {_value(value)}" for column, value in row.items()) for row in frame.to_dict("records")]
    return ": " + " | ".join(rows) if rows else ""


def _value(value) -> str:
    """As the audit meant it: a count summed into a float (or a HUGEINT) as a whole number, a DATE
    (which pandas reads as a midnight timestamp) as a date."""
    import pandas as pd

    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.date().isoformat()
    return str(value)


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def explain(error: BaseException) -> str | None:
    """One line for an anticipated error, or None for a bug (which keeps its traceback)."""
    import duckdb

    from trial_activation.export import ExportError

    anticipated = (
        BuildFailedError, MissingInEnvironment, RunFailedError, AccountingMismatchError, ExportError, WarehouseLocked,
        WarehouseNameUnusable, SeedFileError,
    )
    if isinstance(error, anticipated):
        return str(error)
    for cause in error_chain(error):
        if type(cause).__name__ == "RawFileError":  # macros/raw_source.py: the input file is unusable
            return str(cause)
        if type(cause).__module__.startswith("psycopg2") and type(cause).__name__ == "OperationalError":
            # Unreachable server, refused password, missing database. psycopg2 names the host, port and
            # user, never the password.
            return (
                f"the PostgreSQL gateway refused or could not be reached: {one_line(cause)}: check TRIAL_PG_HOST,"
                " TRIAL_PG_PORT, TRIAL_PG_USER, TRIAL_PG_PASSWORD and TRIAL_PG_DATABASE (config.yaml)"
            )
        if isinstance(cause, OSError) and cause.filename:  # e.g. a report --out that is a folder
            return f"{cause.filename}: {cause.strerror or cause}: give another path, or one you may write to"
        locked = LOCK_ERROR.search(str(cause))
        if isinstance(cause, duckdb.IOException) and locked:  # met after the connection (wait_for_warehouse)
            return str(WarehouseLocked(locked[1], int(locked[2]), 0, read_only=False))
        not_duckdb = NOT_A_DUCKDB_FILE.search(str(cause))
        if isinstance(cause, duckdb.IOException) and not_duckdb:
            return (
                f"{not_duckdb[1]} is not a DuckDB database file (left as it is): point the setting that names it"
                " (--warehouse / TRIAL_WAREHOUSE_PATH, or TRIAL_SPARK_STATE_PATH) at a DuckDB file, or at a path that"
                " does not exist yet to create one"
            )
    from sqlmesh.utils.errors import SQLMeshError

    if isinstance(error, SQLMeshError):  # SQLMesh's own message for a user error (config, plan, ...)
        return one_line(error)
    return None


# DuckDB's message for a database path holding something else.
NOT_A_DUCKDB_FILE = re.compile(r'The file "(.*?)" exists, but it is not a valid DuckDB database file')


def one_line(error: BaseException) -> str:
    """The whole message on one line: SQLMesh's loader puts the cause on the lines after its heading
    ("Failed to load model from file '...':" then the error)."""
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
