"""Catalog entries of the FP4 microscaling dot products (issue 20): OCP MXFP4 and M2XFP
(activations extra mantissa x weights extra scale), on the same tiles.

Each beat carries one block of x (``X_ROWS`` rows of ``BLOCK_K`` FP4 codes, one E8M0 scale
code per row, for M2XFP ``BLOCK_K / SUBGROUP`` 2-bit metadata codes per row) and one of w;
``NUM_BLOCKS`` beats make one output beat of ``X_ROWS x W_ROWS`` lanes, each its own
bounded sum ``y_data * 2^y_exp`` (``ACC_CHUNKS`` 32-bit chunks, ``mase_hwlib.golden.dot.
from_chunks`` joins them) with a NaN flag ``y_nan``. The golden models and the stream layout
are in :mod:`mase_hwlib.golden.m2xfp` (``mx_beats`` turns an ``mx_formats.MXArray`` into a
stream).
"""

from __future__ import annotations

from mase_hwlib.catalog import Field, ModuleSpec, Param, Stream, register
from mase_hwlib.golden import dot, m2xfp

#: beats, accumulator and rounding: the knobs of every dot product family
_COMMON = (
    Param("X_ROWS", 1, "rows (blocks) of x per beat", 1, 8),
    Param("W_ROWS", 1, "rows (blocks) of w per beat", 1, 8),
    Param("NUM_BLOCKS", 4, "beats per dot product (reduction length / BLOCK_K)", 1, 4096),
    Param("ACC_WIDTH", -1, "accumulator bits per lane: -1 the derived default (F = clog2(N)+2 fraction bits), "
          "0 exact (for verification), else at least TW + clog2(N+1)", -1, 4096),
    Param("ACC_ROUND", 1, "bits shifted out of the accumulator: 0 truncate (floor), 1 nearest-even", 0, 1),
)

_SOURCES = ("mase_bounded_align.sv", "mase_bounded_accumulator.sv", "mase_tile_dot_pipeline.sv",
            "mase_scaled_block_accumulator.sv", "mase_fp4_decode.sv", "mase_fp4_dot_tree.sv")


def _derived(module: str, kind: str, p) -> dict:
    acc = m2xfp.dot_acc(module, kind, p["ACC_WIDTH"], p["BLOCK_K"], p["NUM_BLOCKS"])
    lanes = p["X_ROWS"] * p["W_ROWS"]
    layout = dot.acc_layout(acc["ACC_BITS"])
    return {
        **acc,
        **layout,
        "X_ELEMS": p["X_ROWS"] * p["BLOCK_K"],
        "W_ELEMS": p["W_ROWS"] * p["BLOCK_K"],
        "LANES": lanes,
        "Y_LANES": lanes * layout["ACC_CHUNKS"],
        # one beat per cycle; the first output handshake NUM_BLOCKS + 1 cycles after the first input one
        "CYCLES_PER_BLOCK": p["NUM_BLOCKS"],
        "LATENCY": p["NUM_BLOCKS"] + 1,
    }


def _operand(name: str, rows: str, elems: str, meta: str | None, doc: str) -> Stream:
    fields = [Field("data", elems, 4), Field("scale", rows, 8)]
    if meta:
        fields.append(Field("meta", meta, 2))
    return Stream(name, "in", tuple(fields), doc=doc)


_Y = Stream("y", "out", (Field("data", "Y_LANES", dot.CHUNK_BITS), Field("exp", "LANES", "EXP_WIDTH", signed=True),
                         Field("nan", "LANES", 1)),
            doc="lane i*W_ROWS + j: y_data * 2^y_exp (32-bit chunks), NaN when y_nan")


def _mxfp4_derive(p):
    return _derived("mase_mxfp4_dot", "mxfp4", p)


register(
    ModuleSpec(
        name="mase_mxfp4_dot",
        family="m2xfp",
        doc=(
            "OCP MXFP4 (E2M1 elements, E8M0 block scale) tile dot product: exact block-pair sums on LSB "
            "2^(s_x + s_w - 2), summed per lane in a bounded accumulator (ACC_WIDTH bits, ACC_ROUND; "
            "ACC_WIDTH=0 exact); output per lane y_data * 2^y_exp and y_nan. The baseline of mase_m2xfp_dot."
        ),
        params=(Param("BLOCK_K", 32, "elements per block along the reduction axis (OCP MX: 32)", 2, 64), *_COMMON),
        streams=(
            _operand("x", "X_ROWS", "X_ELEMS", None, "x blocks: FP4 codes (row, k), E8M0 code per row"),
            _operand("w", "W_ROWS", "W_ELEMS", None, "w blocks: FP4 codes (row, k), E8M0 code per row"),
            _Y,
        ),
        golden=m2xfp.mxfp4_dot_beats,
        sources=(*_SOURCES, "mase_mxfp4_dot.sv"),
        derive=_mxfp4_derive,
    )
)


def _m2xfp_derive(p):
    bk, sg = p["BLOCK_K"], p["SUBGROUP"]
    if bk % sg:
        raise ValueError(f"mase_m2xfp_dot: parameter SUBGROUP={sg} does not divide BLOCK_K={bk} "
                         f"(M2XFP subgroups tile the block; e.g. SUBGROUP=8 for BLOCK_K=32)")
    g = bk // sg
    return {**_derived("mase_m2xfp_dot", "m2xfp", p), "GROUPS": g, "X_META": p["X_ROWS"] * g,
            "W_META": p["W_ROWS"] * g}


register(
    ModuleSpec(
        name="mase_m2xfp_dot",
        family="m2xfp",
        doc=(
            "M2XFP tile dot product, activations x in M2XFP_EM (extra mantissa) and weights w in M2XFP_ES "
            "(extra scale): decode units, exact block-pair sums on LSB 2^(s_x + s_w - 6), summed per lane in "
            "a bounded accumulator (ACC_WIDTH bits, ACC_ROUND; ACC_WIDTH=0 exact); output per lane "
            "y_data * 2^y_exp and y_nan."
        ),
        params=(
            Param("BLOCK_K", 32, "elements per block along the reduction axis (M2XFP default 32)", 2, 64),
            Param("SUBGROUP", 8, "elements per 2-bit metadata code (>= 2, divides BLOCK_K)", 2, 64),
            *_COMMON,
        ),
        streams=(
            _operand("x", "X_ROWS", "X_ELEMS", "X_META", "activations (M2XFP_EM): FP4 codes, E8M0 code per row, "
                     "meta (row, subgroup)"),
            _operand("w", "W_ROWS", "W_ELEMS", "W_META", "weights (M2XFP_ES): FP4 codes, E8M0 code per row, "
                     "meta (row, subgroup)"),
            _Y,
        ),
        golden=m2xfp.m2xfp_dot_beats,
        sources=(*_SOURCES, "mase_m2xfp_em_decode.sv", "mase_m2xfp_dot.sv"),
        derive=_m2xfp_derive,
    )
)
