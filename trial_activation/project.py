"""Open, build and summarise the SQLMesh project from Python (the CLI and the tests use this)."""

from __future__ import annotations

import functools
import io
import re
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlglot import exp
from sqlmesh import Context
from sqlmesh.core.config import Config
from sqlmesh.core.config.connection import DuckDBAttachOptions
from sqlmesh.core.config.loader import load_configs
from sqlmesh.core.environment import Environment
from sqlmesh.core.snapshot import SnapshotTableInfo

from trial_activation.alerts import alert_targets
from trial_activation.modeling.raw_files import glob_files, resolve_events_path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What marks a folder as a copy of this project (not any SQLMesh project, whose config.yaml this CLI
# would misread): its config.yaml and its goal seed.
PROJECT_MARKERS = ("config.yaml", "seeds/activation_goals.csv")


def find_project(start: Path | str | None = None) -> Path:
    """The project the CLI works on: the nearest of `start` (default: the current folder) and its parents
    that holds the project's config.yaml, as `sqlmesh` and `dbt` take the folder they run in; else the
    checkout this package was installed from."""
    start = Path.cwd() if start is None else Path(start).resolve()
    for folder in (start, *start.parents):
        if all((folder / marker).is_file() for marker in PROJECT_MARKERS):
            return folder
    return PROJECT_ROOT


def open_context(
    project: Path | str = PROJECT_ROOT,
    *,
    events_path: Path | str | None = None,
    trials_path: Path | str | None = None,
    warehouse_path: Path | str | None = None,
    gateway: str | None = None,
    notification_targets: list | None = None,
    read_only: bool = False,
    create: bool = True,
) -> Context:
    """A sqlmesh Context on `project`, reading `events_path` (and the optional trials input
    `trials_path`, TRIAL_TRIALS_PATH) and writing `warehouse_path`.

    Both default to the project's config.yaml, that is to the environment (TRIAL_EVENTS_PATH,
    TRIAL_WAREHOUSE_PATH), then to the sample and a warehouse file under the project. A relative path
    in either variable is relative to the project root, whatever the working directory (as in
    config.yaml); a path given as an argument (the CLI's --events / --warehouse) is relative to the
    working directory, like any command-line path. A relative TRIAL_EVENTS_PATH is left relative: it
    is part of the models' fingerprint, which must not depend on where the checkout is.
    The arguments replace the config's values in a copy: the process environment is left as it is.
    SQLMesh notifies `notification_targets` of failed runs, audits and applies; by default the
    webhook of TRIAL_ALERT_WEBHOOK_URL when it is set, else none (trial_activation/alerts.py).

    `read_only` opens the DuckDB warehouse read-only (the commands that only read: summary, report,
    export, compare): any number of read-only processes share the file, where a read-write one has it
    to itself. The connection is then an in-memory database with the warehouse attached READ_ONLY
    under the catalog name a read-write open gives it (warehouse_catalog, which SQLMesh's state names
    every table with); SQLMesh needs nothing else from the connection to read. A missing warehouse
    file is an error instead of a new, empty file. On the other gateways it changes nothing (their
    servers let readers and writers work at once). One process opens a warehouse file one way only:
    SQLMesh keeps one connection per file per process, the first one opened. `create=False` (the daily
    run) opens the DuckDB warehouse read-write but refuses a missing file, as a read-only open does.
    """
    project = Path(project).resolve()
    config = load_configs("config", Config, project)[project]
    local = config.gateways["local"]
    # Path() / an absolute path is that path: only a relative one is taken from the project root.
    warehouse = Path(warehouse_path).resolve() if warehouse_path is not None else project / local.connection.database
    local_gateway = (gateway or config.default_gateway or "local") == "local"
    if local_gateway:
        check_warehouse_name(warehouse)
        if warehouse.is_dir():
            raise WarehouseNameUnusable(
                f"{warehouse} is a folder, not a warehouse file: point --warehouse / TRIAL_WAREHOUSE_PATH at a"
                " .duckdb file (a path that does not exist yet builds a new warehouse there)"
            )
    if local_gateway and (read_only or not create) and not warehouse.is_file():
        raise MissingInEnvironment(
            f"there is no warehouse at {warehouse}: build it first (`trial-activation build`), or point"
            " --warehouse / TRIAL_WAREHOUSE_PATH at the one that was built"
        )
    if read_only and local_gateway:
        attached = DuckDBAttachOptions(type="duckdb", path=str(warehouse), read_only=True)
        connection = local.connection.model_copy(update={"database": None, "catalogs": {warehouse_catalog(warehouse): attached}})
    else:
        if not read_only:
            warehouse.parent.mkdir(parents=True, exist_ok=True)
        connection = local.connection.model_copy(update={"database": str(warehouse)})
    overrides = {"gateways": {**config.gateways, "local": local.model_copy(update={"connection": connection})}}
    variables = dict(config.variables)
    if events_path is not None:
        variables["trial_events_path"] = str(Path(events_path).resolve())
    if trials_path is not None:  # "" for no trials input
        variables["trial_trials_path"] = str(Path(trials_path).resolve()) if str(trials_path) else ""
    if variables != config.variables:
        overrides["variables"] = variables
    if notification_targets is None:
        notification_targets = alert_targets()
    try:
        return Context(
            paths=str(project),
            config=config.model_copy(update=overrides),
            gateway=gateway,
            notification_targets=notification_targets,
        )
    except Exception as error:
        try:
            unreadable = _unreadable_seed(project) if _is_seed_parse_error(error) else None
        except OSError:  # a seed that cannot even be read: SQLMesh's error says more
            unreadable = None
        if unreadable is not None:
            raise SeedFileError(unreadable) from error
        raise


class SeedFileError(ValueError):
    """A seed CSV that SQLMesh cannot parse: the message names the file (and line) and what to do."""


def _is_seed_parse_error(error: BaseException) -> bool:
    """SQLMesh reads a seed with pandas while it loads the project; its errors name neither file nor model."""
    parse_errors = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError)
    return any(isinstance(cause, parse_errors) for cause in error_chain(error))


def error_chain(error: BaseException | None):
    """The error, then what caused it (explicitly or while handling), each once."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)


# A seed model's file, as the models declare it: kind SEED (path '../../seeds/x.csv').
SEED_PATH = re.compile(r"kind\s+SEED\s*\(\s*path\s+'([^']+)'", re.IGNORECASE)


def _unreadable_seed(project: Path) -> str | None:
    """The first seed file a model declares that does not parse as SQLMesh reads it (UTF-8,
    comma-separated, a header and rows of as many fields), said in one line; None when every one does."""
    declared = (
        (model.parent / found).resolve()
        for model in sorted((project / "models").rglob("*.sql"))
        for found in SEED_PATH.findall(model.read_text(encoding="utf-8", errors="replace"))
    )
    for path in declared:
        where = path.relative_to(project) if path.is_relative_to(project) else path
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            return f"{where} line {line}: not UTF-8 text: save the file as UTF-8 (CSV UTF-8 in a spreadsheet)"
        if not text.strip():
            return f"{where}: the file is empty: it needs its header row, then a row per entry"
        try:
            pd.read_csv(io.StringIO(text), index_col=False, on_bad_lines="error", low_memory=False)
        except pd.errors.ParserError as error:
            fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
            if fields is None:
                return f"{where}: {str(error).strip().splitlines()[0]}: save it as comma-separated UTF-8 text with a header row"
            expected, line, saw = fields.groups()
            return (
                f"{where} line {line}: {saw} fields where the header has {expected}: separate fields with commas,"
                ' and put a value that holds a comma in double quotes ("a, b")'
            )
    return None


def open_warehouse(
    project: Path | str = PROJECT_ROOT,
    *,
    wait: float = 0,
    on_wait: Callable[[str], None] | None = None,
    read_only: bool = False,
    **options,
) -> Context:
    """open_context(project, read_only=read_only, **options), connected to the warehouse: waits up to
    `wait` seconds while another process holds the warehouse's lock (wait_for_warehouse). A read-only
    open of a warehouse that was never built is MissingInEnvironment, not SQLMesh's attempt to create
    its state tables there."""
    context = open_context(project, read_only=read_only, **options)
    wait_for_warehouse(context, wait, on_wait=on_wait)
    if read_only and context.engine_adapter.dialect == "duckdb" and not context.engine_adapter.table_exists("sqlmesh._versions"):
        raise MissingInEnvironment(
            f"the warehouse {_warehouse_file(context)} holds no environment yet: build it first (`trial-activation build`)"
        )
    return context


class WarehouseLocked(Exception):
    """The DuckDB warehouse file is held by another process: the message names the file and the PID."""

    def __init__(self, path: str, pid: int, waited: float, read_only: bool):
        self.path, self.pid, self.waited = path, pid, waited
        command = _command_line(pid)
        holder = f"PID {pid}{_shown(command)}"
        if read_only:  # only a read-write holder keeps a reader out: a plan, a run, `sqlmesh ui`
            what = f"the warehouse {path} is being written by another process ({holder})"
        else:  # a writer is kept out by any holder, readers (a notebook, `duckdb -readonly`) included
            what = f"the warehouse {path} is in use by another process ({holder})"
        if waited:
            what += f" and still was after waiting {waited:g} s"
        ui = " (or plan from the UI's Plan page)" if re.search(r"sqlmesh\S* ui\b", command) else ""
        super().__init__(
            f"{what}: run this again when it is done (`--wait SECONDS` waits for it), stop it{ui}, or set"
            " TRIAL_WAREHOUSE_PATH to another warehouse file"
        )


# DuckDB's message when another process holds the file: 'Could not set lock on file "<path>":
# Conflicting lock is held in <program> (PID <pid>)'.
LOCK_ERROR = re.compile(r'Could not set lock on file "(.*?)".*?\(PID (\d+)\)', re.DOTALL)


def wait_for_warehouse(
    context: Context, wait: float = 0, *, on_wait: Callable[[str], None] | None = None, poll: float = 0.2
) -> None:
    """Connect `context` to its warehouse, retrying while another process holds the DuckDB file's lock,
    for up to `wait` seconds; then WarehouseLocked. `on_wait` is called once, with a line saying who
    holds it, when the waiting starts. Nothing to wait for on the other engines (no file lock).

    DuckDB takes the lock when the file is opened, before SQLMesh reads or writes anything, and the
    context keeps its one connection: once this returns, the plan or run cannot meet the lock again.
    """
    import duckdb

    deadline = time.monotonic() + wait
    while True:
        try:
            context.engine_adapter.ping()
            return
        except duckdb.IOException as error:
            locked = LOCK_ERROR.search(str(error))
            if locked is None:
                raise
            context.engine_adapter.close()  # the next attempt opens a new connection
            if time.monotonic() >= deadline:
                raise WarehouseLocked(locked[1], int(locked[2]), wait, _is_read_only_config(context)) from error
            if on_wait is not None:
                on_wait(f"the warehouse {locked[1]} is held by PID {locked[2]}{_shown(_command_line(int(locked[2])))}: waiting up to {wait:g} s")
                on_wait = None
            time.sleep(poll)


def _is_read_only_config(context: Context) -> bool:
    catalogs = getattr(context.connection_config, "catalogs", None) or {}
    return any(getattr(options, "read_only", False) for options in catalogs.values())


def _command_line(pid: int) -> str:
    """A process's command line on one line, where the system says (Linux's /proc), else ''."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return ""
    return " ".join(" ".join(arguments).split())  # one line, whatever the arguments hold


def _shown(command: str, limit: int = 160) -> str:
    """': <command>' for a message, cut at `limit` characters; '' when unknown."""
    return f": {command[:limit]}{'...' if len(command) > limit else ''}" if command else ""


def _warehouse_file(context: Context) -> str:
    return context.engine_adapter.fetchone("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")[0]


def scratch_schema(context: Context) -> str | None:
    """Where SQLMesh may create temporary tables (Context.table_diff's temp_schema): None for its
    default, the warehouse; on a warehouse opened read-only, the connection's in-memory catalog."""
    if context.engine_adapter.dialect != "duckdb":
        return None
    read_only = context.engine_adapter.fetchone("SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()")[0]
    if not read_only:
        return None
    context.engine_adapter.execute("CREATE SCHEMA IF NOT EXISTS memory.sqlmesh_temp")
    return "memory.sqlmesh_temp"


def require_environment(context: Context, environment: str) -> None:
    environment_state(context, environment)  # raises MissingInEnvironment


def input_report(context: Context, environment: str = "prod") -> str:
    """Which raw file(s) the environment's raw.trial_events reads, and how many raw rows each holds."""
    require_environment(context, environment)
    if context.engine_adapter.dialect != "duckdb":
        # On the warehouse gateways raw.trial_events is the warehouse's own table (external_models.yaml).
        rows = int(context.fetchdf("SELECT COUNT(*) AS raw_rows FROM raw.trial_events").raw_rows[0])
        return f"Input ({environment}): {rows:,} raw rows in the warehouse table raw.trial_events"
    files = context.fetchdf(
        f"SELECT source_file, COUNT(*) AS raw_rows FROM {environment_table(context, 'raw.trial_events', environment)}"
        " GROUP BY source_file ORDER BY source_file"
    )
    total = int(files.raw_rows.sum())
    if len(files) == 1:
        report = f"Input ({environment}): {total:,} raw rows from {files.source_file[0]}"
    else:
        listed = ", ".join(f"{row.source_file} ({int(row.raw_rows):,})" for row in files.itertuples())
        report = f"Input ({environment}): {total:,} raw rows from {len(files)} files: {listed}"
    # What the glob of the configured path leaves out (trial_activation/modeling/raw_files.py), said, not hidden.
    events_path = resolve_events_path(context.config.variables.get("trial_events_path") or "", str(context.path))
    hidden = glob_files(events_path)[1]
    if hidden:
        report += f"\n  not read: {len(hidden)} hidden file{'s' if len(hidden) > 1 else ''} the path matches: {', '.join(hidden)}"
    return report + _trials_report(context, environment)


def _trials_report(context: Context, environment: str) -> str:
    """A line for the optional trials input (TRIAL_TRIALS_PATH) when the environment read one: its rows
    and files, and how many of them are quarantined; nothing without one (or before raw.trials existed)."""
    try:
        raw = environment_table(context, "raw.trials", environment)
        quarantine = environment_table(context, "staging.trials_quarantine", environment)
    except MissingInEnvironment:
        return ""
    files = context.fetchdf(f"SELECT source_file, COUNT(*) AS raw_rows FROM {raw} GROUP BY source_file ORDER BY source_file")
    if files.empty:
        return ""
    quarantined = int(context.fetchdf(f"SELECT COUNT(*) AS n FROM {quarantine}").n[0])
    return (
        f"\nTrials input ({environment}): {int(files.raw_rows.sum()):,} rows from {', '.join(files.source_file)}"
        f" ({quarantined:,} quarantined: staging.trials_quarantine)"
    )


def build(context: Context, environment: str = "prod", **plan_options):
    """Plan and apply `environment` without prompts; returns the applied plan."""
    return context.plan(environment, auto_apply=True, no_prompts=True, **plan_options)


ACCOUNTING_MODEL = "staging.trial_events"  # carries the raw_rows_accounted_for audit
ACCOUNTING_AUDIT = "raw_rows_accounted_for"


def check_accounting(context: Context, environment: str = "prod", execution_time=None) -> tuple[str, str, list]:
    """The accounting audit over every day the environment has loaded (a daily run audits only its new
    day, so a late file for a past day is found only this way): (first day, last day, failed audits).
    Each failure is sent to the context's notification targets as an audit failure, as in a run."""
    from sqlmesh.core.notification_target import NotificationEvent
    from sqlmesh.utils.date import to_datetime
    from sqlmesh.utils.errors import AuditError

    env = environment_state(context, environment)
    snapshots = context.state_reader.get_snapshots(env.snapshots)
    by_name = {snapshot.name: snapshot for snapshot in snapshots.values()}
    snapshot = next(s for s in snapshots.values() if _model_name(s) == ACCOUNTING_MODEL)
    if not snapshot.intervals:
        raise MissingInEnvironment(f"{ACCOUNTING_MODEL} has loaded no day in '{environment}' yet: nothing to check")
    first = to_datetime(min(start for start, _ in snapshot.intervals)).date().isoformat()
    last = (to_datetime(max(end for _, end in snapshot.intervals)) - pd.Timedelta(days=1)).date().isoformat()
    failed = []
    for result in context.snapshot_evaluator.audit(
        snapshot, snapshots=by_name, start=first, end=last, execution_time=execution_time
    ):
        if result.count and result.audit.name == ACCOUNTING_AUDIT:  # the model's other audits are not accounting
            error = AuditError(
                audit_name=result.audit.name, audit_args=result.audit_args, model=snapshot.model,
                count=result.count, query=result.query, adapter_dialect=context.engine_adapter.dialect,
            )
            context.notification_target_manager.notify(NotificationEvent.AUDIT_FAILURE, error)
            failed.append(error)
    return first, last, failed


# marts.goal_conversion's population of organizations that had not converted when the goal's window
# closed: the honest one, which compare and the report lead with.
HONEST_POPULATION = "unconverted_at_window_end"


class MissingInEnvironment(ValueError):
    """An environment, or a model in it, that is not there: the message is one line saying what to do."""


class WarehouseNameUnusable(ValueError):
    """A DuckDB warehouse file whose name SQLMesh cannot plan with: the message names it and what to do."""


# DuckDB's keyword categories that its parser refuses as an unquoted catalog name (`full`, `left`,
# `order`); SQLMesh writes some statements with the catalog unquoted (a seed's temporary table).
UNUSABLE_KEYWORDS = ("reserved", "type_function")


# Catalog names DuckDB keeps for itself: a file named after one is attached as <name>_db.
DUCKDB_OWN_CATALOGS = ("main", "temp", "system")


def warehouse_catalog(warehouse: Path) -> str:
    """The catalog name DuckDB gives a database file: its name up to the first dot (trial.v2.duckdb ->
    trial), with _db appended to a name DuckDB keeps for itself (main.duckdb -> main_db). SQLMesh's
    state names every table with it."""
    name = warehouse.name.split(".")[0]
    return f"{name}_db" if name.lower() in DUCKDB_OWN_CATALOGS else name


@functools.cache
def unusable_duckdb_keywords() -> frozenset[str]:
    """DuckDB's keywords of the UNUSABLE_KEYWORDS categories (lower case), read once per process."""
    import duckdb

    with duckdb.connect() as connection:
        rows = connection.execute(
            f"SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category IN {UNUSABLE_KEYWORDS}"
        ).fetchall()
    return frozenset(name.lower() for (name,) in rows)


def check_warehouse_name(warehouse: Path) -> None:
    """DuckDB names the warehouse's catalog after the file (warehouse_catalog) and SQLMesh names every
    table with it: a name that is not a plain identifier, or is one of DuckDB's reserved keywords, fails
    the first plan with a parser error deep in SQLMesh. Said here, in one line, before anything runs."""
    name = warehouse_catalog(warehouse)
    why = None
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        why = "has characters other than letters, digits and _, or starts with a digit"
    elif name.lower() in unusable_duckdb_keywords():
        why = "is a SQL keyword"
    if why:
        raise WarehouseNameUnusable(
            f"the warehouse file {warehouse} cannot be used: DuckDB names its catalog {name!r} after the file,"
            f" and that name {why}; name the file with letters, digits and _ (e.g. trial_activation.duckdb)"
            " in --warehouse / TRIAL_WAREHOUSE_PATH"
        )


def environment_snapshots(context: Context, environment: str) -> dict[str, SnapshotTableInfo]:
    """Model name ('marts.trial_goals') -> its snapshot in `environment`, from SQLMesh's state."""
    return {_model_name(s): s for s in environment_state(context, environment).snapshots}


def environment_table(context: Context, model: str, environment: str) -> str:
    """What a reader queries for `model` in `environment`, as SQLMesh names it.

    The environment's view when the environment has one for the model; otherwise the physical table
    the environment uses (SQLMesh's Context.table_name): a dev environment only gets views for the
    models it changed (its promoted snapshots), so `marts__dev.x` does not exist for an unchanged x.
    """
    env = environment_state(context, environment)
    snapshot = next((s for s in env.snapshots if _model_name(s) == model), None)
    if snapshot is None:
        raise MissingInEnvironment(
            f"{model} is not in environment '{environment}' (built before the model existed?):"
            f" plan it again (`trial-activation build -e {environment}`)"
        )
    if snapshot.snapshot_id in {s.snapshot_id for s in env.promoted_snapshots}:
        return snapshot.qualified_view_name.for_environment(env.naming_info, dialect=context.default_dialect)
    return context.table_name(snapshot.name, environment)


def select_rows(
    context: Context,
    model: str,
    environment: str,
    columns: tuple[str, ...] = (),
    *,
    where: dict | None = None,
    order_by: tuple[str, ...] = (),
) -> pd.DataFrame:
    """`SELECT columns FROM model [WHERE column = value AND ...] [ORDER BY ...]` in `environment`: rows of
    one table as they are (no aggregate, no rule: those belong in the marts), through SQLMesh's engine
    adapter, which writes the query in its engine's dialect, so a reader runs on every gateway. All
    columns when none are named; column names in lower case (PostgreSQL and Spark may differ)."""
    table = exp.to_table(environment_table(context, model, environment), dialect=context.default_dialect)
    query = exp.select(*([exp.column(c) for c in columns] or [exp.Star()])).from_(table)
    for column, value in (where or {}).items():
        query = query.where(exp.column(column).eq(exp.convert(value)))
    if order_by:
        query = query.order_by(*(exp.column(c) for c in order_by))
    frame = context.engine_adapter.fetchdf(query)
    frame.columns = [str(column).lower() for column in frame.columns]
    return frame


def environment_state(context: Context, environment: str) -> Environment:
    """`environment` as SQLMesh's state records it (its snapshots, when it was finalized)."""
    env = context.state_reader.get_environment(environment)
    if env is None:
        raise MissingInEnvironment(
            f"environment '{environment}' does not exist: build it first (`trial-activation build -e {environment}`)"
        )
    built_in = exp.to_table(env.snapshots[0].name).catalog if env.snapshots else None
    if context.engine_adapter.dialect == "duckdb" and built_in and built_in != context.default_catalog:
        # DuckDB names a file's catalog after the file, and SQLMesh's state names every table with it.
        raise WarehouseNameUnusable(
            f"this warehouse was built in a file named {built_in}.duckdb and its tables are named after it:"
            f" rename (or copy) the file back to {built_in}.duckdb, in any folder"
        )
    return env


def _model_name(snapshot: SnapshotTableInfo) -> str:
    table = exp.to_table(snapshot.name, dialect="duckdb")
    return f"{table.db}.{table.name}"


def activation_summary(context: Context, environment: str = "prod") -> str:
    """A short text summary of the marts at their as_of: organizations, each goal's statuses, activation
    and outcomes."""
    goals = environment_table(context, "marts.trial_goals", environment)
    activation = environment_table(context, "marts.trial_activation", environment)
    totals = context.fetchdf(
        f"""
        SELECT
          MAX(as_of) AS as_of,
          COUNT(*) AS organizations,
          COUNT(*) FILTER (WHERE trial_status = 'in_trial') AS in_trial,
          COUNT(*) FILTER (WHERE is_activated) AS activated,
          COUNT(*) FILTER (WHERE activation_status = 'in_progress') AS in_progress,
          COUNT(*) FILTER (WHERE converted) AS converted,
          COUNT(*) FILTER (WHERE outcome_status = 'pending') AS pending,
          COUNT(*) FILTER (WHERE converted AND is_activated) AS converted_and_activated
        FROM {activation}
        """
    ).iloc[0]
    per_goal = context.fetchdf(
        f"""
        SELECT
          goal_id,
          MAX(threshold) FILTER (WHERE goal_kind <> 'steadiness') AS threshold,  -- one value per goal; PostgreSQL 15 has no ANY_VALUE
          COUNT(*) FILTER (WHERE goal_status = 'awaiting_threshold') AS awaiting,
          COUNT(*) FILTER (WHERE is_completed) AS completed,
          COUNT(*) FILTER (WHERE goal_status = 'open') AS still_open,
          COUNT(*) FILTER (WHERE goal_status = 'missed') AS missed,
          COUNT(*) AS organizations
        FROM {goals}
        GROUP BY goal_id
        ORDER BY goal_id
        """
    )
    organizations = int(totals.organizations)
    as_of = "n/a" if pd.isna(totals.as_of) else pd.Timestamp(totals.as_of).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Trial activation ({environment}) as of {as_of}: {organizations:,} organizations, {int(totals.in_trial):,} in trial"]
    for row in per_goal.itertuples():
        if row.awaiting:
            threshold = "awaiting data"  # no converted organization's window has closed yet
        else:
            threshold = "per organization" if pd.isna(row.threshold) else f"{row.threshold:g}"
        lines.append(
            f"  {row.goal_id:<24} threshold {threshold:<18} completed by {row.completed:>7,}"
            f" ({percent(row.completed, row.organizations)}), open {row.still_open + row.awaiting:,}, missed {row.missed:,}"
        )
    lines.append(
        f"  activated (all goals)    {int(totals.activated):,} ({percent(totals.activated, organizations)}),"
        f" in progress {int(totals.in_progress):,}"
    )
    lines.append(
        f"  activation among converted organizations: {int(totals.converted_and_activated):,} of"
        f" {int(totals.converted):,} ({percent(totals.converted_and_activated, totals.converted)});"
        f" outcome not known yet: {int(totals.pending):,}"
    )
    for row in per_goal.itertuples():
        if row.awaiting:
            lines.append(
                f"  {row.goal_id} has no threshold yet: no converted organization's window has closed; it fills in on its own"
            )
    return "\n".join(lines)


def percent(part, whole) -> str:
    """part / whole as "12.3%"; "n/a" when whole is 0."""
    return f"{100 * part / whole:.1f}%" if whole else "n/a"
