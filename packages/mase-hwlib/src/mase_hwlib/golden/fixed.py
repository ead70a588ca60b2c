"""Exact golden models of the fixed-point stream operators, in integer arithmetic as the RTL computes them.

Notation: ``Fixed(W, F)`` holds a two's-complement integer ``v`` in
``[-2^(W-1), 2^(W-1) - 1]``, value ``v * 2^-F`` (``F`` may be negative or larger
than ``W``), exactly ``mx_formats.Fixed``. A fixed-point stream beat carries
lanes of ``v`` (field ``data``, signed, ``W`` bits per lane).

Every operator forms its exact result as an integer ``A`` on a fraction grid
``F_A`` (value ``A * 2^-F_A``; products, sums and bias alignment never drop a
bit) and rounds it once into the output format (:func:`requantize`):

    q = clamp(round_half_even(A * 2^(OUT_FRAC - F_A)), -2^(OUT_WIDTH-1), 2^(OUT_WIDTH-1) - 1)

which is ``mx_formats.quantize(A * 2^-F_A, Fixed(OUT_WIDTH, OUT_FRAC))`` (the
quantizer rounds ``x * 2^frac`` half to even, ``rint``, then clamps) whenever the
exact value is a float64 (tests compare the two).

Accumulator width of a dot product (linear, matmul): with ``x`` in
``Fixed(XW, XF)``, ``w`` in ``Fixed(WW, WF)``, every product is exact on the grid
``XF + WF`` and ``|x w| <= 2^(XW-1) 2^(WW-1)``. The accumulator grid is
``F_A = max(XF + WF, BF)`` (the bias ``Fixed(BW, BF)`` aligned exactly, one more
term), so products are shifted left by ``PSH = F_A - XF - WF`` and the bias by
``BSH = F_A - BF``. With ``E = max(XW + WW - 2 + PSH, BW - 1 + BSH)`` every term
satisfies ``|t| <= 2^E``, so a sum of ``K`` products (+1 bias) has
``|S| <= (K + HAS_BIAS) 2^E <= 2^(E + clog2(K + HAS_BIAS))``; a signed integer
holding ``+2^(E+c)`` needs ``E + c + 2`` bits:

    ACC_WIDTH = E + clog2(K + HAS_BIAS) + 2
              = XW + WW + clog2(K + HAS_BIAS)      (no shifts: BF <= XF + WF and BW - 1 <= XW + WW - 2)

The bound is reached (``K`` products of ``(-2^(XW-1)) (-2^(WW-1))``), so the
accumulator cannot overflow and has at most one redundant bit. There is no
shared exponent, so unlike MXInt no alignment is needed across tiles.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "clog2",
    "round_half_even",
    "saturate",
    "requantize",
    "dot_accumulator",
    "linear",
    "linear_module",
    "matmul",
    "add",
    "relu",
    "cast",
    "mxint_to_fixed",
]


def clog2(n: int) -> int:
    """``ceil(log2 n)`` for ``n >= 1`` (Verilog's ``$clog2``)."""
    return (int(n) - 1).bit_length()


def round_half_even(v: int, shift: int) -> int:
    """``v * 2^-shift`` rounded to an integer, ties to even (``shift <= 0``: the exact ``v << -shift``).

    Works on the signed value: ``t = floor(v / 2^shift)``, then ``t + 1`` when the
    remainder is above half, or exactly half and ``t`` is odd.
    """
    v = int(v)
    if shift <= 0:
        return v << -shift
    t = v >> shift  # floor, also for negative v
    rem = v - (t << shift)
    half = 1 << (shift - 1)
    if rem > half or (rem == half and t & 1):
        t += 1
    return t


def saturate(v: int, width: int) -> int:
    """Clamp to the ``width``-bit two's-complement range."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return min(max(int(v), lo), hi)


def requantize(v: int, frac: int, out_width: int, out_frac: int) -> int:
    """Exact ``v * 2^-frac`` -> the ``Fixed(out_width, out_frac)`` integer (one rounding, saturated)."""
    return saturate(round_half_even(v, frac - out_frac), out_width)


def dot_accumulator(x_width: int, x_frac: int, w_width: int, w_frac: int, terms: int, has_bias: int = 0,
                    b_width: int = 2, b_frac: int = 0) -> dict:
    """Exact accumulator of a fixed-point dot product of ``terms`` products (+ a bias): see the
    module docstring. Returns ``ACC_FRAC``, ``ACC_WIDTH``, ``PROD_SHIFT``, ``BIAS_SHIFT``."""
    prod_frac = x_frac + w_frac
    acc_frac = max(prod_frac, b_frac) if has_bias else prod_frac
    psh = acc_frac - prod_frac
    bsh = acc_frac - b_frac if has_bias else 0
    top = x_width + w_width - 2 + psh
    if has_bias:
        top = max(top, b_width - 1 + bsh)
    return {"ACC_FRAC": acc_frac, "ACC_WIDTH": top + clog2(terms + (1 if has_bias else 0)) + 2,
            "PROD_SHIFT": psh, "BIAS_SHIFT": bsh}


def _check(name: str, data: np.ndarray, width: int) -> None:
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if data.size and (data.min() < lo or data.max() > hi):
        raise ValueError(f"{name}_data holds [{data.min()}, {data.max()}]: Fixed lanes of {width} bits are "
                         f"limited to [{lo}, {hi}]")


def _out(rows, lanes: int) -> dict:
    return {"y": {"data": np.array(rows, dtype=np.int64).reshape(-1, lanes)}}


def _tile_dot(xa, wb, rows, cols, k):
    """Integer tile product: P[r*cols + c] = sum_i xa[r*k + i] * wb[c*k + i]."""
    return [sum(xa[r * k + i] * wb[c * k + i] for i in range(k)) for r in range(rows) for c in range(cols)]


def linear(params: Mapping, inputs: Mapping, weights=None, bias=None) -> dict:
    """y = x W^T (+ b) on fixed-point tiles, streamed as ``mase_mxint_linear`` streams MXInt.

    ``x`` arrives as groups of IN_TILES tiles (X_ROWS x BLOCK_K, lane ``r*BLOCK_K + k``); per group
    the output is OUT_TILES tiles (X_ROWS x OUT_TILE, lane ``r*OUT_TILE + c``) in order o. Weight
    tiles ``W[o, k]`` (OUT_TILE x BLOCK_K, lane ``c*BLOCK_K + k``) come from the ``w`` stream
    (OUT_TILES*IN_TILES beats per group, order (o, k)) or from ``weights`` (one group's worth);
    the bias tile of o (OUT_TILE lanes, added to every row) from ``b`` or ``bias``. Each output
    element is the exact sum on the accumulator grid, rounded once (:func:`requantize`).
    """
    it, ot, bk = params["IN_TILES"], params["OUT_TILES"], params["BLOCK_K"]
    rows, cols = params["X_ROWS"], params["OUT_TILE"]
    x = np.asarray(inputs["x"]["data"])
    _check("x", x, params["X_WIDTH"])
    if len(x) % it:
        raise ValueError(f"mase_fixed_linear: {len(x)} x tiles is not a multiple of IN_TILES={it}")
    groups = len(x) // it
    w = np.asarray(inputs["w"]["data"]) if weights is None else np.tile(np.asarray(weights), (groups, 1))
    if len(w) != groups * ot * it:
        raise ValueError(f"mase_fixed_linear: the weights need {groups * ot * it} tiles, got {len(w)}")
    _check("w", w, params["W_WIDTH"])
    has_bias = params["HAS_BIAS"]
    acc = dot_accumulator(params["X_WIDTH"], params["X_FRAC"], params["W_WIDTH"], params["W_FRAC"],
                          it * bk, has_bias, params["B_WIDTH"], params["B_FRAC"])
    if has_bias:
        b = np.asarray(inputs["b"]["data"]) if bias is None else np.tile(np.asarray(bias), (groups, 1))
        if len(b) != groups * ot:
            raise ValueError(f"mase_fixed_linear: the bias needs {groups * ot} tiles, got {len(b)}")
        _check("b", b, params["B_WIDTH"])
    xl, wl = x.tolist(), w.tolist()
    out = []
    for g in range(groups):
        for o in range(ot):
            s = [0] * (rows * cols)
            for k in range(it):
                p = _tile_dot(xl[g * it + k], wl[(g * ot + o) * it + k], rows, cols, bk)
                s = [a + (v << acc["PROD_SHIFT"]) for a, v in zip(s, p)]
            if has_bias:
                bq = b[g * ot + o].tolist()
                s = [a + (bq[j % cols] << acc["BIAS_SHIFT"]) for j, a in enumerate(s)]
            out.append([requantize(v, acc["ACC_FRAC"], params["OUT_WIDTH"], params["OUT_FRAC"]) for v in s])
    return _out(out, rows * cols)


def linear_module(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_fixed_linear`` as built: weights from the w stream or, with
    WEIGHTS_IN_ROM, read from the same $readmemh files the RTL loads."""
    if not params["WEIGHTS_IN_ROM"]:
        return linear(params, inputs)
    from mase_hwlib.rom import read_linear_roms
    from mase_hwlib.rom_fixed import read_fixed_rom

    weights, bias = read_linear_roms(
        "mase_fixed_linear", params,
        lambda f: read_fixed_rom(f, params["OUT_TILE"] * params["BLOCK_K"], params["W_WIDTH"]),
        lambda f: read_fixed_rom(f, params["OUT_TILE"], params["B_WIDTH"]))
    return linear(params, inputs, weights=weights, bias=bias)


def matmul(params: Mapping, inputs: Mapping) -> dict:
    """C = A @ B: every K_TILES consecutive (a, b) tile pairs (A_ROWS x BLOCK_K and B^T
    B_COLS x BLOCK_K) give one A_ROWS x B_COLS output tile, exact K-sum rounded once."""
    kt, bk, rows, cols = params["K_TILES"], params["BLOCK_K"], params["A_ROWS"], params["B_COLS"]
    a, b = np.asarray(inputs["a"]["data"]), np.asarray(inputs["b"]["data"])
    _check("a", a, params["A_WIDTH"])
    _check("b", b, params["B_WIDTH"])
    if len(a) != len(b):
        raise ValueError(f"mase_fixed_matmul: streams a and b need the same number of tiles, got {len(a)} and {len(b)}")
    if len(a) % kt:
        raise ValueError(f"mase_fixed_matmul: {len(a)} tile pairs is not a multiple of K_TILES={kt}")
    frac = params["A_FRAC"] + params["B_FRAC"]
    al, bl = a.tolist(), b.tolist()
    out = []
    for g in range(0, len(al), kt):
        s = [0] * (rows * cols)
        for i in range(g, g + kt):
            s = [x + y for x, y in zip(s, _tile_dot(al[i], bl[i], rows, cols, bk))]
        out.append([requantize(v, frac, params["OUT_WIDTH"], params["OUT_FRAC"]) for v in s])
    return _out(out, rows * cols)


def add(params: Mapping, inputs: Mapping) -> dict:
    """Elementwise a + b: both aligned exactly onto the finer grid max(A_FRAC, B_FRAC), rounded once."""
    a, b = np.asarray(inputs["a"]["data"]), np.asarray(inputs["b"]["data"])
    _check("a", a, params["A_WIDTH"])
    _check("b", b, params["B_WIDTH"])
    if len(a) != len(b):
        raise ValueError(f"mase_fixed_add: streams a and b need the same number of beats, got {len(a)} and {len(b)}")
    af, bf = params["A_FRAC"], params["B_FRAC"]
    frac = max(af, bf)
    out = [[requantize((x << (frac - af)) + (y << (frac - bf)), frac, params["OUT_WIDTH"], params["OUT_FRAC"])
            for x, y in zip(ra, rb)] for ra, rb in zip(a.tolist(), b.tolist())]
    return _out(out, a.shape[1])


def _unary(params: Mapping, inputs: Mapping, op) -> dict:
    x = np.asarray(inputs["x"]["data"])
    _check("x", x, params["IN_WIDTH"])
    out = [[requantize(op(v), params["IN_FRAC"], params["OUT_WIDTH"], params["OUT_FRAC"]) for v in row]
           for row in x.tolist()]
    return _out(out, x.shape[1])


def relu(params: Mapping, inputs: Mapping) -> dict:
    """max(x, 0) per lane, then rounded into Fixed(OUT_WIDTH, OUT_FRAC) (exact when the formats match)."""
    return _unary(params, inputs, lambda v: max(v, 0))


def cast(params: Mapping, inputs: Mapping) -> dict:
    """Fixed(IN_WIDTH, IN_FRAC) -> Fixed(OUT_WIDTH, OUT_FRAC): re-round (half to even) and saturate."""
    return _unary(params, inputs, lambda v: v)


def mxint_to_fixed(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_mxint_block_to_fixed``: element ``q * 2^(s - IN_MAN + 1)`` of each
    MXInt block -> ``Fixed(OUT_WIDTH, OUT_FRAC)``, rounded half to even and saturated; the tile
    (lane ``r*BLOCK_0 + c``) is kept."""
    from mase_hwlib.golden.mxint import _check_block

    x = inputs["x"]
    _check_block("x", x["mant"], x["exp"], params["IN_MAN"], params["IN_EXP"])
    out = [[requantize(q, params["IN_MAN"] - 1 - s, params["OUT_WIDTH"], params["OUT_FRAC"]) for q in row]
           for row, s in zip(x["mant"].tolist(), x["exp"][:, 0].tolist())]
    return _out(out, x["mant"].shape[1])
