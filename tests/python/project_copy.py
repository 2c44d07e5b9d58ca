"""Test scaffolding: a copy of the project to build on (tests build on copies, never on the checkout's warehouse).

Imported by the tests (`from project_copy import copy_project`) and by the benchmarks
(`from tests.python.project_copy import copy_project`, with the repository root on sys.path).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from trial_activation.project import PROJECT_ROOT

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
