"""The examples in the project's macro docstrings (doctests), run as tests."""

from __future__ import annotations

import doctest
import importlib.util

import pytest

from trial_activation.project import PROJECT_ROOT

MACRO_FILES = sorted((PROJECT_ROOT / "macros").glob("*.py"))


@pytest.mark.parametrize("path", MACRO_FILES, ids=lambda path: path.name)
def test_macro_docstring_examples(path):
    spec = importlib.util.spec_from_file_location(f"macro_doctest_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner()
    for name, value in vars(module).items():
        if callable(value) and getattr(value, "__module__", None) == module.__name__:
            for test in finder.find(value, name, globs=dict(vars(module))):
                runner.run(test)
    assert runner.failures == 0
