"""Catalog entries of the MXInt operators.

Every MXInt stream carries one block per beat: ``<s>_mant`` holds the block's
signed element integers (lane ``r*B0 + c`` = row ``r``, column ``c`` of the
tile, i.e. the "blocked axes last" order of ``mx_formats``), ``<s>_exp`` the
signed shared exponent. Each operator forms its result and re-normalises it
(``mase_mxint_normalize``: round half to even, saturate). cast, relu and mul
are exact before that rounding, so their output equals
``mx_formats.quantize(exact, out_fmt, rounding="nearest_even")``; add, matmul
and linear sum in a bounded accumulator (``ACC_WIDTH``, ``ACC_ROUND``; see
:mod:`mase_hwlib.golden.accumulate` and docs/bounded-accumulation.md), exact
with ``ACC_WIDTH = 0``.
"""

from __future__ import annotations

from mase_hwlib.catalog import Field, ModuleSpec, Param, Stream, register
from mase_hwlib.catalog_tiles import (MXINT_TILE_DOT_STAGES, B_STREAM_DOC, HAS_BIAS, LINEAR_TILES, MATMUL_TILES,
                                      TILE_DOT_SOURCES, W_STREAM_DOC, bias_streamed, linear_rom_params,
                                      linear_tiling, matmul_cycles, matmul_lanes, weights_streamed)
from mase_hwlib.golden import accumulate, mxint


def _man(prefix: str, default: int = 7) -> Param:
    return Param(f"{prefix}_MAN", default, f"{prefix.lower()} mantissa bits (magnitude; element is sign + this)", 1, 23)


def _exp(prefix: str, default: int = 8) -> Param:
    return Param(f"{prefix}_EXP", default, f"{prefix.lower()} shared-exponent bits (two's complement)", 1, 8)


def _mx(name: str, direction: str, lanes: str, prefix: str) -> Stream:
    return Stream(
        name,
        direction,
        (Field("mant", lanes, f"{prefix}_MANT_WIDTH", signed=True), Field("exp", 1, f"{prefix}_EXP", signed=True)),
        doc=f"MXInt block per beat ({lanes} elements, {prefix}_MAN+1-bit signed mantissas, {prefix}_EXP-bit exponent)",
    )


def _widths(p, *prefixes) -> dict:
    return {f"{x}_MANT_WIDTH": p[f"{x}_MAN"] + 1 for x in prefixes}


_BLOCK = (
    Param("BLOCK_0", 4, "block elements along the first blocked axis (tile columns)", 1, 64),
    Param("BLOCK_1", 1, "block elements along the second blocked axis (tile rows)", 1, 16),
)
_NORM = ("mase_mxint_round_lane.sv", "mase_mxint_normalize.sv")
_ALIGN = "mase_bounded_align.sv"
_DOT = (*_NORM, _ALIGN, "mase_bounded_accumulator.sv", *TILE_DOT_SOURCES, "mase_mxint_tile_dot.sv")

_ACC = (
    Param("ACC_WIDTH", -1, "accumulator bits per lane: -1 the derived default (F = clog2(N)+2 fraction bits), "
          "0 exact (Kulisch, for verification), else at least TW + clog2(N+1)", -1, 1024),
    Param("ACC_ROUND", 1, "bits shifted out of the accumulator: 0 truncate (floor), 1 nearest-even", 0, 1),
)


def _emax(p, prefix):
    return (1 << (p[f"{prefix}_EXP"] - 1)) - 1


def _acc_derive(module, p, term_width, n_terms, lsb_range):
    """The bounded accumulator's values (:func:`accumulate.acc_config`): ACC_WIDTH resolved
    (-1 -> the derived default; a width below TW + clog2(N+1) is refused), its term width TW,
    term count N, built width and fraction bits F (``lsb_range`` = (min, max) LSB exponent:
    the exact mode's gap)."""
    return accumulate.acc_config(module, p["ACC_WIDTH"], term_width, n_terms, *lsb_range)


def _dot_acc(module, p, a, b, k_tiles, block_k, bias=None):
    """_acc_derive of mase_mxint_tile_dot: tile products of a x b (plus a bias term)."""
    tw = p[f"{a}_MAN"] + p[f"{b}_MAN"] + accumulate.clog2(block_k + 1) + 2
    off = p[f"{a}_MAN"] - 1 + p[f"{b}_MAN"] - 1
    span = _emax(p, a) + _emax(p, b)
    lo, hi = -span - off, span - off
    if bias:
        tw = max(tw, p[f"{bias}_MAN"] + 1)
        lo = min(lo, -_emax(p, bias) - (p[f"{bias}_MAN"] - 1))
        hi = max(hi, _emax(p, bias) - (p[f"{bias}_MAN"] - 1))
    return _acc_derive(module, p, tw, k_tiles + (1 if bias else 0), (lo, hi))


def _unary_derive(p):
    return {"BLOCK_SIZE": p["BLOCK_0"] * p["BLOCK_1"], **_widths(p, "IN", "OUT")}


for _name, _golden, _doc in (
    ("mase_mxint_cast", mxint.cast, "MXInt(IN_MAN, IN_EXP) -> MXInt(OUT_MAN, OUT_EXP): re-round, re-normalise"),
    ("mase_mxint_relu", mxint.relu, "max(x, 0) per element, re-normalised into MXInt(OUT_MAN, OUT_EXP)"),
):
    register(
        ModuleSpec(
            name=_name,
            family="mxint",
            doc=_doc + "; one block per cycle, latency 1.",
            params=(*_BLOCK, _man("IN"), _exp("IN"), _man("OUT"), _exp("OUT")),
            streams=(_mx("x", "in", "BLOCK_SIZE", "IN"), _mx("y", "out", "BLOCK_SIZE", "OUT")),
            golden=_golden,
            sources=(*_NORM, f"{_name}.sv"),
            derive=_unary_derive,
        )
    )


def _binary_derive(p):
    return {"BLOCK_SIZE": p["BLOCK_0"] * p["BLOCK_1"], **_widths(p, "A", "B", "OUT")}


def _add_derive(p):
    """add is a two-term bounded sum: TW = max(A_MAN, B_MAN) + 1, N = 2."""
    lo = min(-_emax(p, x) - (p[f"{x}_MAN"] - 1) for x in "AB")
    hi = max(_emax(p, x) - (p[f"{x}_MAN"] - 1) for x in "AB")
    tw = max(p["A_MAN"], p["B_MAN"]) + 1
    return {**_binary_derive(p), **_acc_derive("mase_mxint_add", p, tw, 2, (lo, hi))}


_BINARY_PARAMS = (*_BLOCK, _man("A"), _exp("A"), _man("B"), _exp("B"), _man("OUT"), _exp("OUT"))
for _name, _golden, _doc, _extra, _derive, _sources in (
    ("mase_mxint_mul", mxint.mul, "elementwise a*b, exact product re-normalised into MXInt(OUT_MAN, OUT_EXP)",
     (), _binary_derive, (*_NORM, "mase_mxint_mul.sv")),
    (
        "mase_mxint_add",
        mxint.add,
        "elementwise a+b, aligned to the larger exponent in ACC_WIDTH bits (shifted-out bits rounded by "
        "ACC_ROUND; ACC_WIDTH=0 exact), re-normalised into MXInt(OUT_MAN, OUT_EXP)",
        _ACC, _add_derive, (*_NORM, _ALIGN, "mase_mxint_add.sv"),
    ),
):
    register(
        ModuleSpec(
            name=_name,
            family="mxint",
            doc=_doc + "; one block pair per cycle, latency 1.",
            params=(*_BINARY_PARAMS, *_extra),
            streams=(
                _mx("a", "in", "BLOCK_SIZE", "A"),
                _mx("b", "in", "BLOCK_SIZE", "B"),
                _mx("y", "out", "BLOCK_SIZE", "OUT"),
            ),
            golden=_golden,
            sources=_sources,
            derive=_derive,
        )
    )


def _matmul_derive(p):
    return {
        **matmul_lanes(p),
        **matmul_cycles(p, MXINT_TILE_DOT_STAGES),
        **_widths(p, "A", "B", "OUT"),
        **_dot_acc("mase_mxint_matmul", p, "A", "B", p["K_TILES"], p["BLOCK_K"]),
    }


register(
    ModuleSpec(
        name="mase_mxint_matmul",
        family="mxint",
        doc=(
            "C = A @ B on MXInt tiles from two activation streams: K_TILES tile pairs (A_ROWS x BLOCK_K, "
            "B^T B_COLS x BLOCK_K) per output tile (A_ROWS x B_COLS); K-sum in a bounded accumulator "
            "(ACC_WIDTH bits per lane, ACC_ROUND; ACC_WIDTH=0 exact Kulisch), rounded once; "
            "one tile pair per cycle."
        ),
        params=(
            *MATMUL_TILES,
            _man("A"), _exp("A"), _man("B"), _exp("B"), _man("OUT"), _exp("OUT"), *_ACC,
        ),
        streams=(
            _mx("a", "in", "A_LANES", "A"),
            _mx("b", "in", "B_LANES", "B"),
            _mx("y", "out", "OUT_LANES", "OUT"),
        ),
        golden=mxint.matmul,
        sources=(*_DOT, "mase_tile_pair_join.sv", "mase_mxint_matmul.sv"),
        derive=_matmul_derive,
    )
)


def _linear_derive(p):
    return {
        **linear_tiling("mase_mxint_linear", p, "mase_hwlib.rom.write_mx_rom", MXINT_TILE_DOT_STAGES),
        **_widths(p, "X", "W", "BIAS", "OUT"),
        **_dot_acc("mase_mxint_linear", p, "X", "W", p["IN_TILES"], p["BLOCK_K"], "BIAS" if p["HAS_BIAS"] else None),
    }


register(
    ModuleSpec(
        name="mase_mxint_linear",
        family="mxint",
        doc=(
            "y = x W^T (+ b) on MXInt tiles; weights streamed (w, b streams, order (o, k) per x group) "
            "or in ROMs from $readmemh files; bounded accumulation (ACC_WIDTH bits per lane, ACC_ROUND; "
            "ACC_WIDTH=0 exact Kulisch), one rounding per output tile."
        ),
        params=(
            *LINEAR_TILES,
            _man("X"), _exp("X"), _man("W"), _exp("W"),
            HAS_BIAS,
            _man("BIAS"), _exp("BIAS"), _man("OUT"), _exp("OUT"),
            *linear_rom_params("mase_hwlib.rom"),
            *_ACC,
        ),
        streams=(
            _mx("x", "in", "X_LANES", "X"),
            Stream("w", "in", _mx("w", "in", "W_LANES", "W").fields, W_STREAM_DOC, present=weights_streamed),
            Stream("b", "in", _mx("b", "in", "OUT_TILE", "BIAS").fields, B_STREAM_DOC, present=bias_streamed),
            _mx("y", "out", "OUT_LANES", "OUT"),
        ),
        golden=mxint.linear_module,
        sources=(*_DOT, "mase_linear_sequencer.sv", "mase_mxint_linear.sv"),
        derive=_linear_derive,
    )
)
