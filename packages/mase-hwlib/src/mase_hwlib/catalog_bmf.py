"""Catalog entries of the block-minifloat (BMF) and block-logarithm (BL) linear layers.

``mase_bmf_linear`` / ``mase_bl_linear`` tile and sequence exactly as ``mase_mxint_linear``
(:data:`mase_hwlib.catalog_tiles.LINEAR_TILES`, ``mase_linear_sequencer``, weights streamed or in
ROM): every stream carries one block per beat, ``<s>_data`` the element codes ``mx_formats``
stores (lane ``r*B0 + c``), ``<s>_bias`` the block's shared bias (two's complement). x, W and
the bias share one element format (``EXP_BITS``, ``MAN_BITS`` (BMF), ``BIAS_BITS``). The tile
pairs' exact products are summed in the bounded accumulator (``ACC_WIDTH``, ``ACC_ROUND``;
:mod:`mase_hwlib.golden.accumulate`, exact with ``ACC_WIDTH = 0``), and ``OUT_GROUP``
consecutive output tiles are rounded into one output block exactly as ``mx_formats.quantize``
rounds the accumulated sums (:mod:`mase_hwlib.golden.bmf`, docs/block-formats.md).
"""

from __future__ import annotations

from mase_hwlib.catalog import Field, ModuleSpec, Param, Stream, register
from mase_hwlib.catalog_tiles import (B_STREAM_DOC, HAS_BIAS, LINEAR_TILES, TILE_DOT_SOURCES, W_STREAM_DOC,
                                      bias_streamed, linear_rom_params, linear_tiling, weights_streamed)
from mase_hwlib.golden import bmf

#: registers of mase_bmf_tile_dot after its accumulator: the finished sum, the quantizer's compact
#: tile (normalised, with its maximum) and its output
BMF_TILE_DOT_STAGES = 3

_ACC = (
    Param("ACC_WIDTH", -1, "accumulator bits per lane: -1 the derived default (F = clog2(N)+2 fraction bits), "
          "0 exact (for verification), else at least TW + clog2(N+1)", -1, 4096),
    Param("ACC_ROUND", 1, "bits shifted out of the accumulator: 0 truncate (floor), 1 nearest-even", 0, 1),
)
_SOURCES = ("mase_bounded_align.sv", "mase_bounded_accumulator.sv", *TILE_DOT_SOURCES, "mase_minifloat_unpack.sv",
            "mase_bmf_quantize.sv", "mase_bmf_tile_dot.sv", "mase_linear_sequencer.sv")


def _derive(module: str, p, log: bool) -> dict:
    man = 0 if log else p["MAN_BITS"]
    out_man = 0 if log else p["OUT_MAN_BITS"]
    if p["OUT_TILES"] % p["OUT_GROUP"]:
        raise ValueError(f"{module}: OUT_TILES={p['OUT_TILES']} is not a multiple of OUT_GROUP={p['OUT_GROUP']} "
                         "(an output block is OUT_GROUP whole output tiles)")
    tiling = linear_tiling(module, p, "mase_hwlib.rom_bmf.write_bmf_rom", BMF_TILE_DOT_STAGES)
    group = p["OUT_GROUP"]
    return {
        **tiling,
        "EL_WIDTH": 1 + p["EXP_BITS"] + man,
        "OUT_EL_WIDTH": 1 + p["OUT_EXP_BITS"] + out_man,
        "OUT_BLOCK_LANES": p["X_ROWS"] * p["OUT_TILE"] * group,
        "OUT_BLOCK_COLS": p["OUT_TILE"] * group,
        # an output block leaves every OUT_GROUP output tiles; the first after the first x group
        # (IN_TILES cycles) and OUT_GROUP * IN_TILES tile pairs, plus the engine's registers
        "CYCLES_PER_BLOCK": group * p["IN_TILES"],
        "LATENCY": (1 + group) * p["IN_TILES"] + BMF_TILE_DOT_STAGES,
        **bmf.acc_config(module, p, man),
    }


def _streams(log: bool) -> tuple:
    def block(name, direction, lanes, el, bias, doc, present=None):
        fields = (Field("data", lanes, el), Field("bias", 1, bias, signed=True))
        return Stream(name, direction, fields, doc, present=present)

    kind = "BL" if log else "BMF"
    return (
        block("x", "in", "X_LANES", "EL_WIDTH", "BIAS_BITS", f"x tile: X_ROWS x BLOCK_K {kind} codes, one bias"),
        block("w", "in", "W_LANES", "EL_WIDTH", "BIAS_BITS", W_STREAM_DOC, weights_streamed),
        block("b", "in", "OUT_TILE", "EL_WIDTH", "BIAS_BITS", B_STREAM_DOC, bias_streamed),
        block("y", "out", "OUT_BLOCK_LANES", "OUT_EL_WIDTH", "OUT_BIAS_BITS",
              f"output block: X_ROWS x OUT_GROUP*OUT_TILE {kind} codes, one bias"),
    )


register(
    ModuleSpec(
        name="mase_bmf_linear",
        family="bmf",
        doc=(
            "y = x W^T (+ b) on block-minifloat tiles; weights streamed (w, b streams, order (o, k) per x "
            "group) or in ROMs; exact tile products, bounded accumulation (ACC_WIDTH, ACC_ROUND; 0 exact), "
            "OUT_GROUP output tiles rounded into one BMF block as mx_formats.quantize rounds them."
        ),
        params=(
            *LINEAR_TILES,
            Param("EXP_BITS", 4, "x / W / bias element exponent bits E", 1, 7),
            Param("MAN_BITS", 3, "x / W / bias element fraction bits M", 1, 10),
            Param("BIAS_BITS", 8, "x / W / bias shared-bias bits (two's complement)", 2, 8),
            HAS_BIAS,
            Param("OUT_EXP_BITS", 4, "output element exponent bits", 1, 7),
            Param("OUT_MAN_BITS", 3, "output element fraction bits", 1, 10),
            Param("OUT_BIAS_BITS", 8, "output shared-bias bits", 2, 8),
            Param("OUT_GROUP", 1, "output tiles per output block (along out_features; divides OUT_TILES)", 1, 64),
            *linear_rom_params("mase_hwlib.rom_bmf"),
            *_ACC,
        ),
        streams=_streams(False),
        golden=bmf.bmf_linear_module,
        sources=(*_SOURCES, "mase_bmf_linear.sv"),
        derive=lambda p: _derive("mase_bmf_linear", p, False),
    )
)

register(
    ModuleSpec(
        name="mase_bl_linear",
        family="bmf",
        doc=(
            "y = x W^T (+ b) on block-logarithm tiles (multiplier-free products); weights streamed or in ROMs; "
            "bounded accumulation (ACC_WIDTH, ACC_ROUND; 0 exact), OUT_GROUP output tiles rounded into one BL "
            "block as mx_formats.quantize rounds them."
        ),
        params=(
            *LINEAR_TILES,
            Param("EXP_BITS", 7, "x / W / bias element exponent code bits E", 1, 7),
            Param("BIAS_BITS", 8, "x / W / bias shared-bias bits (two's complement)", 2, 8),
            HAS_BIAS,
            Param("OUT_EXP_BITS", 7, "output element exponent code bits", 1, 7),
            Param("OUT_BIAS_BITS", 8, "output shared-bias bits", 2, 8),
            Param("OUT_GROUP", 1, "output tiles per output block (along out_features; divides OUT_TILES)", 1, 64),
            *linear_rom_params("mase_hwlib.rom_bmf"),
            *_ACC,
        ),
        streams=_streams(True),
        golden=bmf.bl_linear_module,
        sources=(*_SOURCES, "mase_bl_linear.sv"),
        derive=lambda p: _derive("mase_bl_linear", p, True),
    )
)
