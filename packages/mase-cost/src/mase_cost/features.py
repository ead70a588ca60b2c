"""Regression features per operator, chosen the way a hardware engineer sizes a datapath.

Notation: ``L`` lanes (elements per block / tile), ``w_x = X_MAN + 1`` the
signed mantissa width of stream ``x``, ``e`` an exponent width, ``D`` = 1 when
synthesized with ``-nodsp``.  The terms are the sizes of the structures in the
RTL:

* registers and wiring grow with ``L * w``;
* an array multiplier is ``w_a * w_b`` LUT-ish cells per lane (or a DSP when
  ``D = 0``), hence ``L * w_a * w_b`` and its ``D``-gated copy;
* the re-normaliser's leading-one detector and barrel shifter are
  ``w * log2(w)`` per lane, the block-max / exponent tree is ``L * log2(L)``;
* a Kulisch accumulator is ``w_a + w_b + log2(K)`` bits wide per output.

Each module has one function ``params -> {feature: value}``; the modules with a
function here are exactly the modules the cost model knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import log2

__all__ = ["FEATURES", "features"]


def _lg(x: float) -> float:
    return log2(max(x, 1.0))


def _unary(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    lanes = p["BLOCK_0"] * p["BLOCK_1"]
    wi, wo = p["IN_MAN"] + 1, p["OUT_MAN"] + 1
    return {
        "L": lanes, "L_wi": lanes * wi, "L_wo": lanes * wo,
        "L_wi_lg_wi": lanes * wi * _lg(wi), "L_lg_L": lanes * _lg(lanes),
        "L_e": lanes * p["IN_EXP"], "e": p["IN_EXP"] + p["OUT_EXP"], "lg_L": _lg(lanes), "D": nodsp,
    }


def _mul(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    lanes = p["BLOCK_0"] * p["BLOCK_1"]
    wa, wb, wo = p["A_MAN"] + 1, p["B_MAN"] + 1, p["OUT_MAN"] + 1
    wp = wa + wb
    return {
        "L": lanes, "L_wa_wb": lanes * wa * wb, "D_L_wa_wb": nodsp * lanes * wa * wb,
        "L_wp_lg_wp": lanes * wp * _lg(wp), "L_wo": lanes * wo, "L_lg_L": lanes * _lg(lanes),
        "L_wp": lanes * wp, "lg_L": _lg(lanes), "D": nodsp,
    }


def _add(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    lanes = p["BLOCK_0"] * p["BLOCK_1"]
    wa, wb, wo = p["A_MAN"] + 1, p["B_MAN"] + 1, p["OUT_MAN"] + 1
    # aligned sum: the smaller-exponent operand is shifted left by up to 2^e places, the
    # RTL clamps the shift to the mantissa span, so the sum is ~ wa + wb + 1 bits wide
    ws = wa + wb + 1
    return {
        "L": lanes, "L_ws": lanes * ws, "L_ws_lg_ws": lanes * ws * _lg(ws), "L_wo": lanes * wo,
        "L_lg_L": lanes * _lg(lanes), "lg_L": _lg(lanes), "D": nodsp, "D_L_ws": nodsp * lanes * ws,
    }


def _linear(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    k, rows, cols = p["BLOCK_K"], p["X_ROWS"], p["OUT_TILE"]
    wx, ww, wo = p["X_MAN"] + 1, p["W_MAN"] + 1, p["OUT_MAN"] + 1
    macs = rows * cols * k
    acc = wx + ww + _lg(k * p["IN_TILES"]) + 1
    return {
        "macs": macs, "macs_wx_ww": macs * wx * ww, "D_macs_wx_ww": nodsp * macs * wx * ww,
        "outs_acc": rows * cols * acc, "outs_acc_lg_acc": rows * cols * acc * _lg(acc),
        "outs_wo": rows * cols * wo, "xbuf_bits": 2 * rows * k * wx * p["IN_TILES"],
        "tree": rows * cols * k * _lg(k) * (wx + ww), "lg_macs": _lg(macs), "D": nodsp,
        "lg_in_tiles": _lg(p["IN_TILES"]),
    }


#: module name -> feature function ``(resolved params, nodsp) -> {name: value}``.
FEATURES = {
    "mase_mxint_cast": _unary,
    "mase_mxint_relu": _unary,
    "mase_mxint_mul": _mul,
    "mase_mxint_add": _add,
    "mase_mxint_linear": _linear,
}


def features(module: str, resolved: Mapping[str, int], nodsp: bool) -> dict[str, float]:
    """Feature dict of one point (``resolved`` = catalog-resolved parameters)."""
    try:
        fn = FEATURES[module]
    except KeyError:
        raise KeyError(f"mase_cost: no cost model for module {module!r}; known: {sorted(FEATURES)}") from None
    return {k: float(v) for k, v in fn(resolved, int(bool(nodsp))).items()}
