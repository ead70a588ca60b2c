"""Bit-exact golden models of the MXInt operators, in integer arithmetic as the RTL computes them.

Notation: an MXInt(B, e, m) block holds signed element integers ``q`` with
``|q| <= 2^m - 1`` and a shared exponent ``s`` in ``[-emax, emax]``,
``emax = 2^(e-1) - 1``; element value ``q * 2^(s - m + 1)``.

Every operator first forms the result of a block as integers ``A_j`` over one
common least-significant-bit exponent ``L`` (value ``A_j * 2^L``) — products
are exact and full width; ``add``, ``matmul`` and ``linear`` sum their terms in
the bounded accumulator of :mod:`mase_hwlib.golden.accumulate` (aligned to the
larger exponent in ``ACC_WIDTH`` bits, shifted-out bits rounded by
``ACC_ROUND``), or exactly when ``ACC_WIDTH = 0`` — and then
:func:`normalize_block` turns it into the output MXInt block:

    s = clamp(floor(log2 max_j |A_j 2^L|), -emax, emax)       (bit_length of OR_j |A_j|)
    q_j = clamp(round_half_even(A_j * 2^(L - s + m - 1)), -(2^m - 1), 2^m - 1)
    all-zero block: s = -emax, q = 0

which, for the exact operators (and ``ACC_WIDTH = 0``), is exactly
``mx_formats.quantize(exact, fmt, rounding="nearest_even")`` whenever the exact
values are float64-representable (the software quantizer
takes the exponent from the float bits and rounds ``x * 2^(m-1-s)``, a
power-of-two scaling, half to even). NaN blocks are not modelled: the RTL has
no NaN code.
"""

from __future__ import annotations

import numpy as np

from mase_hwlib.golden import accumulate

__all__ = [
    "emax",
    "round_half_even_shift",
    "normalize_block",
    "cast",
    "relu",
    "mul",
    "add",
    "matmul",
    "linear",
]


def emax(exp_bits: int) -> int:
    """Largest shared exponent of an ``exp_bits``-bit MXInt scale."""
    return (1 << (exp_bits - 1)) - 1


def round_half_even_shift(mag: int, shift: int) -> int:
    """``round(mag / 2^shift)``, ties to even, for ``mag >= 0`` and ``shift >= 1``."""
    t = mag >> shift
    rem = mag - (t << shift)
    half = 1 << (shift - 1)
    if rem > half or (rem == half and t & 1):
        t += 1
    return t


def normalize_block(ints, lsb: int, man: int, exp: int) -> tuple[list[int], int]:
    """Exact block ``ints * 2^lsb`` -> MXInt(man, exp) element integers and shared exponent."""
    ints = [int(v) for v in ints]
    lim = emax(exp)
    union = 0
    for v in ints:
        union |= abs(v)
    if union == 0:
        return [0] * len(ints), -lim
    s = min(max(union.bit_length() - 1 + lsb, -lim), lim)
    shift = s - (man - 1) - lsb  # right shift that puts the block maximum's top bit at 2^(m-1)
    sat = (1 << man) - 1
    out = []
    for v in ints:
        mag = abs(v)
        q = round_half_even_shift(mag, shift) if shift > 0 else mag << -shift
        q = min(q, sat)
        out.append(-q if v < 0 else q)
    return out, s


def _check_block(name: str, mant: np.ndarray, exp: np.ndarray, man: int, e: int) -> None:
    """Refuse element codes the format cannot hold (-2^m) and scales outside [-emax, emax]."""
    if mant.size and np.abs(mant).max() > (1 << man) - 1:
        raise ValueError(f"{name}_mant holds {np.abs(mant).max()}: MXInt elements are limited to +-(2^{man}-1)")
    if exp.size and np.abs(exp).max() > emax(e):
        raise ValueError(f"{name}_exp holds {np.abs(exp).max()}: shared exponents are limited to +-{emax(e)}")


def _unary(params, inputs, prefix, op):
    x = inputs["x"]
    _check_block("x", x["mant"], x["exp"], params[f"{prefix}_MAN"], params[f"{prefix}_EXP"])
    mants, exps = [], []
    lsb_off = params[f"{prefix}_MAN"] - 1
    for q, s in zip(x["mant"].tolist(), x["exp"][:, 0].tolist()):
        m, e = normalize_block(op(q), s - lsb_off, params["OUT_MAN"], params["OUT_EXP"])
        mants.append(m)
        exps.append([e])
    return _out(mants, exps, x["mant"].shape[1])


def _out(mants, exps, lanes):
    return {
        "y": {
            "mant": np.array(mants, dtype=np.int64).reshape(-1, lanes),
            "exp": np.array(exps, dtype=np.int64).reshape(-1, 1),
        }
    }


def cast(params, inputs):
    """MXInt(IN_MAN, IN_EXP) -> MXInt(OUT_MAN, OUT_EXP), same block: re-round and re-normalise."""
    return _unary(params, inputs, "IN", lambda q: q)


def relu(params, inputs):
    """max(x, 0) per element, renormalised into the output format (exact when formats match)."""
    return _unary(params, inputs, "IN", lambda q: [max(v, 0) for v in q])


def _pairs(params, inputs):
    a, b = inputs["a"], inputs["b"]
    if len(a["mant"]) != len(b["mant"]):
        raise ValueError(f"streams a and b need the same number of blocks, got {len(a['mant'])} and {len(b['mant'])}")
    _check_block("a", a["mant"], a["exp"], params["A_MAN"], params["A_EXP"])
    _check_block("b", b["mant"], b["exp"], params["B_MAN"], params["B_EXP"])
    return zip(a["mant"].tolist(), a["exp"][:, 0].tolist(), b["mant"].tolist(), b["exp"][:, 0].tolist())


def mul(params, inputs):
    """Elementwise product: A_j = qa_j qb_j exactly, L = sa + sb - (A_MAN-1) - (B_MAN-1)."""
    mants, exps = [], []
    for qa, sa, qb, sb in _pairs(params, inputs):
        lsb = sa - (params["A_MAN"] - 1) + sb - (params["B_MAN"] - 1)
        m, e = normalize_block([x * y for x, y in zip(qa, qb)], lsb, params["OUT_MAN"], params["OUT_EXP"])
        mants.append(m)
        exps.append([e])
    return _out(mants, exps, inputs["a"]["mant"].shape[1])


def add(params, inputs):
    """Elementwise sum: the two-term bounded sum ``[(qa, La), (qb, Lb)]`` (exact with ACC_WIDTH=0)."""
    mants, exps = [], []
    for qa, sa, qb, sb in _pairs(params, inputs):
        terms = [(qa, sa - (params["A_MAN"] - 1)), (qb, sb - (params["B_MAN"] - 1))]
        m, e = _normalize_terms(terms, params)
        mants.append(m)
        exps.append([e])
    return _out(mants, exps, inputs["a"]["mant"].shape[1])


def _tile_dot(qa, qb, rows, cols, k):
    """Integer tile product: P[r*cols + n] = sum_k qa[r*k + i] * qb[n*k + i]."""
    return [sum(qa[r * k + i] * qb[n * k + i] for i in range(k)) for r in range(rows) for n in range(cols)]


def matmul(params, inputs):
    """Tile matmul: every K_TILES consecutive (a, b) tile pairs give one output tile.

    ``a`` tiles are A_ROWS x BLOCK_K (lane r*BLOCK_K + k), ``b`` tiles are
    B_COLS x BLOCK_K of B transposed (lane n*BLOCK_K + k), the output tile is
    A_ROWS x B_COLS (lane r*B_COLS + n); the K_TILES tile products are summed in
    order by the bounded accumulator (exactly with ACC_WIDTH = 0).
    """
    kt, bk, rows, cols = params["K_TILES"], params["BLOCK_K"], params["A_ROWS"], params["B_COLS"]
    pairs = list(_pairs(params, inputs))
    if len(pairs) % kt:
        raise ValueError(f"mase_mxint_matmul: {len(pairs)} tile pairs is not a multiple of K_TILES={kt}")
    off = params["A_MAN"] - 1 + params["B_MAN"] - 1
    mants, exps = [], []
    for g in range(0, len(pairs), kt):
        terms = [(_tile_dot(qa, qb, rows, cols, bk), sa + sb - off) for qa, sa, qb, sb in pairs[g : g + kt]]
        m, e = _normalize_terms(terms, params)
        mants.append(m)
        exps.append([e])
    return _out(mants, exps, rows * cols)


def _normalize_terms(terms, params):
    """Sum ``[(ints, lsb), ...]`` in order as the RTL does (the bounded accumulator of
    ACC_WIDTH bits with ACC_ROUND, or exactly when ACC_WIDTH = 0), then normalize."""
    if "ACC_TERM_WIDTH" not in params:
        raise ValueError("mase_hwlib.golden.mxint: the parameters of a summing operator need the catalog's "
                         "derived accumulator values (ACC_TERM_WIDTH); pass catalog.get(module).resolve(params)")
    if params["ACC_WIDTH"] == 0:
        acc, lsb = accumulate.exact_sum(terms)
    else:
        acc, lsb = accumulate.bounded_sum(terms, params["ACC_WIDTH"], params["ACC_TERM_WIDTH"],
                                          accumulate.ROUNDINGS[params["ACC_ROUND"]])
    return normalize_block(acc, lsb, params["OUT_MAN"], params["OUT_EXP"])


def linear(params, inputs, weights=None, bias=None):
    """y = x W^T (+ b) on tiles; see :mod:`mase_hwlib.catalog_mxint` for the streaming order.

    ``x`` arrives as groups of IN_TILES tiles (X_ROWS x BLOCK_K each); for each
    group the output is OUT_TILES tiles (X_ROWS x OUT_TILE each) in order o.
    Weights ``W[o, k]`` are OUT_TILE x BLOCK_K tiles: from the ``w`` stream
    (OUT_TILES*IN_TILES beats per x group, order (o, k)) or, for a ROM build,
    from ``weights`` = ``{"mant": (OUT_TILES*IN_TILES, lanes), "exp": (...,1)}``
    in the same (o, k) order. The bias of output tile o is an MXInt block of
    OUT_TILE lanes, added to every row, from the ``b`` stream (one beat per
    output tile) or ``bias``; it is term 0 of the bounded sum, the IN_TILES tile
    products follow in order k.
    """
    it, ot, bk = params["IN_TILES"], params["OUT_TILES"], params["BLOCK_K"]
    rows, cols = params["X_ROWS"], params["OUT_TILE"]
    x = inputs["x"]
    _check_block("x", x["mant"], x["exp"], params["X_MAN"], params["X_EXP"])
    n = len(x["mant"])
    if n % it:
        raise ValueError(f"mase_mxint_linear: {n} x tiles is not a multiple of IN_TILES={it}")
    groups = n // it
    if weights is None:
        w = inputs["w"]
        if len(w["mant"]) != groups * ot * it:
            raise ValueError(f"mase_mxint_linear: the w stream needs {groups * ot * it} tiles, got {len(w['mant'])}")
    else:
        w = {k: np.tile(np.asarray(v), (groups, 1)) for k, v in weights.items()}
    _check_block("w", w["mant"], w["exp"], params["W_MAN"], params["W_EXP"])
    has_bias = params["HAS_BIAS"]
    if has_bias:
        b = inputs["b"] if bias is None else {k: np.tile(np.asarray(v), (groups, 1)) for k, v in bias.items()}
        if len(b["mant"]) != groups * ot:
            raise ValueError(f"mase_mxint_linear: the bias needs {groups * ot} tiles, got {len(b['mant'])}")
        _check_block("b", b["mant"], b["exp"], params["BIAS_MAN"], params["BIAS_EXP"])
    off = params["X_MAN"] - 1 + params["W_MAN"] - 1
    xm, xe = x["mant"].tolist(), x["exp"][:, 0].tolist()
    wm, we = w["mant"].tolist(), w["exp"][:, 0].tolist()
    mants, exps = [], []
    for g in range(groups):
        for o in range(ot):
            terms = []
            if has_bias:  # the bias is term 0 of the sum
                bi = g * ot + o
                bq = b["mant"][bi].tolist()
                terms.append(([bq[c] for _ in range(rows) for c in range(cols)],
                              int(b["exp"][bi, 0]) - (params["BIAS_MAN"] - 1)))
            for k in range(it):
                wi = (g * ot + o) * it + k
                xi = g * it + k
                terms.append((_tile_dot(xm[xi], wm[wi], rows, cols, bk), xe[xi] + we[wi] - off))
            m, e = _normalize_terms(terms, params)
            mants.append(m)
            exps.append([e])
    return _out(mants, exps, rows * cols)


def linear_module(params, inputs):
    """Golden model of ``mase_mxint_linear`` as built: weights from the w stream or,
    with WEIGHTS_IN_ROM, read from the same $readmemh files the RTL loads."""
    if not params["WEIGHTS_IN_ROM"]:
        return linear(params, inputs)
    from mase_hwlib.rom import read_linear_roms, read_mx_rom

    weights, bias = read_linear_roms(
        "mase_mxint_linear", params,
        lambda f: read_mx_rom(f, params["OUT_TILE"] * params["BLOCK_K"], params["W_MAN"], params["W_EXP"]),
        lambda f: read_mx_rom(f, params["OUT_TILE"], params["BIAS_MAN"], params["BIAS_EXP"]),
        count=lambda tiles: len(tiles["mant"]))
    return linear(params, inputs, weights=weights, bias=bias)
