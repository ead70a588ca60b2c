"""Exact golden models of the decoder attention's position operators: ``mase_mxint_rope``
(rotary position embedding) and ``mase_causal_mask`` (the causal mask rows).

**rope** (rotate-half form of transformers' ``apply_rotary_pos_emb``), integer for integer the
RTL: per row (position s, ``SEQ`` positions per input, then the position wraps) and head (head
dim D = HEAD_BLOCKS * BLOCK, h = D / 2), with x on the ``X_WIDTH``/``X_FRAC`` grid
(:func:`mase_hwlib.golden.nonlinear.mxint_to_fixed`) and the tables c (cos), t (sin) on
``C_FRAC`` fraction bits,

    y_j = x_j c_{s,j} - x_{j+h} t_{s,j}   (j < h),     y_j = x_j c_{s,j} + x_{j-h} t_{s,j}   (j >= h)

exact, then ``floor(y / 2^(X_FRAC + C_FRAC - OUT_FRAC))`` saturated to ``OUT_WIDTH`` bits.
The catalog golden reads the tables from ``COS_FILE`` / ``SIN_FILE`` as the RTL's ``$readmemh``;
:func:`rope_fixed` takes them as arrays ``(SEQ, D)``.

**causal_mask**: row i keeps key j iff ``j <= i + OFFSET``; rows 0 .. SEQ-1, ``REPEAT`` passes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mase_hwlib.golden.nonlinear import _fixed_input

__all__ = ["rope_fixed", "rope", "rope_tables", "causal_rows", "causal_mask"]


def rope_fixed(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, *, heads: int, x_frac: int, c_frac: int,
               out_width: int, out_frac: int) -> np.ndarray:
    """RoPE of fixed-point rows ``x`` ``(rows, heads * D)`` (row r at position ``r mod SEQ``) with
    integer tables ``cos``, ``sin`` ``(SEQ, D)`` on ``c_frac`` fraction bits."""
    x = np.asarray(x, dtype=np.int64)
    cos, sin = np.asarray(cos, dtype=np.int64), np.asarray(sin, dtype=np.int64)
    rows, width = x.shape
    seq, d = cos.shape
    if width != heads * d or d % 2:
        raise ValueError(f"mase_mxint_rope: rows of {width} are not {heads} heads of an even head dim {d}")
    h = d // 2
    xh = x.reshape(rows, heads, d)
    rot = np.concatenate([-xh[..., h:], xh[..., :h]], axis=-1)  # rotate_half
    pos = np.arange(rows) % seq
    y = xh * cos[pos][:, None, :] + rot * sin[pos][:, None, :]
    y = y >> (x_frac + c_frac - out_frac)
    lo, hi = -(1 << (out_width - 1)), (1 << (out_width - 1)) - 1
    return np.clip(y, lo, hi).reshape(rows, width)


def rope_tables(cos: np.ndarray, sin: np.ndarray, c_frac: int) -> tuple[np.ndarray, np.ndarray]:
    """Float tables ``(SEQ, D)`` on the RTL's grid: round half to even onto ``c_frac`` fraction
    bits (|value| <= 1 fits the signed ``c_frac + 2``-bit entries)."""
    scale = float(1 << c_frac)
    return (np.round(np.asarray(cos, np.float64) * scale).astype(np.int64),
            np.round(np.asarray(sin, np.float64) * scale).astype(np.int64))


def _table(path: str, params: Mapping) -> np.ndarray:
    from mase_hwlib.rom_fixed import read_fixed_rom

    if not path:
        raise ValueError("mase_mxint_rope: COS_FILE / SIN_FILE is empty (write them with mase_hwlib.rom_fixed)")
    words = read_fixed_rom(path, params["BLOCK"], params["C_FRAC"] + 2)
    depth = params["SEQ"] * params["HEAD_BLOCKS"]
    if len(words) != depth:
        raise ValueError(f"mase_mxint_rope: {path} holds {len(words)} words, SEQ*HEAD_BLOCKS = {depth}")
    return words.reshape(params["SEQ"], params["HEAD_BLOCKS"] * params["BLOCK"])


def rope(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_mxint_rope`` on beat arrays (rows of ROW_BLOCKS beats)."""
    rb = params["ROW_BLOCKS"]
    x = _fixed_input(params, inputs)
    if len(x) % rb:
        raise ValueError(f"mase_mxint_rope: {len(x)} beats is not a whole number of ROW_BLOCKS={rb} beat rows")
    x = x.reshape(-1, rb * params["BLOCK"])
    y = rope_fixed(x, _table(params["COS_FILE"], params), _table(params["SIN_FILE"], params),
                   heads=rb // params["HEAD_BLOCKS"], x_frac=params["X_FRAC"], c_frac=params["C_FRAC"],
                   out_width=params["OUT_WIDTH"], out_frac=params["OUT_FRAC"])
    return {"y": {"data": y.reshape(-1, params["BLOCK"])}}


def causal_rows(seq: int, keys: int, offset: int = 0) -> np.ndarray:
    """The ``(seq, keys)`` 0/1 causal mask: row i keeps key j iff j <= i + offset."""
    return (np.arange(keys)[None, :] <= np.arange(seq)[:, None] + offset).astype(np.int64)


def causal_mask(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_causal_mask`` (no inputs; ``REPEAT`` passes)."""
    if params["REPEAT"] == 0:
        raise ValueError("mase_causal_mask: REPEAT=0 runs forever; use causal_rows() for one pass")
    rows = causal_rows(params["SEQ"], params["KEYS"], params["OFFSET"])
    return {"y": {"data": np.tile(rows, (params["REPEAT"], 1))}}
