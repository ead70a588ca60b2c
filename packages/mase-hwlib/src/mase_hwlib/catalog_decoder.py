"""Catalog entries of the decoder operators on MXInt inputs (OPT / LLaMA blocks):
silu (elementwise, the gate of LLaMA's FFN) and rms_norm (over rows of ROW_BLOCKS blocks).

Inputs are MXInt beats, one block of BLOCK elements per beat, as for the encoder's
non-linear operators (catalog_nonlinear), with the same parameters and fixed-point grid;
outputs are fixed point. See each RTL header and :mod:`mase_hwlib.golden.decoder` for the
integer algorithms and their measured error.
"""

from __future__ import annotations

from mase_hwlib.catalog import Field, ModuleSpec, Stream, register
from mase_hwlib.catalog_nonlinear import (
    _check_grid,
    _mxint_params,
    _row_norm_derive,
    _row_norm_out_stream,
    _row_norm_params,
    _x_stream,
)
from mase_hwlib.golden import decoder


def _silu_derive(p):
    # X_WIDTH <= 24 (the parameter's range): |x| log2(e) 2^16 < 2^41 and x 2^16 < 2^40 fit 64 bits
    _check_grid(p)
    return {"MANT_WIDTH": p["MAN_BITS"] + 1}


register(
    ModuleSpec(
        name="mase_mxint_silu",
        family="decoder",
        doc=(
            "SiLU x * sigmoid(x): e^-|x| by the softmax's integer exponential, one division per element; "
            "output on the X_WIDTH/X_FRAC grid."
        ),
        params=_mxint_params(),
        streams=(_x_stream(), Stream("y", "out", (Field("data", "BLOCK", "X_WIDTH", signed=True),))),
        golden=decoder.silu,
        sources=("mase_mxint_to_fixed.sv", "mase_mxint_silu.sv"),
        derive=_silu_derive,
    )
)


register(
    ModuleSpec(
        name="mase_mxint_rms_norm",
        family="decoder",
        doc=(
            "RMS norm (no gain) over rows of ROW_BLOCKS MXInt blocks, scale-free: "
            "N x / isqrt(N S2 + EPS_FX N^2); output signed OUT_WIDTH/OUT_FRAC, saturated."
        ),
        params=_row_norm_params(),
        streams=(_x_stream(), _row_norm_out_stream()),
        golden=decoder.rms_norm,
        sources=("mase_isqrt.sv", "mase_mxint_to_fixed.sv", "mase_mxint_rms_norm.sv"),
        derive=_row_norm_derive(sum_terms=1),
    )
)
