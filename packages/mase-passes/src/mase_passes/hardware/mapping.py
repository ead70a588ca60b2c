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
  ``mase_mxint_rom_source`` (hardware/nonlinear_map.py); ``silu`` and ``rms_norm`` the same way
  on ``mase_mxint_silu`` / ``mase_mxint_rms_norm`` (hardware/decoder_map.py); attention
  (hardware/attention.py) -> ``mase_hwlib.attention``, with the padding mask or the causal mask
  (``mase_mxint_masked_softmax``, ``mase_causal_mask``) and rotary embeddings on Q and K
  (``mase_mxint_rope``). The data types live in hardware/design.py.
* **Host boundary** (``_host_boundary``, recorded per node in ``HwDesign.host_reasons`` and
  written to design.json / the README): computed on the host from graph inputs and constants
  only, (a) streaming-order nodes, (b) ``embedding`` lookups and ``add``s of lookups (BERT's word +
  token type + position embeddings): the tables stay in host memory and the hardware input port
  takes the summed embedding vectors -- the embeddings' layer norm is hardware; (c) nodes with a
  boolean result (the attention-mask expansion), whose booleans enter as a mask port
  (``HwDesign.masks``) read only by masked softmax stages.
* ``relu``, ``add``, ``mul`` -> the elementwise MXInt modules; operands and result share one
  block (the module re-rounds mantissa and exponent widths itself, so no cast is needed); a
  ``mul`` by a scalar constant (``other`` attribute, OPT's query scaling) takes it from a
  ``mase_mxint_rom_source`` (``SCALAR_MAN`` mantissa bits).
* ``reshape`` / ``reorder`` / ``transpose`` / ``squeeze`` / ``unsqueeze`` are streaming-order
  nodes: on the graph inputs they run on the host (the hardware input port carries their
  result; see the host boundary); inside the graph they are accepted only when they keep the ``[rows, features]``
  stream (last axis unchanged, block rows not split), and become a ``mase_mxint_cast`` when
  the result's format has other mantissa/exponent widths than the operand's.

* Block-minifloat / block-logarithm values (``mx_formats.BMF`` / ``BL``, the BMF8 / BL8
  comparison rows): hardware/bmf_map.py (``linear`` -> ``mase_bmf_linear`` / ``mase_bl_linear``).
* Fixed-point values (``mx_formats.Fixed``: the int8 baseline, mixed-precision fixed point) and
  the casts between them and MXInt: hardware/fixed_map.py (``mase_fixed_linear`` / relu / add /
  cast, ``mase_fixed_to_mxint``, ``mase_mxint_block_to_fixed``); a Fixed format whose integer
  part cannot hold the profiled range is reported in ``HwDesign.warnings``.

A value read by several stages is forked in the top level (hardware/topgen.py). Everything
else — an op without operator, a format that is neither MXInt nor Fixed, a shape the module
cannot tile — raises
:class:`MappingError` naming the node and what is missing, before any file is written; for an op
without operator the message names the op, the node, its source module (``Node.module``, the
trace's module path) and the mappable ops (:func:`mappable_ops`).
"""

from __future__ import annotations

import math

import mx_formats as mxf
import numpy as np
from mase_ir import MaseGraph
from mase_ir.graph import bind_roles

from mase_passes.hardware import bmf_map, fixed_map
from mase_passes.hardware.design import (HwDesign, MappingError, Stage, StreamValue, _fixed_stream_value, _mxint,
                                         _stream_value, _weight, rom_path, sv_name)
from mase_passes.hardware.nonlinear_map import (GELU_X_FRAC, GELU_X_WIDTH, LN_OUT_FRAC, LN_OUT_WIDTH, LN_X_FRAC,
                                                LN_X_WIDTH, map_gelu, map_layer_norm)

__all__ = ["MappingError", "Stage", "StreamValue", "HwDesign", "map_graph", "mappable_ops", "sv_name", "rom_path",
           "STREAMING_OPS", "EMBEDDING_OPS", "HOST_REASONS",
           "COMPUTE_OPS", "GELU_X_WIDTH", "GELU_X_FRAC", "LN_X_WIDTH", "LN_X_FRAC", "LN_OUT_WIDTH", "LN_OUT_FRAC"]

STREAMING_OPS = ("reshape", "reorder", "transpose", "squeeze", "unsqueeze")
COMPUTE_OPS = {"linear": "mase_mxint_linear", "relu": "mase_mxint_relu",
               "add": "mase_mxint_add", "mul": "mase_mxint_mul", "gelu": "mase_mxint_gelu",
               "layer_norm": "mase_mxint_layer_norm", "rms_norm": "mase_mxint_rms_norm", "silu": "mase_mxint_silu"}
# extra mantissa bits of a linear's own output when a mase_mxint_reblock follows it
LINEAR_GUARD_BITS = 4


def _consumers(graph: MaseGraph) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for n in graph.nodes:
        for a in n.args:
            users.setdefault(a.name, []).append(n.name)
    for o in graph.outputs:
        users.setdefault(o, []).append("<output>")
    return users


# ops whose results, computed from graph inputs and constants only, run on the host (module docstring)
EMBEDDING_OPS = ("embedding",)
HOST_REASONS = {"streaming": "streaming-order node on the graph inputs (the input port carries its result)",
                "embedding": "embedding lookup: the tables stay in host memory, the input port carries the "
                             "looked-up vectors",
                "embedding_sum": "sum of embedding lookups (word + token type + position), computed with the "
                                 "lookups on the host",
                "mask": "attention-mask construction from the graph inputs (booleans, or 0/1 values): the mask "
                        "port carries them, the masked softmax / masked mean in hardware applies them"}


def mappable_ops() -> str:
    """The ops map_graph accepts, as one sentence (the unmappable-op error lists it)."""
    return (f"ops {sorted(COMPUTE_OPS)} (MXInt; Fixed, BMF and BL values: hardware/fixed_map.py, bmf_map.py); "
            f"streaming-order ops {list(STREAMING_OPS)}; attention patterns (head-split reorders, matmul, mul by "
            "a constant, optionally + where(mask, 0, <= -1e4) or a causal constant, softmax, matmul, head-merge "
            "reorder, RoPE on Q/K; or scaled_dot_product_attention, optionally with a boolean mask); masked mean "
            "pooling div(mean(h * m, 1), mean(m, 1)); on the host side, from graph inputs only: "
            f"{list(EMBEDDING_OPS)} lookups and their sums, boolean mask construction")


def _is_bool(t) -> bool:
    return str(t.element) == "bool"


def _is_int_or_bool(graph: MaseGraph, name: str) -> bool:
    e = str(graph.value_type(name).element)
    return e == "bool" or e.startswith(("i", "u"))


def _host_boundary(graph: MaseGraph) -> dict[str, str]:
    """Nodes that run on the host, each with its reason (``HOST_REASONS``): fed (transitively) only
    by graph inputs and constants, and one of

    * a streaming-order node (``STREAMING_OPS``);
    * an ``embedding`` lookup, or an ``add`` of embedding lookups (BERT's word + token type +
      position embeddings): the **embedding host boundary** -- the tables are not on chip, the
      hardware input port takes the summed embedding vectors;
    * a node with a boolean result (the attention-mask expansion: cast, index, logical_and,
      expand): the booleans enter the hardware as a mask port, read only by a masked softmax;
      and a ``cast`` of an integer or boolean value to float (mean pooling's 0/1 weights, read by
      the masked mean; its port is checked to carry 0/1 only, emulate.hardware_inputs).

    Everything else (the embeddings' layer norm, ...) is mapped to hardware."""
    host_vals = {i.name for i in graph.inputs}
    emb_vals: set[str] = set()
    host: dict[str, str] = {}
    for n in graph.nodes:
        if not all(a.name in host_vals for a in n.args):
            continue
        if n.op in STREAMING_OPS:
            host[n.name] = "streaming"
        elif n.op in EMBEDDING_OPS:
            host[n.name] = "embedding"
            emb_vals.add(n.name)
        elif n.op == "add" and n.args and all(a.name in emb_vals for a in n.args) and not n.params:
            host[n.name] = "embedding_sum"
            emb_vals.add(n.name)
        elif n.args and (_is_bool(n.result) or (n.op == "cast" and all(_is_int_or_bool(graph, a.name)
                                                                         for a in n.args))):
            # boolean masks, and an integer mask cast to 0/1 floats (mean pooling's weights)
            host[n.name] = "mask"
        else:
            continue
        host_vals.add(n.name)
    return host


def map_graph(graph: MaseGraph) -> HwDesign:
    """Map every node of ``graph`` to a stage (or to the host prefix); see the module docstring."""
    users = _consumers(graph)
    host_kind = _host_boundary(graph)
    host = set(host_kind)
    values: dict[str, StreamValue] = {}
    stages: list[Stage] = []
    alias: dict[str, str] = {}  # a streaming-only value -> the stream value carrying it

    def src(node: str, name: str) -> StreamValue:
        name = alias.get(name, name)
        if name not in values:
            raise MappingError(node, f"operand %{name} is not a hardware stream (produced by an unmapped node)")
        return values[name]

    from mase_passes.hardware.attention import find_attention, map_attention, mask_stream_value

    patterns = {p.out: p for p in find_attention(graph)}
    inner = {name for p in patterns.values() for name in p.nodes if name != p.out}
    from mase_passes.hardware.decoder_map import find_pooling, map_pooling

    pools = {p.out: p for p in find_pooling(graph, host)}
    inner |= {name for p in pools.values() for name in p.nodes if name != p.out}

    # hardware inputs: graph inputs read by compute nodes, and host-prefix results read by them
    hw_inputs: list[StreamValue] = []
    for n in graph.nodes:
        if n.name in host or n.name in inner:
            continue
        for a in n.args:
            is_host = a.name in host or a.name in {i.name for i in graph.inputs}
            if is_host and a.name not in values:
                t = graph.value_type(a.name)
                if _is_bool(t):
                    raise MappingError(n.name, f"its operand %{a.name} is a boolean mask built on the host; "
                                               f"op {n.op!r} (module {n.module!r}) cannot read it: in hardware a "
                                               "mask is read only by the masked softmax of an attention pattern "
                                               "(scores + where(mask, 0, -large) -> softmax)")
                if fixed_map.is_fixed(t.element):
                    values[a.name] = _fixed_stream_value(n.name, a.name, t.shape, t.element,
                                                         fixed_map.input_tile(graph, a.name, t.shape))
                elif bmf_map.is_block_float(t.element):
                    values[a.name] = bmf_map.stream_value(n.name, a.name, t.shape, t.element)
                elif isinstance(t.element, mxf.Float32):
                    raise MappingError(n.name, f"its operand %{a.name} is a hardware input of format {t.element}: a "
                                               "hardware input needs an MXInt or Fixed format (set data_in on its "
                                               "consumer, e.g. data_in = \"Fixed(8,f)\" for the int8 baseline)")
                else:
                    values[a.name] = _stream_value(n.name, a.name, t.shape, t.element)
                hw_inputs.append(values[a.name])
    # the boolean masks of the attention patterns: one port each, [rows, seq] bits, one beat per row
    masks: set[str] = set()
    for p in patterns.values():
        if p.mask is not None and p.mask not in values:
            values[p.mask] = mask_stream_value(graph, p)
            hw_inputs.append(values[p.mask])
            masks.add(p.mask)
    for p in pools.values():  # mean pooling's row mask: one beat of seq bits per input
        if p.mask not in values:
            values[p.mask] = StreamValue(p.mask, (1, p.rows), None, tuple(graph.value_type(p.mask).shape),
                                         (p.rows, 1, 0))
            hw_inputs.append(values[p.mask])
            masks.add(p.mask)

    for n in graph.nodes:
        if n.name in host or n.name in inner:
            continue
        if n.name in patterns:
            stages.extend(map_attention(graph, n, patterns[n.name], src, values))
            continue
        if n.name in pools:
            stages.extend(map_pooling(graph, pools[n.name], src, values))
            continue
        fanout = users.get(n.name, [])
        if len(fanout) > 1 and "<output>" in fanout:
            raise MappingError(n.name, f"its result is a graph output and also read by {fanout}: an output "
                                       "with other consumers is not built (fork it in the model)")
        if n.op in STREAMING_OPS:
            x = src(n.name, n.args[0].name)
            if x.fixed is not None or fixed_map.is_fixed(n.result.element):
                stages_or_alias = fixed_map.map_fixed_streaming(n, x, values, _mx_value)
            else:
                stages_or_alias = _map_streaming(n, x, values)
            if isinstance(stages_or_alias, Stage):
                stages.append(stages_or_alias)
            else:
                alias[n.name] = stages_or_alias
            continue
        operands = [src(n.name, a.name) for a in n.args if a.name in values or a.name in alias]
        if bmf_map.involves_block_float(n, operands):
            out, new_stages = bmf_map.map_node(graph, n, operands, values)
            stages.extend(new_stages)
            continue
        if fixed_map.involves_fixed(n, operands):
            out, new_stages = fixed_map.map_fixed_node(graph, n, operands, values, _mx_value)
            values[n.name] = out
            stages.extend(new_stages)
            continue
        if n.op not in COMPUTE_OPS:
            raise MappingError(n.name, f"op {n.op!r} (source module {n.module or '<root>'!r}) has no mase_hwlib "
                                       f"operator mapped by emit; mappable: {mappable_ops()}")
        out = _stream_value(n.name, n.name, n.result.shape, n.result.element)
        if n.op == "linear":
            new_stages = _map_linear(graph, n, src(n.name, n.args[0].name), out, values)
        elif n.op == "gelu":
            new_stages = map_gelu(n, src(n.name, n.args[0].name), out, values)
        elif n.op == "silu":
            new_stages = map_gelu(n, src(n.name, n.args[0].name), out, values, module="mase_mxint_silu")
        elif n.op in ("layer_norm", "rms_norm"):
            new_stages = map_layer_norm(graph, n, src(n.name, n.args[0].name), out, values, module=COMPUTE_OPS[n.op])
        elif n.op == "mul" and len(n.args) == 1 and not n.params and isinstance(n.attrs.get("other"), (int, float)):
            new_stages, const = _map_scalar_mul(n, src(n.name, n.args[0].name), out)
            values[const.name] = const
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
    design = HwDesign(graph, [n.name for n in graph.nodes if n.name in host], hw_inputs, stages, outputs, values,
                      dict(alias), fixed_map.range_warnings(graph),
                      host_reasons={name: HOST_REASONS[kind] for name, kind in host_kind.items()}, masks=masks)
    design.verify()  # every rule's output checked against the catalog's streams and ports
    return design


def _mx_value(name: str, shape, fmt) -> StreamValue:
    return _stream_value(name, name, shape, fmt)


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


# mantissa bits of a scalar constant streamed into mase_mxint_mul (OPT's query scaling): the
# scale rounds with a relative error below 2^-15
SCALAR_MAN, SCALAR_EXP = 15, 8


def _map_scalar_mul(n, x: StreamValue, out: StreamValue) -> tuple[list[Stage], StreamValue]:
    """``mul(x) {other = c}``: x times the constant c, streamed by a ``mase_mxint_rom_source``
    (one row of c in ``MXInt((B0,), 8, SCALAR_MAN)`` blocks, forever) into ``mase_mxint_mul``."""
    c = float(n.attrs["other"])
    f, r = x.tile
    if r != 1 or out.tile != x.tile:
        raise MappingError(n.name, f"mul by a constant needs one-row blocks (B0,) equal on input and output, got "
                                   f"{x.fmt.block} -> {out.fmt.block}")
    if tuple(x.shape) != tuple(out.shape):
        raise MappingError(n.name, f"operand %{x.name} {list(x.graph_shape)} and result {list(out.graph_shape)} "
                                   "are not one [rows, features] stream")
    d = x.shape[1]
    fmt = mxf.MXInt((f,), SCALAR_EXP, SCALAR_MAN)
    qc = mxf.quantize(np.full((d,), c), fmt, axes=(-1,))
    const = f"{n.name}__const"
    stem = f"{n.name}_const"
    rom = Stage(f"{n.name}_const_rom", n.name, n.op, "mase_mxint_rom_source",
                dict(LANES=f, MAN=SCALAR_MAN, EXP=SCALAR_EXP, DEPTH=d // f, HOLD=1, REPEAT=0, ROM_FILE=rom_path(stem)),
                {}, const, roms={"ROM_FILE": (qc, stem)}, constants={"row": qc})
    mul = Stage(n.name, n.name, n.op, "mase_mxint_mul",
                dict(BLOCK_0=f, BLOCK_1=1, A_MAN=x.fmt.man_bits, A_EXP=x.fmt.exp_bits, B_MAN=SCALAR_MAN,
                     B_EXP=SCALAR_EXP, OUT_MAN=out.fmt.man_bits, OUT_EXP=out.fmt.exp_bits), {"a": x.name, "b": const},
                n.name)
    return [rom, mul], StreamValue(const, x.shape, fmt, x.graph_shape)


def _map_elementwise(n, operands: list[StreamValue], out: StreamValue) -> Stage:
    if n.params:
        raise MappingError(n.name, f"{n.op} with constant operand(s) {sorted(n.params)}: a constant stream "
                                   "source (ROM) for elementwise operators is not in mase_hwlib")
    if n.attrs.get("alpha", 1) not in (1, 1.0):
        raise MappingError(n.name, f"add with alpha={n.attrs['alpha']} has no operator")
    for v in operands:
        # the [rows, features] streams must agree (a reshape that keeps them, e.g. OPT's
        # [1, S, D] -> [S, D], is a no-op alias; a broadcast changes them)
        if v.shape != out.shape:
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
