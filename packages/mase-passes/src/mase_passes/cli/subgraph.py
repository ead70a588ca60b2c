"""The part of a graph that one module (and its children) computes, as a graph of its own.

``[hardware] scope`` names a module path (e.g. ``"head"``): the hardware stages then map only
the nodes whose module is that path or below it. The subgraph's inputs are the values its
nodes read from outside (with the types the full graph gives them, so the formats of the
chosen configuration carry over); its outputs are the values read outside it or returned by
the full graph. Sample inputs for simulation are the full graph's values at those inputs on
real data (one probing run of the full graph).
"""

from __future__ import annotations

import torch
from mase_ir import MaseGraph
from mase_ir.capture import capture

from mase_passes.passes.extract import Extract


def extract(graph: MaseGraph, scope: str) -> MaseGraph:
    """The sub-graph of the nodes under module ``scope`` (the registered extract pass)."""
    return Extract(scope=scope).apply(graph)


def sample_inputs(graph: MaseGraph, sub: MaseGraph, batch_inputs: dict) -> dict[str, torch.Tensor]:
    """The values the full ``graph`` computes at ``sub``'s inputs on one batch."""
    wanted = [i.name for i in sub.inputs]
    graph_inputs = {i.name for i in graph.inputs}
    if all(w in graph_inputs for w in wanted):
        return {w: batch_inputs[w] for w in wanted}
    with torch.no_grad():
        out = capture(graph, batch_inputs, [w for w in wanted if w not in graph_inputs])
    out.update({w: batch_inputs[w] for w in wanted if w in graph_inputs})
    return out
