"""Benches of the MXInt operators: RTL bit for bit against the golden models.

One dict per configuration feeds the build (its ``params``), the golden model
and the stimulus; random idle cycles on the inputs and back-pressure on the
output (and one run of each operator with neither). Each configuration is one
build and one simulation. The summing operators (add, matmul, linear) run at
their default bounded accumulator, at the narrowest legal ACC_WIDTH
(``"min"``), with both roundings, and exact (ACC_WIDTH = 0); configurations
marked ``rounds`` keep enough output bits that the accumulator's rounding shows
in the result, and check that it does (bounded golden != exact golden).
"""

import numpy as np
import pytest

from mase_hwlib import catalog
from mase_hwlib.golden.accumulate import min_acc_width
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


def _params(module, cfg, extra=None):
    """The build parameters: ACC_WIDTH "min" / "min+k" -> the narrowest legal width (+k)."""
    p = {**cfg["params"], **(extra or {})}
    acc = p.get("ACC_WIDTH")
    if isinstance(acc, str):
        r = catalog.get(module).resolve({**p, "ACC_WIDTH": -1})
        p["ACC_WIDTH"] = min_acc_width(r["ACC_TERM_WIDTH"], r["ACC_TERMS"]) + int(acc[3:] or 0)
    return p


def _check_rounds(module, cfg, params, inputs):
    """A ``rounds`` configuration must differ from the exact datapath (else the bench could
    not tell a bounded RTL from a Kulisch one)."""
    if not cfg.get("rounds"):
        return
    from mase_hwlib import streams

    spec = catalog.get(module)
    beats = streams.normalize(spec, spec.resolve(params), inputs, "in")
    bounded = spec.golden(spec.resolve(params), beats)["y"]["mant"]
    exact = spec.golden(spec.resolve({**params, "ACC_WIDTH": 0}), beats)["y"]["mant"]
    assert (bounded != exact).any(), f"{module} {params}: the stimulus never shows the accumulator's rounding"


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


ADD = [
    # narrowest legal width (no guard bit), EXP=8, wide output: the alignment's rounding shows
    dict(params=dict(BLOCK_0=4, BLOCK_1=1, OUT_MAN=12, ACC_WIDTH="min"), idle=0.3, backpressure=0.3, rounds=True),
    # truncation, small exponents, no idle cycles and no back-pressure
    dict(params=dict(BLOCK_0=4, BLOCK_1=2, A_MAN=3, A_EXP=5, B_MAN=6, B_EXP=4, OUT_MAN=9, OUT_EXP=6,
                     ACC_WIDTH="min+1", ACC_ROUND=0), idle=0.0, backpressure=0.0, rounds=True),
    # default width with truncation, EXP=8
    dict(params=dict(BLOCK_0=8, BLOCK_1=1, OUT_MAN=14, ACC_ROUND=0), idle=0.2, backpressure=0.4, rounds=True),
    # exact alignment (ACC_WIDTH = 0), EXP=8
    dict(params=dict(BLOCK_0=4, BLOCK_1=1, OUT_MAN=10, ACC_WIDTH=0), idle=0.2, backpressure=0.2),
]


def _binary_inputs(p, seed):
    rng = np.random.default_rng(seed)
    lanes = p["BLOCK_0"] * p["BLOCK_1"]
    a = _blocks(40, lanes, p["A_MAN"], p["A_EXP"], p["OUT_EXP"], rng)
    b = _blocks(40, lanes, p["B_MAN"], p["B_EXP"], p["OUT_EXP"], rng)
    # mixed exponents: a few pairs at the opposite ends of both ranges
    a["exp"][-4:] = [[(1 << (p["A_EXP"] - 1)) - 1], [1 - (1 << (p["A_EXP"] - 1))]] * 2
    b["exp"][-4:] = [[1 - (1 << (p["B_EXP"] - 1))], [(1 << (p["B_EXP"] - 1)) - 1]] * 2
    return {"a": a, "b": b}


@pytest.mark.parametrize("module", ["mase_mxint_mul", "mase_mxint_add"])
@pytest.mark.parametrize("cfg", BINARY, ids=_ids(BINARY))
def test_binary_matches_golden(module, cfg):
    p = cfg["params"]
    lint(module, p)
    check_against_golden(module, p, _binary_inputs(catalog.get(module).resolve(p), 12),
                         idle=cfg["idle"], backpressure=cfg["backpressure"], seed=3)


@pytest.mark.parametrize("cfg", ADD, ids=_ids(ADD))
def test_add_bounded_alignment_matches_golden(cfg):
    p = _params("mase_mxint_add", cfg)
    lint("mase_mxint_add", p)
    inputs = _binary_inputs(catalog.get("mase_mxint_add").resolve(p), 16)
    _check_rounds("mase_mxint_add", cfg, p, inputs)
    check_against_golden("mase_mxint_add", p, inputs, idle=cfg["idle"], backpressure=cfg["backpressure"], seed=6)


MATMUL = [
    dict(params=dict(BLOCK_K=4, A_ROWS=1, B_COLS=1, K_TILES=2), outputs=20, idle=0.3, backpressure=0.3),
    dict(params=dict(BLOCK_K=4, A_ROWS=2, B_COLS=3, K_TILES=3, A_MAN=5, A_EXP=4, B_MAN=3, B_EXP=3,
                     OUT_MAN=7, OUT_EXP=6), outputs=12, idle=0.2, backpressure=0.5),
    dict(params=dict(BLOCK_K=2, A_ROWS=2, B_COLS=2, K_TILES=1, A_MAN=7, A_EXP=5, B_MAN=7, B_EXP=5,
                     OUT_MAN=4, OUT_EXP=5), outputs=24, idle=0.5, backpressure=0.0),
    # EXP=8, narrowest legal accumulator, wide output
    dict(params=dict(BLOCK_K=4, A_ROWS=2, B_COLS=2, K_TILES=5, OUT_MAN=16, ACC_WIDTH="min"), outputs=16,
         idle=0.3, backpressure=0.3, rounds=True),
    # small exponents, truncation, one bit above the minimum; no idle cycles, no back-pressure
    dict(params=dict(BLOCK_K=4, A_ROWS=1, B_COLS=3, K_TILES=3, A_MAN=4, A_EXP=4, B_MAN=3, B_EXP=3,
                     OUT_MAN=12, OUT_EXP=6, ACC_WIDTH="min+1", ACC_ROUND=0), outputs=20, idle=0.0,
         backpressure=0.0, rounds=True),
    # EXP=8, default width, truncation
    dict(params=dict(BLOCK_K=8, A_ROWS=1, B_COLS=2, K_TILES=6, OUT_MAN=20, ACC_ROUND=0), outputs=12,
         idle=0.2, backpressure=0.5, rounds=True),
    # exact (Kulisch) datapath, EXP=8
    dict(params=dict(BLOCK_K=4, A_ROWS=2, B_COLS=1, K_TILES=4, OUT_MAN=9, ACC_WIDTH=0), outputs=12,
         idle=0.3, backpressure=0.3),
]


@pytest.mark.parametrize("cfg", MATMUL, ids=_ids(MATMUL))
def test_matmul_matches_golden(cfg):
    spec = catalog.get("mase_mxint_matmul")
    params = _params("mase_mxint_matmul", cfg)
    p = spec.resolve(params)
    lint("mase_mxint_matmul", params)
    rng = np.random.default_rng(13)
    n = cfg["outputs"] * p["K_TILES"]
    # a tiles: exponents near zero so the K-sum cancels and rounds (plus the edge blocks);
    # b tiles: the same, then the last pairs at opposite exponent extremes
    a = _blocks(n - 14, p["A_LANES"], p["A_MAN"], p["A_EXP"], 2, rng)
    b = _blocks(n - 14, p["B_LANES"], p["B_MAN"], p["B_EXP"], 2, rng)
    b["exp"][-4:] = [[(1 << (p["B_EXP"] - 1)) - 1], [1 - (1 << (p["B_EXP"] - 1))]] * 2
    _check_rounds("mase_mxint_matmul", cfg, params, {"a": a, "b": b})
    check_against_golden("mase_mxint_matmul", params, {"a": a, "b": b},
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
    # EXP=8, streamed weights and bias, narrowest legal accumulator, wide output
    dict(params=dict(BLOCK_K=4, X_ROWS=2, OUT_TILE=2, IN_TILES=4, OUT_TILES=2, HAS_BIAS=1, OUT_MAN=16,
                     ACC_WIDTH="min"), groups=5, idle=0.3, backpressure=0.3, rounds=True),
    # small exponents, ROM weights and bias, truncation, two bits above the minimum;
    # no idle cycles, no back-pressure
    dict(params=dict(BLOCK_K=2, X_ROWS=1, OUT_TILE=3, IN_TILES=5, OUT_TILES=2, X_MAN=5, X_EXP=4, W_MAN=4,
                     W_EXP=4, HAS_BIAS=1, BIAS_MAN=9, BIAS_EXP=5, OUT_MAN=14, OUT_EXP=6, WEIGHTS_IN_ROM=1,
                     ACC_WIDTH="min+2", ACC_ROUND=0), groups=8, idle=0.0, backpressure=0.0, rounds=True),
    # EXP=8, default width and rounding, bias, wide output
    dict(params=dict(BLOCK_K=4, X_ROWS=1, OUT_TILE=2, IN_TILES=6, OUT_TILES=2, HAS_BIAS=1, OUT_MAN=20),
         groups=6, idle=0.2, backpressure=0.4, rounds=True),
    # exact (Kulisch) datapath, EXP=8, bias
    dict(params=dict(BLOCK_K=4, X_ROWS=1, OUT_TILE=2, IN_TILES=3, OUT_TILES=2, HAS_BIAS=1, ACC_WIDTH=0),
         groups=5, idle=0.3, backpressure=0.3),
]


@pytest.mark.parametrize("cfg", LINEAR, ids=_ids(LINEAR))
def test_linear_matches_golden(cfg, tmp_path):
    from mase_hwlib.rom import write_mx_rom

    spec = catalog.get("mase_mxint_linear")
    params = dict(cfg["params"])
    rom = params.get("WEIGHTS_IN_ROM", 0)
    if rom:  # placeholder names so resolve() passes; the files are written below
        params.update(WEIGHT_FILE=str(tmp_path / "w.hex"), BIAS_FILE=str(tmp_path / "b.hex"))
    params = _params("mase_mxint_linear", cfg, params)
    p = spec.resolve(params)
    rng = np.random.default_rng(14)
    g, it, ot = cfg["groups"], p["IN_TILES"], p["OUT_TILES"]
    x = _blocks(g * it - 14, p["X_LANES"], p["X_MAN"], p["X_EXP"], 2, rng)
    n_w = ot * it if rom else g * ot * it
    pad = 8 if rom else 14  # _blocks adds 8 blocks, and 6 edge blocks when edge=True
    w = _blocks(max(n_w - pad, 1), p["W_LANES"], p["W_MAN"], p["W_EXP"], 2, rng, edge=not rom)
    n_b = ot if rom else g * ot
    b = _blocks(max(n_b - pad, 1), p["OUT_TILE"], p["BIAS_MAN"], p["BIAS_EXP"], 3, rng, edge=not rom)
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
    _check_rounds("mase_mxint_linear", cfg, params, inputs)
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
    derived = catalog.get("mase_mxint_linear").resolve(p)  # the catalog's cycle figures are the measured ones
    assert r.cycles_per_block == it == derived["CYCLES_PER_GROUP"] / ot
    assert r.first_output_latency == derived["LATENCY"]
