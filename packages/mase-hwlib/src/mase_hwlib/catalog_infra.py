"""Catalog entries of the stream infrastructure: skid buffer, FIFO, fork, join, transpose."""

from __future__ import annotations

from mase_hwlib.catalog import Field, ModuleSpec, Param, Stream, register
from mase_hwlib.golden import infra

_WIDTH = Param("DATA_WIDTH", 8, "bits per beat", 1, 63)


def _data(name: str, direction: str, lanes: int | str = 1, width: str = "DATA_WIDTH") -> Stream:
    return Stream(name, direction, (Field("data", lanes, width),))


register(
    ModuleSpec(
        name="mase_skid_buffer",
        family="infra",
        doc="Register slice with a skid register: all paths registered, one beat per cycle, latency 1.",
        params=(_WIDTH,),
        streams=(_data("x", "in"), _data("y", "out")),
        golden=infra.passthrough,
        sources=("mase_skid_buffer.sv",),
    )
)
