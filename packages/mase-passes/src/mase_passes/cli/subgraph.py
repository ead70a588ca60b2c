"""The part of a graph that one module (and its children) computes, as a graph of its own.

``[hardware] scope`` names a module path (e.g. ``"head"``): the hardware stages then map only
the nodes whose module is that path or below it. The subgraph's inputs are the values its
nodes read from outside (with the types the full graph gives them, so the formats of the
chosen configuration carry over); its outputs are the values read outside it or returned by
the full graph. Sample inputs for simulation are the full graph's values at those inputs on
real data (one probing run of the full graph).
"""

from __future__ import annotations

import copy

import torch
from mase_ir import MaseGraph
from mase_ir.graph import Operand

from mase_passes.graphs import clone


class ScopeError(ValueError):
    """The scope selects no node, or a selection that does not form a sub-graph."""


def in_scope(module: str, scope: str) -> bool:
    return module == scope or module.startswith(scope + ".")


def extract(graph: MaseGraph, scope: str) -> MaseGraph:
    """The sub-graph of the nodes under module ``scope`` (shares weights with ``graph``)."""
    if scope == "model":
        return clone(graph)
    inside = [n for n in graph.nodes if in_scope(n.module or "", scope)]
    if not inside:
        modules = sorted({(n.module or "").split(".")[0] for n in graph.nodes} - {""})
        raise ScopeError(f"[hardware] scope = {scope!r} selects no node; top-level modules: {modules}")
    names = {n.name for n in inside}
    inputs: dict[str, Operand] = {}
    for n in inside:
        for a in n.args:
            if a.name not in names and a.name not in inputs:
                inputs[a.name] = Operand(a.name, graph.value_type(a.name))
    read_outside = {a.name for n in graph.nodes if n.name not in names for a in n.args}
    outputs = [n.name for n in inside if n.name in read_outside or n.name in graph.outputs]
    if not outputs:
        raise ScopeError(f"[hardware] scope = {scope!r}: no value of it is used outside it")
    paths = {p.path for n in inside for p in n.params.values()}
    weights = {k: v for k, v in graph.weights.items() if k in paths}
    sub = MaseGraph(list(inputs.values()), copy.deepcopy(inside), outputs, weights)
    sub.verify()
    return sub


def sample_inputs(graph: MaseGraph, sub: MaseGraph, batch_inputs: dict) -> dict[str, torch.Tensor]:
    """The values the full ``graph`` computes at ``sub``'s inputs on one batch."""
    wanted = [i.name for i in sub.inputs]
    graph_inputs = {i.name for i in graph.inputs}
    if all(w in graph_inputs for w in wanted):
        return {w: batch_inputs[w] for w in wanted}
    probe = clone(graph)
    probe.outputs = [w for w in wanted if w not in graph_inputs]
    with torch.no_grad():
        values = probe(**batch_inputs)
    values = values if isinstance(values, tuple) else (values,)
    out = dict(zip(probe.outputs, values))
    out.update({w: batch_inputs[w] for w in wanted if w in graph_inputs})
    return out
