"""Mapping rules of the decoder operators (LLaMA / OPT blocks) onto mase_hwlib:

* ``rms_norm`` -> ``mase_mxint_rms_norm`` -> ``mase_fixed_to_mxint`` -> ``mase_mxint_mul`` by
  gamma (``mase_mxint_rom_source``): layer_norm's chain (hardware/nonlinear_map.py) without the
  mean and the beta; the same fixed-point grids (``LN_*``).
* ``silu`` -> ``mase_mxint_silu`` -> ``mase_fixed_to_mxint``: gelu's chain, the same grid.
* rotary position embeddings inside an attention pattern (hardware/attention.py matches
  ``q cos + cat(-q[..., h:], q[..., :h]) sin`` on the head-split Q and K) ->
  ``mase_mxint_rope`` on the ``[seq, d_model]`` stream the linear produces (heads are column
  groups of it) -> ``mase_fixed_to_mxint`` into the rotated value's format. The cos / sin
  tables (constants of the trace: positions 0 .. seq-1) are rounded onto ``ROPE_C_FRAC``
  fraction bits and held in ROMs. One rounding for the whole rotation, where the graph rounds
  the two products, the halves and the sum: the gap is measured by emulate.compare.
* a constant causal mask added to the scores (the trace folds transformers' causal mask into a
  constant of zeros and -3.4e38) -> ``mase_causal_mask``, which generates the mask rows, into
  the masked softmax's mask stream. A constant mask that is not causal is refused.
* masked mean pooling (a sentence encoder's ``(h * m).mean(1) / m.mean(1)``, m the attention
  mask as 0/1 floats ``[1, seq, 1]``, built on the host) -> ``mase_mxint_masked_mean`` (the mask
  as one beat of seq bits per input) -> ``mase_fixed_to_mxint`` into the div's format: ``[1, d]``.
"""

from __future__ import annotations

import mx_formats as mxf
import numpy as np

from dataclasses import dataclass

from mase_passes.hardware.design import MappingError, Stage, StreamValue, _stream_value, rom_path

__all__ = ["map_rope", "map_causal_mask", "Pooling", "find_pooling", "map_pooling", "POOL_X_WIDTH", "POOL_X_FRAC",
           "POOL_OUT_WIDTH", "POOL_OUT_FRAC", "ROPE_X_WIDTH", "ROPE_X_FRAC", "ROPE_C_FRAC", "ROPE_OUT_WIDTH",
           "ROPE_OUT_FRAC"]

# RoPE grids: x (|q|, |k| < 128) with 12 fraction bits, the tables (|cos|, |sin| <= 1) with 14, the
# rotated output (|y| <= sqrt(2) |x|) as x's grid
ROPE_X_WIDTH, ROPE_X_FRAC, ROPE_C_FRAC = 20, 12, 14
ROPE_OUT_WIDTH, ROPE_OUT_FRAC = 21, 12


def map_rope(graph, rope, x: StreamValue, heads: int, values: dict, stages: list) -> StreamValue:
    """Stages of the rotary embedding ``rope`` (attention.Rope) on the [seq, d_model] stream ``x``;
    appends them to ``stages`` and returns the rotated stream (the value of the rope's add node,
    as a [seq, d_model] stream in that node's format)."""
    from mase_hwlib.golden.rope import rope_tables

    node = graph.node(rope.out)
    seq, d_model = x.shape
    d = d_model // heads
    out_fmt = node.result.element
    if not isinstance(out_fmt, mxf.MXInt):
        raise MappingError(rope.out, f"rotary embedding result has format {out_fmt}; mase_mxint_rope emits MXInt "
                                     "through mase_fixed_to_mxint only")
    out = _stream_value(rope.out, rope.out, (seq, d_model), mxf.MXInt(out_fmt.block, out_fmt.exp_bits,
                                                                      out_fmt.man_bits))
    lanes = x.tile[0]
    if x.tile[1] != 1 or out.tile != x.tile:
        raise MappingError(rope.out, f"rotary embedding needs one-row blocks (B0,) equal on input and output, got "
                                     f"{x.fmt.block} -> {out.fmt.block}")
    if (d // 2) % lanes:
        raise MappingError(rope.out, f"half a head ({d // 2} elements) is not whole blocks of {lanes}: "
                                     "mase_mxint_rope pairs whole beats half a head apart")
    if rope.cos.shape != (seq, d):
        raise MappingError(rope.out, f"rotary tables {list(rope.cos.shape)} are not [{seq}, {d}] (positions, head dim)")
    ci, si = rope_tables(rope.cos, rope.sin, ROPE_C_FRAC)
    if np.abs(ci).max() > 1 << ROPE_C_FRAC or np.abs(si).max() > 1 << ROPE_C_FRAC:
        raise MappingError(rope.out, "rotary tables exceed 1 in magnitude: they are not cos / sin tables")
    fx = StreamValue(f"{rope.out}__fixed", x.shape, None, x.shape, (lanes, ROPE_OUT_WIDTH, ROPE_OUT_FRAC))
    values[fx.name] = fx
    c_width = ROPE_C_FRAC + 2
    roms = {"COS_FILE": ({"data": ci.reshape(-1, lanes), "width": c_width}, f"{rope.out}_cos"),
            "SIN_FILE": ({"data": si.reshape(-1, lanes), "width": c_width}, f"{rope.out}_sin")}
    stages.append(Stage(f"{rope.out}_rope", rope.out, "rope", "mase_mxint_rope",
                        dict(BLOCK=lanes, EXP_BITS=x.fmt.exp_bits, MAN_BITS=x.fmt.man_bits, X_WIDTH=ROPE_X_WIDTH,
                             X_FRAC=ROPE_X_FRAC, ROW_BLOCKS=d_model // lanes, HEAD_BLOCKS=d // lanes, SEQ=seq,
                             C_FRAC=ROPE_C_FRAC, OUT_WIDTH=ROPE_OUT_WIDTH, OUT_FRAC=ROPE_OUT_FRAC,
                             COS_FILE=rom_path(f"{rope.out}_cos"), SIN_FILE=rom_path(f"{rope.out}_sin")),
                        {"x": x.name}, fx.name, roms=roms, constants={"cos": ci, "sin": si}))
    stages.append(Stage(f"{rope.out}_to_mxint", rope.out, "rope", "mase_fixed_to_mxint",
                        dict(BLOCK_0=lanes, BLOCK_1=1, ROW_BEATS=d_model // lanes, IN_WIDTH=ROPE_OUT_WIDTH,
                             IN_FRAC=ROPE_OUT_FRAC, IN_SIGNED=1, OUT_MAN=out.fmt.man_bits, OUT_EXP=out.fmt.exp_bits),
                        {"x": fx.name}, out.name))
    values[out.name] = out
    return out


def map_causal_mask(pat, values: dict, stages: list) -> StreamValue:
    """The causal mask source of a pattern whose scores get a constant mask (``pat.mask_const``,
    booleans [seq, seq]); refuses any other constant mask."""
    from mase_hwlib.golden.rope import causal_rows

    keep = np.asarray(pat.mask_const)
    if not np.array_equal(keep, causal_rows(pat.seq, pat.seq)):
        raise MappingError(pat.mask_add, "the constant attention mask is not the causal mask (row i keeps keys "
                                         "j <= i); mase_hwlib generates causal masks only (a padding mask enters "
                                         "as a boolean graph input)")
    name = pat.mask_stream
    v = StreamValue(name, (pat.seq, pat.seq), None, (pat.seq, pat.seq), (pat.seq, 1, 0))
    values[name] = v
    stages.append(Stage(f"{pat.out}_causal", pat.mask_add, "attention", "mase_causal_mask",
                        dict(SEQ=pat.seq, KEYS=pat.seq, OFFSET=0, REPEAT=0), {}, name))
    return v


# mean pooling grids: the input as the other non-linear operators', the mean with 12 fraction bits
POOL_X_WIDTH, POOL_X_FRAC, POOL_OUT_WIDTH, POOL_OUT_FRAC = 16, 8, 20, 12


@dataclass
class Pooling:
    """``div(mean(mul(h, m), [1]), mean(m, [1]))`` with ``m`` a host-built mask ``[1, rows, 1]``."""

    out: str
    nodes: list[str]
    h: str
    mask: str
    rows: int


def find_pooling(graph, host: set[str]) -> list[Pooling]:
    """Every masked mean pooling (see the module docstring) whose mask is a host value."""
    byname = {n.name: n for n in graph.nodes}
    users: dict[str, list[str]] = {}
    for n in graph.nodes:
        for a in n.args:
            users.setdefault(a.name, []).append(n.name)
    found = []
    for div in graph.nodes:
        if div.op != "div" or len(div.args) != 2 or div.params:
            continue
        mean_h, mean_m = (byname.get(a.name) for a in div.args)
        if not all(m is not None and m.op == "mean" and list(m.attrs.get("dim") or []) in ([1], [-2])
                   and len(m.args) == 1 and not m.attrs.get("keepdim") for m in (mean_h, mean_m)):
            continue
        mul = byname.get(mean_h.args[0].name)
        mask = mean_m.args[0].name
        if mul is None or mul.op != "mul" or len(mul.args) != 2 or mask not in host:
            continue
        names = [a.name for a in mul.args]
        if names[1] != mask and names[0] == mask:
            names.reverse()
        if names[1] != mask:
            continue
        shape = tuple(graph.value_type(mask).shape)
        hshape = tuple(graph.value_type(names[0]).shape)
        if len(hshape) != 3 or hshape[0] != 1 or shape != (1, hshape[1], 1):
            continue
        if users.get(mul.name) != [mean_h.name] or users.get(mean_h.name) != [div.name] \
                or users.get(mean_m.name) != [div.name]:
            continue
        found.append(Pooling(div.name, [mul.name, mean_h.name, mean_m.name, div.name], names[0], mask, hshape[1]))
    return found


def map_pooling(graph, pool: Pooling, src, values: dict) -> list[Stage]:
    """masked mean pooling -> mase_mxint_masked_mean -> mase_fixed_to_mxint (one rounding)."""
    h = src(pool.out, pool.h)
    mask = src(pool.out, pool.mask)
    node = graph.node(pool.out)
    out = _stream_value(pool.out, pool.out, node.result.shape, node.result.element)
    lanes = h.tile[0]
    if h.tile[1] != 1 or out.tile != h.tile:
        raise MappingError(pool.out, f"mean pooling needs one-row blocks (B0,) equal on input and output, got "
                                     f"{h.fmt.block} -> {out.fmt.block}")
    if h.shape != (pool.rows, out.shape[1]):
        raise MappingError(pool.out, f"mean pooling of {list(h.graph_shape)} into {list(out.graph_shape)}: expected "
                                     f"[1, {pool.rows}, d] -> [1, d]")
    fx = StreamValue(f"{pool.out}__fixed", out.shape, None, out.graph_shape, (lanes, POOL_OUT_WIDTH, POOL_OUT_FRAC))
    values[fx.name] = fx
    values[out.name] = out
    return [Stage(f"{pool.out}_mean", pool.out, "pool", "mase_mxint_masked_mean",
                  dict(BLOCK=lanes, ROW_BLOCKS=h.shape[1] // lanes, ROWS=pool.rows, EXP_BITS=h.fmt.exp_bits,
                       MAN_BITS=h.fmt.man_bits, X_WIDTH=POOL_X_WIDTH, X_FRAC=POOL_X_FRAC, OUT_WIDTH=POOL_OUT_WIDTH,
                       OUT_FRAC=POOL_OUT_FRAC), {"x": h.name, "mask": mask.name}, fx.name),
            Stage(f"{pool.out}_to_mxint", pool.out, "pool", "mase_fixed_to_mxint",
                  dict(BLOCK_0=lanes, BLOCK_1=1, ROW_BEATS=out.shape[1] // lanes, IN_WIDTH=POOL_OUT_WIDTH,
                       IN_FRAC=POOL_OUT_FRAC, IN_SIGNED=1, OUT_MAN=out.fmt.man_bits, OUT_EXP=out.fmt.exp_bits),
                  {"x": fx.name}, out.name)]
