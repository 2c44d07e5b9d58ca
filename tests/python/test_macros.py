"""The examples in the project's macro docstrings (doctests), run as tests.

Each file is run in a subprocess: importing a macro file registers its macros in SQLMesh's
process-wide registry under a throwaway module name, which a project loaded later in the same process
would then fail to import.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from trial_activation.project import PROJECT_ROOT

MACRO_FILES = sorted((PROJECT_ROOT / "macros").glob("*.py"))

RUN_DOCTESTS = """
import doctest, importlib.util, sys
spec = importlib.util.spec_from_file_location("macro_file", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
finder, runner = doctest.DocTestFinder(exclude_empty=True), doctest.DocTestRunner()
for name, value in vars(module).items():
    if callable(value) and getattr(value, "__module__", None) == module.__name__:
        for test in finder.find(value, name, globs=dict(vars(module))):
            runner.run(test)
print(f"{runner.tries} examples, {runner.failures} failed")
sys.exit(1 if runner.failures else 0)
"""


@pytest.mark.parametrize("path", MACRO_FILES, ids=lambda path: path.name)
def test_macro_docstring_examples(path):
    result = subprocess.run([sys.executable, "-c", RUN_DOCTESTS, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
