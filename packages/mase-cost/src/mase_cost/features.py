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
* a Kulisch accumulator is ``w_a + w_b + log2(K) + 2*(EMAX_a + EMAX_b)`` bits wide per
  output lane, ``EMAX = 2^(EXP-1) - 1``: exponential in the exponent width, as is the
  aligned sum of ``add``;
* a bounded accumulator (``ACC_WIDTH != 0``; mase_bounded_align / mase_bounded_accumulator)
  is, per lane, an ``A``-bit adder, an ``A``-bit barrel shifter (``A log2 A``) behind a swap
  mux and the normaliser at ``A`` input bits, ``A`` = the catalog's built width
  ``ACC_BITS`` (= ACC_WIDTH; the Kulisch width when ``ACC_WIDTH = 0``), so the same terms
  take ``A`` instead of the ``2^EXP`` width; nearest-even rounding (``ACC_ROUND = 1``) adds
  a sticky OR over the shifted-out bits (``lanes * A`` gated by ACC_ROUND) and the shared
  reference exponent a compare/subtract of the exponent widths;
* fixed-point operators (``mase_fixed_*``) shift by constants (the formats are static):
  their terms are the multipliers, the adder tree and the exact accumulator of
  ``ACC_WIDTH`` bits (a derived value), and a rounding + saturation stage per output lane;
* a product lands in a DSP48E1 only when it is at least 9 bits wide and ``-nodsp`` is
  not given (``_soft``), so soft-multiplier area and DSP count are exact indicator terms;
* the non-linear operators: a ``(MAN_BITS + X_WIDTH + 2)``-bit fixed-point shifter per
  element, their multipliers (bits = product of operand widths), a combinational
  divider per element (``width_num * width_den``) and the stored row (``N * width``).

Each module has one function ``params -> {feature: value}``; the modules with a
function here are exactly the modules the cost model knows (:func:`available` lists
those the installed catalog also has: a feature function may wait for its RTL).

Every feature is non-decreasing in every mantissa / width / exponent / size parameter
(at a fixed ``-nodsp`` and a fixed DSP mapping, i.e. fixed ``soft`` indicators): the
indicator features listed in :data:`UNCONSTRAINED` are the only exceptions, so a model
that is non-decreasing in every other feature (:mod:`mase_cost.model`) is non-decreasing
in those parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import ceil, log2

__all__ = ["FEATURES", "STRUCTURAL_DSP", "UNCONSTRAINED", "available", "features", "structural_dsp"]

#: Features a model may weigh either way: the DSP indicators trade LUTs for DSP48s (a
#: product that moves into a DSP removes its LUTs) and ``D`` is the -nodsp flag.
UNCONSTRAINED = frozenset({"dsp_lanes", "dsp_macs", "D"})


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


def _soft(nodsp: int, wy: int) -> int:
    """1 when a ``wy``-bit product becomes LUTs, 0 when it goes to a DSP48E1.

    ``synth_xilinx`` maps a ``$mul`` to DSPs (``mul2dsp``) only when its result is at
    least 9 bits wide (``DSP_Y_MINWIDTH=9`` for xc7); ``-nodsp`` makes every product soft.
    """
    return 1 if nodsp or wy < 9 else 0


def _mul(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    # mase_mxint_mul.sv: per lane an IW = A_MAN+B_MAN+2 bit product, then
    # mase_mxint_normalize.sv: |.| (IW), OR into the block union (IW), one leading-one
    # detector for the block, and per lane a QW = IW+OUT_MAN+1 bit barrel shift + round.
    lanes = p["BLOCK_0"] * p["BLOCK_1"]
    wa, wb, wo = p["A_MAN"] + 1, p["B_MAN"] + 1, p["OUT_MAN"] + 1
    iw = wa + wb
    qw = iw + p["OUT_MAN"] + 1
    soft = _soft(nodsp, iw)
    return {
        "L": lanes, "soft_mul": soft * lanes * wa * wb, "dsp_lanes": (1 - soft) * lanes,
        "L_qw_lg_qw": lanes * qw * _lg(qw), "L_qw": lanes * qw, "L_iw": lanes * iw, "L_wo": lanes * wo,
        "iw_lg_iw": iw * _lg(iw), "lg_L": _lg(lanes), "D": nodsp,
    }


def _add(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    # mase_mxint_add.sv: both operands shifted left onto the smaller LSB exponent, so the
    # aligned sum is IW = MAXM + GAP + 3 bits, GAP = EMAX_A + EMAX_B + MAXM, EMAX = 2^(EXP-1)-1:
    # exponential in the exponent width; two IW-bit barrel shifters and an adder per lane.
    # Bounded (ACC_WIDTH != 0): the sum is ACC_BITS wide instead (catalog's derive).
    lanes = p["BLOCK_0"] * p["BLOCK_1"]
    maxm = max(p["A_MAN"], p["B_MAN"])
    gap = (2 ** (p["A_EXP"] - 1) - 1) + (2 ** (p["B_EXP"] - 1) - 1) + maxm
    iw = p["ACC_BITS"] if "ACC_BITS" in p else maxm + gap + 3
    qw = iw + p["OUT_MAN"] + 1
    return {
        "L": lanes, "L_iw": lanes * iw, "L_iw_lg_iw": lanes * iw * _lg(iw),
        "L_qw_lg_qw": lanes * qw * _lg(qw), "L_wo": lanes * (p["OUT_MAN"] + 1),
        "iw_lg_iw": iw * _lg(iw), "lg_L": _lg(lanes), "D": nodsp,
        **_bounded_terms(p, lanes, iw, p["A_EXP"] + p["B_EXP"]),
    }


def _bounded_terms(p: Mapping[str, int], lanes: int, acc: int, exp_bits: int) -> dict[str, float]:
    """Terms of the bounded accumulator (0 for the exact datapath, ``ACC_WIDTH = 0``): the
    nearest-even sticky logic ``lanes * A`` (when ACC_ROUND = 1) and the exponent compare."""
    bounded = 1 if p.get("ACC_WIDTH", 0) != 0 else 0
    return {"lanes_round": bounded * p.get("ACC_ROUND", 0) * lanes * acc, "lanes_e": lanes * exp_bits}


def _acc_width(k: int, k_tiles: int, wa: int, wb: int, ea: int, eb: int) -> int:
    """ACC_W of mase_mxint_tile_dot.sv (no bias): the exact Kulisch accumulator width."""
    emax_a, emax_b = 2 ** (ea - 1) - 1, 2 ** (eb - 1) - 1
    psum = wa + wb + ceil(log2(k + 1))
    top = psum + 2 * (emax_a + emax_b)  # PROD_LSB_MAX - PROD_LSB_MIN
    return top + ceil(log2(k_tiles + 2)) + 1


def _tile_dot(rows: int, cols: int, k: int, k_tiles: int, wa: int, wb: int, ea: int, eb: int,
              out_man: int, nodsp: int, p: Mapping[str, int] | None = None) -> dict[str, float]:
    # mase_mxint_tile_dot.sv: rows*cols lanes, each a k-term dot product of wa x wb
    # products (PSUM bits), shifted into an ACC-bit accumulator and normalised to OUT_MAN.
    # ACC = the catalog's ACC_BITS when it has one (bounded RTL), else the Kulisch width.
    lanes, macs = rows * cols, rows * cols * k
    p = p or {}
    acc = p["ACC_BITS"] if "ACC_BITS" in p else _acc_width(k, k_tiles, wa, wb, ea, eb)
    soft = _soft(nodsp, wa + wb)
    qw = acc + out_man + 1
    return {
        "lanes": lanes, "macs": macs, "soft_mul": soft * macs * wa * wb, "dsp_macs": (1 - soft) * macs,
        "tree": macs * (wa + wb + _lg(k)), "lanes_acc": lanes * acc, "lanes_acc_lg_acc": lanes * acc * _lg(acc),
        "lanes_qw_lg_qw": lanes * qw * _lg(qw), "lanes_wo": lanes * (out_man + 1), "D": nodsp,
        **_bounded_terms(p, lanes, acc, ea + eb),
    }


def _linear(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    k, rows = p["BLOCK_K"], p["X_ROWS"]
    wx, ww = p["X_MAN"] + 1, p["W_MAN"] + 1
    f = _tile_dot(rows, p["OUT_TILE"], k, p["IN_TILES"], wx, ww, p["X_EXP"], p["W_EXP"], p["OUT_MAN"], nodsp, p)
    # x is double-buffered: two groups of IN_TILES tiles of rows*k mantissas (+ exponents)
    f["xbuf_bits"] = 2 * p["IN_TILES"] * (rows * k * wx + p["X_EXP"])
    f["lg_tiles"] = _lg(p["IN_TILES"] * p["OUT_TILES"])
    return f


def _matmul(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    f = _tile_dot(p["A_ROWS"], p["B_COLS"], p["BLOCK_K"], p["K_TILES"], p["A_MAN"] + 1, p["B_MAN"] + 1,
                  p["A_EXP"], p["B_EXP"], p["OUT_MAN"], nodsp, p)
    f["lg_k_tiles"] = _lg(p["K_TILES"])
    return f


def _to_fixed(p: Mapping[str, int]) -> dict[str, float]:
    # mase_mxint_to_fixed.sv per element: a WIDE = MAN_BITS + X_WIDTH + 2 bit shift by the
    # exponent, then saturation to X_WIDTH bits
    b, xw = p["BLOCK"], p["X_WIDTH"]
    wide = p["MAN_BITS"] + xw + 2
    return {"B": b, "B_wide_lg_wide": b * wide * _lg(wide), "B_xw": b * xw, "e": p["EXP_BITS"]}


def _gelu(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    # mase_mxint_gelu.sv per element: d*d (X_WIDTH^2), A_16 * d^2 (16 x 2*X_WIDTH) and
    # x * (2^F +- L) (X_WIDTH x (X_FRAC+2)); soft when -nodsp
    b, xw = p["BLOCK"], p["X_WIDTH"]
    mul_bits = xw * xw + 16 * 2 * xw + xw * (p["X_FRAC"] + 2)
    return {**_to_fixed(p), "B_mul_bits": b * mul_bits, "D_B_mul_bits": nodsp * b * mul_bits, "D": nodsp}


def _softmax(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    # mase_mxint_softmax.sv: per element (m - x) * LOG2E (X_WIDTH x 17), the 2^-r polynomial
    # (16 x 16 twice), and a DIV = SUM + OUT_FRAC bit divider; the row (N elements of X_WIDTH
    # and of 17-bit exponentials) is stored.
    b, xw, n = p["BLOCK"], p["X_WIDTH"], p["BLOCK"] * p["ROW_BLOCKS"]
    sum_w = 17 + ceil(log2(n)) + 1
    div_w = sum_w + p["OUT_FRAC"]
    mul_bits = xw * 17 + 2 * 16 * 16
    return {
        **_to_fixed(p), "B_div": b * div_w * div_w, "B_mul_bits": b * mul_bits,
        "D_B_mul_bits": nodsp * b * mul_bits, "row_bits": n * (xw + 17), "lg_rb": _lg(p["ROW_BLOCKS"]),
        "D": nodsp,
    }


def _layer_norm(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    # mase_mxint_layer_norm.sv: per element x^2 (X_WIDTH^2) into S2, N*x - S1, and a
    # NUM / ROOT divider; one D_WIDTH-bit integer square root (mase_isqrt) and the
    # N*S2 - S1^2 products per row; the row of N x X_WIDTH values is stored.
    b, xw, n = p["BLOCK"], p["X_WIDTH"], p["BLOCK"] * p["ROW_BLOCKS"]
    log_n = ceil(log2(n)) + 1
    d_w = 2 * xw + 2 * log_n + 1
    num_w = max(xw + 2 * log_n + p["OUT_FRAC"] + 1, p["OUT_WIDTH"] + 1)
    root_w = (d_w + 1) // 2
    return {
        **_to_fixed(p), "B_div": b * num_w * root_w, "B_sq": b * xw * xw, "D_B_sq": nodsp * b * xw * xw,
        "isqrt": d_w * root_w, "s_prod": (xw + log_n) ** 2, "row_bits": n * xw, "B_out": b * p["OUT_WIDTH"],
        "D": nodsp,
    }


def _fixed_dot(rows: int, cols: int, k: int, wa: int, wb: int, acc: int, out_w: int, nodsp: int) -> dict[str, float]:
    # mase_fixed_tile_dot.sv: rows*cols lanes, each k products of wa x wb bits summed by an
    # adder tree into an exact ACC_WIDTH-bit accumulator; mase_fixed_round.sv then shifts by a
    # constant, rounds half to even and saturates to OUT_WIDTH bits (a compare on acc bits).
    lanes, macs = rows * cols, rows * cols * k
    soft = _soft(nodsp, wa + wb)
    return {
        "lanes": lanes, "macs": macs, "soft_mul": soft * macs * wa * wb, "dsp_macs": (1 - soft) * macs,
        "tree": macs * (wa + wb + _lg(k)), "lanes_acc": lanes * acc, "lanes_out": lanes * out_w, "D": nodsp,
    }


def _fixed_linear(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    k, rows = p["BLOCK_K"], p["X_ROWS"]
    f = _fixed_dot(rows, p["OUT_TILE"], k, p["X_WIDTH"], p["W_WIDTH"], p["ACC_WIDTH"], p["OUT_WIDTH"], nodsp)
    # x double-buffered (two groups of IN_TILES tiles), a bias aligned onto the accumulator
    f["xbuf_bits"] = 2 * p["IN_TILES"] * rows * k * p["X_WIDTH"]
    f["bias_bits"] = p["HAS_BIAS"] * p["OUT_TILE"] * (p["B_WIDTH"] + rows * p["ACC_WIDTH"])
    f["lg_tiles"] = _lg(p["IN_TILES"] * p["OUT_TILES"])
    return f


def _fixed_matmul(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    f = _fixed_dot(p["A_ROWS"], p["B_COLS"], p["BLOCK_K"], p["A_WIDTH"], p["B_WIDTH"], p["ACC_WIDTH"],
                   p["OUT_WIDTH"], nodsp)
    f["lg_k_tiles"] = _lg(p["K_TILES"])
    return f


def _fixed_add(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    # mase_fixed_add.sv per lane: both operands shifted (constants) onto the finer grid,
    # a SUM_WIDTH-bit adder, then round + saturate to OUT_WIDTH
    b, sw = p["BLOCK"], p["SUM_WIDTH"]
    return {"B": b, "B_sum": b * sw, "B_out": b * p["OUT_WIDTH"], "B_in": b * (p["A_WIDTH"] + p["B_WIDTH"]), "D": nodsp}


def _fixed_unary(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    # mase_fixed_cast.sv / mase_fixed_relu.sv per lane: a sign test (relu), a constant shift,
    # round half to even and saturate IN_WIDTH (+ shift) bits into OUT_WIDTH
    b = p["BLOCK"]
    shift = abs(p["IN_FRAC"] - p["OUT_FRAC"])
    return {"B": b, "B_in": b * p["IN_WIDTH"], "B_out": b * p["OUT_WIDTH"],
            "B_work": b * (p["IN_WIDTH"] + shift), "D": nodsp}


def _block_float_linear(p: Mapping[str, int], nodsp: int) -> dict[str, float]:
    """mase_bmf_linear / mase_bl_linear (one engine, mase_bmf_tile_dot; BL has no fraction bits):
    per product an (M+1) x (M+1) magnitude product shifted by the exponent sum into ACC_TERM_WIDTH
    bits, a tree of BLOCK_K such terms per lane, the bounded accumulator with its shifter
    (ACC_BITS per lane; the output quantizer's leading one scales the same way) and the
    double-buffered x tiles. Few terms on purpose: the module has ~10 synthesized points, and
    with a term per block (lanes, held tiles, ...) the fit was worse held out (10.5 % against
    23.6 % LUT MAPE, 5-fold, on the 2026-12-03 points)."""
    k, rows, lanes = p["BLOCK_K"], p["X_ROWS"], p["X_ROWS"] * p["OUT_TILE"]
    macs, m1 = lanes * k, p.get("MAN_BITS", 0) + 1
    tw, acc = p["ACC_TERM_WIDTH"], p["ACC_BITS"]
    shift = 2 * (2 ** p["EXP_BITS"] - 2) + 1  # range of the product's exponent sum
    soft = _soft(nodsp, 2 * m1)
    return {
        "soft_mul": soft * macs * m1 * m1, "dsp_macs": (1 - soft) * macs,
        "prod_shift": macs * tw * _lg(shift), "tree": macs * tw, "lanes_acc_lg_acc": lanes * acc * _lg(acc),
        "xbuf_bits": 2 * p["IN_TILES"] * (rows * k * p["EL_WIDTH"] + p["BIAS_BITS"]), "D": nodsp,
    }


#: module name -> feature function ``(resolved params, nodsp) -> {name: value}``.
FEATURES = {
    "mase_mxint_cast": _unary,
    "mase_mxint_relu": _unary,
    "mase_mxint_mul": _mul,
    "mase_mxint_add": _add,
    "mase_mxint_linear": _linear,
    "mase_mxint_matmul": _matmul,
    "mase_mxint_gelu": _gelu,
    "mase_mxint_softmax": _softmax,
    "mase_mxint_layer_norm": _layer_norm,
    "mase_fixed_linear": _fixed_linear,
    "mase_bmf_linear": _block_float_linear,
    "mase_bl_linear": _block_float_linear,
    "mase_fixed_matmul": _fixed_matmul,
    "mase_fixed_add": _fixed_add,
    "mase_fixed_relu": _fixed_unary,
    "mase_fixed_cast": _fixed_unary,
}


def available(modules=None) -> tuple[list[str], dict[str, str]]:
    """``(usable, skipped)``: the modules of ``modules`` (default: every :data:`FEATURES`
    module) that have a feature function and a catalog entry, and for the others why not
    (``{module: reason}``) -- a feature function may be written before its RTL lands."""
    from mase_hwlib import catalog

    usable, skipped = [], {}
    for m in (FEATURES if modules is None else modules):
        if m not in FEATURES:
            skipped[m] = "no feature function in mase_cost.features"
            continue
        try:
            catalog.get(m)
        except KeyError:
            skipped[m] = "not in the installed mase-hwlib catalog"
            continue
        usable.append(m)
    return usable, skipped


def features(module: str, resolved: Mapping[str, int], nodsp: bool) -> dict[str, float]:
    """Feature dict of one point (``resolved`` = catalog-resolved parameters)."""
    try:
        fn = FEATURES[module]
    except KeyError:
        raise KeyError(f"mase_cost: no cost model for module {module!r}; known: {sorted(FEATURES)}") from None
    return {k: float(v) for k, v in fn(resolved, int(bool(nodsp))).items()}


#: Modules whose DSP48E1 count is structural (:func:`structural_dsp`), not fitted: the tile-dot
#: and elementwise multipliers, whose products are the ``dsp_macs`` / ``dsp_lanes`` features,
#: and the operators without a data-dependent product (constant shifts and adders only).
STRUCTURAL_DSP = {
    "mase_mxint_mul": "dsp_lanes", "mase_mxint_linear": "dsp_macs", "mase_mxint_matmul": "dsp_macs",
    "mase_fixed_linear": "dsp_macs", "mase_fixed_matmul": "dsp_macs",
    "mase_mxint_cast": None, "mase_mxint_relu": None, "mase_mxint_add": None,
    "mase_fixed_add": None, "mase_fixed_cast": None, "mase_fixed_relu": None,
}

#: Signed operand widths one DSP48E1 multiplies (25 x 18): a wider product takes several.
DSP48_WIDTHS = (25, 18)


def _product_widths(module: str, p: Mapping[str, int]) -> tuple[int, int]:
    if module == "mase_mxint_mul":
        return p["A_MAN"] + 1, p["B_MAN"] + 1
    if module == "mase_mxint_linear":
        return p["X_MAN"] + 1, p["W_MAN"] + 1
    if module == "mase_mxint_matmul":
        return p["A_MAN"] + 1, p["B_MAN"] + 1
    if module == "mase_fixed_linear":
        return p["X_WIDTH"], p["W_WIDTH"]
    return p["A_WIDTH"], p["B_WIDTH"]  # mase_fixed_matmul


def structural_dsp(module: str, resolved: Mapping[str, int], nodsp: bool) -> int | None:
    """The DSP48E1 count of a point, counted from the RTL's multipliers, or None where it is fitted.

    ``synth_xilinx`` (xc7) puts every ``$mul`` whose result is at least 9 bits wide into one
    DSP48E1 when the operands fit its 25 x 18 signed multiplier (``_soft``), and nothing into
    DSPs under ``-nodsp``; so a module whose only products are its tile-dot / lane products has
    exactly ``dsp_macs`` (``dsp_lanes``) DSPs, and a module without products has none.  Checked
    against every synthesized point of these modules (``tests/test_structural_dsp.py``). A
    product wider than 25 x 18 is split over several DSP48E1s (Yosys ``mul2dsp``): counted here
    as ``ceil((w_a - 1) / 24) * ceil((w_b - 1) / 17)`` per product (signed chunks of 24 / 17 bits
    and a sign), an estimate that no synthesized point checks yet (the sweeps stop at 16 bits);
    it keeps the count non-decreasing in every width.
    """
    if module not in STRUCTURAL_DSP:
        return None
    feature = STRUCTURAL_DSP[module]
    if feature is None or nodsp:
        return 0
    wide, narrow = sorted(_product_widths(module, resolved), reverse=True)
    per_product = ceil((wide - 1) / (DSP48_WIDTHS[0] - 1)) * ceil((narrow - 1) / (DSP48_WIDTHS[1] - 1))
    return int(features(module, resolved, nodsp)[feature]) * max(per_product, 1)

