"""Shared pytest fixtures: every test builds on its own copy of the project and its own warehouse."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Models load in this process, as the CLI loads them (trial_activation/__main__.py): SQLMesh reads
# MAX_FORK_WORKERS once, when it is first imported (next line).
os.environ.setdefault("MAX_FORK_WORKERS", "1")

from trial_activation.project import build, open_context  # noqa: E402
from trial_activation.testing import REAL_LOG, SAMPLE_LOG, copy_project  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch):
    """No test inherits the project's input/output variables from the shell, and none leaks them."""
    for name in (
        "TRIAL_EVENTS_PATH",
        "TRIAL_TRIALS_PATH",
        "TRIAL_WAREHOUSE_PATH",
        "TRIAL_EVENTS_START",
        "TRIAL_GATEWAY",
        "TRIAL_ALERT_WEBHOOK_URL",
        "TRIAL_ALERT_TIMEOUT_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def chromium() -> Path:
    """The system Chromium the browser tests drive through Playwright (launch it with ui_server.CHROMIUM_ARGS)."""
    from ui_server import chromium_path

    path = chromium_path()
    if path is None:
        pytest.fail(
            "Chromium not found at /usr/bin/chromium (or CHROMIUM_PATH): the browser tests need Debian's "
            "`chromium` package (bash .ci/run installs it; `playwright install` is not used)."
        )
    return path


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """A fresh copy of the project in a temporary directory."""
    return copy_project(tmp_path / "project")


@pytest.fixture
def make_context(project_copy, tmp_path):
    """Open a Context on the project copy: make_context(events_path=None, gateway=None)."""

    def _make(events_path: Path | str | None = None, **kwargs):
        return open_context(
            project_copy,
            events_path=events_path or SAMPLE_LOG,
            warehouse_path=tmp_path / "warehouse.duckdb",
            **kwargs,
        )

    return _make


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory):
    """The project built into prod on the committed sample, once per session: (context, events path)."""
    root = tmp_path_factory.mktemp("sample_build")
    context = open_context(
        copy_project(root / "project"), events_path=SAMPLE_LOG, warehouse_path=root / "warehouse.duckdb"
    )
    build(context)
    return context, SAMPLE_LOG


@pytest.fixture(scope="session")
def real_log_build(tmp_path_factory):
    """The project built into prod on the real log, once per session: (context, events path). The tests
    that use it skip, saying why, where the log is absent (it is not part of the repository)."""
    if not REAL_LOG.exists():
        pytest.skip(f"needs the real trial event log at {REAL_LOG} (not part of the repository)")
    root = tmp_path_factory.mktemp("real_log_build")
    context = open_context(
        copy_project(root / "project"), events_path=REAL_LOG, warehouse_path=root / "warehouse.duckdb"
    )
    build(context)
    return context, REAL_LOG
