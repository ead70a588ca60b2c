"""Catalog entries of the dot products for the paper's format comparisons:
block minifloat (BMF), block logarithm (BL), fixed point and scalar minifloat (FP8).

All four stream tiles: each beat carries one block of x (``X_ROWS x BLOCK_K``
element codes) and one block of w (``W_ROWS x BLOCK_K``); ``NUM_BLOCKS`` beats
make one output beat of ``X_ROWS x W_ROWS`` sums. Every sum leaves as
``ACC_CHUNKS`` 32-bit chunks (little-endian, two's complement,
``mase_hwlib.golden.dot.from_chunks`` joins them).

BMF and BL sum their blocks in a bounded accumulator (``ACC_WIDTH``: -1 the
derived default, 0 exact, else at least ``TW + clog2(N+1)``; ``ACC_ROUND``: 0
truncate, 1 nearest-even; :mod:`mase_hwlib.golden.accumulate`); the tile's value is
``y_data * 2^y_exp``. Minifloat and fixed point have one common LSB, so their
integer sum is exact by construction (``ACC_WIDTH``: -1 / 0 the exact minimum, or
wider); its value is ``y_data * 2^out_lsb_exp``, the LSB depending on the element
bias / fraction bits, which the datapath does not (``minifloat_out_lsb_exp``,
``fixed_out_lsb_exp``).
"""

from __future__ import annotations

from mase_hwlib.catalog import Field, ModuleSpec, Param, Stream, register
from mase_hwlib.golden import dot
from mase_hwlib.golden.accumulate import clog2 as _clog2


def _tile_params() -> tuple[Param, ...]:
    return (
        Param("BLOCK_K", 16, "block extent along the reduction axis", 1, 64),
        Param("X_ROWS", 1, "rows of x per block (the block's second extent)", 1, 4),
        Param("W_ROWS", 1, "rows of w per block (the block's second extent)", 1, 4),
    )


_NUM_BLOCKS = Param("NUM_BLOCKS", 4, "beats per dot product (reduction length / BLOCK_K)", 1, 4096)

#: the bounded accumulator of the block formats
_BOUNDED = (
    Param("ACC_WIDTH", -1, "accumulator bits per lane: -1 the derived default (F = clog2(N)+2 fraction bits), "
          "0 exact (for verification), else at least TW + clog2(N+1)", -1, 4096),
    Param("ACC_ROUND", 1, "bits shifted out of the accumulator: 0 truncate (floor), 1 nearest-even", 0, 1),
)
#: the exact integer accumulator of the scalar formats
_EXACT = Param("ACC_WIDTH", -1, "accumulator bits per lane: -1 / 0 the exact minimum ACC_MIN, "
               "or wider (sign-extension only); narrower is refused", -1, 4096)


def _tile_derived(p, el_width: int, acc_bits: int) -> dict:
    lanes = p["X_ROWS"] * p["W_ROWS"]
    layout = dot.acc_layout(acc_bits)
    return {
        "EL_WIDTH": el_width,
        "X_ELEMS": p["X_ROWS"] * p["BLOCK_K"],
        "W_ELEMS": p["W_ROWS"] * p["BLOCK_K"],
        "LANES": lanes,
        "Y_LANES": lanes * layout["ACC_CHUNKS"],
        "ACC_BITS": acc_bits,
        **layout,
    }


def _exact_derived(module: str, p, el_width: int, acc_min: int) -> dict:
    """Scalar formats: ACC_WIDTH resolved against the exact minimum ACC_MIN."""
    width = dot.exact_int_acc_width(module, p["ACC_WIDTH"], acc_min)
    return {**_tile_derived(p, el_width, width), "ACC_WIDTH": width, "ACC_MIN": acc_min}


def _block_derived(module: str, p, el_width: int, man_bits: int) -> dict:
    """Block formats: the bounded accumulator's widths (golden.dot.block_acc)."""
    tw = dot.bmf_term_width(p["BLOCK_K"], p["EXP_BITS"], man_bits)
    acc = dot.block_acc(module, p["ACC_WIDTH"], tw, p["NUM_BLOCKS"], man_bits, p["BIAS_BITS"])
    return {**_tile_derived(p, el_width, acc["ACC_BITS"]), **acc}


def _streams(el_width: str, with_bias: bool, signed_elems: bool = False, w_width: str | None = None) -> tuple:
    def block(name, elems, width):
        fields = [Field("data", elems, width, signed=signed_elems)]
        if with_bias:
            fields.append(Field("bias", 1, "BIAS_BITS", signed=True))
        return Stream(name, "in", tuple(fields))

    if with_bias:
        y = Stream("y", "out", (Field("data", "Y_LANES", dot.CHUNK_BITS), Field("exp", 1, "EXP_WIDTH", signed=True)),
                   doc="sums as 32-bit chunks, value y_data * 2^y_exp")
    else:
        y = Stream("y", "out", (Field("data", "Y_LANES", dot.CHUNK_BITS),), doc="exact sums as 32-bit chunks")
    return (block("x", "X_ELEMS", el_width), block("w", "W_ELEMS", w_width or el_width), y)


_ACC_SOURCES = ("mase_bounded_align.sv", "mase_bounded_accumulator.sv", "mase_dot_accumulator.sv")


def _bmf_derive(p):
    return _block_derived("mase_bmf_dot", p, 1 + p["EXP_BITS"] + p["MAN_BITS"], p["MAN_BITS"])


register(
    ModuleSpec(
        name="mase_bmf_dot",
        family="dot",
        doc=(
            "Block-minifloat tile dot product: exact block sums S_b on LSB 2^(2 - beta_x - beta_w - 2M), "
            "summed across blocks in a bounded accumulator (ACC_WIDTH bits, ACC_ROUND; ACC_WIDTH=0 exact); "
            "output y_data * 2^y_exp."
        ),
        params=(
            *_tile_params(),
            Param("EXP_BITS", 4, "element exponent bits E", 1, 7),
            Param("MAN_BITS", 3, "element fraction bits M (M = 0 is mase_bl_dot)", 1, 10),
            Param("BIAS_BITS", 8, "shared bias bits (two's complement)", 2, 8),
            _NUM_BLOCKS,
            *_BOUNDED,
        ),
        streams=_streams("EL_WIDTH", with_bias=True),
        golden=dot.bmf_dot_beats,
        sources=(*_ACC_SOURCES, "mase_minifloat_unpack.sv", "mase_bmf_dot.sv"),
        derive=_bmf_derive,
    )
)


def _bl_derive(p):
    return _block_derived("mase_bl_dot", p, 1 + p["EXP_BITS"], 0)


register(
    ModuleSpec(
        name="mase_bl_dot",
        family="dot",
        doc=(
            "Block-logarithm tile dot product, multiplier-free (each product is one shifted bit): exact block "
            "sums on LSB 2^(2 - beta_x - beta_w), summed in a bounded accumulator (ACC_WIDTH bits, ACC_ROUND; "
            "ACC_WIDTH=0 exact); output y_data * 2^y_exp."
        ),
        params=(
            *_tile_params(),
            Param("EXP_BITS", 7, "element exponent code bits E", 1, 7),
            Param("BIAS_BITS", 8, "shared bias bits (two's complement)", 2, 8),
            _NUM_BLOCKS,
            *_BOUNDED,
        ),
        streams=_streams("EL_WIDTH", with_bias=True),
        golden=dot.bl_dot_beats,
        sources=(*_ACC_SOURCES, "mase_bl_dot.sv"),
        derive=_bl_derive,
    )
)


def _minifloat_derive(p):
    """ACC_MIN = TW + clog2(NUM_BLOCKS), TW = 2(M+1) + 2(2^E-2) + clog2(BLOCK_K) + 1 (the RTL header)."""
    e, m = p["EXP_BITS"], p["MAN_BITS"]
    acc_min = dot.bmf_term_width(p["BLOCK_K"], e, m) + _clog2(p["NUM_BLOCKS"])
    return _exact_derived("mase_minifloat_dot", p, 1 + e + m, acc_min)


register(
    ModuleSpec(
        name="mase_minifloat_dot",
        family="dot",
        doc=(
            "Scalar minifloat (FP8 MiniFloat(4,3,7) baseline) tile dot product: one common LSB, so the "
            "integer accumulator is exact by construction; output y_data * 2^(2 - 2*bias - 2*M) "
            "(golden.dot.minifloat_out_lsb_exp)."
        ),
        params=(
            *_tile_params(),
            Param("EXP_BITS", 4, "element exponent bits E", 1, 8),
            Param("MAN_BITS", 3, "element fraction bits M", 1, 10),
            _NUM_BLOCKS,
            _EXACT,
        ),
        streams=_streams("EL_WIDTH", with_bias=False),
        golden=dot.minifloat_dot_beats,
        sources=("mase_dot_accumulator.sv", "mase_minifloat_unpack.sv", "mase_minifloat_dot.sv"),
        derive=_minifloat_derive,
    )
)


def _fixed_derive(p):
    """ACC_MIN = X_WIDTH + W_WIDTH + clog2(BLOCK_K * NUM_BLOCKS) (the RTL header)."""
    acc_min = p["X_WIDTH"] + p["W_WIDTH"] + _clog2(p["BLOCK_K"] * p["NUM_BLOCKS"])
    return _exact_derived("mase_fixed_dot", p, p["X_WIDTH"], acc_min)


register(
    ModuleSpec(
        name="mase_fixed_dot",
        family="dot",
        doc=(
            "Two's-complement fixed-point (int8 baseline) tile dot product: one common LSB, so the "
            "integer accumulator is exact by construction; output y_data * 2^-(x_frac + w_frac) "
            "(golden.dot.fixed_out_lsb_exp)."
        ),
        params=(
            *_tile_params(),
            Param("X_WIDTH", 8, "x element bits (two's complement)", 2, 24),
            Param("W_WIDTH", 8, "w element bits (two's complement)", 2, 24),
            _NUM_BLOCKS,
            _EXACT,
        ),
        streams=_streams("X_WIDTH", with_bias=False, signed_elems=True, w_width="W_WIDTH"),
        golden=dot.fixed_dot_beats,
        sources=("mase_dot_accumulator.sv", "mase_fixed_dot.sv"),
        derive=_fixed_derive,
    )
)
