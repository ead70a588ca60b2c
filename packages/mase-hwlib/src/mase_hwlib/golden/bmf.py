"""Bit-exact golden models of the block-minifloat (BMF) and block-logarithm (BL) linear layers,
``mase_bmf_linear`` and ``mase_bl_linear``, and of their output quantizer.

Streams (one block per beat, as ``mase_bmf_dot``): ``<s>_data`` lanes are the element codes
``mx_formats`` stores (BMF ``sign | c (E) | f (M)``, BL ``sign | c (E)``), ``<s>_bias`` the block's
shared bias beta (two's complement). The linear's tiles and their order are those of
``mase_mxint_linear``: x tiles ``X_ROWS x BLOCK_K`` (lane ``r*BLOCK_K + k``), weight tiles
``W[o, k]`` ``OUT_TILE x BLOCK_K`` (lane ``c*BLOCK_K + k``, order ``(o, k)`` per x group), bias
tiles ``OUT_TILE`` lanes, one per output tile. x, W and the bias share one element format
(``EXP_BITS``, ``MAN_BITS`` (BMF), ``BIAS_BITS``).

Sum. A code decodes to ``(-1)^s mag 2^off`` on the LSB ``2^(1 - beta - M)``, ``mag = c ? 2^M + f :
f``, ``off = max(c, 1) - 1`` (a BL code is the BMF code with ``M = 0``: ``mag = [c != 0]``). Tile
pair ``k`` of output tile ``o`` gives per output lane ``(r, c)`` the exact integer

    P_k(r, c) = sum_kk (-1)^(sx^sw) mag_x mag_w 2^(off_x + off_w)   on LSB  L_k = 2 - beta_x - beta_w - 2M

and the bias (``HAS_BIAS``) the term 0 ``(-1)^s mag_b(c) 2^off_b(c)`` on ``1 - beta_b - M``. The
``N = IN_TILES + HAS_BIAS`` terms go through the bounded accumulator
(:func:`mase_hwlib.golden.accumulate.bounded_sum`, ``ACC_BITS``, ``ACC_ROUND``; exact with
``ACC_WIDTH = 0``), giving ``A * 2^lsb`` per lane.

Output quantizer. ``OUT_GROUP`` consecutive output tiles (along out_features) make one output
block of ``X_ROWS x OUT_GROUP*OUT_TILE`` elements (lane ``r*OUT_GROUP*OUT_TILE + g*OUT_TILE + c``),
quantized as ``mx_formats.quantize`` quantizes a block of real values (:func:`quantize_bmf`,
:func:`quantize_bl`), computed here on the integers ``A * 2^lsb`` exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mase_hwlib.golden import accumulate
from mase_hwlib.golden.dot import bias_hi, decode_minifloat

__all__ = ["quantize_bmf", "quantize_bl", "term_width", "acc_config", "bmf_linear", "bl_linear",
           "bmf_linear_module", "bl_linear_module", "linear_sums", "group_blocks", "block_beats", "BL_TOP_POWER"]

#: mx_formats caps a BL block's rounded maximum at 2^127 (float32's largest power of two)
BL_TOP_POWER = 127


def _round_half_even(a: int, s: int) -> int:
    """``a / 2^s`` rounded half to even, ``a >= 0`` (exact left shift for ``s <= 0``)."""
    if s <= 0:
        return a << -s
    q = a >> s
    rem = a - (q << s)
    half = 1 << (s - 1)
    return q + (rem > half or (rem == half and q & 1))


def quantize_bmf(values: Sequence[tuple[int, int]], exp_bits: int, man_bits: int,
                 bias_bits: int) -> tuple[int, list[int]]:
    """One BMF(E, M, bias_bits) block of the exact reals ``A * 2^lsb`` (``values = [(A, lsb)]``):
    ``(beta, codes)`` exactly as ``mx_formats.quantize(..., "nearest_even")`` rounds them.

    ``beta = clamp((2^E - 1) - floor(log2 amax), -H, H)`` (``H = 2^(bias_bits-1) - 1``; an all-zero
    block takes ``H``); element exponent ``e' = max(floor(log2 |v|), 1 - beta)``, ``q =
    round_half_even(|v| 2^(M - e'))``, saturating at ``(2 - 2^-M) 2^(2^E - 1 - beta)``."""
    top, hi = (1 << exp_bits) - 1, bias_hi(bias_bits)
    exps = [abs(a).bit_length() - 1 + lsb for a, lsb in values if a]
    if not exps:
        return hi, [0] * len(values)
    beta = min(max(top - max(exps), -hi), hi)
    emin = 1 - beta
    sign_bit = 1 << (exp_bits + man_bits)
    codes = []
    for a, lsb in values:
        if a == 0:
            codes.append(0)
            continue
        e = max(abs(a).bit_length() - 1 + lsb, emin)
        q = _round_half_even(abs(a), e - man_bits - lsb)
        if q == 0:
            codes.append(0)
            continue
        if q >> (man_bits + 1):  # rounded up into the next binade
            e, q = e + 1, q >> 1
        c = e + beta if q >> man_bits else 0  # q < 2^M only for a subnormal (e = emin)
        f = q - (1 << man_bits) if c else q
        if c > top:  # beyond the top binade: saturate
            c, f = top, (1 << man_bits) - 1
        codes.append((c << man_bits | f) | (sign_bit if a < 0 else 0))
    return beta, codes


def quantize_bl(values: Sequence[tuple[int, int]], exp_bits: int, bias_bits: int) -> tuple[int, list[int]]:
    """One BL(E, bias_bits) block of the exact reals ``A * 2^lsb``: ``(beta, codes)`` exactly as
    ``mx_formats.quantize(..., "nearest_even")`` rounds them (nearest power of two in the linear
    domain, ties to the larger magnitude).

    With ``e = floor(log2 |v|)`` and ``g`` the bit below the leading one (``|v| >= 1.5 * 2^e``), an
    element rounds to ``2^(e + g)``; ``k* = min(max(e + g), 127)``, ``beta = clamp((2^E - 1) - k*, -H,
    H)``; the code is ``clamp(e + g + beta, 1, 2^E - 1)`` when ``e + beta >= 0`` (``|v| >= 2^(-beta)``,
    half the smallest power), else zero."""
    top, hi = (1 << exp_bits) - 1, bias_hi(bias_bits)
    rounded = []  # (e, e + g) of the non-zero elements, None for zero
    for a, lsb in values:
        if a == 0:
            rounded.append(None)
            continue
        p = abs(a).bit_length() - 1
        g = (abs(a) >> (p - 1)) & 1 if p >= 1 else 0
        rounded.append((p + lsb, p + lsb + g))
    ks = [r[1] for r in rounded if r is not None]
    if not ks:
        return hi, [0] * len(values)
    beta = min(max(top - min(max(ks), BL_TOP_POWER), -hi), hi)
    codes = []
    for (a, _), r in zip(values, rounded):
        if r is None or r[0] + beta < 0:
            codes.append(0)
            continue
        c = min(max(r[1] + beta, 1), top)
        codes.append(c | ((1 << exp_bits) if a < 0 else 0))
    return beta, codes


def block_beats(q) -> dict:
    """An ``mx_formats.MXArray`` of a BMF / BL format as beats ``{"data", "bias"}``, one block per
    beat: blocks row-major over the block grid of ``q.elements`` (blocked axes last), lanes
    row-major over the ``(B1, B0)`` tile (as :func:`mase_hwlib.streams.mx_to_beats` for MXInt)."""
    codes, scales = np.asarray(q.elements), np.asarray(q.scales)
    block = tuple(q.fmt.block)
    b0, b1 = block[0], (block[1] if len(block) > 1 else 1)
    if len(block) == 1:
        codes, scales = codes[..., None, :], scales[..., None]
    *lead, rows, cols = codes.shape
    if rows % b1 or cols % b0:
        raise ValueError(f"block_beats: shape {q.shape} is not a whole number of {block} blocks")
    tiles = np.moveaxis(codes.reshape(*lead, rows // b1, b1, cols // b0, b0), -3, -2)
    return {"data": tiles.reshape(-1, b1 * b0).astype(np.int64), "bias": scales.reshape(-1, 1).astype(np.int64)}


# ---------------------------------------------------------------------------
# Widths


def term_width(block_k: int, exp_bits: int, man_bits: int) -> int:
    """Signed width TW of a tile-pair term (``mase_bmf_dot``'s block sum): ``|mag_x mag_w| <
    2^(2M+2)`` (``<= 1`` for ``M = 0``), shifted by at most ``2(2^E - 2)``, ``BLOCK_K`` of them. The
    bias term (``|mag_b| 2^off_b < 2^(M + 2^E - 1)``) always fits it."""
    prod = 2 * (man_bits + 1) + 2 * ((1 << exp_bits) - 2) if man_bits else 2 * ((1 << exp_bits) - 2) + 1
    return prod + accumulate.clog2(block_k) + 1


def lsb_range(man_bits: int, bias_bits: int, has_bias: bool) -> tuple[int, int]:
    """Range of the terms' LSB exponents over every two's-complement bias code."""
    hi = bias_hi(bias_bits)
    lo, top = 2 - 2 * hi - 2 * man_bits, 2 + 2 * (hi + 1) - 2 * man_bits
    if has_bias:
        lo, top = min(lo, 1 - hi - man_bits), max(top, 2 + hi - man_bits)
    return lo, top


def acc_config(module: str, p: Mapping, man_bits: int) -> dict:
    """The bounded accumulator of the linear (:func:`accumulate.acc_config`) plus ``LSB_MIN``,
    ``LSB_MAX`` and ``EXP_WIDTH`` (signed bits of every ``L``, ``R - F`` and their differences)."""
    tw = term_width(p["BLOCK_K"], p["EXP_BITS"], man_bits)
    lo, hi = lsb_range(man_bits, p["BIAS_BITS"], bool(p["HAS_BIAS"]))
    acc = accumulate.acc_config(module, p["ACC_WIDTH"], tw, p["IN_TILES"] + p["HAS_BIAS"], lo, hi)
    return {**acc, "LSB_MIN": lo, "LSB_MAX": hi,
            "EXP_WIDTH": accumulate.clog2(max(-lo, hi) + acc["ACC_BITS"] + 1) + 1}


# ---------------------------------------------------------------------------
# The linear


def _decoded(codes: np.ndarray, exp_bits: int, man_bits: int) -> list[list[tuple[int, int, int]]]:
    sign, mag, off = decode_minifloat(codes, exp_bits, man_bits)
    return [list(zip(s, m, o)) for s, m, o in zip(sign.tolist(), mag.tolist(), off.tolist())]


def _check(module: str, name: str, beats: Mapping, el_width: int, bias_bits: int) -> None:
    data, bias = np.asarray(beats["data"]), np.asarray(beats["bias"])
    if data.size and (data.min() < 0 or data.max() >= 1 << el_width):
        raise ValueError(f"{module}: {name}_data holds a code outside [0, 2^{el_width})")
    lo, hi = -(1 << (bias_bits - 1)), bias_hi(bias_bits)
    if bias.size and (bias.min() < lo or bias.max() > hi):
        raise ValueError(f"{module}: {name}_bias holds a bias outside [{lo}, {hi}]")


def linear_sums(params: Mapping, inputs: Mapping, *, man_bits: int, weights=None, bias=None,
                module: str = "mase_bmf_linear") -> list[tuple[list[int], int]]:
    """The accumulator's result per output tile, in stream order: ``[(A lanes (r*OUT_TILE + c),
    lsb), ...]``, the value of lane ``j`` being ``A[j] * 2^lsb``. ``params`` must be resolved
    (``catalog.get(module).resolve(...)``); ``weights`` / ``bias``: ROM contents as beats."""
    it, ot, bk = params["IN_TILES"], params["OUT_TILES"], params["BLOCK_K"]
    rows, cols = params["X_ROWS"], params["OUT_TILE"]
    e, bb = params["EXP_BITS"], params["BIAS_BITS"]
    el = 1 + e + man_bits
    x = inputs["x"]
    _check(module, "x", x, el, bb)
    n = len(x["data"])
    if n % it:
        raise ValueError(f"{module}: {n} x tiles is not a multiple of IN_TILES={it}")
    groups = n // it
    w = inputs["w"] if weights is None else {k: np.tile(np.asarray(v), (groups, 1)) for k, v in weights.items()}
    if len(w["data"]) != groups * ot * it:
        raise ValueError(f"{module}: the weights need {groups * ot * it} tiles, got {len(w['data'])}")
    _check(module, "w", w, el, bb)
    has_bias = params["HAS_BIAS"]
    if has_bias:
        b = inputs["b"] if bias is None else {k: np.tile(np.asarray(v), (groups, 1)) for k, v in bias.items()}
        if len(b["data"]) != groups * ot:
            raise ValueError(f"{module}: the bias needs {groups * ot} tiles, got {len(b['data'])}")
        _check(module, "b", b, el, bb)
        bd, bs = _decoded(np.asarray(b["data"]), e, man_bits), np.asarray(b["bias"]).reshape(-1).tolist()
    xd, xs = _decoded(np.asarray(x["data"]), e, man_bits), np.asarray(x["bias"]).reshape(-1).tolist()
    wd, ws = _decoded(np.asarray(w["data"]), e, man_bits), np.asarray(w["bias"]).reshape(-1).tolist()
    tw = params["ACC_TERM_WIDTH"]
    rounding = accumulate.ROUNDINGS[params["ACC_ROUND"]]
    out = []
    for g in range(groups):
        for o in range(ot):
            terms = []
            if has_bias:
                bi = g * ot + o
                lanes = [(-1) ** s * (m << f) for s, m, f in bd[bi]]
                terms.append(([lanes[c] for _ in range(rows) for c in range(cols)], 1 - bs[bi] - man_bits))
            for k in range(it):
                xi, wi = g * it + k, (g * ot + o) * it + k
                xt, wt = xd[xi], wd[wi]
                lanes = []
                for r in range(rows):
                    for c in range(cols):
                        s = 0
                        for kk in range(bk):
                            sx, mx, ox = xt[r * bk + kk]
                            sw, mw, ow = wt[c * bk + kk]
                            v = (mx * mw) << (ox + ow)
                            s += -v if sx ^ sw else v
                        lanes.append(s)
                terms.append((lanes, 2 - xs[xi] - ws[wi] - 2 * man_bits))
            if params["ACC_WIDTH"] == 0:
                out.append(accumulate.exact_sum(terms))
            else:
                out.append(accumulate.bounded_sum(terms, params["ACC_BITS"], tw, rounding))
    return out


def group_blocks(sums: Sequence[tuple[list[int], int]], rows: int, cols: int, group: int):
    """Output tiles -> output blocks of ``group`` consecutive tiles: ``[[(A, lsb) per lane
    r*group*cols + g*cols + c], ...]``."""
    if len(sums) % group:
        raise ValueError(f"{len(sums)} output tiles is not a multiple of OUT_GROUP={group}")
    blocks = []
    for i in range(0, len(sums), group):
        blk = [None] * (rows * group * cols)
        for g, (lanes, lsb) in enumerate(sums[i:i + group]):
            for r in range(rows):
                for c in range(cols):
                    blk[r * group * cols + g * cols + c] = (int(lanes[r * cols + c]), int(lsb))
        blocks.append(blk)
    return blocks


def _linear(params, inputs, log: bool, weights=None, bias=None):
    module = "mase_bl_linear" if log else "mase_bmf_linear"
    man = 0 if log else params["MAN_BITS"]
    sums = linear_sums(params, inputs, man_bits=man, weights=weights, bias=bias, module=module)
    blocks = group_blocks(sums, params["X_ROWS"], params["OUT_TILE"], params["OUT_GROUP"])
    data, scales = [], []
    for blk in blocks:
        if log:
            beta, codes = quantize_bl(blk, params["OUT_EXP_BITS"], params["OUT_BIAS_BITS"])
        else:
            beta, codes = quantize_bmf(blk, params["OUT_EXP_BITS"], params["OUT_MAN_BITS"], params["OUT_BIAS_BITS"])
        data.append(codes)
        scales.append([beta])
    lanes = params["X_ROWS"] * params["OUT_TILE"] * params["OUT_GROUP"]
    return {"y": {"data": np.array(data, dtype=np.int64).reshape(-1, lanes),
                  "bias": np.array(scales, dtype=np.int64).reshape(-1, 1)}}


def bmf_linear(params, inputs, weights=None, bias=None):
    """y = x W^T (+ b) as ``mase_bmf_linear`` computes it (streamed weights, or ``weights`` /
    ``bias`` beats ``{"data", "bias"}`` in the ROM's order)."""
    return _linear(params, inputs, False, weights, bias)


def bl_linear(params, inputs, weights=None, bias=None):
    """y = x W^T (+ b) as ``mase_bl_linear`` computes it (see :func:`bmf_linear`)."""
    return _linear(params, inputs, True, weights, bias)


def _module(params, inputs, log: bool):
    if not params["WEIGHTS_IN_ROM"]:
        return _linear(params, inputs, log)
    from mase_hwlib.rom import read_linear_roms
    from mase_hwlib.rom_bmf import read_bmf_rom

    el = 1 + params["EXP_BITS"] + (0 if log else params["MAN_BITS"])
    weights, bias = read_linear_roms(
        "mase_bl_linear" if log else "mase_bmf_linear", params,
        lambda f: read_bmf_rom(f, params["OUT_TILE"] * params["BLOCK_K"], el, params["BIAS_BITS"]),
        lambda f: read_bmf_rom(f, params["OUT_TILE"], el, params["BIAS_BITS"]),
        count=lambda tiles: len(tiles["data"]))
    return _linear(params, inputs, log, weights, bias)


def bmf_linear_module(params, inputs):
    """Golden model of ``mase_bmf_linear`` as built: weights from the w stream or, with
    WEIGHTS_IN_ROM, from the same $readmemh files the RTL loads."""
    return _module(params, inputs, False)


def bl_linear_module(params, inputs):
    """Golden model of ``mase_bl_linear`` as built (see :func:`bmf_linear_module`)."""
    return _module(params, inputs, True)
