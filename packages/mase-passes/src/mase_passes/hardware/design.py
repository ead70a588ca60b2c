"""The mapped design's data types: stream values, stages, the design, the mapping error, and the
small helpers every mapping rule shares (names, ROM paths, format and shape checks)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import mx_formats as mxf
import numpy as np
from mase_ir import MaseGraph

__all__ = ["MappingError", "StreamValue", "Stage", "HwDesign", "check_names", "sv_name", "rom_path"]


def sv_name(value: str) -> str:
    """A SystemVerilog identifier (and file stem) for an SSA value name: the one sanitizer of
    every name that reaches top.sv, a file or a ROM image. Not one-to-one (``fc.1`` and ``fc_1``
    both give ``fc_1``): :func:`check_names` refuses a design where two names collide."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", value, flags=re.ASCII)
    return s if s and not s[0].isdigit() else f"v_{s}"


def check_names(design: "HwDesign") -> None:
    """Refuse (MappingError) a design in which two different names would become the same
    SystemVerilog wire or instance name, or the same ROM file (one layer's weights would
    overwrite another's), or a name that is not a legal SSA value name (it would reach top.sv's
    comments as is: a newline would inject text). Called by emit before anything is written."""
    from mase_ir.graph import check_value_name

    groups = {"stream (wire s_<name>)": [v.name for v in design.values.values()],
              "stage (instance u_<name>)": [st.name for st in design.stages]}
    for kind, names in groups.items():
        seen: dict[str, str] = {}
        for name in names:
            try:
                check_value_name(name)
            except ValueError as exc:
                raise MappingError(name, f"{kind} name: {exc}; rename it (MaseGraph.rename) before emitting") \
                    from None
            ident = sv_name(name)
            if ident in seen and seen[ident] != name:
                raise MappingError(name, f"{kind} name {name!r} and {seen[ident]!r} both become the SystemVerilog "
                                         f"name {ident!r}; rename one of them (MaseGraph.rename) before emitting")
            seen[ident] = name
    files: dict[str, tuple[str, str]] = {}
    for st in design.stages:
        for key, value in st.params.items():
            if not (key.endswith("_FILE") and isinstance(value, str)):
                continue
            if value in files and files[value] != (st.name, key):
                other = files[value]
                raise MappingError(st.name, f"its {key} and {other[1]} of stage {other[0]!r} are both the ROM file "
                                            f"{value!r} (one would overwrite the other's weights); rename one of the "
                                            "nodes (MaseGraph.rename) before emitting")
            files[value] = (st.name, key)


def rom_path(stem: str) -> str:
    """Where emit puts a ROM image, relative to the design folder (the simulation's working directory)."""
    return f"mem/{sv_name(stem)}.hex"


class MappingError(ValueError):
    """A node the hardware library cannot implement; the message names the node and the gap."""

    def __init__(self, node: str, message: str):
        self.node = node
        super().__init__(f"cannot map node %{node}: {message}")


@dataclass
class StreamValue:
    """An SSA value as a tile stream: its 2-D ``[rows, features]`` view and hardware format.

    ``axes`` is (-1, -2) for a 2-D block (features, rows) or (-1,) for a 1-D one; blocks go
    row-major over the block grid, the order every mase_hwlib MXInt module uses."""

    name: str
    shape: tuple[int, int]
    fmt: mxf.MXInt | None
    graph_shape: tuple[int, ...]
    fixed: tuple[int, int, int] | None = None  # (features per beat, width, frac) of a fixed-point stream
    fixed_rows: int = 1                        # rows per beat of a fixed-point stream (a 2-D tile)

    @property
    def axes(self) -> tuple[int, ...]:
        return (-1, -2) if len(self.fmt.block) == 2 else (-1,)

    @property
    def tile(self) -> tuple[int, int]:
        """(features per beat, rows per beat)."""
        if self.fixed is not None:
            return (self.fixed[0], self.fixed_rows)
        b = tuple(self.fmt.block)
        return (b[0], b[1] if len(b) == 2 else 1)

    @property
    def fields(self) -> list[tuple[str, int]]:
        """The stream's data ports (suffix, bits): MXInt ``mant``/``exp``, fixed point ``data``,
        BMF / BL ``data`` (element codes, sign | exponent | fraction) / ``bias`` (shared bias)."""
        if self.fixed is not None:
            return [("data", self.lanes * self.fixed[1])]
        if isinstance(self.fmt, (mxf.BMF, mxf.BL)):
            return [("data", self.lanes * self.el_width), ("bias", self.fmt.bias_bits)]
        return [("mant", self.lanes * (self.fmt.man_bits + 1)), ("exp", self.fmt.exp_bits)]

    @property
    def el_width(self) -> int:
        """Bits of one BMF / BL element code: sign, exponent and (BMF) fraction bits."""
        return 1 + self.fmt.exp_bits + getattr(self.fmt, "man_bits", 0)

    @property
    def fixed_format(self) -> mxf.Fixed | None:
        """The value's ``mx_formats.Fixed`` (None for MXInt, or a grid mx_formats cannot hold)."""
        if self.fixed is None:
            return None
        try:
            return mxf.Fixed(self.fixed[1], self.fixed[2])
        except ValueError:
            return None

    def describe(self) -> str:
        f, r = self.tile
        kind = (f"Fixed({self.fixed[1]},{self.fixed[2]}) lanes" if self.fixed
                else str(self.fmt))
        return (f"{kind} {list(self.graph_shape)} as {self.shape[0]}x{self.shape[1]}, "
                f"{self.beats} beats of {r}x{f}")

    @property
    def beats(self) -> int:
        f, r = self.tile
        return (self.shape[0] // r) * (self.shape[1] // f)

    @property
    def lanes(self) -> int:
        f, r = self.tile
        return f * r


@dataclass
class Stage:
    """One module instance. ``inputs`` maps the module's input stream names to SSA values."""

    name: str
    node: str
    op: str
    module: str
    params: dict
    inputs: dict[str, str]
    output: str
    roms: dict = field(default_factory=dict)       # "WEIGHT_FILE" -> (MXArray or beats dict, file stem)
    constants: dict = field(default_factory=dict)  # "weight" / "bias" -> MXArray (golden operands)
    group: object = None                           # attention: (pattern, hwlib stages) run as one golden chain


@dataclass
class HwDesign:
    """A mapped graph: host-side prefix, hardware input/output streams and the stages in order."""

    graph: MaseGraph
    host_nodes: list[str]
    inputs: list[StreamValue]
    stages: list[Stage]
    outputs: list[StreamValue]
    values: dict[str, StreamValue]
    aliases: dict[str, str] = field(default_factory=dict)  # streaming no-op node -> value it carries
    warnings: list[str] = field(default_factory=list)     # e.g. Fixed formats that saturate the profiled range
    # the host boundary: host node -> why it runs on the host (streaming order on the graph inputs,
    # embedding lookup, boolean mask construction); written to design.json and the README
    host_reasons: dict[str, str] = field(default_factory=dict)
    # hardware inputs that are boolean masks (one bit per element, 1 = attend), not numbers
    masks: set[str] = field(default_factory=set)

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"no stage {name!r}")

    def verify(self) -> None:
        """Check the design is well formed, or raise :class:`MappingError` naming the stage:

        * stage names are unique, every module is in the hwlib catalog and its parameters are legal;
        * a stage's inputs are exactly the module's input streams in use at those parameters, each
          carrying a value that the hardware inputs or an earlier stage produced (the stages are
          in dataflow order), and every value is produced once;
        * every stream is typed as its port: for each data field the value's bits per beat
          (lanes x width, :attr:`StreamValue.fields`) equal the module's port width;
        * the hardware outputs are produced by some stage.

        The mapping's rules build designs that pass; emit calls this before writing anything, so a
        rule that goes wrong (or a hand-edited design) stops with the stage named."""
        from mase_hwlib import catalog

        produced = {v.name: "a hardware input" for v in self.inputs}
        seen: set[str] = set()
        for st in self.stages:
            if st.name in seen:
                raise MappingError(st.node, f"two stages are named {st.name!r}")
            seen.add(st.name)
            try:
                spec = catalog.get(st.module)
                resolved = spec.resolve(st.params)
            except (KeyError, ValueError) as exc:
                raise MappingError(st.node, f"stage {st.name}: {exc}") from None
            ports = {s.name for s in spec.inputs_for(resolved)}
            if set(st.inputs) != ports:
                raise MappingError(st.node, f"stage {st.name} ({st.module}) connects inputs {sorted(st.inputs)}, "
                                            f"the module's streams in use are {sorted(ports)}")
            for port, value in st.inputs.items():
                if value not in produced:
                    raise MappingError(st.node, f"stage {st.name} reads %{value} on {port}, which no hardware "
                                                f"input or earlier stage produces")
                self._check_port(st, spec.stream(port), value, resolved)
            outs = spec.outputs_for(resolved)
            if len(outs) != 1:
                raise MappingError(st.node, f"stage {st.name} ({st.module}) has {len(outs)} output streams in use; "
                                            f"a stage drives one")
            if st.output in produced:
                raise MappingError(st.node, f"stage {st.name} produces %{st.output}, already produced by "
                                            f"{produced[st.output]}")
            self._check_port(st, outs[0], st.output, resolved)
            produced[st.output] = f"stage {st.name}"
        for v in self.outputs:
            if v.name not in produced:
                raise MappingError(v.name, f"hardware output %{v.name} is produced by no stage")

    def _check_port(self, st: Stage, stream, value: str, resolved: dict) -> None:
        if value not in self.values:
            raise MappingError(st.node, f"stage {st.name}: %{value} on {stream.name} has no stream type")
        have = dict(self.values[value].fields)
        want = {f.suffix: lanes * width for f in stream.fields for lanes, width in [f.resolve(resolved)]}
        if have != want:
            raise MappingError(st.node, f"stage {st.name} ({st.module}) port {stream.name} takes "
                                        f"{_bits(want)} per beat, but %{value} is {self.values[value].describe()} "
                                        f"({_bits(have)})")

    def to_text(self) -> str:
        """A readable listing: the hardware inputs, one line per stage (instance, module, the
        parameters given, input ports and the value each carries, the output and its stream
        type, ROM images) and the outputs. Written by emit as ``design.txt``."""
        def value(name: str) -> str:
            return f"%{name}: {self.values[name].describe()}" if name in self.values else f"%{name}"

        lines = [f"design({', '.join(value(v.name) for v in self.inputs)}) {{"]
        if self.host_nodes:
            lines.append(f"  # host side: {', '.join('%' + n for n in self.host_nodes)}")
        for st in self.stages:
            params = ", ".join(f"{k}={v}" for k, v in st.params.items())
            ins = ", ".join(f"{port}=%{v}" for port, v in st.inputs.items())
            roms = f" roms({', '.join(sorted(st.roms))})" if st.roms else ""
            lines.append(f"  u_{sv_name(st.name)} = {st.module}<{params}>({ins}) -> {value(st.output)}{roms}")
        lines += [f"  return {', '.join('%' + v.name for v in self.outputs)}", "}"]
        return "\n".join(lines) + "\n"


def _bits(fields: dict) -> str:
    return ", ".join(f"{k} {v} bits" for k, v in sorted(fields.items()))


def _mxint(graph_node: str, what: str, fmt) -> mxf.MXInt:
    if not isinstance(fmt, mxf.MXInt):
        raise MappingError(graph_node, f"{what} has format {fmt}; mase_hwlib has MXInt stream operators only "
                                       "(and fixed-point ones for Fixed formats; no operator for this format)")
    return fmt


def _rows_features(node: str, shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 0:
        raise MappingError(node, "a scalar cannot be streamed")
    if len(shape) == 1:
        return 1, shape[0]
    return math.prod(shape[:-1]), shape[-1]


def _check_rows(node: str, shape: tuple[int, ...], rows_per_tile: int) -> None:
    """A block spans ``rows_per_tile`` along axis -2 only: flattening leading axes keeps the
    blocks (and their row-major order) only if axis -2 is a multiple of it."""
    inner = shape[-2] if len(shape) >= 2 else 1
    if inner % rows_per_tile:
        raise MappingError(node, f"shape {list(shape)}: axis -2 ({inner}) is not a multiple of the block's "
                                 f"{rows_per_tile} rows, so its blocks are not tiles of the flattened stream")


def _fixed_stream_value(node: str, name: str, shape, fmt: mxf.Fixed, tile: tuple[int, int]) -> StreamValue:
    """A Fixed-format value as a stream of ``tile`` = (features, rows) tiles (lane r*features + c):
    fixed point has no block, so the tile is a hardware choice (hardware/fixed_map.py)."""
    rows, feats = _rows_features(node, tuple(shape))
    f, r = tile
    v = StreamValue(name, (rows, feats), None, tuple(shape), (f, fmt.width, fmt.frac), r)
    _check_rows(node, tuple(shape), r)
    if feats % f or rows % r:
        raise MappingError(node, f"value %{name} {list(shape)} is not a whole number of {r}x{f} tiles "
                                 f"(fixed-point tile {tile})")
    return v


def _stream_value(node: str, name: str, shape, fmt) -> StreamValue:
    return block_stream_value(node, name, shape, _mxint(node, f"value %{name}", fmt))


def block_stream_value(node: str, name: str, shape, fmt) -> StreamValue:
    """A value of a block format (MXInt, BMF, BL) as a stream of its blocks: at most two block
    axes, whole tiles only (the format family is the caller's check)."""
    if len(fmt.block) > 2:
        raise MappingError(node, f"value %{name}: block {fmt.block} has more than two axes")
    rows, feats = _rows_features(node, tuple(shape))
    v = StreamValue(name, (rows, feats), fmt, tuple(shape))
    f, r = v.tile
    _check_rows(node, tuple(shape), r)
    if feats % f or rows % r:
        raise MappingError(node, f"value %{name} {list(shape)} is not a whole number of {r}x{f} tiles "
                                 f"(block {fmt.block}); hwlib streams whole blocks only")
    return v


def _weight(graph: MaseGraph, node, role: str) -> np.ndarray:
    return graph.weights[node.params[role].path].detach().double().cpu().numpy()
