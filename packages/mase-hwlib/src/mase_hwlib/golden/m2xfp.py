"""Bit-exact golden models of ``mase_mxfp4_dot`` and ``mase_m2xfp_dot`` and of their
decode units (``mase_fp4_decode``, ``mase_m2xfp_em_decode``).

Both dot products stream *tiles* of 1-D blocks along the reduction axis: one beat holds
one block of ``X_ROWS`` rows of x and one of ``W_ROWS`` rows of w; ``NUM_BLOCKS`` beats
make one output tile of ``X_ROWS x W_ROWS`` sums. Array layout (stream order):

    x_codes: (T, NUM_BLOCKS, X_ROWS, BLOCK_K)  FP4 codes ``sign << 3 | k`` (mx_formats' elements)
    x_scale: (T, NUM_BLOCKS, X_ROWS)           E8M0 codes ``e = s + 127`` (255 = NaN block)
    x_meta:  (T, NUM_BLOCKS, X_ROWS, G)        2-bit metadata, G = BLOCK_K / SUBGROUP (M2XFP)
    w_*:     the same with W_ROWS

Decoding (integers only; the values follow mx_formats' M2XFP docstring):

* FP4 E2M1 magnitude code ``k`` -> ``half`` = value * 2: ``0 1 2 3 4 6 8 12``;
* MXFP4 element: ``half * 2^(s - 1)``;
* M2XFP_ES (weights): ``half * (4 + meta) * 2^(s - 3)``, meta of the element's subgroup;
* M2XFP_EM (activations): ``eighth * 2^(s - 3)``, ``eighth = 4 * half`` except for the
  subgroup's element of largest ``k`` (first index on ties), which is the FP6 E2M3 code
  ``j = max(4k - 1, 0) + meta`` in eighths (``j < 16: j``, ``< 24: 2j - 16``, else ``4j - 64``).

Per beat and output lane ``(i, j)`` the exact integer ``P = sum_k x_int * w_int`` lies on
the LSB exponent ``L = e_x[i] + e_w[j] - 256`` (MXFP4, ``= s_x + s_w - 2``) or ``- 260``
(M2XFP, ``s_x + s_w - 6``), and is NaN when either scale code is 255. Each lane sums its
``NUM_BLOCKS`` terms ``(P, L)`` in its own bounded accumulator
(:func:`mase_hwlib.golden.accumulate.bounded_sum`, one lane; ``ACC_WIDTH = 0``: exact,
``F`` = the largest ``L`` gap, 510). The result per lane is ``(acc, exp, nan)``, value
``acc * 2^exp``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mase_hwlib.golden import accumulate, dot

__all__ = [
    "FP4_HALF",
    "E8M0_NAN",
    "fp4_half",
    "fp6_eighth",
    "m2xfp_es_units",
    "m2xfp_em_units",
    "mxfp4_term_width",
    "m2xfp_term_width",
    "lsb_range",
    "dot_acc",
    "mxfp4_dot",
    "m2xfp_dot",
    "mx_beats",
    "mxfp4_dot_beats",
    "m2xfp_dot_beats",
]

#: FP4 E2M1 magnitude code k -> its value times 2
FP4_HALF = np.array([0, 1, 2, 3, 4, 6, 8, 12], dtype=np.int64)
#: E8M0 scale code of a NaN block
E8M0_NAN = 255
#: largest |P| per element pair: MXFP4 12 * 12; M2XFP 56 (FP6 eighths) * 12 * 7 (4 + meta)
_PROD_MAX = {"mxfp4": 144, "m2xfp": 4704}
#: L = e_x + e_w + offset
_LSB_OFFSET = {"mxfp4": -256, "m2xfp": -260}


def fp4_half(codes) -> np.ndarray:
    """Signed FP4 E2M1 values times 2 (``mase_fp4_decode``): ``(-1)^sign FP4_HALF[k]``."""
    codes = np.asarray(codes, dtype=np.int64)
    mag = FP4_HALF[codes & 7]
    return np.where(codes & 8, -mag, mag)


def fp6_eighth(j) -> np.ndarray:
    """FP6 E2M3 magnitude code ``j`` (0..31) in eighths: ``j`` below 16, ``2j - 16`` below 24,
    ``4j - 64`` from there."""
    j = np.asarray(j, dtype=np.int64)
    return np.where(j < 16, j, np.where(j < 24, 2 * j - 16, 4 * j - 64))


def _subgroups(codes: np.ndarray, meta: np.ndarray, subgroup: int):
    """codes (..., BLOCK_K) -> (..., G, SUBGROUP), meta (..., G) checked against it."""
    bk = codes.shape[-1]
    g = bk // subgroup
    if meta.shape != (*codes.shape[:-1], g):
        raise ValueError(f"meta must have shape {(*codes.shape[:-1], g)} (BLOCK_K / SUBGROUP = {bk} / {subgroup} "
                         f"subgroups per row), got {meta.shape}")
    return codes.reshape(*codes.shape[:-1], g, subgroup), meta


def m2xfp_es_units(codes, meta, subgroup: int) -> np.ndarray:
    """M2XFP extra-scale elements as integers on ``2^(s - 3)``: ``half * (4 + meta)``."""
    c, m = _subgroups(np.asarray(codes, dtype=np.int64), np.asarray(meta, dtype=np.int64), subgroup)
    return (fp4_half(c) * (4 + m[..., None])).reshape(np.shape(codes))


def m2xfp_em_units(codes, meta, subgroup: int) -> np.ndarray:
    """M2XFP extra-mantissa elements as integers on ``2^(s - 3)`` (``mase_m2xfp_em_decode``)."""
    c, m = _subgroups(np.asarray(codes, dtype=np.int64), np.asarray(meta, dtype=np.int64), subgroup)
    k = c & 7
    out = 4 * fp4_half(c)
    pick = np.argmax(k, axis=-1)  # the first index of the largest code, as the RTL's strict compare
    k_max = np.take_along_axis(k, pick[..., None], -1)[..., 0]
    mag = fp6_eighth(np.maximum(4 * k_max - 1, 0) + m)
    sign = np.take_along_axis(c, pick[..., None], -1)[..., 0] & 8
    np.put_along_axis(out, pick[..., None], np.where(sign, -mag, mag)[..., None], -1)
    return out.reshape(np.shape(codes))


def mxfp4_term_width(block_k: int) -> int:
    """Signed bits of a block-pair sum: ``|P| <= 144 BLOCK_K``."""
    return accumulate.clog2(_PROD_MAX["mxfp4"] * block_k + 1) + 1


def m2xfp_term_width(block_k: int) -> int:
    """Signed bits of a block-pair sum: ``|P| <= 4704 BLOCK_K``."""
    return accumulate.clog2(_PROD_MAX["m2xfp"] * block_k + 1) + 1


def lsb_range(kind: str) -> tuple[int, int]:
    """``(LSB_MIN, LSB_MAX)`` of ``L = e_x + e_w + offset`` over every E8M0 code 0..255."""
    off = _LSB_OFFSET[kind]
    return off, off + 2 * E8M0_NAN


def dot_acc(module: str, kind: str, acc_width: int, block_k: int, n_blocks: int) -> dict:
    """The per-lane accumulator of ``module`` (``kind`` 'mxfp4' or 'm2xfp'):
    :func:`accumulate.acc_config` plus ``LSB_MIN``, ``LSB_MAX`` and ``EXP_WIDTH`` (signed bits
    of ``y_exp``, as the RTL's LW)."""
    tw = mxfp4_term_width(block_k) if kind == "mxfp4" else m2xfp_term_width(block_k)
    lo, hi = lsb_range(kind)
    acc = accumulate.acc_config(module, acc_width, tw, n_blocks, lo, hi)
    return {**acc, "LSB_MIN": lo, "LSB_MAX": hi,
            "EXP_WIDTH": accumulate.clog2(max(-lo, hi) + acc["ACC_BITS"] + 1) + 1}


def _check(module: str, name: str, arr, shape, hi: int) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{module}: {name} must be an integer array, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.shape != tuple(shape):
        raise ValueError(f"{module}: {name} must have shape {tuple(shape)}, got {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > hi):
        bad = arr[(arr < 0) | (arr > hi)].ravel()[0]
        raise ValueError(f"{module}: {name} value {bad} is outside [0, {hi}]")
    return arr


def _sum_lanes(module, kind, x_int, x_scale, w_int, w_scale, acc_width, acc_round):
    """Per lane bounded sums of the block-pair terms -> (acc, exp, nan), each (T, XR, WR)."""
    if acc_round not in accumulate.ROUNDINGS:
        raise ValueError(f"{module}: ACC_ROUND={acc_round}: expected one of {sorted(accumulate.ROUNDINGS)}")
    t_, nb, xr, bk = x_int.shape
    wr = w_int.shape[2]
    cfg = dot_acc(module, kind, acc_width, bk, nb)
    rounding = accumulate.ROUNDINGS[acc_round]
    # P[t, b, i, j] exact (|P| < 2^20 for BLOCK_K <= 64: int64 is exact), L[t, b, i, j]
    p = np.einsum("tbik,tbjk->tbij", x_int, w_int)
    lsb = x_scale[:, :, :, None] + w_scale[:, :, None, :] + _LSB_OFFSET[kind]
    nan = ((x_scale[:, :, :, None] == E8M0_NAN) | (w_scale[:, :, None, :] == E8M0_NAN)).any(axis=1)
    acc = np.empty((t_, xr, wr), dtype=object)
    exp = np.empty((t_, xr, wr), dtype=np.int64)
    for t in range(t_):
        for i in range(xr):
            for j in range(wr):
                terms = [([int(p[t, b, i, j])], int(lsb[t, b, i, j])) for b in range(nb)]
                (acc[t, i, j],), exp[t, i, j] = accumulate.bounded_sum(
                    terms, cfg["ACC_BITS"], cfg["ACC_TERM_WIDTH"], rounding)
    return acc, exp, nan


def mxfp4_dot(x_codes, x_scale, w_codes, w_scale, *, acc_width: int = -1, acc_round: int = 1):
    """MXFP4 tile dot products as ``mase_mxfp4_dot`` computes them: ``(acc, exp, nan)``
    (T, XR, WR); lane value ``acc * 2^exp`` (NaN where ``nan``)."""
    m = "mase_mxfp4_dot"
    x = np.asarray(x_codes)
    w = np.asarray(w_codes)
    if x.ndim != 4 or w.ndim != 4 or x.shape[:2] != w.shape[:2] or x.shape[3] != w.shape[3]:
        raise ValueError(f"{m}: x_codes {x.shape} and w_codes {w.shape} must be (T, NUM_BLOCKS, ROWS, BLOCK_K) "
                         f"with equal T, NUM_BLOCKS and BLOCK_K")
    x = _check(m, "x_codes", x, x.shape, 15)
    w = _check(m, "w_codes", w, w.shape, 15)
    xs = _check(m, "x_scale", x_scale, x.shape[:3], 255)
    ws = _check(m, "w_scale", w_scale, w.shape[:3], 255)
    return _sum_lanes(m, "mxfp4", fp4_half(x), xs, fp4_half(w), ws, acc_width, acc_round)


def m2xfp_dot(x_codes, x_scale, x_meta, w_codes, w_scale, w_meta, *, subgroup: int = 8, acc_width: int = -1,
              acc_round: int = 1):
    """M2XFP tile dot products as ``mase_m2xfp_dot`` computes them (x extra mantissa, w extra
    scale): ``(acc, exp, nan)`` (T, XR, WR); lane value ``acc * 2^exp`` (NaN where ``nan``)."""
    m = "mase_m2xfp_dot"
    x = np.asarray(x_codes)
    w = np.asarray(w_codes)
    if x.ndim != 4 or w.ndim != 4 or x.shape[:2] != w.shape[:2] or x.shape[3] != w.shape[3]:
        raise ValueError(f"{m}: x_codes {x.shape} and w_codes {w.shape} must be (T, NUM_BLOCKS, ROWS, BLOCK_K) "
                         f"with equal T, NUM_BLOCKS and BLOCK_K")
    if subgroup < 2 or x.shape[3] % subgroup:
        raise ValueError(f"{m}: SUBGROUP={subgroup} must be >= 2 and divide BLOCK_K={x.shape[3]}")
    g = x.shape[3] // subgroup
    x = _check(m, "x_codes", x, x.shape, 15)
    w = _check(m, "w_codes", w, w.shape, 15)
    xs = _check(m, "x_scale", x_scale, x.shape[:3], 255)
    ws = _check(m, "w_scale", w_scale, w.shape[:3], 255)
    xm = _check(m, "x_meta", x_meta, (*x.shape[:3], g), 3)
    wm = _check(m, "w_meta", w_meta, (*w.shape[:3], g), 3)
    return _sum_lanes(m, "m2xfp", m2xfp_em_units(x, xm, subgroup), xs, m2xfp_es_units(w, wm, subgroup), ws,
                      acc_width, acc_round)


# ---------------------------------------------------------------------------
# MXArray -> beats, and the beat-array adapters of the catalog


def mx_beats(q, rows: int) -> dict:
    """One operand's stream from an ``mx_formats.MXArray`` of shape ``(R, K)`` quantized along
    the last axis (MXFP4_E2M1 or M2XFP): beats in the order (row tile of ``rows`` rows, block
    along K), fields ``data`` (rows * BLOCK_K codes), ``scale`` (rows E8M0 codes ``s + 127``,
    NaN blocks 255) and, for M2XFP, ``meta`` (rows * G codes). ``R`` must be a multiple of
    ``rows`` and ``K`` of the block."""
    codes = np.asarray(q.elements, dtype=np.int64)
    if codes.ndim != 2:
        raise ValueError(f"mx_beats: expected a 2-D MXArray (rows, K), got shape {codes.shape}")
    r_, k_ = codes.shape
    bk = q.fmt.block_size
    if r_ % rows or k_ % bk:
        raise ValueError(f"mx_beats: shape {codes.shape} is not whole tiles of {rows} rows x {bk} elements")
    nb = k_ // bk
    scales = np.asarray(q.scales, dtype=np.int64).reshape(r_, nb)
    scale = np.where(scales > 127, E8M0_NAN, scales + 127)

    def tiles(a, per_block):  # (R, nb * per_block) -> (R/rows * nb, rows * per_block)
        return a.reshape(r_ // rows, rows, nb, per_block).transpose(0, 2, 1, 3).reshape(-1, rows * per_block)

    out = {"data": tiles(codes, bk), "scale": tiles(scale, 1)}
    if getattr(q, "meta", None) is not None:
        g = bk // q.fmt.subgroup_size
        out["meta"] = tiles(np.asarray(q.meta, dtype=np.int64).reshape(r_, nb * g), g)
    return out


def _operand(module: str, inputs: Mapping, stream: str, params: Mapping, rows_key: str, meta: bool):
    nb, rows, bk = params["NUM_BLOCKS"], params[rows_key], params["BLOCK_K"]
    s = inputs[stream]
    data = np.asarray(s["data"])
    if data.shape[0] % nb:
        raise ValueError(f"{module}: {data.shape[0]} {stream} beats is not a whole number of NUM_BLOCKS={nb} beats")
    out = [data.reshape(-1, nb, rows, bk), np.asarray(s["scale"]).reshape(-1, nb, rows)]
    if meta:
        out.append(np.asarray(s["meta"]).reshape(-1, nb, rows, bk // params["SUBGROUP"]))
    return out


def _output(acc, exp, nan, params: Mapping) -> dict:
    n = acc.shape[0]
    return {"y": {"data": dot.to_chunks(acc.reshape(n, -1), params["ACC_CHUNKS"]),
                  "exp": exp.reshape(n, -1), "nan": nan.reshape(n, -1).astype(np.int64)}}


def _same_beats(module: str, inputs: Mapping) -> None:
    nx, nw = len(inputs["x"]["data"]), len(inputs["w"]["data"])
    if nx != nw:
        raise ValueError(f"{module}: streams x and w need the same beat count, got {nx} and {nw}")


def mxfp4_dot_beats(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_mxfp4_dot`` on beat arrays (``params`` resolved by the catalog)."""
    _same_beats("mase_mxfp4_dot", inputs)
    xc, xs = _operand("mase_mxfp4_dot", inputs, "x", params, "X_ROWS", False)
    wc, ws = _operand("mase_mxfp4_dot", inputs, "w", params, "W_ROWS", False)
    acc, exp, nan = mxfp4_dot(xc, xs, wc, ws, acc_width=params["ACC_WIDTH"], acc_round=params["ACC_ROUND"])
    return _output(acc, exp, nan, params)


def m2xfp_dot_beats(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_m2xfp_dot`` on beat arrays (``params`` resolved by the catalog)."""
    _same_beats("mase_m2xfp_dot", inputs)
    xc, xs, xm = _operand("mase_m2xfp_dot", inputs, "x", params, "X_ROWS", True)
    wc, ws, wm = _operand("mase_m2xfp_dot", inputs, "w", params, "W_ROWS", True)
    acc, exp, nan = m2xfp_dot(xc, xs, xm, wc, ws, wm, subgroup=params["SUBGROUP"], acc_width=params["ACC_WIDTH"],
                              acc_round=params["ACC_ROUND"])
    return _output(acc, exp, nan, params)
