"""mase_bmf_linear / mase_bl_linear: RTL against the golden model bit for bit, the golden model
against mx_formats (exact rational sums re-quantized by mx_formats.quantize), and the bounded
accumulator's gap to the exact one, pinned (docs/block-formats.md)."""

import shutil
from fractions import Fraction

import mx_formats as mxf
import numpy as np
import pytest

from mase_hwlib import catalog
from mase_hwlib.golden import bmf
from mase_hwlib.rom_bmf import read_bmf_rom, write_bmf_rom
from mase_hwlib.testing import check_against_golden, rtl_ports

# one dict per configuration: the module, its parameters (the build and the golden model), the RTL
# options; small tiles so that each costs one build and one simulation of a few seconds
CONFIGS = [
    dict(module="mase_bmf_linear", id="bmf8-default",
         params=dict(BLOCK_K=4, X_ROWS=1, OUT_TILE=2, IN_TILES=3, OUT_TILES=2)),
    dict(module="mase_bmf_linear", id="bmf-bias-group2-min-truncate",
         params=dict(BLOCK_K=2, X_ROWS=2, OUT_TILE=2, IN_TILES=3, OUT_TILES=4, EXP_BITS=3, MAN_BITS=2, BIAS_BITS=5,
                     HAS_BIAS=1, OUT_EXP_BITS=4, OUT_MAN_BITS=10, OUT_BIAS_BITS=6, OUT_GROUP=2, ACC_ROUND=0),
         acc="min", distinguish=True),
    dict(module="mase_bmf_linear", id="bmf-exact-rom-group4",
         params=dict(BLOCK_K=3, X_ROWS=1, OUT_TILE=1, IN_TILES=2, OUT_TILES=4, EXP_BITS=3, MAN_BITS=1, BIAS_BITS=4,
                     HAS_BIAS=1, OUT_EXP_BITS=2, OUT_MAN_BITS=2, OUT_BIAS_BITS=4, OUT_GROUP=4, ACC_WIDTH=0),
         rom=True),
    dict(module="mase_bmf_linear", id="bmf-3x3-group3-truncate",
         params=dict(BLOCK_K=3, X_ROWS=3, OUT_TILE=3, IN_TILES=3, OUT_TILES=6, EXP_BITS=2, MAN_BITS=3, BIAS_BITS=3,
                     OUT_EXP_BITS=3, OUT_MAN_BITS=2, OUT_BIAS_BITS=5, OUT_GROUP=3, ACC_ROUND=0)),
    dict(module="mase_bl_linear", id="bl3-default",
         params=dict(BLOCK_K=4, X_ROWS=1, OUT_TILE=2, IN_TILES=3, OUT_TILES=2, EXP_BITS=3, OUT_EXP_BITS=3),
         distinguish=True),
    dict(module="mase_bl_linear", id="bl8-bias-group2-min",
         params=dict(BLOCK_K=4, X_ROWS=2, OUT_TILE=2, IN_TILES=3, OUT_TILES=2, HAS_BIAS=1, OUT_GROUP=2),
         acc="min"),
    dict(module="mase_bl_linear", id="bl-exact-rom-min-out",
         params=dict(BLOCK_K=2, X_ROWS=2, OUT_TILE=1, IN_TILES=3, OUT_TILES=2, EXP_BITS=3, BIAS_BITS=4, HAS_BIAS=1,
                     OUT_EXP_BITS=2, OUT_BIAS_BITS=3, OUT_GROUP=2, ACC_WIDTH=0),
         rom=True),
]


def _ids(cfgs):
    return [c["id"] for c in cfgs]


def _log(module: str) -> bool:
    return module == "mase_bl_linear"


def fmt(module: str, p, role: str):
    """The mx_formats format of x / weight / bias / output of a configuration."""
    bk, xr, ot = p["BLOCK_K"], p["X_ROWS"], p["OUT_TILE"]
    block = {"x": (bk, xr) if xr > 1 else (bk,), "w": (bk, ot) if ot > 1 else (bk,), "b": (ot,),
             "y": (ot * p["OUT_GROUP"], xr) if xr > 1 else (ot * p["OUT_GROUP"],)}[role]
    pre = "OUT_" if role == "y" else ""
    if _log(module):
        return mxf.BL(block, p[pre + "EXP_BITS"], p[pre + "BIAS_BITS"])
    return mxf.BMF(block, p[pre + "EXP_BITS"], p[pre + "MAN_BITS"], p[pre + "BIAS_BITS"])


def _axes(f):
    return (-1, -2) if len(f.block) == 2 else (-1,)


def operands(p, rng, groups: int, kind: str = "random"):
    """Real x (groups*X_ROWS, IN), w (OUT, IN), b (OUT). ``random``: Gaussian, x rows scaled by
    2^[-6, 6]; ``cancel``: tiles of each dot product cancel in pairs exactly and the remaining
    tiles are 2^-12 smaller (the bounded accumulator's worst case)."""
    rows, fin, fout = groups * p["X_ROWS"], p["IN_TILES"] * p["BLOCK_K"], p["OUT_TILES"] * p["OUT_TILE"]
    x = rng.standard_normal((rows, fin)) * 2.0 ** rng.integers(-6, 7, (rows, 1))
    w = rng.standard_normal((fout, fin)) / np.sqrt(fin)
    if kind == "cancel":
        half = ((p["IN_TILES"] - 1) // 2) * p["BLOCK_K"]  # at least one tile of rest
        x[:, half:2 * half] = x[:, :half]
        w[:, half:2 * half] = -w[:, :half]
        x[:, 2 * half:] *= 2.0 ** -12
        w[:, 2 * half:] += rng.standard_normal((fout, fin - 2 * half)) * 2.0 ** -12
    b = rng.standard_normal(fout)
    return x, w, b


def quantized(module, p, x, w, b):
    qx = mxf.quantize(x, fmt(module, p, "x"), axes=_axes(fmt(module, p, "x")))
    qw = mxf.quantize(w, fmt(module, p, "w"), axes=_axes(fmt(module, p, "w")))
    qb = mxf.quantize(b, fmt(module, p, "b"))
    return qx, qw, qb


def _raw_beats(rng, n, lanes, p):
    """Arbitrary element codes and every two's-complement bias code (also the NaN marker)."""
    return {"data": rng.integers(0, 1 << p["EL_WIDTH"], (n, lanes)),
            "bias": rng.integers(-(1 << (p["BIAS_BITS"] - 1)), 1 << (p["BIAS_BITS"] - 1), (n, 1))}


def make_inputs(cfg, tmp_path, seed: int):
    """Four x groups in one stream: mx_formats-quantized Gaussian data, quantized cancelling data
    (tiles cancel in pairs, the rest 2^-12 smaller: where the bounded accumulator shows), an
    all-zero group, and raw random codes with every bias code. Streamed weights change with the
    group (Gaussian, cancelling, cancelling, raw); ROM weights are the cancelling ones. Returns
    (params for the build, inputs)."""
    module, p = cfg["module"], catalog.get(cfg["module"]).resolve(cfg["params"])
    rng = np.random.default_rng(seed)
    it, ot = p["IN_TILES"], p["OUT_TILES"]
    xr, wr, br = (bmf.block_beats(q) for q in quantized(module, p, *operands(p, rng, 1, "random")))
    xc, wc, bc = (bmf.block_beats(q) for q in quantized(module, p, *operands(p, rng, 1, "cancel")))
    zero = {"data": np.zeros_like(xr["data"]), "bias": rng.integers(-3, 4, xr["bias"].shape)}
    raw = _raw_beats(rng, it, p["X_LANES"], p)

    def cat(*beats):
        return {k: np.concatenate([b[k] for b in beats]) for k in ("data", "bias")}

    inputs = {"x": cat(xr, xc, zero, raw)}
    params = dict(cfg["params"])
    if cfg.get("acc") == "min":
        params["ACC_WIDTH"] = p["ACC_TERM_WIDTH"] + p["ACC_TERMS"].bit_length()  # TW + clog2(N+1)
    if cfg.get("rom"):
        params.update(WEIGHTS_IN_ROM=1, WEIGHT_FILE=str(write_bmf_rom(tmp_path / "w.hex", wc, p["EL_WIDTH"],
                                                                      p["BIAS_BITS"])))
        if p["HAS_BIAS"]:
            params["BIAS_FILE"] = str(write_bmf_rom(tmp_path / "b.hex", bc, p["EL_WIDTH"], p["BIAS_BITS"]))
        return params, inputs
    inputs["w"] = cat(wr, wc, wc, _raw_beats(rng, ot * it, p["W_LANES"], p))
    if p["HAS_BIAS"]:
        inputs["b"] = cat(br, bc, bc, _raw_beats(rng, ot, p["OUT_TILE"], p))
    return params, inputs


@pytest.mark.parametrize("cfg", CONFIGS, ids=_ids(CONFIGS))
def test_rtl_matches_golden_with_idle_cycles_and_backpressure(cfg, tmp_path):
    params, inputs = make_inputs(cfg, tmp_path, seed=11)
    check_against_golden(cfg["module"], params, inputs, idle=0.3, backpressure=0.4, seed=3)
    if cfg.get("distinguish"):  # these inputs tell the built accumulator from the exact one
        spec = catalog.get(cfg["module"])
        built = spec.golden(spec.resolve(params), inputs)["y"]
        exact = spec.golden(spec.resolve({**params, "ACC_WIDTH": 0}), inputs)["y"]
        assert not np.array_equal(built["data"], exact["data"])


@pytest.mark.parametrize("cfg", [CONFIGS[1], CONFIGS[5]], ids=_ids([CONFIGS[1], CONFIGS[5]]))
def test_unstalled_rate_and_latency_are_the_catalogs(cfg, tmp_path):
    """No idle cycles, no back-pressure: RTL == golden, one output block every CYCLES_PER_BLOCK
    cycles and the first LATENCY cycles after the first x tile."""
    params, inputs = make_inputs(cfg, tmp_path, seed=5)
    r = check_against_golden(cfg["module"], params, inputs, idle=0, backpressure=0, seed=0)
    p = catalog.get(cfg["module"]).resolve(params)
    assert r.cycles_per_block == p["CYCLES_PER_BLOCK"] == p["OUT_GROUP"] * p["IN_TILES"]
    assert r.first_output_latency == p["LATENCY"]


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")
@pytest.mark.parametrize("cfg", [CONFIGS[3], CONFIGS[6]], ids=_ids([CONFIGS[3], CONFIGS[6]]))
def test_catalog_ports_match_the_rtl_away_from_defaults(cfg):
    params = {**cfg["params"], "ACC_WIDTH": -1}
    assert sorted(rtl_ports(cfg["module"], params)) == sorted(catalog.get(cfg["module"]).ports(params))


def test_rom_image_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    beats = {"data": rng.integers(0, 256, (5, 6)), "bias": rng.integers(-128, 128, (5, 1))}
    back = read_bmf_rom(write_bmf_rom(tmp_path / "r.hex", beats, 8, 8), 6, 8, 8)
    assert np.array_equal(back["data"], beats["data"]) and np.array_equal(back["bias"], beats["bias"])


# ---- the golden model against mx_formats ------------------------------------------------------

ORACLE = [
    ("mase_bmf_linear", dict(BLOCK_K=16, X_ROWS=2, OUT_TILE=2, IN_TILES=4, OUT_TILES=8, HAS_BIAS=1, OUT_GROUP=8)),
    ("mase_bmf_linear", dict(BLOCK_K=4, X_ROWS=1, OUT_TILE=2, IN_TILES=3, OUT_TILES=4, EXP_BITS=3, MAN_BITS=2,
                             BIAS_BITS=6, OUT_EXP_BITS=2, OUT_MAN_BITS=1, OUT_BIAS_BITS=4, OUT_GROUP=2)),
    ("mase_bl_linear", dict(BLOCK_K=16, X_ROWS=2, OUT_TILE=2, IN_TILES=4, OUT_TILES=8, HAS_BIAS=1, OUT_GROUP=8)),
    ("mase_bl_linear", dict(BLOCK_K=4, X_ROWS=1, OUT_TILE=2, IN_TILES=3, OUT_TILES=4, EXP_BITS=3, BIAS_BITS=5,
                            OUT_EXP_BITS=2, OUT_BIAS_BITS=3, OUT_GROUP=2)),
]


def _exact_rows(qx, qw, qb):
    """x_deq @ w_deq.T + b_deq in rationals (mx_formats' dequantized values, float32-exact)."""
    xd = [[Fraction(float(v)) for v in row] for row in mxf.dequantize(qx).astype(np.float64)]
    wd = [[Fraction(float(v)) for v in row] for row in mxf.dequantize(qw).astype(np.float64)]
    bd = [Fraction(float(v)) for v in mxf.dequantize(qb).astype(np.float64)] if qb is not None else None
    return [[sum((a * c for a, c in zip(xr, wr)), Fraction(0)) + (bd[j] if bd else 0) for j, wr in enumerate(wd)]
            for xr in xd]


def _golden(module, p, qx, qw, qb):
    inputs = {"x": bmf.block_beats(qx), "w": bmf.block_beats(qw)}
    groups = len(inputs["x"]["data"]) // p["IN_TILES"]
    inputs["w"] = {k: np.tile(v, (groups, 1)) for k, v in inputs["w"].items()}
    if p["HAS_BIAS"]:
        inputs["b"] = {k: np.tile(v, (groups, 1)) for k, v in bmf.block_beats(qb).items()}
    return catalog.get(module).golden(p, inputs)["y"]


@pytest.mark.parametrize("module,params", ORACLE, ids=[f"{m}-{i}" for i, (m, _) in enumerate(ORACLE)])
def test_exact_golden_is_mx_formats_quantize_of_the_exact_sum(module, params):
    """ACC_WIDTH = 0: the output blocks are mx_formats.quantize of the exact rational result
    (every exact sum here is a float64, checked), codes and biases; random and cancelling data."""
    p = catalog.get(module).resolve({**params, "ACC_WIDTH": 0})
    rng = np.random.default_rng(7)
    for kind in ("random", "cancel"):
        x, w, b = operands(p, rng, 4, kind)
        qx, qw, qb = quantized(module, p, x, w, b)
        exact = _exact_rows(qx, qw, qb if p["HAS_BIAS"] else None)
        as_float = np.array([[float(v) for v in row] for row in exact], dtype=np.float64)
        assert all(Fraction(float(v)) == v for row in exact for v in row), "an exact sum is not a float64"
        fo = fmt(module, p, "y")
        want = bmf.block_beats(mxf.quantize(as_float, fo, axes=_axes(fo), rounding="nearest_even"))
        got = _golden(module, p, qx, qw, qb)
        assert np.array_equal(got["bias"], want["bias"]), kind
        assert np.array_equal(got["data"], want["data"]), kind


def test_quantizers_are_mx_formats_on_ties_saturation_and_tiny_blocks():
    """quantize_bmf / quantize_bl against mx_formats.quantize on dyadic blocks built to hit ties
    (half-way codes), saturation, subnormals, the all-zero block and clamped biases."""
    rng = np.random.default_rng(3)
    formats = [(mxf.BMF((8,), 4, 3, 8), lambda v: bmf.quantize_bmf(v, 4, 3, 8)),
               (mxf.BMF((8,), 2, 1, 3), lambda v: bmf.quantize_bmf(v, 2, 1, 3)),
               (mxf.BL((8,), 7, 8), lambda v: bmf.quantize_bl(v, 7, 8)),
               (mxf.BL((8,), 2, 3), lambda v: bmf.quantize_bl(v, 2, 3))]
    for trial in range(600):
        a = [int(v) for v in rng.integers(-40, 41, 8)]  # few bits: many exact ties
        if trial % 9 == 0:
            a = [0] * 8
        lsbs = [int(v) for v in rng.integers(-30, 30, 8)] if trial % 3 else [int(rng.integers(-140, 120))] * 8
        vals = list(zip(a, lsbs))
        x = np.array([v * 2.0 ** l for v, l in vals], dtype=np.float64)
        for f, fn in formats:
            q = mxf.quantize(x, f, rounding="nearest_even")
            beta, codes = fn(vals)
            assert beta == int(np.asarray(q.scales).reshape(-1)[0]), (f, vals)
            assert codes == np.asarray(q.elements).reshape(-1).astype(np.int64).tolist(), (f, vals)


# ---- bounded vs exact accumulation ----------------------------------------------------------------

# measured with the golden models (bit-exact with the RTL), seeds as in the test; see
# docs/block-formats.md. (module, params, kind) -> (differing output codes, of how many)
GAP = {
    ("mase_bmf_linear", "default", "random"): (0, 512),
    ("mase_bmf_linear", "default", "cancel"): (0, 512),
    ("mase_bmf_linear", "min", "random"): (0, 512),
    ("mase_bmf_linear", "min", "cancel"): (0, 512),
    ("mase_bl_linear", "default", "random"): (0, 512),
    ("mase_bl_linear", "default", "cancel"): (82, 512),
    ("mase_bl_linear", "min", "random"): (0, 512),
    ("mase_bl_linear", "min", "cancel"): (318, 512),
}
_GAP_PARAMS = {
    "mase_bmf_linear": dict(BLOCK_K=16, X_ROWS=2, OUT_TILE=2, IN_TILES=8, OUT_TILES=8, OUT_GROUP=8),
    "mase_bl_linear": dict(BLOCK_K=16, X_ROWS=2, OUT_TILE=2, IN_TILES=8, OUT_TILES=8, EXP_BITS=3, OUT_EXP_BITS=3,
                           OUT_GROUP=8),
}


def _values(module, p, y):
    """Real values of output beats and the half-spacing of each element's grid (the rounding bound)."""
    log = _log(module)
    e_bits, top = p["OUT_EXP_BITS"], (1 << p["OUT_EXP_BITS"]) - 1
    man = 0 if log else p["OUT_MAN_BITS"]
    vals, half = [], []
    for codes, (beta,) in zip(y["data"].tolist(), y["bias"].tolist()):
        for code in codes:
            s = -1 if code >> (e_bits + man) & 1 else 1
            c, f = (code >> man) & top, code & ((1 << man) - 1)
            if log:
                v = Fraction(0) if c == 0 else Fraction(2) ** (c - beta)
                # nearest power of two: the error is below half the value's binade, or 2^(lo-1) near 0
                half.append(max(abs(v) / 2, Fraction(2) ** (-beta)))
            else:
                v = (Fraction(2) ** (c - beta) * (1 + Fraction(f, 1 << man)) if c
                     else Fraction(2) ** (1 - beta) * Fraction(f, 1 << man))
                half.append(Fraction(2) ** (max(c, 1) - beta - man - 1))
            vals.append(s * v)
    return vals, half


@pytest.mark.parametrize("module", ["mase_bmf_linear", "mase_bl_linear"])
@pytest.mark.parametrize("width", ["default", "min"])
def test_bounded_output_differs_from_quantizing_the_exact_sum_within_the_bound(module, width):
    """Per output element: |Q(bounded) - Q(exact)| <= half a grid step of each + the accumulator's
    bound (N-1) 2^(Lmax-F-1); and the number of differing codes is at most the measured one (and at
    least half of it, so the bounded datapath stays distinguishable where it was)."""
    base = _GAP_PARAMS[module]
    p_exact = catalog.get(module).resolve({**base, "ACC_WIDTH": 0})
    width_value = -1 if width == "default" else p_exact["ACC_TERM_WIDTH"] + (p_exact["ACC_TERMS"]).bit_length()
    p = catalog.get(module).resolve({**base, "ACC_WIDTH": width_value})
    rng = np.random.default_rng(21)
    for kind in ("random", "cancel"):
        x, w, b = operands(p, rng, 16, kind)
        qx, qw, qb = quantized(module, p, x, w, b)
        y_b, y_e = _golden(module, p, qx, qw, qb), _golden(module, p_exact, qx, qw, qb)
        differing = int((y_b["data"] != y_e["data"]).sum())
        limit, total = GAP[(module, width, kind)]
        assert y_b["data"].size == total and limit // 2 <= differing <= limit, (kind, differing)
        # the accumulator's bound per lane, from the same terms (Lmax = the largest term's LSB)
        inputs = {"x": bmf.block_beats(qx), "w": {k: np.tile(v, (16, 1)) for k, v in bmf.block_beats(qw).items()}}
        man = 0 if _log(module) else p["MAN_BITS"]
        lmax = []
        for g in range(16):
            for o in range(p["OUT_TILES"]):
                ls = [2 - int(inputs["x"]["bias"][g * p["IN_TILES"] + k, 0])
                      - int(inputs["w"]["bias"][(g * p["OUT_TILES"] + o) * p["IN_TILES"] + k, 0]) - 2 * man
                      for k in range(p["IN_TILES"])]
                lmax.append(max(ls))
        vb, hb = _values(module, p, y_b)
        ve, he = _values(module, p, y_e)
        blocks = bmf.group_blocks([([0] * (p["X_ROWS"] * p["OUT_TILE"]), lm) for lm in lmax],
                                  p["X_ROWS"], p["OUT_TILE"], p["OUT_GROUP"])
        lane_lmax = [lsb for blk in blocks for _, lsb in blk]
        for i, (a, c) in enumerate(zip(vb, ve)):
            acc_err = (p["ACC_TERMS"] - 1) * Fraction(2) ** (lane_lmax[i] - p["ACC_FRAC"] - 1)
            assert abs(a - c) <= hb[i] + he[i] + acc_err, (kind, i)


def test_catalog_refuses_a_group_that_does_not_divide_the_output_tiles_and_a_narrow_accumulator():
    with pytest.raises(ValueError, match="OUT_GROUP"):
        catalog.get("mase_bmf_linear").resolve(dict(OUT_TILES=3, OUT_GROUP=2))
    with pytest.raises(ValueError, match="ACC_WIDTH=17 is below the minimum 18"):
        catalog.get("mase_bl_linear").resolve(dict(EXP_BITS=3, ACC_WIDTH=17))
