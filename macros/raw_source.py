"""Where raw.trial_events reads the event log from, on the DuckDB default gateway, and raw.trials the
optional trials input (TRIAL_TRIALS_PATH), with the same checks.

Every file is checked before DuckDB reads it, so a wrong file fails the plan with a message that
names the file and what is wrong with it, before any table is written. The files checked are the ones
DuckDB's own glob lists for the path (`**` at any depth), except hidden files (a name starting with a
dot below the glob's fixed part: trial_activation/modeling/raw_files.py), so the checks and the reader agree on
which files a path names. The view keeps the glob, so a file that lands later (a late delivery) is
read at once, and checked whenever the view is created again: on DuckDB, by every plan and run; when
the glob matches a hidden file, the view lists the files it reads instead, leaving the hidden ones out.

Each file is checked once per version of it, not on every render: what a check found is kept in the
user's cache directory under the file's fingerprint (size, modification and change times, inode: any
write, copy or move over the file changes one of them), so a render of unchanged files stats them and
reads no byte of them, and a changed file is checked again before the view that reads it is created.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import zlib

from sqlglot import exp
from sqlmesh import macro

from trial_activation.modeling.raw_files import glob_files, resolve_events_path
EXPECTED_COLUMNS = (
    "organization_id",
    "activity_name",
    "timestamp",
    "converted",
    "converted_at",
    "trial_start",
    "trial_end",
)
# The optional trials input (TRIAL_TRIALS_PATH): one row per organization, as a billing system exports it.
TRIALS_COLUMNS = ("organization_id", "trial_start", "trial_end", "converted", "converted_at")
# What tells one input from the other in the checks and their messages (plain dicts: SQLMesh
# serializes the globals a macro uses).
EVENTS_INPUT = {"columns": EXPECTED_COLUMNS, "variable": "TRIAL_EVENTS_PATH", "rows": "an event log needs at least one event"}
TRIALS_INPUT = {
    "columns": TRIALS_COLUMNS,
    "variable": "TRIAL_TRIALS_PATH",
    "rows": "a trials file needs at least one organization (leave TRIAL_TRIALS_PATH empty for none)",
}
TIME_COLUMNS = ("timestamp", "converted_at", "trial_start", "trial_end")
# Bytes read at a time when a gzipped file is checked from end to end.
CHUNK_BYTES = 1 << 20
# staging_batch_days: days per batch of a first build on typed Parquet input, and "one batch" (a century).
PARQUET_BATCH_DAYS = 30
ONE_BATCH_DAYS = 36500
# What the cache of checked files holds; a new check (or a new field) changes it, and files are checked again.
CHECKS_VERSION = 2


class RawFileError(ValueError):
    pass  # the raw event file cannot be loaded as it is (no docstring: SQLMesh serializes this class)


@macro()
def trial_events_source(evaluator) -> exp.Expression:
    """The table function that reads the raw event log: READ_CSV or READ_PARQUET of the checked files."""
    path = resolve_events_path(evaluator.var("trial_events_path") or "", _project_root(evaluator))
    if evaluator.gateway != "local":
        # raw.trial_events is an external table on the warehouse gateways and this model is disabled
        # there, but SQLMesh still renders its query at load time: do not require the file.
        return exp.func("READ_CSV", exp.Literal.string(path), dialect="duckdb")
    return _read_checked(path)


@macro()
def trials_source(evaluator) -> exp.Expression:
    """The table function that reads the optional trials input (TRIAL_TRIALS_PATH), checked like the
    event log; with no path set (or on a warehouse gateway, where the input is not read yet), an empty
    relation with the same columns, so every plan works without it."""
    setting = evaluator.var("trial_trials_path") or ""
    if not setting or evaluator.gateway != "local":
        empty = [exp.alias_(exp.cast(exp.null(), "TEXT"), column) for column in (*TRIALS_COLUMNS, "filename")]
        return exp.select(*empty).where(exp.false()).subquery()
    return _read_checked(resolve_events_path(setting, _project_root(evaluator)), TRIALS_INPUT)


@macro()
def staging_batch_days(evaluator) -> exp.Expression:
    """Days per batch of staging.trial_events' first build (or a backfill). Parquet files whose
    timestamp column is typed are loaded PARQUET_BATCH_DAYS at a time: each batch reads only the row
    groups its days' min/max statistics admit, and deduplicates in a hash table of a batch's size (which
    bounds a large first build's peak memory: benchmarks/README.md). A CSV, or text timestamps, would be
    read whole by every batch, as would the warehouse gateways' table: one batch (ONE_BATCH_DAYS). Decided
    from the files' cached checks (check_raw_files); a path that cannot be read is one batch here, and
    raw.trial_events says what is wrong with it."""
    if evaluator.gateway != "local":
        return exp.Literal.number(ONE_BATCH_DAYS)
    path = resolve_events_path(evaluator.var("trial_events_path") or "", _project_root(evaluator))
    try:
        _, checked = _checked_files(path)
    except RawFileError:
        return exp.Literal.number(ONE_BATCH_DAYS)
    typed = all(found["typed_time"] for found in checked.values())
    return exp.Literal.number(PARQUET_BATCH_DAYS if typed else ONE_BATCH_DAYS)


def _read_checked(path: str, raw_input: dict = EVENTS_INPUT) -> exp.Expression:
    """READ_CSV or READ_PARQUET of the files `path` names, each checked once per version
    (check_raw_files, against the event log's or the trials input's columns: raw_input)."""
    hidden, checked = _checked_files(path, raw_input)
    # A path naming an existing file is that file, even with [ ] in its name: escaped for DuckDB. A
    # glob that also matches hidden files gives way to the list of the files read.
    source = None if hidden else glob.escape(path) if os.path.isfile(path) else path
    parquet = [file for file in checked if _is_parquet(file)]
    if parquet and len(parquet) < len(checked):
        raise RawFileError(f"{path}: mixes Parquet and CSV files; load one format at a time")
    if parquet:
        return _read_parquet(source, list(checked), any(checked[file]["numeric_converted"] for file in parquet))
    return _read_csv(source, {file: found["columns"] for file, found in checked.items()}, raw_input["columns"])


def _checked_files(path: str, raw_input: dict = EVENTS_INPUT) -> tuple[list, dict]:
    """The hidden files `path` matches (left out) and what the check of each other file found
    (check_raw_files, against the cache of earlier checks)."""
    files, hidden = glob_files(path)
    return hidden, check_raw_files(path, files, hidden, _checks_cache(), raw_input)


def _read_parquet(source: str | None, files: list, numeric_converted: bool) -> exp.Expression:
    read = exp.func(
        "READ_PARQUET",
        exp.Literal.string(source) if source is not None else _file_list(files),
        *_options(union_by_name=True, hive_partitioning=False, filename=True),
        dialect="duckdb",
    )
    if not numeric_converted:
        return read
    # Staging casts CONVERTED to BOOLEAN first, which would read any non-zero number as TRUE: a
    # numeric column goes to staging as text, so only 0 and 1 are booleans, as in a CSV.
    as_text = exp.alias_(exp.cast(exp.column("converted"), "TEXT"), "converted")
    return exp.select(exp.Star(replace=[as_text])).from_(read).subquery()


def _options(**options) -> list:
    """DuckDB's named arguments of a table function: name = value."""
    return [exp.EQ(this=exp.column(name), expression=exp.convert(value)) for name, value in options.items()]


def _read_csv(source: str | None, headers: dict, expected: tuple = EXPECTED_COLUMNS) -> exp.Expression:
    """READ_CSV with the dialect and the columns spelled out: of the path (`source`, None to list the
    files) when every file has the same header order and compression, else one call per header order
    and compression, of its files.

    Not sniffed: DuckDB's sniffer, given a row with a wrong number of fields, can take a data row for
    the header or fail without naming the file. Spelled out, such a row fails the load with an error
    that names the file, the line and the field count. All columns stay text, as delivered. The
    compression is told, not guessed from the extension (DuckDB only knows lower-case `.gz`).
    """
    files_by_format: dict = {}
    for file, columns in headers.items():
        key = (tuple(columns), _is_gzip(file))
        files_by_format.setdefault(key, []).append(file)
    reads = []
    for (columns, gzipped), files in files_by_format.items():
        types = exp.Struct(
            expressions=[exp.PropertyEQ(this=exp.to_identifier(column), expression=exp.Literal.string("VARCHAR")) for column in columns]
        )
        files_read = exp.Literal.string(source) if len(files_by_format) == 1 and source is not None else _file_list(files)
        options = _options(
            header=True, auto_detect=False, delim=",", quote='"', escape='"', compression="gzip" if gzipped else "none", filename=True
        )
        reads.append(exp.func("READ_CSV", files_read, *options, exp.EQ(this=exp.column("columns"), expression=types), dialect="duckdb"))
    if len(reads) == 1:
        return reads[0]
    selected = [exp.column(column, quoted=True) for column in (*expected, "filename")]
    selects = [exp.select(*selected).from_(read) for read in reads]
    union = selects[0]
    for select in selects[1:]:
        union = exp.union(union, select, distinct=False)
    return union.subquery()


def _file_list(files: list) -> exp.Expression:
    # DuckDB expands glob characters in every path it is given: escape them, so that a file whose
    # name contains [, ], * or ? is read as itself.
    return exp.Array(expressions=[exp.Literal.string(glob.escape(file)) for file in files])


def _is_parquet(file: str) -> bool:
    return file.lower().endswith(".parquet")


def _is_gzip(file: str) -> bool:
    return file.lower().endswith(".gz")


def _project_root(evaluator) -> str:
    """The directory of config.yaml above the model being rendered, read at render time.

    Not a module-level constant: SQLMesh serializes the globals a macro uses into the model's
    fingerprint, and the checkout's absolute path there would make a moved or second checkout see a
    changed model. When the model has no file (read back from SQLMesh's state), the working directory.
    """
    path = getattr(evaluator, "_path", None)
    directory = os.path.dirname(os.path.abspath(path)) if path else ""
    while directory and directory != os.path.dirname(directory):
        if os.path.exists(os.path.join(directory, "config.yaml")):
            return directory
        directory = os.path.dirname(directory)
    return os.getcwd()


def _checks_cache() -> str:
    """The file that keeps what the checks found: in the user's cache directory ($XDG_CACHE_HOME, else
    ~/.cache), not the project's, since a run may render the model from SQLMesh's state, which knows no
    project. Its entries are absolute file paths with their fingerprints, true for any checkout."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "trial-activation", "checked_files.json")


def check_raw_files(path: str, files: list, hidden: list, cache: str | None = None, source: dict = EVENTS_INPUT) -> dict:
    """Every file of `files` (those path matches, less the `hidden` ones: glob_files) -> what its check
    found: its columns in file order (lower case), whether it has a row, whether its CONVERTED is a
    Parquet number; after checking that each has exactly the expected columns and can be read to its
    end, and that the files hold at least one row.

    A file whose fingerprint is in the `cache` file (JSON) as checked is not read again; the files
    checked now are added to it. Only files that passed are kept, so a bad file fails every time.
    `source` says which input the files are (EVENTS_INPUT, TRIALS_INPUT): its columns, and its
    variable for the messages; a cached check of a file with other columns is redone."""
    if not files:
        left_out = f" (hidden files are left out: {', '.join(hidden)})" if hidden else ""
        raise RawFileError(f"{path}: no file matches this path ({source['variable']}){left_out}")
    known = _read_cache(cache)
    checked = {}
    for file in files:
        stamp = _fingerprint(file)  # before the check: a write during it makes the next render check again
        found = known.get(file)
        if stamp is None or found is None or found["stamp"] != stamp or sorted(found["columns"]) != sorted(source["columns"]):
            found = {"stamp": stamp, **_check_file(file, source)}
        checked[file] = found
    if not any(found["has_rows"] for found in checked.values()):
        where = files[0] if len(files) == 1 else f"{path} ({len(files)} files)"
        raise RawFileError(f"{where}: no rows, only a header; {source['rows']}")
    if any(known.get(file) != found for file, found in checked.items()):
        # The entries of other paths stay (the unit test's fixture, another input) while their file does.
        kept = {file: found for file, found in known.items() if file not in checked and os.path.exists(file)}
        _write_cache(cache, {**kept, **checked})
    return checked


def _fingerprint(file: str) -> list | None:
    try:
        status = os.stat(file)
    except OSError:
        return None
    return [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]


def _read_cache(cache: str | None) -> dict:
    try:
        with open(cache, encoding="utf-8") as handle:
            content = json.load(handle)
        return content["files"] if content.get("version") == CHECKS_VERSION else {}
    except (TypeError, OSError, ValueError, KeyError, AttributeError):
        return {}  # no cache, or one that cannot be read: every file is checked


def _write_cache(cache: str | None, files: dict) -> None:
    """Written whole under another name, then renamed: a reader sees the old cache or the new one."""
    if cache is None:
        return
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        partial = f"{cache}.{os.getpid()}"
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump({"version": CHECKS_VERSION, "files": files}, handle)
        os.replace(partial, cache)
    except OSError:
        pass  # a read-only project: the files are checked again next time


def _check_file(file: str, source: dict = EVENTS_INPUT) -> dict:
    """What the checks of one file found (see check_raw_files); RawFileError when it cannot be loaded."""
    expected = source["columns"]
    header, has_rows = _header(file, source["variable"])
    columns = [c.strip().strip('"').lower() for c, _ in header]
    missing = [c for c in expected if c not in columns]
    extra = [c or "(empty name)" for c in columns if c not in expected]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    problems = [
        f"missing column(s) {', '.join(missing)}" if missing else "",
        f"unexpected column(s) {', '.join(extra)}" if extra else "",
        f"repeated column(s) {', '.join(duplicated)}" if duplicated else "",
    ]
    if any(problems):
        raise RawFileError(
            f"{file}: {'; '.join(p for p in problems if p)}. "
            f"Expected a header with exactly: {', '.join(expected)} (any case)."
        )
    types = [(column, type_) for column, (_, type_) in zip(columns, header)]
    _check_parquet_types(file, types)
    by_column = dict(types)
    converted = by_column["converted"]
    numeric_converted = converted is not None and not _boolean_or_text(converted)
    typed_time = _is_time_type(by_column.get("timestamp"))
    return {"columns": columns, "has_rows": has_rows, "numeric_converted": numeric_converted, "typed_time": typed_time}


def _is_time_type(arrow_type) -> bool:
    """A Parquet column of timestamps or dates (not text, not a CSV's column: None): what a time
    column may be besides text (_check_parquet_types), and what lets staging load in batches."""
    import pyarrow as pa

    return arrow_type is not None and (pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type))


def _boolean_or_text(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_boolean(arrow_type) or pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _check_parquet_types(file: str, columns: list) -> None:
    """A Parquet column must hold what staging can read: time columns timestamps, dates or text;
    ids and names text or integers; CONVERTED a boolean, text or an integer. Anything else (a
    struct, a float time) would only fail much later, far from its cause."""
    import pyarrow as pa

    accepted = {
        **{column: (_is_time_type,) for column in TIME_COLUMNS},
        "organization_id": (pa.types.is_integer,),
        "activity_name": (),
        "converted": (pa.types.is_boolean, pa.types.is_integer),
    }
    for column, arrow_type in columns:
        if arrow_type is None:  # a CSV column: text
            continue
        if pa.types.is_dictionary(arrow_type):  # e.g. a pandas categorical: judged by its values
            arrow_type = arrow_type.value_type
        kinds = (pa.types.is_string, pa.types.is_large_string, pa.types.is_null, *accepted[column])
        if not any(kind(arrow_type) for kind in kinds):
            expected = "timestamps or text" if column in TIME_COLUMNS else "text"
            raise RawFileError(f"{file}: column {column} has Parquet type {arrow_type}; expected {expected}")


def _header(file: str, variable: str = "TRIAL_EVENTS_PATH") -> tuple:
    """The file's column names as written, each with its Parquet (Arrow) type or None in a CSV, and
    whether the file has a row below the header. A gzipped file is decompressed to its end, since a
    transfer cut short still reads without error up to the cut."""
    try:
        if _is_parquet(file):
            import pyarrow.parquet as pq

            metadata = pq.read_metadata(file)
            schema = metadata.schema.to_arrow_schema()
            return [(field.name, field.type) for field in schema], metadata.num_rows > 0
        if _is_gzip(file):
            head, tail = _read_gzip(file)
        else:
            with open(file, "rb") as handle:
                head = handle.read(CHUNK_BYTES)
                handle.seek(max(0, os.path.getsize(file) - 1))
                tail = handle.read(1)
    except FileNotFoundError:
        raise RawFileError(f"{file}: file not found ({variable})") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        if "Not a gzipped file" not in str(error):
            raise RawFileError(
                f"{file}: the compressed file is truncated or corrupt ({error}); fetch it again"
            ) from None
        raise RawFileError(f"{file}: cannot be read as CSV, gzipped CSV or Parquet ({error})") from None
    except (OSError, ValueError) as error:
        raise RawFileError(f"{file}: cannot be read as CSV, gzipped CSV or Parquet ({error})") from None
    if not head.strip():
        raise RawFileError(f"{file}: the file is empty; expected a header row")
    first_line, newline, rest = head.partition(b"\n")
    if b"\r" in first_line.rstrip(b"\r"):
        raise RawFileError(
            f"{file}: lines end with a carriage return only (old Mac line endings); convert them to LF or CRLF"
        )
    try:
        # The header line only: a text reader would decode beyond it and reject the file for a bad
        # byte in a data row, which DuckDB loads.
        header_text = first_line.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RawFileError(f"{file}: cannot be read as CSV, gzipped CSV or Parquet ({error})") from None
    if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in header_text):
        # Binary content can decode as text up to its first newline byte: a control character tells.
        raise RawFileError(f"{file}: cannot be read as CSV, gzipped CSV or Parquet (binary content)")
    has_rows = bool(rest.strip())
    if has_rows and tail not in (b"\n", b"\r"):
        raise RawFileError(
            f"{file}: the last row has no line break after it, so the file may be cut short; "
            "fetch it again (or end the last row with a line break if it is complete)"
        )
    return [(name, None) for name in header_text.rstrip("\r").split(",")], has_rows


def _read_gzip(file: str) -> tuple:
    """The first CHUNK_BYTES and the last byte of a gzipped file's content, reading it to its end,
    which checks the gzip trailer (a file cut short raises EOFError, a corrupt one a CRC error)."""
    head, tail = b"", b""
    with gzip.open(file, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            if not head:
                head = chunk
            tail = chunk[-1:]
    return head, tail
