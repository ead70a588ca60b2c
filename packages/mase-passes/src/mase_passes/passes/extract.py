"""extract: the part of a graph that one module (and its children) computes, as a graph of its own.

The sub-graph's nodes are those whose module is ``scope`` or below it; its inputs are the values
they read from outside (with the types the full graph gives them, so the formats of a chosen
configuration carry over); its outputs are the values read outside it or returned by the full
graph. Weights are shared with the full graph. ``scope = "model"`` is the whole graph (a copy).
In a pipeline the full graph is kept as ``context.parent``, where transplant finds it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mase_ir import MaseGraph
from mase_ir.graph import Operand

from mase_passes.graphs import clone
from mase_passes.passes.options import option

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome


class ScopeError(ValueError):
    """The scope selects no node, or a selection that does not form a sub-graph."""


def in_scope(module: str, scope: str) -> bool:
    return module == scope or module.startswith(scope + ".")


@dataclass(frozen=True)
class Extract:
    """Transform: the sub-graph of the nodes under module path ``scope``."""

    name = "extract"
    kind = "transform"
    scope: str = option("model", 'a module path (e.g. "encoder.encoder.layer.5.attention.output.dense"), '
                                 'or "model" for the whole graph')

    def apply(self, graph: MaseGraph) -> MaseGraph:
        if self.scope == "model":
            return clone(graph)
        inside = [n for n in graph.nodes if in_scope(n.module or "", self.scope)]
        if not inside:
            modules = sorted({(n.module or "").split(".")[0] for n in graph.nodes} - {""})
            raise ScopeError(f"[hardware] scope = {self.scope!r} selects no node; top-level modules: {modules}")
        names = {n.name for n in inside}
        inputs: dict[str, Operand] = {}
        for n in inside:
            for a in n.args:
                if a.name not in names and a.name not in inputs:
                    inputs[a.name] = Operand(a.name, graph.value_type(a.name))
        read_outside = {a.name for n in graph.nodes if n.name not in names for a in n.args}
        outputs = [n.name for n in inside if n.name in read_outside or n.name in graph.outputs]
        if not outputs:
            raise ScopeError(f"[hardware] scope = {self.scope!r}: no value of it is used outside it")
        paths = {p.path for n in inside for p in n.params.values()}
        weights = {k: v for k, v in graph.weights.items() if k in paths}
        sub = MaseGraph(list(inputs.values()), copy.deepcopy(inside), outputs, weights)
        sub.verify()
        return sub

    def run(self, graph: MaseGraph, ctx) -> Outcome:
        """Pipeline contract: the sub-graph; the full graph is kept as ``ctx.parent``."""
        from mase_passes.pipeline import Outcome
        ctx.parent = graph
        return Outcome(self.apply(graph))
