"""Catalog entries of the MXInt operators.

Every MXInt stream carries one block per beat: ``<s>_mant`` holds the block's
signed element integers (lane ``r*B0 + c`` = row ``r``, column ``c`` of the
tile, i.e. the "blocked axes last" order of ``mx_formats``), ``<s>_exp`` the
signed shared exponent. Each operator forms the exact result and re-normalises
it (``mase_mxint_normalize``: round half to even, saturate), so its output
equals ``mx_formats.quantize(exact, out_fmt, rounding="nearest_even")``.
"""

from __future__ import annotations

from mase_hwlib.catalog import Field, ModuleSpec, Param, Stream, register
from mase_hwlib.golden import mxint


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
_NORM = "mase_mxint_normalize.sv"


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
            sources=(_NORM, f"{_name}.sv"),
            derive=_unary_derive,
        )
    )


def _binary_derive(p):
    return {"BLOCK_SIZE": p["BLOCK_0"] * p["BLOCK_1"], **_widths(p, "A", "B", "OUT")}


for _name, _golden, _doc in (
    ("mase_mxint_mul", mxint.mul, "elementwise a*b, exact product re-normalised into MXInt(OUT_MAN, OUT_EXP)"),
    (
        "mase_mxint_add",
        mxint.add,
        "elementwise a+b, exact alignment to the smaller exponent, re-normalised into MXInt(OUT_MAN, OUT_EXP)",
    ),
):
    register(
        ModuleSpec(
            name=_name,
            family="mxint",
            doc=_doc + "; one block pair per cycle, latency 1.",
            params=(*_BLOCK, _man("A"), _exp("A"), _man("B"), _exp("B"), _man("OUT"), _exp("OUT")),
            streams=(
                _mx("a", "in", "BLOCK_SIZE", "A"),
                _mx("b", "in", "BLOCK_SIZE", "B"),
                _mx("y", "out", "BLOCK_SIZE", "OUT"),
            ),
            golden=_golden,
            sources=(_NORM, f"{_name}.sv"),
            derive=_binary_derive,
        )
    )
