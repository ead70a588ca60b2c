"""Catalog entries of the dot products for the paper's format comparisons:
block minifloat (BMF), block logarithm (BL), fixed point and scalar minifloat (FP8).

All four stream tiles: each beat carries one block of x (``X_ROWS x BLOCK_K``
element codes) and one block of w (``W_ROWS x BLOCK_K``); ``NUM_BLOCKS`` beats
make one output beat of ``X_ROWS x W_ROWS`` exact sums. Every sum leaves as
``ACC_CHUNKS`` 32-bit chunks (little-endian, two's complement,
``mase_hwlib.golden.dot.from_chunks`` joins them); its real value is
``acc * 2^OUT_LSB_EXP`` (for minifloat and fixed point the LSB also depends on
the element bias / fraction bits, which the datapath does not:
``minifloat_out_lsb_exp``, ``fixed_out_lsb_exp``).
"""

from __future__ import annotations

from mase_hwlib.catalog import Field, ModuleSpec, Param, Stream, register
from mase_hwlib.golden import dot


def _clog2(n: int) -> int:
    """Verilog's $clog2."""
    return (n - 1).bit_length()


def _tile_params() -> tuple[Param, ...]:
    return (
        Param("BLOCK_K", 16, "block extent along the reduction axis", 1, 64),
        Param("X_ROWS", 1, "rows of x per block (the block's second extent)", 1, 4),
        Param("W_ROWS", 1, "rows of w per block (the block's second extent)", 1, 4),
    )


_NUM_BLOCKS = Param("NUM_BLOCKS", 4, "beats per dot product (reduction length / BLOCK_K)", 1, 4096)


def _tile_derived(p, el_width: int, acc_bits: int) -> dict:
    lanes = p["X_ROWS"] * p["W_ROWS"]
    layout = dot.acc_layout(acc_bits)
    return {
        "EL_WIDTH": el_width,
        "X_ELEMS": p["X_ROWS"] * p["BLOCK_K"],
        "W_ELEMS": p["W_ROWS"] * p["BLOCK_K"],
        "LANES": lanes,
        "Y_LANES": lanes * layout["ACC_CHUNKS"],
        **layout,
    }


def _streams(el_width: str, with_bias: bool, signed_elems: bool = False, w_width: str | None = None) -> tuple:
    def block(name, elems, width):
        fields = [Field("data", elems, width, signed=signed_elems)]
        if with_bias:
            fields.append(Field("bias", 1, "BIAS_BITS", signed=True))
        return Stream(name, "in", tuple(fields))

    return (
        block("x", "X_ELEMS", el_width),
        block("w", "W_ELEMS", w_width or el_width),
        Stream("y", "out", (Field("data", "Y_LANES", dot.CHUNK_BITS),), doc="exact sums as 32-bit chunks"),
    )


def _bmf_derive(p):
    e, m, b = p["EXP_BITS"], p["MAN_BITS"], p["BIAS_BITS"]
    term = 2 * (m + 1) + 2 * ((1 << e) - 2)
    block_sum = term + _clog2(p["BLOCK_K"]) + 1
    acc_bits = block_sum + 4 * dot.bias_hi(b) + 2 + _clog2(p["NUM_BLOCKS"])
    return {**_tile_derived(p, 1 + e + m, acc_bits), "OUT_LSB_EXP": dot.bmf_out_lsb_exp(m, b)}


register(
    ModuleSpec(
        name="mase_bmf_dot",
        family="dot",
        doc=(
            "Block-minifloat tile dot product, exact: every beat's block sum is shifted onto one LSB "
            "by 2*BIAS_HI - beta_x - beta_w; output acc * 2^OUT_LSB_EXP, OUT_LSB_EXP = 2 - 2*BIAS_HI - 2*M."
        ),
        params=(
            *_tile_params(),
            Param("EXP_BITS", 4, "element exponent bits E", 1, 7),
            Param("MAN_BITS", 3, "element fraction bits M (M = 0 is mase_bl_dot)", 1, 10),
            Param("BIAS_BITS", 8, "shared bias bits (two's complement)", 2, 8),
            _NUM_BLOCKS,
        ),
        streams=_streams("EL_WIDTH", with_bias=True),
        golden=dot.bmf_dot_beats,
        sources=("mase_dot_accumulator.sv", "mase_minifloat_unpack.sv", "mase_bmf_dot.sv"),
        derive=_bmf_derive,
    )
)


def _bl_derive(p):
    e, b = p["EXP_BITS"], p["BIAS_BITS"]
    term = 2 * ((1 << e) - 2) + 1
    block_sum = term + _clog2(p["BLOCK_K"]) + 1
    acc_bits = block_sum + 4 * dot.bias_hi(b) + 2 + _clog2(p["NUM_BLOCKS"])
    return {**_tile_derived(p, 1 + e, acc_bits), "OUT_LSB_EXP": dot.bl_out_lsb_exp(b)}


register(
    ModuleSpec(
        name="mase_bl_dot",
        family="dot",
        doc=(
            "Block-logarithm tile dot product, exact and multiplier-free (each product is one shifted bit); "
            "output acc * 2^OUT_LSB_EXP, OUT_LSB_EXP = 2 - 2*BIAS_HI."
        ),
        params=(
            *_tile_params(),
            Param("EXP_BITS", 7, "element exponent code bits E", 1, 7),
            Param("BIAS_BITS", 8, "shared bias bits (two's complement)", 2, 8),
            _NUM_BLOCKS,
        ),
        streams=_streams("EL_WIDTH", with_bias=True),
        golden=dot.bl_dot_beats,
        sources=("mase_dot_accumulator.sv", "mase_bl_dot.sv"),
        derive=_bl_derive,
    )
)


def _minifloat_derive(p):
    e, m = p["EXP_BITS"], p["MAN_BITS"]
    term = 2 * (m + 1) + 2 * ((1 << e) - 2)
    acc_bits = term + _clog2(p["BLOCK_K"]) + 1 + _clog2(p["NUM_BLOCKS"])
    return _tile_derived(p, 1 + e + m, acc_bits)


register(
    ModuleSpec(
        name="mase_minifloat_dot",
        family="dot",
        doc=(
            "Scalar minifloat (FP8 MiniFloat(4,3,7) baseline) tile dot product with an exact Kulisch "
            "accumulator; output acc * 2^(2 - 2*bias - 2*M) (golden.dot.minifloat_out_lsb_exp)."
        ),
        params=(
            *_tile_params(),
            Param("EXP_BITS", 4, "element exponent bits E", 1, 8),
            Param("MAN_BITS", 3, "element fraction bits M", 1, 10),
            _NUM_BLOCKS,
        ),
        streams=_streams("EL_WIDTH", with_bias=False),
        golden=dot.minifloat_dot_beats,
        sources=("mase_dot_accumulator.sv", "mase_minifloat_unpack.sv", "mase_minifloat_dot.sv"),
        derive=_minifloat_derive,
    )
)


def _fixed_derive(p):
    acc_bits = p["X_WIDTH"] + p["W_WIDTH"] + _clog2(p["BLOCK_K"] * p["NUM_BLOCKS"])
    return _tile_derived(p, p["X_WIDTH"], acc_bits)


register(
    ModuleSpec(
        name="mase_fixed_dot",
        family="dot",
        doc=(
            "Two's-complement fixed-point (int8 baseline) tile dot product, exact; "
            "output acc * 2^-(x_frac + w_frac) (golden.dot.fixed_out_lsb_exp)."
        ),
        params=(
            *_tile_params(),
            Param("X_WIDTH", 8, "x element bits (two's complement)", 2, 24),
            Param("W_WIDTH", 8, "w element bits (two's complement)", 2, 24),
            _NUM_BLOCKS,
        ),
        streams=_streams("X_WIDTH", with_bias=False, signed_elems=True, w_width="W_WIDTH"),
        golden=dot.fixed_dot_beats,
        sources=("mase_dot_accumulator.sv", "mase_fixed_dot.sv"),
        derive=_fixed_derive,
    )
)
