"""The cycle formulas of mase_cost.cycles against Icarus simulation (the oracle), one point per family."""

import shutil

import numpy as np
import pytest

from mase_cost.cycles import cycles, throughput

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")


def _sim(module, params, inputs):
    import mase_hwlib

    return mase_hwlib.simulate(module, params, inputs, idle=0, backpressure=0)


def test_elementwise_formula_matches_simulation():
    from mase_hwlib import catalog
    from mase_hwlib.testing import mxint_blocks

    p = {"BLOCK_0": 4, "BLOCK_1": 2, "IN_MAN": 5, "OUT_MAN": 3}
    rng = np.random.default_rng(1)
    r = _sim("mase_mxint_cast", p, {"x": mxint_blocks(6, 8, 5, 8, rng, edge=False, exp_range=(-2, 2))})
    want = cycles("mase_mxint_cast", catalog.get("mase_mxint_cast").resolve(p))
    assert r.first_output_latency == want["latency"]
    assert r.cycles_per_block == want["cycles_per_block"]


def test_linear_formula_matches_simulation():
    from mase_hwlib import catalog
    from mase_hwlib.testing import mxint_blocks

    p = {"BLOCK_K": 4, "X_ROWS": 1, "OUT_TILE": 2, "IN_TILES": 3, "OUT_TILES": 2}
    groups = 3
    rng = np.random.default_rng(2)
    x = mxint_blocks(groups * 3, 4, 7, 8, rng, edge=False, exp_range=(-2, 2))
    w = mxint_blocks(groups * 3 * 2, 8, 7, 8, rng, edge=False, exp_range=(-2, 2))
    r = _sim("mase_mxint_linear", p, {"x": x, "w": w})
    want = cycles("mase_mxint_linear", catalog.get("mase_mxint_linear").resolve(p))
    assert r.first_output_latency == want["latency"] == 9  # 2 * IN_TILES + 3 tile dot stages
    assert r.cycles_per_block == want["cycles_per_block"] == 3


def test_rates_follow_the_clock():
    from mase_hwlib import catalog

    p = catalog.get("mase_mxint_linear").resolve({"BLOCK_K": 8, "X_ROWS": 2, "OUT_TILE": 2, "IN_TILES": 4})
    t = throughput("mase_mxint_linear", p, 250.0)
    assert t["macs_per_s"] == 2 * 2 * 8 * 250e6
    assert t["blocks_per_s"] == 250e6 / 4 and t["latency_ns"] == 11 * 4.0


def test_matmul_formula_matches_simulation():
    from mase_hwlib import catalog
    from mase_hwlib.testing import mxint_blocks

    p = {"BLOCK_K": 2, "A_ROWS": 1, "B_COLS": 2, "K_TILES": 3}
    tiles = 3 * 2  # two output tiles of K_TILES pairs each
    rng = np.random.default_rng(4)
    a = mxint_blocks(tiles, 2, 7, 8, rng, edge=False, exp_range=(-2, 2))
    b = mxint_blocks(tiles, 4, 7, 8, rng, edge=False, exp_range=(-2, 2))
    r = _sim("mase_mxint_matmul", p, {"a": a, "b": b})
    want = cycles("mase_mxint_matmul", catalog.get("mase_mxint_matmul").resolve(p))
    assert r.first_output_latency == want["latency"] == 6  # K_TILES + 3 tile dot stages
    assert r.cycles_per_block == want["cycles_per_block"] == 3


@pytest.mark.parametrize("module", ["mase_mxint_softmax", "mase_mxint_layer_norm"])
def test_row_operator_formulas_match_simulation(module):
    """Two rows of ROW_BLOCKS=3 blocks: latency, and total cycles = rows * cycles_per_block * ROW_BLOCKS."""
    from mase_hwlib import catalog

    p = {"BLOCK": 2, "ROW_BLOCKS": 3}
    rows = 2
    rng = np.random.default_rng(5)
    x = {"mant": rng.integers(-127, 128, (3 * rows, 2)), "exp": rng.integers(-3, 3, (3 * rows, 1))}
    r = _sim(module, p, {"x": x})
    want = cycles(module, catalog.get(module).resolve(p))
    assert r.first_output_latency == want["latency"]
    assert r.total_cycles == round(rows * 3 * want["cycles_per_block"])


def test_gelu_formula_matches_simulation():
    from mase_hwlib import catalog

    p = {"BLOCK": 2}
    rng = np.random.default_rng(6)
    x = {"mant": rng.integers(-127, 128, (5, 2)), "exp": rng.integers(-3, 3, (5, 1))}
    r = _sim("mase_mxint_gelu", p, {"x": x})
    want = cycles("mase_mxint_gelu", catalog.get("mase_mxint_gelu").resolve(p))
    assert r.first_output_latency == want["latency"] and r.cycles_per_block == want["cycles_per_block"]


def _fixed_lanes(n, k, width, rng):
    return rng.integers(-(1 << (width - 1)), 1 << (width - 1), size=(n, k))


def test_fixed_linear_formula_matches_simulation():
    from mase_hwlib import catalog

    p = {"BLOCK_K": 4, "X_ROWS": 1, "OUT_TILE": 2, "IN_TILES": 3, "OUT_TILES": 2}
    groups, rng = 3, np.random.default_rng(3)
    p_res = catalog.get("mase_fixed_linear").resolve(p)
    x = _fixed_lanes(groups * 3, p_res["X_LANES"], p_res["X_WIDTH"], rng)
    w = _fixed_lanes(groups * 3 * 2, p_res["W_LANES"], p_res["W_WIDTH"], rng)
    r = _sim("mase_fixed_linear", p, {"x": {"data": x}, "w": {"data": w}})
    want = cycles("mase_fixed_linear", p_res)
    assert r.first_output_latency == want["latency"] == 8  # 2 * IN_TILES + 2 tile dot stages
    assert r.cycles_per_block == want["cycles_per_block"] == 3


def test_fixed_elementwise_formula_matches_simulation():
    from mase_hwlib import catalog

    p = {"BLOCK": 4}
    res = catalog.get("mase_fixed_add").resolve(p)
    rng = np.random.default_rng(4)
    a, b = (_fixed_lanes(6, 4, res[k], rng) for k in ("A_WIDTH", "B_WIDTH"))
    r = _sim("mase_fixed_add", p, {"a": {"data": a}, "b": {"data": b}})
    want = cycles("mase_fixed_add", res)
    assert r.first_output_latency == want["latency"] == 1
    assert r.cycles_per_block == want["cycles_per_block"] == 1
