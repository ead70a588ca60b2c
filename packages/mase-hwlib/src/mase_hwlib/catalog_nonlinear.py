"""Catalog entries of the non-linear transformer operators on MXInt inputs:
gelu (elementwise), softmax and layer_norm (over rows of ROW_BLOCKS blocks).

Inputs are MXInt beats, one block of BLOCK elements per beat (``x_mant``
signed element integers, ``x_exp`` the shared exponent). Each operator converts
to an internal fixed-point grid (``X_WIDTH`` bits, ``X_FRAC`` fraction bits,
floor, saturating) and produces fixed-point outputs; see each RTL header and
docs/nonlinear.md for the integer algorithms and their measured error.
"""

from __future__ import annotations

from mase_hwlib.catalog import Field, ModuleSpec, Param, Stream, register
from mase_hwlib.golden import nonlinear


def _mxint_params(x_width: int = 16, x_frac: int = 8) -> tuple[Param, ...]:
    return (
        Param("BLOCK", 16, "elements per MXInt block (one block per beat)", 1, 64),
        Param("EXP_BITS", 8, "shared exponent bits", 2, 8),
        Param("MAN_BITS", 7, "element mantissa bits m (element is m+1 bits)", 1, 15),
        Param("X_WIDTH", x_width, "internal fixed-point bits", 4, 24),
        Param("X_FRAC", x_frac, "internal fraction bits", 0, 16),
    )


_ROW_BLOCKS = Param("ROW_BLOCKS", 4, "blocks per row (row length N = BLOCK*ROW_BLOCKS)", 1, 64)


def _x_stream() -> Stream:
    return Stream(
        "x",
        "in",
        (Field("mant", "BLOCK", "MANT_WIDTH", signed=True), Field("exp", 1, "EXP_BITS", signed=True)),
        doc="MXInt block: value q * 2^(s - m + 1)",
    )


def _check_grid(p) -> None:
    if p["X_WIDTH"] < p["X_FRAC"] + 3:
        raise ValueError(
            f"X_WIDTH={p['X_WIDTH']} must be at least X_FRAC+3={p['X_FRAC'] + 3} (the grid must hold +-4)"
        )


def _gelu_derive(p):
    _check_grid(p)
    return {"MANT_WIDTH": p["MAN_BITS"] + 1}


register(
    ModuleSpec(
        name="mase_mxint_gelu",
        family="nonlinear",
        doc="GELU by I-BERT's integer erf fit (i-GELU) on the X_WIDTH/X_FRAC grid; output on the same grid.",
        params=_mxint_params(),
        streams=(_x_stream(), Stream("y", "out", (Field("data", "BLOCK", "X_WIDTH", signed=True),))),
        golden=nonlinear.gelu,
        sources=("mase_mxint_to_fixed.sv", "mase_mxint_gelu.sv"),
        derive=_gelu_derive,
    )
)


def _softmax_derive(p):
    _check_grid(p)
    return {"MANT_WIDTH": p["MAN_BITS"] + 1, "OUT_WIDTH": p["OUT_FRAC"] + 1, "N": p["BLOCK"] * p["ROW_BLOCKS"]}


register(
    ModuleSpec(
        name="mase_mxint_softmax",
        family="nonlinear",
        doc=(
            "Softmax over rows of ROW_BLOCKS MXInt blocks: base-2 exponent split, quadratic 2^-r, one "
            "division per element; output unsigned, OUT_FRAC fraction bits. >= 3*ROW_BLOCKS cycles per row."
        ),
        params=(*_mxint_params(), _ROW_BLOCKS, Param("OUT_FRAC", 12, "output fraction bits", 1, 24)),
        streams=(_x_stream(), Stream("y", "out", (Field("data", "BLOCK", "OUT_WIDTH"),))),
        golden=nonlinear.softmax,
        sources=("mase_mxint_to_fixed.sv", "mase_mxint_softmax.sv"),
        derive=_softmax_derive,
    )
)


def _row_norm_derive(sum_terms: int):
    """derive() of a row normaliser (layer_norm: x - mean, sum_terms = 2; rms_norm: x, 1): the
    isqrt's input D_WIDTH and the numerator NUM_WIDTH, whose log2(N) terms count the sums that
    enter it (N x and S1 for layer_norm, N x alone for rms_norm)."""
    def derive(p):
        _check_grid(p)
        n = p["BLOCK"] * p["ROW_BLOCKS"]
        log_n = (n - 1).bit_length() + 1
        d_width = 2 * p["X_WIDTH"] + 2 * log_n + 1
        num_width = max(p["X_WIDTH"] + sum_terms * log_n + p["OUT_FRAC"] + 1, p["OUT_WIDTH"] + 1)
        if p["EPS_FX"] >= 1 << (2 * p["X_WIDTH"]):
            raise ValueError(f"EPS_FX={p['EPS_FX']} must be below 2^(2*X_WIDTH)")
        return {"MANT_WIDTH": p["MAN_BITS"] + 1, "N": n, "D_WIDTH": d_width, "NUM_WIDTH": num_width}
    return derive


def _row_norm_params() -> tuple[Param, ...]:
    """Parameters of a row normaliser (layer_norm, rms_norm): the MXInt input, the row, the output."""
    return (
        *_mxint_params(),
        _ROW_BLOCKS,
        Param("OUT_WIDTH", 16, "output bits (two's complement, saturated)", 2, 32),
        Param("OUT_FRAC", 12, "output fraction bits", 0, 24),
        Param("EPS_FX", 0, "eps * 2^(2*X_FRAC) rounded to an integer", 0, (1 << 31) - 1),
    )


def _row_norm_out_stream() -> Stream:
    return Stream("y", "out", (Field("data", "BLOCK", "OUT_WIDTH", signed=True),))


register(
    ModuleSpec(
        name="mase_mxint_layer_norm",
        family="nonlinear",
        doc=(
            "Layer norm (no affine) over rows of ROW_BLOCKS MXInt blocks, scale-free: "
            "(N x - S1) / isqrt(N S2 - S1^2 + EPS_FX N^2); output signed OUT_WIDTH/OUT_FRAC, saturated."
        ),
        params=_row_norm_params(),
        streams=(_x_stream(), _row_norm_out_stream()),
        golden=nonlinear.layer_norm,
        sources=("mase_isqrt.sv", "mase_mxint_to_fixed.sv", "mase_mxint_layer_norm.sv"),
        derive=_row_norm_derive(sum_terms=2),
    )
)
