"""MXFP4 and M2XFP dot products (issue 20): the golden decoders and dot products against an
independent oracle -- exact rational dot products of mx_formats.dequantize of the very tensors
mx_formats.quantize encoded (M2XFP_EM activations x M2XFP_ES weights, MXFP4_E2M1 x MXFP4_E2M1)
-- in exact mode, within the documented bound in the bounded modes; the RTL against the golden
model bit for bit (several parameter sets, random idle cycles and back-pressure, and none);
Verilator lint; the catalog's refusals by name."""

import shutil
import zlib
from fractions import Fraction

import numpy as np
import pytest

import mx_formats as mxf
from mase_hwlib import catalog
from mase_hwlib.golden import accumulate, dot, m2xfp
from mase_hwlib.testing import check_against_golden, lint

MODULES = ("mase_mxfp4_dot", "mase_m2xfp_dot")


# ---------------------------------------------------------------------------
# quantized operands and the rational oracle


def _tensor(rng, rows, k, block, *, specials=True):
    """float32 (rows, k): normal samples scaled per block by 2^U(-12, 12), with special blocks:
    all zero, near float32's top (scale exponent 125), subnormal inputs (scale clamped at -127),
    and, with ``specials``, one Inf and one NaN element (NaN blocks)."""
    x = rng.standard_normal((rows, k))
    x *= 2.0 ** rng.integers(-12, 13, (rows, k // block)).repeat(block, axis=1)
    x = x.astype(np.float32)
    if rows * (k // block) >= 6:
        x[0, :block] = 0
        x[-1, -block:] = (np.clip(rng.standard_normal(block), -3, 3) * 1e38).astype(np.float32)
        x[rows // 2, :block] = (rng.standard_normal(block) * 1e-40).astype(np.float32)
        if specials:
            x[1, block // 2] = np.inf
            x[rows - 2, -1] = np.nan
    return x


def _formats(module, block, subgroup):
    if module == "mase_mxfp4_dot":
        return mxf.MXFP4_E2M1, mxf.MXFP4_E2M1
    return mxf.M2XFP("EM", (block,), subgroup), mxf.M2XFP("ES", (block,), subgroup)


def _quantized_inputs(module, params, rng, tiles=3, specials=True):
    """(inputs as beats from mx_beats, dequantized x (T*XR, K), dequantized w (T*WR, K))."""
    full = catalog.get(module).resolve(params)
    bk, nb, xr, wr = full["BLOCK_K"], full["NUM_BLOCKS"], full["X_ROWS"], full["W_ROWS"]
    fx, fw = _formats(module, bk, full.get("SUBGROUP"))
    qx = mxf.quantize(_tensor(rng, tiles * xr, nb * bk, bk, specials=specials), fx)
    qw = mxf.quantize(_tensor(rng, tiles * wr, nb * bk, bk, specials=specials), fw)
    return {"x": m2xfp.mx_beats(qx, xr), "w": m2xfp.mx_beats(qw, wr)}, mxf.dequantize(qx), mxf.dequantize(qw)


def _oracle(xv, wv, xr, wr):
    """Exact tile dot products of the dequantized values: (values (T, XR*WR) Fractions or None, nan)."""
    tiles = xv.shape[0] // xr
    vals = np.empty((tiles, xr * wr), dtype=object)
    nan = np.zeros((tiles, xr * wr), dtype=bool)
    for t in range(tiles):
        for i in range(xr):
            for j in range(wr):
                a, b = xv[t * xr + i], wv[t * wr + j]
                if np.isnan(a).any() or np.isnan(b).any():
                    nan[t, i * wr + j] = True
                    continue
                vals[t, i * wr + j] = sum((Fraction(float(p)) * Fraction(float(q)) for p, q in zip(a, b)),
                                          Fraction(0))
    return vals, nan


def _values(y, chunks):
    """Output beats -> exact Fractions (T, LANES)."""
    acc = dot.from_chunks(y["data"], chunks)
    return np.vectorize(lambda a, e: Fraction(int(a)) * Fraction(2) ** int(e), otypes=[object])(acc, y["exp"])


def _golden(module, params, inputs):
    spec = catalog.get(module)
    full = spec.resolve(params)
    return full, spec.golden(full, inputs)["y"]


# ---------------------------------------------------------------------------
# golden model against the oracle


@pytest.mark.parametrize("fmt", ["MXFP4_E2M1", "M2XFP_ES", "M2XFP_EM", "M2XFP_ES((16,),4)", "M2XFP_EM((8,),2)"])
def test_golden_decoders_equal_mx_formats_dequantize_elementwise(fmt):
    f = mxf.parse(fmt)
    rng = np.random.default_rng(zlib.crc32(fmt.encode()))
    bk = f.block_size
    q = mxf.quantize(_tensor(rng, 8, 4 * bk, bk), f)
    beats = m2xfp.mx_beats(q, 1)
    codes, scale = beats["data"], beats["scale"]
    if isinstance(f, mxf.M2XFP):
        units = (m2xfp.m2xfp_es_units if f.variant == "ES" else m2xfp.m2xfp_em_units)(codes, beats["meta"], f.subgroup)
        lsb = scale - 127 - 3
    else:
        units, lsb = m2xfp.fp4_half(codes), scale - 127 - 1
    want = mxf.dequantize(q).reshape(-1, bk)
    nan = scale[:, 0] == m2xfp.E8M0_NAN
    assert nan.any() and (~nan).any()
    assert np.isnan(want[nan]).all()
    got = units[~nan] * np.exp2(lsb[~nan].astype(np.float64))  # exact: <= 7 significant bits, in range
    np.testing.assert_array_equal(got, want[~nan].astype(np.float64))


def test_em_decoder_ties_pick_the_first_largest_code_and_keep_a_sign_on_zero():
    # subgroup of 4: codes 7 at indices 1 and 3 -> index 1 carries the FP6 value (meta 2: code 29 = 52/8)
    units = m2xfp.m2xfp_em_units(np.array([[5, 7, 2, 15]]), np.array([[2]]), 4)
    assert units.tolist() == [[24, 52, 8, -48]]
    # all magnitudes 0: index 0 is picked; meta 3 with its sign bit is -3/8
    assert m2xfp.m2xfp_em_units(np.array([[8, 0]]), np.array([[3]]), 2).tolist() == [[-3, 0]]


@pytest.mark.parametrize("module,params", [
    ("mase_mxfp4_dot", {"X_ROWS": 2, "W_ROWS": 3, "NUM_BLOCKS": 3, "ACC_WIDTH": 0}),
    ("mase_m2xfp_dot", {"X_ROWS": 2, "W_ROWS": 3, "NUM_BLOCKS": 3, "ACC_WIDTH": 0}),
    ("mase_m2xfp_dot", {"BLOCK_K": 16, "SUBGROUP": 4, "X_ROWS": 3, "NUM_BLOCKS": 2, "ACC_WIDTH": 0}),
    ("mase_m2xfp_dot", {"BLOCK_K": 8, "SUBGROUP": 2, "W_ROWS": 2, "NUM_BLOCKS": 4, "ACC_WIDTH": 0}),
])
def test_golden_exact_mode_is_the_rational_dot_product_of_the_dequantized_tensors(module, params):
    rng = np.random.default_rng(zlib.crc32(f"{module}{sorted(params.items())}".encode()))
    inputs, xv, wv = _quantized_inputs(module, params, rng)
    full, y = _golden(module, params, inputs)
    want, want_nan = _oracle(xv, wv, full["X_ROWS"], full["W_ROWS"])
    assert want_nan.any() and (~want_nan).any()
    np.testing.assert_array_equal(y["nan"].astype(bool), want_nan)
    got = _values(y, full["ACC_CHUNKS"])
    assert got[~want_nan].tolist() == want[~want_nan].tolist()


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("acc_width", [-1, "min"])
@pytest.mark.parametrize("acc_round", [0, 1])
def test_golden_bounded_error_stays_within_the_documented_bound(module, acc_width, acc_round):
    params = {"X_ROWS": 2, "W_ROWS": 2, "NUM_BLOCKS": 6, "ACC_ROUND": acc_round}
    full = catalog.get(module).resolve({**params, "ACC_WIDTH": -1})
    params["ACC_WIDTH"] = (accumulate.min_acc_width(full["ACC_TERM_WIDTH"], full["ACC_TERMS"])
                           if acc_width == "min" else -1)
    rng = np.random.default_rng(zlib.crc32(f"{module}{acc_width}{acc_round}".encode()))
    inputs, xv, wv = _quantized_inputs(module, params, rng, tiles=4, specials=False)
    full, y = _golden(module, params, inputs)
    want, _ = _oracle(xv, wv, 2, 2)
    got = _values(y, full["ACC_CHUNKS"])
    # Lmax per lane: the largest block-pair LSB exponent among the lane's NUM_BLOCKS beats
    off = m2xfp.lsb_range("mxfp4" if module == "mase_mxfp4_dot" else "m2xfp")[0]
    xs = inputs["x"]["scale"].reshape(-1, 6, 2)
    ws = inputs["w"]["scale"].reshape(-1, 6, 2)
    lmax = (xs[:, :, :, None] + ws[:, :, None, :]).max(axis=1).reshape(-1, 4) + off
    rounding = accumulate.ROUNDINGS[acc_round]
    errors = [abs(g - w) for g, w in zip(got.ravel(), want.ravel())]
    bounds = [accumulate.error_bound(6, int(lm), full["ACC_FRAC"], rounding) for lm in lmax.ravel()]
    assert all(e <= b for e, b in zip(errors, bounds))
    if acc_width == "min":  # the rounding path is exercised: the bounded sum differs somewhere
        assert any(e > 0 for e in errors)


def test_golden_refuses_bad_codes_and_shapes_by_name():
    x = np.zeros((1, 1, 1, 8), np.int64)
    s = np.zeros((1, 1, 1), np.int64)
    m = np.zeros((1, 1, 1, 4), np.int64)
    with pytest.raises(ValueError, match="x_codes value 16"):
        m2xfp.mxfp4_dot(x + 16, s, x, s)
    with pytest.raises(ValueError, match="w_scale value 256"):
        m2xfp.mxfp4_dot(x, s, x, s + 256)
    with pytest.raises(ValueError, match="w_meta value 4"):
        m2xfp.m2xfp_dot(x, s, m, x, s, m + 4, subgroup=2)
    with pytest.raises(ValueError, match="x_meta must have shape"):
        m2xfp.m2xfp_dot(x, s, m[..., :2], x, s, m, subgroup=2)
    with pytest.raises(ValueError, match="SUBGROUP=3 must be >= 2 and divide BLOCK_K=8"):
        m2xfp.m2xfp_dot(x, s, m, x, s, m, subgroup=3)
    with pytest.raises(ValueError, match="not whole tiles"):
        m2xfp.mx_beats(mxf.quantize(np.ones((3, 32), np.float32), mxf.M2XFP_EM), 2)


def test_catalog_refuses_a_subgroup_that_does_not_tile_the_block_naming_it():
    with pytest.raises(ValueError, match="parameter SUBGROUP=12 does not divide BLOCK_K=32"):
        catalog.get("mase_m2xfp_dot").resolve({"SUBGROUP": 12})
    with pytest.raises(ValueError, match=r"parameter SUBGROUP=1 outside its legal range \[2, 64\]"):
        catalog.get("mase_m2xfp_dot").resolve({"SUBGROUP": 1})
    with pytest.raises(ValueError, match=r"parameter BLOCK_K=128 outside its legal range"):
        catalog.get("mase_mxfp4_dot").resolve({"BLOCK_K": 128})


@pytest.mark.parametrize("module,minimum", [("mase_mxfp4_dot", 17), ("mase_m2xfp_dot", 22)])
def test_catalog_widths_match_the_rtl_header_and_refuse_a_narrow_accumulator(module, minimum):
    """Defaults (BLOCK_K = 32, N = 4): TW 14 / 19, ACC_W 21 / 26, exact 527 / 532 bits (RTL headers)."""
    spec = catalog.get(module)
    tw = {"mase_mxfp4_dot": 14, "mase_m2xfp_dot": 19}[module]
    full = spec.resolve({})
    assert (full["ACC_TERM_WIDTH"], full["ACC_BITS"]) == (tw, tw + 7)
    assert spec.resolve({"ACC_WIDTH": 0})["ACC_BITS"] == tw + 3 + 510
    with pytest.raises(ValueError, match=f"ACC_WIDTH={minimum - 1} is below the minimum {minimum}"):
        spec.resolve({"ACC_WIDTH": minimum - 1})


# ---------------------------------------------------------------------------
# RTL benches: one build and one simulation per parameter set


def _random_operand(rng, n, nb, rows, bk, groups, *, wide_scales):
    """Random beats over the whole code space (any sign / magnitude / metadata, NaN scales), plus
    edge beats: all zero, every code 7 with meta 3 (ties everywhere, the largest magnitudes), a
    sign bit on magnitude 0; the last dot product is all -6 (code 15) with meta 3 and one scale:
    the largest positive sum, which the derived widths must hold."""
    data = rng.integers(0, 16, (n, rows * bk))
    lo, hi = (0, 255) if wide_scales else (120, 134)
    scale = rng.integers(lo, hi + 1, (n, rows))
    scale[rng.random((n, rows)) < 0.05] = m2xfp.E8M0_NAN
    data[0], data[1], data[2] = 0, 7, 8
    scale[0], scale[1], scale[2] = 0, 254, 127
    data[n - nb:], scale[n - nb:] = 15, 127
    out = {"data": data, "scale": scale}
    if groups:
        meta = rng.integers(0, 4, (n, rows * groups))
        meta[1], meta[n - nb:] = 3, 3
        out["meta"] = meta
    return out


_MIN = "min"  # ACC_WIDTH: the narrowest legal width of the parameter set

#: one dict per bench; source "random" (code space) or "quantized" (mx_formats tensors); idle =
#: back-pressure probability (0: the no-idle, no-back-pressure case, where the cycle counts are
#: checked); rounds: the bounded sum must differ from the exact one somewhere
CASES = [
    ("mase_mxfp4_dot", dict(params={})),
    ("mase_mxfp4_dot", dict(params={"BLOCK_K": 8, "X_ROWS": 2, "W_ROWS": 2, "NUM_BLOCKS": 3, "ACC_WIDTH": _MIN,
                                    "ACC_ROUND": 0}, idle=0.0, rounds=True)),
    ("mase_mxfp4_dot", dict(params={"W_ROWS": 3, "NUM_BLOCKS": 2, "ACC_WIDTH": 0}, source="quantized")),
    ("mase_m2xfp_dot", dict(params={})),
    ("mase_m2xfp_dot", dict(params={"BLOCK_K": 16, "SUBGROUP": 4, "X_ROWS": 2, "W_ROWS": 2, "NUM_BLOCKS": 3,
                                    "ACC_WIDTH": _MIN}, rounds=True)),
    ("mase_m2xfp_dot", dict(params={"BLOCK_K": 8, "SUBGROUP": 2, "X_ROWS": 3, "NUM_BLOCKS": 1, "ACC_ROUND": 0},
                            idle=0.0)),
    ("mase_m2xfp_dot", dict(params={"X_ROWS": 2, "W_ROWS": 2, "NUM_BLOCKS": 2, "ACC_WIDTH": 0},
                            source="quantized")),
]
_IDS = [f"{m}-{i}" for i, (m, _) in enumerate(CASES)]


def _bench_params(module, params):
    if params.get("ACC_WIDTH") != _MIN:
        return dict(params)
    full = catalog.get(module).resolve({**params, "ACC_WIDTH": -1})
    return {**params, "ACC_WIDTH": accumulate.min_acc_width(full["ACC_TERM_WIDTH"], full["ACC_TERMS"])}


@pytest.mark.parametrize("module,cfg", CASES, ids=_IDS)
def test_rtl_matches_golden(module, cfg):
    spec = catalog.get(module)
    params = _bench_params(module, cfg["params"])
    full = spec.resolve(params)
    rng = np.random.default_rng(zlib.crc32(f"{module}{sorted(params.items())}".encode()))
    nb = full["NUM_BLOCKS"]
    if cfg.get("source") == "quantized":
        inputs, xv, wv = _quantized_inputs(module, params, rng)
    else:
        n = nb * max(3, -(-8 // nb))  # >= 8 beats, whole dot products
        groups = full.get("GROUPS", 0)
        wide = not cfg.get("rounds")  # narrow scales: the rounding happens between close exponents
        inputs = {s: _random_operand(rng, n, nb, full[r], full["BLOCK_K"], groups, wide_scales=wide)
                  for s, r in (("x", "X_ROWS"), ("w", "W_ROWS"))}
    idle = cfg.get("idle", 0.3)
    result = check_against_golden(module, params, inputs, idle=idle, backpressure=idle, seed=11)
    y = result.outputs["y"]
    assert len(y["data"]) == len(inputs["x"]["data"]) // nb
    if idle == 0.0:
        assert result.first_output_latency == full["LATENCY"]
        if len(y["data"]) > 1:
            assert result.cycles_per_block == full["CYCLES_PER_BLOCK"]
    if cfg.get("source") == "quantized":  # exact mode: the RTL equals the rational oracle too
        want, want_nan = _oracle(xv, wv, full["X_ROWS"], full["W_ROWS"])
        assert (y["nan"].astype(bool) == want_nan).all() and (~want_nan).any()
        assert _values(y, full["ACC_CHUNKS"])[~want_nan].tolist() == want[~want_nan].tolist()
    else:
        # the worst-case last sum is positive and needs all but the carry bits of the width built
        worst = dot.from_chunks(y["data"][-1:], full["ACC_CHUNKS"])[0]
        assert not y["nan"][-1].any()
        assert all(0 < int(v) < 1 << (full["ACC_BITS"] - 1) for v in worst)
        assert max(int(v) for v in worst).bit_length() >= full["ACC_TERM_WIDTH"] + full["ACC_FRAC"] - 1
    if cfg.get("rounds"):
        exact_full = spec.resolve({**params, "ACC_WIDTH": 0})
        exact = spec.golden(exact_full, inputs)["y"]
        assert (_values(y, full["ACC_CHUNKS"]) != _values(exact, exact_full["ACC_CHUNKS"])).any(), \
            "this bench must exercise the rounding of the bounded accumulator"


@pytest.mark.parametrize("module,cfg", CASES, ids=_IDS)
def test_lint_clean_at_bench_parameters(module, cfg):
    if shutil.which("verilator") is None:
        pytest.skip("verilator not installed")
    lint(module, _bench_params(module, cfg["params"]))


CORNERS = [
    ("mase_mxfp4_dot", {"BLOCK_K": 64, "X_ROWS": 8, "W_ROWS": 8, "NUM_BLOCKS": 4096}),
    ("mase_mxfp4_dot", {"BLOCK_K": 2, "NUM_BLOCKS": 1, "ACC_WIDTH": 0}),
    ("mase_m2xfp_dot", {"BLOCK_K": 64, "SUBGROUP": 64, "X_ROWS": 8, "W_ROWS": 8, "NUM_BLOCKS": 4096}),
    ("mase_m2xfp_dot", {"BLOCK_K": 2, "SUBGROUP": 2, "NUM_BLOCKS": 1, "ACC_WIDTH": 0}),
    ("mase_m2xfp_dot", {"BLOCK_K": 48, "SUBGROUP": 6, "X_ROWS": 3, "NUM_BLOCKS": 5}),
]


@pytest.mark.slow
@pytest.mark.parametrize("module,params", CORNERS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(CORNERS)])
def test_lint_clean_and_ports_match_at_parameter_range_corners(module, params):
    if shutil.which("verilator") is None:
        pytest.skip("verilator not installed")
    from mase_hwlib.testing import rtl_ports

    lint(module, params)
    assert sorted(rtl_ports(module, params)) == sorted(catalog.get(module).ports(params))
