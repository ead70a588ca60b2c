"""Multi-head self-attention of a traced BERT-style layer mapped onto ``mase_hwlib.attention``.

The pattern (what ``mase_ir.trace`` gives for eager attention, batch 1; the fused
``scaled_dot_product_attention`` without mask between the same reorders is matched too, its
intermediate widths being ``SDPA_SCORE_MAN`` / ``SDPA_P_MAN``)::

    %q  = reorder(%Q) {shape=[1,S,H,Dh], dims=[0,2,1,3]}      # heads split
    %kt = reorder(%K) {shape=[1,S,H,Dh], dims=[0,2,3,1]}      # heads split, K transposed
    %v  = reorder(%V) {shape=[1,S,H,Dh], dims=[0,2,1,3]}
    %s  = matmul(%q, %kt);  %z = mul(%s) {other=scale};  %p = softmax(%z) {dim=-1}
    %o  = matmul(%p, %v);   %out = reorder(%o) {dims=[0,2,1,3], out_shape=[1,S,H*Dh]}

becomes the stage list of ``mase_hwlib.attention.plan`` (replay buffers for the operand
orders, matmul, scale by a ROM constant, softmax, fixed -> MXInt, matmul) on the three linear
outputs ``%Q, %K, %V`` (each ``[S, D]`` streamed as the linear produces it) and yields
``%out`` as ``[S, D]`` with block ``(vb0, qb1)``. The head split/merge reorders cost nothing:
heads are column groups of the ``[S, D]`` streams, and the last matmul emits the concatenated
heads in row-major order. Formats: Q/K/V and the results of matmul, mul, softmax and the second
matmul give the widths (``plan``'s qk/score/p/out formats).
"""

from __future__ import annotations

from dataclasses import dataclass

import mx_formats as mxf
import numpy as np
from mase_hwlib import attention as hw_attention
from mase_hwlib import streams

from mase_passes.hardware.design import MappingError, Stage, StreamValue, _stream_value, rom_path

__all__ = ["AttentionPattern", "find_attention", "plan_stages", "map_attention"]


@dataclass
class AttentionPattern:
    q: str
    k: str
    v: str
    nodes: list[str]      # every IR node the pattern replaces
    out: str              # the head-merge reorder: its value is the attention output
    seq: int
    d_model: int
    heads: int
    scale: float
    qk_fmt: object        # formats of Q K^T, of the scaled scores, of P and of P V
    score_fmt: object
    p_fmt: object
    o_fmt: object


def _only_user(users, name):
    u = users.get(name, [])
    return u[0] if len(u) == 1 else None


HEADS = [0, 2, 1, 3]  # the permutation of a head split [b, s, h, d] -> [b, h, s, d] and of the merge


def _is_reorder(node, dims=HEADS) -> bool:
    return node is not None and node.op == "reorder" and list(node.attrs.get("dims", [])) == dims


def _head_split(reorder) -> tuple[int, int, int] | None:
    """(seq, heads, head dim) of the batch-1 view a head-split reorder permutes, else None."""
    shape = list(reorder.attrs.get("shape") or [])
    return tuple(shape[1:]) if len(shape) == 4 and shape[0] == 1 else None


def find_attention(graph) -> list[AttentionPattern]:
    """Every occurrence of the pattern above (matched from its first matmul)."""
    users: dict[str, list[str]] = {}
    for n in graph.nodes:
        for a in n.args:
            users.setdefault(a.name, []).append(n.name)
    byname = {n.name: n for n in graph.nodes}
    found = []
    for m1 in graph.nodes:
        if m1.op != "matmul" or len(m1.args) != 2 or m1.params:
            continue
        rq, rk = (byname.get(a.name) for a in m1.args)
        if not (_is_reorder(rq) and _is_reorder(rk, [0, 2, 3, 1])):
            continue
        mul = byname.get(_only_user(users, m1.name) or "")
        if mul is None or mul.op != "mul" or len(mul.args) != 1 or not isinstance(mul.attrs.get("other"), (int, float)):
            continue
        sm = byname.get(_only_user(users, mul.name) or "")
        if sm is None or sm.op != "softmax" or sm.attrs.get("dim") not in (-1, 3):
            continue
        m2 = byname.get(_only_user(users, sm.name) or "")
        if m2 is None or m2.op != "matmul" or len(m2.args) != 2 or m2.args[0].name != sm.name:
            continue
        rv = byname.get(m2.args[1].name)
        ro = byname.get(_only_user(users, m2.name) or "")
        if not (_is_reorder(rv) and _is_reorder(ro)) or (split := _head_split(rq)) is None:
            continue
        seq, heads, dh = split
        found.append(AttentionPattern(
            q=rq.args[0].name, k=rk.args[0].name, v=rv.args[0].name,
            nodes=[rq.name, rk.name, rv.name, m1.name, mul.name, sm.name, m2.name, ro.name], out=ro.name,
            seq=seq, d_model=heads * dh, heads=heads, scale=float(mul.attrs["other"]),
            qk_fmt=m1.result.element, score_fmt=mul.result.element, p_fmt=sm.result.element,
            o_fmt=m2.result.element))
    found += _find_sdpa(graph, users, byname)
    return found


# the fused op has one result type: the widths of its intermediate tensors are these
SDPA_SCORE_MAN = 11   # Q K^T and the scaled scores (the softmax takes at most 15)
SDPA_P_MAN = 7        # the probabilities P


def _find_sdpa(graph, users, byname) -> list[AttentionPattern]:
    """``scaled_dot_product_attention(q, k, v)`` (no mask, not causal) between head-split and
    head-merge reorders — what transformers' default (sdpa) attention traces to."""
    found = []
    for n in graph.nodes:
        if n.op != "scaled_dot_product_attention" or len(n.args) != 3 or n.params:
            continue
        if n.attrs.get("is_causal") or n.attrs.get("dropout_p", 0.0) or n.attrs.get("enable_gqa"):
            continue
        rq, rk, rv = (byname.get(a.name) for a in n.args)
        ro = byname.get(_only_user(users, n.name) or "")
        if not all(_is_reorder(r) for r in (rq, rk, rv, ro)) or (split := _head_split(rq)) is None:
            continue
        seq, heads, dh = split
        out = n.result.element
        if not isinstance(out, mxf.MXInt):
            continue  # left to the mapping's format error
        scale = n.attrs.get("scale")
        scale = float(scale) if scale is not None else 1.0 / float(np.sqrt(dh))
        fmt = lambda m: mxf.MXInt((1,), out.exp_bits, m)  # noqa: E731  (blocks are set by the dataflow)
        found.append(AttentionPattern(
            q=rq.args[0].name, k=rk.args[0].name, v=rv.args[0].name,
            nodes=[rq.name, rk.name, rv.name, n.name, ro.name], out=ro.name, seq=seq, d_model=heads * dh,
            heads=heads, scale=scale, qk_fmt=fmt(SDPA_SCORE_MAN), score_fmt=fmt(SDPA_SCORE_MAN),
            p_fmt=fmt(SDPA_P_MAN), o_fmt=out))
    return found


def plan_stages(graph, pat: AttentionPattern, q_fmt, k_fmt, v_fmt):
    """``mase_hwlib.attention.plan`` for the pattern, and every stage's output beat count
    (from a golden run on zeros: the counts do not depend on the data)."""
    stages = hw_attention.plan(seq=pat.seq, d_model=pat.d_model, heads=pat.heads, q_fmt=q_fmt, k_fmt=k_fmt,
                               v_fmt=v_fmt, scale=pat.scale, qk_fmt=pat.qk_fmt, score_fmt=pat.score_fmt,
                               p_fmt=pat.p_fmt, out_fmt=pat.o_fmt)
    zeros = [mxf.quantize(np.zeros((pat.seq, pat.d_model)), f, axes=(-1, -2) if len(f.block) == 2 else (-1,))
             for f in (q_fmt, k_fmt, v_fmt)]
    _, beats = hw_attention.run(stages, *zeros)
    counts = {s.name: len(next(iter(beats[f"{s.name}.y"].values()))) for s in stages}
    return stages, counts


def run(stages, qq, qk, qv, out_fmt, shape):
    """Golden run; the output as an MXArray in ``out_fmt`` (1-D or 2-D block) of ``shape``."""
    _, beats = hw_attention.run(stages, qq, qk, qv)
    y = beats[f"{stages[-1].name}.y"]
    return streams.beats_to_mx(y, out_fmt, shape, (-1, -2) if len(out_fmt.block) == 2 else (-1,))


def map_attention(graph, n, pat, src, values: dict) -> list[Stage]:
    """The attention pattern ending at head-merge reorder ``n`` (see hardware/attention.py)."""
    from mase_hwlib import catalog

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
