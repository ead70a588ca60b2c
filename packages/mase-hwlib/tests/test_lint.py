"""Verilator 5.006 --lint-only -Wall is clean on every module (at its default parameters)."""

import shutil

import pytest

from mase_hwlib import catalog
from mase_hwlib.testing import lint

pytestmark = pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")


@pytest.mark.parametrize("module", catalog.names())
def test_lint_clean_at_defaults(module):
    lint(module)
