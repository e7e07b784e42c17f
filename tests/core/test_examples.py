"""The Examples sections of the public docstrings run and print what they say (doctest)."""

from __future__ import annotations

import doctest

import pytest

import toyclf.classifier


@pytest.mark.parametrize("module", [toyclf.classifier], ids=lambda module: module.__name__)
def test_docstring_examples_run_as_written(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted >= 5  # the examples are there
    assert result.failed == 0
