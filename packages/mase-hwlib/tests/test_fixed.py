"""Fixed-point operators: golden models against mx_formats (an independent oracle), RTL bit for bit
against the golden models, catalog range errors.

One dict per configuration feeds the build (``params``), the golden model and the stimulus; random
idle cycles on the inputs and back-pressure on the output, plus the no-idle, no-back-pressure case.
Odd widths (4, 12, 16) and int8 are covered; the stimuli include the extreme codes -2^(W-1) so the
accumulator bound and saturation are exercised.
"""

import mx_formats as mxf
import numpy as np
import pytest

from mase_hwlib import catalog
from mase_hwlib.golden import fixed
from mase_hwlib.rom_fixed import read_fixed_rom, write_fixed_rom
from mase_hwlib.testing import check_against_golden, lint


def _ids(cfgs):
    return ["-".join(f"{k}{v}" for k, v in c["params"].items()) for c in cfgs]


def lanes(n: int, k: int, width: int, rng, *, edge: bool = True) -> np.ndarray:
    """``n`` random beats of ``k`` lanes over the whole ``width``-bit range; with ``edge``, four beats
    first: all minimum codes, all maximum, alternating min/max, all zero."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    d = rng.integers(lo, hi + 1, size=(n, k))
    if edge:
        d = np.concatenate([np.full((1, k), lo), np.full((1, k), hi),
                            np.where(np.arange(k) % 2 == 0, lo, hi)[None], np.zeros((1, k), np.int64), d])
    return d.astype(np.int64)


def _oracle(exact: np.ndarray, width: int, frac: int) -> np.ndarray:
    """mx_formats.quantize of exact float64 values into Fixed(width, frac), as signed integers."""
    return mxf.quantize(exact, mxf.Fixed(width, frac)).mantissas().astype(np.int64)


# ---- golden models against mx_formats -----------------------------------------------------------

def test_requantize_equals_mx_formats_fixed_quantize_on_ties_and_saturation():
    rng = np.random.default_rng(1)
    for in_frac, out_width, out_frac in [(8, 8, 4), (4, 4, 0), (0, 12, 3), (-2, 6, -5), (12, 16, 12), (10, 5, 2)]:
        v = np.concatenate([rng.integers(-(1 << 20), 1 << 20, 2000), np.arange(-64, 65)])
        got = np.array([fixed.requantize(int(a), in_frac, out_width, out_frac) for a in v])
        want = _oracle(v.astype(np.float64) * 2.0 ** -in_frac, out_width, out_frac)
        np.testing.assert_array_equal(got, want)


def test_linear_golden_equals_quantized_exact_product():
    """x W^T + b computed exactly in float64 (all values are short dyadic numbers), then quantized."""
    rng = np.random.default_rng(2)
    p = catalog.get("mase_fixed_linear").resolve(dict(BLOCK_K=4, X_ROWS=2, OUT_TILE=3, IN_TILES=3, OUT_TILES=2,
                                                     X_WIDTH=8, X_FRAC=5, W_WIDTH=6, W_FRAC=7, HAS_BIAS=1,
                                                     B_WIDTH=12, B_FRAC=13, OUT_WIDTH=8, OUT_FRAC=3))
    rows, fin, fout = 2, 12, 6
    x = lanes(5, rows * fin, 8, rng, edge=False).reshape(5, rows, fin)  # 5 groups
    w = lanes(1, fout * fin, 6, rng, edge=False).reshape(fout, fin)
    b = lanes(1, fout, 12, rng, edge=False).reshape(fout)
    x_tiles = x.reshape(5, rows, 3, 4).transpose(0, 2, 1, 3).reshape(-1, rows * 4)
    w_tiles = w.reshape(2, 3, 3, 4).transpose(0, 2, 1, 3).reshape(-1, 12)
    y = fixed.linear(p, {"x": {"data": x_tiles}}, weights=w_tiles, bias=b.reshape(2, 3))["y"]["data"]
    got = y.reshape(5, 2, rows, 3).transpose(0, 2, 1, 3).reshape(5, rows, fout)
    exact = (x * 2.0 ** -5) @ (w * 2.0 ** -7).T + b * 2.0 ** -13
    np.testing.assert_array_equal(got, _oracle(exact, 8, 3))


def test_add_relu_cast_goldens_equal_quantized_exact_values():
    rng = np.random.default_rng(3)
    a, b = lanes(50, 4, 12, rng), lanes(50, 4, 4, rng)
    p = dict(A_WIDTH=12, A_FRAC=9, B_WIDTH=4, B_FRAC=-1, OUT_WIDTH=8, OUT_FRAC=2)
    got = fixed.add(p, {"a": {"data": a}, "b": {"data": b}})["y"]["data"]
    np.testing.assert_array_equal(got, _oracle(a * 2.0 ** -9 + b * 2.0, 8, 2))
    q = dict(IN_WIDTH=12, IN_FRAC=9, OUT_WIDTH=4, OUT_FRAC=1)
    np.testing.assert_array_equal(fixed.relu(q, {"x": {"data": a}})["y"]["data"],
                                  _oracle(np.maximum(a, 0) * 2.0 ** -9, 4, 1))
    np.testing.assert_array_equal(fixed.cast(q, {"x": {"data": a}})["y"]["data"], _oracle(a * 2.0 ** -9, 4, 1))


def test_accumulator_width_is_the_derived_bound_and_is_reached():
    """K products of (-2^(XW-1)) (-2^(WW-1)) need exactly ACC_WIDTH - 1 magnitude bits: the bound is tight."""
    for xw, ww, k, bias in [(8, 8, 64, 0), (4, 4, 8, 0), (12, 16, 3, 1), (4, 12, 1, 0)]:
        acc = fixed.dot_accumulator(xw, 0, ww, 0, k, bias, 2, 0)
        worst = k * (1 << (xw - 1)) * (1 << (ww - 1)) + (bias and 1)
        assert acc["ACC_WIDTH"] == xw + ww + fixed.clog2(k + bias)
        assert worst.bit_length() + 1 <= acc["ACC_WIDTH"] <= worst.bit_length() + 2


def test_fixed_rom_round_trips(tmp_path):
    rng = np.random.default_rng(4)
    d = lanes(7, 5, 12, rng)
    write_fixed_rom(tmp_path / "r.hex", d, 12)
    np.testing.assert_array_equal(read_fixed_rom(tmp_path / "r.hex", 5, 12), d)


# ---- RTL against golden -------------------------------------------------------------------------

UNARY = [
    dict(params=dict(BLOCK=4, IN_WIDTH=8, IN_FRAC=4, OUT_WIDTH=8, OUT_FRAC=4), idle=0.3, backpressure=0.3),
    dict(params=dict(BLOCK=3, IN_WIDTH=16, IN_FRAC=11, OUT_WIDTH=4, OUT_FRAC=1), idle=0.1, backpressure=0.6),
    dict(params=dict(BLOCK=2, IN_WIDTH=4, IN_FRAC=-2, OUT_WIDTH=12, OUT_FRAC=5), idle=0.5, backpressure=0.1),
    dict(params=dict(BLOCK=5, IN_WIDTH=12, IN_FRAC=3, OUT_WIDTH=8, OUT_FRAC=6), idle=0.0, backpressure=0.0),
]


@pytest.mark.parametrize("module", ["mase_fixed_cast", "mase_fixed_relu"])
@pytest.mark.parametrize("cfg", UNARY, ids=_ids(UNARY))
def test_unary_matches_golden(module, cfg):
    p = cfg["params"]
    lint(module, p)
    x = lanes(40, p["BLOCK"], p["IN_WIDTH"], np.random.default_rng(11))
    r = check_against_golden(module, p, {"x": {"data": x}}, idle=cfg["idle"], backpressure=cfg["backpressure"],
                             seed=2)
    if cfg["idle"] == 0 and cfg["backpressure"] == 0:
        assert r.first_output_latency == 1 and r.cycles_per_block == 1.0


ADD = [
    dict(params=dict(BLOCK=4, A_WIDTH=8, A_FRAC=4, B_WIDTH=8, B_FRAC=4, OUT_WIDTH=8, OUT_FRAC=4),
         idle=0.3, backpressure=0.3),
    dict(params=dict(BLOCK=3, A_WIDTH=12, A_FRAC=9, B_WIDTH=4, B_FRAC=-1, OUT_WIDTH=8, OUT_FRAC=2),
         idle=0.1, backpressure=0.6),
    dict(params=dict(BLOCK=2, A_WIDTH=16, A_FRAC=0, B_WIDTH=16, B_FRAC=15, OUT_WIDTH=16, OUT_FRAC=7),
         idle=0.5, backpressure=0.1),
    dict(params=dict(BLOCK=1, A_WIDTH=4, A_FRAC=2, B_WIDTH=4, B_FRAC=3, OUT_WIDTH=4, OUT_FRAC=3),
         idle=0.0, backpressure=0.0),
]


@pytest.mark.parametrize("cfg", ADD, ids=_ids(ADD))
def test_add_matches_golden(cfg):
    p = cfg["params"]
    lint("mase_fixed_add", p)
    rng = np.random.default_rng(12)
    a, b = lanes(40, p["BLOCK"], p["A_WIDTH"], rng), lanes(40, p["BLOCK"], p["B_WIDTH"], rng)
    check_against_golden("mase_fixed_add", p, {"a": {"data": a}, "b": {"data": b}},
                         idle=cfg["idle"], backpressure=cfg["backpressure"], seed=3)


MATMUL = [
    dict(params=dict(BLOCK_K=4, A_ROWS=1, B_COLS=1, K_TILES=2), outputs=20, idle=0.3, backpressure=0.3),
    dict(params=dict(BLOCK_K=3, A_ROWS=2, B_COLS=3, K_TILES=3, A_WIDTH=12, A_FRAC=6, B_WIDTH=4, B_FRAC=2,
                     OUT_WIDTH=16, OUT_FRAC=5), outputs=12, idle=0.2, backpressure=0.5),
    # the output holds the whole accumulator (OUT_WIDTH >= ACC_WIDTH, same grid): no wrap, exact
    dict(params=dict(BLOCK_K=2, A_ROWS=2, B_COLS=2, K_TILES=4, A_WIDTH=4, A_FRAC=1, B_WIDTH=4, B_FRAC=2,
                     OUT_WIDTH=11, OUT_FRAC=3), outputs=24, idle=0.0, backpressure=0.0),
    # one tile pair per output tile (every pair is first and last)
    dict(params=dict(BLOCK_K=1, A_ROWS=3, B_COLS=2, K_TILES=1, A_WIDTH=16, A_FRAC=15, B_WIDTH=12, B_FRAC=3,
                     OUT_WIDTH=12, OUT_FRAC=6), outputs=30, idle=0.4, backpressure=0.4),
]


@pytest.mark.parametrize("cfg", MATMUL, ids=_ids(MATMUL))
def test_matmul_matches_golden(cfg):
    p = catalog.get("mase_fixed_matmul").resolve(cfg["params"])
    lint("mase_fixed_matmul", cfg["params"])
    rng = np.random.default_rng(13)
    n = cfg["outputs"] * p["K_TILES"]
    a = lanes(n - 4, p["A_LANES"], p["A_WIDTH"], rng)
    b = lanes(n - 4, p["B_LANES"], p["B_WIDTH"], rng)
    a[:p["K_TILES"]] = -(1 << (p["A_WIDTH"] - 1))  # the first output tile: the accumulator's worst case
    b[:p["K_TILES"]] = -(1 << (p["B_WIDTH"] - 1))
    r = check_against_golden("mase_fixed_matmul", cfg["params"], {"a": {"data": a}, "b": {"data": b}},
                             idle=cfg["idle"], backpressure=cfg["backpressure"], seed=4)
    if p["OUT_WIDTH"] >= p["ACC_WIDTH"] and p["OUT_FRAC"] == p["ACC_FRAC"]:
        worst = p["K_TILES"] * p["BLOCK_K"] * (1 << (p["A_WIDTH"] - 1)) * (1 << (p["B_WIDTH"] - 1))
        assert (r.outputs["y"]["data"][0] == worst).all()
        assert r.cycles_per_block == p["K_TILES"]


LINEAR = [
    # int8, streamed weights, no bias
    dict(params=dict(BLOCK_K=4, X_ROWS=1, OUT_TILE=2, IN_TILES=2, OUT_TILES=2), groups=8,
         idle=0.3, backpressure=0.3),
    # streamed weights and bias, 2-D tiles, odd widths, a bias finer than the products
    dict(params=dict(BLOCK_K=3, X_ROWS=2, OUT_TILE=3, IN_TILES=3, OUT_TILES=2, X_WIDTH=12, X_FRAC=7,
                     W_WIDTH=4, W_FRAC=2, HAS_BIAS=1, B_WIDTH=16, B_FRAC=12, OUT_WIDTH=12, OUT_FRAC=4),
         groups=5, idle=0.2, backpressure=0.5),
    # int8 weights and bias in ROM (the mapping's case)
    dict(params=dict(BLOCK_K=2, X_ROWS=1, OUT_TILE=4, IN_TILES=3, OUT_TILES=3, X_WIDTH=8, X_FRAC=5,
                     W_WIDTH=8, W_FRAC=7, HAS_BIAS=1, B_WIDTH=8, B_FRAC=6, OUT_WIDTH=8, OUT_FRAC=4,
                     WEIGHTS_IN_ROM=1), groups=6, idle=0.4, backpressure=0.3),
    # 4-bit, ROM without bias, one input tile, negative fraction bits on the output
    dict(params=dict(BLOCK_K=8, X_ROWS=1, OUT_TILE=1, IN_TILES=1, OUT_TILES=4, X_WIDTH=4, X_FRAC=3,
                     W_WIDTH=4, W_FRAC=3, OUT_WIDTH=4, OUT_FRAC=-1, WEIGHTS_IN_ROM=1), groups=20,
         idle=0.1, backpressure=0.6),
    # one input and one output tile per group, streamed bias: every triple is first, last and group end
    dict(params=dict(BLOCK_K=5, X_ROWS=3, OUT_TILE=1, IN_TILES=1, OUT_TILES=1, X_WIDTH=12, X_FRAC=4,
                     W_WIDTH=4, W_FRAC=1, HAS_BIAS=1, B_WIDTH=4, B_FRAC=-2, OUT_WIDTH=8, OUT_FRAC=2),
         groups=12, idle=0.4, backpressure=0.4),
    # 16-bit, no idle, no back-pressure: compute-bound, one tile pair per cycle
    dict(params=dict(BLOCK_K=2, X_ROWS=1, OUT_TILE=2, IN_TILES=3, OUT_TILES=2, X_WIDTH=16, X_FRAC=8,
                     W_WIDTH=16, W_FRAC=14, OUT_WIDTH=16, OUT_FRAC=10), groups=6, idle=0.0, backpressure=0.0),
]


@pytest.mark.parametrize("cfg", LINEAR, ids=_ids(LINEAR))
def test_linear_matches_golden(cfg, tmp_path):
    spec = catalog.get("mase_fixed_linear")
    params = dict(cfg["params"])
    rom = params.get("WEIGHTS_IN_ROM", 0)
    if rom:
        params.update(WEIGHT_FILE=str(tmp_path / "w.hex"), BIAS_FILE=str(tmp_path / "b.hex"))
    p = spec.resolve(params)
    rng = np.random.default_rng(14)
    g, it, ot = cfg["groups"], p["IN_TILES"], p["OUT_TILES"]
    x = lanes(g * it - 4, p["X_LANES"], p["X_WIDTH"], rng)
    n_w = ot * it if rom else g * ot * it
    w = lanes(n_w, p["W_LANES"], p["W_WIDTH"], rng, edge=not rom)[:n_w]
    n_b = ot if rom else g * ot
    b = lanes(n_b, p["OUT_TILE"], p["B_WIDTH"], rng, edge=not rom)[:n_b]
    inputs = {"x": {"data": x}}
    if rom:
        write_fixed_rom(params["WEIGHT_FILE"], w, p["W_WIDTH"])
        if p["HAS_BIAS"]:
            write_fixed_rom(params["BIAS_FILE"], b, p["B_WIDTH"])
    else:
        inputs["w"] = {"data": w}
        if p["HAS_BIAS"]:
            inputs["b"] = {"data": b}
    lint("mase_fixed_linear", params)
    r = check_against_golden("mase_fixed_linear", params, inputs, idle=cfg["idle"],
                             backpressure=cfg["backpressure"], seed=5)
    assert len(r.outputs["y"]["data"]) == g * ot
    if cfg["idle"] == 0 and cfg["backpressure"] == 0:
        assert r.cycles_per_block == it == p["CYCLES_PER_GROUP"] / ot
        assert r.first_output_latency == p["LATENCY"]


MX_TO_FIXED = [
    dict(params=dict(BLOCK_0=4, BLOCK_1=1, IN_MAN=7, IN_EXP=8, OUT_WIDTH=8, OUT_FRAC=4), exp_range=(-8, 8),
         idle=0.3, backpressure=0.3),
    dict(params=dict(BLOCK_0=3, BLOCK_1=2, IN_MAN=3, IN_EXP=4, OUT_WIDTH=16, OUT_FRAC=-3), exp_range=None,
         idle=0.1, backpressure=0.6),
    dict(params=dict(BLOCK_0=2, BLOCK_1=2, IN_MAN=10, IN_EXP=5, OUT_WIDTH=12, OUT_FRAC=9), exp_range=(-12, 6),
         idle=0.0, backpressure=0.0),
]


def _mx_blocks(cfg, rng):
    from mase_hwlib.testing import mxint_blocks

    p = cfg["params"]
    return mxint_blocks(40, p["BLOCK_0"] * p["BLOCK_1"], p["IN_MAN"], p["IN_EXP"], rng, exp_range=cfg["exp_range"])


@pytest.mark.parametrize("cfg", MX_TO_FIXED, ids=_ids(MX_TO_FIXED))
def test_mxint_block_to_fixed_golden_equals_quantized_mxint_values(cfg):
    p = cfg["params"]
    x = _mx_blocks(cfg, np.random.default_rng(15))
    got = fixed.mxint_to_fixed(p, {"x": x})["y"]["data"]
    values = x["mant"] * 2.0 ** (x["exp"] - p["IN_MAN"] + 1)  # exact in float64
    np.testing.assert_array_equal(got, _oracle(values, p["OUT_WIDTH"], p["OUT_FRAC"]))


@pytest.mark.parametrize("cfg", MX_TO_FIXED, ids=_ids(MX_TO_FIXED))
def test_mxint_block_to_fixed_matches_golden(cfg):
    p = cfg["params"]
    lint("mase_mxint_block_to_fixed", p)
    x = _mx_blocks(cfg, np.random.default_rng(16))
    check_against_golden("mase_mxint_block_to_fixed", p, {"x": x}, idle=cfg["idle"],
                         backpressure=cfg["backpressure"], seed=6)


@pytest.mark.parametrize("module,params", [
    ("mase_fixed_linear", dict(BLOCK_K=3, X_ROWS=2, OUT_TILE=5, X_WIDTH=12, W_WIDTH=4, HAS_BIAS=1, B_WIDTH=16,
                               B_FRAC=12, OUT_WIDTH=5, OUT_FRAC=-2)),
    ("mase_fixed_matmul", dict(BLOCK_K=5, A_ROWS=3, B_COLS=2, K_TILES=1, A_WIDTH=4, B_WIDTH=12, OUT_WIDTH=16)),
    ("mase_fixed_add", dict(BLOCK=7, A_WIDTH=12, A_FRAC=-3, B_WIDTH=4, B_FRAC=9, OUT_WIDTH=6, OUT_FRAC=1)),
    ("mase_fixed_relu", dict(BLOCK=3, IN_WIDTH=16, IN_FRAC=15, OUT_WIDTH=4, OUT_FRAC=0)),
    ("mase_mxint_block_to_fixed", dict(BLOCK_0=3, BLOCK_1=2, IN_MAN=2, IN_EXP=3, OUT_WIDTH=12, OUT_FRAC=-4)),
])
def test_catalog_ports_match_the_rtl_away_from_defaults(module, params):
    from mase_hwlib.testing import rtl_ports

    lint(module, params)
    assert sorted(rtl_ports(module, params)) == sorted(catalog.get(module).ports(params))


# ---- catalog range errors -----------------------------------------------------------------------

@pytest.mark.parametrize("module,params,message", [
    ("mase_fixed_linear", dict(X_WIDTH=1), "X_WIDTH=1 outside its legal range [2, 32]"),
    ("mase_fixed_linear", dict(W_WIDTH=33), "W_WIDTH=33 outside its legal range [2, 32]"),
    ("mase_fixed_linear", dict(OUT_FRAC=65), "OUT_FRAC=65 outside its legal range [-64, 64]"),
    ("mase_fixed_linear", dict(WEIGHTS_IN_ROM=1), "WEIGHTS_IN_ROM=1 needs WEIGHT_FILE"),
    ("mase_fixed_linear", dict(HAS_BIAS=1, B_FRAC=64, X_FRAC=-64, W_FRAC=-64, B_WIDTH=32),
     "accumulator would be"),
    ("mase_fixed_add", dict(A_FRAC=-64, B_FRAC=64, A_WIDTH=32), "the exact sum would be"),
    ("mase_fixed_cast", dict(BLOCK=0), "BLOCK=0 outside its legal range"),
    ("mase_fixed_matmul", dict(K_TILES=0), "K_TILES=0 outside its legal range"),
    ("mase_fixed_relu", dict(IN_FRAC=-64, OUT_FRAC=64, IN_WIDTH=32), "the rounding stage would be"),
])
def test_catalog_refuses_out_of_range_parameters(module, params, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        catalog.get(module).resolve(params)


def test_golden_refuses_lanes_wider_than_the_format():
    p = catalog.get("mase_fixed_cast").resolve(dict(BLOCK=2, IN_WIDTH=4))
    with pytest.raises(ValueError, match=r"x_data holds \[-9, 3\]: Fixed lanes of 4 bits"):
        fixed.cast(p, {"x": {"data": np.array([[-9, 3]])}})
