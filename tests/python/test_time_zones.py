"""The project plans and builds the same marts on a machine outside UTC.

Every `sqlmesh plan` runs the YAML unit tests first, on the test connection (config.yaml's
default_test_connection), so a test connection in the machine's time zone stopped every plan outside
UTC. Each zone below is on the other side of UTC from the other, and one has a half-hour offset.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from trial_activation.project import open_context
from trial_activation.testing import SAMPLE_LOG, copy_project

from marts import GRAIN, TOLERANCE, assert_marts_equal, read_marts

ZONES = ("America/New_York", "Asia/Kolkata")
BIN = Path(sys.executable).parent
# The test files each gateway leaves out (config.yaml's ignore_patterns): the file reader's on the
# warehouse gateways, and marts.report_input's, which names the file on one and the table on the others.
LOCAL_ONLY_TESTS = ("test_raw_trial_events.yaml", "test_raw_trials_file.yaml", "test_report_input.yaml")
WAREHOUSE_ONLY_TESTS = ("test_report_input_warehouse.yaml",)


def unit_test_count(project: Path, *, leave_out: tuple[str, ...] = WAREHOUSE_ONLY_TESTS) -> int:
    """The YAML unit tests a gateway runs: the top-level keys of tests/test_*.yaml but those it leaves out."""
    files = [path for path in sorted((project / "tests").glob("test_*.yaml")) if path.name not in leave_out]
    return sum(len(yaml.safe_load(path.read_text())) for path in files)


def run_in_zone(zone: str, *command: str, cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "TZ": zone,
        **{name: value for name, value in os.environ.items() if name.startswith("TRIAL_PG_")},
        **variables,
    }
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("zone", ZONES)
def test_unit_tests_pass_outside_utc(zone, project_copy, tmp_path):
    done = run_in_zone(
        zone, str(BIN / "sqlmesh"), "test", cwd=project_copy, TRIAL_WAREHOUSE_PATH=str(tmp_path / "w.duckdb")
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"Successfully Ran `{unit_test_count(project_copy)}` Tests" in done.stdout + done.stderr


def test_unit_tests_pass_outside_utc_on_a_warehouse_gateway(project_copy):
    """The warehouse gateways share the pinned test connection; raw.trial_events is an external table
    there, so its file reader's test is left out (config.yaml's ignore_patterns)."""
    if not os.environ.get("TRIAL_PG_HOST"):
        pytest.fail("needs the PostgreSQL server `bash .ci/run` starts (TRIAL_PG_* variables)")
    done = run_in_zone(ZONES[1], str(BIN / "sqlmesh"), "test", cwd=project_copy, TRIAL_GATEWAY="postgres")

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    expected = unit_test_count(project_copy, leave_out=LOCAL_ONLY_TESTS)
    assert expected < unit_test_count(project_copy)
    assert f"Successfully Ran `{expected}` Tests" in done.stdout + done.stderr


@pytest.mark.parametrize("zone", ZONES)
def test_a_full_build_outside_utc_gives_the_marts_of_a_build_in_utc(zone, sample_build, tmp_path):
    """`trial-activation build` (a plan, so the unit tests too) in another zone; every mart equal, row for row."""
    project = copy_project(tmp_path / "project")
    warehouse = tmp_path / "warehouse.duckdb"
    done = run_in_zone(
        zone,
        str(BIN / "trial-activation"),
        "build",
        "--project",
        str(project),
        "--events",
        str(SAMPLE_LOG),
        "--warehouse",
        str(warehouse),
        cwd=project,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    utc_context, _ = sample_build
    context = open_context(project, events_path=SAMPLE_LOG, warehouse_path=warehouse)
    try:
        # Every mart within the engine tests' tolerance: the statistics computed in Python (numpy,
        # statsmodels, lifelines, scikit-learn) can differ in their last bits with the BLAS kernel a
        # process picks (this one runs with the machine's OPENBLAS_CORETYPE, the subprocess without).
        # marts.predictability included: its AUCs rank tied organizations as ties, not by those bits.
        assert_marts_equal(read_marts(context, models=tuple(GRAIN)), read_marts(utc_context, models=tuple(GRAIN)), atol=TOLERANCE, rtol=TOLERANCE)
    finally:
        context.close()
