"""Exact golden model of ``mase_mxint_masked_softmax``: softmax over rows with a boolean key mask.

Integer for integer the RTL (its header has the derivation): the softmax of
:func:`mase_hwlib.golden.nonlinear.softmax_fixed` restricted to the kept elements K of each row,

    m = max_{j in K} x_j,   e_j = 2^16 2^-((m - x_j) log2 e) (the polynomial) for j in K, 0 otherwise,
    y_j = floor(e_j 2^OUT_FRAC / sum_j e_j),

and a row with K empty uniform (``e_j = 2^16``, ``y_j = floor(2^OUT_FRAC / N)``). Mask rows are
reused: the rows arrive in groups of ``MASK_ROWS * MASK_REPEAT`` and row t of a group takes mask
row ``t mod MASK_ROWS`` of the group's ``MASK_ROWS`` mask beats (multi-head attention: the query
rows of one tile, once per head).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mase_hwlib.golden.nonlinear import EXP2_POLY_A1, EXP2_POLY_A2, LOG2E_16, _fixed_input, _rows

__all__ = ["masked_softmax_fixed", "masked_softmax", "expand_mask_rows", "masked_mean_fixed", "masked_mean"]


def masked_softmax_fixed(x: np.ndarray, keep: np.ndarray, *, x_frac: int, out_frac: int) -> np.ndarray:
    """Integer masked softmax along the last axis of fixed-point ``x`` (``keep``: same shape, 0/1)."""
    x = np.asarray(x, dtype=np.int64)
    keep = np.asarray(keep).astype(bool)
    if keep.shape != x.shape:
        raise ValueError(f"masked softmax: mask shape {keep.shape} differs from the scores' {x.shape}")
    lo = np.iinfo(np.int64).min
    m = np.where(keep, x, lo).max(axis=-1, keepdims=True)
    diff = np.where(keep, m - x, 0)
    u = diff * LOG2E_16
    z = u >> (x_frac + 16)
    r = (u >> x_frac) & 0xFFFF
    p = 65536 - ((EXP2_POLY_A1 * r) >> 16) + ((EXP2_POLY_A2 * r * r) >> 32)
    e = np.where(keep, p >> np.minimum(z, 17), 0)
    any_kept = keep.any(axis=-1, keepdims=True)
    e = np.where(any_kept, e, 65536)
    total = e.sum(axis=-1, keepdims=True)
    return (e << out_frac) // total


def expand_mask_rows(mask: np.ndarray, rows: int, mask_rows: int, mask_repeat: int) -> np.ndarray:
    """The mask row of each of ``rows`` score rows, from the mask beats (one per mask row)."""
    mask = np.asarray(mask)
    group = mask_rows * mask_repeat
    if rows % group:
        raise ValueError(f"mase_mxint_masked_softmax: {rows} rows is not a whole number of groups of "
                         f"MASK_ROWS*MASK_REPEAT = {group} rows")
    want = rows // group * mask_rows
    if len(mask) != want:
        raise ValueError(f"mase_mxint_masked_softmax: {rows} rows need {want} mask beats "
                         f"(MASK_ROWS={mask_rows} per group of {group} rows), got {len(mask)}")
    t = np.arange(rows)
    index = (t // group) * mask_rows + (t % group) % mask_rows
    return mask[index]


def masked_softmax(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_mxint_masked_softmax`` on beat arrays (rows of ROW_BLOCKS x beats,
    one mask beat of N bits per mask row)."""
    x = _rows("mase_mxint_masked_softmax", _fixed_input(params, inputs), params)
    keep = expand_mask_rows(np.asarray(inputs["mask"]["data"], dtype=np.int64), len(x), params["MASK_ROWS"],
                            params["MASK_REPEAT"])
    y = masked_softmax_fixed(x, keep, x_frac=params["X_FRAC"], out_frac=params["OUT_FRAC"])
    return {"y": {"data": y.reshape(-1, params["BLOCK"])}}


def masked_mean_fixed(x: np.ndarray, keep: np.ndarray, *, x_frac: int, out_width: int, out_frac: int) -> np.ndarray:
    """Mean over the kept rows of fixed-point ``x`` ``(inputs, rows, n)`` (``keep``: ``(inputs, rows)``
    0/1), as ``mase_mxint_masked_mean``: ``trunc(sum_kept x * 2^(out_frac - x_frac) / K)`` toward
    zero (0 when K = 0), saturated to ``out_width`` bits. Returns ``(inputs, n)``."""
    x = np.asarray(x, dtype=np.int64)
    keep = np.asarray(keep, dtype=np.int64)
    total = (x * keep[..., None]).sum(axis=1) << (out_frac - x_frac)
    count = keep.sum(axis=1, keepdims=True)
    q = np.where(count > 0, np.abs(total) // np.maximum(count, 1), 0) * np.sign(total)
    return np.clip(q, -(1 << (out_width - 1)), (1 << (out_width - 1)) - 1)


def masked_mean(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_mxint_masked_mean`` on beat arrays: one mask beat (ROWS bits) and
    ROWS * ROW_BLOCKS x beats per input; ROW_BLOCKS output beats per input."""
    rb, rows, block = params["ROW_BLOCKS"], params["ROWS"], params["BLOCK"]
    x = _fixed_input(params, inputs)
    per = rows * rb
    if len(x) % per:
        raise ValueError(f"mase_mxint_masked_mean: {len(x)} beats is not a whole number of inputs of "
                         f"ROWS*ROW_BLOCKS = {per} beats")
    keep = np.asarray(inputs["mask"]["data"], dtype=np.int64).reshape(-1, rows)
    n_in = len(x) // per
    if len(keep) != n_in:
        raise ValueError(f"mase_mxint_masked_mean: {n_in} inputs need {n_in} mask beats, got {len(keep)}")
    y = masked_mean_fixed(x.reshape(n_in, rows, rb * block), keep, x_frac=params["X_FRAC"],
                          out_width=params["OUT_WIDTH"], out_frac=params["OUT_FRAC"])
    return {"y": {"data": y.reshape(-1, block)}}
