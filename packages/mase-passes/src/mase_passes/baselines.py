"""Baseline quantization configs the paper compares MX formats against."""

from __future__ import annotations

import math

import mx_formats as mxf
from mase_ir import MaseGraph


def fixed_point_config(graph: MaseGraph, width: int = 8) -> dict:
    """Per-tensor fixed point (the paper's int8 baseline): ``Fixed(width, f)`` with the fraction
    bits f chosen so the profiled (activations) or actual (parameters) max |x| fits in ``width``
    signed bits: f = width - 1 - e where max|x| = m * 2^e, m in [0.5, 1) (frexp).

    Needs the profile pass's statistics on every float node."""
    def frac(amax: float) -> int:
        return width - 1 - (math.frexp(amax)[1] if amax > 0 else 0)

    nodes = {}
    for n in graph.nodes:
        if not n.result.is_float:
            continue
        st = n.sw.statistics
        if "max" not in st:
            raise ValueError(f"fixed-point baseline: node {n.name} has no profiled statistics; run profile first")
        out = {"data_out": str(mxf.Fixed(width, frac(max(abs(st["min"]), abs(st["max"])))))}
        for role, p in n.params.items():
            if p.type.is_float:
                out[role] = str(mxf.Fixed(width, frac(float(graph.weights[p.path].detach().abs().max()))))
        nodes[n.name] = out
    return {"node": nodes}
