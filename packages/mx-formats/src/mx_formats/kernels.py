"""numba kernels: one encode and one decode kernel per format family.

Every kernel works on the working view of ``layout.py`` flattened to 2-D:
``x[P * R, C]``, ``plane_rows = R`` rows per plane, cut into blocks of
``b_row x b_col`` that never cross a plane. A block that runs past the end of an
axis is cropped (the missing elements are DESIGN.md §3's zero padding: they cannot
change the absolute maximum). One thread handles one row group (``prange`` over
``P * ceil(R / b_row)``); ``scales[row group, column block]``.

Families (``kind`` picks how a block's scale is chosen):

* integer grid (:func:`encode_int`): MXInt and MXINT8 (kind 0: shared exponent
  ``s``, shift ``m-1-s``), Fixed (kind 1: shift ``frac``);
  ``q = clamp(round(x * 2^shift), qmin, qmax)``, value ``q * 2^-shift``.
* minifloat grid (:func:`encode_float`): OCP MXFP (kind 0), BMF (kind 1), scalar
  MiniFloat (kind 2). A block resolves to an absolute smallest normal exponent
  ``emin`` and a largest magnitude ``vmax``; an element of exponent
  ``e = max(floor(log2|x|), emin)`` is rounded on the step ``2^(e-M)`` and
  saturates at ``vmax``.
* power-of-two grid (:func:`encode_log`): BL.

One encode kernel writes the fake-quantized values, the codes and scales, or both
(``want_values`` / ``want_codes`` are loop invariant). Exponents come from the
float's bits (``xb`` is the same buffer viewed as integers), never from a float
log2: the block maximum is the integer maximum of the magnitude bits, which also
flags NaN/Inf (bits >= the Inf pattern). A block holding NaN or Inf becomes all NaN
with the scale ``scale_nan``. Results that round to zero are +0.0, so values and
codes agree.

Two paths per family. The hot path (float32 input, nearest even, values or
codes) is one function per row group with branch-free element loops that LLVM
vectorizes: float rint for the integer grid, integer arithmetic on the float's
bit pattern (:func:`round_bits_f32`) for the minifloat and power-of-two grids;
the general path (every rounding mode, float64, subnormal corner cases) works
block by block in float arithmetic. They agree bit for bit (tested).

Performance notes: all index arithmetic is unsigned (``np.uint64``): with signed
indices numba emits a negative-index wraparound check on every access that LLVM
cannot remove, which stops vectorization (4x slower). Per-block function calls in
the hot path cost another 1.5x, hence whole row groups per call.
"""

from __future__ import annotations

import types

import numpy as np
from numba import njit, prange

ROUNDING_MODES = {"nearest_even": 0, "nearest_away": 1, "toward_zero": 2, "floor": 3, "stochastic": 4}

# Powers of two 2^k for k in [-POW2_OFFSET, POW2_OFFSET]: a gather from this table is
# much cheaper than ldexp per element. Every exponent looked up is clamped into the
# float32-derived range first, so 400 is ample.
POW2_OFFSET = 400
POW2 = np.ldexp(1.0, np.arange(-POW2_OFFSET, POW2_OFFSET + 1)).astype(np.float64)

_U0, _U1 = np.uint64(0), np.uint64(1)
_SIGN32 = np.int64(-2147483648)  # float32 sign bit as a (negative) int64 mask
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


def float_constants(dtype: np.dtype):
    """(integer view dtype, mantissa bits, exponent bias, magnitude mask, Inf bits) of a float dtype."""
    if dtype == np.float32:
        return np.int32, 23, 127, 0x7FFFFFFF, 0x7F800000
    return np.int64, 52, 1023, 0x7FFFFFFFFFFFFFFF, 0x7FF0000000000000


@njit(cache=True)
def uniform(seed, index):
    """Counter-based uniform in [0, 1): splitmix64 of ``seed + (index + 1) * gamma``.

    The random number of an element depends only on the seed and its flat index
    in the working view, whatever the thread schedule.
    """
    z = np.uint64(seed) + (np.uint64(index) + _U1) * _GAMMA
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return np.float64(z >> _S11) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def round_integer(v, mode, seed, index):
    """Round ``v`` to an integer-valued float with the given rounding mode."""
    if mode == 0:
        return np.rint(v)
    if mode == 1:
        t = np.trunc(v)
        d = v - t  # exact: the fractional part of a float is representable
        if d >= 0.5:
            return t + 1.0
        if d <= -0.5:
            return t - 1.0
        return t
    if mode == 2:
        return np.trunc(v)
    f = np.floor(v)
    if mode == 3:
        return f
    return f + 1.0 if uniform(seed, index) < v - f else f


@njit(cache=True)
def log2_parts(mag_bits, mant_bits, exp_bias):
    """(floor(log2 a), a >= 1.5 * 2^floor(log2 a)) of a finite a > 0 given its magnitude bits."""
    field = np.int64(mag_bits >> mant_bits)
    if field > 0:
        return field - exp_bias, (mag_bits >> (mant_bits - 1)) & 1 == 1
    # subnormal: the value is mag_bits * 2^(1 - bias - mant_bits)
    top = 0
    while (mag_bits >> (top + 1)) > 0:
        top += 1
    half = top > 0 and (mag_bits >> (top - 1)) & 1 == 1
    return np.int64(top) + 1 - exp_bias - mant_bits, half


@njit(cache=True)
def round_bits_f32(raw, drop_base, emin):
    """Round a float32 (bit pattern ``raw``) to nearest even on a grid, in integers.

    The grid's quantum is 2^(max(e, emin) - drop_base + 23 - 23) for an element of
    exponent e, i.e. ``drop = drop_base + max(emin - e, 0)`` low bits of the
    significand S (units of 2^(max(F,1) - 150) for exponent field F) are dropped.
    Returns the magnitude bit pattern ``((max(F,1) - 1) << 23) + S_rounded`` (carry
    into the next binade and subnormal results included), or 0.
    """
    field = (raw >> 23) & 0xFF
    f_ulp = max(field, 1)
    sig = (raw & 0x7FFFFF) | (np.int64(field > 0) << 23)
    drop = min(drop_base + max(emin - (f_ulp - 127), 0), 40)
    half = (np.int64(1) << drop) >> 1
    # max(..., 0): with drop = 0 (23 mantissa bits) nothing is dropped, and half - 1 = -1
    # would otherwise take one ulp off every even significand.
    rounded = ((sig + max(half - 1 + ((sig >> drop) & 1), 0)) >> drop) << drop
    return 0 if rounded == 0 else ((f_ulp - 1) << 23) + rounded


@njit(cache=True)
def int_bits_parts(n):
    """(top bit, float32 mantissa field) of a positive integer n < 2^24, for :func:`scaled_int_bits`."""
    top = np.int64(0)
    while (n >> (top + 1)) > 0:
        top += 1
    return top, (n << (23 - top)) & 0x7FFFFF


@njit(cache=True)
def scaled_int_bits(n, top, mant, k):
    """float32 bit pattern of n * 2^k (exact by construction: n < 2^24, k in range)."""
    e = top + k
    if e >= -126:
        return ((e + 127) << 23) | mant
    return n << (k + 149)  # subnormal: a multiple of 2^-149


@njit(cache=True)
def _block_max_bits(xb, r0, r1, c0, c1, mag_mask):
    """Largest magnitude bit pattern in a block: orders like |x|, and >= Inf bits flags NaN/Inf."""
    m = xb[r0, c0] & mag_mask
    for r in range(r0, r1):
        for c in range(c0, c1):
            m = max(m, xb[r, c] & mag_mask)
    return m


@njit(cache=True)
def _fill_nan_block(r0, r1, c0, c1, out, codes, want_values, want_codes):
    for r in range(r0, r1):
        for c in range(c0, c1):
            if want_values:
                out[r, c] = np.nan
            if want_codes:
                codes[r, c] = 0


@njit(cache=True)
def _grid(shape, plane_rows, b_row, b_col):
    """(rows, R, C, b_row, b_col, row groups per plane, column blocks) of a 2-D view, unsigned."""
    rows, C = shape
    uR, uC, ub_row, ub_col = np.uint64(plane_rows), np.uint64(C), np.uint64(b_row), np.uint64(b_col)
    return rows, uR, uC, ub_row, ub_col, (uR + ub_row - _U1) // ub_row, (uC + ub_col - _U1) // ub_col


@njit(cache=True)
def _row_group(g, groups_r, b_row, plane_rows):
    """(g, first row, end row) of row group g of the 2-D view, all uint64."""
    gu = np.uint64(g)
    p = gu // groups_r
    r0 = (gu - p * groups_r) * b_row
    start = p * plane_rows
    return gu, start + r0, start + min(r0 + b_row, plane_rows)


# --------------------------------------------------------------------------- integer grid
@njit(parallel=True, cache=True)
def encode_int(x, xb, mant_bits, exp_bias, mag_mask, inf_bits, plane_rows, b_row, b_col, kind, shift_base, scale_max,
               qmin, qmax, width, rmode, seed, out, codes, scales, want_values, want_codes):
    """MXInt / MXINT8 (kind 0) and Fixed (kind 1).

    kind 0: s = clamp(floor(log2 amax), -scale_max, scale_max) (-scale_max for an
    all-zero block), shift = shift_base - s with shift_base = m - 1.
    kind 1: shift = shift_base = frac (blocks are single elements: NaN stays local).
    Codes are q in ``width``-bit two's complement.
    """
    rows, uR, uC, ub_row, ub_col, groups_r, groups_c = _grid(x.shape, plane_rows, b_row, b_col)
    mask = (np.int64(1) << width) - 1
    fast = rmode == 0 and mant_bits == 23 and want_values != want_codes
    for g in prange(rows // plane_rows * np.int64(groups_r)):
        gr, r0, r1 = _row_group(g, groups_r, ub_row, uR)
        if fast:
            _int_row_nearest_f32(x, xb, out, codes, scales, gr, r0, r1, uC, ub_col, groups_c, kind, shift_base,
                                 scale_max, qmin, qmax, width, want_values)
            continue
        for gc in range(groups_c):
            c0 = np.uint64(gc) * ub_col
            c1 = min(c0 + ub_col, uC)
            top = _block_max_bits(xb, r0, r1, c0, c1, mag_mask)
            if top >= inf_bits:
                _fill_nan_block(r0, r1, c0, c1, out, codes, want_values, want_codes)
                if want_codes and kind == 0:
                    scales[gr, gc] = scale_max + 1
                continue
            shift = shift_base
            if kind == 0:
                s = -scale_max
                if top > 0:
                    s = min(max(log2_parts(top, mant_bits, exp_bias)[0], -scale_max), scale_max)
                shift = shift_base - s
                if want_codes:
                    scales[gr, gc] = s
            _int_block(x, out, codes, r0, r1, c0, c1, POW2[POW2_OFFSET + shift], POW2[POW2_OFFSET - shift], qmin,
                       qmax, mask, rmode, seed, uC, want_values, want_codes)


@njit(cache=True)
def _int_row_nearest_f32(x, xb, out, codes, scales, gr, r0, r1, uC, ub_col, groups_c, kind, shift_base, scale_max,
                         qmin, qmax, width, want_values):
    """Hot path, one row group of float32 input, nearest even: values or codes.

    ``q = clamp(rint(x * 2^shift))`` in float64 is exact here and vectorizes; it
    measured faster than rounding on the bit pattern (0.55x vs 0.42x of a copy,
    one thread), unlike the minifloat and BL grids whose per-element exponent
    makes the bit pattern the cheaper route.
    """
    mask = (np.int64(1) << width) - 1
    for gc in range(groups_c):
        c0 = np.uint64(gc) * ub_col
        c1 = min(c0 + ub_col, uC)
        top = xb[r0, c0] & 0x7FFFFFFF
        for r in range(r0, r1):
            for c in range(c0, c1):
                top = max(top, xb[r, c] & 0x7FFFFFFF)
        if top >= 0x7F800000:
            _fill_nan_block(r0, r1, c0, c1, out, codes, want_values, not want_values)
            if kind == 0 and not want_values:
                scales[gr, gc] = scale_max + 1
            continue
        shift = shift_base
        if kind == 0:
            s = -scale_max
            if top > 0:
                s = min(max(log2_parts(top, 23, 127)[0], -scale_max), scale_max)
            shift = shift_base - s
            if not want_values:
                scales[gr, gc] = s
        up = POW2[POW2_OFFSET + shift]
        if want_values:
            down = POW2[POW2_OFFSET - shift]
            for r in range(r0, r1):
                for c in range(c0, c1):
                    out[r, c] = min(max(np.rint(x[r, c] * up), qmin), qmax) * down + 0.0  # + 0.0: no -0.0
        else:
            for r in range(r0, r1):
                for c in range(c0, c1):
                    codes[r, c] = np.int64(min(max(np.rint(x[r, c] * up), qmin), qmax)) & mask


@njit(cache=True)
def _int_block(x, out, codes, r0, r1, c0, c1, up, down, qmin, qmax, mask, rmode, seed, uC, want_values, want_codes):
    """General path, one block: any rounding mode, values and/or two's-complement codes."""
    for r in range(r0, r1):
        base = r * uC
        for c in range(c0, c1):
            q = min(max(round_integer(x[r, c] * up, rmode, seed, base + c), qmin), qmax)
            if want_values:
                out[r, c] = q * down + 0.0  # + 0.0 turns -0.0 into +0.0
            if want_codes:
                codes[r, c] = np.int64(q) & mask


@njit(parallel=True, cache=True)
def decode_int(codes, scales, plane_rows, b_row, b_col, kind, shift_base, scale_max, width, out):
    rows, uR, uC, ub_row, ub_col, groups_r, groups_c = _grid(codes.shape, plane_rows, b_row, b_col)
    sign_bit = np.int64(1) << (width - 1)
    for g in prange(rows // plane_rows * np.int64(groups_r)):
        gr, r0, r1 = _row_group(g, groups_r, ub_row, uR)
        for gc in range(groups_c):
            c0 = np.uint64(gc) * ub_col
            c1 = min(c0 + ub_col, uC)
            shift = shift_base
            if kind == 0:
                s = np.int64(scales[gr, np.uint64(gc)])
                if s > scale_max:
                    for r in range(r0, r1):
                        for c in range(c0, c1):
                            out[r, c] = np.nan
                    continue
                shift = shift_base - s
            down = POW2[POW2_OFFSET - shift]
            for r in range(r0, r1):
                for c in range(c0, c1):
                    q = np.int64(codes[r, c])
                    q -= (q & sign_bit) << 1
                    out[r, c] = q * down


# --------------------------------------------------------------------------- minifloat grid
@njit(cache=True)
def _float_block_params(kind, amax_log2, a_emax, a_emin, a_vmax, scale_max, man_bits):
    """(scale, emin, emax, vmax) of one block of the minifloat family.

    ``amax_log2`` is floor(log2 amax), or -100000 for an all-zero block.
    kind 0 (OCP): a_emax = emax_elem, a_emin = element emin, a_vmax = element max;
        s = clamp(floor(log2 amax) - emax_elem, -127, 127); emin = a_emin + s.
    kind 1 (BMF): a_emax = 2^E - 1 (top code); beta = clamp(a_emax - floor(log2
        amax)); emin = 1 - beta; vmax = 2^(a_emax - beta) * (2 - 2^-M).
    kind 2 (MiniFloat): a_emin = 1 - bias, a_emax = top exponent, a_vmax = maximum.
    """
    if kind == 0:
        s = -scale_max
        if amax_log2 > -100000:
            s = min(max(amax_log2 - a_emax, -scale_max), scale_max)
        return s, a_emin + s, a_emax + s, a_vmax * POW2[POW2_OFFSET + s]
    if kind == 1:
        beta = scale_max
        if amax_log2 > -100000:
            beta = min(max(a_emax - amax_log2, -scale_max), scale_max)
        emax = a_emax - beta
        return beta, 1 - beta, emax, (2.0 - POW2[POW2_OFFSET - man_bits]) * POW2[POW2_OFFSET + emax]
    return 0, a_emin, a_emax, a_vmax


@njit(cache=True)
def _sat_code(emin, emax, vmax, man_bits):
    """Code of the saturation value vmax = (2^M + f_max) * 2^(emax - M)."""
    return ((emax - emin + 1) << man_bits) | (np.int64(vmax * POW2[POW2_OFFSET + man_bits - emax]) - (1 << man_bits))


@njit(parallel=True, cache=True)
def encode_float(x, xb, mant_bits, exp_bias, mag_mask, inf_bits, plane_rows, b_row, b_col, kind, a_emax, a_emin, a_vmax,
                 scale_max, exp_bits, man_bits, rmode, seed, out, out_bits, codes, scales, want_values, want_codes):
    """OCP MXFP (kind 0), BMF (kind 1), MiniFloat (kind 2; blocks are single elements).

    Element code: sign << (E+M) | c << M | f, with c = e - emin + 1 for a normal
    result of exponent e and c = 0 for a subnormal one.
    """
    rows, uR, uC, ub_row, ub_col, groups_r, groups_c = _grid(x.shape, plane_rows, b_row, b_col)
    sign_code = np.int64(1) << (exp_bits + man_bits)
    fast = rmode == 0 and mant_bits == 23 and want_values != want_codes
    for g in prange(rows // plane_rows * np.int64(groups_r)):
        gr, r0, r1 = _row_group(g, groups_r, ub_row, uR)
        if fast:
            _float_row_nearest_f32(x, xb, out, out_bits, codes, scales, gr, r0, r1, uC, ub_col, groups_c, kind,
                                   a_emax, a_emin, a_vmax, scale_max, exp_bits, man_bits, want_values)
            continue
        for gc in range(groups_c):
            c0 = np.uint64(gc) * ub_col
            c1 = min(c0 + ub_col, uC)
            top = _block_max_bits(xb, r0, r1, c0, c1, mag_mask)
            if top >= inf_bits:
                _fill_nan_block(r0, r1, c0, c1, out, codes, want_values, want_codes)
                if want_codes and kind != 2:
                    scales[gr, gc] = scale_max + 1 if kind == 0 else -scale_max - 1
                continue
            amax_log2 = -100000
            if top > 0:
                amax_log2 = log2_parts(top, mant_bits, exp_bias)[0]
            scale, emin, emax, vmax = _float_block_params(kind, amax_log2, a_emax, a_emin, a_vmax, scale_max,
                                                          man_bits)
            if want_codes and kind != 2:
                scales[gr, gc] = scale
            _float_block(x, xb, out, codes, r0, r1, c0, c1, mant_bits, exp_bias, mag_mask, emin, emax, man_bits, vmax,
                         _sat_code(emin, emax, vmax, man_bits), sign_code, rmode, seed, uC, want_values, want_codes)


@njit(cache=True)
def _float_row_nearest_f32(x, xb, out, out_bits, codes, scales, gr, r0, r1, uC, ub_col, groups_c, kind, a_emax,
                           a_emin, a_vmax, scale_max, exp_bits, man_bits, want_values):
    """Hot path, one row group of float32 input, nearest even, on the bits: values or codes.

    The element quantum 2^(max(e, emin) - M) drops ``23 - M + max(emin - e, 0)``
    significand bits (:func:`round_bits_f32`); saturation is an integer compare
    against the bits of vmax. Codes follow from the rounded bits: a normal
    float32 result 2^e_out * (1 + g/2^23) with e_out >= emin has c = e_out - emin
    + 1 and f = g >> (23 - M); below 2^emin it is an element subnormal: c = 0,
    f = value / 2^(emin - M). A block with emin < -126 (subnormal inputs need
    their exact exponent) takes the general path.
    """
    sign_code = np.int64(1) << (exp_bits + man_bits)
    for gc in range(groups_c):
        c0 = np.uint64(gc) * ub_col
        c1 = min(c0 + ub_col, uC)
        top = xb[r0, c0] & 0x7FFFFFFF
        for r in range(r0, r1):
            for c in range(c0, c1):
                top = max(top, xb[r, c] & 0x7FFFFFFF)
        if top >= 0x7F800000:
            _fill_nan_block(r0, r1, c0, c1, out, codes, want_values, not want_values)
            if kind != 2 and not want_values:
                scales[gr, gc] = scale_max + 1 if kind == 0 else -scale_max - 1
            continue
        amax_log2 = log2_parts(top, 23, 127)[0] if top > 0 else -100000
        scale, emin, emax, vmax = _float_block_params(kind, amax_log2, a_emax, a_emin, a_vmax, scale_max, man_bits)
        if kind != 2 and not want_values:
            scales[gr, gc] = scale
        if emin < -126:
            _float_block(x, xb, out, codes, r0, r1, c0, c1, 23, 127, 0x7FFFFFFF, emin, emax, man_bits, vmax,
                         _sat_code(emin, emax, vmax, man_bits), sign_code, 0, 0, uC, want_values, not want_values)
            continue
        sat_n = np.int64(vmax * POW2[POW2_OFFSET + man_bits - emax])
        sat_top, sat_mant = int_bits_parts(sat_n)
        sat_bits = scaled_int_bits(sat_n, sat_top, sat_mant, emax - man_bits)
        if want_values:
            for r in range(r0, r1):
                for c in range(c0, c1):
                    raw = np.int64(xb[r, c])
                    mag = min(round_bits_f32(raw, 23 - man_bits, emin), sat_bits)
                    out_bits[r, c] = mag | (raw & _SIGN32 if mag != 0 else 0)
        else:
            for r in range(r0, r1):
                for c in range(c0, c1):
                    raw = np.int64(xb[r, c])
                    mag = min(round_bits_f32(raw, 23 - man_bits, emin), sat_bits)
                    field = mag >> 23
                    frac = mag & 0x7FFFFF
                    if field > 0 and field - 127 >= emin:
                        code = ((field - 127 - emin + 1) << man_bits) | (frac >> (23 - man_bits))
                    else:
                        sig = frac | (np.int64(field > 0) << 23)
                        code = sig >> min(emin - man_bits - (max(field, 1) - 150), 40)
                    codes[r, c] = code | (sign_code if raw < 0 and mag != 0 else 0)


@njit(cache=True)
def _float_block(x, xb, out, codes, r0, r1, c0, c1, mant_bits, exp_bias, mag_mask, emin, emax, man_bits, vmax,
                 sat_code, sign_code, rmode, seed, uC, want_values, want_codes):
    """General path, one block: any rounding mode, float32 or float64, values and/or codes."""
    one_m = np.int64(1) << man_bits
    for r in range(r0, r1):
        base = r * uC
        for c in range(c0, c1):
            a = x[r, c]
            bits = xb[r, c] & mag_mask
            e = emin
            if bits != 0:
                e = min(max(log2_parts(bits, mant_bits, exp_bias)[0], emin), emax + 1)
            k = e - man_bits
            q = round_integer(a * POW2[np.uint64(POW2_OFFSET - k)], rmode, seed, base + c)
            v = q * POW2[np.uint64(POW2_OFFSET + k)] + 0.0
            saturated = abs(v) > vmax
            if saturated:
                v = vmax if a > 0 else -vmax
            if want_values:
                out[r, c] = v
            if want_codes:
                mag = np.int64(abs(q))
                if saturated:
                    code = sat_code
                elif mag >= 2 * one_m:  # rounding carried into the next binade
                    code = (e + 2 - emin) << man_bits
                elif mag >= one_m:
                    code = ((e - emin + 1) << man_bits) | (mag - one_m)
                else:  # subnormal (only when e == emin)
                    code = mag
                if v < 0.0:
                    code |= sign_code
                codes[r, c] = code


@njit(parallel=True, cache=True)
def decode_float(codes, scales, plane_rows, b_row, b_col, kind, a_emin, scale_max, exp_bits, man_bits, out):
    rows, uR, uC, ub_row, ub_col, groups_r, groups_c = _grid(codes.shape, plane_rows, b_row, b_col)
    one_m = np.int64(1) << man_bits
    exp_field = (np.int64(1) << exp_bits) - 1
    sign_code = np.int64(1) << (exp_bits + man_bits)
    for g in prange(rows // plane_rows * np.int64(groups_r)):
        gr, r0, r1 = _row_group(g, groups_r, ub_row, uR)
        for gc in range(groups_c):
            c0 = np.uint64(gc) * ub_col
            c1 = min(c0 + ub_col, uC)
            emin = a_emin
            nan_block = False
            if kind == 0:
                s = np.int64(scales[gr, np.uint64(gc)])
                nan_block = s > scale_max
                emin = a_emin + s
            elif kind == 1:
                beta = np.int64(scales[gr, np.uint64(gc)])
                nan_block = beta < -scale_max
                emin = 1 - beta
            for r in range(r0, r1):
                for c in range(c0, c1):
                    if nan_block:
                        out[r, c] = np.nan
                        continue
                    code = np.int64(codes[r, c])
                    cexp = (code >> man_bits) & exp_field
                    frac = code & (one_m - 1)
                    if cexp == 0:
                        v = frac * POW2[POW2_OFFSET + emin - man_bits]
                    else:
                        v = (one_m + frac) * POW2[POW2_OFFSET + emin + cexp - 1 - man_bits]
                    out[r, c] = -v if code & sign_code else v


# --------------------------------------------------------------------------- power-of-two grid
@njit(parallel=True, cache=True)
def encode_log(x, xb, mant_bits, exp_bias, mag_mask, inf_bits, plane_rows, b_row, b_col, code_max, scale_max, exp_bits,
               rmode, seed, out, out_bits, codes, scales, want_values, want_codes):
    """BL: sign and code c, c = 0 is zero, c >= 1 is 2^(c - beta).

    beta = clamp(code_max - k*, -scale_max, scale_max) where 2^k* is the block
    maximum rounded to the nearest power of two (threshold 1.5 * 2^k, ties up) and
    capped at 2^127; an all-zero block takes beta = scale_max.
    """
    rows, uR, uC, ub_row, ub_col, groups_r, groups_c = _grid(x.shape, plane_rows, b_row, b_col)
    fast = rmode == 0 and mant_bits == 23 and want_values != want_codes
    for g in prange(rows // plane_rows * np.int64(groups_r)):
        gr, r0, r1 = _row_group(g, groups_r, ub_row, uR)
        if fast:
            _log_row_nearest_f32(x, xb, out, out_bits, codes, scales, gr, r0, r1, uC, ub_col, groups_c, code_max,
                                 scale_max, exp_bits, want_values)
            continue
        for gc in range(groups_c):
            c0 = np.uint64(gc) * ub_col
            c1 = min(c0 + ub_col, uC)
            top = _block_max_bits(xb, r0, r1, c0, c1, mag_mask)
            if top >= inf_bits:
                _fill_nan_block(r0, r1, c0, c1, out, codes, want_values, want_codes)
                if want_codes:
                    scales[gr, gc] = -scale_max - 1
                continue
            beta = _log_block_bias(top, mant_bits, exp_bias, code_max, scale_max)
            if want_codes:
                scales[gr, gc] = beta
            _log_block(x, xb, out, codes, r0, r1, c0, c1, mant_bits, exp_bias, mag_mask, 1 - beta, code_max - beta, beta,
                       exp_bits, rmode, seed, uC, want_values, want_codes)


@njit(cache=True)
def _log_block_bias(top, mant_bits, exp_bias, code_max, scale_max):
    """beta of a BL block from its largest magnitude bits (see :func:`encode_log`)."""
    if top == 0:
        return scale_max
    e_top, half_top = log2_parts(top, mant_bits, exp_bias)
    # 2^127 is float32's largest power of two: a larger rounded maximum saturates there.
    k_top = min(e_top + (1 if half_top else 0), 127)
    return min(max(code_max - k_top, -scale_max), scale_max)


@njit(cache=True)
def _log_row_nearest_f32(x, xb, out, out_bits, codes, scales, gr, r0, r1, uC, ub_col, groups_c, code_max, scale_max,
                         exp_bits, want_values):
    """Hot path, one row group of float32 input on the bits: BL nearest (ties up).

    |x| in [2^e, 2^(e+1)) goes to 2^(e + [|x| >= 1.5 * 2^e]) (the top mantissa bit);
    below 2^lo it goes to 2^lo from 2^(lo-1) up, else to zero. The value 2^k is the
    bit pattern (k + 127) << 23, the code k + beta. A block with lo - 1 <= -127
    (where subnormal inputs could round up) takes the general path.
    """
    sign_code = np.int64(1) << exp_bits
    for gc in range(groups_c):
        c0 = np.uint64(gc) * ub_col
        c1 = min(c0 + ub_col, uC)
        top = xb[r0, c0] & 0x7FFFFFFF
        for r in range(r0, r1):
            for c in range(c0, c1):
                top = max(top, xb[r, c] & 0x7FFFFFFF)
        if top >= 0x7F800000:
            _fill_nan_block(r0, r1, c0, c1, out, codes, want_values, not want_values)
            if not want_values:
                scales[gr, gc] = -scale_max - 1
            continue
        beta = _log_block_bias(top, 23, 127, code_max, scale_max)
        if not want_values:
            scales[gr, gc] = beta
        lo = 1 - beta
        hi = code_max - beta
        if lo - 1 <= -127:
            _log_block(x, xb, out, codes, r0, r1, c0, c1, 23, 127, 0x7FFFFFFF, lo, hi, beta, exp_bits, 0, 0, uC,
                       want_values, not want_values)
            continue
        for r in range(r0, r1):
            for c in range(c0, c1):
                raw = np.int64(xb[r, c])
                e = ((raw >> 23) & 0xFF) - 127
                k = min(max(e + ((raw >> 22) & 1), lo), hi)
                zero = e < lo - 1
                if want_values:
                    mag = 0 if zero else (k + 127) << 23
                    out_bits[r, c] = mag | (raw & _SIGN32 if mag != 0 else 0)
                else:
                    codes[r, c] = 0 if zero else (k + beta) | (sign_code if raw < 0 else 0)


@njit(cache=True)
def _log_block(x, xb, out, codes, r0, r1, c0, c1, mant_bits, exp_bias, mag_mask, lo, hi, beta, exp_bits, rmode, seed,
               uC, want_values, want_codes):
    """General path, one BL block: any rounding mode, float32 or float64, values and/or codes."""
    for r in range(r0, r1):
        base = r * uC
        for c in range(c0, c1):
            a = x[r, c]
            bits = xb[r, c] & mag_mask
            k = -100000  # marks zero
            if bits != 0:
                e, half = log2_parts(bits, mant_bits, exp_bias)
                if e > hi:
                    k = hi
                elif e < lo:
                    # between 0 and 2^lo: the midpoint is 2^(lo-1)
                    t = abs(a) * POW2[POW2_OFFSET - lo] if e >= lo - 60 else 0.0
                    if rmode <= 1:
                        up = t >= 0.5
                    elif rmode == 2:
                        up = False
                    elif rmode == 3:
                        up = a < 0.0
                    else:
                        up = uniform(seed, base + c) < t
                    if up:
                        k = lo
                else:
                    if rmode <= 1:
                        up = half
                    elif rmode == 2:
                        up = False
                    elif rmode == 3:
                        up = a < 0.0 and abs(a) > POW2[POW2_OFFSET + e]
                    else:
                        up = uniform(seed, base + c) < abs(a) * POW2[POW2_OFFSET - e] - 1.0
                    k = min(e + (1 if up else 0), hi)
            if want_values:
                if k == -100000:
                    out[r, c] = 0.0
                else:
                    v = POW2[POW2_OFFSET + k]
                    out[r, c] = -v if a < 0.0 else v
            if want_codes:
                code = 0
                if k != -100000:
                    code = k + beta
                    if a < 0.0:
                        code |= np.int64(1) << exp_bits
                codes[r, c] = code


@njit(parallel=True, cache=True)
def decode_log(codes, scales, plane_rows, b_row, b_col, scale_max, exp_bits, out):
    rows, uR, uC, ub_row, ub_col, groups_r, groups_c = _grid(codes.shape, plane_rows, b_row, b_col)
    field = (np.int64(1) << exp_bits) - 1
    for g in prange(rows // plane_rows * np.int64(groups_r)):
        gr, r0, r1 = _row_group(g, groups_r, ub_row, uR)
        for gc in range(groups_c):
            c0 = np.uint64(gc) * ub_col
            c1 = min(c0 + ub_col, uC)
            beta = np.int64(scales[gr, np.uint64(gc)])
            for r in range(r0, r1):
                for c in range(c0, c1):
                    if beta < -scale_max:
                        out[r, c] = np.nan
                        continue
                    code = np.int64(codes[r, c])
                    cexp = code & field
                    if cexp == 0:
                        out[r, c] = 0.0
                    else:
                        v = POW2[POW2_OFFSET + cexp - beta]
                        out[r, c] = -v if code >> exp_bits else v


# --------------------------------------------------------------------------- serial variants
PARALLEL_MIN_ELEMENTS = 1 << 16  # below this, waking a second thread costs more than it saves


def _serial_variant(dispatcher):
    """The same kernel compiled without ``parallel`` (``prange`` runs as ``range``).

    A parallel region costs tens of microseconds to start, and milliseconds when
    the other cores are busy, which dominates small tensors (the per-op quantizers
    of a traced model). The clone has its own qualified name, so numba caches it
    separately from the parallel version.
    """
    fn = dispatcher.py_func
    clone = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__,
                               fn.__closure__)
    clone.__qualname__ = fn.__qualname__ + "_serial"
    clone.__doc__ = fn.__doc__
    return njit(cache=True)(clone)


_KERNELS = {fn.__name__: (fn, _serial_variant(fn))
            for fn in (encode_int, decode_int, encode_float, decode_float, encode_log, decode_log)}


def kernel(name: str, elements: int):
    """The parallel kernel ``name`` for large tensors, its serial twin for small ones."""
    parallel, serial = _KERNELS[name]
    return parallel if elements >= PARALLEL_MIN_ELEMENTS else serial
