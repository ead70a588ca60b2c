"""Exact golden models of the decoder operators on MXInt inputs: silu and rms_norm.

They mirror ``mase_mxint_silu`` and ``mase_mxint_rms_norm`` integer for integer (see each RTL
file's header for the derivation). Inputs are MXInt beats, one block per beat
(``{"x": {"mant": (n, BLOCK), "exp": (n, 1)}}``, value ``q * 2^(s - m + 1)``); outputs are
fixed-point beats ``{"y": {"data": (n, BLOCK)}}``. Both start, like the encoder's non-linear
operators, with :func:`mase_hwlib.golden.nonlinear.mxint_to_fixed` (floor, saturating, onto the
``X_WIDTH``/``X_FRAC`` grid).

* **silu** ``x * sigmoid(x)`` with ``sigmoid(|x|) = 1 / (1 + e^-|x|)`` and ``e^-|x|`` from the
  softmax's base-2 split and quadratic ``2^-r`` (the same constants, ``nonlinear.LOG2E_16``,
  ``EXP2_POLY_A1/A2``), then one division per element:
  ``y = trunc(x * n / (2^16 + e))`` with ``n = 2^16`` for ``x >= 0`` and ``n = e`` below 0.
  Measured against float SiLU on every grid point of [-16, 16): max error 0.0044 at
  X_FRAC = 8, 0.0016 at 10, 0.00084 at 12 (``tests/test_decoder.py`` pins these bounds).
* **rms_norm** (no gamma) over rows of N = BLOCK*ROW_BLOCKS elements, scale-free:
  ``x / sqrt(mean(x^2) + eps) = N x / sqrt(N S2 + eps N^2)``, so
  ``y = trunc(N x 2^OUT_FRAC / isqrt(N S2 + EPS_FX N^2))`` (0 when the root is 0), saturated.
  Measured against float RMSNorm on normal rows of 64: max error 2.4e-4 at X_FRAC = 8,
  OUT_FRAC = 12 (one output LSB: the truncation), 6.0e-5 at 10 / 14.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from mase_hwlib.golden.nonlinear import (
    EXP2_POLY_A1,
    EXP2_POLY_A2,
    LOG2E_16,
    _fixed_input,
    _rows,
)

__all__ = ["rms_norm", "rms_norm_fixed", "silu", "silu_fixed"]


def _exp_neg(a: np.ndarray, x_frac: int) -> np.ndarray:
    """``2^16 * e^-a`` for fixed-point ``a >= 0`` (``x_frac`` fraction bits), the softmax's
    integer exponential: ``u = a log2 e = z + r``, ``2^-r`` quadratic, shifted by ``min(z, 17)``."""
    u = a * LOG2E_16
    z = u >> (x_frac + 16)
    r = (u >> x_frac) & 0xFFFF
    p = 65536 - ((EXP2_POLY_A1 * r) >> 16) + ((EXP2_POLY_A2 * r * r) >> 32)
    return p >> np.minimum(z, 17)


def silu_fixed(x: np.ndarray, *, x_frac: int) -> np.ndarray:
    """Integer SiLU on fixed-point ``x`` (``x_frac`` fraction bits), as the RTL: the result is on
    the same grid, ``trunc(x * n / (2^16 + e))``, |y| <= |x|."""
    x = np.asarray(x, dtype=np.int64)
    e = _exp_neg(np.abs(x), x_frac)
    num = x * np.where(x >= 0, 65536, e)
    den = 65536 + e
    q = np.abs(num) // den  # Verilog's signed division truncates toward zero
    return np.where(num < 0, -q, q)


def rms_norm_fixed(x: np.ndarray, *, out_width: int, out_frac: int, eps_fx: int) -> np.ndarray:
    """Integer RMS norm along the last axis of fixed-point ``x``, as the RTL:
    ``trunc(N x 2^out_frac / isqrt(N S2 + eps_fx N^2))``, saturated to ``out_width`` bits."""
    x = np.asarray(x, dtype=np.int64)
    n = x.shape[-1]
    rows = x.reshape(-1, n)
    out = np.zeros_like(rows)
    lo, hi = -(1 << (out_width - 1)), (1 << (out_width - 1)) - 1
    for i, row in enumerate(rows):
        s2 = sum(int(v) * int(v) for v in row)
        root = math.isqrt(n * s2 + eps_fx * n * n)
        if root == 0:
            continue
        for j, v in enumerate(row):
            num = (n * int(v)) << out_frac
            q = abs(num) // root
            out[i, j] = min(max(q if num >= 0 else -q, lo), hi)
    return out.reshape(x.shape)


def silu(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_mxint_silu`` on beat arrays."""
    return {"y": {"data": silu_fixed(_fixed_input(params, inputs), x_frac=params["X_FRAC"])}}


def rms_norm(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_mxint_rms_norm`` on beat arrays (rows of ROW_BLOCKS beats)."""
    x = _rows("mase_mxint_rms_norm", _fixed_input(params, inputs), params)
    y = rms_norm_fixed(x, out_width=params["OUT_WIDTH"], out_frac=params["OUT_FRAC"], eps_fx=params["EPS_FX"])
    return {"y": {"data": y.reshape(-1, params["BLOCK"])}}
