"""MXInt gelu, softmax and layer_norm: the integer golden models against exact
and float references, and the RTL against the golden models bit for bit."""

import math
import shutil
import zlib
from fractions import Fraction

import numpy as np
import pytest

import mx_formats as mxf
from mase_hwlib import catalog, streams
from mase_hwlib.golden import nonlinear as nl
from mase_hwlib.testing import check_against_golden, lint


def _erf_gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def test_mxint_to_fixed_is_the_floor_of_the_dequantized_value_saturated():
    rng = np.random.default_rng(0)
    fmt = mxf.MXInt((8,), 5, 6)
    x = (rng.standard_normal((40, 8)) * np.exp2(rng.integers(-12, 12, (40, 1)))).astype(np.float32)
    q = mxf.quantize(x, fmt)
    beats = streams.mx_to_beats(q)
    got = nl.mxint_to_fixed(beats["mant"], beats["exp"], man_bits=6, x_width=12, x_frac=5)
    v = mxf.dequantize(q).reshape(-1, 8)
    for g, value in zip(got.ravel(), v.ravel()):
        want = math.floor(Fraction(float(value)) * 32)
        assert g == min(max(want, -2048), 2047)


def test_gelu_golden_is_within_its_documented_error_of_erf_gelu():
    f = 10
    x = np.arange(-8 << f, 8 << f, 7)  # every 7th point of the grid on [-8, 8)
    y = nl.gelu_fixed(x, x_frac=f) / 2.0**f
    err = np.abs(y - _erf_gelu(x / 2.0**f))
    assert err.max() < 0.020  # 0.0188 at X_FRAC=10 (0.0228 at 8, 0.0184 at 12; docs/nonlinear.md)
    assert nl.gelu_fixed(np.array([0, 5 << f, -(5 << f)]), x_frac=f).tolist() == [0, 5 << f, 0]


def test_softmax_golden_is_close_to_float_softmax_and_sums_to_about_one():
    rng = np.random.default_rng(1)
    f, out = 8, 14
    x = np.round(rng.standard_normal((50, 64)) * 3 * 2**f).astype(np.int64)
    y = nl.softmax_fixed(x, x_frac=f, out_frac=out) / 2.0**out
    xf = x / 2.0**f
    ref = np.exp(xf - xf.max(-1, keepdims=True))
    ref /= ref.sum(-1, keepdims=True)
    assert np.abs(y - ref).max() < 0.003
    assert np.all(np.abs(y.sum(-1) - 1) <= 64 / 2.0**out)  # floor loses < 1 LSB per element
    # an all-equal row gives floor(2^out / N) everywhere
    assert (nl.softmax_fixed(np.zeros((1, 64), np.int64), x_frac=f, out_frac=out) == (1 << out) // 64).all()


def test_layer_norm_golden_is_close_to_float_layer_norm():
    rng = np.random.default_rng(2)
    f, out = 8, 12
    x = np.round((rng.standard_normal((20, 64)) * 2 + 0.5) * 2**f).astype(np.int64)
    y = nl.layer_norm_fixed(x, out_width=16, out_frac=out, eps_fx=0) / 2.0**out
    xf = x / 2.0**f
    ref = (xf - xf.mean(-1, keepdims=True)) / xf.std(-1, keepdims=True)
    assert np.abs(y - ref).max() < 2e-3
    # a constant row has no variance: zero output instead of a division by zero
    assert (nl.layer_norm_fixed(np.full((1, 16), 77), out_width=16, out_frac=out, eps_fx=0) == 0).all()


def test_bad_row_length_and_grid_are_refused_by_name():
    spec = catalog.get("mase_mxint_softmax")
    full = spec.resolve({"ROW_BLOCKS": 2})
    with pytest.raises(ValueError, match="3 beats is not a whole number of ROW_BLOCKS=2"):
        spec.golden(full, {"x": {"mant": np.zeros((3, 16), np.int64), "exp": np.zeros((3, 1), np.int64)}})
    with pytest.raises(ValueError, match="X_WIDTH=8 must be at least X_FRAC\\+3=9"):
        catalog.get("mase_mxint_gelu").resolve({"X_WIDTH": 8, "X_FRAC": 6})


# ---------------------------------------------------------------------------
# RTL benches


def _mxint_beats(params, rows, rng, scale):
    """Seeded random rows quantized with mx_formats, then edge blocks: zeros,
    saturation (largest mantissas at the largest exponent), smallest exponent,
    and a row mixing very different exponents."""
    full = params
    block, man, e = full["BLOCK"], full["MAN_BITS"], full["EXP_BITS"]
    rb = full.get("ROW_BLOCKS", 1)
    fmt = mxf.MXInt((block,), e, man)
    x = (rng.standard_normal((rows, rb * block)) * scale).astype(np.float32)
    beats = streams.mx_to_beats(mxf.quantize(x, fmt))
    mant, exp = beats["mant"], beats["exp"]
    top = (1 << man) - 1
    s_max = (1 << (e - 1)) - 1
    edge_mant = np.concatenate(
        [
            np.zeros((rb, block), np.int64),  # a zero row
            np.tile(np.where(np.arange(block) % 2, top, -top), (rb, 1)),  # saturating row
            rng.integers(-top, top + 1, (rb, block)),  # mixed-exponent row
        ]
    )
    edge_exp = np.concatenate(
        [
            np.full((rb, 1), -s_max),
            np.full((rb, 1), s_max),
            rng.choice([-s_max, -2, 0, 1, 3, s_max], (rb, 1)),
        ]
    )
    return {"x": {"mant": np.concatenate([mant, edge_mant]), "exp": np.concatenate([exp, edge_exp])}}


NONLINEAR_CASES = {
    "mase_mxint_gelu": [
        dict(params={}, scale=2.0),
        dict(params={"BLOCK": 4, "EXP_BITS": 4, "MAN_BITS": 3, "X_WIDTH": 12, "X_FRAC": 6}, scale=1.5),
        dict(params={"BLOCK": 8, "MAN_BITS": 15, "X_WIDTH": 20, "X_FRAC": 12}, scale=3.0),
    ],
    "mase_mxint_softmax": [
        dict(params={}, scale=3.0),
        dict(params={"BLOCK": 4, "ROW_BLOCKS": 1, "EXP_BITS": 5, "MAN_BITS": 4, "X_WIDTH": 12, "X_FRAC": 6,
                     "OUT_FRAC": 8}, scale=2.0),
        dict(params={"BLOCK": 8, "ROW_BLOCKS": 3, "X_WIDTH": 18, "X_FRAC": 10, "OUT_FRAC": 16}, scale=4.0),
    ],
    "mase_mxint_layer_norm": [
        dict(params={}, scale=2.0),
        dict(params={"BLOCK": 4, "ROW_BLOCKS": 1, "EXP_BITS": 5, "MAN_BITS": 4, "X_WIDTH": 12, "X_FRAC": 6,
                     "OUT_WIDTH": 10, "OUT_FRAC": 6, "EPS_FX": 1}, scale=1.0),
        dict(params={"BLOCK": 8, "ROW_BLOCKS": 3, "X_WIDTH": 18, "X_FRAC": 10, "OUT_WIDTH": 20, "OUT_FRAC": 14,
                     "EPS_FX": 10}, scale=5.0),
    ],
}


@pytest.mark.parametrize(
    "module,cfg",
    [(m, c) for m, cs in NONLINEAR_CASES.items() for c in cs],
    ids=[f"{m}-{i}" for m, cs in NONLINEAR_CASES.items() for i in range(len(cs))],
)
def test_nonlinear_rtl_matches_golden(module, cfg):
    spec = catalog.get(module)
    full = spec.resolve(cfg["params"])
    rng = np.random.default_rng(zlib.crc32(f"{module}{sorted(cfg['params'].items())}".encode()))
    rows = max(2, 6 // full.get("ROW_BLOCKS", 1))
    inputs = _mxint_beats(full, rows, rng, cfg["scale"])
    result = check_against_golden(module, cfg["params"], inputs, idle=0.3, backpressure=0.3, seed=11)
    assert len(result.outputs["y"]["data"]) == len(inputs["x"]["mant"])


@pytest.mark.parametrize(
    "module,latency,cycles_per_row",
    [
        ("mase_mxint_gelu", lambda rb: 1, lambda rb: rb),  # one block per cycle, one register
        ("mase_mxint_softmax", lambda rb: 2 * rb, lambda rb: 3 * rb),  # in, exponentials, out
        ("mase_mxint_layer_norm", lambda rb: rb + 1, lambda rb: 2 * rb + 1),  # in, square root, out
    ],
    ids=["gelu", "softmax", "layer_norm"],
)
def test_unstalled_schedule_matches_the_documented_cycle_counts(module, latency, cycles_per_row):
    """Default parameters (ROW_BLOCKS = 4; gelu rows are counted in the same 4 beats)."""
    import mase_hwlib

    rb, rows = 4, 2
    full = catalog.get(module).resolve({})
    rng = np.random.default_rng(3)
    inputs = {"x": {"mant": rng.integers(-127, 128, (rb * rows, full["BLOCK"])), "exp": rng.integers(-4, 4, (rb * rows, 1))}}
    r = mase_hwlib.simulate(module, {}, inputs)
    assert r.first_output_latency == latency(rb)
    assert r.total_cycles == rows * cycles_per_row(rb) + (1 if module == "mase_mxint_gelu" else 0)


@pytest.mark.parametrize(
    "module,cfg",
    [(m, c) for m, cs in NONLINEAR_CASES.items() for c in cs],
    ids=[f"{m}-{i}" for m, cs in NONLINEAR_CASES.items() for i in range(len(cs))],
)
def test_nonlinear_lint_clean_at_bench_parameters(module, cfg):
    """Verilator 5.006 -Wall at every bench parameter set (widths change with them)."""
    if shutil.which("verilator") is None:
        pytest.skip("verilator not installed")
    lint(module, cfg["params"])


def test_softmax_rtl_from_an_mxarray_is_close_to_float_softmax():
    """simulate() straight from mx_formats: quantize float rows to MXInt((16,),8,7), run the
    RTL, and land within the documented end-to-end error of float softmax."""
    import mase_hwlib

    rng = np.random.default_rng(9)
    x = (rng.standard_normal((2, 64)) * 2).astype(np.float32)
    q = mxf.quantize(x, mxf.MXInt((16,), 8, 7))
    r = mase_hwlib.simulate("mase_mxint_softmax", {}, {"x": q})
    y = r.outputs["y"]["data"].reshape(2, 64) / 2.0**12
    ref = np.exp(x - x.max(-1, keepdims=True))
    ref /= ref.sum(-1, keepdims=True)
    assert np.abs(y - ref).max() < 0.02


NONLINEAR_CORNERS = [
    ("mase_mxint_gelu", {"BLOCK": 1, "EXP_BITS": 2, "MAN_BITS": 1, "X_WIDTH": 4, "X_FRAC": 1}),
    ("mase_mxint_gelu", {"BLOCK": 64, "MAN_BITS": 15, "X_WIDTH": 24, "X_FRAC": 16}),
    ("mase_mxint_softmax", {"BLOCK": 1, "ROW_BLOCKS": 1, "EXP_BITS": 2, "MAN_BITS": 1, "X_WIDTH": 4, "X_FRAC": 1,
                            "OUT_FRAC": 1}),
    ("mase_mxint_softmax", {"BLOCK": 64, "ROW_BLOCKS": 64, "MAN_BITS": 15, "X_WIDTH": 24, "X_FRAC": 16, "OUT_FRAC": 24}),
    ("mase_mxint_layer_norm", {"BLOCK": 1, "ROW_BLOCKS": 1, "EXP_BITS": 2, "MAN_BITS": 1, "X_WIDTH": 4, "X_FRAC": 1,
                               "OUT_WIDTH": 32, "OUT_FRAC": 0}),
    ("mase_mxint_layer_norm", {"BLOCK": 64, "ROW_BLOCKS": 64, "MAN_BITS": 15, "X_WIDTH": 24, "X_FRAC": 16,
                               "OUT_WIDTH": 32, "OUT_FRAC": 24, "EPS_FX": (1 << 31) - 1}),
]


@pytest.mark.parametrize(
    "module,params", NONLINEAR_CORNERS, ids=[f"{m}-{i % 2}" for i, (m, _) in enumerate(NONLINEAR_CORNERS)]
)
def test_nonlinear_lint_clean_at_parameter_range_corners(module, params):
    if shutil.which("verilator") is None:
        pytest.skip("verilator not installed")
    lint(module, params)
