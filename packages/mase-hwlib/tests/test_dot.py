"""BMF, BL, fixed-point and minifloat dot products: golden model against exact
rational arithmetic on the decoded values, against mx_formats.quantize, and
the RTL against the golden model bit for bit (idle cycles and back-pressure)."""

import shutil
import zlib
from fractions import Fraction

import numpy as np
import pytest

import mx_formats as mxf
from mase_hwlib import catalog
from mase_hwlib.golden import dot
from mase_hwlib.testing import check_against_golden, lint

# ---------------------------------------------------------------------------
# slow, independent reference: decode every code to an exact rational


def _minifloat_value(code: int, exp_bits: int, man_bits: int, bias: int) -> Fraction:
    sign = -1 if code >> (exp_bits + man_bits) & 1 else 1
    c = (code >> man_bits) & ((1 << exp_bits) - 1)
    f = code & ((1 << man_bits) - 1)
    if c == 0:
        return sign * Fraction(f, 1 << man_bits) * Fraction(2) ** (1 - bias)
    return sign * (1 + Fraction(f, 1 << man_bits)) * Fraction(2) ** (c - bias)


def _bl_value(code: int, exp_bits: int, bias: int) -> Fraction:
    c = code & ((1 << exp_bits) - 1)
    if c == 0:
        return Fraction(0)
    return (-1 if code >> exp_bits else 1) * Fraction(2) ** (c - bias)


def _reference(x_vals, w_vals):
    """sum over (b, k) of x[t,b,i,k] * w[t,b,j,k] with Fractions: (T, XR, WR)."""
    t_, nb, xr, bk = x_vals.shape
    wr = w_vals.shape[2]
    out = np.empty((t_, xr, wr), dtype=object)
    for t in range(t_):
        for i in range(xr):
            for j in range(wr):
                out[t, i, j] = sum(
                    (x_vals[t, b, i, k] * w_vals[t, b, j, k] for b in range(nb) for k in range(bk)), Fraction(0)
                )
    return out


def _decode(codes, fn, scales=None):
    out = np.empty(codes.shape, dtype=object)
    for idx in np.ndindex(codes.shape):
        out[idx] = fn(int(codes[idx]), None if scales is None else int(scales[idx[:2]]))
    return out


def _scaled(acc, lsb_exp):
    return np.vectorize(lambda a: Fraction(int(a)) * Fraction(2) ** lsb_exp, otypes=[object])(acc)


def test_bmf_golden_is_the_exact_dot_product_of_the_decoded_elements():
    rng = np.random.default_rng(1)
    e, m, b = 3, 2, 5
    x = rng.integers(0, 1 << (1 + e + m), (3, 3, 2, 4))
    w = rng.integers(0, 1 << (1 + e + m), (3, 3, 2, 4))
    xb = rng.integers(-(1 << (b - 1)), 1 << (b - 1), (3, 3))
    wb = rng.integers(-(1 << (b - 1)), 1 << (b - 1), (3, 3))
    got = _scaled(dot.bmf_dot(x, xb, w, wb, exp_bits=e, man_bits=m, bias_bits=b), dot.bmf_out_lsb_exp(m, b))
    want = _reference(
        _decode(x, lambda c, s: _minifloat_value(c, e, m, s), xb), _decode(w, lambda c, s: _minifloat_value(c, e, m, s), wb)
    )
    assert (got == want).all()


def test_bl_golden_is_the_exact_dot_product_of_the_decoded_elements():
    rng = np.random.default_rng(2)
    e, b = 3, 4
    x = rng.integers(0, 1 << (1 + e), (4, 2, 1, 8))
    w = rng.integers(0, 1 << (1 + e), (4, 2, 3, 8))
    xb = rng.integers(-8, 8, (4, 2))
    wb = rng.integers(-8, 8, (4, 2))
    got = _scaled(dot.bl_dot(x, xb, w, wb, exp_bits=e, bias_bits=b), dot.bl_out_lsb_exp(b))
    want = _reference(_decode(x, lambda c, s: _bl_value(c, e, s), xb), _decode(w, lambda c, s: _bl_value(c, e, s), wb))
    assert (got == want).all()


def test_minifloat_and_fixed_golden_are_exact():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (2, 3, 2, 5))
    w = rng.integers(0, 256, (2, 3, 1, 5))
    got = _scaled(dot.minifloat_dot(x, w, exp_bits=4, man_bits=3), dot.minifloat_out_lsb_exp(3, 7))
    fp8 = lambda c, s: _minifloat_value(c, 4, 3, 7)  # noqa: E731
    assert (got == _reference(_decode(x, fp8), _decode(w, fp8))).all()
    qx = rng.integers(-128, 128, (2, 3, 2, 5))
    qw = rng.integers(-8, 8, (2, 3, 2, 5))
    want = np.einsum("tbik,tbjk->tij", qx, qw)
    assert (dot.fixed_dot(qx, qw, x_width=8, w_width=4) == want).all()


@pytest.mark.parametrize(
    "fmt",
    [mxf.BMF((8,), 4, 3, 8), mxf.BL((8,), 7, 8), mxf.MiniFloat(4, 3, 7), mxf.Fixed(8, 4)],
    ids=str,
)
def test_golden_on_quantized_tensors_equals_the_dot_of_their_dequantized_values(fmt):
    """Ties the hardware's element decoding to mx_formats' encoding: codes from
    mxf.quantize through the golden model equal the exact dot of mxf.dequantize."""
    rng = np.random.default_rng(4)
    nb, bk = 3, 8
    x = (rng.standard_normal((2, nb * bk)) * np.exp2(rng.integers(-6, 6, (2, 1)))).astype(np.float32)
    w = (rng.standard_normal((2, nb * bk)) * 0.1).astype(np.float32)
    qx, qw = mxf.quantize(x, fmt), mxf.quantize(w, fmt)
    # tiles: each row of x / w is one dot product of nb blocks, X_ROWS = W_ROWS = 1
    xt = np.asarray(qx.elements).reshape(2, nb, 1, bk)
    wt = np.asarray(qw.elements).reshape(2, nb, 1, bk)
    if isinstance(fmt, mxf.BMF):
        acc = dot.bmf_dot(xt, np.asarray(qx.scales).reshape(2, nb), wt, np.asarray(qw.scales).reshape(2, nb),
                          exp_bits=fmt.exp_bits, man_bits=fmt.man_bits, bias_bits=fmt.bias_bits)
        lsb = dot.bmf_out_lsb_exp(fmt.man_bits, fmt.bias_bits)
    elif isinstance(fmt, mxf.BL):
        acc = dot.bl_dot(xt, np.asarray(qx.scales).reshape(2, nb), wt, np.asarray(qw.scales).reshape(2, nb),
                         exp_bits=fmt.exp_bits, bias_bits=fmt.bias_bits)
        lsb = dot.bl_out_lsb_exp(fmt.bias_bits)
    elif isinstance(fmt, mxf.MiniFloat):
        acc = dot.minifloat_dot(xt, wt, exp_bits=fmt.exp_bits, man_bits=fmt.man_bits)
        lsb = dot.minifloat_out_lsb_exp(fmt.man_bits, fmt.bias)
    else:
        xt = np.asarray(qx.mantissas()).reshape(2, nb, 1, bk)
        wt = np.asarray(qw.mantissas()).reshape(2, nb, 1, bk)
        acc = dot.fixed_dot(xt, wt, x_width=fmt.width, w_width=fmt.width)
        lsb = dot.fixed_out_lsb_exp(fmt.frac, fmt.frac)
    dx, dw = mxf.dequantize(qx), mxf.dequantize(qw)
    for t in range(2):
        want = sum((Fraction(float(a)) * Fraction(float(c)) for a, c in zip(dx[t], dw[t])), Fraction(0))
        assert Fraction(int(acc[t, 0, 0])) * Fraction(2) ** lsb == want


def test_chunks_round_trip_negative_wide_values():
    vals = np.array([[-(1 << 500) + 3, 7], [-1, (1 << 520) - 1]], dtype=object)
    chunks = dot.acc_layout(553)["ACC_CHUNKS"]
    assert (dot.from_chunks(dot.to_chunks(vals, chunks), chunks) == vals).all()


def test_golden_rejects_bad_codes_and_shapes_by_name():
    x = np.zeros((1, 2, 1, 4), dtype=np.int64)
    with pytest.raises(ValueError, match="x_codes: value 256 is outside the legal range"):
        dot.bmf_dot(x + 256, np.zeros((1, 2), int), x, np.zeros((1, 2), int), exp_bits=4, man_bits=3, bias_bits=8)
    with pytest.raises(ValueError, match="w_bias: value 8 is outside"):
        dot.bl_dot(x, np.zeros((1, 2), int), x, np.full((1, 2), 8), exp_bits=3, bias_bits=4)
    with pytest.raises(ValueError, match="disagree on T, NUM_BLOCKS or BLOCK_K"):
        dot.minifloat_dot(x, np.zeros((1, 2, 1, 5), int), exp_bits=4, man_bits=3)
    with pytest.raises(ValueError, match="not a whole number of NUM_BLOCKS=4"):
        catalog.get("mase_fixed_dot").golden(
            catalog.get("mase_fixed_dot").resolve({}), {"x": {"data": np.zeros((3, 16))}, "w": {"data": np.zeros((3, 16))}}
        )


def test_catalog_widths_match_the_documented_example():
    full = catalog.get("mase_bmf_dot").resolve({"BLOCK_K": 16, "EXP_BITS": 4, "MAN_BITS": 3, "BIAS_BITS": 8})
    assert (full["ACC_BITS"], full["ACC_WIDTH"], full["OUT_LSB_EXP"]) == (553, 576, -258)
    with pytest.raises(ValueError, match="MAN_BITS=0 outside its legal range"):
        catalog.get("mase_bmf_dot").resolve({"MAN_BITS": 0})


# ---------------------------------------------------------------------------
# RTL benches: one build and one simulation per parameter set


def _block_stream(rng, n, nb, elems, el_width, bias_bits=None, signed=False):
    """Seeded random beats with edge beats: zeros, largest codes, extreme biases, and a
    last dot product of nb worst-case beats (largest negative magnitudes, smallest bias:
    the largest positive sum, which must fit ACC_BITS exactly)."""
    if signed:
        lo, hi = -(1 << (el_width - 1)), (1 << (el_width - 1)) - 1
    else:
        lo, hi = 0, (1 << el_width) - 1
    data = rng.integers(lo, hi + 1, (n, elems))
    # edge beats (n >= 6): all zero, all the largest positive, all the most negative
    data[0] = 0
    data[1] = hi if signed else (1 << (el_width - 1)) - 1
    data[2] = lo if signed else hi
    stream = {"data": data}
    if bias_bits is not None:
        blo, bhi = -(1 << (bias_bits - 1)), (1 << (bias_bits - 1)) - 1
        bias = rng.integers(blo, bhi + 1, (n, 1))
        bias[1], bias[2], bias[3], bias[4] = blo, blo, bhi, 0  # widest and narrowest alignment
        bias[n - nb :] = blo
        stream["bias"] = bias
    data[n - nb :] = lo if signed else hi
    return stream


DOT_CASES = {
    "mase_bmf_dot": [
        dict(params={}),
        dict(params={"BLOCK_K": 4, "X_ROWS": 2, "W_ROWS": 2, "EXP_BITS": 3, "MAN_BITS": 2, "BIAS_BITS": 4, "NUM_BLOCKS": 3}),
        dict(params={"BLOCK_K": 8, "W_ROWS": 2, "EXP_BITS": 2, "MAN_BITS": 5, "BIAS_BITS": 6, "NUM_BLOCKS": 1}),
    ],
    "mase_bl_dot": [
        dict(params={}),
        dict(params={"BLOCK_K": 4, "X_ROWS": 2, "W_ROWS": 2, "EXP_BITS": 3, "BIAS_BITS": 4, "NUM_BLOCKS": 3}),
        dict(params={"BLOCK_K": 8, "X_ROWS": 2, "EXP_BITS": 1, "BIAS_BITS": 2, "NUM_BLOCKS": 1}),
    ],
    "mase_minifloat_dot": [
        dict(params={}),  # FP8 E4M3
        dict(params={"BLOCK_K": 4, "X_ROWS": 2, "W_ROWS": 2, "EXP_BITS": 5, "MAN_BITS": 2, "NUM_BLOCKS": 2}),
        dict(params={"BLOCK_K": 8, "W_ROWS": 2, "EXP_BITS": 2, "MAN_BITS": 1, "NUM_BLOCKS": 1}),
    ],
    "mase_fixed_dot": [
        dict(params={}),  # int8 x int8
        dict(params={"BLOCK_K": 4, "X_ROWS": 2, "W_ROWS": 2, "X_WIDTH": 4, "W_WIDTH": 8, "NUM_BLOCKS": 3}),
        dict(params={"BLOCK_K": 8, "W_ROWS": 2, "X_WIDTH": 12, "W_WIDTH": 3, "NUM_BLOCKS": 1}),
    ],
}


@pytest.mark.parametrize(
    "module,cfg",
    [(m, c) for m, cs in DOT_CASES.items() for c in cs],
    ids=[f"{m}-{i}" for m, cs in DOT_CASES.items() for i in range(len(cs))],
)
def test_dot_rtl_matches_golden(module, cfg):
    spec = catalog.get(module)
    full = spec.resolve(cfg["params"])
    rng = np.random.default_rng(zlib.crc32(f"{module}{sorted(cfg['params'].items())}".encode()))
    n = full["NUM_BLOCKS"] * max(3, -(-8 // full["NUM_BLOCKS"]))  # >= 8 beats, whole dot products
    bias = full.get("BIAS_BITS")
    signed = module == "mase_fixed_dot"
    x_width = full["X_WIDTH"] if signed else full["EL_WIDTH"]
    w_width = full["W_WIDTH"] if signed else full["EL_WIDTH"]
    inputs = {
        "x": _block_stream(rng, n, full["NUM_BLOCKS"], full["X_ELEMS"], x_width, bias, signed),
        "w": _block_stream(rng, n, full["NUM_BLOCKS"], full["W_ELEMS"], w_width, bias, signed),
    }
    result = check_against_golden(module, cfg["params"], inputs, idle=0.3, backpressure=0.3, seed=7)
    assert len(result.outputs["y"]["data"]) == n // full["NUM_BLOCKS"]
    # the worst-case last sum is positive and needs all of ACC_BITS (the width is tight)
    worst = dot.from_chunks(result.outputs["y"]["data"][-1:], full["ACC_CHUNKS"])[0]
    assert all(0 < int(v) < 1 << (full["ACC_BITS"] - 1) for v in worst)
    assert max(int(v) for v in worst).bit_length() >= full["ACC_BITS"] - 2


# ---------------------------------------------------------------------------
# a whole linear layer through the RTL, from mx_formats tensors


def test_bmf_linear_layer_through_the_rtl_is_exact_and_streams_one_block_per_cycle():
    """x (4, 32) @ w (4, 32).T in BMF((16,2),4,3,8): 2x2 output tiles, 2 blocks each.
    The RTL result equals the exact dot of the dequantized tensors; unstalled, one
    block moves per cycle and a tile leaves every NUM_BLOCKS cycles."""
    import mase_hwlib
    from mase_hwlib import dot_layout

    rng = np.random.default_rng(5)
    fmt = mxf.BMF((16, 2), 4, 3, 8)
    x = (rng.standard_normal((4, 32)) * np.exp2(rng.integers(-8, 8, (4, 1)))).astype(np.float32)
    w = (rng.standard_normal((4, 32)) * 0.05).astype(np.float32)
    qx, qw = mxf.quantize(x, fmt), mxf.quantize(w, fmt)
    params, inputs = dot_layout.linear_beats(qx, qw)
    assert (params["X_ROWS"], params["W_ROWS"], params["NUM_BLOCKS"]) == (2, 2, 2)
    r = mase_hwlib.simulate("mase_bmf_dot", params, inputs)
    acc = dot_layout.linear_result(r.outputs, "mase_bmf_dot", params, 4, 4)
    dx, dw = mxf.dequantize(qx), mxf.dequantize(qw)
    lsb = Fraction(2) ** dot_layout.out_lsb_exp(fmt, fmt)
    for i in range(4):
        for j in range(4):
            want = sum((Fraction(float(a)) * Fraction(float(b)) for a, b in zip(dx[i], dw[j])), Fraction(0))
            assert Fraction(int(acc[i, j])) * lsb == want
    n_beats = len(inputs["x"]["data"])  # 4 tiles x 2 blocks
    assert r.first_output_latency == params["NUM_BLOCKS"]
    assert r.cycles_per_block == params["NUM_BLOCKS"]
    assert r.total_cycles == n_beats + 1


def test_linear_beats_refuses_mismatched_operands_by_name():
    from mase_hwlib import dot_layout

    x = np.ones((2, 16), np.float32)
    with pytest.raises(ValueError, match="need x \\(M, K\\) and w \\(N, K\\)"):
        dot_layout.linear_beats(mxf.quantize(x, mxf.BL((16,), 3, 4)), mxf.quantize(np.ones((2, 8), np.float32), mxf.BL((8,), 3, 4)))
    with pytest.raises(ValueError, match="M=2 is not a multiple of the tile extent 4"):
        fmt = mxf.BMF((16, 4), 4, 3, 8)
        dot_layout.linear_beats(mxf.quantize(np.ones((2, 16), np.float32), fmt), mxf.quantize(np.ones((4, 16), np.float32), fmt))
    with pytest.raises(TypeError, match="no tile dot product for format MXInt"):
        dot_layout.module_for(mxf.MXInt((16,), 8, 7))


@pytest.mark.parametrize(
    "module,cfg",
    [(m, c) for m, cs in DOT_CASES.items() for c in cs],
    ids=[f"{m}-{i}" for m, cs in DOT_CASES.items() for i in range(len(cs))],
)
def test_dot_lint_clean_at_bench_parameters(module, cfg):
    """Verilator 5.006 -Wall at every bench parameter set (widths change with them)."""
    if shutil.which("verilator") is None:
        pytest.skip("verilator not installed")
    lint(module, cfg["params"])


DOT_CORNERS = [
    ("mase_bmf_dot", {"BLOCK_K": 64, "X_ROWS": 4, "W_ROWS": 4, "EXP_BITS": 7, "MAN_BITS": 10, "NUM_BLOCKS": 4096}),
    ("mase_bmf_dot", {"BLOCK_K": 1, "EXP_BITS": 1, "MAN_BITS": 1, "BIAS_BITS": 2, "NUM_BLOCKS": 1}),
    ("mase_bl_dot", {"BLOCK_K": 64, "X_ROWS": 4, "W_ROWS": 4, "EXP_BITS": 7, "NUM_BLOCKS": 4096}),
    ("mase_bl_dot", {"BLOCK_K": 1, "EXP_BITS": 1, "BIAS_BITS": 2, "NUM_BLOCKS": 1}),
    ("mase_minifloat_dot", {"EXP_BITS": 8, "MAN_BITS": 10, "NUM_BLOCKS": 1}),
    ("mase_minifloat_dot", {"BLOCK_K": 1, "EXP_BITS": 1, "MAN_BITS": 1, "NUM_BLOCKS": 1}),
    ("mase_fixed_dot", {"BLOCK_K": 64, "X_ROWS": 4, "W_ROWS": 4, "X_WIDTH": 24, "W_WIDTH": 24, "NUM_BLOCKS": 4096}),
    ("mase_fixed_dot", {"BLOCK_K": 1, "X_WIDTH": 2, "W_WIDTH": 2, "NUM_BLOCKS": 1}),
]


@pytest.mark.parametrize("module,params", DOT_CORNERS, ids=[f"{m}-{i % 2}" for i, (m, _) in enumerate(DOT_CORNERS)])
def test_dot_lint_clean_at_parameter_range_corners(module, params):
    if shutil.which("verilator") is None:
        pytest.skip("verilator not installed")
    lint(module, params)
