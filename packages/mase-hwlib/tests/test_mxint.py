"""Benches of the MXInt operators: RTL bit for bit against the golden models.

One dict per configuration feeds the build (its ``params``), the golden model
and the stimulus; random idle cycles on the inputs and back-pressure on the
output in every run. Each configuration is one build and one simulation.
"""

import numpy as np
import pytest

from mase_hwlib.testing import check_against_golden, lint, mxint_blocks

UNARY = [
    dict(params=dict(BLOCK_0=4, BLOCK_1=1, IN_MAN=7, IN_EXP=8, OUT_MAN=7, OUT_EXP=8), idle=0.3, backpressure=0.3),
    dict(params=dict(BLOCK_0=8, BLOCK_1=2, IN_MAN=7, IN_EXP=8, OUT_MAN=3, OUT_EXP=4), idle=0.1, backpressure=0.6),
    dict(params=dict(BLOCK_0=2, BLOCK_1=3, IN_MAN=4, IN_EXP=5, OUT_MAN=10, OUT_EXP=6), idle=0.5, backpressure=0.1),
    dict(params=dict(BLOCK_0=16, BLOCK_1=1, IN_MAN=1, IN_EXP=2, OUT_MAN=2, OUT_EXP=1), idle=0.2, backpressure=0.2),
]


def _blocks(n, lanes, man, exp, out_exp, rng, **kw):
    """Mostly blocks whose exponent the output format can hold (so rounding is exercised),
    then a few over the whole input range (saturation and flush to zero)."""
    near = (1 << (out_exp - 1)) + 1
    a = mxint_blocks(n, lanes, man, exp, rng, exp_range=(-near, near), **kw)
    b = mxint_blocks(8, lanes, man, exp, rng, edge=False)
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def _ids(cfgs):
    return ["-".join(f"{k}{v}" for k, v in c["params"].items()) for c in cfgs]


@pytest.mark.parametrize("module", ["mase_mxint_cast", "mase_mxint_relu"])
@pytest.mark.parametrize("cfg", UNARY, ids=_ids(UNARY))
def test_unary_matches_golden(module, cfg):
    p = cfg["params"]
    lint(module, p)
    rng = np.random.default_rng(11)
    x = _blocks(40, p["BLOCK_0"] * p["BLOCK_1"], p["IN_MAN"], p["IN_EXP"], p["OUT_EXP"], rng)
    check_against_golden(module, p, {"x": x}, idle=cfg["idle"], backpressure=cfg["backpressure"], seed=2)


BINARY = [
    dict(params=dict(BLOCK_0=4, BLOCK_1=1, A_MAN=7, A_EXP=8, B_MAN=7, B_EXP=8, OUT_MAN=7, OUT_EXP=8),
         idle=0.3, backpressure=0.3),
    dict(params=dict(BLOCK_0=4, BLOCK_1=2, A_MAN=3, A_EXP=5, B_MAN=6, B_EXP=4, OUT_MAN=5, OUT_EXP=6),
         idle=0.1, backpressure=0.6),
    dict(params=dict(BLOCK_0=3, BLOCK_1=1, A_MAN=10, A_EXP=6, B_MAN=2, B_EXP=3, OUT_MAN=12, OUT_EXP=3),
         idle=0.5, backpressure=0.1),
]


@pytest.mark.parametrize("module", ["mase_mxint_mul", "mase_mxint_add"])
@pytest.mark.parametrize("cfg", BINARY, ids=_ids(BINARY))
def test_binary_matches_golden(module, cfg):
    p = cfg["params"]
    lint(module, p)
    rng = np.random.default_rng(12)
    lanes = p["BLOCK_0"] * p["BLOCK_1"]
    a = _blocks(40, lanes, p["A_MAN"], p["A_EXP"], p["OUT_EXP"], rng)
    b = _blocks(40, lanes, p["B_MAN"], p["B_EXP"], p["OUT_EXP"], rng)
    # mixed exponents: a few pairs at the opposite ends of both ranges
    a["exp"][-4:] = [[(1 << (p["A_EXP"] - 1)) - 1], [1 - (1 << (p["A_EXP"] - 1))]] * 2
    b["exp"][-4:] = [[1 - (1 << (p["B_EXP"] - 1))], [(1 << (p["B_EXP"] - 1)) - 1]] * 2
    check_against_golden(module, p, {"a": a, "b": b}, idle=cfg["idle"], backpressure=cfg["backpressure"], seed=3)


MATMUL = [
    dict(params=dict(BLOCK_K=4, A_ROWS=1, B_COLS=1, K_TILES=2), outputs=20, idle=0.3, backpressure=0.3),
    dict(params=dict(BLOCK_K=4, A_ROWS=2, B_COLS=3, K_TILES=3, A_MAN=5, A_EXP=4, B_MAN=3, B_EXP=3,
                     OUT_MAN=7, OUT_EXP=6), outputs=12, idle=0.2, backpressure=0.5),
    dict(params=dict(BLOCK_K=2, A_ROWS=2, B_COLS=2, K_TILES=1, A_MAN=7, A_EXP=5, B_MAN=7, B_EXP=5,
                     OUT_MAN=4, OUT_EXP=5), outputs=24, idle=0.5, backpressure=0.0),
]


@pytest.mark.parametrize("cfg", MATMUL, ids=_ids(MATMUL))
def test_matmul_matches_golden(cfg):
    from mase_hwlib import catalog

    spec = catalog.get("mase_mxint_matmul")
    p = spec.resolve(cfg["params"])
    lint("mase_mxint_matmul", cfg["params"])
    rng = np.random.default_rng(13)
    n = cfg["outputs"] * p["K_TILES"]
    # a tiles: exponents near zero so the K-sum cancels and rounds (plus the edge blocks);
    # b tiles: the same, then the last pairs at opposite exponent extremes
    a = _blocks(n - 14, p["A_LANES"], p["A_MAN"], p["A_EXP"], 2, rng)
    b = _blocks(n - 14, p["B_LANES"], p["B_MAN"], p["B_EXP"], 2, rng)
    b["exp"][-4:] = [[(1 << (p["B_EXP"] - 1)) - 1], [1 - (1 << (p["B_EXP"] - 1))]] * 2
    check_against_golden("mase_mxint_matmul", cfg["params"], {"a": a, "b": b},
                         idle=cfg["idle"], backpressure=cfg["backpressure"], seed=4)


LINEAR = [
    # streamed weights, no bias, OCP-like 8-bit formats
    dict(params=dict(BLOCK_K=4, X_ROWS=1, OUT_TILE=2, IN_TILES=2, OUT_TILES=2), groups=8,
         idle=0.3, backpressure=0.3),
    # streamed weights and bias, 2-D tiles, narrow formats
    dict(params=dict(BLOCK_K=4, X_ROWS=2, OUT_TILE=3, IN_TILES=3, OUT_TILES=2, X_MAN=5, X_EXP=4,
                     W_MAN=3, W_EXP=3, HAS_BIAS=1, BIAS_MAN=6, BIAS_EXP=5, OUT_MAN=7, OUT_EXP=6),
         groups=5, idle=0.2, backpressure=0.5),
    # weights and bias in ROM
    dict(params=dict(BLOCK_K=2, X_ROWS=1, OUT_TILE=4, IN_TILES=3, OUT_TILES=3, X_MAN=7, X_EXP=6,
                     W_MAN=4, W_EXP=5, HAS_BIAS=1, BIAS_MAN=7, BIAS_EXP=8, OUT_MAN=6, OUT_EXP=5,
                     WEIGHTS_IN_ROM=1), groups=6, idle=0.4, backpressure=0.3),
    # weights in ROM, no bias, one input tile
    dict(params=dict(BLOCK_K=8, X_ROWS=1, OUT_TILE=1, IN_TILES=1, OUT_TILES=4, X_MAN=3, X_EXP=4,
                     W_MAN=3, W_EXP=4, OUT_MAN=7, OUT_EXP=6, WEIGHTS_IN_ROM=1), groups=20,
         idle=0.1, backpressure=0.6),
]


@pytest.mark.parametrize("cfg", LINEAR, ids=_ids(LINEAR))
def test_linear_matches_golden(cfg, tmp_path):
    from mase_hwlib import catalog
    from mase_hwlib.rom import write_mx_rom

    spec = catalog.get("mase_mxint_linear")
    params = dict(cfg["params"])
    rom = params.get("WEIGHTS_IN_ROM", 0)
    if rom:  # placeholder names so resolve() passes; the files are written below
        params.update(WEIGHT_FILE=str(tmp_path / "w.hex"), BIAS_FILE=str(tmp_path / "b.hex"))
    p = spec.resolve(params)
    rng = np.random.default_rng(14)
    g, it, ot = cfg["groups"], p["IN_TILES"], p["OUT_TILES"]
    x = _blocks(g * it - 14, p["X_LANES"], p["X_MAN"], p["X_EXP"], 2, rng)
    n_w = ot * it if rom else g * ot * it
    w = _blocks(max(n_w - 14, 1), p["W_LANES"], p["W_MAN"], p["W_EXP"], 2, rng, edge=not rom)
    n_b = ot if rom else g * ot
    b = _blocks(max(n_b - 14, 1), p["OUT_TILE"], p["BIAS_MAN"], p["BIAS_EXP"], 3, rng, edge=not rom)
    b = {k: v[:n_b] for k, v in b.items()}
    w = {k: v[:n_w] for k, v in w.items()}
    inputs = {"x": x}
    if rom:
        write_mx_rom(params["WEIGHT_FILE"], w, p["W_MAN"], p["W_EXP"])
        if p["HAS_BIAS"]:
            write_mx_rom(params["BIAS_FILE"], b, p["BIAS_MAN"], p["BIAS_EXP"])
    else:
        inputs["w"] = w
        if p["HAS_BIAS"]:
            inputs["b"] = b
    lint("mase_mxint_linear", params)
    r = check_against_golden("mase_mxint_linear", params, inputs,
                             idle=cfg["idle"], backpressure=cfg["backpressure"], seed=5)
    assert len(r.outputs["y"]["mant"]) == g * ot


def test_simulate_takes_and_gives_mxarrays_equal_to_software_emulation():
    """Plain-Python use: MXArrays in, MXArray out, equal to mx_formats.quantize of the exact product."""
    import mx_formats as mxf

    import mase_hwlib

    rng = np.random.default_rng(21)
    fmt, out = mxf.MXInt((8, 2), 8, 7), mxf.MXInt((8, 2), 8, 5)
    qa = mxf.quantize(rng.standard_normal((4, 16)), fmt, axes=(-1, -2))
    qb = mxf.quantize(rng.standard_normal((4, 16)) * 100, fmt, axes=(-1, -2))
    r = mase_hwlib.simulate("mase_mxint_mul", dict(BLOCK_0=8, BLOCK_1=2, OUT_MAN=5), {"a": qa, "b": qb})
    got = r.output_mx("y", out, (4, 16), (-1, -2))
    exact = mxf.dequantize(qa).astype(np.float64) * mxf.dequantize(qb).astype(np.float64)  # exact in float64
    want = mxf.quantize(exact, out, axes=(-1, -2), rounding="nearest_even")
    np.testing.assert_array_equal(got.elements, want.elements)
    np.testing.assert_array_equal(got.scales, want.scales)
    assert r.first_output_latency == 1 and r.cycles_per_block == 1.0 and r.total_cycles == 5


def test_linear_is_compute_bound_with_double_buffered_x():
    """Unstalled, output tiles leave every IN_TILES cycles, across x groups too (the next
    group loads while the current one is multiplied)."""
    cfg = LINEAR[0]
    p = dict(cfg["params"])
    rng = np.random.default_rng(15)
    groups, it, ot = 6, p["IN_TILES"], p["OUT_TILES"]
    x = mxint_blocks(groups * it, p["BLOCK_K"], 7, 8, rng, edge=False, exp_range=(-2, 2))
    w = mxint_blocks(groups * it * ot, p["BLOCK_K"] * p["OUT_TILE"], 7, 8, rng, edge=False, exp_range=(-2, 2))
    r = check_against_golden("mase_mxint_linear", p, {"x": x, "w": w}, idle=0, backpressure=0)
    from mase_hwlib import catalog

    derived = catalog.get("mase_mxint_linear").resolve(p)  # the catalog's cycle figures are the measured ones
    assert r.cycles_per_block == it == derived["CYCLES_PER_GROUP"] / ot
    assert r.first_output_latency == derived["LATENCY"]
