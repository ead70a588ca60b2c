"""sensitivity: how much the output moves when one search dimension is narrowed (an analysis).

For each dimension d of the search space (built from ``mantissa``, ``ranges`` and ``group_by``
exactly as the search builds it) and each probe width m:

    D_d(m) = mean KL(softmax(z_FP32) || softmax(z_q))  -  the same with every dimension at its top

with d at m and the others at their upper ends (``base="top"``) or unquantized (``base="fp32"``:
cheaper, and the floor is 0), on the calibration batches (the math and why
KL: mase_passes.sensitivity). The report holds the space, the format rule and the damage table;
in a pipeline it is ``context.sensitivity``, where allocate reads it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from mase_ir import MaseGraph

from mase_passes.passes.options import option
from mase_passes.search_space import SearchSpace

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome


@dataclass(frozen=True)
class SensitivityReport:
    """{dimension: {probe width: D_d(m)}} over ``space``; ``fmt(m)`` is the probed format;
    ``seconds`` of wall clock (measured)."""

    space: SearchSpace
    damage: dict[str, dict[int, float]]
    fmt: Callable[[int], object]
    seconds: float


@dataclass(frozen=True)
class Sensitivity:
    """Analysis: the damage table of every search dimension (writes no node metadata)."""

    name = "sensitivity"
    kind = "analysis"
    mantissa: tuple[int, int] = option((2, 7), "inclusive range of mantissa widths per tensor")
    ranges: tuple[tuple[str, tuple[int, int]], ...] = option(
        (), "[regex, [lo, hi]] pairs on tensor labels, first match wins; lo == hi fixes the width")
    group_by: str | None = option(None, "regex: tensors whose labels agree outside its matches share one width")
    probe: tuple[int, ...] = option((3,), "widths each dimension is probed at")
    family: str = option("MXInt", "format family", choices=("MXInt", "BMF", "BL"))
    block: tuple[int, ...] = option((16, 2), "block shape")
    exponent: int = option(8, "shared exponent (or bias) width", at_least=1)
    base: str = option("top", '"top": the other dimensions at their upper ends; "fp32": every other tensor '
                              'unquantized (one dimension rounded per run: about half the cost on MiniLM)',
                       choices=("top", "fp32"))

    def fmt(self, m: int):
        from mase_passes.passes.search import _format
        return _format(self.family, self.block, self.exponent, m)

    def apply(self, graph: MaseGraph, batches, reference=None, progress=None) -> SensitivityReport:
        from mase_passes.sensitivity import sensitivity
        space = SearchSpace.build(graph, self.mantissa, self.ranges, self.group_by)
        start = time.perf_counter()
        damage = sensitivity(graph, batches, space, self.fmt, probe=self.probe, reference=reference,
                             progress=progress, base="fp32" if self.base == "fp32" else None)
        return SensitivityReport(space, damage, self.fmt, time.perf_counter() - start)

    def run(self, graph: MaseGraph, ctx) -> Outcome:
        """Pipeline contract: measured on ``ctx.calibration``; the report becomes ``ctx.sensitivity``;
        ``ctx.progress(done, total)`` after each of the ``dims x probes`` runs."""
        from mase_passes.pipeline import Outcome
        progress = None
        if ctx.progress is not None:
            space = SearchSpace.build(graph, self.mantissa, self.ranges, self.group_by)
            total = sum(d.lo <= m <= d.hi for d in space.dims for m in self.probe)
            done = [0]

            def progress(name, m, value):
                done[0] += 1
                ctx.progress(done[0], total)
        ctx.sensitivity = self.apply(graph, ctx.calibration, progress=progress)
        return Outcome(graph, ctx.sensitivity)
