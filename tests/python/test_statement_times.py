"""benchmarks/statement_times.py reads a SQLMesh debug log: each executed statement lasts until the
next timestamped line, multi-line statements included, and lines that are not statements are not
counted as statements (but do end the one before them)."""

from __future__ import annotations

import importlib.util

from trial_activation.project import PROJECT_ROOT

# benchmarks/ is a folder of scripts, not a package: the script is loaded from its file, sys.path untouched.
_spec = importlib.util.spec_from_file_location("statement_times", PROJECT_ROOT / "benchmarks" / "statement_times.py")
statement_times = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(statement_times)
statement_seconds = statement_times.statement_seconds

LOG = """\
2026-12-01 03:53:34,106 - MainThread - sqlmesh.core.engine_adapter.base - INFO - Executing SQL: /* SQLMESH_PLAN: a4f */ INSERT INTO "db"."sqlmesh__staging"."staging__trial_events__1" ("organization_id")
SELECT
  1
2026-12-01 03:54:25,376 - MainThread - sqlmesh.core.snapshot.evaluator - DEBUG - Audit passed
2026-12-01 03:54:25,714 - MainThread - sqlmesh.core.engine_adapter.base - DEBUG - Executing SQL: CREATE OR REPLACE TABLE "db"."sqlmesh__marts"."marts__trial_goals__2" AS SELECT 1
2026-12-01 03:54:27,734 - MainThread - sqlmesh.core.engine_adapter.base - DEBUG - Executing SQL: SELECT COUNT(*) FROM "db"."sqlmesh__marts"."marts__trial_goals__2"
2026-12-01 03:54:27,834 - MainThread - sqlmesh.core.context - INFO - Done
"""


def test_each_statement_lasts_until_the_next_log_line(tmp_path):
    log = tmp_path / "sqlmesh.log"
    log.write_text(LOG, encoding="utf-8")
    timed = statement_seconds(log)
    assert [(round(seconds, 3), what) for seconds, what in timed] == [
        (51.27, 'INSERT INTO "db"."sqlmesh__staging"."staging__trial_events__1"'),
        (2.02, 'CREATE OR REPLACE TABLE "db"."sqlmesh__marts"."marts__trial_goals__2"'),
        (0.1, 'SELECT COUNT(*) "db"."sqlmesh__marts"."marts__trial_goals__2"'),
    ]
