"""Catalog entries of the attention operators of whole encoders and decoders: the masked softmax
(attention with a padding or causal mask: the softmax of catalog_nonlinear with a second input
stream of mask rows, one bit per element of a row), the causal mask source and the rotary
position embedding (golden models: golden/masked.py, golden/rope.py).

Masked softmax schedule: as ``mase_mxint_softmax``, ``3 * ROW_BLOCKS`` cycles per row (in, exponentials, out),
the first output ``2 * ROW_BLOCKS + 1`` cycles after the first input (one more than the softmax:
the first mask beat is registered before the first row starts); ``CYCLES_PER_BLOCK`` = 3 and
``LATENCY`` are derived here for the estimates (mase_cost has no formula for this module).
"""

from __future__ import annotations

from mase_hwlib.catalog import Field, ModuleSpec, Param, Stream, register
from mase_hwlib.catalog_nonlinear import _ROW_BLOCKS, _check_grid, _mxint_params, _x_stream
from mase_hwlib.golden import masked, rope


def _derive(p):
    _check_grid(p)
    return {"MANT_WIDTH": p["MAN_BITS"] + 1, "OUT_WIDTH": p["OUT_FRAC"] + 1, "N": p["BLOCK"] * p["ROW_BLOCKS"],
            "CYCLES_PER_BLOCK": 3, "LATENCY": 2 * p["ROW_BLOCKS"] + 1}


register(
    ModuleSpec(
        name="mase_mxint_masked_softmax",
        family="nonlinear",
        doc=(
            "Softmax over rows of ROW_BLOCKS MXInt blocks with a boolean mask row (1 = kept): masked "
            "elements get 0, the kept ones mase_mxint_softmax's integer softmax over themselves; a mask row "
            "serves MASK_REPEAT groups of MASK_ROWS rows (heads). >= 3*ROW_BLOCKS cycles per row."
        ),
        params=(*_mxint_params(), _ROW_BLOCKS, Param("OUT_FRAC", 12, "output fraction bits", 1, 24),
                Param("MASK_ROWS", 1, "distinct mask rows per group of rows", 1, 64),
                Param("MASK_REPEAT", 1, "repetitions of each group of MASK_ROWS rows (one mask)", 1, 64)),
        streams=(_x_stream(), Stream("mask", "in", (Field("data", "N", 1),), doc="bit j = 1 keeps element j"),
                 Stream("y", "out", (Field("data", "BLOCK", "OUT_WIDTH"),))),
        golden=masked.masked_softmax,
        sources=("mase_mxint_to_fixed.sv", "mase_mxint_masked_softmax.sv"),
        derive=_derive,
    )
)


def _rope_derive(p):
    _check_grid(p)
    if p["HEAD_BLOCKS"] % 2 or p["ROW_BLOCKS"] % p["HEAD_BLOCKS"]:
        raise ValueError(f"mase_mxint_rope: HEAD_BLOCKS={p['HEAD_BLOCKS']} must be even (a half head is whole "
                         f"beats) and divide ROW_BLOCKS={p['ROW_BLOCKS']}")
    if p["OUT_FRAC"] > p["X_FRAC"] + p["C_FRAC"]:
        raise ValueError(f"mase_mxint_rope: OUT_FRAC={p['OUT_FRAC']} exceeds X_FRAC + C_FRAC = "
                         f"{p['X_FRAC'] + p['C_FRAC']} (the exact products' fraction bits)")
    if p["OUT_WIDTH"] > p["X_WIDTH"] + p["C_FRAC"] + 3:
        raise ValueError(f"mase_mxint_rope: OUT_WIDTH={p['OUT_WIDTH']} is wider than the exact sum "
                         f"(X_WIDTH + C_FRAC + 3 = {p['X_WIDTH'] + p['C_FRAC'] + 3} bits)")
    return {"MANT_WIDTH": p["MAN_BITS"] + 1, "C_WIDTH": p["C_FRAC"] + 2,
            "CYCLES_PER_BLOCK": 2, "LATENCY": p["ROW_BLOCKS"]}


register(
    ModuleSpec(
        name="mase_mxint_rope",
        family="nonlinear",
        doc=(
            "Rotary position embedding (rotate-half form) on rows of ROW_BLOCKS MXInt blocks, HEAD_BLOCKS per "
            "head: x cos + rotate_half(x) sin exactly in integers, cos/sin tables from $readmemh ROMs, one "
            "floor into OUT_WIDTH/OUT_FRAC fixed point. 2*ROW_BLOCKS cycles per row."
        ),
        params=(*_mxint_params(), Param("ROW_BLOCKS", 8, "blocks per row (heads * head_dim / BLOCK)", 2, 256),
                Param("HEAD_BLOCKS", 4, "blocks per head (even)", 2, 256),
                Param("SEQ", 8, "positions per input (table rows)", 1, 4096),
                Param("C_FRAC", 14, "fraction bits of the cos / sin entries (C_FRAC + 2 bits)", 1, 22),
                Param("OUT_WIDTH", 16, "output bits (two's complement, saturated)", 2, 32),
                Param("OUT_FRAC", 8, "output fraction bits", 0, 30),
                Param("COS_FILE", "", "$readmemh image of the cos table (mase_hwlib.rom_fixed)", kind="str"),
                Param("SIN_FILE", "", "$readmemh image of the sin table (mase_hwlib.rom_fixed)", kind="str")),
        streams=(_x_stream(), Stream("y", "out", (Field("data", "BLOCK", "OUT_WIDTH", signed=True),))),
        golden=rope.rope,
        sources=("mase_mxint_to_fixed.sv", "mase_mxint_rope.sv"),
        derive=_rope_derive,
    )
)


register(
    ModuleSpec(
        name="mase_causal_mask",
        family="stream",
        doc=("Causal attention mask rows, generated: row i keeps keys j <= i + OFFSET; SEQ rows per pass, REPEAT "
             "passes (0 = forever); one row per cycle, registered output."),
        params=(Param("SEQ", 8, "query rows per pass", 1, 4096), Param("KEYS", 8, "keys per row (bits per beat)", 1, 4096),
                Param("OFFSET", 0, "row i keeps keys j <= i + OFFSET", 0, 4096),
                Param("REPEAT", 0, "passes; 0 = forever", 0, 1 << 20)),
        streams=(Stream("y", "out", (Field("data", "KEYS", 1),), doc="bit j = 1 keeps key j"),),
        golden=rope.causal_mask,
        sources=("mase_causal_mask.sv",),
        derive=lambda p: {"CYCLES_PER_BLOCK": 1, "LATENCY": 1},
    )
)


def _masked_mean_derive(p):
    _check_grid(p)
    if p["OUT_FRAC"] < p["X_FRAC"]:
        raise ValueError(f"mase_mxint_masked_mean: OUT_FRAC={p['OUT_FRAC']} must be at least X_FRAC={p['X_FRAC']}")
    # one output beat per (ROWS + 1) * ROW_BLOCKS + 1 cycles of an input, on average
    cycles = (p["ROWS"] + 1) * p["ROW_BLOCKS"] + 1
    return {"MANT_WIDTH": p["MAN_BITS"] + 1, "CYCLES_PER_BLOCK": cycles / p["ROW_BLOCKS"],
            "LATENCY": p["ROWS"] * p["ROW_BLOCKS"] + 1}


register(
    ModuleSpec(
        name="mase_mxint_masked_mean",
        family="nonlinear",
        doc=("Mean over the kept rows (one mask beat of ROWS bits per input) of ROWS x ROW_BLOCKS MXInt blocks: "
             "trunc(sum_kept x / K) on the OUT_WIDTH/OUT_FRAC grid (masked mean pooling). "
             "(ROWS + 1) * ROW_BLOCKS + 1 cycles per input."),
        params=(*_mxint_params(), Param("ROW_BLOCKS", 16, "blocks per row", 1, 256),
                Param("ROWS", 8, "rows per input (mask bits)", 1, 4096),
                Param("OUT_WIDTH", 16, "output bits (two's complement, saturated)", 2, 32),
                Param("OUT_FRAC", 8, "output fraction bits (>= X_FRAC)", 0, 24)),
        streams=(_x_stream(), Stream("mask", "in", (Field("data", "ROWS", 1),), doc="bit i = 1 keeps row i"),
                 Stream("y", "out", (Field("data", "BLOCK", "OUT_WIDTH", signed=True),))),
        golden=masked.masked_mean,
        sources=("mase_mxint_to_fixed.sv", "mase_mxint_masked_mean.sv"),
        derive=_masked_mean_derive,
    )
)
