"""The same models, unchanged, on Apache Spark (local mode and a standalone cluster) and PostgreSQL:
the marts equal DuckDB's.

Each engine test loads the committed sample into that engine's raw.trial_events table (every column
text, like the CSV), builds prod through the engine's gateway (TRIAL_GATEWAY=spark|postgres, see
config.yaml) and compares every mart (marts.trial_goals, marts.trial_activation and the insight marts
goal_conversion, activation_funnel, activation_cohorts and candidate_goals) with the DuckDB build of
the same file, row for row: floats within a tolerance, timestamps to the microsecond, booleans as booleans.

The cluster test (marked slow; it runs by default) starts a standalone Spark cluster of its own,
one master and one worker as separate processes (tests/python/spark_cluster.py), builds on it with
TRIAL_SPARK_MASTER=spark://... and SQLMesh's state in PostgreSQL (a team's setup), and checks the
work ran in the worker's executor.

No test skips: when Spark (pyspark, Java) or PostgreSQL (the TRIAL_PG_* variables `.ci/run`
exports) is missing, it fails and says what is missing.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sys
from contextlib import contextmanager

import pytest

from trial_activation.project import build, input_report, open_context
from trial_activation.testing import SAMPLE_LOG, copy_project

from helpers import RAW_COLUMNS, fresh_postgres_database, postgres_sample_project
from marts import GRAIN, TOLERANCE, assert_marts_equal, read_marts
from spark_cluster import standalone_cluster

# Every mart but the input's description, which names the file on DuckDB and the warehouse table elsewhere.
MARTS = tuple(model for model in GRAIN if model != "marts.report_input")
# The sample's data rows, counted independently of the project (the gzip's lines less the header).
with gzip.open(SAMPLE_LOG, "rt", encoding="utf-8") as _rows:
    SAMPLE_RAW_ROWS = sum(1 for _ in _rows) - 1


@pytest.fixture(scope="module")
def duckdb_marts(tmp_path_factory):
    """The marts of the DuckDB build on the sample (marts.read_marts)."""
    root = tmp_path_factory.mktemp("engines_duckdb")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("TRIAL_GATEWAY", raising=False)  # the DuckDB build, whatever the shell selects
        context = open_context(
            copy_project(root / "project"), events_path=SAMPLE_LOG, warehouse_path=root / "warehouse.duckdb"
        )
        build(context, skip_tests=True)
        marts = read_marts(context, models=MARTS)
        context.close()
    return marts


def test_spark_builds_the_same_marts(duckdb_marts, tmp_path, monkeypatch):
    monkeypatch.delenv("TRIAL_SPARK_STATE_PG_HOST", raising=False)  # the state: a DuckDB file under tmp_path
    with spark_project(tmp_path, monkeypatch, master=os.environ.get("TRIAL_SPARK_MASTER", "local[2]")) as context:
        assert_builds_the_same_marts(context, duckdb_marts)


@pytest.mark.slow
def test_spark_cluster_builds_the_same_marts(duckdb_marts, tmp_path, monkeypatch):
    """A team's setup: a standalone cluster, a master and a worker, each its own process started with
    pyspark's launcher (tests/python/spark_cluster.py), the driver connected with TRIAL_SPARK_MASTER=
    spark://..., and SQLMesh's state in a PostgreSQL database (TRIAL_SPARK_STATE_PG_*). The build's tasks
    run in the worker's executor; a teammate's checkout sharing the state has nothing to plan."""
    require_spark()
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")  # the driver on loopback, like the cluster
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # the executors' Python, as the driver's
    with (
        fresh_postgres_database() as state,
        standalone_cluster(tmp_path / "cluster", workers=1, cores=1, memory="1g") as cluster,
    ):
        state_variables = {"HOST": "host", "PORT": "port", "USER": "user", "PASSWORD": "password", "DATABASE": "dbname"}
        for variable, key in state_variables.items():
            monkeypatch.setenv(f"TRIAL_SPARK_STATE_PG_{variable}", str(state[key]))
        with spark_project(tmp_path, monkeypatch, master=cluster.url) as context:
            spark = context.engine_adapter.spark
            application = spark.sparkContext.applicationId
            assert spark.sparkContext.master == cluster.url
            assert_builds_the_same_marts(context, duckdb_marts)

            status = cluster.status()
            assert [app["id"] for app in status["activeapps"]] == [application], status["activeapps"]
            assert [worker["coresused"] for worker in status["workers"]] == [1], status["workers"]  # its executor
            # The driver's block managers: its own and at least the executor's.
            assert spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() >= 2
            assert cluster.finished_tasks(application) > 0, f"no finished task in the executors' logs: {cluster.work_dirs}"

            import psycopg2

            with psycopg2.connect(**state) as connection, connection.cursor() as cursor:
                cursor.execute("SELECT name FROM sqlmesh._environments")
                assert cursor.fetchall() == [("prod",)]
            assert not (tmp_path / "spark-state.duckdb").exists()  # TRIAL_SPARK_STATE_PATH, unused
            teammate = open_context(
                copy_project(tmp_path / "teammate"), warehouse_path=tmp_path / "unused.duckdb", gateway="spark"
            )
            plan = teammate.plan("prod", no_prompts=True, auto_apply=False, skip_tests=True)
            teammate.close()  # the same Spark session: stopped by spark_project
            assert not plan.has_changes
            assert plan.missing_intervals == []


def test_postgres_builds_the_same_marts(duckdb_marts, tmp_path, monkeypatch):
    with postgres_sample_project(tmp_path, monkeypatch) as context:
        assert_builds_the_same_marts(context, duckdb_marts)


# --- what each engine needs -------------------------------------------------------------------


def require_spark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.fail("Spark gateway test: pyspark is not installed (pip install -e '.[test]')")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.fail("Spark gateway test: no Java runtime (java on PATH or JAVA_HOME); Spark's local mode needs Java 17+")


@contextmanager
def spark_project(tmp_path, monkeypatch, *, master: str):
    """A Context on the Spark gateway (spark.master = `master`) whose raw.trial_events is the sample, in
    a temporary metastore and warehouse under tmp_path; Spark is stopped on exit."""
    require_spark()
    monkeypatch.setenv("TRIAL_GATEWAY", "spark")
    monkeypatch.setenv("TRIAL_SPARK_MASTER", master)
    # Absolute paths: on a cluster the executors write the tables and read the CSV (here, the same disk).
    monkeypatch.setenv("TRIAL_SPARK_WAREHOUSE_DIR", str(tmp_path / "spark-warehouse"))
    monkeypatch.setenv("TRIAL_SPARK_METASTORE_DIR", str(tmp_path / "spark-metastore"))
    monkeypatch.setenv("TRIAL_SPARK_STATE_PATH", str(tmp_path / "spark-state.duckdb"))
    (tmp_path / "spark-metastore").mkdir()
    project = copy_project(tmp_path / "project")
    context = open_context(project, warehouse_path=tmp_path / "unused.duckdb", gateway="spark")
    spark = context.engine_adapter.spark
    try:
        # An external CSV table over a headerless copy of the sample: Spark reads every column as
        # text (an empty field as NULL, as DuckDB's and PostgreSQL's CSV readers do).
        body = tmp_path / "raw" / "trial_events.csv"
        body.parent.mkdir()
        write_rows_without_header(SAMPLE_LOG, body)
        spark.sql("CREATE DATABASE IF NOT EXISTS raw")
        spark.sql(
            f"CREATE TABLE raw.trial_events ({', '.join(f'`{c}` STRING' for c in RAW_COLUMNS)})"
            f" USING csv OPTIONS (path '{body.parent}', header 'false')"
        )
        yield context
    finally:
        context.close()
        spark.stop()


def write_rows_without_header(source, target) -> None:
    with gzip.open(source, "rt", encoding="utf-8", newline="") as rows, open(target, "w", encoding="utf-8", newline="") as out:
        next(rows)
        shutil.copyfileobj(rows, out)


def assert_builds_the_same_marts(context, duckdb_marts: dict) -> None:
    """Build prod through the context's gateway: every mart equals DuckDB's, and the input report counts
    the sample's rows in the warehouse's raw.trial_events."""
    build(context, skip_tests=True)  # the YAML unit tests run on DuckDB (test_sqlmesh_checks.py)
    assert_same_marts_as_duckdb(read_marts(context, models=MARTS), duckdb_marts)
    assert input_report(context) == f"Input (prod): {SAMPLE_RAW_ROWS:,} raw rows in the warehouse table raw.trial_events"


def assert_same_marts_as_duckdb(actual: dict, duckdb_marts: dict) -> None:
    """Every row and column of DuckDB's marts: floats within a tolerance (each engine adds up in its own
    order), the rest equal; the drivers' column types differ (e.g. DECIMAL as Python objects)."""
    assert_marts_equal(actual, duckdb_marts, atol=TOLERANCE, rtol=TOLERANCE, same_types=False)
