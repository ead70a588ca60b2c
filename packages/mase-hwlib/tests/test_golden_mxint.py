"""The MXInt golden models against an independent oracle: exact rational arithmetic
(fractions.Fraction) re-quantized by mx_formats.quantize(..., "nearest_even").

This pins down the contract that ties the RTL (bit-equal to the golden model) to the
software emulation: output == quantize(exact result) whenever the exact result is a
float64 number — for the exact operators (cast, relu, mul) and for add, matmul and
linear on their exact datapath (ACC_WIDTH = 0). Their bounded datapath (the default) is
checked against its own rational statement in test_bounded_accumulation.py. Pure Python,
no simulator.
"""

from fractions import Fraction

import mx_formats as mxf
import numpy as np
import pytest

from mase_hwlib import catalog, streams
from mase_hwlib.golden import mxint
from mase_hwlib.testing import mxint_blocks


def _values(beats, man):
    """Exact block values q * 2^(s - m + 1) as Fractions, shape (n, lanes)."""
    return [[Fraction(int(q)) * Fraction(2) ** (int(s) - man + 1) for q in row]
            for row, s in zip(beats["mant"], beats["exp"][:, 0])]


def _quantize_rows(rows, fmt, b0, b1):
    """mx_formats.quantize of exact rows (one block per row, tile b1 x b0) as beats.

    Returns None for a row whose exact values are not float64 numbers.
    """
    x = np.array([[float(v) for v in r] for r in rows], dtype=np.float64)
    exact = np.array([[Fraction(float(v)) == v for v in r] for r in rows])
    q = mxf.quantize(x.reshape(-1, b1, b0), fmt, axes=(-1, -2) if b1 > 1 else (-1,),
                     rounding="nearest_even") if b1 > 1 else mxf.quantize(x, fmt, rounding="nearest_even")
    return streams.mx_to_beats(q), exact.all(axis=1)


def _fmt(b0, b1, e, m):
    return mxf.MXInt((b0, b1) if b1 > 1 else (b0,), e, m)


def _assert_rows_match(got, want, ok):
    assert ok.sum() > len(ok) // 2, "most rows should be exactly representable"
    np.testing.assert_array_equal(got["y"]["mant"][ok], want["mant"][ok])
    np.testing.assert_array_equal(got["y"]["exp"][ok], want["exp"][ok])


@pytest.mark.parametrize("b0,b1,im,ie,om,oe", [(4, 1, 7, 8, 3, 8), (4, 2, 5, 5, 7, 4), (16, 1, 7, 8, 7, 8)])
def test_cast_and_relu_equal_quantize_of_exact(b0, b1, im, ie, om, oe):
    rng = np.random.default_rng(0)
    x = mxint_blocks(200, b0 * b1, im, ie, rng, exp_range=(-(1 << (oe - 1)) - 1, 1 << (oe - 1)))
    params = catalog.get("mase_mxint_cast").resolve(
        dict(BLOCK_0=b0, BLOCK_1=b1, IN_MAN=im, IN_EXP=ie, OUT_MAN=om, OUT_EXP=oe))
    vals = _values(x, im)
    want, ok = _quantize_rows(vals, _fmt(b0, b1, oe, om), b0, b1)
    _assert_rows_match(mxint.cast(params, {"x": x}), want, ok)
    want, ok = _quantize_rows([[max(v, 0) for v in r] for r in vals], _fmt(b0, b1, oe, om), b0, b1)
    _assert_rows_match(mxint.relu(params, {"x": x}), want, ok)


@pytest.mark.parametrize("b0,am,ae,bm,be,om,oe", [(4, 7, 8, 7, 8, 7, 8), (8, 3, 4, 6, 5, 4, 6)])
def test_mul_and_add_equal_quantize_of_exact(b0, am, ae, bm, be, om, oe):
    rng = np.random.default_rng(1)
    near = (1 << (oe - 1)) // 2
    a = mxint_blocks(200, b0, am, ae, rng, exp_range=(-near, near))
    b = mxint_blocks(200, b0, bm, be, rng, exp_range=(-near, near))
    params = catalog.get("mase_mxint_mul").resolve(
        dict(BLOCK_0=b0, BLOCK_1=1, A_MAN=am, A_EXP=ae, B_MAN=bm, B_EXP=be, OUT_MAN=om, OUT_EXP=oe))
    va, vb = _values(a, am), _values(b, bm)
    fmt = _fmt(b0, 1, oe, om)
    want, ok = _quantize_rows([[x * y for x, y in zip(r, s)] for r, s in zip(va, vb)], fmt, b0, 1)
    _assert_rows_match(mxint.mul(params, {"a": a, "b": b}), want, ok)
    want, ok = _quantize_rows([[x + y for x, y in zip(r, s)] for r, s in zip(va, vb)], fmt, b0, 1)
    exact_add = catalog.get("mase_mxint_add").resolve(
        dict(BLOCK_0=b0, BLOCK_1=1, A_MAN=am, A_EXP=ae, B_MAN=bm, B_EXP=be, OUT_MAN=om, OUT_EXP=oe, ACC_WIDTH=0))
    _assert_rows_match(mxint.add(exact_add, {"a": a, "b": b}), want, ok)


def test_normalize_rounds_half_to_even_and_saturates():
    # m=2: steps of 2^(s-1); 0b101 * 2^0 with s=2 -> 5/2 = 2.5 -> 2 (even); 0b111 -> 3.5 -> 4 -> saturate 3
    assert mxint.normalize_block([5, 4, 0], 0, 2, 4) == ([2, 2, 0], 2)
    assert mxint.normalize_block([7, -3], 0, 2, 4) == ([3, -2], 2)  # -1.5 -> -2 (even)
    # block exponent above emax=1 saturates the largest elements, keeps small ones
    assert mxint.normalize_block([64, 1], 0, 2, 2) == ([3, 1], 1)
    # all zero -> minimum exponent
    assert mxint.normalize_block([0, 0], 5, 3, 3) == ([0, 0], -3)


def test_golden_refuses_codes_outside_the_format():
    params = catalog.get("mase_mxint_cast").resolve(dict(IN_MAN=3))
    bad = {"mant": np.array([[-8, 0, 0, 0]]), "exp": np.array([[0]])}
    with pytest.raises(ValueError, match=r"x_mant holds 8: MXInt elements are limited to \+-\(2\^3-1\)"):
        mxint.cast(params, {"x": bad})


def _exact(q):
    """Exact values of an MXArray as a Fraction object array (original shape)."""
    v = mxf.dequantize(q).astype(np.float64)  # float32 holds every MXInt value used here exactly
    return np.vectorize(Fraction, otypes=[object])(v)


@pytest.mark.parametrize("has_bias", [0, 1])
def test_linear_on_real_tensors_equals_quantize_of_exact_result(has_bias):
    """x [6, 16] @ W[8, 16]^T + b through the exact (Kulisch) golden model == quantize(exact float result)."""
    rng = np.random.default_rng(7)
    bk, xr, ot = 4, 2, 4
    fx, fw, fb, fo = (mxf.MXInt((bk, xr), 8, 7), mxf.MXInt((bk, ot), 8, 5),
                      mxf.MXInt((ot,), 8, 7), mxf.MXInt((ot, xr), 8, 6))
    x, w, b = rng.standard_normal((6, 16)), rng.standard_normal((8, 16)), rng.standard_normal(8)
    qx, qw, qb = (mxf.quantize(x, fx, axes=(-1, -2)), mxf.quantize(w, fw, axes=(-1, -2)), mxf.quantize(b, fb))
    params = catalog.get("mase_mxint_linear").resolve(dict(
        BLOCK_K=bk, X_ROWS=xr, OUT_TILE=ot, IN_TILES=4, OUT_TILES=2, X_MAN=7, W_MAN=5, OUT_MAN=6,
        HAS_BIAS=has_bias, BIAS_MAN=7, ACC_WIDTH=0))
    groups = 6 // xr
    wb = streams.mx_to_beats(qw)
    bb = streams.mx_to_beats(qb)
    inputs = {"x": streams.mx_to_beats(qx),
              "w": {k: np.tile(v, (groups, 1)) for k, v in wb.items()},
              "b": {k: np.tile(v, (groups, 1)) for k, v in bb.items()}}
    got = streams.beats_to_mx(mxint.linear(params, inputs)["y"], fo, (6, 8), (-1, -2))
    exact = _exact(qx) @ _exact(qw).T + (_exact(qb) if has_bias else 0)
    as_float = exact.astype(np.float64)
    assert all(Fraction(f) == e for f, e in zip(as_float.ravel(), exact.ravel()))  # exact in float64
    want = mxf.quantize(as_float, fo, axes=(-1, -2), rounding="nearest_even")
    np.testing.assert_array_equal(got.elements, want.elements)
    np.testing.assert_array_equal(got.scales, want.scales)


def test_matmul_on_real_tensors_equals_quantize_of_exact_result():
    rng = np.random.default_rng(8)
    fa, fb, fo = mxf.MXInt((4, 2), 6, 7), mxf.MXInt((4, 2), 6, 7), mxf.MXInt((2, 2), 8, 4)
    a, b = rng.standard_normal((4, 12)), rng.standard_normal((12, 6)) * 8
    qa, qb = mxf.quantize(a, fa, axes=(-1, -2)), mxf.quantize(b, fb, axes=(-2, -1))
    params = catalog.get("mase_mxint_matmul").resolve(dict(
        BLOCK_K=4, A_ROWS=2, B_COLS=2, K_TILES=3, A_EXP=6, B_EXP=6, OUT_MAN=4, ACC_WIDTH=0))
    ab, bb = streams.mx_to_beats(qa), streams.mx_to_beats(qb)  # grids (2 row tiles, 3 k) and (3 col tiles, 3 k)
    # output tile (i, j) needs A row-tile i and B col-tile j over k: repeat/interleave the tiles
    a_seq = {k: np.concatenate([v.reshape(2, 3, -1)[i] for i in range(2) for _ in range(3)]) for k, v in ab.items()}
    b_seq = {k: np.concatenate([v.reshape(3, 3, -1)[j] for _ in range(2) for j in range(3)]) for k, v in bb.items()}
    got = streams.beats_to_mx(mxint.matmul(params, {"a": a_seq, "b": b_seq})["y"], fo, (4, 6), (-1, -2))
    exact = _exact(qa) @ _exact(qb)
    want = mxf.quantize(exact.astype(np.float64), fo, axes=(-1, -2), rounding="nearest_even")
    np.testing.assert_array_equal(got.elements, want.elements)
    np.testing.assert_array_equal(got.scales, want.scales)
