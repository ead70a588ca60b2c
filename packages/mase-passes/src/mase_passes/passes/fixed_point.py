"""fixed_point: the paper's int8 baseline, per-tensor fixed point from the profiled ranges.

Every float tensor becomes ``Fixed(width, f)`` with the fraction bits f chosen so the profiled
(activations) or actual (parameters) max |x| fits in ``width`` signed bits (see
mase_passes.baselines.fixed_point_config). Needs the profile pass's statistics on every node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mase_ir import MaseGraph

from mase_passes.baselines import fixed_point_config
from mase_passes.passes.options import option
from mase_passes.passes.quantize import Quantize, QuantizeReport

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome


@dataclass(frozen=True)
class FixedPoint:
    """Transform: a copy quantized to per-tensor fixed point (PTQ)."""

    name = "fixed_point"
    kind = "transform"
    width: int = option(8, "bits per element, sign included", at_least=2)

    def apply(self, graph: MaseGraph) -> MaseGraph:
        return Quantize(config=fixed_point_config(graph, self.width)).apply(graph)

    def run(self, graph: MaseGraph, ctx) -> Outcome:
        from mase_passes.bits import average_bits
        from mase_passes.pipeline import Outcome
        q = self.apply(graph)
        return Outcome(q, QuantizeReport(average_bits(q), "ptq", 0))
