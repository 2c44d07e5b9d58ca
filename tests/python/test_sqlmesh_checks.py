"""SQLMesh's own checks, run by pytest so that one command runs everything: the YAML unit tests in
tests/, the linter (config.yaml turns every rule on) and `sqlmesh format --check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from trial_activation.project import PROJECT_ROOT

SQLMESH = str(Path(sys.executable).with_name("sqlmesh"))


def run_sqlmesh(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TRIAL_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
    }
    return subprocess.run(
        [SQLMESH, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def test_yaml_unit_tests_pass(tmp_path):
    result = run_sqlmesh("test", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successfully Ran" in result.stdout + result.stderr


def test_every_model_has_a_unit_test_and_lint_is_clean(tmp_path):
    result = run_sqlmesh("lint", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sql_is_formatted(tmp_path):
    result = run_sqlmesh("format", "--check", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
