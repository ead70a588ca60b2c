"""Mapping rules of block-minifloat (``mx_formats.BMF``) and block-logarithm (``mx_formats.BL``)
values: the paper's BMF8 / BL8 comparison rows.

A BMF / BL value streams as its blocks, exactly as an MXInt value does (one block per beat, tile
``(B0, B1)`` = (features, rows), row-major over the ``[rows, features]`` view); the beat's fields
are the element codes (``_data``) and the shared bias (``_bias``).

| node | stage |
|---|---|
| ``linear``: x, W (, b) in one BMF (BL) element format, result BMF (BL) | ``mase_bmf_linear`` (``mase_bl_linear``) |

(weights and bias in ROM.)

Tiles as ``mase_mxint_linear``'s: x block ``(BLOCK_K, X_ROWS)``, W blocked ``(BLOCK_K, OUT_TILE)``
along (in, out); the result's block ``(OUT_GROUP * OUT_TILE, X_ROWS)`` is ``OUT_GROUP`` output
tiles, which the module's quantizer rounds together (no re-blocking stage). The bias is re-cut
losslessly into ``(OUT_TILE,)`` blocks, or refused. Everything else with a BMF / BL operand or
result (other ops, mixed families, x / W / b in different element formats) raises
:class:`MappingError` naming what is missing.

Stages map for estimates, exact emulation and emit: the ROM images are ``mase_hwlib.rom_bmf``'s,
and a BMF / BL stream is wired as its ``_data`` (element codes) and ``_bias`` (shared bias) fields.
"""

from __future__ import annotations

from dataclasses import replace

import mx_formats as mxf
import numpy as np
from mase_hwlib import catalog
from mase_hwlib.golden import bmf as bmf_golden
from mase_ir import MaseGraph
from mase_ir.graph import bind_roles

from mase_passes.hardware.design import MappingError, Stage, StreamValue, _weight, block_stream_value, rom_path

__all__ = ["BLOCK_FLOAT_MODULES", "is_block_float", "involves_block_float", "stream_value", "map_node",
           "exact_stage", "element_lsb"]

BLOCK_FLOAT_MODULES = ("mase_bmf_linear", "mase_bl_linear")


def is_block_float(fmt) -> bool:
    return isinstance(fmt, (mxf.BMF, mxf.BL))


def involves_block_float(n, operands: list[StreamValue]) -> bool:
    """Does this node read, hold or produce a BMF / BL value?"""
    return (any(is_block_float(v.fmt) for v in operands) or is_block_float(n.result.element)
            or any(is_block_float(p.type.element) for p in n.params.values()))


def stream_value(node: str, name: str, shape, fmt) -> StreamValue:
    """A BMF / BL value as a stream of its blocks (the rules of an MXInt stream value)."""
    return block_stream_value(node, name, shape, fmt)


def _element(fmt) -> tuple:
    """The element format of a BMF / BL format, block aside."""
    return (type(fmt).__name__, fmt.exp_bits, getattr(fmt, "man_bits", 0), fmt.bias_bits)


def _with_block(fmt, block):
    if isinstance(fmt, mxf.BL):
        return mxf.BL(block, fmt.exp_bits, fmt.bias_bits)
    return mxf.BMF(block, fmt.exp_bits, fmt.man_bits, fmt.bias_bits)


def map_node(graph: MaseGraph, n, xs: list[StreamValue], values: dict) -> tuple[StreamValue, list[Stage]]:
    """The stages of a node with a BMF / BL operand, parameter or result (module table above)."""
    res = n.result.element
    if n.op != "linear":
        raise MappingError(n.name, f"op {n.op!r} with block-minifloat / block-logarithm values has no mase_hwlib "
                                   "operator (BMF / BL: linear only, mase_bmf_linear / mase_bl_linear)")
    bound = {role: (kind, ref) for role, kind, ref in bind_roles(n)}
    if bound["weight"][0] != "param":
        raise MappingError(n.name, "linear weight is an activation stream; mase_bmf_linear / mase_bl_linear hold "
                                   "constant weights in ROM")
    if bound.get("bias", ("none", None))[0] == "arg":
        raise MappingError(n.name, "bias is an activation stream; mase_bmf_linear / mase_bl_linear take a constant "
                                   "bias")
    x = xs[0]
    fw = n.params["weight"].type.element
    fb = n.params["bias"].type.element if "bias" in n.params else None
    formats = {"input": x.fmt, "weight": fw, "result": res, **({"bias": fb} if fb is not None else {})}
    if not all(is_block_float(f) for f in formats.values()) or len({type(f) for f in formats.values()}) != 1:
        raise MappingError(n.name, "a block-minifloat / block-logarithm linear needs input, weight, bias and result "
                                   f"all BMF or all BL, got {({k: str(f) for k, f in formats.items()})}")
    if len({_element(f) for f in (x.fmt, fw) + ((fb,) if fb is not None else ())}) != 1:
        raise MappingError(n.name, "mase_bmf_linear / mase_bl_linear take x, W and the bias in one element format "
                                   f"(exponent, fraction and bias bits); got x {x.fmt}, W {fw}"
                                   + (f", bias {fb}" if fb is not None else ""))
    log = isinstance(res, mxf.BL)
    module = "mase_bl_linear" if log else "mase_bmf_linear"
    if len(fw.block) > 2:
        raise MappingError(n.name, f"weight block {fw.block} has more than two axes")
    bk, xr = x.tile
    ot = fw.block[1] if len(fw.block) == 2 else 1
    fout, fin = n.params["weight"].type.shape
    if fw.block[0] != bk:
        raise MappingError(n.name, f"input block {x.fmt.block} has {bk} in_features per tile but weight block "
                                   f"{fw.block} has {fw.block[0]}; {module} needs one BLOCK_K")
    if fin % bk or fout % ot:
        raise MappingError(n.name, f"weight {[fout, fin]} is not whole {ot}x{bk} tiles")
    out = stream_value(n.name, n.name, n.result.shape, res)
    f0, r0 = out.tile
    if r0 != xr or f0 % ot or (fout // ot) % (f0 // ot):
        raise MappingError(n.name, f"result block {res.block} must be (k*OUT_TILE, X_ROWS) = (k*{ot}, {xr}) with k "
                                   f"dividing out_features / OUT_TILE = {fout // ot}: {module} rounds k output tiles "
                                   "into one block (there is no re-blocking operator for these formats)")
    params = dict(BLOCK_K=bk, X_ROWS=xr, OUT_TILE=ot, IN_TILES=fin // bk, OUT_TILES=fout // ot,
                  EXP_BITS=fw.exp_bits, BIAS_BITS=fw.bias_bits, HAS_BIAS=int(fb is not None),
                  OUT_EXP_BITS=res.exp_bits, OUT_BIAS_BITS=res.bias_bits, OUT_GROUP=f0 // ot,
                  WEIGHTS_IN_ROM=1, WEIGHT_FILE=rom_path(f"{n.name}_weight"))
    if not log:
        params.update(MAN_BITS=fw.man_bits, OUT_MAN_BITS=res.man_bits)
    if fb is not None:
        params["BIAS_FILE"] = rom_path(f"{n.name}_bias")
    try:
        resolved = catalog.get(module).resolve(params)
    except ValueError as exc:  # a parameter outside the module's legal range: say which
        raise MappingError(n.name, str(exc)) from None
    qw = mxf.quantize(_weight(graph, n, "weight"), fw, axes=(-1, -2) if len(fw.block) == 2 else (-1,))
    constants = {"weight": bmf_golden.block_beats(qw)}
    stage = Stage(n.name, n.name, "linear", module, params, {"x": x.name}, n.name,
                  roms={"WEIGHT_FILE": ({"bmf": constants["weight"], "el_width": resolved["EL_WIDTH"],
                                         "bias_bits": fw.bias_bits}, f"{n.name}_weight")},
                  constants=constants)
    if fb is not None:
        if fb.block[0] % ot:
            raise MappingError(n.name, f"bias block {fb.block} must hold a multiple of OUT_TILE = {ot} out_features")
        # the graph's bias values re-cut into OUT_TILE blocks: refused unless lossless
        b_graph = mxf.dequantize(mxf.quantize(_weight(graph, n, "bias"), _with_block(fb, (fb.block[0],)), axes=(-1,)))
        qb = mxf.quantize(b_graph.astype(np.float64), _with_block(fb, (ot,)), axes=(-1,))
        if not np.array_equal(mxf.dequantize(qb), b_graph):
            raise MappingError(n.name, f"bias in {fb} does not re-cut losslessly into {ot}-element blocks; use a "
                                       "bias block of OUT_TILE")
        constants["bias"] = bmf_golden.block_beats(qb)
        stage.roms["BIAS_FILE"] = ({"bmf": constants["bias"], "el_width": resolved["EL_WIDTH"],
                                    "bias_bits": fb.bias_bits}, f"{n.name}_bias")
    values[n.name] = out
    return out, [stage]


def _beats_values(beats: dict, fmt) -> np.ndarray:
    """Real values (float64, exact) of BMF / BL beats, ``(n, lanes)``."""
    e, m = fmt.exp_bits, getattr(fmt, "man_bits", 0)
    codes = np.asarray(beats["data"], dtype=np.int64)
    beta = np.asarray(beats["bias"], dtype=np.int64).reshape(-1, 1)
    sign = np.where((codes >> (e + m)) & 1, -1.0, 1.0)
    c, f = (codes >> m) & ((1 << e) - 1), codes & ((1 << m) - 1)
    if isinstance(fmt, mxf.BL):
        mag = np.where(c > 0, np.ldexp(1.0, (c - beta).astype(np.int32)), 0.0)
    else:
        mag = np.where(c > 0, np.ldexp(1.0 + f / 2.0 ** m, (c - beta).astype(np.int32)),
                       np.ldexp(f / 2.0 ** m, (1 - beta).astype(np.int32)))
    return sign * mag


def _untile(vals: np.ndarray, v: StreamValue) -> np.ndarray:
    """Beats (blocks row-major, lanes row-major over the (B1, B0) tile) -> the ``[rows, features]`` view."""
    rows, feats = v.shape
    f, r = v.tile
    return vals.reshape(rows // r, feats // f, r, f).transpose(0, 2, 1, 3).reshape(rows, feats)


def exact_stage(design, s: Stage, env: dict) -> mxf.MXArray:
    """Golden model of a BMF / BL linear stage on whole tensors (the ROM from the stage's constants)."""
    spec = catalog.get(s.module)
    p = spec.resolve(s.params)
    v = design.values[s.output]
    fn = bmf_golden.bl_linear if s.module == "mase_bl_linear" else bmf_golden.bmf_linear
    y = fn(p, {"x": bmf_golden.block_beats(env[s.inputs["x"]])}, weights=s.constants["weight"],
           bias=s.constants.get("bias"))["y"]
    values = _untile(_beats_values(y, v.fmt), v).reshape(v.graph_shape)
    q = mxf.quantize(values, v.fmt, axes=v.axes)
    # re-quantizing a block's own values gives the same codes (its maximum stays in the top binade)
    got = bmf_golden.block_beats(q)
    if not (np.array_equal(got["data"], y["data"]) and np.array_equal(got["bias"], y["bias"])):
        raise AssertionError(f"{s.name}: the golden output blocks do not round-trip through mx_formats")
    return q


def element_lsb(q: mxf.MXArray) -> np.ndarray:
    """Grid step at every element of a BMF / BL array (float64, the tensor's shape), the unit of the
    exact-vs-fast gap: BMF ``2^(max(c,1) - beta - M)``, the weight of the last fraction bit; BL
    ``2^(max(c,1) - beta)``, the element's own power (the grid doubles at every step)."""
    e, m = q.fmt.exp_bits, getattr(q.fmt, "man_bits", 0)
    codes = np.asarray(q.elements).astype(np.int64)
    lo = np.maximum((codes >> m) & ((1 << e) - 1), 1) << m  # sign +, exponent code max(c, 1), fraction 0

    def values(c):
        return mxf.dequantize(replace(q, elements=c.astype(q.elements.dtype))).astype(np.float64)

    return values(lo + 1) - values(lo) if m else values(lo)

