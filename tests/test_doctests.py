"""Run the examples in the docstrings of every module, kernels included (the package as installed).

A test per module rather than ``--doctest-modules``: the suite then imports the installed
package, not a second copy from the source tree.
"""

import doctest
import importlib
import pkgutil

import pytest

import streamrough

MODULES = sorted(info.name for info in pkgutil.walk_packages(streamrough.__path__, prefix="streamrough."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (details above)"


def test_examples_are_found():
    """Guard against a finder that silently finds nothing (the tests above would all pass)."""
    finder = doctest.DocTestFinder()
    examples = sum(len(t.examples) for name in MODULES for t in finder.find(importlib.import_module(name)))
    assert examples >= 60
