"""freeze_weights: every quantized parameter rounded once, up front, for inference.

The graph rounds parameters on every call; for evaluation over many batches that is wasted
work (MiniLM's 30522x384 embedding table). The copy holds the same values (fake quantization is
idempotent) under ``path@format@axis`` and its parameter types say f32, so a run does not round
again. Use it only to run: bits are counted on the graph before it (mase_passes.graphs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mase_ir import MaseGraph

from mase_passes.graphs import freeze_weights

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome


@dataclass(frozen=True)
class FreezeWeights:
    """Transform: a copy whose quantized parameters are stored already rounded."""

    name = "freeze_weights"
    kind = "transform"

    def apply(self, graph: MaseGraph) -> MaseGraph:
        return freeze_weights(graph)

    def run(self, graph: MaseGraph, ctx) -> Outcome:
        from mase_passes.pipeline import Outcome
        return Outcome(self.apply(graph))
