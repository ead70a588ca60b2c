"""transplant: the formats a pass chose on a sub-graph carried back into the full graph.

After ``extract`` and a pass that changes formats inside the sub-graph (parallelize widening
blocks, reblock), the full graph takes every node result and parameter format of the
sub-graph's nodes; nothing else changes. In a pipeline the full graph is the one the last
extract was taken from (``context.parent``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mase_ir import MaseGraph

from mase_passes.graphs import clone

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome


@dataclass(frozen=True)
class Transplant:
    """Transform: ``full`` (a copy) with the formats of ``part``'s nodes."""

    name = "transplant"
    kind = "transform"

    def apply(self, full: MaseGraph, part: MaseGraph) -> MaseGraph:
        g = clone(full)
        for n in part.nodes:
            if n.result.is_float and g.value_type(n.name).element != n.result.element:
                g.set_format(n.name, n.result.element)
            for role, p in n.params.items():
                if p.type.is_float and g.node(n.name).params[role].type.element != p.type.element:
                    g.set_param_format(n.name, role, p.type.element)
        return g

    def run(self, graph: MaseGraph, ctx) -> Outcome:
        """Pipeline contract: ``graph`` (a sub-graph) transplanted into ``ctx.parent``."""
        from mase_passes.pipeline import Outcome, PipelineError
        if ctx.parent is None:
            raise PipelineError("transplant: no full graph to carry the formats into; run extract before it")
        full, ctx.parent = ctx.parent, None
        return Outcome(self.apply(full, graph))
