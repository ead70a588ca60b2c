"""Raising passes over a traced MaseGraph: patterns of small MASE ops become one
module-level op. Each pass rewrites ``graph.nodes`` in place, keeps the name of the
last node it replaces, then renames it after its op (``rms_norm_2``), and computes
the same values.
"""

from __future__ import annotations

from typing import Any

from mase_ir.graph import MaseGraph, Node


def _name_after_op(graph: MaseGraph, fused: list[Node]) -> None:
    """Give fused nodes names after their op (``rms_norm``, ``reorder_3``) instead of
    the name of the ATen node they replaced, so the text reads as what it is."""
    taken = {i.name for i in graph.inputs} | {n.name for n in graph.nodes}
    for n in fused:
        k = 0
        while (name := n.op if k == 0 else f"{n.op}_{k}") in taken:
            k += 1
        taken.add(name)
        graph.rename(n.name, name)

def raise_rms_norm(graph: MaseGraph) -> None:
    """Raise LLaMA's decomposed RMSNorm to one ``rms_norm`` node.

    Pattern (HF LlamaRMSNorm, dtype no-ops already dropped):
        p = pow(x, 2); m = mean(p, dim=[-k..-1], keepdim); a = add(m, eps); r = rsqrt(a);
        y = mul(x, r); [z = mul(weight, y) or mul(y, weight)]
    where p, m, a, r, y have no other users. The result is
        rms_norm(x) [weight] {normalized_shape = trailing k dims, eps}
    which computes the same float32 arithmetic in the same order.
    """
    users: dict[str, list[Node]] = {}
    for n in graph.nodes:
        for a in n.args:
            users.setdefault(a.name, []).append(n)
    outputs = set(graph.outputs)

    def sole_user(n: Node, op: str) -> Node | None:
        us = users.get(n.name, [])
        if len(us) == 1 and us[0].op == op and n.name not in outputs:
            return us[0]
        return None

    removed: set[str] = set()
    replace: dict[str, Node] = {}
    for p in graph.nodes:
        if p.op != "pow" or p.attrs.get("exponent") != 2 or len(p.args) != 1 or p.params:
            continue
        x = p.args[0]
        m = sole_user(p, "mean")
        if m is None or not m.attrs.get("keepdim"):
            continue
        dims = m.attrs["dim"]
        k = len(dims)
        if sorted(d if d < 0 else d - len(x.type.shape) for d in dims) != list(range(-k, 0)):
            continue
        plus = sole_user(m, "add")
        if plus is None or not isinstance(plus.attrs.get("other"), float) or len(plus.args) != 1 \
                or "alpha" in plus.attrs:
            continue
        r = sole_user(plus, "rsqrt")
        if r is None:
            continue
        y = sole_user(r, "mul")
        if y is None or len(y.args) != 2 or y.args[0].name != x.name or y.params:
            continue
        w = sole_user(y, "mul")
        weight = None
        if w is not None and len(w.args) == 1 and len(w.params) == 1:
            role, weight = next(iter(w.params.items()))
            last = w
        else:
            last = y
        fused = Node(name=last.name, op="rms_norm", result=last.result, args=[x],
                     params={"weight": weight} if weight is not None else {},
                     attrs={"normalized_shape": list(x.type.shape[-k:]), "eps": plus.attrs["other"]},
                     module=y.module)
        chain = [p, m, plus, r, y] + ([last] if weight is not None else [])  # last is w then
        removed.update(c.name for c in chain)
        replace[last.name] = fused
    if not replace:
        return
    graph.nodes = [replace.get(n.name, n) for n in graph.nodes
                   if n.name not in removed or n.name in replace]
    _name_after_op(graph, list(replace.values()))

_MOVES = ("reshape", "transpose", "reorder", "unsqueeze", "squeeze")


def _as_steps(n: Node) -> list[tuple[str, list[int]]] | None:
    """A data-movement node as ('reshape', static shape) / ('perm', dims) steps."""
    if n.params or len(n.args) != 1:
        return None
    if n.op in ("reshape", "unsqueeze", "squeeze"):
        return [("reshape", list(n.result.shape))]
    rank = len(n.result.shape)
    if n.op == "transpose":
        dims = list(range(rank))
        a, b = n.attrs["dim0"] % rank, n.attrs["dim1"] % rank
        dims[a], dims[b] = dims[b], dims[a]
        return [("perm", dims)]
    if n.op == "reorder":
        steps = [("reshape", list(n.attrs["shape"]))] if "shape" in n.attrs else []
        steps.append(("perm", [d % rank for d in n.attrs["dims"]]))
        if "out_shape" in n.attrs:
            steps.append(("reshape", list(n.result.shape)))
        return steps
    return None


def _canonical(steps):
    """Merge adjacent reshapes (the last wins) and compose adjacent permutations;
    returns [reshape?, perm?, reshape?] or None if two permutations stay apart."""
    out: list[tuple[str, list[int]]] = []
    for kind, v in steps:
        if out and out[-1][0] == kind:
            if kind == "reshape":
                out[-1] = (kind, v)
            else:  # x.permute(p).permute(q) == x.permute([p[i] for i in q])
                out[-1] = (kind, [out[-1][1][i] for i in v])
        else:
            out.append((kind, v))
    out = [(k, v) for k, v in out if not (k == "perm" and v == sorted(v))]
    merged: list[tuple[str, list[int]]] = []
    for k, v in out:  # dropping an identity permutation can make reshapes adjacent again
        if merged and merged[-1][0] == k == "reshape":
            merged[-1] = (k, v)
        else:
            merged.append((k, v))
    kinds = [k for k, _ in merged]
    if kinds.count("perm") > 1:
        return None
    return merged


def fuse_data_movement(graph: MaseGraph) -> None:
    """Fuse chains of reshape / transpose / permute / (un)squeeze, each link the sole
    user of the previous one, into one node when the chain is
    ``reshape? -> permute? -> reshape?``: a ``reorder`` {shape, dims, out_shape}
    (or a single ``reshape``). In a dataflow design such a chain is one reorder
    buffer; e.g. attention's ``view -> transpose`` per projection becomes one node.
    The fused node takes the last node's result and module and is named after its op."""
    users: dict[str, int] = {}
    for n in graph.nodes:
        for a in n.args:
            users[a.name] = users.get(a.name, 0) + 1
    outputs = set(graph.outputs)
    by_name = {n.name: n for n in graph.nodes}
    chain_of: dict[str, list[Node]] = {}
    for n in graph.nodes:
        if n.op not in _MOVES or _as_steps(n) is None:
            continue
        prev = by_name.get(n.args[0].name)
        if (prev is not None and prev.name in chain_of and users.get(prev.name) == 1
                and prev.name not in outputs):
            chain = chain_of.pop(prev.name) + [n]
        else:
            chain = [n]
        chain_of[n.name] = chain
    removed: set[str] = set()
    replace: dict[str, Node] = {}
    for chain in chain_of.values():
        if len(chain) < 2:
            continue
        # Fuse the longest suffix-free prefix pieces greedily from the start.
        start = 0
        while start < len(chain) - 1:
            end = len(chain)
            while end - start >= 2:
                steps = [s for c in chain[start:end] for s in _as_steps(c) or ()]
                form = _canonical(steps)
                if form is not None:
                    break
                end -= 1
            if end - start < 2:
                start += 1
                continue
            first, last = chain[start], chain[end - 1]
            fused = _fused_node(first, last, form)
            removed.update(c.name for c in chain[start:end])
            replace[last.name] = fused
            start = end
    if replace:
        graph.nodes = [replace.get(n.name, n) for n in graph.nodes if n.name not in removed or n.name in replace]
        _name_after_op(graph, list(replace.values()))


def _fused_node(first: Node, last: Node, form) -> Node:
    kinds = [k for k, _ in form]
    def fused(op: str, attrs: dict[str, Any]) -> Node:
        return Node(name=last.name, op=op, result=last.result, args=[first.args[0]], attrs=attrs, module=last.module)

    if "perm" not in kinds:
        return fused("reshape", {"shape": list(last.result.shape)})
    attrs: dict[str, Any] = {}
    i = kinds.index("perm")
    if i == 1:
        attrs["shape"] = form[0][1]
    attrs["dims"] = form[i][1]
    if i + 1 < len(form):
        attrs["out_shape"] = form[i + 1][1]
    return fused("reorder", attrs)
