"""Exact golden models of the BMF, BL, fixed-point and minifloat dot products.

These mirror ``mase_bmf_dot``, ``mase_bl_dot``, ``mase_fixed_dot`` and
``mase_minifloat_dot`` integer for integer. All four stream *tiles*: one beat
holds a block of x (``X_ROWS x BLOCK_K`` element codes, one shared scale for
the block formats) and a block of w (``W_ROWS x BLOCK_K``); ``NUM_BLOCKS``
beats make one output tile of ``X_ROWS x W_ROWS`` exact sums.

Array layout (what the RTL sees, in stream order):

    x_codes: (T, NUM_BLOCKS, X_ROWS, BLOCK_K) unsigned element codes
    x_bias:  (T, NUM_BLOCKS)                  signed shared bias (BMF, BL)
    w_codes: (T, NUM_BLOCKS, W_ROWS, BLOCK_K)
    w_bias:  (T, NUM_BLOCKS)
    result:  (T, X_ROWS, W_ROWS) Python ints ``acc``; the real value is
             ``acc * 2**out_lsb_exp`` (see the ``*_out_lsb_exp`` functions).

Element codes are sign-magnitude with the sign on top, as mx_formats stores
them: minifloat/BMF ``sign | c (E bits) | f (M bits)``, BL ``sign | c (E bits)``;
fixed-point elements are signed integers (``MXArray.mantissas()``).

Decoding (integer only): a minifloat code with ``c >= 1`` has significand
``mag = 2^M + f`` and offset ``off = c - 1``; ``c = 0`` has ``mag = f``,
``off = 0``. Its value is ``(-1)^s mag 2^off 2^(1 - bias - M)``, so a product of
two elements is ``mag_x mag_w 2^(off_x + off_w)`` on the LSB ``2^(2 - bx - bw - 2M)``.
For the block formats each beat's sum ``S_b`` is moved onto one LSB for the
whole bias range by ``shift_b = 2*BIAS_HI - beta_x - beta_w`` (``BIAS_HI =
2^(bias_bits-1) - 1``), which makes the accumulation exact for every block.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "decode_minifloat",
    "bmf_dot",
    "bl_dot",
    "minifloat_dot",
    "fixed_dot",
    "bmf_out_lsb_exp",
    "bl_out_lsb_exp",
    "minifloat_out_lsb_exp",
    "fixed_out_lsb_exp",
    "bias_hi",
]


def bias_hi(bias_bits: int) -> int:
    """Largest legal shared bias ``2^(bias_bits-1) - 1``."""
    return (1 << (bias_bits - 1)) - 1


def bmf_out_lsb_exp(man_bits: int, bias_bits: int) -> int:
    """The BMF dot output is ``acc * 2^(2 - 2*BIAS_HI - 2*M)``."""
    return 2 - 2 * bias_hi(bias_bits) - 2 * man_bits


def bl_out_lsb_exp(bias_bits: int) -> int:
    """The BL dot output is ``acc * 2^(2 - 2*BIAS_HI)``."""
    return 2 - 2 * bias_hi(bias_bits)


def minifloat_out_lsb_exp(man_bits: int, exp_bias: int) -> int:
    """The minifloat dot output is ``acc * 2^(2 - 2*bias - 2*M)``."""
    return 2 - 2 * exp_bias - 2 * man_bits


def fixed_out_lsb_exp(x_frac: int, w_frac: int) -> int:
    """The fixed-point dot output is ``acc * 2^-(x_frac + w_frac)``."""
    return -(x_frac + w_frac)


def _as_int_array(name: str, value, lo: int, hi: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected an integer array, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < lo or arr.max() > hi):
        bad = arr[(arr < lo) | (arr > hi)].ravel()[0]
        raise ValueError(f"{name}: value {bad} is outside the legal range [{lo}, {hi}]")
    return arr


def _check_tiles(x: np.ndarray, w: np.ndarray, x_scale=None, w_scale=None) -> None:
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(
            f"x_codes and w_codes must be (T, NUM_BLOCKS, ROWS, BLOCK_K); got shapes {x.shape} and {w.shape}"
        )
    if x.shape[:2] != w.shape[:2] or x.shape[3] != w.shape[3]:
        raise ValueError(f"x_codes {x.shape} and w_codes {w.shape} disagree on T, NUM_BLOCKS or BLOCK_K")
    for name, scale, codes in (("x_bias", x_scale, x), ("w_bias", w_scale, w)):
        if scale is not None and scale.shape != codes.shape[:2]:
            raise ValueError(f"{name} must have shape (T, NUM_BLOCKS) = {codes.shape[:2]}, got {scale.shape}")


def decode_minifloat(codes: np.ndarray, exp_bits: int, man_bits: int):
    """Split minifloat codes into ``(sign, mag, off)`` int64 arrays (see module doc)."""
    codes = np.asarray(codes, dtype=np.int64)
    sign = (codes >> (exp_bits + man_bits)) & 1
    c = (codes >> man_bits) & ((1 << exp_bits) - 1)
    f = codes & ((1 << man_bits) - 1)
    normal = c != 0
    mag = np.where(normal, f + (1 << man_bits), f)
    off = np.where(normal, c - 1, 0)
    return sign, mag, off


def _signed_products(sx, mx, ox, sw, mw, ow) -> np.ndarray:
    """Exact products for every (t, b, i, j, k) as Python ints (object array)."""
    mag = mx[:, :, :, None, :].astype(object) * mw[:, :, None, :, :].astype(object)
    off = ox[:, :, :, None, :].astype(object) + ow[:, :, None, :, :].astype(object)
    neg = (sx[:, :, :, None, :] ^ sw[:, :, None, :, :]).astype(bool)
    term = mag << off
    return np.where(neg, -term, term)


def _accumulate_blocks(block_sums: np.ndarray, shift: np.ndarray | None) -> np.ndarray:
    """Sum (T, NB, XR, WR) per-beat sums over NB after the left shift per beat."""
    if shift is not None:
        block_sums = block_sums << shift.astype(object)[:, :, None, None]
    return block_sums.sum(axis=1)


def _block_shift(x_bias: np.ndarray, w_bias: np.ndarray, bias_bits: int) -> np.ndarray:
    return 2 * bias_hi(bias_bits) - x_bias - w_bias


def bmf_dot(x_codes, x_bias, w_codes, w_bias, *, exp_bits: int, man_bits: int, bias_bits: int) -> np.ndarray:
    """Exact BMF tile dot products as ``mase_bmf_dot`` computes them.

    ``y[t,i,j] * 2^bmf_out_lsb_exp == sum_b sum_k x[t,b,i,k] * w[t,b,j,k]`` exactly.
    Bias codes are two's complement ``bias_bits`` wide; every code (also the
    NaN marker ``-2^(bias_bits-1)``) is treated as a plain bias, as the RTL does.
    """
    code_max = (1 << (1 + exp_bits + man_bits)) - 1
    lo, hi = -(1 << (bias_bits - 1)), bias_hi(bias_bits)
    x = _as_int_array("x_codes", x_codes, 0, code_max)
    w = _as_int_array("w_codes", w_codes, 0, code_max)
    xb = _as_int_array("x_bias", x_bias, lo, hi)
    wb = _as_int_array("w_bias", w_bias, lo, hi)
    _check_tiles(x, w, xb, wb)
    products = _signed_products(*decode_minifloat(x, exp_bits, man_bits), *decode_minifloat(w, exp_bits, man_bits))
    return _accumulate_blocks(products.sum(axis=-1), _block_shift(xb, wb, bias_bits))


def bl_dot(x_codes, x_bias, w_codes, w_bias, *, exp_bits: int, bias_bits: int) -> np.ndarray:
    """Exact BL tile dot products as ``mase_bl_dot`` computes them.

    A BL element ``sign | c`` is zero for ``c = 0`` and ``2^(c - beta)`` otherwise:
    the minifloat decoding with no fraction bits, so the BMF path with ``M = 0``.
    """
    code_max = (1 << (1 + exp_bits)) - 1
    lo, hi = -(1 << (bias_bits - 1)), bias_hi(bias_bits)
    x = _as_int_array("x_codes", x_codes, 0, code_max)
    w = _as_int_array("w_codes", w_codes, 0, code_max)
    xb = _as_int_array("x_bias", x_bias, lo, hi)
    wb = _as_int_array("w_bias", w_bias, lo, hi)
    _check_tiles(x, w, xb, wb)
    products = _signed_products(*decode_minifloat(x, exp_bits, 0), *decode_minifloat(w, exp_bits, 0))
    return _accumulate_blocks(products.sum(axis=-1), _block_shift(xb, wb, bias_bits))


def minifloat_dot(x_codes, w_codes, *, exp_bits: int, man_bits: int) -> np.ndarray:
    """Exact scalar-minifloat tile dot products as ``mase_minifloat_dot`` computes them
    (one common LSB ``2^(2 - 2*bias - 2M)``; the bias does not enter the integers)."""
    code_max = (1 << (1 + exp_bits + man_bits)) - 1
    x = _as_int_array("x_codes", x_codes, 0, code_max)
    w = _as_int_array("w_codes", w_codes, 0, code_max)
    _check_tiles(x, w)
    products = _signed_products(*decode_minifloat(x, exp_bits, man_bits), *decode_minifloat(w, exp_bits, man_bits))
    return _accumulate_blocks(products.sum(axis=-1), None)


def fixed_dot(x_q, w_q, *, x_width: int, w_width: int) -> np.ndarray:
    """Exact integer tile dot products as ``mase_fixed_dot`` computes them:
    ``y[t,i,j] = sum_b sum_k qx[t,b,i,k] * qw[t,b,j,k]`` on two's-complement inputs."""
    x = _as_int_array("x_q", x_q, -(1 << (x_width - 1)), (1 << (x_width - 1)) - 1)
    w = _as_int_array("w_q", w_q, -(1 << (w_width - 1)), (1 << (w_width - 1)) - 1)
    _check_tiles(x, w)
    products = x[:, :, :, None, :].astype(object) * w[:, :, None, :, :].astype(object)
    return _accumulate_blocks(products.sum(axis=-1), None)
