"""What the tests and the benchmarks share: the event logs they read and a copy of the project to build
on (they build on copies, never on the checkout's warehouse). Imported as `trial_activation.testing`
by both (tests/python/conftest.py, benchmarks/loop.py, benchmarks/run_benchmark.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from trial_activation.project import PROJECT_ROOT

# The committed sample, and the real log (not part of the repository; read in place, never copied).
SAMPLE_LOG = PROJECT_ROOT / "data" / "sample" / "trial_events.csv.gz"
REAL_LOG = PROJECT_ROOT.parent / "shared" / "data" / "trial_events.csv.gz"

# What a copy of the project needs to build.
PROJECT_PARTS = ("config.yaml", "external_models.yaml", "models", "macros", "audits", "seeds", "tests", "data/sample")


def copy_project(destination: Path | str) -> Path:
    """Copy what the project needs to build into `destination` (a fresh directory) and return it."""
    destination = Path(destination)
    for part in PROJECT_PARTS:
        source = PROJECT_ROOT / part
        target = destination / part
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination
