"""Small helpers on MaseGraph shared by the passes: copies and the list of quantizable tensors."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import mx_formats as mxf
import torch
from mase_ir import MaseGraph
from mase_ir.quant import fake_quantize
from mase_ir.types import TensorType


def clone(graph: MaseGraph, copy_weights: bool = False) -> MaseGraph:
    """A copy whose structure (nodes, types, metadata) is independent of ``graph``.

    Weights are shared unless ``copy_weights`` (QAT trains them; PTQ never writes them, and
    sharing the 90 MB of MiniLM weights keeps a search trial cheap)."""
    weights = dict(graph.weights)
    if copy_weights:
        weights = {k: (torch.nn.Parameter(v.detach().clone()) if isinstance(v, torch.nn.Parameter)
                       else v.clone()) for k, v in weights.items()}
    return MaseGraph(copy.deepcopy(graph.inputs), copy.deepcopy(graph.nodes), list(graph.outputs), weights)


@dataclass(frozen=True)
class Slot:
    """One quantizable tensor: a node result (``role == 'data_out'``) or a parameter use."""

    node: str
    role: str
    type: TensorType

    @property
    def key(self) -> str:
        return f"{self.node}.{self.role}"


def slots(graph: MaseGraph) -> list[Slot]:
    """Every floating-point tensor the hardware holds: node results and parameter uses, in
    graph order (integer and boolean tensors are never quantized)."""
    out = []
    for n in graph.nodes:
        if n.result.is_float:
            out.append(Slot(n.name, "data_out", n.result))
        for role, p in n.params.items():
            if p.type.is_float:
                out.append(Slot(n.name, role, p.type))
    return out


def freeze_weights(graph: MaseGraph) -> MaseGraph:
    """A copy for inference in which every quantized parameter is rounded once, up front.

    The graph rounds parameters on every call; for evaluation over many batches that is
    wasted work (MiniLM's 30522x384 embedding table). The rounded copy holds the same values
    (fake quantization is idempotent) under ``path@format`` and its parameter type says f32,
    so the run does not round again. Use it only to run; bits are counted on the original."""
    g = clone(graph)
    for n in g.nodes:
        roles = {r.name: r for r in n.spec.roles}
        for role, p in n.params.items():
            if not p.type.is_quantized:
                continue
            axis = roles[role.split(".")[0]].block_axis
            key = f"{p.path}@{p.type.element}@{axis}"
            if key not in g.weights:
                with torch.no_grad():
                    g.weights[key] = fake_quantize(graph.weights[p.path].detach(), p.type.element, axis)
            p.path = key
            p.type = p.type.with_format(mxf.F32)
    return g

