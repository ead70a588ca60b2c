"""Verilator 5.006 --lint-only -Wall is clean on every module (at its default parameters)."""

import shutil

import pytest

from mase_hwlib import catalog
from mase_hwlib.testing import lint, rtl_ports

pytestmark = pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")


@pytest.mark.parametrize("module", catalog.names())
def test_lint_clean_at_defaults(module):
    lint(module)


@pytest.mark.parametrize("module", catalog.names())
def test_catalog_ports_match_the_elaborated_rtl(module):
    """The catalog's port list (from its streams and derived widths) is what Verilator elaborates."""
    rtl = rtl_ports(module)
    assert rtl[:2] == [("clk", "input", 1), ("rst", "input", 1)]
    assert sorted(rtl) == sorted(catalog.get(module).ports())


@pytest.mark.parametrize("module,params", [
    ("mase_mxint_linear", dict(BLOCK_K=3, X_ROWS=2, OUT_TILE=5, X_MAN=4, W_MAN=2, BIAS_MAN=9, BIAS_EXP=5, OUT_MAN=11)),
    ("mase_mxint_matmul", dict(BLOCK_K=5, A_ROWS=3, B_COLS=2, A_MAN=2, B_EXP=3, OUT_MAN=9, OUT_EXP=4)),
    ("mase_join2", dict(DATA_WIDTH=13)),
])
def test_catalog_ports_match_the_rtl_away_from_defaults(module, params):
    assert sorted(rtl_ports(module, params)) == sorted(catalog.get(module).ports(params))


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")
@pytest.mark.parametrize("module", catalog.names())
def test_yosys_reads_and_elaborates(module):
    """Yosys 0.23 (the synthesis front end of mase-cost) parses and elaborates the RTL."""
    import subprocess

    spec = catalog.get(module)
    files = " ".join(str(p) for p in spec.source_paths())
    proc = subprocess.run(["yosys", "-q", "-p", f"read_verilog -sv {files}; hierarchy -check -top {module}; proc"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr or proc.stdout
