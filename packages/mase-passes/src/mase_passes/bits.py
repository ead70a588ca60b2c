"""Average bitwidth (paper eq. 1), per tensor and for a model.

For a block format the bits per element count the shared scale spread over its block:
MXInt(B, e, m) has e/prod(B) + m + 1 bits per element (``Format.bits_per_element``), so
MXInt((16,2),8,7) costs 8.25 bits. A model's average is weighted by element count over the
tensors the hardware holds (node results and parameter uses), f32 counting 32 bits:

    b = sum_i bits_i * numel_i / sum_i numel_i
"""

from __future__ import annotations

from dataclasses import dataclass

from mase_ir import MaseGraph

from mase_passes.graphs import slots


@dataclass(frozen=True)
class TensorBits:
    key: str
    format: str
    numel: int
    bits: float


def tensor_bits(graph: MaseGraph) -> list[TensorBits]:
    return [TensorBits(s.key, str(s.type.element), s.type.numel, s.type.element.bits_per_element)
            for s in slots(graph)]


def average_bits(graph: MaseGraph, weighted: bool = True) -> float:
    """Paper eq. 1 over the graph: element-weighted (default) or the plain mean over tensors."""
    rows = tensor_bits(graph)
    if not rows:
        raise ValueError("graph has no floating-point tensors to count bits over")
    if weighted:
        return sum(r.bits * r.numel for r in rows) / sum(r.numel for r in rows)
    return sum(r.bits for r in rows) / len(rows)
