"""The slowest SQL statements of a SQLMesh command, from its debug log.

SQLMesh writes every statement it executes to logs/sqlmesh_*.log when it runs with --debug, one
timestamped line each. A statement's seconds are the time until the next log line (what ran in
between was that statement: the engine runs them one after another). Run a command with --debug
from the project, then point this at its log:

    sqlmesh --debug plan --auto-apply --no-prompts --skip-tests
    .venv/bin/python benchmarks/statement_times.py logs/sqlmesh_<time>.log --top 15

Prints seconds, the kind of statement (INSERT, CREATE, SELECT for an audit, ...) and its target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - .*?- (?:DEBUG|INFO) - Executing SQL: (.*)")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
PLAN_COMMENT = re.compile(r"^/\* SQLMESH_PLAN: \w+ \*/ ")
TARGET = re.compile(r'((?:"[^"]+"\.){1,2}"[^"]+")')


def statement_seconds(log: Path) -> list[tuple[float, str]]:
    stamps, statements = [], []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        stamp = STAMP.match(line)
        if not stamp:
            continue  # the continuation of a multi-line statement
        stamps.append(dt.datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f"))
        executed = LINE.match(line)
        statements.append(executed.group(2) if executed else None)
    timed = []
    for (start, sql), end in zip(zip(stamps, statements), stamps[1:]):
        if sql is not None:
            timed.append(((end - start).total_seconds(), describe(sql)))
    return timed


def describe(sql: str) -> str:
    sql = PLAN_COMMENT.sub("", sql)
    words = sql.split()
    kind = " ".join(words[:4]) if words[:3] == ["CREATE", "OR", "REPLACE"] else " ".join(words[:2])
    target = TARGET.search(sql)
    return f"{kind} {target.group(1) if target else ''}".strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    timed = statement_seconds(args.log)
    total = sum(seconds for seconds, _ in timed)
    print(f"{len(timed)} statements, {total:.1f} s in all; the slowest:")
    for seconds, what in sorted(timed, reverse=True)[: args.top]:
        print(f"{seconds:8.2f}  {what}")


if __name__ == "__main__":
    main()
