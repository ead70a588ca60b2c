"""Exact golden models of the MXInt non-linear operators: gelu, softmax, layer_norm.

They mirror ``mase_mxint_gelu``, ``mase_mxint_softmax`` and
``mase_mxint_layer_norm`` integer for integer (see each RTL file's header for
the derivation). Inputs are MXInt beats, one block per beat
(``{"x": {"mant": (n, BLOCK), "exp": (n, 1)}}``, value ``q * 2^(s - m + 1)``);
outputs are fixed-point beats ``{"y": {"data": (n, BLOCK)}}``.

Every operator starts with :func:`mxint_to_fixed`, the RTL's
``mase_mxint_to_fixed``: ``x = q * 2^(s - m + 1 + F)`` rounded toward minus
infinity and saturated to ``X_WIDTH`` bits. The constants below are the RTL's
localparams. ``benchmarks/nonlinear_error.py`` measures their error against
float math (docs/nonlinear.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = [
    "GELU_C",
    "GELU_A_16",
    "LOG2E_16",
    "EXP2_POLY_A1",
    "EXP2_POLY_A2",
    "mxint_to_fixed",
    "gelu_fixed",
    "softmax_fixed",
    "layer_norm_fixed",
    "gelu",
    "softmax",
    "layer_norm",
]

#: i-GELU clip point 1.769 * sqrt(2) (I-BERT's erf fit, in |x| rather than |x|/sqrt2).
GELU_C = 2.5017385
#: I-BERT's -a/2 = 0.1444 on 16 fraction bits.
GELU_A_16 = 9463
#: log2(e) on 16 fraction bits.
LOG2E_16 = 94548
#: 2^-r ~ 1 - 0.6699 r + 0.1699 r^2 on [0, 1): both coefficients on 16 fraction bits.
EXP2_POLY_A1 = 43903
EXP2_POLY_A2 = 11135


def mxint_to_fixed(mant, exp, *, man_bits: int, x_width: int, x_frac: int) -> np.ndarray:
    """MXInt elements ``mant`` (any shape, last axis = block) with shared exponents
    ``exp`` (broadcast over the last axis) on the ``x_width``/``x_frac`` fixed-point grid:
    ``floor(q * 2^(s - m + 1 + F))`` saturated to ``[-2^(W-1), 2^(W-1) - 1]``."""
    mant = np.asarray(mant, dtype=np.int64)
    sh = np.asarray(exp, dtype=np.int64) - (man_bits - 1) + x_frac
    left = np.clip(sh, 0, x_width)
    right = np.clip(-sh, 0, man_bits + 1)
    shifted = np.where(sh >= 0, mant << left, mant >> right)
    return np.clip(shifted, -(1 << (x_width - 1)), (1 << (x_width - 1)) - 1)


def gelu_fixed(x: np.ndarray, *, x_frac: int) -> np.ndarray:
    """Integer i-GELU on fixed-point ``x`` (``x_frac`` fraction bits), as the RTL."""
    x = np.asarray(x, dtype=np.int64)
    one = 1 << x_frac
    c_fx = int(GELU_C * 2.0**x_frac + 0.5)
    d = c_fx - np.minimum(np.abs(x), c_fx)
    t = (GELU_A_16 * d * d) >> (16 + x_frac)
    ell = one - t
    gain = np.where(x < 0, one - ell, one + ell)
    return (x * gain) >> (x_frac + 1)


def softmax_fixed(x: np.ndarray, *, x_frac: int, out_frac: int) -> np.ndarray:
    """Integer softmax along the last axis of fixed-point ``x``, as the RTL:
    ``floor(e * 2^out_frac / sum e)`` with ``e = 2^16 * 2^-((max - x) log2 e)`` (polynomial)."""
    x = np.asarray(x, dtype=np.int64)
    diff = x.max(axis=-1, keepdims=True) - x
    u = diff * LOG2E_16
    z = u >> (x_frac + 16)
    r = (u >> x_frac) & 0xFFFF
    p = 65536 - ((EXP2_POLY_A1 * r) >> 16) + ((EXP2_POLY_A2 * r * r) >> 32)
    e = p >> np.minimum(z, 17)
    total = e.sum(axis=-1, keepdims=True)
    return (e << out_frac) // total


def layer_norm_fixed(x: np.ndarray, *, out_width: int, out_frac: int, eps_fx: int) -> np.ndarray:
    """Integer layer norm along the last axis of fixed-point ``x``, as the RTL:
    ``trunc((N x - S1) 2^out_frac / isqrt(N S2 - S1^2 + eps_fx N^2))``, saturated."""
    x = np.asarray(x, dtype=np.int64)
    n = x.shape[-1]
    rows = x.reshape(-1, n)
    out = np.zeros_like(rows)
    lo, hi = -(1 << (out_width - 1)), (1 << (out_width - 1)) - 1
    for i, row in enumerate(rows):
        s1 = int(row.sum())
        s2 = int((row * row).sum())
        root = math.isqrt(n * s2 - s1 * s1 + eps_fx * n * n)
        if root == 0:
            continue
        for j, v in enumerate(row):
            num = (n * int(v) - s1) << out_frac
            q = abs(num) // root
            out[i, j] = min(max(q if num >= 0 else -q, lo), hi)
    return out.reshape(x.shape)


# ---------------------------------------------------------------------------
# Beat-array adapters used by the catalog (golden(params, inputs) -> outputs)


def _fixed_input(params: Mapping, inputs: Mapping) -> np.ndarray:
    return mxint_to_fixed(
        inputs["x"]["mant"],
        np.asarray(inputs["x"]["exp"]).reshape(-1, 1),
        man_bits=params["MAN_BITS"],
        x_width=params["X_WIDTH"],
        x_frac=params["X_FRAC"],
    )


def _rows(module: str, x: np.ndarray, params: Mapping) -> np.ndarray:
    rb = params["ROW_BLOCKS"]
    if x.shape[0] % rb:
        raise ValueError(f"{module}: {x.shape[0]} beats is not a whole number of ROW_BLOCKS={rb} beat rows")
    return x.reshape(-1, rb * params["BLOCK"])


def gelu(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_mxint_gelu`` on beat arrays."""
    return {"y": {"data": gelu_fixed(_fixed_input(params, inputs), x_frac=params["X_FRAC"])}}


def softmax(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_mxint_softmax`` on beat arrays (rows of ROW_BLOCKS beats)."""
    x = _rows("mase_mxint_softmax", _fixed_input(params, inputs), params)
    y = softmax_fixed(x, x_frac=params["X_FRAC"], out_frac=params["OUT_FRAC"])
    return {"y": {"data": y.reshape(-1, params["BLOCK"])}}


def layer_norm(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_mxint_layer_norm`` on beat arrays (rows of ROW_BLOCKS beats)."""
    x = _rows("mase_mxint_layer_norm", _fixed_input(params, inputs), params)
    y = layer_norm_fixed(x, out_width=params["OUT_WIDTH"], out_frac=params["OUT_FRAC"], eps_fx=params["EPS_FX"])
    return {"y": {"data": y.reshape(-1, params["BLOCK"])}}
