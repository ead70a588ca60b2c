"""Catalog entries of the fixed-point stream operators (the int8 / "MP int" baselines).

``Fixed(W, F)``: two's-complement integer ``v`` of ``W`` bits, value ``v * 2^-F``
(``mx_formats.Fixed``). A fixed-point stream beat carries lanes of ``v`` in
``<s>_data`` (lane ``i`` at bits ``[i*W +: W]``). Tiles are laid out as the MXInt
modules lay out blocks (lane ``r*B0 + c``), so the tile knobs of the linear
(BLOCK_K, X_ROWS, OUT_TILE) and matmul mean what they mean for MXInt. Every
operator forms its exact integer result and rounds it once, half to even, with
saturation (``mase_fixed_round``), so an output equals
``mx_formats.quantize(exact, Fixed(OUT_WIDTH, OUT_FRAC))``; see docs/fixed-point.md.
"""

from __future__ import annotations

from mase_hwlib.catalog import Field, ModuleSpec, Param, Stream, register
from mase_hwlib.catalog_tiles import (FIXED_TILE_DOT_STAGES, B_STREAM_DOC, HAS_BIAS, LINEAR_TILES, MATMUL_TILES,
                                      TILE_DOT_SOURCES, W_STREAM_DOC, bias_streamed, linear_rom_params,
                                      linear_tiling, matmul_cycles, matmul_lanes, weights_streamed)
from mase_hwlib.golden import fixed

#: Accumulator / working widths above this are refused (a mistyped FRAC, not a real design).
MAX_WORK_WIDTH = 160
_ROUND = "mase_fixed_round.sv"


def _width(prefix: str, default: int = 8) -> Param:
    return Param(f"{prefix}_WIDTH", default, f"{prefix.lower()} lane bits (two's complement)", 2, 32)


def _frac(prefix: str, default: int = 4) -> Param:
    return Param(f"{prefix}_FRAC", default, f"{prefix.lower()} fraction bits (value v * 2^-FRAC; may be negative)",
                 -64, 64)


def _fx(name: str, direction: str, lanes: str, prefix: str, doc: str = "", present=None) -> Stream:
    return Stream(name, direction, (Field("data", lanes, f"{prefix}_WIDTH", signed=True),),
                  doc=doc or f"{lanes} Fixed({prefix}_WIDTH, {prefix}_FRAC) lanes per beat", present=present)


def _check_work(module: str, what: str, width: int) -> None:
    if width > MAX_WORK_WIDTH:
        raise ValueError(f"{module}: {what} would be {width} bits (> {MAX_WORK_WIDTH}); the fraction bits of "
                         "the operands are too far apart")


def _round_width(module: str, in_width: int, in_frac: int, out_width: int, out_frac: int) -> None:
    shift = in_frac - out_frac
    _check_work(module, "the rounding stage", max(in_width + max(-shift, 0) + 1, shift + 2, out_width + 1))


# ---- elementwise ---------------------------------------------------------------------------------

_BLOCK = Param("BLOCK", 4, "lanes per beat", 1, 256)


def _unary_derive(name):
    def derive(p):
        _round_width(name, p["IN_WIDTH"], p["IN_FRAC"], p["OUT_WIDTH"], p["OUT_FRAC"])
        return {"LATENCY": 1}
    return derive


for _name, _golden, _doc, _sources in (
    ("mase_fixed_cast", fixed.cast, "Fixed(IN_WIDTH, IN_FRAC) -> Fixed(OUT_WIDTH, OUT_FRAC): re-round half to "
     "even, saturate", (_ROUND, "mase_fixed_cast.sv")),
    ("mase_fixed_relu", fixed.relu, "max(x, 0) per lane, rounded into Fixed(OUT_WIDTH, OUT_FRAC) (exact when the "
     "formats match)", (_ROUND, "mase_fixed_cast.sv", "mase_fixed_relu.sv")),
):
    register(ModuleSpec(
        name=_name, family="fixed", doc=_doc + "; BLOCK lanes per beat, one beat per cycle, latency 1.",
        params=(_BLOCK, _width("IN", 8), _frac("IN"), _width("OUT"), _frac("OUT")),
        streams=(_fx("x", "in", "BLOCK", "IN"), _fx("y", "out", "BLOCK", "OUT")),
        golden=_golden, sources=_sources, derive=_unary_derive(_name)))


def _add_derive(p):
    f = max(p["A_FRAC"], p["B_FRAC"])
    sum_w = max(p["A_WIDTH"] + f - p["A_FRAC"], p["B_WIDTH"] + f - p["B_FRAC"]) + 1
    _check_work("mase_fixed_add", "the exact sum", sum_w)
    _round_width("mase_fixed_add", sum_w, f, p["OUT_WIDTH"], p["OUT_FRAC"])
    return {"SUM_WIDTH": sum_w, "SUM_FRAC": f, "LATENCY": 1}


register(ModuleSpec(
    name="mase_fixed_add", family="fixed",
    doc=("elementwise a + b, both aligned exactly onto the finer grid, rounded half to even and saturated into "
         "Fixed(OUT_WIDTH, OUT_FRAC); BLOCK lane pairs per beat, one beat per cycle, latency 1."),
    params=(_BLOCK, _width("A"), _frac("A"), _width("B"), _frac("B"), _width("OUT"), _frac("OUT")),
    streams=(_fx("a", "in", "BLOCK", "A"), _fx("b", "in", "BLOCK", "B"), _fx("y", "out", "BLOCK", "OUT")),
    golden=fixed.add, sources=(_ROUND, "mase_fixed_add.sv"), derive=_add_derive))


# ---- dot products --------------------------------------------------------------------------------

def _matmul_derive(p):
    acc = fixed.dot_accumulator(p["A_WIDTH"], p["A_FRAC"], p["B_WIDTH"], p["B_FRAC"], p["K_TILES"] * p["BLOCK_K"])
    _check_work("mase_fixed_matmul", "the accumulator", acc["ACC_WIDTH"])
    _round_width("mase_fixed_matmul", acc["ACC_WIDTH"], acc["ACC_FRAC"], p["OUT_WIDTH"], p["OUT_FRAC"])
    return {
        **matmul_lanes(p),
        "ACC_WIDTH": acc["ACC_WIDTH"],
        "ACC_FRAC": acc["ACC_FRAC"],
        **matmul_cycles(p, FIXED_TILE_DOT_STAGES),
    }


register(ModuleSpec(
    name="mase_fixed_matmul", family="fixed",
    doc=("C = A @ B on fixed-point tiles from two activation streams: K_TILES tile pairs (A_ROWS x BLOCK_K, "
         "B^T B_COLS x BLOCK_K) per output tile (A_ROWS x B_COLS); exact integer K-sum (ACC_WIDTH bits), "
         "rounded once; one tile pair per cycle."),
    params=(
        *MATMUL_TILES,
        _width("A"), _frac("A"), _width("B"), _frac("B"), _width("OUT"), _frac("OUT"),
    ),
    streams=(_fx("a", "in", "A_LANES", "A"), _fx("b", "in", "B_LANES", "B"), _fx("y", "out", "OUT_LANES", "OUT")),
    golden=fixed.matmul,
    sources=(_ROUND, *TILE_DOT_SOURCES, "mase_fixed_tile_dot.sv", "mase_tile_pair_join.sv", "mase_fixed_matmul.sv"),
    derive=_matmul_derive))


def _linear_derive(p):
    tiling = linear_tiling("mase_fixed_linear", p, "mase_hwlib.rom_fixed.write_fixed_rom", FIXED_TILE_DOT_STAGES)
    acc = fixed.dot_accumulator(p["X_WIDTH"], p["X_FRAC"], p["W_WIDTH"], p["W_FRAC"], p["IN_TILES"] * p["BLOCK_K"],
                                p["HAS_BIAS"], p["B_WIDTH"], p["B_FRAC"])
    _check_work("mase_fixed_linear", "the accumulator", acc["ACC_WIDTH"])
    _round_width("mase_fixed_linear", acc["ACC_WIDTH"], acc["ACC_FRAC"], p["OUT_WIDTH"], p["OUT_FRAC"])
    return {**tiling, "ACC_WIDTH": acc["ACC_WIDTH"], "ACC_FRAC": acc["ACC_FRAC"]}


register(ModuleSpec(
    name="mase_fixed_linear", family="fixed",
    doc=("y = x W^T (+ b) on fixed-point tiles; weights streamed (w, b streams, order (o, k) per x group) or in "
         "ROMs from $readmemh files (mase_hwlib.rom_fixed); exact integer accumulation (ACC_WIDTH bits), bias "
         "aligned exactly, one rounding per output element."),
    params=(
        *LINEAR_TILES,
        _width("X"), _frac("X"), _width("W"), _frac("W"),
        HAS_BIAS,
        _width("B"), _frac("B"), _width("OUT"), _frac("OUT"),
        *linear_rom_params("mase_hwlib.rom_fixed"),
    ),
    streams=(
        _fx("x", "in", "X_LANES", "X"),
        _fx("w", "in", "W_LANES", "W", W_STREAM_DOC, present=weights_streamed),
        _fx("b", "in", "OUT_TILE", "B", B_STREAM_DOC, present=bias_streamed),
        _fx("y", "out", "OUT_LANES", "OUT"),
    ),
    golden=fixed.linear_module,
    sources=(_ROUND, *TILE_DOT_SOURCES, "mase_linear_sequencer.sv", "mase_fixed_tile_dot.sv", "mase_fixed_linear.sv"),
    derive=_linear_derive))


# ---- bridge from MXInt -------------------------------------------------------------------------

def _mx_to_fixed_derive(p):
    return {"BLOCK_SIZE": p["BLOCK_0"] * p["BLOCK_1"], "IN_MANT_WIDTH": p["IN_MAN"] + 1, "LATENCY": 1}


register(ModuleSpec(
    name="mase_mxint_block_to_fixed", family="fixed",
    doc=("MXInt(IN_MAN, IN_EXP) blocks -> Fixed(OUT_WIDTH, OUT_FRAC) lanes, the tile kept (one block per beat); "
         "round half to even, saturating = mx_formats.quantize of the MXInt values; latency 1."),
    params=(
        Param("BLOCK_0", 4, "block elements along the first blocked axis (tile columns)", 1, 64),
        Param("BLOCK_1", 1, "block elements along the second blocked axis (tile rows)", 1, 16),
        Param("IN_MAN", 7, "input mantissa bits (magnitude; element is sign + this)", 1, 23),
        Param("IN_EXP", 8, "input shared-exponent bits (two's complement)", 1, 8),
        _width("OUT"), _frac("OUT"),
    ),
    streams=(
        Stream("x", "in", (Field("mant", "BLOCK_SIZE", "IN_MANT_WIDTH", signed=True),
                           Field("exp", 1, "IN_EXP", signed=True)), doc="one MXInt block per beat"),
        _fx("y", "out", "BLOCK_SIZE", "OUT"),
    ),
    golden=fixed.mxint_to_fixed, sources=("mase_mxint_block_to_fixed.sv",), derive=_mx_to_fixed_derive))
