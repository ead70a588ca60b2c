"""Mapping rules of fixed-point values (``mx_formats.Fixed``: the int8 baseline, "MP int") and of
the casts between fixed point and MXInt.

A Fixed value streams as tiles of ``(features, rows)`` lanes (lane ``r*features + c``, tiles
row-major over the ``[rows, features]`` view), exactly as an MXInt value streams its blocks —
but fixed point has no block, so the tile is a hardware choice:

* a graph input: the tile its first fixed-point consumer asks for in its ``node.hw`` (a linear's
  ``parallelism = (X_ROWS, OUT_TILE, BLOCK_K)``, an elementwise node's ``tile``; parallelize
  writes them), else ``DEFAULT_LANES`` features (the largest power of two <= 4 that divides
  the feature count) by one row;
* a linear's result: ``(OUT_TILE, X_ROWS)``, OUT_TILE from the node's ``hw.parallelism`` or
  the default rule, X_ROWS = the input's rows;
* an elementwise result: its operand's tile.

Rules (docs/hardware.md, section "Fixed point"):

| operands | result | stages |
|---|---|---|
| Fixed x, Fixed W (, b) | Fixed | ``mase_fixed_linear`` (ROM weights / bias) |
| Fixed | Fixed | ``mase_fixed_relu`` / ``mase_fixed_add`` / (streaming-order node) ``mase_fixed_cast`` |
| Fixed | MXInt | the fixed operator into its exact result, then ``mase_fixed_to_mxint`` (tile = block) |
| MXInt | Fixed | relu: ``mase_mxint_relu`` (exact) + ``mase_mxint_block_to_fixed``; reshape etc.: the latter |

so each mixed edge rounds once. Anything else that mixes the families (a linear with MXInt x and
Fixed weights, an MXInt add with a Fixed result, Fixed gelu / layer_norm / mul) is refused with
:class:`MappingError`.

Range report: where the profile pass left ``node.sw.statistics`` (min / max) on a Fixed value,
a format whose integer part cannot hold the profiled range is reported (:func:`range_warnings`), as
is a weight or bias whose Fixed format cannot hold its values; nothing wraps silently (the
operators saturate).
"""

from __future__ import annotations

import mx_formats as mxf
import numpy as np
from mase_hwlib import catalog
from mase_hwlib.golden import fixed as fixed_golden
from mase_ir import MaseGraph
from mase_ir.graph import bind_roles

from mase_passes.hardware.design import (MappingError, Stage, StreamValue, _fixed_stream_value, _rows_features,
                                         _weight, rom_path)

__all__ = ["DEFAULT_LANES", "FIXED_MODULES", "is_fixed", "involves_fixed", "input_tile", "map_fixed_node",
           "map_fixed_streaming", "tiles", "untile", "to_beats", "from_beats", "exact_stage", "values_of",
           "range_warnings", "set_tile_hint"]

#: features per beat of a fixed-point stream that nothing else decides (a power of two dividing the features)
DEFAULT_LANES = 4
FIXED_MODULES = ("mase_fixed_linear", "mase_fixed_relu", "mase_fixed_add", "mase_fixed_cast", "mase_fixed_matmul",
                 "mase_mxint_block_to_fixed")
_FIXED_OPS = ("linear", "relu", "add")
# mase_fixed_to_mxint's input limits (catalog): an exact intermediate wider than this is refused
_TO_MX_MAX_WIDTH, _TO_MX_FRAC = 40, (0, 64)


def is_fixed(fmt) -> bool:
    return isinstance(fmt, mxf.Fixed)


def _default_features(n: int) -> int:
    f = DEFAULT_LANES
    while f > 1 and n % f:
        f //= 2
    return f


def involves_fixed(n, operands: list[StreamValue]) -> bool:
    """Does this node read, hold or produce a fixed-point value?"""
    return (any(v.fixed is not None for v in operands) or is_fixed(n.result.element)
            or any(is_fixed(p.type.element) for p in n.params.values()))


def _hint(n, kind: str):
    """A node's recorded tile choice (parallelize writes it; a stale or foreign one is only a hint)."""
    hw = n.hw
    if kind == "linear" and hw.parallelism is not None and len(hw.parallelism) == 3:
        return tuple(hw.parallelism)  # (X_ROWS, OUT_TILE, BLOCK_K)
    if kind == "tile" and hw.tile is not None and len(hw.tile) in (1, 2):
        return (hw.tile[0], hw.tile[1] if len(hw.tile) == 2 else 1)
    return None


def input_tile(graph: MaseGraph, name: str, shape) -> tuple[int, int]:
    """Tile (features, rows) of a Fixed graph input: its consumers' hint, else the default rule."""
    rows, feats = _rows_features(name, tuple(shape))
    inner = shape[-2] if len(shape) >= 2 else 1
    for n in graph.nodes:
        if name not in [a.name for a in n.args]:
            continue
        if n.op == "linear" and (h := _hint(n, "linear")):
            f, r = h[2], h[0]
        elif (h := _hint(n, "tile")):
            f, r = h
        else:
            continue
        if f >= 1 and r >= 1 and feats % f == 0 and rows % r == 0 and inner % r == 0:
            return f, r
    return _default_features(feats), 1


def set_tile_hint(graph: MaseGraph, value: str, *, features: int | None = None, rows: int | None = None) -> None:
    """Record a new tile for a Fixed value where :func:`input_tile` / the linear rule read it:
    on the consumers of a graph input (features and rows), on the producing linear (features)."""
    import dataclasses

    def put(n, f, r, out_tile=None):
        if n.op == "linear":
            fout, fin = n.params["weight"].type.shape
            xr, ot, bk = _hint(n, "linear") or (1, _default_features(fout), _default_features(fin))
            n.hw = dataclasses.replace(n.hw, parallelism=(r or xr, out_tile or ot, f or bk))
        else:
            t = _hint(n, "tile") or (1, 1)
            n.hw = dataclasses.replace(n.hw, tile=(f or t[0], r or t[1]))

    if value in {i.name for i in graph.inputs}:
        if features is None or rows is None:  # keep the other extent as the mapping sees it now
            f0, r0 = input_tile(graph, value, graph.value_type(value).shape)
            features, rows = features or f0, rows or r0
        for n in graph.nodes:
            if value in [a.name for a in n.args]:
                put(n, features, rows)
        return
    n = graph.node(value)
    if n.op == "linear" and features is not None:
        put(n, None, None, out_tile=features)


# ---- beats <-> [rows, features] integer arrays ---------------------------------------------------

def tiles(arr: np.ndarray, f: int, r: int) -> np.ndarray:
    """``[rows, features]`` -> beats ``(n, r*f)``, tiles row-major over the grid, lane r*f + c."""
    rows, feats = arr.shape
    return arr.reshape(rows // r, r, feats // f, f).transpose(0, 2, 1, 3).reshape(-1, r * f)


def untile(beats: np.ndarray, shape: tuple[int, int], f: int, r: int) -> np.ndarray:
    """Inverse of :func:`tiles`."""
    rows, feats = shape
    return np.asarray(beats).reshape(rows // r, feats // f, r, f).transpose(0, 2, 1, 3).reshape(rows, feats)


def to_beats(value, v: StreamValue) -> dict:
    """An environment value (Fixed: int array ``v.shape``; MXInt: MXArray) as stream beats."""
    from mase_hwlib import streams

    if v.fixed is not None:
        return {"data": tiles(np.asarray(value, dtype=np.int64).reshape(v.shape), *v.tile)}
    return streams.mx_to_beats(value)


def from_beats(beats: dict, v: StreamValue):
    from mase_hwlib import streams

    if v.fixed is not None:
        return untile(beats["data"], v.shape, *v.tile)
    return streams.beats_to_mx(beats, v.fmt, v.shape, v.axes)


def values_of(value, v: StreamValue) -> np.ndarray:
    """Real values (float64) of an environment value."""
    if v.fixed is not None:
        return np.asarray(value, dtype=np.float64) * 2.0 ** -v.fixed[2]
    return mxf.dequantize(value).astype(np.float64)


def exact_stage(design, s: Stage, env: dict):
    """Golden model of one fixed-point or bridge stage on whole tensors (the ROM of a linear from
    the stage's constants, not from the file the RTL reads)."""
    spec = catalog.get(s.module)
    p = spec.resolve(s.params)
    ins = {port: to_beats(env[val], design.values[val]) for port, val in s.inputs.items()}
    if s.module == "mase_fixed_linear":
        y = fixed_golden.linear(p, ins, weights=s.constants["weight"], bias=s.constants.get("bias"))["y"]
    else:
        y = spec.golden(p, ins)["y"]
    return from_beats(y, design.values[s.output])


# ---- mapping rules ------------------------------------------------------------------------------

def _fixed_out(n, fmt: mxf.Fixed, tile) -> StreamValue:
    return _fixed_stream_value(n.name, n.name, n.result.shape, fmt, tile)


def _inner(n, x: StreamValue, width: int, frac: int, tile, what: str) -> StreamValue:
    """The exact intermediate of a fixed operator whose result is MXInt (one rounding, in the cast)."""
    if width > _TO_MX_MAX_WIDTH or width > 32 or not _TO_MX_FRAC[0] <= frac <= _TO_MX_FRAC[1]:
        raise MappingError(n.name, f"{what} into {n.result.element}: the exact fixed-point intermediate "
                                   f"Fixed({width},{frac}) is beyond mase_fixed_to_mxint's input (at most 32 bits, "
                                   f"fraction bits {_TO_MX_FRAC[0]}..{_TO_MX_FRAC[1]}); give the result a Fixed format")
    return StreamValue(f"{n.name}__fixed", x.shape, None, tuple(n.result.shape), (tile[0], width, frac), tile[1])


def _to_mxint(n, inner: StreamValue, out: StreamValue) -> Stage:
    if inner.tile != out.tile:
        raise MappingError(n.name, f"fixed-point tile {inner.tile} (features, rows) differs from the result's MXInt "
                                   f"block {out.fmt.block}: mase_fixed_to_mxint turns one tile into one block")
    f, r = out.tile
    _, width, frac = inner.fixed
    return Stage(f"{n.name}_to_mxint", n.name, n.op, "mase_fixed_to_mxint",
                 dict(BLOCK_0=f * r, BLOCK_1=1, ROW_BEATS=1, IN_WIDTH=width, IN_FRAC=frac, IN_SIGNED=1,
                      OUT_MAN=out.fmt.man_bits, OUT_EXP=out.fmt.exp_bits), {"x": inner.name}, n.name)


def _to_fixed(n, x: StreamValue, out: StreamValue, name: str) -> Stage:
    f, r = x.tile
    return Stage(name, n.name, n.op, "mase_mxint_block_to_fixed",
                 dict(BLOCK_0=f, BLOCK_1=r, IN_MAN=x.fmt.man_bits, IN_EXP=x.fmt.exp_bits, OUT_WIDTH=out.fixed[1],
                      OUT_FRAC=out.fixed[2]), {"x": x.name}, out.name)


def map_fixed_node(graph: MaseGraph, n, xs: list[StreamValue], values: dict, mx_out) -> tuple[StreamValue, list[Stage]]:
    """Stages of a compute node that reads, holds or produces a Fixed value (see the module table).
    ``mx_out(name, shape, fmt)`` builds an MXInt stream value. Returns (result value, stages)."""
    res = n.result.element
    if n.op not in _FIXED_OPS:
        raise MappingError(n.name, f"op {n.op!r} with fixed-point operands or result has no mase_hwlib operator "
                                   f"(fixed point: {list(_FIXED_OPS)}, and casts)")
    if all(v.fixed is None for v in xs):  # MXInt operands, Fixed result (or Fixed parameters)
        if n.op != "relu" or not is_fixed(res):
            raise MappingError(n.name, f"{n.op} of MXInt operands with a {res} result (or Fixed parameters): mixed "
                                       "MXInt / fixed-point operators are not built; only relu and streaming-order "
                                       "nodes cast MXInt into fixed point (give the result an MXInt format and "
                                       "cast in a following relu/reshape, or quantize the operands as Fixed)")
        x = xs[0]
        mid = StreamValue(f"{n.name}__mx", x.shape, x.fmt, x.graph_shape)
        values[mid.name] = mid
        f, r = x.tile
        out = _fixed_out(n, res, x.tile)
        relu = Stage(f"{n.name}_relu", n.name, "relu", "mase_mxint_relu",
                     dict(BLOCK_0=f, BLOCK_1=r, IN_MAN=x.fmt.man_bits, IN_EXP=x.fmt.exp_bits,
                          OUT_MAN=x.fmt.man_bits, OUT_EXP=x.fmt.exp_bits), {"x": x.name}, mid.name)
        return out, [relu, _to_fixed(n, mid, out, f"{n.name}_to_fixed")]
    if any(v.fixed is None for v in xs):
        raise MappingError(n.name, f"{n.op} mixes fixed-point and MXInt operands "
                                   f"({[str(v.fmt) if v.fmt else 'Fixed' for v in xs]}); cast one first")
    if n.op == "linear":
        return _map_linear(graph, n, xs[0], values, mx_out)
    return _map_elementwise(n, xs, values, mx_out)


def _map_linear(graph: MaseGraph, n, x: StreamValue, values: dict, mx_out):
    bound = {role: (kind, ref) for role, kind, ref in bind_roles(n)}
    if bound["weight"][0] != "param":
        raise MappingError(n.name, "linear weight is an activation stream; mase_fixed_linear holds constant weights")
    fw = n.params["weight"].type.element
    if not is_fixed(fw):
        raise MappingError(n.name, f"linear with a fixed-point input needs a Fixed weight, got {fw}")
    fout, fin = n.params["weight"].type.shape
    bk, xr = x.tile
    res = n.result.element
    if isinstance(res, mxf.MXInt):
        out = mx_out(n.name, n.result.shape, res)
        ot = out.tile[0]
        if out.tile[1] != xr:
            raise MappingError(n.name, f"result block {res.block} has {out.tile[1]} rows but the fixed-point input "
                                       f"tiles have {xr}: the linear's output tile is (OUT_TILE, X_ROWS)")
    else:
        hint = _hint(n, "linear")
        ot = hint[1] if hint and hint[1] >= 1 and fout % hint[1] == 0 else _default_features(fout)
        out = None
    if fin % bk or fout % ot:
        raise MappingError(n.name, f"weight {[fout, fin]} is not whole {ot}x{bk} tiles")
    kind = bound.get("bias", ("none", None))[0]
    if kind == "arg":
        raise MappingError(n.name, "bias is an activation stream; mase_fixed_linear takes a constant bias")
    fb = n.params["bias"].type.element if kind == "param" else None
    if fb is not None and not is_fixed(fb):
        raise MappingError(n.name, f"linear with a fixed-point input needs a Fixed bias, got {fb}")
    has_bias = int(fb is not None)
    acc = fixed_golden.dot_accumulator(x.fixed[1], x.fixed[2], fw.width, fw.frac, fin, has_bias,
                                       fb.width if fb else 2, fb.frac if fb else 0)
    if out is None:
        lin_out = out = _fixed_out(n, res, (ot, xr))
    else:
        lin_out = _inner(n, x, acc["ACC_WIDTH"], acc["ACC_FRAC"], (ot, xr), "linear")
        values[lin_out.name] = lin_out
    params = dict(BLOCK_K=bk, X_ROWS=xr, OUT_TILE=ot, IN_TILES=fin // bk, OUT_TILES=fout // ot,
                  X_WIDTH=x.fixed[1], X_FRAC=x.fixed[2], W_WIDTH=fw.width, W_FRAC=fw.frac,
                  HAS_BIAS=has_bias, B_WIDTH=fb.width if fb else 8, B_FRAC=fb.frac if fb else 4,
                  OUT_WIDTH=lin_out.fixed[1], OUT_FRAC=lin_out.fixed[2], WEIGHTS_IN_ROM=1,
                  WEIGHT_FILE=rom_path(f"{n.name}_weight"))
    qw = mxf.quantize(_weight(graph, n, "weight"), fw).mantissas().astype(np.int64)
    wt = tiles(qw, bk, ot)  # W [out, in] blocked (BK along in, OT along out): tile (o, k), lane c*BK + kk
    stage = Stage(n.name, n.name, "linear", "mase_fixed_linear", params, {"x": x.name}, lin_out.name,
                  roms={"WEIGHT_FILE": ({"data": wt, "width": fw.width}, f"{n.name}_weight")},
                  constants={"weight": wt, "weight_int": qw})
    if has_bias:
        qb = mxf.quantize(_weight(graph, n, "bias"), fb).mantissas().astype(np.int64)
        bt = qb.reshape(fout // ot, ot)
        params["BIAS_FILE"] = rom_path(f"{n.name}_bias")
        stage.roms["BIAS_FILE"] = ({"data": bt, "width": fb.width}, f"{n.name}_bias")
        stage.constants.update(bias=bt, bias_int=qb)
    stages = [stage]
    if lin_out is not out:
        stages.append(_to_mxint(n, lin_out, out))
    return out, stages


def _map_elementwise(n, xs: list[StreamValue], values: dict, mx_out):
    if n.params:
        raise MappingError(n.name, f"{n.op} with constant operand(s) {sorted(n.params)}: no constant stream source "
                                   "for fixed-point operators")
    if n.attrs.get("alpha", 1) not in (1, 1.0):
        raise MappingError(n.name, f"add with alpha={n.attrs['alpha']} has no operator")
    tile = xs[0].tile
    for v in xs:
        if v.graph_shape != tuple(n.result.shape):
            raise MappingError(n.name, f"operand %{v.name} {list(v.graph_shape)} broadcasts to "
                                       f"{list(n.result.shape)}; the streaming operators take equal shapes only")
        if v.tile != tile:
            raise MappingError(n.name, f"operands stream different fixed-point tiles {[u.tile for u in xs]}")
    res = n.result.element
    f, r = tile
    if n.op == "relu":
        params = dict(BLOCK=f * r, IN_WIDTH=xs[0].fixed[1], IN_FRAC=xs[0].fixed[2])
        exact = (xs[0].fixed[1], xs[0].fixed[2])
        ports = {"x": xs[0].name}
    else:
        if xs[0].name == xs[1].name:
            raise MappingError(n.name, "both operands are one value (x op x): a stage reading one stream twice "
                                       "is not built")
        params = dict(BLOCK=f * r, A_WIDTH=xs[0].fixed[1], A_FRAC=xs[0].fixed[2], B_WIDTH=xs[1].fixed[1],
                      B_FRAC=xs[1].fixed[2])
        d = catalog.get("mase_fixed_add").derive({**params, "OUT_WIDTH": 32, "OUT_FRAC": 0})
        exact = (d["SUM_WIDTH"], d["SUM_FRAC"])
        ports = {"a": xs[0].name, "b": xs[1].name}
    module = "mase_fixed_relu" if n.op == "relu" else "mase_fixed_add"
    if is_fixed(res):
        out = _fixed_out(n, res, tile)
        params.update(OUT_WIDTH=res.width, OUT_FRAC=res.frac)
        return out, [Stage(n.name, n.name, n.op, module, params, ports, n.name)]
    out = mx_out(n.name, n.result.shape, res)
    inner = _inner(n, xs[0], exact[0], exact[1], tile, n.op)
    values[inner.name] = inner
    params.update(OUT_WIDTH=exact[0], OUT_FRAC=exact[1])
    return out, [Stage(f"{n.name}_{n.op}", n.name, n.op, module, params, ports, inner.name), _to_mxint(n, inner, out)]


def map_fixed_streaming(n, x: StreamValue, values: dict, mx_out):
    """A streaming-order node inside the graph where operand or result is Fixed: a no-op (alias,
    returns the operand's name), a ``mase_fixed_cast``, or a cast across the families."""
    res = n.result.element
    if x.fixed is not None and is_fixed(res):
        out = _fixed_stream_value(n.name, n.name, tuple(n.result.shape), res, x.tile)
        if (res.width, res.frac) == x.fixed[1:]:
            return x.name
        values[n.name] = out
        f, r = x.tile
        return Stage(f"{n.name}_cast", n.name, "cast", "mase_fixed_cast",
                     dict(BLOCK=f * r, IN_WIDTH=x.fixed[1], IN_FRAC=x.fixed[2], OUT_WIDTH=res.width,
                          OUT_FRAC=res.frac), {"x": x.name}, n.name)
    if x.fixed is not None:  # Fixed -> MXInt
        out = mx_out(n.name, tuple(n.result.shape), res)
        values[n.name] = out
        return _to_mxint(n, x, out)
    out = _fixed_stream_value(n.name, n.name, tuple(n.result.shape), res, x.tile)  # MXInt -> Fixed
    values[n.name] = out
    return _to_fixed(n, x, out, f"{n.name}_cast")


# ---- range report -------------------------------------------------------------------------------

def _saturates(lo: float, hi: float, fmt: mxf.Fixed) -> bool:
    """Can the integer part of ``fmt`` not hold [lo, hi]? That is ``[-2^(W-1-F), 2^(W-1-F))``: a value
    beyond it saturates by at least one LSB. (A value in the top half LSB below 2^(W-1-F) also clamps,
    to the top code, with an error under one LSB, like rounding; fixed_point_config's rule allows it.)"""
    top = 1 << (fmt.width - 1)
    return hi * 2.0 ** fmt.frac >= top or lo * 2.0 ** fmt.frac < -top


def _range(fmt: mxf.Fixed) -> str:
    top = 1 << (fmt.width - 1)
    return f"[{-top * 2.0 ** -fmt.frac:g}, {(top - 1) * 2.0 ** -fmt.frac:g}]"


def range_warnings(graph: MaseGraph) -> list[str]:
    """One line per Fixed value (with profiled min/max) or Fixed weight/bias whose format saturates
    part of its range: node, format, the range it holds and the range it must hold."""
    out = []
    for n in graph.nodes:
        fmt = n.result.element
        st = n.sw.statistics if n.sw is not None else {}
        if is_fixed(fmt) and "min" in st and "max" in st and _saturates(st["min"], st["max"], fmt):
            out.append(f"%{n.name}: {fmt} holds {_range(fmt)} but the profiled range is "
                       f"[{st['min']:.6g}, {st['max']:.6g}]: values beyond it saturate (integer part too short)")
        for role, p in n.params.items():
            if is_fixed(p.type.element):
                w = graph.weights[p.path].detach().double()
                lo, hi = float(w.min()), float(w.max())
                if _saturates(lo, hi, p.type.element):
                    out.append(f"%{n.name} {role}: {p.type.element} holds {_range(p.type.element)} but the values "
                               f"span [{lo:.6g}, {hi:.6g}]: they saturate (integer part too short)")
    return out
