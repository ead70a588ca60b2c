"""profile: run calibration batches through a graph and record per-tensor statistics.

For every floating-point node result it stores in ``node.sw.statistics`` (SoftwareMeta):

    min, max, mean, variance   over all calibration elements (variance = E[x^2] - E[x]^2,
                               accumulated in float64 so it is exact to rounding)
    absmax_p<q>                the q-th percentile of |x| (numpy linear interpolation), for q
                               in ``percentiles``; computed on all elements when a tensor has at
                               most ``max_samples`` of them, otherwise on an evenly strided subset
    exp_<k>                    the fraction of nonzero elements whose exponent floor(log2|x|)
                               (from the float bits, frexp) equals k: the exponent histogram
    zero_fraction              fraction of exact zeros

``plot_variance`` draws the variance of every activation across the graph (paper Fig. 1a).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np
import torch
from mase_ir import MaseGraph
from mase_ir.capture import capture_batches

from mase_passes.passes.options import option

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome


@dataclass(frozen=True)
class ProfileReport:
    """What the profile pass measured: how many activations, on how many calibration batches."""

    activations: int
    batches: int
    variance_min: float
    variance_max: float


@dataclass(frozen=True)
class Profile:
    """Analysis: statistics of every float activation into ``node.sw.statistics``."""

    name = "profile"
    kind = "analysis"
    percentiles: tuple[float, ...] = option((99.0, 99.9), "percentiles q of |x| recorded as absmax_p<q>")
    max_samples: int = option(1_000_000, "elements per tensor kept for the percentiles (evenly strided)",
                              at_least=1)
    max_batches: int | None = option(None, "calibration batches used (none: all)", at_least=1)

    def run(self, graph: MaseGraph, ctx) -> Outcome:
        """Pipeline contract: profile on ``ctx.calibration``; the graph's metadata is written in place."""
        from mase_passes.pipeline import Outcome
        self.apply(graph, ctx.calibration)
        var = [n.sw.statistics["variance"] for n in graph.nodes if "variance" in n.sw.statistics]
        used = len(ctx.calibration) if self.max_batches is None else min(self.max_batches, len(ctx.calibration))
        return Outcome(graph, ProfileReport(len(var), used, min(var), max(var)))

    def apply(self, graph: MaseGraph, batches: Iterable) -> MaseGraph:
        """Fill ``sw.statistics`` of every float node of ``graph`` (in place) and return it.

        ``batches`` yields dicts of graph inputs, or ``(inputs, target)`` pairs."""
        for q in self.percentiles:
            if not 0 <= q <= 100:
                raise ValueError(f"profile: percentile {q} is outside [0, 100]")
        names = [n.name for n in graph.nodes if n.result.is_float]
        if not names:
            raise ValueError("profile: the graph has no floating-point node results")
        acc = {name: _Accumulator() for name in names}
        seen = 0
        with torch.no_grad():  # every activation recorded, one run per batch
            for values in capture_batches(graph, batches, names, self.max_batches):
                for name, v in values.items():  # statistics in numpy: a GPU value is copied to the host
                    acc[name].add(v.detach().float().reshape(-1).cpu().numpy())
                seen += 1
        if seen == 0:
            raise ValueError("profile: no calibration batches were given")
        for n in graph.nodes:
            if n.name in acc:
                n.sw.statistics.update(acc[n.name].statistics(self.percentiles, self.max_samples))
        return graph


class _Accumulator:
    def __init__(self):
        self.count = 0
        self.total = 0.0
        self.total_sq = 0.0
        self.lo = math.inf
        self.hi = -math.inf
        self.zeros = 0
        self.exponents: dict[int, int] = {}
        self.chunks: list[np.ndarray] = []

    def add(self, x: np.ndarray) -> None:
        x64 = x.astype(np.float64)
        self.count += x.size
        self.total += float(x64.sum())
        self.total_sq += float((x64 * x64).sum())
        self.lo = min(self.lo, float(x.min()))
        self.hi = max(self.hi, float(x.max()))
        nz = x[x != 0]
        self.zeros += x.size - nz.size
        # frexp gives |x| = f * 2^e with f in [0.5, 1): floor(log2|x|) = e - 1, exactly
        exps, counts = np.unique(np.frexp(nz)[1] - 1, return_counts=True)
        for e, c in zip(exps.tolist(), counts.tolist()):
            self.exponents[e] = self.exponents.get(e, 0) + c
        self.chunks.append(np.abs(x))

    def statistics(self, percentiles, max_samples) -> dict[str, float]:
        mean = self.total / self.count
        stats = {"min": self.lo, "max": self.hi, "mean": mean,
                 "variance": max(self.total_sq / self.count - mean * mean, 0.0),
                 "zero_fraction": self.zeros / self.count}
        absx = np.concatenate(self.chunks)
        if absx.size > max_samples:
            absx = absx[:: math.ceil(absx.size / max_samples)]
        for q in percentiles:
            stats[f"absmax_p{q:g}"] = float(np.percentile(absx, q))
        nonzero = self.count - self.zeros
        for e in sorted(self.exponents):
            stats[f"exp_{e}"] = self.exponents[e] / nonzero
        return stats


def plot_variance(graph: MaseGraph, path: str | Path, title: str = "activation variance") -> Path:
    """PNG of the profiled variance of every activation in graph order (log scale), coloured by op."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(n.name, n.op, n.sw.statistics["variance"]) for n in graph.nodes if "variance" in n.sw.statistics]
    if not rows:
        raise ValueError("plot_variance: no node has a profiled variance; run the profile pass first")
    fig, ax = plt.subplots(figsize=(10, 4))
    ops = sorted({op for _, op, _ in rows})
    for op in ops:
        xs = [i for i, r in enumerate(rows) if r[1] == op]
        ax.scatter(xs, [max(rows[i][2], 1e-12) for i in xs], s=12, label=op)
    ax.set_yscale("log")
    ax.set_xlabel("activation (graph order)")
    ax.set_ylabel("variance")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
