"""Map a quantized mase_ir graph onto mase_hwlib modules: one stage per operator node.

A *stage* is one hwlib module instance with its Verilog parameters, the SSA values its input
streams carry, the value its output stream carries and the constant tensors it holds in ROM.
The mapping decides nothing numerically: every tile shape comes from the tensor formats the
quantize pass chose, because in mase_hwlib the MX block *is* the stream tile (one block per
beat). The rules (docs/hardware.md has the tables):

* ``linear`` -> ``mase_mxint_linear`` with weights (and bias) in ``$readmemh`` ROMs. With x
  ``[N, IN]`` in ``MXInt((BK, XR))`` and W ``[OUT, IN]`` in ``MXInt((BK, OT))`` (both blocked
  along in_features, the IR's convention), the module emits ``XR x OT`` tiles. When the output
  value's block is not ``(OT, XR)`` (e.g. the search's ``(16,2)`` everywhere gives 2 x 2 tiles),
  a ``mase_mxint_reblock`` follows and rounds the tiles into the value's block; the linear then
  keeps ``LINEAR_GUARD_BITS`` more mantissa bits. The bias must be blocked ``OT`` along
  out_features.
* ``gelu`` -> ``mase_mxint_gelu`` + ``mase_fixed_to_mxint``; ``layer_norm`` -> the integer
  ``mase_mxint_layer_norm`` + ``mase_fixed_to_mxint`` + mul gamma / add beta streamed from
  ``mase_mxint_rom_source``; BERT attention (hardware/attention.py) -> ``mase_hwlib.attention``.
* ``relu``, ``add``, ``mul`` -> the elementwise MXInt modules; operands and result share one
  block (the module re-rounds mantissa and exponent widths itself, so no cast is needed).
* ``reshape`` / ``reorder`` / ``transpose`` / ``squeeze`` / ``unsqueeze`` are streaming-order
  nodes: on the graph inputs they run on the host (the hardware input port carries their
  result); inside the graph they are accepted only when they keep the ``[rows, features]``
  stream (last axis unchanged, block rows not split), and become a ``mase_mxint_cast`` when
  the result's format has other mantissa/exponent widths than the operand's.

A value read by several stages is forked in the top level (hardware/topgen.py). Everything
else — an op without operator, a non-MXInt format, a shape the module cannot tile — raises
:class:`MappingError` naming the node and what is missing, before any file is written.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import mx_formats as mxf
import numpy as np
from mase_ir import MaseGraph
from mase_ir.graph import bind_roles

__all__ = ["MappingError", "Stage", "StreamValue", "HwDesign", "map_graph", "STREAMING_OPS", "COMPUTE_OPS"]

STREAMING_OPS = ("reshape", "reorder", "transpose", "squeeze", "unsqueeze")
COMPUTE_OPS = {"linear": "mase_mxint_linear", "relu": "mase_mxint_relu",
               "add": "mase_mxint_add", "mul": "mase_mxint_mul", "gelu": "mase_mxint_gelu",
               "layer_norm": "mase_mxint_layer_norm"}
# internal fixed-point grid of the non-linear operators (mase_mxint_to_fixed: range +-2^(W-F-1), step 2^-F)
GELU_X_WIDTH, GELU_X_FRAC = 16, 8
# extra mantissa bits of a linear's own output when a mase_mxint_reblock follows it
LINEAR_GUARD_BITS = 4
# layer_norm: input grid as gelu's; normalized output (|y| <= sqrt(N)) on 16 bits with 11 fraction bits
LN_X_WIDTH, LN_X_FRAC, LN_OUT_WIDTH, LN_OUT_FRAC = 16, 8, 16, 11


def sv_name(value: str) -> str:
    """A SystemVerilog identifier (and file stem) for an SSA value name."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", value)
    return s if s and not s[0].isdigit() else f"v_{s}"


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
    fixed: tuple[int, int, int] | None = None  # (lanes, width, frac) of a fixed-point stream

    @property
    def axes(self) -> tuple[int, ...]:
        return (-1, -2) if len(self.fmt.block) == 2 else (-1,)

    @property
    def tile(self) -> tuple[int, int]:
        """(features per beat, rows per beat)."""
        if self.fixed is not None:
            return (self.fixed[0], 1)
        b = tuple(self.fmt.block)
        return (b[0], b[1] if len(b) == 2 else 1)

    @property
    def fields(self) -> list[tuple[str, int]]:
        """The stream's data ports (suffix, bits): MXInt ``mant``/``exp``, fixed point ``data``."""
        if self.fixed is not None:
            return [("data", self.fixed[0] * self.fixed[1])]
        return [("mant", self.lanes * (self.fmt.man_bits + 1)), ("exp", self.fmt.exp_bits)]

    def describe(self) -> str:
        f, r = self.tile
        kind = (f"fixed point, {self.fixed[1]}-bit lanes, {self.fixed[2]} fraction bits" if self.fixed
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

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"no stage {name!r}")


def _mxint(graph_node: str, what: str, fmt) -> mxf.MXInt:
    if not isinstance(fmt, mxf.MXInt):
        raise MappingError(graph_node, f"{what} has format {fmt}; mase_hwlib has MXInt stream operators only "
                                       "(no operator for this format)")
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


def _stream_value(node: str, name: str, shape, fmt) -> StreamValue:
    fmt = _mxint(node, f"value %{name}", fmt)
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


def _consumers(graph: MaseGraph) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for n in graph.nodes:
        for a in n.args:
            users.setdefault(a.name, []).append(n.name)
    for o in graph.outputs:
        users.setdefault(o, []).append("<output>")
    return users


def _host_prefix(graph: MaseGraph) -> set[str]:
    """Streaming-order nodes fed (transitively) only by graph inputs: they run on the host."""
    host_vals = {i.name for i in graph.inputs}
    host = set()
    for n in graph.nodes:
        if n.op in STREAMING_OPS and all(a.name in host_vals for a in n.args):
            host.add(n.name)
            host_vals.add(n.name)
    return host


def _weight(graph: MaseGraph, node, role: str) -> np.ndarray:
    return graph.weights[node.params[role].path].detach().double().cpu().numpy()


def map_graph(graph: MaseGraph) -> HwDesign:
    """Map every node of ``graph`` to a stage (or to the host prefix); see the module docstring."""
    users = _consumers(graph)
    host = _host_prefix(graph)
    values: dict[str, StreamValue] = {}
    stages: list[Stage] = []
    alias: dict[str, str] = {}  # a streaming-only value -> the stream value carrying it

    def src(node: str, name: str) -> StreamValue:
        name = alias.get(name, name)
        if name not in values:
            raise MappingError(node, f"operand %{name} is not a hardware stream (produced by an unmapped node)")
        return values[name]

    from mase_passes.hardware.attention import find_attention

    patterns = {p.out: p for p in find_attention(graph)}
    inner = {name for p in patterns.values() for name in p.nodes if name != p.out}

    # hardware inputs: graph inputs read by compute nodes, and host-prefix results read by them
    hw_inputs: list[StreamValue] = []
    for n in graph.nodes:
        if n.name in host or n.name in inner:
            continue
        for a in n.args:
            is_host = a.name in host or a.name in {i.name for i in graph.inputs}
            if is_host and a.name not in values:
                t = graph.value_type(a.name)
                values[a.name] = _stream_value(n.name, a.name, t.shape, t.element)
                hw_inputs.append(values[a.name])

    for n in graph.nodes:
        if n.name in host or n.name in inner:
            continue
        if n.name in patterns:
            stages.extend(_map_attention(graph, n, patterns[n.name], src, values))
            continue
        fanout = users.get(n.name, [])
        if len(fanout) > 1 and "<output>" in fanout:
            raise MappingError(n.name, f"its result is a graph output and also read by {fanout}: an output "
                                       "with other consumers is not built (fork it in the model)")
        if n.op in STREAMING_OPS:
            stages_or_alias = _map_streaming(n, src(n.name, n.args[0].name), values)
            if isinstance(stages_or_alias, Stage):
                stages.append(stages_or_alias)
            else:
                alias[n.name] = stages_or_alias
            continue
        if n.op not in COMPUTE_OPS:
            raise MappingError(n.name, f"op {n.op!r} (module {n.module!r}) has no mase_hwlib operator mapped by emit; "
                                       f"mapped ops: {sorted(COMPUTE_OPS)} and streaming-order ops {list(STREAMING_OPS)}")
        out = _stream_value(n.name, n.name, n.result.shape, n.result.element)
        if n.op == "linear":
            new_stages = _map_linear(graph, n, src(n.name, n.args[0].name), out, values)
        elif n.op == "gelu":
            new_stages = _map_gelu(n, src(n.name, n.args[0].name), out, values)
        elif n.op == "layer_norm":
            new_stages = _map_layer_norm(graph, n, src(n.name, n.args[0].name), out, values)
        else:
            new_stages = [_map_elementwise(n, [src(n.name, a.name) for a in n.args], out)]
        values[n.name] = out
        stages.extend(new_stages)

    outputs = []
    for o in graph.outputs:
        name = alias.get(o, o)
        if name not in values or name in {v.name for v in hw_inputs}:
            raise MappingError(o, "graph output is not produced by a hardware stage")
        outputs.append(values[name])
    return HwDesign(graph, [n.name for n in graph.nodes if n.name in host], hw_inputs, stages, outputs, values,
                    dict(alias))


def _map_streaming(n, x: StreamValue, values: dict):
    """A streaming-order node inside the graph: a no-op on the stream, or a cast."""
    out_shape = tuple(n.result.shape)
    if not out_shape or out_shape[-1] != x.shape[1]:
        raise MappingError(n.name, f"{n.op} {list(x.graph_shape)} -> {list(out_shape)} changes the feature axis; "
                                   "re-streaming along another axis needs a reorder buffer (mase_transpose moves "
                                   "whole tiles only) and is not built")
    out = _stream_value(n.name, n.name, out_shape, n.result.element)
    if out.tile != x.tile:
        raise MappingError(n.name, f"result block {out.fmt.block} differs from the operand's {x.fmt.block}; "
                                   "mase_hwlib has no re-blocking operator")
    values[n.name] = out
    if (out.fmt.man_bits, out.fmt.exp_bits) == (x.fmt.man_bits, x.fmt.exp_bits):
        values.pop(n.name)
        return x.name
    f, r = x.tile
    params = dict(BLOCK_0=f, BLOCK_1=r, IN_MAN=x.fmt.man_bits, IN_EXP=x.fmt.exp_bits,
                  OUT_MAN=out.fmt.man_bits, OUT_EXP=out.fmt.exp_bits)
    return Stage(f"{n.name}_cast", n.name, "cast", "mase_mxint_cast", params, {"x": x.name}, n.name)


def _map_linear(graph: MaseGraph, n, x: StreamValue, out: StreamValue, values: dict) -> list[Stage]:
    bound = {role: (kind, ref) for role, kind, ref in bind_roles(n)}
    if bound["weight"][0] != "param":
        raise MappingError(n.name, "linear weight is an activation stream; mase_mxint_linear holds constant "
                                   "weights in ROM here (use matmul for two activations)")
    if len(x.graph_shape) < 2:
        raise MappingError(n.name, f"input {list(x.graph_shape)} must have a rows axis")
    wp = n.params["weight"]
    fw = _mxint(n.name, "weight", wp.type.element)
    if len(fw.block) > 2:
        raise MappingError(n.name, f"weight block {fw.block} has more than two axes")
    bk, xr = x.tile
    bkw = fw.block[0]
    ot = fw.block[1] if len(fw.block) == 2 else 1
    fout, fin = wp.type.shape
    if bkw != bk:
        raise MappingError(n.name, f"input block {x.fmt.block} has {bk} in_features per tile but weight block "
                                   f"{fw.block} has {bkw}; mase_mxint_linear needs one BLOCK_K")
    if fin % bk or fout % ot:
        raise MappingError(n.name, f"weight {[fout, fin]} is not whole {ot}x{bk} tiles")
    reblock = None
    lin_out = out
    if out.tile != (ot, xr):
        # mase_mxint_linear emits X_ROWS x OUT_TILE tiles; the result's block differs, so a
        # mase_mxint_reblock rounds them into it. The linear's own output keeps LINEAR_GUARD_BITS
        # more mantissa bits (two roundings; the exact emulation chains both)
        f0, r0 = out.tile
        band, cols = math.lcm(xr, r0), out.shape[1]
        if out.shape[0] % band or cols % math.lcm(ot, f0) or band > 64 or cols > 1024:
            raise MappingError(n.name, f"result block {out.fmt.block} differs from the linear's output tile "
                                       f"(OUT_TILE, X_ROWS) = ({ot}, {xr}) and mase_mxint_reblock cannot bridge them "
                                       f"for {list(out.graph_shape)} (bands of {band} rows x {cols} columns)")
        man = min(out.fmt.man_bits + LINEAR_GUARD_BITS, 23)
        tile_fmt = mxf.MXInt((ot, xr) if xr > 1 else (ot,), out.fmt.exp_bits, man)
        lin_out = StreamValue(f"{n.name}__tiles", out.shape, tile_fmt, out.graph_shape)
        values[lin_out.name] = lin_out
        reblock = Stage(f"{n.name}_reblock", n.name, "linear", "mase_mxint_reblock",
                        dict(ROWS=band, COLS=cols, IN_B0=ot, IN_B1=xr, OUT_B0=f0, OUT_B1=r0, OUT_COL_MAJOR=0,
                             IN_MAN=man, IN_EXP=out.fmt.exp_bits, OUT_MAN=out.fmt.man_bits,
                             OUT_EXP=out.fmt.exp_bits), {"x": lin_out.name}, n.name)
    params = dict(BLOCK_K=bk, X_ROWS=xr, OUT_TILE=ot, IN_TILES=fin // bk, OUT_TILES=fout // ot,
                  X_MAN=x.fmt.man_bits, X_EXP=x.fmt.exp_bits, W_MAN=fw.man_bits, W_EXP=fw.exp_bits,
                  OUT_MAN=lin_out.fmt.man_bits, OUT_EXP=lin_out.fmt.exp_bits, HAS_BIAS=0, WEIGHTS_IN_ROM=1,
                  WEIGHT_FILE=rom_path(f"{n.name}_weight"))
    qw = mxf.quantize(_weight(graph, n, "weight"), fw, axes=(-1, -2))
    stage = Stage(n.name, n.name, "linear", "mase_mxint_linear", params, {"x": x.name}, lin_out.name,
                  roms={"WEIGHT_FILE": (qw, f"{n.name}_weight")}, constants={"weight": qw})
    stages = [stage] + ([reblock] if reblock else [])
    kind = bound.get("bias", ("none", None))[0]
    if kind == "arg":
        raise MappingError(n.name, "bias is an activation stream; mase_mxint_linear takes a constant bias")
    if kind == "param":
        fb = _mxint(n.name, "bias", n.params["bias"].type.element)
        if fb.block[0] % ot:
            raise MappingError(n.name, f"bias block {fb.block} must hold a multiple of OUT_TILE = {ot} out_features "
                                       f"per block (the weight's second block extent)")
        hw_fb = mxf.MXInt((ot,), fb.exp_bits, fb.man_bits)
        # the graph's bias values (blocks of fb.block[0] along out_features, the 2-D block's second
        # extent is the padded unit axis) re-cut into OUT_TILE blocks: lossless, because a sub-block's
        # exponent is at most its block's, so each value keeps its mantissa within m bits
        b_graph = mxf.dequantize(mxf.quantize(_weight(graph, n, "bias"), mxf.MXInt((fb.block[0],), fb.exp_bits,
                                                                                   fb.man_bits), axes=(-1,)))
        qb = mxf.quantize(b_graph, hw_fb, axes=(-1,))
        if not np.array_equal(mxf.dequantize(qb), b_graph):
            raise MappingError(n.name, f"bias in {fb} does not re-cut losslessly into {hw_fb} blocks (exponent "
                                       "underflow); use a bias block of OUT_TILE")
        params.update(HAS_BIAS=1, BIAS_MAN=fb.man_bits, BIAS_EXP=fb.exp_bits, BIAS_FILE=rom_path(f"{n.name}_bias"))
        stage.roms["BIAS_FILE"] = (qb, f"{n.name}_bias")
        stage.constants["bias"] = qb
    return stages


def _map_elementwise(n, operands: list[StreamValue], out: StreamValue) -> Stage:
    if n.params:
        raise MappingError(n.name, f"{n.op} with constant operand(s) {sorted(n.params)}: a constant stream "
                                   "source (ROM) for elementwise operators is not in mase_hwlib")
    if n.attrs.get("alpha", 1) not in (1, 1.0):
        raise MappingError(n.name, f"add with alpha={n.attrs['alpha']} has no operator")
    for v in operands:
        if v.graph_shape != tuple(n.result.shape):
            raise MappingError(n.name, f"operand %{v.name} {list(v.graph_shape)} broadcasts to "
                                       f"{list(n.result.shape)}; the streaming operators take equal shapes only")
        if v.tile != out.tile or len(v.fmt.block) != len(out.fmt.block):
            raise MappingError(n.name, f"operand %{v.name} block {v.fmt.block} differs from the result's "
                                       f"{out.fmt.block}; elementwise operators keep the block (no re-blocking operator)")
    f, r = out.tile
    params = dict(BLOCK_0=f, BLOCK_1=r, OUT_MAN=out.fmt.man_bits, OUT_EXP=out.fmt.exp_bits)
    if len(operands) == 1:
        params.update(IN_MAN=operands[0].fmt.man_bits, IN_EXP=operands[0].fmt.exp_bits)
        ports = {"x": operands[0].name}
    else:
        if operands[0].name == operands[1].name:
            raise MappingError(n.name, "both operands are one value (x op x): a stage reading one stream "
                                       "twice is not built")
        for p, v in zip(("A", "B"), operands):
            params.update({f"{p}_MAN": v.fmt.man_bits, f"{p}_EXP": v.fmt.exp_bits})
        ports = {"a": operands[0].name, "b": operands[1].name}
    return Stage(n.name, n.name, n.op, COMPUTE_OPS[n.op], params, ports, n.name)


def _map_gelu(n, x: StreamValue, out: StreamValue, values: dict) -> list[Stage]:
    """gelu -> ``mase_mxint_gelu`` (I-BERT integer GELU on a fixed-point grid, fixed-point lanes
    out) -> ``mase_fixed_to_mxint`` (one rounding into the result's format). The fixed-point
    beats must be row segments in row-major order, so the blocks must be one row high."""
    if n.attrs.get("approximate", "none") not in ("none", None):
        raise MappingError(n.name, f"gelu approximate={n.attrs['approximate']!r}: mase_mxint_gelu implements "
                                   "the erf form (I-BERT fit)")
    if x.tile[1] != 1 or out.tile[1] != 1 or x.tile[0] != out.tile[0]:
        raise MappingError(n.name, f"gelu needs one-row blocks (B0,) equal on input and output, got {x.fmt.block} -> "
                                   f"{out.fmt.block}: mase_fixed_to_mxint re-blocks rows, not 2-D tiles")
    lanes = x.tile[0]
    fx = StreamValue(f"{n.name}__fixed", x.shape, None, x.graph_shape, (lanes, GELU_X_WIDTH, GELU_X_FRAC))
    values[fx.name] = fx
    g = Stage(f"{n.name}_gelu", n.name, "gelu", "mase_mxint_gelu",
              dict(BLOCK=lanes, EXP_BITS=x.fmt.exp_bits, MAN_BITS=x.fmt.man_bits, X_WIDTH=GELU_X_WIDTH,
                   X_FRAC=GELU_X_FRAC), {"x": x.name}, fx.name)
    c = Stage(f"{n.name}_to_mxint", n.name, "gelu", "mase_fixed_to_mxint",
              dict(BLOCK_0=lanes, BLOCK_1=1, ROW_BEATS=x.shape[1] // lanes, IN_WIDTH=GELU_X_WIDTH,
                   IN_FRAC=GELU_X_FRAC, IN_SIGNED=1, OUT_MAN=out.fmt.man_bits, OUT_EXP=out.fmt.exp_bits),
              {"x": fx.name}, n.name)
    return [g, c]


def _map_layer_norm(graph: MaseGraph, n, x: StreamValue, out: StreamValue, values: dict) -> list[Stage]:
    """layer_norm -> ``mase_mxint_layer_norm`` (integer, no affine; fixed-point lanes out) ->
    ``mase_fixed_to_mxint`` -> ``mase_mxint_mul`` by gamma -> ``mase_mxint_add`` of beta, gamma
    and beta streamed by ``mase_mxint_rom_source`` (one row of blocks per pass, forever). The
    intermediate values take the result's mantissa/exponent widths; each stage rounds once."""
    d = x.shape[1]
    if list(n.attrs.get("normalized_shape", [])) != [d]:
        raise MappingError(n.name, f"layer_norm over {n.attrs.get('normalized_shape')} of {list(x.graph_shape)}: "
                                   "only the last axis is supported")
    if x.tile[1] != 1 or out.tile != x.tile:
        raise MappingError(n.name, f"layer_norm needs one-row blocks (B0,) equal on input and output, got "
                                   f"{x.fmt.block} -> {out.fmt.block}")
    lanes = x.tile[0]
    eps_fx = int(round(float(n.attrs.get("eps", 1e-5)) * 2.0 ** (2 * LN_X_FRAC)))
    fx = StreamValue(f"{n.name}__fixed", x.shape, None, x.graph_shape, (lanes, LN_OUT_WIDTH, LN_OUT_FRAC))
    values[fx.name] = fx
    stages = [Stage(f"{n.name}_norm", n.name, "layer_norm", "mase_mxint_layer_norm",
                    dict(BLOCK=lanes, EXP_BITS=x.fmt.exp_bits, MAN_BITS=x.fmt.man_bits, X_WIDTH=LN_X_WIDTH,
                         X_FRAC=LN_X_FRAC, ROW_BLOCKS=d // lanes, OUT_WIDTH=LN_OUT_WIDTH, OUT_FRAC=LN_OUT_FRAC,
                         EPS_FX=eps_fx), {"x": x.name}, fx.name)]
    affine = [r for r in ("weight", "bias") if r in n.params]
    names = [f"{n.name}__{r}" for r in ("norm", "scaled")][:len(affine)] + [n.name]
    for nm in names[:-1]:
        values[nm] = StreamValue(nm, x.shape, out.fmt, x.graph_shape)
    stages.append(Stage(f"{n.name}_to_mxint", n.name, "layer_norm", "mase_fixed_to_mxint",
                        dict(BLOCK_0=lanes, BLOCK_1=1, ROW_BEATS=d // lanes, IN_WIDTH=LN_OUT_WIDTH,
                             IN_FRAC=LN_OUT_FRAC, IN_SIGNED=1, OUT_MAN=out.fmt.man_bits, OUT_EXP=out.fmt.exp_bits),
                        {"x": fx.name}, names[0]))
    prev = names[0]
    for role, res in zip(affine, names[1:]):
        pf = _mxint(n.name, f"layer_norm {role}", n.params[role].type.element)
        if pf.block[0] != lanes:
            raise MappingError(n.name, f"layer_norm {role} block {pf.block} must hold {lanes} elements per block "
                                       "(the activations' block)")
        hw_f = mxf.MXInt((lanes,), pf.exp_bits, pf.man_bits)
        qc = mxf.quantize(_weight(graph, n, role), hw_f, axes=(-1,))
        const = f"{n.name}__{role}_rom"
        values[const] = StreamValue(const, x.shape, hw_f, x.graph_shape)
        stem = f"{n.name}_{role}"
        stages.append(Stage(f"{n.name}_{role}_rom", n.name, "layer_norm", "mase_mxint_rom_source",
                            dict(LANES=lanes, MAN=pf.man_bits, EXP=pf.exp_bits, DEPTH=d // lanes, HOLD=1, REPEAT=0,
                                 ROM_FILE=rom_path(stem)), {}, const,
                            roms={"ROM_FILE": (qc, stem)}, constants={"row": qc}))
        module = "mase_mxint_mul" if role == "weight" else "mase_mxint_add"
        a = values[prev]
        stages.append(Stage(f"{n.name}_{'scale' if role == 'weight' else 'shift'}", n.name, "layer_norm", module,
                            dict(BLOCK_0=lanes, BLOCK_1=1, A_MAN=a.fmt.man_bits, A_EXP=a.fmt.exp_bits,
                                 B_MAN=pf.man_bits, B_EXP=pf.exp_bits, OUT_MAN=out.fmt.man_bits,
                                 OUT_EXP=out.fmt.exp_bits), {"a": prev, "b": const}, res))
        prev = res
    return stages


def _map_attention(graph: MaseGraph, n, pat, src, values: dict) -> list[Stage]:
    """The attention pattern ending at head-merge reorder ``n`` (see hardware/attention.py)."""
    from mase_hwlib import catalog

    from mase_passes.hardware.attention import plan_stages

    q, k, v = (src(n.name, name) for name in (pat.q, pat.k, pat.v))
    for x in (q, k, v):
        if x.shape != (pat.seq, pat.d_model):
            raise MappingError(n.name, f"attention operand %{x.name} is {list(x.graph_shape)}, expected "
                                       f"[{pat.seq}, {pat.d_model}] (batch 1)")
    try:
        hw_stages, counts = plan_stages(graph, pat, q.fmt, k.fmt, v.fmt)
    except (ValueError, TypeError) as exc:
        raise MappingError(n.name, f"attention over %{pat.q}, %{pat.k}, %{pat.v}: {exc}") from None
    out = _stream_value(n.name, n.name, n.result.shape, n.result.element)
    last = hw_stages[-1].params
    tile = (last["B_COLS"], last["A_ROWS"])
    if out.tile != tile:
        raise MappingError(n.name, f"attention output block {out.fmt.block} must be ({tile[0]},{tile[1]}) "
                                   "(value block along d, query block along seq) as the P V matmul emits it")
    pv_fmt = pat.o_fmt
    need_cast = (pv_fmt.man_bits, pv_fmt.exp_bits) != (out.fmt.man_bits, out.fmt.exp_bits)
    names = {"q": q.name, "k": k.name, "v": v.name}
    stages: list[Stage] = []
    for hs in hw_stages:
        spec = catalog.get(hs.module)
        resolved = spec.resolve(hs.params)
        name = f"{n.name}__{hs.name}"
        if hs is hw_stages[-1] and not need_cast:
            name = n.name
        else:
            (fld_spec,) = [st for st in spec.outputs]
            flds = {f.suffix: f.resolve(resolved) for f in fld_spec.fields}
            if "data" in flds:
                lanes, width = flds["data"]
                values[name] = StreamValue(name, (counts[hs.name], lanes), None, (counts[hs.name], lanes),
                                           (lanes, width, int(resolved.get("OUT_FRAC", 0))))
            else:
                lanes, width = flds["mant"]
                exp_bits = flds["exp"][1]
                values[name] = StreamValue(name, (counts[hs.name], lanes), mxf.MXInt((lanes,), exp_bits, width - 1),
                                           (counts[hs.name], lanes))
        inputs = {}
        for port, source in hs.inputs.items():
            if source == "const":
                cname = f"{n.name}__{hs.name}_const"
                rp = dict(hs.rom_params)
                stem = f"{n.name}_{hs.name}_const"
                rp["ROM_FILE"] = rom_path(stem)
                values[cname] = StreamValue(cname, (counts[hs.name], rp["LANES"]),
                                            mxf.MXInt((rp["LANES"],), rp["EXP"], rp["MAN"]),
                                            (counts[hs.name], rp["LANES"]))
                stages.append(Stage(f"{n.name}_{hs.name}_const", n.name, "attention", "mase_mxint_rom_source", rp,
                                    {}, cname, roms={"ROM_FILE": (hs.const, stem)}, group=pat))
                inputs[port] = cname
            elif source in names:
                inputs[port] = names[source]
            else:
                inputs[port] = f"{n.name}__{source.split('.')[0]}"
        stages.append(Stage(f"{n.name}_{hs.name}", n.name, "attention", hs.module, dict(hs.params), inputs, name,
                            group=(pat, hw_stages)))
    if need_cast:
        pv = values[f"{n.name}__{hw_stages[-1].name}"]
        pv_val = StreamValue(pv.name, out.shape, mxf.MXInt(out.fmt.block, pv_fmt.exp_bits, pv_fmt.man_bits),
                             out.graph_shape)
        values[pv.name] = pv_val
        f, r = out.tile
        stages.append(Stage(f"{n.name}_cast", n.name, "cast", "mase_mxint_cast",
                            dict(BLOCK_0=f, BLOCK_1=r, IN_MAN=pv_fmt.man_bits, IN_EXP=pv_fmt.exp_bits,
                                 OUT_MAN=out.fmt.man_bits, OUT_EXP=out.fmt.exp_bits), {"x": pv.name}, n.name))
    values[n.name] = out
    return stages
