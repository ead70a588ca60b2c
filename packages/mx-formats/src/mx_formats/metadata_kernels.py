"""numba kernels of the metadata-augmented FP4 formats: NVFP4 and M2XFP (ES and EM).

Same working view as ``kernels.py`` with 1-D blocks: ``x[rows, C]`` (float32),
blocks of ``block`` columns, one thread per row (``prange``). Outputs: values
(float32), FP4 codes (uint8, ``sign << 3 | k``), ``scales[rows, blocks]`` (int16)
and ``meta[rows, subgroups]`` (uint8, M2XFP only).

Exactness without a float log2 or a nudge:

* Exponents come from the float32 bits of the block maximum (``kernels.log2_parts``).
* Rounding to a grid is a count of exact comparisons: ``k`` = the number of
  midpoints ``mid_j * unit`` below ``|x|``, and at ``|x| == mid_j`` the even code
  wins (code parity is mantissa parity on the FP4, FP6 and E4M3 grids). Every
  product ``mid_j * unit`` is exact in float64: ``mid_j`` has at most 5
  significant bits, ``unit`` at most 28 (NVFP4: E4M3 scale times the float32
  tensor scale; M2XFP: ``(4 + meta) * 2^(s-2)``).
* M2XFP-ES compares squared errors exactly: ``sum (x - y)^2`` differs between
  candidates only by ``sum y (y - 2|x|)`` (``sum x^2`` is common), and each term
  is an integer multiple of ``2^(s-3) * 2^(s0-26)`` below 2^38 of those units
  (``y = n 2^(s-3)`` with ``n <= 84``; ``|x| < 2^(s0+3)``; a nonzero ``y`` needs
  ``|x| > 2^(s0-3)``, whose float32 ulp is at least ``2^(s0-26)``), so a sum over
  up to 1024 elements is exact in float64, in any order.

NaN or Inf in a block makes it a NaN block (all NaN, codes 0, meta 0, scale
``scale_nan``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mx_formats import kernels as K

FP4_VALUES = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
FP4_MIDS = (FP4_VALUES[1:] + FP4_VALUES[:-1]) / 2
# FP6 E2M3 magnitudes, codes 0..31: subnormals f/8, then 2^(c-1) * (1 + f/8)
FP6_VALUES = np.array([f / 8 if c == 0 else 2.0 ** (c - 1) * (1 + f / 8) for c in range(4) for f in range(8)])
FP6_MIDS = (FP6_VALUES[1:] + FP6_VALUES[:-1]) / 2
# FP8 E4M3 magnitudes, codes 0..126 (127 is NaN): subnormals f/8 * 2^-6, then 2^(c-7) * (1 + f/8)
E4M3_VALUES = np.array([f / 8 * 2.0**-6 if c == 0 else 2.0 ** (c - 7) * (1 + f / 8) for c in range(16) for f in range(8)])[:127]
E4M3_MIDS = (E4M3_VALUES[1:] + E4M3_VALUES[:-1]) / 2
FLT_MAX = float(np.finfo(np.float32).max)
NVFP4_AMAX_DIVISOR = 448.0 * 6.0


@njit(cache=True)
def round_code(a, mids, lo, hi, unit):
    """Nearest-even code in [lo, hi] of a >= 0 on a grid (values[j] * unit), from its midpoints."""
    code = lo
    for j in range(lo, hi):
        t = mids[j] * unit
        if a > t or (a == t and (j & 1) == 1):
            code = j + 1
        else:
            break
    return code


@njit(cache=True)
def _block_top(xb, r, c0, c1):
    top = np.int64(0)
    for c in range(c0, c1):
        top = max(top, np.int64(xb[r, c] & 0x7FFFFFFF))
    return top


@njit(cache=True)
def _ocp_exponent(top):
    """OCP MXFP4 shared exponent of a block from its largest magnitude bits."""
    if top == 0:
        return -127
    return min(max(K.log2_parts(top, 23, 127)[0] - 2, -127), 127)


@njit(cache=True)
def _nan_block(r, c0, c1, out, codes, want_values, want_codes):
    for c in range(c0, c1):
        if want_values:
            out[r, c] = np.nan
        if want_codes:
            codes[r, c] = 0


@njit(cache=True)
def _m2xfp_nan_block(r, b, c0, c1, ng, per_block, out, codes, scales, meta, want_values, want_codes):
    """An M2XFP block with a NaN / Inf: NaN values, zero codes, the E8M0 NaN scale (128 here),
    zero metadata for its ``ng`` subgroups (both variants)."""
    _nan_block(r, c0, c1, out, codes, want_values, want_codes)
    if want_codes:
        scales[r, b] = 128
        for g in range(ng):
            meta[r, b * per_block + g] = 0


# --------------------------------------------------------------------------- M2XFP extra scale
@njit(cache=True)
def _es_subgroup(x, r, g0, g1, s):
    """(least error term sum, its meta) of one subgroup at block exponent s; (inf, 0) if none fits float32."""
    best, best_m = np.inf, 0
    for m in range(4):
        unit = (4 + m) * K.POW2[K.POW2_OFFSET + s - 2]
        err, fits = 0.0, True
        for c in range(g0, g1):
            a = abs(np.float64(x[r, c]))
            y = FP4_VALUES[round_code(a, FP4_MIDS, 0, 7, unit)] * unit
            if y > FLT_MAX:
                fits = False
                break
            err += y * (y - 2.0 * a)
        if fits and err < best:
            best, best_m = err, m
    return best, best_m


@njit(parallel=True, cache=True)
def encode_m2xfp_es(x, xb, block, sub, out, codes, scales, meta, want_values, want_codes):
    rows, C = x.shape
    nblocks = (C + block - 1) // block
    for r in prange(rows):
        chosen = np.zeros(block // sub, np.int64)
        trial = np.zeros(block // sub, np.int64)
        for b in range(nblocks):
            c0, c1 = b * block, min(b * block + block, C)
            ng = (c1 - c0 + sub - 1) // sub
            top = _block_top(xb, r, c0, c1)
            if top >= 0x7F800000:
                _m2xfp_nan_block(r, b, c0, c1, ng, block // sub, out, codes, scales, meta, want_values, want_codes)
                continue
            s0 = _ocp_exponent(top)
            best, best_s = np.inf, s0
            for d in (0, -1, 1):
                s = s0 + d
                if s < -127 or s > 127:
                    continue
                total = 0.0
                for g in range(ng):
                    e, m = _es_subgroup(x, r, c0 + g * sub, min(c0 + g * sub + sub, c1), s)
                    total += e
                    trial[g] = m
                if total < best:
                    best, best_s = total, s
                    for g in range(ng):
                        chosen[g] = trial[g]
            if want_codes:
                scales[r, b] = best_s
            for g in range(ng):
                m = chosen[g]
                if want_codes:
                    meta[r, b * (block // sub) + g] = m
                unit = (4 + m) * K.POW2[K.POW2_OFFSET + best_s - 2]
                for c in range(c0 + g * sub, min(c0 + g * sub + sub, c1)):
                    v = np.float64(x[r, c])
                    k = round_code(abs(v), FP4_MIDS, 0, 7, unit)
                    neg = v < 0 and k != 0
                    if want_values:
                        y = FP4_VALUES[k] * unit
                        out[r, c] = -y if neg else y
                    if want_codes:
                        codes[r, c] = k | (8 if neg else 0)


@njit(parallel=True, cache=True)
def decode_m2xfp_es(codes, scales, meta, block, sub, out):
    rows, C = codes.shape
    for r in prange(rows):
        for c in range(C):
            s = np.int64(scales[r, c // block])
            if s > 127:
                out[r, c] = np.nan
                continue
            unit = (4 + np.int64(meta[r, c // sub])) * K.POW2[K.POW2_OFFSET + s - 2]
            code = np.int64(codes[r, c])
            y = FP4_VALUES[code & 7] * unit
            out[r, c] = -y if code & 8 else y


# --------------------------------------------------------------------------- M2XFP extra mantissa
@njit(cache=True)
def fp6_window(k):
    """First of the four FP6 codes that the largest FP4 code k of a subgroup may take."""
    return min(max(4 * k - 1, 0), 28)


@njit(parallel=True, cache=True)
def encode_m2xfp_em(x, xb, block, sub, out, codes, scales, meta, want_values, want_codes):
    rows, C = x.shape
    nblocks = (C + block - 1) // block
    for r in prange(rows):
        for b in range(nblocks):
            c0, c1 = b * block, min(b * block + block, C)
            ng = (c1 - c0 + sub - 1) // sub
            top = _block_top(xb, r, c0, c1)
            if top >= 0x7F800000:
                _m2xfp_nan_block(r, b, c0, c1, ng, block // sub, out, codes, scales, meta, want_values, want_codes)
                continue
            s = _ocp_exponent(top)
            unit = K.POW2[K.POW2_OFFSET + s]
            if want_codes:
                scales[r, b] = s
            for g in range(ng):
                g0, g1 = c0 + g * sub, min(c0 + g * sub + sub, c1)
                pick, kmax = g0, -1
                for c in range(g0, g1):
                    v = np.float64(x[r, c])
                    k = round_code(abs(v), FP4_MIDS, 0, 7, unit)
                    if k > kmax:
                        pick, kmax = c, k
                    neg = v < 0 and k != 0
                    if want_values:
                        y = FP4_VALUES[k] * unit
                        out[r, c] = -y if neg else y
                    if want_codes:
                        codes[r, c] = k | (8 if neg else 0)
                w = fp6_window(kmax)
                v = np.float64(x[r, pick])
                j = round_code(abs(v), FP6_MIDS, w, w + 3, unit)
                neg = v < 0 and j != 0
                if want_values:
                    y = FP6_VALUES[j] * unit
                    out[r, pick] = -y if neg else y
                if want_codes:
                    codes[r, pick] = kmax | (8 if neg else 0)
                    meta[r, b * (block // sub) + g] = j - w


@njit(parallel=True, cache=True)
def decode_m2xfp_em(codes, scales, meta, block, sub, out):
    rows, C = codes.shape
    ngroups = (C + sub - 1) // sub
    for r in prange(rows):
        for g in range(ngroups):
            g0, g1 = g * sub, min(g * sub + sub, C)
            s = np.int64(scales[r, g0 // block])
            if s > 127:
                for c in range(g0, g1):
                    out[r, c] = np.nan
                continue
            unit = K.POW2[K.POW2_OFFSET + s]
            pick, kmax = g0, -1
            for c in range(g0, g1):
                code = np.int64(codes[r, c])
                if code & 7 > kmax:
                    pick, kmax = c, code & 7
                y = FP4_VALUES[code & 7] * unit
                out[r, c] = -y if code & 8 else y
            y = FP6_VALUES[fp6_window(kmax) + np.int64(meta[r, g])] * unit
            out[r, pick] = -y if codes[r, pick] & 8 else y


# --------------------------------------------------------------------------- NVFP4
def nvfp4_tensor_scale(x: np.ndarray) -> np.float32:
    """fp32(amax / 2688) over the finite elements of x (0 when there are none)."""
    finite = np.abs(x[np.isfinite(x)])
    amax = float(finite.max()) if finite.size else 0.0
    return np.float32(amax / NVFP4_AMAX_DIVISOR)  # one rounding suffices: float64 has > 2 * 24 + 2 bits


@njit(parallel=True, cache=True)
def encode_nvfp4(x, xb, tensor_scale, out, codes, scales, want_values, want_codes):
    rows, C = x.shape
    nblocks = (C + 15) // 16
    S = np.float64(tensor_scale)
    for r in prange(rows):
        for b in range(nblocks):
            c0, c1 = b * 16, min(b * 16 + 16, C)
            top = _block_top(xb, r, c0, c1)
            if top >= 0x7F800000:
                _nan_block(r, c0, c1, out, codes, want_values, want_codes)
                if want_codes:
                    scales[r, b] = 0x7F
                continue
            d_code = 0
            if S > 0:
                bmax = 0.0
                for c in range(c0, c1):
                    bmax = max(bmax, abs(np.float64(x[r, c])))
                # the float64 quotient is within 2^-52 relative of b / (6 S), far from any E4M3
                # midpoint unless equal to it (b and 6 S have at most 27 significant bits)
                d_code = round_code(bmax / (6.0 * S), E4M3_MIDS, 0, 126, 1.0)
            if want_codes:
                scales[r, b] = d_code
            unit = E4M3_VALUES[d_code] * S
            for c in range(c0, c1):
                v = np.float64(x[r, c])
                k = round_code(abs(v), FP4_MIDS, 0, 7, unit) if unit > 0 else 0
                neg = v < 0 and k != 0
                if want_values:
                    y = np.float32(min(FP4_VALUES[k] * unit, FLT_MAX))  # 2688 S may round above FLT_MAX
                    out[r, c] = -y if neg and y != 0 else y
                if want_codes:
                    codes[r, c] = k | (8 if neg else 0)


@njit(parallel=True, cache=True)
def decode_nvfp4(codes, scales, tensor_scale, out):
    rows, C = codes.shape
    S = np.float64(tensor_scale)
    for r in prange(rows):
        for c in range(C):
            d = np.int64(scales[r, c // 16])
            if d > 126:
                out[r, c] = np.nan
                continue
            code = np.int64(codes[r, c])
            y = np.float32(min(FP4_VALUES[code & 7] * (E4M3_VALUES[d] * S), FLT_MAX))
            out[r, c] = -y if code & 8 and y != 0 else y


_KERNELS = {fn.__name__: (fn, K._serial_variant(fn))
            for fn in (encode_m2xfp_es, decode_m2xfp_es, encode_m2xfp_em, decode_m2xfp_em, encode_nvfp4,
                       decode_nvfp4)}


def kernel(name: str, elements: int):
    """The parallel kernel ``name`` for large tensors, its serial twin for small ones."""
    parallel, serial = _KERNELS[name]
    return parallel if elements >= K.PARALLEL_MIN_ELEMENTS else serial
