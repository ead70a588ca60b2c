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

Variants matched (whole encoders and decoders):

* **Masks** (also sdpa's boolean ``attn_mask``, the same masked softmax) between the scale and the softmax, ``%z2 = add(%z, %m)``: with ``%m =
  where(%mask, 0, fill)`` of a boolean ``%mask`` built on the host from the graph inputs (BERT's
  padding mask: cast, index, logical_and, expand; the mapping's host boundary) and ``fill <=
  MASK_FILL_MAX``, the softmax becomes ``mase_mxint_masked_softmax`` reading the ``[seq, seq]``
  booleans from a mask input port (one beat of seq bits per query row; the heads reuse it,
  ``MASK_REPEAT = heads``); with a constant ``%m`` of zeros and fills that is the causal mask
  (what the trace folds LLaMA's mask into), the rows come from ``mase_causal_mask``. Masked
  elements get probability exactly 0, as float softmax gives for ``-3.4e38``. The add keeps the
  scaled scores' widths (refused otherwise): the masked softmax reads them with no second rounding.
* **Rotary embeddings** on Q and K after the head split (``r cos + cat(-r[..., h:], r[..., :h])
  sin``, LLaMA), and K^T as ``transpose(2, 3)`` of the head-split (rotated) K: ``mase_mxint_rope``
  on the ``[seq, d_model]`` stream before the attention stages (hardware/decoder_map.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import mx_formats as mxf
import numpy as np
from mase_hwlib import attention as hw_attention
from mase_hwlib import streams

from mase_passes.hardware.design import MappingError, Stage, StreamValue, _stream_value, rom_path

__all__ = ["AttentionPattern", "find_attention", "plan_stages", "map_attention", "mask_stream_value", "run",
           "MASK_FILL_MAX"]


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
    mask: str | None = None      # the boolean [.., seq, seq] value (1 = attend) of a masked pattern
    mask_add: str | None = None  # the add of where(mask, 0, -large) (or of a constant mask) to the scores
    mask_const: object = None    # a constant additive mask as booleans [seq, seq] (the causal mask)
    q_rope: "Rope | None" = None  # rotary position embedding on Q / K (LLaMA), between head split and matmul
    k_rope: "Rope | None" = None


    @property
    def masked(self) -> bool:
        return self.mask is not None or self.mask_const is not None

    @property
    def mask_stream(self) -> str | None:
        """The design value carrying the mask rows: the host's boolean mask port, or the causal
        mask source's output for a constant (causal) mask."""
        if self.mask is not None:
            return self.mask
        return f"{self.out}__causal" if self.mask_const is not None else None


@dataclass
class Rope:
    """``q cos + rotate_half(q) sin`` on a head-split value (transformers' apply_rotary_pos_emb):
    ``out`` = the add node, ``cos`` / ``sin`` the constant tables ``[seq, head_dim]``."""

    out: str
    nodes: list[str]
    cos: np.ndarray
    sin: np.ndarray


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
        q_side = _q_side(graph, byname.get(m1.args[0].name), byname, users)
        k_side = _k_side(graph, byname.get(m1.args[1].name), byname, users)
        if q_side is None or k_side is None:
            continue
        (rq, q_rope, q_nodes), (rk, k_rope, k_nodes) = q_side, k_side
        mul = byname.get(_only_user(users, m1.name) or "")
        if mul is None or mul.op != "mul" or len(mul.args) != 1 or not isinstance(mul.attrs.get("other"), (int, float)):
            continue
        sm = byname.get(_only_user(users, mul.name) or "")
        mask = None
        if sm is not None and sm.op == "add":  # an additive attention mask between scale and softmax
            mask = _mask_add(graph, sm, mul.name, byname)
            if mask is None:
                continue
            sm = byname.get(_only_user(users, sm.name) or "")
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
        extra = [] if mask is None else [n for n in mask[1:3] if n is not None]
        found.append(AttentionPattern(
            q=rq.args[0].name, k=rk.args[0].name, v=rv.args[0].name,
            nodes=[*q_nodes, *k_nodes, rv.name, m1.name, mul.name, *extra, sm.name, m2.name, ro.name], out=ro.name,
            seq=seq, d_model=heads * dh, heads=heads, scale=float(mul.attrs["other"]),
            qk_fmt=m1.result.element, score_fmt=mul.result.element, p_fmt=sm.result.element,
            o_fmt=m2.result.element, mask=None if mask is None else mask[0],
            mask_add=None if mask is None else mask[1], mask_const=None if mask is None else mask[3],
            q_rope=q_rope, k_rope=k_rope))
    found += _find_sdpa(graph, users, byname)
    return found


def _users_within(users, name, allowed) -> bool:
    return set(users.get(name, [])) <= set(allowed)


def _match_rope(graph, add, byname, users) -> tuple["Rope", object] | None:
    """(Rope, head-split reorder) when ``add`` is ``r * cos + cat(-r[..., h:], r[..., :h]) * sin``."""
    if add is None or add.op != "add" or len(add.args) != 2 or add.params:
        return None
    a, b = (byname.get(x.name) for x in add.args)
    for mc, ms in ((a, b), (b, a)):
        if not all(m is not None and m.op == "mul" and len(m.args) == 1 and set(m.params) == {"other"}
                   for m in (mc, ms)):
            continue
        r = byname.get(mc.args[0].name)
        cat = byname.get(ms.args[0].name)
        if r is None or cat is None or cat.op != "cat" or len(cat.args) != 2 or cat.attrs.get("dim") not in (-1, 3):
            continue
        neg, lo = (byname.get(x.name) for x in cat.args)
        if neg is None or neg.op != "neg" or lo is None or lo.op != "slice":
            continue
        hi = byname.get(neg.args[0].name)
        if hi is None or hi.op != "slice" or hi.args[0].name != r.name or lo.args[0].name != r.name:
            continue
        d = r.result.shape[-1]
        if d % 2 or any(sl.attrs.get("dim") not in (-1, 3) for sl in (hi, lo)):
            continue
        if (lo.attrs.get("start", 0), min(lo.attrs.get("end", d), d)) != (0, d // 2):
            continue
        if (hi.attrs.get("start"), min(hi.attrs.get("end", d), d)) != (d // 2, d):
            continue
        inner = [mc.name, ms.name, cat.name, neg.name, lo.name, hi.name]
        mine = set(inner) | {add.name}
        if not all(_users_within(users, x, mine) for x in inner):
            continue
        cos, sin = (graph.weights[m.params["other"].path].detach().double().cpu().numpy() for m in (mc, ms))
        seq = r.result.shape[-2]
        if cos.shape[-2:] != (seq, d) or sin.shape[-2:] != (seq, d) or cos.size != seq * d or sin.size != seq * d:
            continue  # per-head or batched tables: not the rotary tables shared by every head
        return Rope(add.name, [*inner, add.name], cos.reshape(seq, d), sin.reshape(seq, d)), r
    return None


def _q_side(graph, node, byname, users):
    """(head-split reorder, Rope or None, nodes) of the first matmul's Q operand."""
    if _is_reorder(node):
        return node, None, [node.name]
    m = _match_rope(graph, node, byname, users)
    if m is not None and _is_reorder(m[1]) and _users_within(users, m[1].name, m[0].nodes):
        return m[1], m[0], [m[1].name, *m[0].nodes]
    return None


def _k_side(graph, node, byname, users):
    """(head-split reorder, Rope or None, nodes) of the K^T operand: a reorder [0,2,3,1] of K, or
    a transpose of the last two axes of the head-split (and possibly rotated) K."""
    if _is_reorder(node, [0, 2, 3, 1]):
        return node, None, [node.name]
    if node is None or node.op != "transpose" or len(node.args) != 1:
        return None
    if sorted(d % 4 for d in (node.attrs.get("dim0"), node.attrs.get("dim1"))) != [2, 3]:
        return None
    side = _q_side(graph, byname.get(node.args[0].name), byname, users)
    if side is None or not _users_within(users, node.args[0].name, [node.name]):
        return None
    return side[0], side[1], [*side[2], node.name]


# an additive mask value at or below this is a boolean mask: exp(score + MASK_FILL_MAX - max) is 0
# in float32 for any score the softmax's fixed-point grid can hold, so float softmax gives masked
# elements probability exactly 0, as the masked softmax does (transformers fills -3.4e38)
MASK_FILL_MAX = -1.0e4


def _mask_add(graph, add, scores: str, byname) -> tuple | None:
    """(boolean mask value, add node, where node, None) when ``add`` is
    ``scores + where(mask, 0, fill)`` with a host-built boolean mask and a fill of at most
    ``MASK_FILL_MAX``; (None, add node, None, booleans) when it adds a constant mask of zeros and
    fills (the causal mask the trace folds into a constant); else None."""
    if add.attrs.get("alpha", 1) not in (1, 1.0):
        return None
    if len(add.args) == 1 and add.args[0].name == scores and set(add.params) == {"other"}:
        c = graph.weights[add.params["other"].path].detach().double().cpu().numpy()
        if c.ndim < 2 or any(d != 1 for d in c.shape[:-2]) or not np.all((c == 0) | (c <= MASK_FILL_MAX)):
            return None
        return None, add.name, None, (c == 0).reshape(c.shape[-2:]).astype(np.int64)
    if len(add.args) != 2 or add.params:
        return None
    names = [a.name for a in add.args]
    if scores not in names:
        return None
    wh = byname.get(names[1 - names.index(scores)])
    if wh is None or wh.op != "where" or len(wh.args) != 1 or set(wh.params) != {"input"}:
        return None
    other = wh.attrs.get("other")
    if not isinstance(other, (int, float)) or other > MASK_FILL_MAX:
        return None
    keep_value = graph.weights[wh.params["input"].path]
    if keep_value.numel() != 1 or float(keep_value.reshape(-1)[0]) != 0.0:
        return None
    cond = wh.args[0].name
    if str(graph.value_type(cond).element) != "bool":
        return None
    return cond, add.name, wh.name, None


# the fused op has one result type: the widths of its intermediate tensors are these
SDPA_SCORE_MAN = 11   # Q K^T and the scaled scores (the softmax takes at most 15)
SDPA_P_MAN = 7        # the probabilities P


def _find_sdpa(graph, users, byname) -> list[AttentionPattern]:
    """``scaled_dot_product_attention(q, k, v[, attn_mask])`` (not causal; a mask only boolean, a
    host-built value) between head-split and head-merge reorders — what transformers' default
    (sdpa) attention traces to, with BERT's padding mask as ``attn_mask``."""
    found = []
    for n in graph.nodes:
        if n.op != "scaled_dot_product_attention" or len(n.args) not in (3, 4) or n.params:
            continue
        if n.attrs.get("is_causal") or n.attrs.get("dropout_p", 0.0) or n.attrs.get("enable_gqa"):
            continue
        mask = None
        if len(n.args) == 4:  # attn_mask: only a boolean one (True = attend), built on the host
            mask = n.args[3].name
            if str(graph.value_type(mask).element) != "bool":
                continue
        rq, rk, rv = (byname.get(a.name) for a in n.args[:3])
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
            p_fmt=fmt(SDPA_P_MAN), o_fmt=out, mask=mask, mask_add=n.name if mask is not None else None))
    return found


def plan_stages(graph, pat: AttentionPattern, q_fmt, k_fmt, v_fmt):
    """``mase_hwlib.attention.plan`` for the pattern (its softmax replaced by
    ``mase_mxint_masked_softmax`` when the pattern has a mask), and every stage's output beat
    count (from a golden run on zeros: the counts do not depend on the data)."""
    stages = hw_attention.plan(seq=pat.seq, d_model=pat.d_model, heads=pat.heads, q_fmt=q_fmt, k_fmt=k_fmt,
                               v_fmt=v_fmt, scale=pat.scale, qk_fmt=pat.qk_fmt, score_fmt=pat.score_fmt,
                               p_fmt=pat.p_fmt, out_fmt=pat.o_fmt)
    if pat.masked:
        stages = [_masked(s, q_fmt, pat.heads) if s.module == "mase_mxint_softmax" else s for s in stages]
    zeros = [mxf.quantize(np.zeros((pat.seq, pat.d_model)), f, axes=(-1, -2) if len(f.block) == 2 else (-1,))
             for f in (q_fmt, k_fmt, v_fmt)]
    ones = np.ones((pat.seq, pat.seq), dtype=np.int64) if pat.masked else None
    beats = hw_attention.run_beats(stages, *zeros, mask=ones)
    counts = {s.name: len(next(iter(beats[f"{s.name}.y"].values()))) for s in stages}
    return stages, counts


def _masked(softmax, q_fmt, heads: int):
    """The plan's softmax stage as a masked softmax reading the mask rows from ``"mask"``: the
    scores arrive per query tile (qb1 rows), once per head, so MASK_ROWS = qb1 and
    MASK_REPEAT = heads (one mask beat per query row and input)."""
    qb1 = q_fmt.block[1] if len(q_fmt.block) > 1 else 1
    params = dict(softmax.params, MASK_ROWS=qb1, MASK_REPEAT=heads)
    return hw_attention.Stage(softmax.name, "mase_mxint_masked_softmax", params, {**softmax.inputs, "mask": "mask"})


def run(stages, qq, qk, qv, out_fmt, shape, mask=None):
    """Golden run; the output as an MXArray in ``out_fmt`` (1-D or 2-D block) of ``shape``."""
    beats = hw_attention.run_beats(stages, qq, qk, qv, mask=mask)
    y = beats[f"{stages[-1].name}.y"]
    return streams.beats_to_mx(y, out_fmt, shape, (-1, -2) if len(out_fmt.block) == 2 else (-1,))


def mask_stream_value(graph, pat: AttentionPattern) -> StreamValue:
    """The boolean mask of a masked pattern as a hardware input: ``[seq, seq]`` (query row, key),
    one beat of seq one-bit lanes per query row (the masked softmax's mask rows); broadcast over
    batch 1 and the heads, so every leading axis must be 1."""
    shape = tuple(graph.value_type(pat.mask).shape)
    if len(shape) < 2 or shape[-2:] != (pat.seq, pat.seq) or any(d != 1 for d in shape[:-2]):
        raise MappingError(pat.mask_add, f"attention mask %{pat.mask} is {list(shape)}; the masked softmax takes "
                                         f"one [{pat.seq}, {pat.seq}] mask shared by the heads (batch 1)")
    return StreamValue(pat.mask, (pat.seq, pat.seq), None, shape, (pat.seq, 1, 0))


def map_attention(graph, n, pat, src, values: dict) -> list[Stage]:
    """The attention pattern ending at head-merge reorder ``n`` (see hardware/attention.py)."""
    from mase_hwlib import catalog

    q, k, v = (src(n.name, name) for name in (pat.q, pat.k, pat.v))
    pre: list[Stage] = []  # RoPE and the causal mask source, ahead of the attention stages
    for x in (q, k, v):
        if x.shape != (pat.seq, pat.d_model):
            raise MappingError(n.name, f"attention operand %{x.name} is {list(x.graph_shape)}, expected "
                                       f"[{pat.seq}, {pat.d_model}] (batch 1)")
    from mase_passes.hardware.decoder_map import map_causal_mask, map_rope

    if pat.q_rope is not None:
        q = map_rope(graph, pat.q_rope, q, pat.heads, values, pre)
    if pat.k_rope is not None:
        k = map_rope(graph, pat.k_rope, k, pat.heads, values, pre)
    if pat.mask_const is not None:
        map_causal_mask(pat, values, pre)
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
    if pat.masked and graph.node(pat.mask_add).op != "scaled_dot_product_attention":  # fused: no add of its own
        add_fmt = graph.node(pat.mask_add).result.element
        sf = pat.score_fmt
        if not isinstance(add_fmt, mxf.MXInt) or (add_fmt.man_bits, add_fmt.exp_bits) != (sf.man_bits, sf.exp_bits):
            raise MappingError(pat.mask_add, f"the masked scores' format {add_fmt} must have the scaled scores' "
                                             f"mantissa and exponent widths ({sf}): the masked softmax reads the "
                                             "scaled scores and applies the mask itself, with no second rounding")
    pv_fmt = pat.o_fmt
    need_cast = (pv_fmt.man_bits, pv_fmt.exp_bits) != (out.fmt.man_bits, out.fmt.exp_bits)
    names = {"q": q.name, "k": k.name, "v": v.name}
    if pat.masked:
        names["mask"] = src(n.name, pat.mask_stream).name
    stages: list[Stage] = list(pre)
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
                            group=(pat, hw_stages, dict(names))))
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
