"""Catalog entries of the stream bridges a whole transformer layer needs between
the operators: fixed point -> MXInt, constant ROM sources, the MXInt
block-stream reorder buffer and the re-blocking buffer.

See docs/attention.md for how a BERT encoder layer uses them.
"""

from __future__ import annotations

from mase_hwlib.catalog import Field, ModuleSpec, Param, Stream, register
from mase_hwlib.golden import stream


def _mx_out(lanes: str, man: str, exp: str, name: str = "y") -> Stream:
    return Stream(
        name,
        "out",
        (Field("mant", lanes, "OUT_MANT_WIDTH", signed=True), Field("exp", 1, exp, signed=True)),
        doc=f"MXInt block per beat ({lanes} elements, {man}+1-bit signed mantissas, {exp}-bit exponent)",
    )


def _fixed_to_mxint_derive(p):
    if p["IN_SIGNED"] and p["IN_WIDTH"] < 2:
        raise ValueError("mase_fixed_to_mxint: a signed input needs IN_WIDTH >= 2")
    return {"LANES": p["BLOCK_0"] * p["BLOCK_1"], "OUT_MANT_WIDTH": p["OUT_MAN"] + 1}


register(
    ModuleSpec(
        name="mase_fixed_to_mxint",
        family="stream",
        doc=(
            "Fixed-point lanes (IN_WIDTH bits, IN_FRAC fraction bits, signed or unsigned; BLOCK_0 per beat) "
            "-> MXInt (BLOCK_0, BLOCK_1) blocks, round half to even, saturating = mx_formats.quantize; "
            "BLOCK_1 > 1 pairs beat c of BLOCK_1 consecutive rows of ROW_BEATS beats (row buffer)."
        ),
        params=(
            Param("BLOCK_0", 4, "elements per input beat = block columns", 1, 64),
            Param("BLOCK_1", 1, "tensor rows per block (block rows)", 1, 16),
            Param("ROW_BEATS", 1, "input beats per tensor row (used when BLOCK_1 > 1)", 1, 4096),
            Param("IN_WIDTH", 16, "bits per input lane (port codes)", 1, 40),
            Param("IN_FRAC", 8, "fraction bits of the input lanes", 0, 64),
            Param("IN_SIGNED", 1, "1: two's complement input lanes, 0: unsigned", 0, 1),
            Param("OUT_MAN", 7, "output mantissa bits (magnitude; element is sign + this)", 1, 23),
            Param("OUT_EXP", 8, "output shared-exponent bits (two's complement)", 1, 8),
        ),
        streams=(
            Stream("x", "in", (Field("data", "BLOCK_0", "IN_WIDTH"),),
                   doc="fixed-point lanes as IN_WIDTH-bit port codes (two's complement codes when IN_SIGNED)"),
            _mx_out("LANES", "OUT_MAN", "OUT_EXP"),
        ),
        golden=stream.fixed_to_mxint,
        sources=("mase_mxint_round_lane.sv", "mase_mxint_normalize.sv", "mase_fixed_to_mxint.sv"),
        derive=_fixed_to_mxint_derive,
    )
)


def _rom_source_derive(p):
    return {"OUT_MANT_WIDTH": p["MAN"] + 1}


register(
    ModuleSpec(
        name="mase_mxint_rom_source",
        family="stream",
        doc=(
            "Constant MXInt tensor from a $readmemh ROM (mase_hwlib.rom): REPEAT passes (0 = forever) over "
            "DEPTH words, each word HOLD beats in a row; one beat per cycle, registered output."
        ),
        params=(
            Param("LANES", 4, "elements per block (one block per beat)", 1, 1024),
            Param("MAN", 7, "mantissa bits (magnitude; element is sign + this)", 1, 23),
            Param("EXP", 8, "shared-exponent bits (two's complement)", 1, 8),
            Param("DEPTH", 2, "words in the ROM", 1, 1 << 20),
            Param("HOLD", 1, "consecutive beats per word", 1, 1 << 16),
            Param("REPEAT", 0, "passes over the ROM; 0 = forever", 0, 1 << 20),
            Param("ROM_FILE", "", "$readmemh image (mase_hwlib.rom.write_mx_rom)", kind="str"),
        ),
        streams=(_mx_out("LANES", "MAN", "EXP"),),
        golden=stream.rom_source,
        sources=("mase_mxint_rom_source.sv",),
        derive=_rom_source_derive,
    )
)


def _reblock_derive(p):
    rows, cols = p["ROWS"], p["COLS"]
    for b, axis, extent in (("IN_B1", "ROWS", rows), ("OUT_B1", "ROWS", rows),
                            ("IN_B0", "COLS", cols), ("OUT_B0", "COLS", cols)):
        if extent % p[b]:
            raise ValueError(f"mase_mxint_reblock: {axis}={extent} is not a multiple of {b}={p[b]}")
    if rows * cols < 2:
        raise ValueError("mase_mxint_reblock: a band needs at least two elements (ROWS*COLS >= 2)")
    in_tiles = (rows // p["IN_B1"]) * (cols // p["IN_B0"])
    out_tiles = (rows // p["OUT_B1"]) * (cols // p["OUT_B0"])
    return {
        "IN_LANES": p["IN_B0"] * p["IN_B1"],
        "OUT_LANES": p["OUT_B0"] * p["OUT_B1"],
        "IN_MANT_WIDTH": p["IN_MAN"] + 1,
        "OUT_MANT_WIDTH": p["OUT_MAN"] + 1,
        "IN_TILES": in_tiles,
        "OUT_TILES": out_tiles,
        # one bank: the band fills, then drains; two banks: they overlap
        "CYCLES_PER_BAND": in_tiles + out_tiles if p["BANKS"] == 1 else max(in_tiles, out_tiles),
    }


register(
    ModuleSpec(
        name="mase_mxint_reblock",
        family="stream",
        doc=(
            "Changes the MXInt block shape over bands of ROWS x COLS elements: IN_B1 x IN_B0 blocks in, "
            "OUT_B1 x OUT_B0 blocks out (row-major over the band; lanes optionally column-major), each "
            "re-rounded once from the exact inputs (= quantize(dequantize(x), new format)). One or two banks."
        ),
        params=(
            Param("ROWS", 2, "band rows (a multiple of IN_B1 and OUT_B1)", 1, 64),
            Param("COLS", 8, "band columns (a multiple of IN_B0 and OUT_B0)", 1, 1024),
            Param("IN_B0", 4, "input block columns", 1, 64),
            Param("IN_B1", 2, "input block rows", 1, 64),
            Param("OUT_B0", 2, "output block columns", 1, 64),
            Param("OUT_B1", 2, "output block rows", 1, 64),
            Param("OUT_COL_MAJOR", 0, "1: output lanes column-major (c*OUT_B1 + r) inside the block", 0, 1),
            Param("IN_MAN", 7, "input mantissa bits (magnitude)", 1, 23),
            Param("IN_EXP", 8, "input shared-exponent bits", 1, 8),
            Param("OUT_MAN", 7, "output mantissa bits (magnitude)", 1, 23),
            Param("OUT_EXP", 8, "output shared-exponent bits", 1, 8),
            Param("BANKS", 1, "1: fill a band, then drain it; 2: the next band fills while one drains", 1, 2),
        ),
        streams=(
            Stream("x", "in", (Field("mant", "IN_LANES", "IN_MANT_WIDTH", signed=True),
                               Field("exp", 1, "IN_EXP", signed=True)), doc="IN_B1 x IN_B0 blocks"),
            _mx_out("OUT_LANES", "OUT_MAN", "OUT_EXP"),
        ),
        golden=stream.reblock,
        sources=("mase_mxint_round_lane.sv", "mase_mxint_normalize_lanes.sv", "mase_mxint_reblock.sv"),
        derive=_reblock_derive,
    )
)


def _replay_derive(p):
    if p["FRAME_COLS"] % p["GROUPS"]:
        raise ValueError(f"mase_mxint_replay: FRAME_COLS={p['FRAME_COLS']} is not a multiple of GROUPS={p['GROUPS']}")
    if p["LANES"] % p["TILE_COLS"]:
        raise ValueError(f"mase_mxint_replay: LANES={p['LANES']} is not a multiple of TILE_COLS={p['TILE_COLS']}")
    frame = p["FRAME_ROWS"] * p["FRAME_COLS"]
    return {
        "MANT_WIDTH": p["MAN"] + 1,
        "OUT_MANT_WIDTH": p["MAN"] + 1,
        "FRAME": frame,
        "TILE_ROWS": p["LANES"] // p["TILE_COLS"],
        "OUT_PER_FRAME": frame * p["REPEAT_INNER"] * p["REPEAT_OUTER"],
    }


register(
    ModuleSpec(
        name="mase_mxint_replay",
        family="stream",
        doc=(
            "Block-stream reorder buffer: frames of FRAME_ROWS x FRAME_COLS MXInt blocks (row-major in) "
            "sent REPEAT_OUTER x (GROUPS column groups x REPEAT_INNER passes, row- or column-major), "
            "lanes optionally transposed; two banks, one block per cycle."
        ),
        params=(
            Param("LANES", 4, "elements per block", 1, 1024),
            Param("MAN", 7, "mantissa bits (magnitude; element is sign + this)", 1, 23),
            Param("EXP", 8, "shared-exponent bits (two's complement)", 1, 8),
            Param("FRAME_ROWS", 2, "block rows per frame", 1, 4096),
            Param("FRAME_COLS", 2, "block columns per frame", 1, 4096),
            Param("GROUPS", 1, "column groups (heads); FRAME_COLS is a multiple", 1, 256),
            Param("COL_MAJOR", 0, "1: column-major inside a group", 0, 1),
            Param("REPEAT_INNER", 1, "passes over each group, back to back", 1, 65536),
            Param("REPEAT_OUTER", 1, "passes over the whole group sequence", 1, 65536),
            Param("TRANSPOSE_LANES", 0, "1: each TILE_ROWS x TILE_COLS block leaves transposed", 0, 1),
            Param("TILE_COLS", 1, "lanes per tile row (for TRANSPOSE_LANES)", 1, 1024),
        ),
        streams=(
            Stream("x", "in", (Field("mant", "LANES", "MANT_WIDTH", signed=True),
                               Field("exp", 1, "EXP", signed=True)), doc="frame blocks, row-major"),
            _mx_out("LANES", "MAN", "EXP"),
        ),
        golden=stream.replay,
        sources=("mase_mxint_replay.sv",),
        derive=_replay_derive,
    )
)
