"""Where raw.trial_events reads the event log from, on the DuckDB default gateway.

The file is checked before DuckDB reads it, so a wrong file fails the plan with a message that names
the file and what is wrong with it, before any table is written.
"""

from __future__ import annotations

import gzip
import os
from glob import glob

from sqlglot import exp
from sqlmesh import macro

# A plain string (not a Path) so SQLMesh can serialize it into the model snapshot.
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_EVENTS_PATH = "data/sample/trial_events.csv.gz"
EXPECTED_COLUMNS = (
    "organization_id",
    "activity_name",
    "timestamp",
    "converted",
    "converted_at",
    "trial_start",
    "trial_end",
)


class RawFileError(ValueError):
    pass  # the raw event file cannot be loaded as it is (no docstring: SQLMesh serializes this class)


@macro()
def trial_events_source(evaluator) -> exp.Expression:
    """The table function that reads the raw event log: READ_CSV or READ_PARQUET of the checked path."""
    path = resolve_events_path(evaluator.var("trial_events_path") or "")
    if evaluator.gateway != "local":
        # raw.trial_events is an external table on the warehouse gateways and this model is disabled
        # there, but SQLMesh still renders its query at load time: do not require the file.
        return exp.maybe_parse(f"READ_CSV('{path}')", dialect="duckdb")
    headers = check_raw_files(path)
    parquet = [file for file in headers if file.endswith(".parquet")]
    if parquet and len(parquet) < len(headers):
        raise RawFileError(f"{path}: mixes Parquet and CSV files; load one format at a time")
    if parquet:
        read = f"READ_PARQUET({_sql_string(path)}, union_by_name = TRUE, hive_partitioning = FALSE)"
        if not all(_boolean_or_text(dict(headers[file])["converted"]) for file in parquet):
            # Staging casts CONVERTED to BOOLEAN first, which would read any non-zero number as TRUE:
            # a numeric column goes to staging as text, so only 0 and 1 are booleans, as in a CSV.
            read = f"(SELECT * REPLACE (CAST(converted AS TEXT) AS converted) FROM {read})"
        return exp.maybe_parse(read, dialect="duckdb")
    return _read_csv(path, headers)


def _read_csv(path: str, headers: dict) -> exp.Expression:
    """READ_CSV with the dialect and the columns spelled out, one call per distinct header order.

    Not sniffed: DuckDB's sniffer, given a row with a wrong number of fields, can take a data row for
    the header or fail without naming the file. Spelled out, such a row fails the load with an error
    that names the file, the line and the field count. All columns stay text, as delivered.
    """
    files_by_header: dict = {}
    for file, columns in headers.items():
        files_by_header.setdefault(tuple(column for column, _ in columns), []).append(file)
    reads = []
    for columns, files in files_by_header.items():
        source = _sql_string(path) if len(files_by_header) == 1 else f"[{', '.join(map(_sql_string, files))}]"
        types = ", ".join(f"{_sql_string(column)}: 'VARCHAR'" for column in columns)
        reads.append(
            f"READ_CSV({source}, header = TRUE, auto_detect = FALSE, delim = ',', quote = '\"', escape = '\"',"
            f" columns = {{{types}}})"
        )
    if len(reads) == 1:
        return exp.maybe_parse(reads[0], dialect="duckdb")
    selected = ", ".join(f'"{column}"' for column in EXPECTED_COLUMNS)
    return exp.maybe_parse(
        "(" + " UNION ALL ".join(f"SELECT {selected} FROM {read}" for read in reads) + ")", dialect="duckdb"
    )


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def resolve_events_path(path: str) -> str:
    path = path or DEFAULT_EVENTS_PATH
    return path if os.path.isabs(path) else os.path.join(PROJECT_ROOT, path)


def check_raw_files(path: str) -> dict:
    """Every file matched by path, with its columns in file order: (name in lower case, Parquet type
    or None for CSV) pairs, after checking that each has exactly the expected columns."""
    files = sorted(glob(path)) if any(ch in path for ch in "*?[") else [path]
    if not files:
        raise RawFileError(f"{path}: no file matches this path (TRIAL_EVENTS_PATH)")
    headers = {}
    for file in files:
        header = _header(file)
        columns = [c.strip().strip('"').lower() for c, _ in header]
        missing = [c for c in EXPECTED_COLUMNS if c not in columns]
        extra = [c or "(empty name)" for c in columns if c not in EXPECTED_COLUMNS]
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        problems = [
            f"missing column(s) {', '.join(missing)}" if missing else "",
            f"unexpected column(s) {', '.join(extra)}" if extra else "",
            f"repeated column(s) {', '.join(duplicated)}" if duplicated else "",
        ]
        if any(problems):
            raise RawFileError(
                f"{file}: {'; '.join(p for p in problems if p)}. "
                f"Expected a header with exactly: {', '.join(EXPECTED_COLUMNS)} (any case)."
            )
        headers[file] = [(column, type_) for column, (_, type_) in zip(columns, header)]
    return headers


def _boolean_or_text(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_boolean(arrow_type) or pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _header(file: str) -> list[tuple]:
    """The file's column names as written, each with its Parquet (Arrow) type, or None in a CSV."""
    try:
        if file.endswith(".parquet"):
            import pyarrow.parquet as pq

            schema = pq.read_schema(file)
            return [(field.name, field.type) for field in schema]
        opener = gzip.open if file.endswith(".gz") else open
        with opener(file, "rb") as handle:
            # The header line only (and not a whole one-line binary file): a text reader would decode
            # a buffer beyond it and reject the file for a bad byte in a data row, which DuckDB loads.
            first_line = handle.readline(1 << 16).decode("utf-8-sig")
    except FileNotFoundError:
        raise RawFileError(f"{file}: file not found (TRIAL_EVENTS_PATH)") from None
    except (OSError, UnicodeDecodeError, EOFError, ValueError) as error:
        raise RawFileError(f"{file}: cannot be read as CSV, gzipped CSV or Parquet ({error})") from None
    if not first_line.strip():
        raise RawFileError(f"{file}: the file is empty; expected a header row")
    if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in first_line):
        # Binary content can decode as text up to its first newline byte: a control character tells.
        raise RawFileError(f"{file}: cannot be read as CSV, gzipped CSV or Parquet (binary content)")
    return [(name, None) for name in first_line.rstrip("\r\n").split(",")]
