"""Catalog entries of the decoder operators on MXInt inputs (OPT / LLaMA blocks):
silu (elementwise, the gate of LLaMA's FFN) and rms_norm (over rows of ROW_BLOCKS blocks).

Inputs are MXInt beats, one block of BLOCK elements per beat, as for the encoder's
non-linear operators (catalog_nonlinear), with the same parameters and fixed-point grid;
outputs are fixed point. See each RTL header and :mod:`mase_hwlib.golden.decoder` for the
integer algorithms and their measured error.
"""

from __future__ import annotations

from mase_hwlib.catalog import Field, ModuleSpec, Param, Stream, register
from mase_hwlib.catalog_nonlinear import (
    _ROW_BLOCKS,
    _check_grid,
    _mxint_params,
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


def _rms_norm_derive(p):
    _check_grid(p)
    n = p["BLOCK"] * p["ROW_BLOCKS"]
    log_n = (n - 1).bit_length() + 1
    d_width = 2 * p["X_WIDTH"] + 2 * log_n + 1
    num_width = max(p["X_WIDTH"] + log_n + p["OUT_FRAC"] + 1, p["OUT_WIDTH"] + 1)
    if p["EPS_FX"] >= 1 << (2 * p["X_WIDTH"]):
        raise ValueError(f"EPS_FX={p['EPS_FX']} must be below 2^(2*X_WIDTH)")
    return {"MANT_WIDTH": p["MAN_BITS"] + 1, "N": n, "D_WIDTH": d_width, "NUM_WIDTH": num_width}


register(
    ModuleSpec(
        name="mase_mxint_rms_norm",
        family="decoder",
        doc=(
            "RMS norm (no gain) over rows of ROW_BLOCKS MXInt blocks, scale-free: "
            "N x / isqrt(N S2 + EPS_FX N^2); output signed OUT_WIDTH/OUT_FRAC, saturated."
        ),
        params=(
            *_mxint_params(),
            _ROW_BLOCKS,
            Param("OUT_WIDTH", 16, "output bits (two's complement, saturated)", 2, 32),
            Param("OUT_FRAC", 12, "output fraction bits", 0, 24),
            Param("EPS_FX", 0, "eps * 2^(2*X_FRAC) rounded to an integer", 0, (1 << 31) - 1),
        ),
        streams=(_x_stream(), Stream("y", "out", (Field("data", "BLOCK", "OUT_WIDTH", signed=True),))),
        golden=decoder.rms_norm,
        sources=("mase_isqrt.sv", "mase_mxint_to_fixed.sv", "mase_mxint_rms_norm.sv"),
        derive=_rms_norm_derive,
    )
)
