"""allocate: mantissa widths under a budget from the sensitivity profile (an analysis).

Minimises the predicted damage sum_d D_d(m_d) subject to the element-weighted mean mantissa
<= ``budget`` by Lagrangian relaxation (mase_passes.sensitivity.allocate). The allocation at
``budget`` becomes the pipeline's chosen config (a later quantize applies it) and, with the
allocations at each of ``extra_budgets``, the seed trials of a later search, which starts from
them instead of from random trials alone. With ``narrow = [below, above]`` the search space is
narrowed around the allocation: each dimension searches [m_d - below, m_d + above], clipped to
its range (a regex matching exactly the dimension's tensor labels, after the search's own ranges).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mase_ir import MaseGraph

from mase_passes.passes.options import option

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome


@dataclass(frozen=True)
class AllocationReport:
    """{dimension: width} at ``budget`` and its element-weighted mean mantissa; the seeds."""

    budget: float
    widths: dict[str, int]
    mean_mantissa: float
    seeds: tuple[dict[str, int], ...]


@dataclass(frozen=True)
class Allocate:
    """Analysis: the budgeted allocation and search seeds from ``context.sensitivity``."""

    name = "allocate"
    kind = "analysis"
    budget: float = option(4.0, "largest element-weighted mean mantissa", positive=True)
    extra_budgets: tuple[float, ...] = option((), "further budgets whose allocations seed the search too")
    narrow: tuple[int, int] | None = option(None, "[below, above]: a later search looks at widths "
                                                  "m - below .. m + above around the allocation m")

    def apply(self, sensitivity) -> AllocationReport:
        from mase_passes.sensitivity import allocate
        space = sensitivity.space
        seeds = tuple(allocate(space, sensitivity.damage, b) for b in (self.budget, *self.extra_budgets))
        return AllocationReport(self.budget, seeds[0], space.mean_mantissa(space.widths(seeds[0])), seeds)

    def run(self, graph: MaseGraph, ctx) -> Outcome:
        """Pipeline contract: ``ctx.config`` = the allocation, ``ctx.seeds`` += every allocation."""
        from mase_passes.pipeline import Outcome, PipelineError
        if ctx.sensitivity is None:
            raise PipelineError("allocate: no sensitivity profile; run sensitivity before it")
        report = self.apply(ctx.sensitivity)
        space = ctx.sensitivity.space
        ctx.config = space.config(space.widths(report.widths), ctx.sensitivity.fmt)
        ctx.seeds = tuple(ctx.seeds) + report.seeds
        if self.narrow is not None:
            below, above = self.narrow
            narrowed = []
            for d in space.dims:
                m = report.widths[d.name]
                narrowed.append((dimension_regex(space, d), (max(d.lo, m - below), min(d.hi, m + above))))
            ctx.ranges = tuple(ctx.ranges) + tuple(narrowed)
        return Outcome(graph, report)


def dimension_regex(space, dim) -> str:
    """A regex matching exactly the labels of the tensors of ``dim`` (the ranges of a search
    match labels, mase_passes.search_space)."""
    return "^(?:" + "|".join(re.escape(space.labels[k]) for k in dim.keys) + ")$"
