"""MXInt silu and rms_norm (the decoder operators): the integer golden models against float
references within their documented error, and the RTL against the golden models bit for bit
(several parameter sets, idle cycles and back-pressure, and the unstalled schedule)."""

import math
import os
import shutil
import sys
import zlib

import numpy as np
import pytest
from mase_hwlib import catalog
from mase_hwlib.golden import decoder as dec
from mase_hwlib.testing import check_against_golden, lint

sys.path.insert(0, os.path.dirname(__file__))  # --import-mode=importlib: siblings are not importable otherwise
# seeded rows plus zero / saturating / mixed-exponent rows: the encoder benches' input generator
from test_nonlinear import _mxint_beats


def _silu(x):
    return x / (1.0 + np.exp(-x))


@pytest.mark.parametrize("x_frac,bound", [(8, 0.0045), (10, 0.0016), (12, 0.00085)])
def test_silu_golden_is_within_its_documented_error_of_float_silu(x_frac, bound):
    """Every point of the grid on [-16, 16): the bound is the measured maximum, rounded up."""
    x = np.arange(-16 << x_frac, 16 << x_frac)
    err = np.abs(dec.silu_fixed(x, x_frac=x_frac) / 2.0**x_frac - _silu(x / 2.0**x_frac))
    assert err.max() < bound


def test_silu_golden_limits_and_symmetry():
    f = 10
    big = 16 << f
    # far out: the identity above 0, zero below (e^-16 * 2^16 shifts out entirely)
    assert dec.silu_fixed(np.array([0, big, -big]), x_frac=f).tolist() == [0, big, 0]
    # silu(x) - silu(-x) = x (sigmoid(x) + sigmoid(-x) = 1): the two quotients share one
    # denominator and their numerators add up to x * den, so only the two truncations differ
    x = np.arange(1, 8 << f, 13)
    diff = dec.silu_fixed(x, x_frac=f) - dec.silu_fixed(-x, x_frac=f)
    assert set(np.unique(x - diff).tolist()) <= {0, 1}


def test_rms_norm_golden_is_close_to_float_rms_norm():
    rng = np.random.default_rng(2)
    f, out = 8, 12
    x = np.round((rng.standard_normal((20, 64)) * 2 + 0.5) * 2**f).astype(np.int64)
    y = dec.rms_norm_fixed(x, out_width=16, out_frac=out, eps_fx=0) / 2.0**out
    xf = x / 2.0**f
    ref = xf / np.sqrt((xf * xf).mean(-1, keepdims=True))
    assert np.abs(y - ref).max() <= 2.0**-out  # truncation only: under one output LSB
    # eps: the root of N S2 + eps N^2 (eps = EPS_FX 2^-2F), checked on one row in exact integers
    eps_fx = 3 << (2 * f - 4)
    row = x[0]
    n, s2 = len(row), int((row * row).sum())
    root = math.isqrt(n * s2 + eps_fx * n * n)
    want = [(abs(n * int(v)) << out) // root * (1 if v >= 0 else -1) for v in row]
    got = dec.rms_norm_fixed(row[None], out_width=32, out_frac=out, eps_fx=eps_fx)[0]
    assert got.tolist() == want
    # an all-zero row has no energy: zero output instead of a division by zero
    assert (dec.rms_norm_fixed(np.zeros((1, 16), np.int64), out_width=16, out_frac=out, eps_fx=0) == 0).all()


def test_rms_norm_saturates_to_the_output_width():
    """One large element among zeros: N x / sqrt(N x^2) = sqrt(N) = 8 does not fit 4 integer bits."""
    row = np.zeros((1, 64), np.int64)
    row[0, 5] = 1000
    y = dec.rms_norm_fixed(row, out_width=16, out_frac=12, eps_fx=0)
    assert y[0, 5] == (1 << 15) - 1 and (np.delete(y[0], 5) == 0).all()
    y = dec.rms_norm_fixed(-row, out_width=16, out_frac=12, eps_fx=0)
    assert y[0, 5] == -(1 << 15)


def test_bad_row_length_and_grid_are_refused_by_name():
    spec = catalog.get("mase_mxint_rms_norm")
    full = spec.resolve({"ROW_BLOCKS": 2})
    with pytest.raises(ValueError, match="mase_mxint_rms_norm: 3 beats is not a whole number of ROW_BLOCKS=2"):
        spec.golden(full, {"x": {"mant": np.zeros((3, 16), np.int64), "exp": np.zeros((3, 1), np.int64)}})
    with pytest.raises(ValueError, match="X_WIDTH=8 must be at least X_FRAC\\+3=9"):
        catalog.get("mase_mxint_silu").resolve({"X_WIDTH": 8, "X_FRAC": 6})
    with pytest.raises(ValueError, match="EPS_FX=256 must be below 2\\^\\(2\\*X_WIDTH\\)"):
        catalog.get("mase_mxint_rms_norm").resolve({"X_WIDTH": 4, "X_FRAC": 1, "EPS_FX": 256})


# ---------------------------------------------------------------------------
# RTL benches

DECODER_CASES = {
    "mase_mxint_silu": [
        {"params": {}, "scale": 3.0},
        {"params": {"BLOCK": 4, "EXP_BITS": 4, "MAN_BITS": 3, "X_WIDTH": 12, "X_FRAC": 6}, "scale": 1.5},
        {"params": {"BLOCK": 8, "MAN_BITS": 15, "X_WIDTH": 24, "X_FRAC": 16}, "scale": 6.0},
    ],
    "mase_mxint_rms_norm": [
        {"params": {}, "scale": 2.0},
        {"params": {"BLOCK": 4, "ROW_BLOCKS": 1, "EXP_BITS": 5, "MAN_BITS": 4, "X_WIDTH": 12, "X_FRAC": 6,
                    "OUT_WIDTH": 10, "OUT_FRAC": 6, "EPS_FX": 1}, "scale": 1.0},
        {"params": {"BLOCK": 8, "ROW_BLOCKS": 3, "X_WIDTH": 18, "X_FRAC": 10, "OUT_WIDTH": 20, "OUT_FRAC": 14,
                    "EPS_FX": 10}, "scale": 5.0},
    ],
}
_IDS = [f"{m}-{i}" for m, cs in DECODER_CASES.items() for i in range(len(cs))]
_CASES = [(m, c) for m, cs in DECODER_CASES.items() for c in cs]


@pytest.mark.parametrize("module,cfg", _CASES, ids=_IDS)
@pytest.mark.parametrize("idle,bp", [(0.0, 0.0), (0.3, 0.3)], ids=["steady", "stalls"])
def test_decoder_rtl_matches_golden(module, cfg, idle, bp):
    full = catalog.get(module).resolve(cfg["params"])
    rng = np.random.default_rng(zlib.crc32(f"{module}{sorted(cfg['params'].items())}".encode()))
    rows = max(2, 6 // full.get("ROW_BLOCKS", 1))
    inputs = _mxint_beats(full, rows, rng, cfg["scale"])
    result = check_against_golden(module, cfg["params"], inputs, idle=idle, backpressure=bp, seed=13)
    assert len(result.outputs["y"]["data"]) == len(inputs["x"]["mant"])


@pytest.mark.parametrize(
    "module,latency,cycles_per_row",
    [
        ("mase_mxint_silu", lambda rb: 1, lambda rb: rb),  # one block per cycle, one register
        ("mase_mxint_rms_norm", lambda rb: rb + 1, lambda rb: 2 * rb + 1),  # in, square root, out
    ],
    ids=["silu", "rms_norm"],
)
def test_unstalled_schedule_matches_the_documented_cycle_counts(module, latency, cycles_per_row):
    """Default parameters (ROW_BLOCKS = 4; silu rows are counted in the same 4 beats)."""
    import mase_hwlib

    rb, rows = 4, 2
    full = catalog.get(module).resolve({})
    rng = np.random.default_rng(3)
    inputs = {"x": {"mant": rng.integers(-127, 128, (rb * rows, full["BLOCK"])),
                    "exp": rng.integers(-4, 4, (rb * rows, 1))}}
    r = mase_hwlib.simulate(module, {}, inputs)
    assert r.first_output_latency == latency(rb)
    assert r.total_cycles == rows * cycles_per_row(rb) + (1 if module == "mase_mxint_silu" else 0)


DECODER_CORNERS = [
    ("mase_mxint_silu", {"BLOCK": 1, "EXP_BITS": 2, "MAN_BITS": 1, "X_WIDTH": 4, "X_FRAC": 1}),
    ("mase_mxint_silu", {"BLOCK": 64, "MAN_BITS": 15, "X_WIDTH": 24, "X_FRAC": 16}),
    ("mase_mxint_rms_norm", {"BLOCK": 1, "ROW_BLOCKS": 1, "EXP_BITS": 2, "MAN_BITS": 1, "X_WIDTH": 4, "X_FRAC": 1,
                             "OUT_WIDTH": 32, "OUT_FRAC": 0}),
    ("mase_mxint_rms_norm", {"BLOCK": 64, "ROW_BLOCKS": 64, "MAN_BITS": 15, "X_WIDTH": 24, "X_FRAC": 16,
                             "OUT_WIDTH": 32, "OUT_FRAC": 24, "EPS_FX": (1 << 31) - 1}),
]


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")
@pytest.mark.parametrize("module,params", DECODER_CORNERS,
                         ids=[f"{m}-{i % 2}" for i, (m, _) in enumerate(DECODER_CORNERS)])
def test_decoder_lint_clean_at_parameter_range_corners(module, params):
    lint(module, params)


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")
@pytest.mark.parametrize("module,cfg", _CASES, ids=_IDS)
def test_decoder_lint_clean_at_bench_parameters(module, cfg):
    lint(module, cfg["params"])
