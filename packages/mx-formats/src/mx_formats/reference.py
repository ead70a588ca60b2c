"""A slow, obviously-correct reference of every format, for tests.

Pure Python on float64 scalars, one block at a time, written from DESIGN.md §3
without sharing any arithmetic with the kernels: exponents from ``math.frexp``,
rounding with explicit integer rules, OCP elements computed in the element domain
(x / X) as the OCP specification states them. Only the block layout (which
elements form a block) and the stochastic-rounding stream are shared, since they
are definitions rather than arithmetic.

``reference_quantize(x, fmt, axes, rounding, seed)`` returns
``(values float32 in x's shape, scales, codes)`` with scales and codes in the
layouts of ``MXArray``.
"""

from __future__ import annotations

import math

import numpy as np

from mx_formats.formats import BL, BMF, F32, BlockFormat, Fixed, Format, MiniFloat, MXInt, OCPFormat
from mx_formats.layout import make_layout

__all__ = ["reference_quantize", "reference_fake_quantize", "reference_metadata_quantize", "splitmix_uniform"]

_MASK64 = (1 << 64) - 1


def splitmix_uniform(seed: int, index: int) -> float:
    """The stochastic-rounding stream: splitmix64 of seed + (index + 1) * gamma, top 53 bits."""
    z = (seed + (index + 1) * 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    z ^= z >> 31
    return (z >> 11) / 2.0**53


def floor_log2(a: float) -> int:
    """floor(log2 a) for a > 0, exactly: a = m * 2^e with m in [0.5, 1)."""
    return math.frexp(a)[1] - 1


def round_to_int(v: float, rounding: str, u: float = 0.0) -> int:
    """Round a float to an integer under one of the five modes (exact for floats).

    ``u`` is the uniform draw used by ``stochastic``: round up when u < frac(v).
    """
    f = math.floor(v)
    d = v - f  # exact: the fractional part of a float is a float
    if rounding == "nearest_even":
        return f + 1 if d > 0.5 or (d == 0.5 and f % 2 == 1) else f
    if rounding == "nearest_away":
        if d == 0.5:
            return f + 1 if v > 0 else f
        return f + 1 if d > 0.5 else f
    if rounding == "toward_zero":
        return math.trunc(v)
    if rounding == "floor":
        return f
    if rounding == "stochastic":
        return f + 1 if u < d else f
    raise ValueError(f"unknown rounding {rounding!r}")


def _minifloat(v: float, man_bits: int, emin: int, vmax: float, rounding: str, u: float):
    """(value, magnitude code) of v on a minifloat grid (absolute exponents) with subnormals.

    emin: exponent of the smallest normal; vmax: saturation magnitude. The code is
    c << M | f with c = e - emin + 1 (normal) or 0 (subnormal).
    """
    a = abs(v)
    e = max(floor_log2(a), emin) if a > 0 else emin
    q = round_to_int(math.ldexp(v, man_bits - e), rounding, u)
    value = math.ldexp(q, e - man_bits)
    if abs(value) > vmax:
        value = math.copysign(vmax, v)
    return value, _minifloat_code(abs(value), man_bits, emin)


def _minifloat_code(a: float, man_bits: int, emin: int) -> int:
    if a == 0:
        return 0
    e = floor_log2(a)
    if e >= emin:
        frac = int(math.ldexp(a, man_bits - e)) - (1 << man_bits)
        return ((e - emin + 1) << man_bits) | frac
    return int(math.ldexp(a, man_bits - emin))


def _quantize_block(values, fmt: Format, rounding: str, seed: int, indices):
    """(scale, [(value, code)]) of one block's elements (floats), in order."""
    us = [splitmix_uniform(seed, i) if rounding == "stochastic" else 0.0 for i in indices]
    if any(not math.isfinite(v) for v in values):
        nan_scale = fmt.scale_nan if isinstance(fmt, BlockFormat) else 0
        return nan_scale, [(math.nan, 0)] * len(values)
    amax = max((abs(v) for v in values), default=0.0)
    out = []
    if isinstance(fmt, (MXInt, Fixed)) or (isinstance(fmt, OCPFormat) and fmt.is_int):
        if isinstance(fmt, Fixed):
            scale, frac_bits, width = 0, fmt.frac, fmt.width
            qmin, qmax = -(1 << (width - 1)), (1 << (width - 1)) - 1
        else:
            m = fmt.man_bits if isinstance(fmt, MXInt) else fmt.elem_man_bits
            scale = -fmt.scale_max if amax == 0 else min(max(floor_log2(amax), -fmt.scale_max), fmt.scale_max)
            frac_bits, width = m - 1 - scale, m + 1
            qmin, qmax = -((1 << m) - 1), (1 << m) - 1
        for v, u in zip(values, us):
            q = min(max(round_to_int(math.ldexp(v, frac_bits), rounding, u), qmin), qmax)
            out.append((math.ldexp(q, -frac_bits), q % (1 << width)))
        return scale, out
    if isinstance(fmt, OCPFormat):  # element domain: x / X with X = 2^scale
        scale = -127 if amax == 0 else min(max(floor_log2(amax) - fmt.emax_elem, -127), 127)
        sign_bit = 1 << (fmt.elem_exp_bits + fmt.elem_man_bits)
        for v, u in zip(values, us):
            elem, code = _minifloat(math.ldexp(v, -scale), fmt.elem_man_bits, fmt.elem_emin, fmt.elem_max, rounding, u)
            out.append((math.ldexp(elem, scale), code | (sign_bit if elem < 0 else 0)))
        return scale, out
    if isinstance(fmt, (BMF, MiniFloat)):
        if isinstance(fmt, BMF):
            top = (1 << fmt.exp_bits) - 1
            scale = fmt.scale_max if amax == 0 else min(max(top - floor_log2(amax), -fmt.scale_max), fmt.scale_max)
            emin = 1 - scale
            vmax = math.ldexp(2 - 2.0**-fmt.man_bits, top - scale)
        else:
            scale, emin, vmax = 0, 1 - fmt.bias, fmt.max_value
        sign_bit = 1 << (fmt.exp_bits + fmt.man_bits)
        for v, u in zip(values, us):
            value, code = _minifloat(v, fmt.man_bits, emin, vmax, rounding, u)
            out.append((value, code | (sign_bit if value < 0 else 0)))
        return scale, out
    if isinstance(fmt, BL):
        return _quantize_bl_block(values, fmt, rounding, us, amax)
    raise TypeError(f"no reference for {fmt}")


def _quantize_bl_block(values, fmt: BL, rounding: str, us, amax: float):
    top_code = (1 << fmt.exp_bits) - 1
    if amax == 0:
        beta = fmt.scale_max
    else:
        e = floor_log2(amax)
        k_top = min(e + 1 if amax >= 1.5 * 2.0**e else e, 127)  # nearest power of two, ties up, <= 2^127
        beta = min(max(top_code - k_top, -fmt.scale_max), fmt.scale_max)
    lo, hi = 1 - beta, top_code - beta  # exponents of the smallest and largest magnitudes
    out = []
    for v, u in zip(values, us):
        a = abs(v)
        k = None  # None: zero
        if a > 0:
            # The two grid points around a: below 2^lo they are 0 and 2^lo.
            e = floor_log2(a)
            if e > hi:
                k = hi
            else:
                low = None if e < lo else e  # None stands for zero
                low_value = 0.0 if low is None else 2.0**low
                high = lo if e < lo else e + 1
                high_value = 2.0**high
                if rounding in ("nearest_even", "nearest_away"):
                    up = a >= (low_value + high_value) / 2  # linear midpoint, ties up
                elif rounding == "toward_zero":
                    up = False
                elif rounding == "floor":
                    up = v < 0 and a > low_value
                else:
                    up = u < (a - low_value) / (high_value - low_value)
                k = min(high, hi) if up else low
        if k is None:
            out.append((0.0, 0))
        else:
            out.append((math.copysign(2.0**k, v), (k + beta) | ((1 << fmt.exp_bits) if v < 0 else 0)))
    return beta, out


def reference_quantize(x, fmt: Format, axes=None, rounding: str = "nearest_even", seed: int = 0):
    """(values, scales, codes) of ``x`` under ``fmt``, one Python block at a time."""
    x = np.asarray(x)
    if x.dtype == np.float16:
        x = x.astype(np.float32)
    big = np.finfo(np.float32).max
    x = np.where(np.isfinite(x), np.clip(x, -big, big), x)  # DESIGN: outputs are finite float32
    if fmt == F32:
        return x.astype(np.float32), np.zeros((0,), np.int16), x.astype(np.float32).view(np.uint32)
    layout = make_layout(fmt, x.shape, axes)
    view = layout.to_view(x).astype(np.float64)
    P, R, C = view.shape
    b_row, b_col = layout.b_row, layout.b_col
    values = np.zeros(view.shape, np.float64)
    codes = np.zeros(view.shape, np.int64)
    groups_r, groups_c = -(-R // b_row), -(-C // b_col)
    scales = np.zeros((P, groups_r, groups_c), np.int64)
    for p in range(P):
        for gr in range(groups_r):
            for gc in range(groups_c):
                cells = [(p, r, c) for r in range(gr * b_row, min(gr * b_row + b_row, R))
                         for c in range(gc * b_col, min(gc * b_col + b_col, C))]
                block = [float(view[cell]) for cell in cells]
                flat = [(p * R + r) * C + c for (p, r, c) in cells]
                scale, results = _quantize_block(block, fmt, rounding, seed, flat)
                scales[p, gr, gc] = scale
                for cell, (value, code) in zip(cells, results):
                    values[cell] = value + 0.0  # -0.0 -> +0.0
                    codes[cell] = code
    out_values = layout.from_view(values.astype(np.float32))
    out_scales = scales.reshape(layout.scales_shape) if fmt.is_block else np.zeros((0,), np.int64)
    return out_values, out_scales, codes.reshape(layout.moved_shape)


def reference_fake_quantize(x, fmt: Format, axes=None, rounding: str = "nearest_even", seed: int = 0):
    return reference_quantize(x, fmt, axes, rounding, seed)[0]


# --------------------------------------------------------------------------- metadata formats (issue 20)
# Exact rational arithmetic (fractions.Fraction) throughout: grids from the element
# definitions, nearest by distance with ties to the even code, squared errors summed exactly.
from fractions import Fraction  # noqa: E402

from mx_formats.formats import M2XFP, NVFP4  # noqa: E402


def _minifloat_grid(exp_bits: int, man_bits: int, bias: int, count: int) -> list[Fraction]:
    """Magnitudes of codes 0..count-1 of a minifloat: c = 0 subnormal, else 2^(c-bias) (1 + f/2^M)."""
    grid = []
    for code in range(count):
        c, f = code >> man_bits, code & ((1 << man_bits) - 1)
        if c == 0:
            grid.append(Fraction(f, 1 << man_bits) * Fraction(2) ** (1 - bias))
        else:
            grid.append((1 + Fraction(f, 1 << man_bits)) * Fraction(2) ** (c - bias))
    return grid


FP4_GRID = _minifloat_grid(2, 1, 1, 8)  # 0, 0.5, 1, 1.5, 2, 3, 4, 6
FP6_GRID = _minifloat_grid(2, 3, 1, 32)  # E2M3, up to 7.5
E4M3_GRID = _minifloat_grid(4, 3, 7, 127)  # up to 448; code 127 is NaN


def _nearest(a: Fraction, grid: list[Fraction], lo: int = 0, hi: int | None = None) -> int:
    """Code in [lo, hi] whose value is nearest a >= 0; ties to the even code."""
    hi = len(grid) - 1 if hi is None else hi
    return min(range(lo, hi + 1), key=lambda c: (abs(a - grid[c]), c & 1))


def _fp4_codes(block, unit: Fraction):
    return [_nearest(abs(Fraction(v)) / unit, FP4_GRID) for v in block]


def _signed(code: int, v: float, nonzero: bool) -> int:
    return code | (8 if v < 0 and nonzero else 0)


def _m2xfp_block(block: list[float], fmt: M2XFP):
    """(scale, [meta per subgroup], [(value, code)]) of one M2XFP block."""
    ng = -(-len(block) // fmt.subgroup)
    if any(not math.isfinite(v) for v in block):
        return fmt.scale_nan, [0] * ng, [(math.nan, 0)] * len(block)
    amax = max(abs(v) for v in block)
    s0 = -127 if amax == 0 else min(max(floor_log2(amax) - 2, -127), 127)
    groups = [block[i:i + fmt.subgroup] for i in range(0, len(block), fmt.subgroup)]
    flt_max = Fraction(float(np.finfo(np.float32).max))
    if fmt.variant == "ES":
        best = None
        for delta in (0, -1, 1):  # tie order: the OCP exponent first
            s = s0 + delta
            if not -127 <= s <= 127:
                continue
            metas, errors = [], []
            for group in groups:
                options = []
                for m in range(4):
                    unit = Fraction(4 + m, 4) * Fraction(2) ** s
                    ys = [FP4_GRID[k] * unit for k in _fp4_codes(group, unit)]
                    if max(ys) > flt_max:
                        continue
                    options.append((sum((abs(Fraction(v)) - y) ** 2 for v, y in zip(group, ys)), m))
                if not options:
                    break
                err, m = min(options)  # ties: the smaller m
                metas.append(m)
                errors.append(err)
            else:
                mean = sum(errors) / len(errors)
                if best is None or mean < best[0]:
                    best = (mean, s, metas)
        assert best is not None  # s = the OCP exponent (offset 0) always has a candidate
        _, s, metas = best
        out = []
        for group, m in zip(groups, metas):
            unit = Fraction(4 + m, 4) * Fraction(2) ** s
            for v, k in zip(group, _fp4_codes(group, unit)):
                out.append((math.copysign(float(FP4_GRID[k] * unit), v) if k else 0.0, _signed(k, v, k != 0)))
        return s, metas, out
    unit = Fraction(2) ** s0  # EM
    metas, out = [], []
    for group in groups:
        ks = _fp4_codes(group, unit)
        pick = max(range(len(group)), key=lambda i: (ks[i], -i))  # largest code, lowest index
        start = min(max(4 * ks[pick] - 1, 0), 28)
        j = _nearest(abs(Fraction(group[pick])) / unit, FP6_GRID, start, start + 3)
        metas.append(j - start)
        for i, (v, k) in enumerate(zip(group, ks)):
            if i == pick:
                out.append((math.copysign(float(FP6_GRID[j] * unit), v) if j else 0.0, _signed(k, v, j != 0)))
            else:
                out.append((math.copysign(float(FP4_GRID[k] * unit), v) if k else 0.0, _signed(k, v, k != 0)))
    return s0, metas, out


def _nvfp4_block(block: list[float], tensor_scale: np.float32):
    if any(not math.isfinite(v) for v in block):
        return 0x7F, [(math.nan, 0)] * len(block)
    S = Fraction(float(tensor_scale))
    amax = Fraction(max(abs(v) for v in block))
    d = 0 if S == 0 else _nearest(amax / (6 * S), E4M3_GRID)
    unit = E4M3_GRID[d] * S
    big = float(np.finfo(np.float32).max)
    out = []
    for v in block:
        k = 0 if unit == 0 else _nearest(abs(Fraction(v)) / unit, FP4_GRID)
        value = float(np.float32(min(float(FP4_GRID[k] * unit), big)))  # exact in float64, one float32 rounding
        out.append((math.copysign(value, v) if k else 0.0, _signed(k, v, k != 0)))
    return d, out


def reference_metadata_quantize(x, fmt, axes=None):
    """(values, scales, codes, meta or None, tensor_scale or None) of NVFP4 / M2XFP, block by block."""
    x = np.asarray(x).astype(np.float32)  # these formats read float32
    layout = make_layout(fmt, x.shape, axes)
    view = layout.to_view(x).astype(np.float64)
    P, R, C = view.shape
    rows = view.reshape(P * R, C)
    tensor_scale = None
    if isinstance(fmt, NVFP4):
        finite = [abs(float(v)) for v in x.reshape(-1) if math.isfinite(v)]
        tensor_scale = np.float32(max(finite, default=0.0) / 2688)
    nb, ns = -(-C // fmt.block_size), -(-C // fmt.subgroup_size)
    values = np.zeros(rows.shape, np.float32)
    codes = np.zeros(rows.shape, np.uint8)
    scales = np.zeros((P * R, nb), np.int16)
    meta = np.zeros((P * R, ns), np.uint8)
    for r in range(P * R):
        for b in range(nb):
            c0 = b * fmt.block_size
            block = [float(v) for v in rows[r, c0:c0 + fmt.block_size]]
            if isinstance(fmt, NVFP4):
                scale, results = _nvfp4_block(block, tensor_scale)
            else:
                scale, metas, results = _m2xfp_block(block, fmt)
                g0 = c0 // fmt.subgroup
                meta[r, g0:g0 + len(metas)] = metas
            scales[r, b] = scale
            for i, (value, code) in enumerate(results):
                values[r, c0 + i] = value + 0.0
                codes[r, c0 + i] = code
    mshape = (*layout.moved_shape[:-1], ns)
    return (layout.from_view(values), scales.reshape(layout.scales_shape), codes.reshape(layout.moved_shape),
            meta.reshape(mshape) if isinstance(fmt, M2XFP) else None, tensor_scale)
