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
    files = check_raw_files(path)
    reader = "READ_PARQUET" if files[0].endswith(".parquet") else "READ_CSV"
    options = (
        "union_by_name = TRUE, hive_partitioning = FALSE"
        if reader == "READ_PARQUET"
        else "header = TRUE, all_varchar = TRUE, union_by_name = TRUE"
    )
    return exp.maybe_parse(f"{reader}('{path}', {options})", dialect="duckdb")


def resolve_events_path(path: str) -> str:
    path = path or DEFAULT_EVENTS_PATH
    return path if os.path.isabs(path) else os.path.join(PROJECT_ROOT, path)


def check_raw_files(path: str) -> list[str]:
    """Every file matched by path, after checking that each has exactly the expected columns."""
    files = sorted(glob(path)) if any(ch in path for ch in "*?[") else [path]
    if not files:
        raise RawFileError(f"{path}: no file matches this path (TRIAL_EVENTS_PATH)")
    for file in files:
        columns = [c.strip().strip('"').lower() for c in _header(file)]
        missing = [c for c in EXPECTED_COLUMNS if c not in columns]
        extra = [c for c in columns if c not in EXPECTED_COLUMNS]
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
    return files


def _header(file: str) -> list[str]:
    try:
        if file.endswith(".parquet"):
            import pyarrow.parquet as pq

            return list(pq.read_schema(file).names)
        opener = gzip.open if file.endswith(".gz") else open
        with opener(file, "rt", encoding="utf-8-sig", newline="") as handle:
            first_line = handle.readline()
    except FileNotFoundError:
        raise RawFileError(f"{file}: file not found (TRIAL_EVENTS_PATH)") from None
    except (OSError, UnicodeDecodeError, EOFError, ValueError) as error:
        raise RawFileError(f"{file}: cannot be read as CSV, gzipped CSV or Parquet ({error})") from None
    if not first_line.strip():
        raise RawFileError(f"{file}: the file is empty; expected a header row")
    return first_line.rstrip("\r\n").split(",")
