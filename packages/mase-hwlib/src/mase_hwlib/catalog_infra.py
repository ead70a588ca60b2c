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

register(
    ModuleSpec(
        name="mase_fifo",
        family="infra",
        doc="Synchronous FIFO of DEPTH beats with a registered output; one write and one read per cycle.",
        params=(_WIDTH, Param("DEPTH", 4, "beats of storage", 2, 4096)),
        streams=(_data("x", "in"), _data("y", "out")),
        golden=infra.passthrough,
        sources=("mase_fifo.sv",),
    )
)

register(
    ModuleSpec(
        name="mase_fork2",
        family="infra",
        doc="Eager fork: every input beat goes to both outputs a and b, each taking it independently.",
        params=(_WIDTH,),
        streams=(_data("x", "in"), _data("a", "out"), _data("b", "out")),
        golden=infra.fork2,
        sources=("mase_fork2.sv",),
    )
)

register(
    ModuleSpec(
        name="mase_join2",
        family="infra",
        doc="Join: one output beat {b, a} per pair of input beats; both inputs move together.",
        params=(_WIDTH,),
        streams=(_data("a", "in"), _data("b", "in"), _data("y", "out", lanes=2)),
        golden=infra.join2,
        sources=("mase_join2.sv",),
    )
)

register(
    ModuleSpec(
        name="mase_transpose",
        family="infra",
        doc=(
            "Reorder buffer: frames of ROWS x COLS tiles in row-major order leave in column-major "
            "order; two banks, one beat per cycle in steady state, latency one frame + 1."
        ),
        params=(
            _WIDTH,
            Param("ROWS", 2, "tile rows per frame", 1, 256),
            Param("COLS", 3, "tile columns per frame", 1, 256),
        ),
        streams=(_data("x", "in"), _data("y", "out")),
        golden=infra.transpose,
        sources=("mase_transpose.sv",),
        derive=lambda p: {"FRAME": p["ROWS"] * p["COLS"]},
    )
)
