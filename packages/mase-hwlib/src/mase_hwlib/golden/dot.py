"""Bit-exact golden models of the BMF, BL, fixed-point and minifloat dot products.

These mirror ``mase_bmf_dot``, ``mase_bl_dot``, ``mase_fixed_dot`` and
``mase_minifloat_dot`` integer for integer. All four stream *tiles*: one beat
holds a block of x (``X_ROWS x BLOCK_K`` element codes, one shared scale for
the block formats) and a block of w (``W_ROWS x BLOCK_K``); ``NUM_BLOCKS``
beats make one output tile of ``X_ROWS x W_ROWS`` sums.

Array layout (what the RTL sees, in stream order):

    x_codes: (T, NUM_BLOCKS, X_ROWS, BLOCK_K) unsigned element codes
    x_bias:  (T, NUM_BLOCKS)                  signed shared bias (BMF, BL)
    w_codes: (T, NUM_BLOCKS, W_ROWS, BLOCK_K)
    w_bias:  (T, NUM_BLOCKS)

Element codes are sign-magnitude with the sign on top, as mx_formats stores
them: minifloat/BMF ``sign | c (E bits) | f (M bits)``, BL ``sign | c (E bits)``;
fixed-point elements are signed integers (``MXArray.mantissas()``).

Decoding (integer only): a minifloat code with ``c >= 1`` has significand
``mag = 2^M + f`` and offset ``off = c - 1``; ``c = 0`` has ``mag = f``,
``off = 0``. Its value is ``(-1)^s mag 2^off 2^(1 - bias - M)``, so a product of
two elements is ``mag_x mag_w 2^(off_x + off_w)`` on the LSB ``2^(2 - bx - bw - 2M)``.

Block formats (BMF, BL): beat ``b`` gives the exact integer block sum ``S_b`` (one per
output lane) on the LSB exponent ``L_b = 2 - beta_x - beta_w - 2M`` (``M = 0`` for BL).
The ``NUM_BLOCKS`` terms ``(S_b, L_b)`` go through the bounded accumulator of
:mod:`mase_hwlib.golden.accumulate` (``ACC_WIDTH`` bits, ``ACC_ROUND``); the result is
``(acc, exp)`` with value ``acc * 2^exp`` per tile. ``ACC_WIDTH = 0`` is the exact mode:
the same accumulator with ``F = G`` fraction bits, ``G = 4*BIAS_HI + 2`` the largest
possible ``L_b`` gap (``BIAS_HI = 2^(bias_bits-1) - 1``), so nothing is ever rounded
and ``acc * 2^exp`` is the exact sum.

Scalar formats (minifloat, fixed point): every product has the same LSB, so the sum
is a plain exact integer ``acc``; the real value is ``acc * 2**out_lsb_exp``
(:func:`minifloat_out_lsb_exp`, :func:`fixed_out_lsb_exp`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mase_hwlib.golden import accumulate

#: The accumulators leave the RTL as little-endian 32-bit chunks (int64 beat
#: arrays cannot hold a 500-bit BMF accumulator): lane ``l*ACC_CHUNKS + c`` of
#: the ``y_data`` field is bits ``[32c, 32c+32)`` of output ``l``.
CHUNK_BITS = 32

__all__ = [
    "CHUNK_BITS",
    "acc_layout",
    "to_chunks",
    "from_chunks",
    "bmf_dot_beats",
    "bl_dot_beats",
    "minifloat_dot_beats",
    "fixed_dot_beats",
    "decode_minifloat",
    "bmf_dot",
    "bl_dot",
    "minifloat_dot",
    "fixed_dot",
    "bmf_term_width",
    "block_acc",
    "exact_int_acc_width",
    "minifloat_out_lsb_exp",
    "fixed_out_lsb_exp",
    "bias_hi",
]


def bias_hi(bias_bits: int) -> int:
    """Largest legal shared bias ``2^(bias_bits-1) - 1``."""
    return (1 << (bias_bits - 1)) - 1


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


# ---------------------------------------------------------------------------
# Accumulator widths


def bmf_term_width(block_k: int, exp_bits: int, man_bits: int) -> int:
    """Signed width TW of a BMF block sum: ``|mag_x mag_w| < 2^(2M+2)``, shifted by at most
    ``2(2^E-2)``, ``BLOCK_K`` of them: ``TW = 2(M+1) + 2(2^E-2) + clog2(BLOCK_K) + 1``
    (``M = 0`` is BL: ``2(2^E-2) + 1 + clog2(BLOCK_K) + 1``)."""
    prod = 2 * (man_bits + 1) + 2 * ((1 << exp_bits) - 2) if man_bits else 2 * ((1 << exp_bits) - 2) + 1
    return prod + accumulate.clog2(block_k) + 1


def block_acc(module: str, acc_width: int, term_width: int, n_terms: int, man_bits: int,
              bias_bits: int) -> dict:
    """The bounded accumulator of a BMF (``man_bits >= 1``) or BL (``man_bits = 0``) dot product.

    ``acc_width``: -1 the derived default, 0 exact, else at least ``TW + clog2(N+1)``
    (narrower raises ValueError naming ACC_WIDTH and the minimum). Returns ``ACC_WIDTH``
    (resolved; 0 stays 0), ``ACC_TERM_WIDTH`` (TW), ``ACC_TERMS`` (N), ``ACC_BITS`` (the
    built width; exact mode ``TW + clog2(N+1) + G``), ``ACC_FRAC`` (F), ``LSB_MIN`` /
    ``LSB_MAX`` (range of ``L_b = 2 - bx - bw - 2M``) and ``EXP_WIDTH`` (signed bits of
    ``y_exp``: every ``L_b``, ``R - F`` and their differences)."""
    hi = bias_hi(bias_bits)
    lsb_min, lsb_max = 2 - 2 * hi - 2 * man_bits, 2 + 2 * (hi + 1) - 2 * man_bits
    acc = accumulate.acc_config(module, acc_width, term_width, n_terms, lsb_min, lsb_max)
    return {
        **acc,
        "LSB_MIN": lsb_min,
        "LSB_MAX": lsb_max,
        "EXP_WIDTH": accumulate.clog2(max(-lsb_min, lsb_max) + acc["ACC_BITS"] + 1) + 1,
    }


def exact_int_acc_width(module: str, acc_width: int, acc_min: int) -> int:
    """ACC_WIDTH of the exact integer accumulators (minifloat, fixed point): -1 and 0 are the
    exact minimum ``acc_min``; a wider width is kept; a narrower one raises ValueError
    naming ACC_WIDTH and the minimum."""
    if acc_width in (-1, 0):
        return acc_min
    if acc_width < acc_min:
        raise ValueError(
            f"{module}: parameter ACC_WIDTH={acc_width} is below the minimum {acc_min} that holds "
            f"the exact sum; use ACC_WIDTH >= {acc_min}, or -1 / 0 (the exact minimum {acc_min})")
    return acc_width


# ---------------------------------------------------------------------------
# The dot products


def _block_terms(products: np.ndarray, x_bias: np.ndarray, w_bias: np.ndarray, man_bits: int):
    """Per beat: the exact block sums ``S_b`` (T, NB, XR, WR) and ``L_b`` (T, NB)."""
    return products.sum(axis=-1), 2 - x_bias - w_bias - 2 * man_bits


def _bounded(module, block_sums, lsb, acc_width, acc_round, term_width, man_bits, bias_bits):
    """Every tile's terms through :func:`accumulate.bounded_sum` -> (acc (T, XR, WR), exp (T,))."""
    t_, nb, xr, wr = block_sums.shape
    acc_cfg = block_acc(module, acc_width, term_width, nb, man_bits, bias_bits)
    rounding = accumulate.ROUNDINGS[acc_round]
    acc = np.empty((t_, xr, wr), dtype=object)
    exp = np.empty(t_, dtype=np.int64)
    for t in range(t_):
        terms = [([int(v) for v in block_sums[t, b].ravel()], int(lsb[t, b])) for b in range(nb)]
        lanes, exp[t] = accumulate.bounded_sum(terms, acc_cfg["ACC_BITS"], term_width, rounding)
        acc[t] = np.array(lanes, dtype=object).reshape(xr, wr)
    return acc, exp


def _check_round(acc_round: int) -> None:
    if acc_round not in accumulate.ROUNDINGS:
        raise ValueError(f"ACC_ROUND={acc_round}: expected one of {sorted(accumulate.ROUNDINGS)} "
                         f"({accumulate.ROUNDINGS})")


def bmf_dot(x_codes, x_bias, w_codes, w_bias, *, exp_bits: int, man_bits: int, bias_bits: int,
            acc_width: int = -1, acc_round: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """BMF tile dot products as ``mase_bmf_dot`` computes them: ``(acc, exp)``, the tile
    ``t`` being ``acc[t] * 2^exp[t]`` (acc (T, XR, WR) Python ints, exp (T,)).

    With ``acc_width = 0`` that is the exact ``sum_b sum_k x[t,b,i,k] * w[t,b,j,k]``; otherwise
    it differs from it by at most :func:`accumulate.error_bound`. Bias codes are two's
    complement ``bias_bits`` wide; every code (also the NaN marker ``-2^(bias_bits-1)``) is
    treated as a plain bias, as the RTL does.
    """
    _check_round(acc_round)
    code_max = (1 << (1 + exp_bits + man_bits)) - 1
    lo, hi = -(1 << (bias_bits - 1)), bias_hi(bias_bits)
    x = _as_int_array("x_codes", x_codes, 0, code_max)
    w = _as_int_array("w_codes", w_codes, 0, code_max)
    xb = _as_int_array("x_bias", x_bias, lo, hi)
    wb = _as_int_array("w_bias", w_bias, lo, hi)
    _check_tiles(x, w, xb, wb)
    products = _signed_products(*decode_minifloat(x, exp_bits, man_bits), *decode_minifloat(w, exp_bits, man_bits))
    sums, lsb = _block_terms(products, xb, wb, man_bits)
    return _bounded("mase_bmf_dot", sums, lsb, acc_width, acc_round,
                    bmf_term_width(x.shape[3], exp_bits, man_bits), man_bits, bias_bits)


def bl_dot(x_codes, x_bias, w_codes, w_bias, *, exp_bits: int, bias_bits: int,
           acc_width: int = -1, acc_round: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """BL tile dot products as ``mase_bl_dot`` computes them: ``(acc, exp)`` as in :func:`bmf_dot`.

    A BL element ``sign | c`` is zero for ``c = 0`` and ``2^(c - beta)`` otherwise:
    the minifloat decoding with no fraction bits, so the BMF path with ``M = 0``.
    """
    _check_round(acc_round)
    code_max = (1 << (1 + exp_bits)) - 1
    lo, hi = -(1 << (bias_bits - 1)), bias_hi(bias_bits)
    x = _as_int_array("x_codes", x_codes, 0, code_max)
    w = _as_int_array("w_codes", w_codes, 0, code_max)
    xb = _as_int_array("x_bias", x_bias, lo, hi)
    wb = _as_int_array("w_bias", w_bias, lo, hi)
    _check_tiles(x, w, xb, wb)
    products = _signed_products(*decode_minifloat(x, exp_bits, 0), *decode_minifloat(w, exp_bits, 0))
    sums, lsb = _block_terms(products, xb, wb, 0)
    return _bounded("mase_bl_dot", sums, lsb, acc_width, acc_round, bmf_term_width(x.shape[3], exp_bits, 0), 0,
                    bias_bits)


def minifloat_dot(x_codes, w_codes, *, exp_bits: int, man_bits: int) -> np.ndarray:
    """Exact scalar-minifloat tile dot products as ``mase_minifloat_dot`` computes them
    (one common LSB ``2^(2 - 2*bias - 2M)``; the bias does not enter the integers)."""
    code_max = (1 << (1 + exp_bits + man_bits)) - 1
    x = _as_int_array("x_codes", x_codes, 0, code_max)
    w = _as_int_array("w_codes", w_codes, 0, code_max)
    _check_tiles(x, w)
    products = _signed_products(*decode_minifloat(x, exp_bits, man_bits), *decode_minifloat(w, exp_bits, man_bits))
    return products.sum(axis=-1).sum(axis=1)


def fixed_dot(x_q, w_q, *, x_width: int, w_width: int) -> np.ndarray:
    """Exact integer tile dot products as ``mase_fixed_dot`` computes them:
    ``y[t,i,j] = sum_b sum_k qx[t,b,i,k] * qw[t,b,j,k]`` on two's-complement inputs."""
    x = _as_int_array("x_q", x_q, -(1 << (x_width - 1)), (1 << (x_width - 1)) - 1)
    w = _as_int_array("w_q", w_q, -(1 << (w_width - 1)), (1 << (w_width - 1)) - 1)
    _check_tiles(x, w)
    products = x[:, :, :, None, :].astype(object) * w[:, :, None, :, :].astype(object)
    return products.sum(axis=-1).sum(axis=1)


# ---------------------------------------------------------------------------
# The chunked output lanes


def acc_layout(acc_bits: int) -> dict[str, int]:
    """``ACC_BITS`` (the accumulator) sign-extended to ``OUT_WIDTH``: whole 32-bit chunks."""
    chunks = -(-acc_bits // CHUNK_BITS)
    return {"OUT_WIDTH": chunks * CHUNK_BITS, "ACC_CHUNKS": chunks}


def to_chunks(values: np.ndarray, chunks: int) -> np.ndarray:
    """Signed Python ints (any shape ``(n, lanes)``) as ``(n, lanes*chunks)`` int64
    32-bit chunks of their ``chunks*32``-bit two's-complement encoding."""
    values = np.asarray(values, dtype=object)
    n = values.shape[0]
    width = chunks * CHUNK_BITS
    mask = (1 << width) - 1
    out = np.zeros((n, values.size // max(n, 1) * chunks), dtype=np.int64)
    for t, row in enumerate(values.reshape(n, -1)):
        for lane, v in enumerate(row):
            word = int(v) & mask
            for c in range(chunks):
                out[t, lane * chunks + c] = (word >> (c * CHUNK_BITS)) & 0xFFFFFFFF
    return out


def from_chunks(chunked: np.ndarray, chunks: int) -> np.ndarray:
    """Inverse of :func:`to_chunks`: ``(n, lanes*chunks)`` chunks -> ``(n, lanes)``
    object array of signed Python ints."""
    chunked = np.asarray(chunked)
    n, total = chunked.shape
    width = chunks * CHUNK_BITS
    out = np.empty((n, total // chunks), dtype=object)
    for t in range(n):
        for lane in range(total // chunks):
            word = 0
            for c in range(chunks):
                word |= int(chunked[t, lane * chunks + c]) << (c * CHUNK_BITS)
            out[t, lane] = word - (1 << width) if word >> (width - 1) else word
    return out


# ---------------------------------------------------------------------------
# Beat-array adapters used by the catalog (golden(params, inputs) -> outputs)


def _tiles(module: str, inputs: Mapping, stream: str, field: str, params: Mapping, rows_key: str) -> np.ndarray:
    data = np.asarray(inputs[stream][field])
    nb, rows, bk = params["NUM_BLOCKS"], params[rows_key], params["BLOCK_K"]
    if data.shape[0] % nb:
        raise ValueError(f"{module}: {data.shape[0]} {stream} beats is not a whole number of NUM_BLOCKS={nb} beats")
    return data.reshape(-1, nb, rows, bk)


def _scales(inputs: Mapping, stream: str, params: Mapping) -> np.ndarray:
    return np.asarray(inputs[stream]["bias"]).reshape(-1, params["NUM_BLOCKS"])


def _output(acc: np.ndarray, params: Mapping, exp: np.ndarray | None = None) -> dict:
    n = acc.shape[0]
    y = {"data": to_chunks(acc.reshape(n, -1), params["ACC_CHUNKS"])}
    if exp is not None:
        y["exp"] = np.asarray(exp, dtype=np.int64).reshape(n, 1)
    return {"y": y}


def _same_beats(module: str, inputs: Mapping) -> None:
    nx, nw = len(inputs["x"]["data"]), len(inputs["w"]["data"])
    if nx != nw:
        raise ValueError(f"{module}: streams x and w need the same beat count, got {nx} and {nw}")


def bmf_dot_beats(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_bmf_dot`` on beat arrays (``params`` resolved by the catalog)."""
    _same_beats("mase_bmf_dot", inputs)
    acc, exp = bmf_dot(
        _tiles("mase_bmf_dot", inputs, "x", "data", params, "X_ROWS"),
        _scales(inputs, "x", params),
        _tiles("mase_bmf_dot", inputs, "w", "data", params, "W_ROWS"),
        _scales(inputs, "w", params),
        exp_bits=params["EXP_BITS"],
        man_bits=params["MAN_BITS"],
        bias_bits=params["BIAS_BITS"],
        acc_width=params["ACC_WIDTH"],
        acc_round=params["ACC_ROUND"],
    )
    return _output(acc, params, exp)


def bl_dot_beats(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_bl_dot`` on beat arrays (``params`` resolved by the catalog)."""
    _same_beats("mase_bl_dot", inputs)
    acc, exp = bl_dot(
        _tiles("mase_bl_dot", inputs, "x", "data", params, "X_ROWS"),
        _scales(inputs, "x", params),
        _tiles("mase_bl_dot", inputs, "w", "data", params, "W_ROWS"),
        _scales(inputs, "w", params),
        exp_bits=params["EXP_BITS"],
        bias_bits=params["BIAS_BITS"],
        acc_width=params["ACC_WIDTH"],
        acc_round=params["ACC_ROUND"],
    )
    return _output(acc, params, exp)


def minifloat_dot_beats(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_minifloat_dot`` on beat arrays."""
    _same_beats("mase_minifloat_dot", inputs)
    acc = minifloat_dot(
        _tiles("mase_minifloat_dot", inputs, "x", "data", params, "X_ROWS"),
        _tiles("mase_minifloat_dot", inputs, "w", "data", params, "W_ROWS"),
        exp_bits=params["EXP_BITS"],
        man_bits=params["MAN_BITS"],
    )
    return _output(acc, params)


def fixed_dot_beats(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_fixed_dot`` on beat arrays."""
    _same_beats("mase_fixed_dot", inputs)
    acc = fixed_dot(
        _tiles("mase_fixed_dot", inputs, "x", "data", params, "X_ROWS"),
        _tiles("mase_fixed_dot", inputs, "w", "data", params, "W_ROWS"),
        x_width=params["X_WIDTH"],
        w_width=params["W_WIDTH"],
    )
    return _output(acc, params)
