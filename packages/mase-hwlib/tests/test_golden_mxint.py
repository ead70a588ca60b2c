"""The MXInt golden models against an independent oracle: exact rational arithmetic
(fractions.Fraction) re-quantized by mx_formats.quantize(..., "nearest_even").

This pins down the contract that ties the RTL (bit-equal to the golden model) to the
software emulation: output == quantize(exact result) whenever the exact result is a
float64 number. Pure Python, no simulator.
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
    _assert_rows_match(mxint.add(params, {"a": a, "b": b}), want, ok)


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
