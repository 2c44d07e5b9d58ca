"""Which files TRIAL_EVENTS_PATH names: the raw model's macro (macros/raw_source.py) reads them and the
CLI's input report names them, including the hidden files a glob leaves out.

A glob leaves out hidden files: a file or directory below the glob's fixed part whose name starts
with a dot (`._day.csv`, the resource fork macOS writes next to each file on a foreign disk; `.day.csv.tmp`,
an upload in progress; anything under `.git/`). Spark and Hadoop skip them, and `_` files, the same
way; they are not data, and reading one stops the build or, worse, loads half a file. A path that
names a file is that file, hidden or not.
"""

from __future__ import annotations

import glob
import os

DEFAULT_EVENTS_PATH = "data/sample/trial_events.csv.gz"


def resolve_events_path(path: str, project_root: str) -> str:
    """TRIAL_EVENTS_PATH made absolute: a relative path is relative to the project root."""
    path = path or DEFAULT_EVENTS_PATH
    return path if os.path.isabs(path) else os.path.join(project_root, path)


def glob_files(path: str) -> tuple[list, list]:
    """(files read, hidden files left out) for a path: the path itself when it is a file (even with
    [ ] in its name, or when it does not exist, to say so), else the files DuckDB's glob lists for it
    (the reader's own: `**` matches any depth of directories), split into those read and the hidden
    ones left out.

    >>> glob_files("/no/such/events.csv")
    (['/no/such/events.csv'], [])
    """
    if os.path.isfile(path) or not glob.has_magic(path):
        return [path], []
    import duckdb

    with duckdb.connect() as connection:
        files = sorted(file for (file,) in connection.execute("SELECT file FROM GLOB(?)", [path]).fetchall())
    root = _fixed_part(path)
    hidden = [file for file in files if is_hidden(os.path.relpath(file, root))]
    return [file for file in files if file not in hidden], hidden


def is_hidden(relative_path: str) -> bool:
    """Whether a path below a glob's fixed part has a file or directory name starting with a dot.

    >>> is_hidden("2024/._part-1.csv"), is_hidden(".tmp/part-1.csv"), is_hidden("2024/part-1.csv")
    (True, True, False)
    """
    return any(part.startswith(".") and part not in (".", "..") for part in relative_path.split(os.sep))


def _fixed_part(path: str) -> str:
    """The directories of a glob before its first wildcard: a hidden directory named there is chosen."""
    parts = path.split(os.sep)
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return os.sep.join(fixed) or os.sep
