"""The numba kernels' semantics on torch tensors, for any device (issue 19).

Same contract as ``kernels.py``, bit for bit: every format family (integer grid:
MXInt, MXINT8, Fixed; minifloat grid: OCP MXFP, BMF, MiniFloat; power-of-two grid:
BL), every rounding mode (stochastic with the same splitmix64 stream, indexed by
the element's flat position in the working view), NaN/Inf blocks, any blocked
axes, ragged edges, float16 / bfloat16 / float32 inputs (widened exactly to
float32). It is plain torch, so CI checks it on CPU tensors against the numba
kernels; on a GPU the same functions run eager or under ``torch.compile`` (one
fused Triton kernel per format and shape), by the policy of :func:`_should_compile`.

How it stays exact whatever the compiler does with floats (FMA contraction,
flushed subnormals): the rounding is done in integers on the float32 bit
pattern. An element ``|x| = sig * 2^(fu - 150)`` (``fu = max(field, 1)``, ``sig``
the 24-bit significand with its implicit bit) is rounded onto a grid of quantum
``2^(fu - 150 + d)`` by rounding ``sig / 2^d`` (:func:`_round_shift`); the
float32 bits of the result are then ``(fu - 1) << 23`` plus the rounded
significand, which also covers a carry into the next binade and subnormals.
The float operations left are exact ones: int -> float32 conversions of
integers below 2^24 (floor(log2 n) is read off the exponent field) and, in the
MXInt/MXINT8/Fixed nearest-even hot path, ``rint(x * 2^a * 2^b)`` with normal
powers of two, whose products are exact or round to 0 either way (checked bit
for bit on CUDA: the package README).

Layout: a block is the last two dims of a (P, R/b_row, C/b_col, b_row, b_col)
view with row-major memory (:func:`_encode_blocks`), which lets torch.compile fuse
the block maximum and the element-wise work into one pass, 2-D blocks included.

Stochastic rounding, as in ``kernels.round_integer``: round up when
``u < frac`` with ``u = U / 2^53`` (U the top 53 bits of splitmix64) and
``frac`` the float64 fractional part of ``x * 2^shift``. That comparison is
done exactly in int64: ``U < r * 2^(53 - d)`` for a remainder ``r`` of ``d``
dropped bits, and for negative ``x`` against the float64 rounding of
``1 - r / 2^d`` (see :func:`_stochastic_up`).
"""

from __future__ import annotations

import functools
import math
import types
import warnings
from dataclasses import dataclass

import torch

from mx_formats.formats import BL, BMF, Fixed, Float32, Format, MetadataFormat, MiniFloat, MXInt, OCPFormat
from mx_formats.layout import Layout, make_layout

__all__ = ["fake_quantize", "quantize", "quantize_metadata", "SUPPORTED_DTYPES", "ROUNDING_MODES"]

ROUNDING_MODES = {"nearest_even": 0, "nearest_away": 1, "toward_zero": 2, "floor": 3, "stochastic": 4}
SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)

_MAG = 0x7FFFFFFF
_INF = 0x7F800000
_SIGN = -(1 << 31)  # the float32 sign bit as an int32
_I64 = (1 << 64) - 1


def _s64(v: int) -> int:
    """A uint64 constant as the int64 with the same bits (torch has no uint64 arithmetic)."""
    return v - (1 << 64) if v >= 1 << 63 else v


_GAMMA, _MIX1, _MIX2 = _s64(0x9E3779B97F4A7C15), _s64(0xBF58476D1CE4E5B9), _s64(0x94D049BB133111EB)

# MXInt/MXINT8/Fixed nearest-even values: q * 2^-shift as two float multiplies
# (True) or by adding to the exponent bits (False, exact even where a compiler
# flushes subnormals). Both are checked against numba; the benchmark times both.
_FLOAT_VALUES = False


# --------------------------------------------------------------------------- integer helpers
def _shl(a: torch.Tensor, s, hi: int = 30) -> torch.Tensor:
    """a << s with s clamped to [0, hi] (shifts past the width are undefined on GPUs)."""
    return a << (s.clamp(0, hi) if isinstance(s, torch.Tensor) else min(max(s, 0), hi))


def _shr(a: torch.Tensor, s, hi: int = 30) -> torch.Tensor:
    return a >> (s.clamp(0, hi) if isinstance(s, torch.Tensor) else min(max(s, 0), hi))


def _lsr64(z: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of an int64 holding uint64 bits."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def _uniform53(seed: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """U with u = U / 2^53: splitmix64(seed + (index + 1) * gamma) >> 11, as ``kernels.uniform``.

    ``seed`` holds [seed, gamma]: gamma is read from a tensor so that torch.compile does
    not fold ``index * gamma`` into its index arithmetic (it overflowed int64 there).
    """
    z = seed[0] + (index + 1) * seed[1]
    z = (z ^ _lsr64(z, 30)) * _MIX1
    z = (z ^ _lsr64(z, 27)) * _MIX2
    z = z ^ _lsr64(z, 31)
    return _lsr64(z, 11)


def _log2_small(n: torch.Tensor) -> torch.Tensor:
    """floor(log2 n) of int32 1 <= n < 2^24, read off the exponent of float32(n) (exact)."""
    return (n.to(torch.float32).view(torch.int32) >> 23) - 127


def _split(raw: torch.Tensor):
    """(field, fu, sig) of float32 bits: |x| = sig * 2^(fu - 150), fu = max(field, 1)."""
    field = (raw >> 23) & 0xFF
    sig = (raw & 0x7FFFFF) | ((field > 0).to(torch.int32) << 23)
    return field, field.clamp(min=1), sig


def _exponent(field: torch.Tensor, sig: torch.Tensor) -> torch.Tensor:
    """floor(log2 |x|) of a nonzero finite float32 (subnormals included)."""
    return torch.where(field > 0, field - 127, _log2_small(sig) - 149)


def _bits32(x: torch.Tensor) -> torch.Tensor:
    """float32 bit patterns (int32) of a float32, bfloat16 or float16 tensor, exactly.

    Integer arithmetic on a bit view of the input: under torch.compile a bitcast of
    ``x.to(torch.float32)`` made the float32 copy a separate pass (measured: bfloat16
    ran at 0.3x a copy of itself).
    """
    if x.dtype == torch.float32:
        return x.view(torch.int32)
    h = x.view(torch.int16).to(torch.int32)
    if x.dtype == torch.bfloat16:
        return h << 16  # bfloat16 is the top half of a float32
    sign = h & _SIGN  # sign-extended: bit 31 set for negatives
    e = (h >> 10) & 0x1F
    m = h & 0x3FF
    tb = _log2_small(m.clamp(min=1))  # subnormal m * 2^-24 = 2^(tb - 24) * (m / 2^tb)
    sub = torch.where(m == 0, 0, ((tb + 103) << 23) | ((m << (23 - tb)) & 0x7FFFFF))
    normal = ((e + 112) << 23) | (m << 13)
    mag = torch.where(e == 0, sub, torch.where(e == 31, _INF | (m << 13), normal))
    return mag | sign


def _pow2_bits(k: torch.Tensor) -> torch.Tensor:
    """float32 bits of 2^k for -149 <= k <= 127."""
    return torch.where(k >= -126, (k + 127) * (1 << 23), _shl(torch.ones_like(k), k + 149))


def _ldexp_fbits(b: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """float32 bits of y * 2^k, for y >= 0 a normal float32 or zero given by its bits b,
    whose result is representable exactly (a subnormal result keeps every bit)."""
    e = (b >> 23) - 127 + k
    sig = (b & 0x7FFFFF) | (1 << 23)
    return torch.where(b == 0, 0, torch.where(e >= -126, b + k * (1 << 23), _shr(sig, -126 - e)))


def _ldexp_int(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """float32 bits of q * 2^k for int32 0 <= q < 2^24 (float32(q) is exact)."""
    return _ldexp_fbits(q.to(torch.float32).view(torch.int32), k)


def _nearest_even_shift(sig: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """round(sig / 2^d) to nearest even for int sig >= 0, d >= 0 (sig < 2^24)."""
    dc = d.clamp(0, 30)
    q = sig >> dc
    r = sig - (q << dc)
    half = (torch.ones_like(dc) << dc) >> 1
    up = (r > half) | ((r == half) & (dc > 0) & ((q & 1) == 1))
    return q + up.to(q.dtype)


def _stochastic_up(r: torch.Tensor, d: torch.Tensor, neg: torch.Tensor, u53: torch.Tensor) -> torch.Tensor:
    """Whether stochastic rounding moves |x| up, given its remainder r of d dropped bits.

    ``kernels.round_integer`` rounds v up (towards +inf) when u < v - floor(v), in
    float64. For v >= 0 that fraction is t = r / 2^d, exact: U < t * 2^53, i.e.
    U < r << (53 - d), or U < ceil(r / 2^(d - 53)) once d > 53. For v < 0 (and r > 0)
    the fraction is 1 - t; its float64 value is exact for d <= 53 and otherwise
    (then |v| < 1, t < 2^-29) the nearest multiple of 2^-53, 1 - round_even(r /
    2^(d-53)) / 2^53. |x| moves up when v rounds down: u >= that fraction.
    """
    r = r.to(torch.int64)
    d = d.to(torch.int64)
    j = (d - 53).clamp(0, 30)
    low = d <= 53
    t53_pos = torch.where(low, r << (53 - d).clamp(0, 53), (r + (1 << j) - 1) >> j)
    t53_neg = torch.where(low, r << (53 - d).clamp(0, 53), _nearest_even_shift(r, j))
    pos_up = u53 < t53_pos
    neg_up = (r != 0) & (u53 >= (1 << 53) - t53_neg)
    return torch.where(neg, neg_up, pos_up)


def _round_shift(sig, d, neg, rmode: int, u53):
    """Magnitude of round(±sig / 2^d) (d >= 0, sig < 2^24) under a rounding mode; int32."""
    if rmode == 0:
        return _nearest_even_shift(sig, d)
    dc = d.clamp(0, 30)
    q = sig >> dc
    r = sig - (q << dc)  # exact for any d: past 30 bits q = 0 and r = sig
    if rmode == 1:
        up = (r >= ((torch.ones_like(dc) << dc) >> 1)) & (dc > 0)
    elif rmode == 2:
        return q
    elif rmode == 3:
        up = neg & (r != 0)
    else:
        up = _stochastic_up(r, d, neg, u53)
    return q + up.to(q.dtype)


# --------------------------------------------------------------------------- format constants
@dataclass(frozen=True)
class _Spec:
    """What the encode functions need of a format, as plain ints (hashable: a compile key)."""

    family: str  # "int", "float", "log"
    kind: int  # int: 0 shared exponent, 1 Fixed; float: 0 OCP, 1 BMF, 2 MiniFloat
    man_bits: int = 0
    exp_bits: int = 0
    shift_base: int = 0  # int: m - 1 (kind 0) or frac (kind 1)
    scale_max: int = 0
    qmin: int = 0
    qmax: int = 0
    width: int = 0  # element code bits
    a_emax: int = 0  # float: emax_elem (OCP), top code (BMF), top exponent (MiniFloat); log: top code
    a_emin: int = 0
    sat_n: int = 0  # float: vmax / 2^(emax - M), an integer in [2^M, 2^(M+1))
    scale_nan: int = 0


def _spec(fmt: Format) -> _Spec:
    if isinstance(fmt, MXInt) or (isinstance(fmt, OCPFormat) and fmt.is_int):
        m = fmt.man_bits if isinstance(fmt, MXInt) else fmt.elem_man_bits
        q = (1 << m) - 1
        return _Spec("int", 0, man_bits=m, shift_base=m - 1, scale_max=fmt.scale_max, qmin=-q, qmax=q, width=m + 1,
                     scale_nan=fmt.scale_max + 1)
    if isinstance(fmt, Fixed):
        q = (1 << (fmt.width - 1)) - 1
        return _Spec("int", 1, shift_base=fmt.frac, qmin=-q - 1, qmax=q, width=fmt.width)
    if isinstance(fmt, OCPFormat):
        sat = int(math.ldexp(fmt.elem_max, fmt.elem_man_bits - fmt.emax_elem))
        return _Spec("float", 0, man_bits=fmt.elem_man_bits, exp_bits=fmt.elem_exp_bits, scale_max=fmt.scale_max,
                     a_emax=fmt.emax_elem, a_emin=fmt.elem_emin, sat_n=sat, scale_nan=fmt.scale_max + 1)
    if isinstance(fmt, BMF):
        return _Spec("float", 1, man_bits=fmt.man_bits, exp_bits=fmt.exp_bits, scale_max=fmt.scale_max,
                     a_emax=fmt.exp_code_max, sat_n=(2 << fmt.man_bits) - 1, scale_nan=-fmt.scale_max - 1)
    if isinstance(fmt, MiniFloat):
        return _Spec("float", 2, man_bits=fmt.man_bits, exp_bits=fmt.exp_bits,
                     a_emax=(1 << fmt.exp_bits) - 1 - fmt.bias,
                     a_emin=1 - fmt.bias, sat_n=(2 << fmt.man_bits) - 1)
    if isinstance(fmt, BL):
        return _Spec("log", 0, exp_bits=fmt.exp_bits, scale_max=fmt.scale_max, a_emax=fmt.exp_code_max,
                     scale_nan=-fmt.scale_max - 1)
    raise TypeError(f"no torch kernel for {fmt}")


# --------------------------------------------------------------------------- the three grids
# Each takes the element bits ``raw`` (int32, blocked shape) and the block's largest
# magnitude bits ``top`` (broadcastable), and returns (value bits or None, codes or
# None, per-block scale or None). NaN blocks are patched afterwards by the caller.

def _int_grid(spec: _Spec, raw, top, u53, rmode, want_values, want_codes, xf):
    if spec.kind == 0:
        s = torch.where(top > 0, _exponent(*_split(top)[::2]).clamp(-spec.scale_max, spec.scale_max),
                        -spec.scale_max)
        shift = spec.shift_base - s
    else:
        s = None
        shift = torch.full_like(top, spec.shift_base)
    if rmode == 0 and want_values and not want_codes and xf is not None:
        # Hot path: x * 2^shift is exact in float32 up to overflow (which clamps to qmax)
        # or results below 2^-126 (which round to 0); 2^shift is split in two factors
        # so that each is a normal float32; rint is round-half-even.
        k1 = shift.clamp(-126, 127)
        up1 = _pow2_bits(k1).view(torch.float32)
        up2 = _pow2_bits(shift - k1).view(torch.float32)
        q = torch.round(xf * up1 * up2).clamp(spec.qmin, spec.qmax)
        if _FLOAT_VALUES:
            k2 = (-shift).clamp(-126, 127)
            v = q * _pow2_bits(k2).view(torch.float32) * _pow2_bits(-shift - k2).view(torch.float32)
            return torch.where(q == 0, 0.0, v).view(torch.int32), None, s
        qb = q.view(torch.int32)
        mag = _ldexp_fbits(qb & _MAG, -shift)
        return torch.where(mag == 0, 0, mag | (qb & _SIGN)), None, s  # rint gives -0.0: make it +0.0
    field, fu, sig = _split(raw)
    neg = raw < 0
    d = 150 - fu - shift  # dropped bits; < 0 only for normals whose |q| >= 2^24: saturated
    n = torch.where(d >= 0, _round_shift(sig, d.clamp(min=0), neg, rmode, u53), 1 << 24)
    qmag = torch.where(neg, n.clamp(max=-spec.qmin), n.clamp(max=spec.qmax))
    values = codes = None
    if want_values:
        mag = _ldexp_int(qmag, -shift)
        values = torch.where(neg & (qmag != 0), mag | _SIGN, mag)
    if want_codes:
        codes = torch.where(neg, -qmag, qmag) & ((1 << spec.width) - 1)
    return values, codes, s


def _float_block_params(spec: _Spec, top):
    """(scale, emin, emax) per block of the minifloat family (see kernels._float_block_params)."""
    has = top > 0
    e_top = _exponent(*_split(top)[::2])
    if spec.kind == 0:
        s = torch.where(has, (e_top - spec.a_emax).clamp(-spec.scale_max, spec.scale_max), -spec.scale_max)
        return s, spec.a_emin + s, spec.a_emax + s
    if spec.kind == 1:
        beta = torch.where(has, (spec.a_emax - e_top).clamp(-spec.scale_max, spec.scale_max), spec.scale_max)
        return beta, 1 - beta, spec.a_emax - beta
    return None, torch.full_like(top, spec.a_emin), torch.full_like(top, spec.a_emax)


def _float_grid(spec: _Spec, raw, top, u53, rmode, want_values, want_codes, xf):
    M = spec.man_bits
    scale, emin, emax = _float_block_params(spec, top)
    # Saturation bits: vmax = sat_n * 2^(emax - M); a vmax beyond float32 can never be
    # exceeded by a rounded float32 (at most 2^128, the Inf pattern), so clamp there.
    sat_top = spec.sat_n.bit_length() - 1
    k = emax - M
    sat_mant = (spec.sat_n << (23 - sat_top)) & 0x7FFFFF
    sat_bits = torch.where(k + sat_top >= -126, ((k + sat_top).clamp(max=128) + 127) * (1 << 23) + sat_mant,
                           _shl(torch.full_like(k, spec.sat_n), k + 149))
    sat_bits = sat_bits.clamp(max=_INF)
    field, fu, sig = _split(raw)
    neg = raw < 0
    ee = torch.maximum(_exponent(field, sig), emin)  # exponent of the element's binade on the grid
    d = ee - M + 150 - fu  # >= 0: a format's smallest subnormal is at least 2^-149
    n = _round_shift(sig, d, neg, rmode, u53)
    wide = ((fu - 1) << 23) + _shl(n, d, 24)
    # d >= 25: the result is 0 or the grid's quantum 2^(ee - M) itself
    bits = torch.where(n == 0, 0, torch.where(d >= 25, _pow2_bits(ee - M), wide))
    mag = torch.minimum(bits, sat_bits)
    values = codes = None
    if want_values:
        values = torch.where(neg & (mag != 0), mag | _SIGN, mag)
    if want_codes:
        vf, vfu, vsig = _split(mag)
        ev = torch.maximum(_exponent(vf, vsig), emin)
        code = ((ev - emin) << M) + _shr(vsig, ev - M + 150 - vfu, 31)
        sign_code = 1 << (spec.exp_bits + M)
        codes = torch.where(mag == 0, 0, torch.where(neg, code | sign_code, code))
    return values, codes, scale


def _log_parts(mag):
    """(floor(log2 a), a >= 1.5 * 2^floor(log2 a), a is not a power of two, top bit of sig) of a > 0."""
    field, fu, sig = _split(mag)
    tb = torch.where(field > 0, 23, _log2_small(sig))
    below = sig - _shl(torch.ones_like(tb), tb)
    half = (_shr(sig, tb - 1) & 1).to(torch.bool) & (tb > 0)
    return torch.where(field > 0, field - 127, tb - 149), half, below, tb, fu, sig


def _log_grid(spec: _Spec, raw, top, u53, rmode, want_values, want_codes, xf):
    code_max, smax = spec.a_emax, spec.scale_max
    e_top, half_top = _log_parts(top)[:2]
    k_top = (e_top + half_top.to(torch.int32)).clamp(max=127)
    beta = torch.where(top > 0, (code_max - k_top).clamp(-smax, smax), smax)
    lo, hi = 1 - beta, code_max - beta
    mag = raw & _MAG
    neg = raw < 0
    e, half, below, tb, fu, sig = _log_parts(mag)
    if rmode <= 1:
        up_sub, up_mid = e >= lo - 1, half
    elif rmode == 2:
        up_sub = up_mid = torch.zeros_like(neg)
    elif rmode == 3:
        up_sub, up_mid = neg, neg & (below != 0)
    else:
        # below 2^lo: u < |x| / 2^lo = sig / 2^j; inside: u < below / 2^tb (exact in float64)
        j = (lo + 150 - fu).to(torch.int64)
        sig64 = sig.to(torch.int64)
        jj = (j - 53).clamp(0, 30)
        t53 = torch.where(j <= 53, sig64 << (53 - j).clamp(0, 53), (sig64 + (1 << jj) - 1) >> jj)
        up_sub = (e >= lo - 60) & (u53 < t53)
        up_mid = u53 < (below.to(torch.int64) << (53 - tb).to(torch.int64))
    k = torch.where(e > hi, hi, torch.where(e < lo, lo, (e + up_mid.to(torch.int32)).clamp(max=hi)))
    zero = (mag == 0) | ((e < lo) & ~up_sub)
    values = codes = None
    if want_values:
        bits = (k + 127) << 23
        values = torch.where(zero, 0, torch.where(neg, bits | _SIGN, bits))
    if want_codes:
        codes = torch.where(zero, 0, torch.where(neg, (k + beta) | (1 << spec.exp_bits), k + beta))
    return values, codes, beta


_GRIDS = {"int": _int_grid, "float": _float_grid, "log": _log_grid}


# --------------------------------------------------------------------------- blocks and layout
def _geometry(layout: Layout) -> tuple:
    """The layout as plain ints and tuples (traced code must not call numpy)."""
    P, R, C = layout.view_shape
    n = len(layout.axes)
    move = (tuple(reversed(layout.axes)), tuple(range(-n, 0))) if layout.needs_move else None
    return (layout.shape, move, P, R, C, layout.b_row, layout.b_col, layout.moved_shape, layout.scales_shape,
            layout.original)


def _encode_blocks(x: torch.Tensor, seed, spec: _Spec, geom: tuple, rmode: int, want_values: bool,
                   want_codes: bool, out_dtype):
    """The work on blocks: values (out_dtype) and/or codes and scales, shaped (P, Rg, Cg, b_row, b_col).

    The working view is (P, R, C) as in ``layout.py``, zero-padded to whole blocks
    (zeros cannot change a block's maximum) and seen as (P, R/b_row, C/b_col, b_row,
    b_col), so a block is the last two dims: one ``amax`` gives its maximum, and the
    element-wise work iterates block by block like that reduction. The results are
    permuted views whose memory is row-major (P, R, C) (eager keeps the input's
    strides, and torch.compile keeps its outputs' strides), so under torch.compile
    the reduction and the element-wise work fuse into one pass over memory, and
    :func:`_finish` gets a row-major tensor back with views only.
    """
    shape, move, P, R, C, b_row, b_col, moved_shape, scales_shape, original = geom
    xs = x.reshape(shape)
    if move is not None:
        xs = xs.movedim(move[0], move[1])
    Rg, Cg = -(-R // b_row), -(-C // b_col)
    pad_r, pad_c = Rg * b_row - R, Cg * b_col - C

    def blocks(a):
        a = a.reshape(P, R, C)
        if pad_r or pad_c:
            a = torch.nn.functional.pad(a, (0, pad_c, 0, pad_r))
        return a.view(P, Rg, b_row, Cg, b_col).permute(0, 1, 3, 2, 4)

    if xs.dtype == torch.float32:  # both views of the input itself
        xf = blocks(xs)
        raw = xf.view(torch.int32)
    else:
        raw = blocks(_bits32(xs))
        xf = raw.view(torch.float32)
    top = (raw & _MAG).amax(dim=(3, 4), keepdim=True)
    u53 = None
    if rmode == 4:
        index = torch.arange(P * R * C, device=x.device, dtype=torch.int64).view(P, R, C)
        if pad_r or pad_c:
            index = torch.nn.functional.pad(index, (0, pad_c, 0, pad_r))
        u53 = _uniform53(seed, index.view(P, Rg, b_row, Cg, b_col).permute(0, 1, 3, 2, 4))
    values, codes, scale = _GRIDS[spec.family](spec, raw, top, u53, rmode, want_values, want_codes, xf)
    nan_block = top >= _INF
    results = []
    if want_values:
        results.append(torch.where(nan_block, float("nan"), values.view(torch.float32)).to(out_dtype))
    if want_codes:
        results.append(torch.where(nan_block, 0, codes).to(torch.uint8 if _code_bits(spec) <= 8 else torch.int32))
        if scale is not None:
            results.append(torch.where(nan_block, spec.scale_nan, scale).to(torch.int16))
    return tuple(results)


def _finish(results: tuple, geom: tuple, want_values: bool, want_codes: bool) -> tuple:
    """From block-shaped results to the caller's layouts (views, unless ragged or moved axes)."""
    shape, move, P, R, C, b_row, b_col, moved_shape, scales_shape, original = geom

    def crop(a):
        Rg, Cg = a.shape[1], a.shape[2]
        return a.permute(0, 1, 3, 2, 4).reshape(P, Rg * b_row, Cg * b_col)[:, :R, :C].reshape(moved_shape)

    out = []
    if want_values:
        v = crop(results[0])
        if move is not None:
            v = v.movedim(move[1], move[0])
        out.append(v.reshape(original).contiguous())
    if want_codes:
        out.append(crop(results[-2] if len(results) - want_values == 2 else results[-1]).contiguous())
        if len(results) - want_values == 2:
            out.append(results[-1].reshape(scales_shape).contiguous())
    return tuple(out)


def _encode(x, seed, spec, geom, rmode, want_values, want_codes, out_dtype):
    """Eager: :func:`_encode_blocks` then :func:`_finish`."""
    return _finish(_encode_blocks(x, seed, spec, geom, rmode, want_values, want_codes, out_dtype), geom,
                   want_values, want_codes)


def _code_bits(spec: _Spec) -> int:
    if spec.family == "int":
        return spec.width
    if spec.family == "float":
        return 1 + spec.exp_bits + spec.man_bits
    return 1 + spec.exp_bits


# --------------------------------------------------------------------------- compilation
_COMPILED: dict = {}
_COMPILE_FAILED: set = set()
_CALLS: dict = {}

#: When ``compile=None`` (the default) on a GPU: a tensor of at least this many elements is
#: compiled at its first call; a smaller one runs eager until its (format, shape, ...) key has
#: been called ``COMPILE_AFTER`` times, then compiled. Measured on an H200 (torch 2.11,
#: 2026-12-03, gpu_tmp experiment recorded in the package README): a compile costs 1-11 s per
#: format and shape; eager costs ~1.3-1.5 ms per call below 2.4M elements (about 50 kernel
#: launches) and 4.4-9.5 ms at 8192x8192, compiled ~0.1-0.15 ms (wrapper-bound) and 0.14-0.2 ms.
#: A search trial touches each (format, shape) a handful of times -- compiling them all cost
#: minutes -- while QAT and long evaluations call the same few keys thousands of times.
COMPILE_MIN_NUMEL = 1 << 22
COMPILE_AFTER = 256


def _should_compile(key, numel: int) -> bool:
    """The default policy (module constants above): big tensors at once, small hot ones later."""
    if numel >= COMPILE_MIN_NUMEL or key in _COMPILED:
        return True
    n = _CALLS[key] = _CALLS.get(key, 0) + 1
    if len(_CALLS) > 65536:  # a long search of ever new shapes: forget the cold counts
        _CALLS.clear()
    return n > COMPILE_AFTER


def _compiled(key):
    """A torch.compile'd copy of :func:`_encode_blocks` for one static configuration and shape.

    Each key gets its own code object, so torch.compile's per-function recompile limit never
    applies, and ``dynamic=False``: under dynamic shapes inductor's Triton code for the
    minifloat and MXINT8 paths failed to build (a 64-bit value bitcast to 32 bits, torch 2.11).
    """
    fn = _COMPILED.get(key)
    if fn is None:
        code = _encode_blocks.__code__.replace(co_name=f"_encode_blocks_{len(_COMPILED)}")
        clone = types.FunctionType(code, _encode_blocks.__globals__, code.co_name, _encode_blocks.__defaults__)
        fn = _COMPILED[key] = torch.compile(clone, fullgraph=True, dynamic=False)
    return fn


@functools.lru_cache(maxsize=4096)
def _plan(fmt: Format, shape: tuple, axes):
    """(spec, layout, geometry) of one call; cached, since the wrapper's per-call cost is on the host."""
    layout = make_layout(fmt, shape, axes)
    return _spec(fmt), layout, _geometry(layout)


_SEEDS: dict = {}


def _seed_tensor(seed: int, device) -> torch.Tensor:
    """[seed, gamma] as an int64 tensor on the device (a tensor, so a new seed is no
    recompile), kept for reuse: creating one is a blocking host-to-device copy."""
    key = (seed, str(device))
    t = _SEEDS.get(key)
    if t is None:
        if len(_SEEDS) > 256:
            _SEEDS.clear()
        t = _SEEDS[key] = torch.tensor([seed, _GAMMA], dtype=torch.int64, device=device)
    return t


def _run(x, fmt, axes, rounding, seed, want_values, want_codes, out_dtype, compile):
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"unknown rounding {rounding!r}; choose one of {', '.join(ROUNDING_MODES)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an int in [0, 2^63), got {seed!r}")
    if x.dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"torch kernels take {', '.join(map(str, SUPPORTED_DTYPES))} tensors, got {x.dtype}")
    spec, layout, geom = _plan(fmt, tuple(x.shape), tuple(axes) if isinstance(axes, list) else axes)
    rmode = ROUNDING_MODES[rounding]
    seed_t = _seed_tensor(seed, x.device) if rmode == 4 else None
    args = (x, seed_t, spec, geom, rmode, want_values, want_codes, out_dtype)
    if compile and x.device.type == "cpu":
        # inductor's CPU backend (torch 2.13) computed wrong values for ragged blocks: the
        # compiled path is for GPUs, where the CUDA tests check it; CPU tensors run eager.
        raise ValueError("compile=True is for GPU tensors; CPU tensors run the eager torch ops")
    key = (spec, rmode, want_values, want_codes, out_dtype, layout.axes, layout.b_row, layout.b_col, tuple(x.shape),
           x.dtype, _FLOAT_VALUES)
    if compile is None:
        compile = x.device.type == "cuda" and _should_compile(key, x.numel())
    if compile and key not in _COMPILE_FAILED:
        try:
            return _finish(_compiled(key)(*args), args[3], want_values, want_codes)
        except Exception as exc:  # noqa: BLE001 - any compiler failure: the eager path is still exact
            _COMPILE_FAILED.add(key)
            warnings.warn(f"mx_formats: torch.compile failed for {fmt} ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); running eager torch ops", stacklevel=3)
    return _encode(*args)


# --------------------------------------------------------------------------- public
def fake_quantize(x: torch.Tensor, fmt: Format, axes=None, rounding: str = "nearest_even", *, seed: int = 0,
                  out_dtype=None, compile: bool | None = None) -> torch.Tensor:
    """``mx_formats.fake_quantize`` of a torch tensor, on its device.

    Values equal the numba kernel's bit for bit (float32 results, converted to
    ``out_dtype``, default float32). ``compile``: ``True`` runs under torch.compile (GPU tensors
    only), ``False`` eager; ``None`` (the default) on CUDA tensors follows :func:`_should_compile`
    (big or hot tensors compiled), elsewhere eager. Takes float32, float16 and bfloat16 tensors.
    """
    if isinstance(fmt, Float32):
        return x.to(out_dtype or torch.float32)
    if x.numel() == 0:
        return torch.empty(x.shape, dtype=out_dtype or torch.float32, device=x.device)
    if isinstance(fmt, MetadataFormat):
        if rounding != "nearest_even":
            raise ValueError(f"{fmt} is defined for rounding='nearest_even' only, got {rounding!r}")
        if x.dtype not in SUPPORTED_DTYPES:
            raise TypeError(f"torch kernels take {', '.join(map(str, SUPPORTED_DTYPES))} tensors, got {x.dtype}")
        layout, values = _metadata_encode(x, fmt, axes)[:2]
        return _metadata_finish(layout, values).to(out_dtype or torch.float32)
    return _run(x, fmt, axes, rounding, seed, True, False, out_dtype or torch.float32, compile)[0]


def quantize(x: torch.Tensor, fmt: Format, axes=None, rounding: str = "nearest_even", *, seed: int = 0,
             compile: bool | None = None):
    """(scales int16, element codes) of ``mx_formats.quantize`` as tensors on x's device.

    Codes are uint8 when the element fits 8 bits, else int32 (holding the unsigned
    code), in the layout of ``MXArray.elements``; scales in that of ``MXArray.scales``
    (None for scalar formats). Non-finite input to a scalar format is not refused
    here (the caller checks).
    """
    if isinstance(fmt, Float32):
        raise TypeError("quantize: f32 has no packed codes on the torch path")
    if isinstance(fmt, MetadataFormat):
        raise TypeError(f"quantize: {fmt} has metadata; use torch_kernels.quantize_metadata")
    layout = make_layout(fmt, tuple(x.shape), axes)
    if x.numel() == 0:
        codes = torch.empty(layout.moved_shape, dtype=torch.uint8 if _code_bits(_spec(fmt)) <= 8 else torch.int32,
                            device=x.device)
        scales = torch.empty(layout.scales_shape, dtype=torch.int16, device=x.device) if fmt.is_block else None
        return scales, codes
    res = _run(x, fmt, axes, rounding, seed, False, True, None, compile)
    return (res[1] if len(res) > 1 else None), res[0]



# --------------------------------------------------------------------------- metadata formats (issue 20)
# NVFP4 and M2XFP on torch tensors, bit for bit metadata_kernels.py. Rounding is a count of
# exact float64 comparisons against midpoints times the unit (every product exact, see
# metadata_kernels.py), powers of two are built from their float64 bits, the M2XFP-ES error
# sums are exact in float64 in any order, and ties are broken by explicit first-index rules
# (no argmin/argmax tie conventions). Eager torch ops on every device (no torch.compile yet).

def _metadata_tables(device):
    from mx_formats import metadata_kernels as MK

    f64 = dict(dtype=torch.float64, device=device)
    return (torch.tensor(MK.FP4_VALUES, **f64), torch.tensor(MK.FP4_MIDS, **f64), torch.tensor(MK.FP6_VALUES, **f64),
            torch.tensor(MK.FP6_MIDS, **f64), torch.tensor(MK.E4M3_VALUES, **f64), torch.tensor(MK.E4M3_MIDS, **f64))


def _pow2_f64(k: torch.Tensor) -> torch.Tensor:
    """2^k in float64 from its bits, for integer tensors -1022 < k < 1024."""
    return ((k.to(torch.int64) + 1023) << 52).view(torch.float64)


def _count_code(a: torch.Tensor, mids: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    """Nearest-even code on a grid of values[j] * unit (codes 0..len(mids)): see metadata_kernels.round_code."""
    t = mids * unit.unsqueeze(-1)
    odd = (torch.arange(mids.numel(), device=a.device) & 1) == 1
    av = a.unsqueeze(-1)
    return ((av > t) | ((av == t) & odd)).sum(-1)


def _metadata_view(x: torch.Tensor, layout: Layout, n: int):
    """(rows, C, padded rows x (C rounded up to n)) of the working view as float32."""
    xs = x.reshape(layout.shape)
    if layout.needs_move:
        xs = xs.movedim(tuple(reversed(layout.axes)), tuple(range(-len(layout.axes), 0)))
    P, R, C = layout.view_shape
    xs = xs.reshape(P * R, C)
    xs = xs if xs.dtype == torch.float32 else _bits32(xs).view(torch.float32)
    pad = -C % n
    return P * R, C, torch.nn.functional.pad(xs, (0, pad)) if pad else xs


def _metadata_encode(x: torch.Tensor, fmt, axes):
    """(values float32, codes uint8, scales int16, meta uint8 or None, tensor_scale float32 or None), working view."""
    from mx_formats.formats import NVFP4

    layout = make_layout(fmt, tuple(x.shape), axes)
    n = fmt.block_size
    rows, C, xp = _metadata_view(x, layout, n)
    fp4, fp4_mid, fp6, fp6_mid, e4m3, e4m3_mid = _metadata_tables(x.device)
    raw = xp.view(torch.int32)
    finite = (raw & _MAG) < _INF
    a = torch.where(finite, xp, 0.0).abs().to(torch.float64)
    nb = xp.shape[1] // n
    nan_block = (~finite).view(rows, nb, n).any(-1)
    neg = raw < 0
    flt_max = float(torch.finfo(torch.float32).max)
    tensor_scale = meta = None
    if isinstance(fmt, NVFP4):
        amax = a.max() if a.numel() else torch.zeros((), dtype=torch.float64, device=x.device)
        tensor_scale = (amax.to(torch.float32).to(torch.float64) / (448.0 * 6.0)).to(torch.float32)
        S = tensor_scale.to(torch.float64)
        bmax = a.view(rows, nb, n).amax(-1)
        d = torch.where(S > 0, _count_code(bmax / (6.0 * S), e4m3_mid, torch.ones_like(bmax)), 0)
        unit = (e4m3[d] * S).repeat_interleave(n, dim=-1)
        k = torch.where(unit > 0, _count_code(a, fp4_mid, unit), 0)
        values = (fp4[k] * unit).clamp(max=flt_max).to(torch.float32)
        scales = torch.where(nan_block, 0x7F, d)
    else:
        G, g = n // fmt.subgroup, fmt.subgroup
        top = (raw & _MAG).masked_fill(~finite, 0).view(rows, nb, n).amax(-1)
        s0 = torch.where(top > 0, (_exponent(*_split(top)[::2]) - 2).clamp(-127, 127), -127)
        ag = a.view(rows, nb, G, g)
        if fmt.variant == "ES":
            best = torch.full_like(s0, float("inf"), dtype=torch.float64)
            best_s, best_m = s0.clone(), torch.zeros(rows, nb, G, dtype=torch.int64, device=x.device)
            for delta in (0, -1, 1):
                s = s0 + delta
                sub_best = torch.full(ag.shape[:-1], float("inf"), dtype=torch.float64, device=x.device)
                sub_m = torch.zeros_like(best_m)
                for m in range(4):
                    unit = ((4 + m) * _pow2_f64(s - 2))[..., None, None].expand(ag.shape)
                    y = fp4[_count_code(ag, fp4_mid, unit)] * unit
                    err = torch.where((y <= flt_max).all(-1), (y * (y - 2.0 * ag)).sum(-1), float("inf"))
                    better = err < sub_best
                    sub_best, sub_m = torch.where(better, err, sub_best), torch.where(better, m, sub_m)
                total = torch.where((s >= -127) & (s <= 127), sub_best.sum(-1), float("inf"))
                better = total < best
                best = torch.where(better, total, best)
                best_s = torch.where(better, s, best_s)
                best_m = torch.where(better[..., None], sub_m, best_m)
            unit = ((4 + best_m) * _pow2_f64(best_s - 2)[..., None])[..., None].expand(ag.shape).reshape(rows, -1)
            k = _count_code(a, fp4_mid, unit)
            values = (fp4[k] * unit).to(torch.float32)
            scales, meta = best_s, best_m
        else:
            unit = _pow2_f64(s0)[..., None, None].expand(ag.shape)
            kg = _count_code(ag, fp4_mid, unit)
            kmax = kg.amax(-1, keepdim=True)
            pos = torch.arange(g, device=x.device).expand(kg.shape)
            pick = torch.where(kg == kmax, pos, g).amin(-1, keepdim=True)
            w = (4 * kmax - 1).clamp(0, 28)
            a_pick = ag.gather(-1, pick)
            t = fp6_mid[w + torch.arange(3, device=x.device)] * unit[..., :1]
            odd = ((w + torch.arange(3, device=x.device)) & 1) == 1
            j = w + ((a_pick > t) | ((a_pick == t) & odd)).sum(-1, keepdim=True)
            vg = torch.where(pos == pick, fp6[j].expand(kg.shape), fp4[kg]) * unit
            values = vg.to(torch.float32).reshape(rows, -1)
            k = kg.reshape(rows, -1)
            code_nz = torch.where(pos == pick, j != 0, kg != 0).reshape(rows, -1)
            scales, meta = s0, (j - w).squeeze(-1)
        scales = torch.where(nan_block, 128, scales)
    if isinstance(fmt, NVFP4) or fmt.variant == "ES":
        code_nz = k != 0
    values = torch.where(neg & (values != 0), -values, values)
    sign = neg & code_nz
    el_nan = nan_block.repeat_interleave(n, dim=-1)
    values = torch.where(el_nan, float("nan"), values)
    codes = torch.where(el_nan, 0, k | torch.where(sign, 8, 0)).to(torch.uint8)
    if meta is not None:
        meta = torch.where(nan_block[..., None], 0, meta).reshape(rows, -1)
        meta = meta[:, : -(-C // fmt.subgroup)].to(torch.uint8)
    return layout, values[:, :C], codes[:, :C], scales.to(torch.int16), meta, tensor_scale


def _metadata_finish(layout: Layout, values):
    v = values.reshape(layout.moved_shape)
    if layout.needs_move:
        v = v.movedim(tuple(range(-len(layout.axes), 0)), tuple(reversed(layout.axes)))
    return v.reshape(layout.original).contiguous()


def quantize_metadata(x: torch.Tensor, fmt, axes=None, rounding: str = "nearest_even"):
    """(scales int16, codes uint8, meta uint8 or None, tensor_scale float32 tensor or None) of an
    NVFP4 / M2XFP tensor on its device, in the layouts of ``MXArray``."""
    if rounding != "nearest_even":
        raise ValueError(f"{fmt} is defined for rounding='nearest_even' only, got {rounding!r}")
    layout, _, codes, scales, meta, tensor_scale = _metadata_encode(x, fmt, axes)
    mshape = (*layout.moved_shape[:-1], -(-layout.moved_shape[-1] // fmt.subgroup_size))
    return (scales.reshape(layout.scales_shape), codes.reshape(layout.moved_shape),
            meta.reshape(mshape) if meta is not None else None, tensor_scale)
