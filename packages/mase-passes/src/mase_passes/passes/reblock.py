"""reblock: every linear under a scope gets the weight blocking the hardware linear chains.

``mase_mxint_linear`` streams X_ROWS x OUT_TILE output tiles; without this pass the hardware
mapping inserts a re-blocking stage wherever a linear's result block differs from its weight's.
With it, each MXInt linear's weight takes the block (input feature block, output feature block)
and its bias (output feature block,), where the input and output feature blocks are B[0] of the
linear's input and result formats; mantissa and exponent widths are kept. Non-MXInt formats are
left alone (the mapping then names them). The numbers change, so a flow scores the model again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mx_formats as mxf
from mase_ir import MaseGraph

from mase_passes.graphs import clone
from mase_passes.passes.extract import in_scope
from mase_passes.passes.options import option

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome


@dataclass(frozen=True)
class Reblock:
    """Transform: linears under ``scope`` take the blocking mase_mxint_linear chains."""

    name = "reblock"
    kind = "transform"
    scope: str = option("model", 'module path of the linears to reblock, or "model" for all of them')

    def apply(self, graph: MaseGraph) -> MaseGraph:
        """A copy of ``graph`` (weights shared) with the new parameter formats."""
        g = clone(graph)
        for n in g.nodes:
            if n.op != "linear" or not (self.scope == "model" or in_scope(n.module or "", self.scope)):
                continue
            x, out = g.value_type(n.args[0].name).element, n.result.element
            if not (isinstance(x, mxf.MXInt) and isinstance(out, mxf.MXInt)):
                continue
            for role, block in (("weight", (x.block[0], out.block[0])), ("bias", (out.block[0],))):
                p = n.params.get(role)
                if p is not None and isinstance(p.type.element, mxf.MXInt):
                    f = p.type.element
                    g.set_param_format(n.name, role, mxf.MXInt(block, f.exp_bits, f.man_bits))
        return g

    def run(self, graph: MaseGraph, ctx) -> Outcome:
        from mase_passes.pipeline import Outcome
        return Outcome(self.apply(graph))
