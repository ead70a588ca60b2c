"""Per-dimension quantization sensitivity and a bit allocation derived from it.

**Sensitivity.** For each dimension d of a :class:`~mase_passes.search_space.SearchSpace` and
each probe width m, quantize d at m while every other dimension stays at a high base width
(its upper end by default) and measure how far the output moves from the FP32 reference:

    D_d(m) = mean over outputs of KL(softmax(z_ref) || softmax(z_q))  -  the same at the base

(the output's last axis is the class or vocabulary axis; one KL per sample or token). KL of the
output distribution is far less noisy than accuracy on a small validation set (it sees every
logit, not only argmax flips), and for small perturbations it is additive over independent
error sources to first order, which the allocation below relies on.

**Allocation.** Minimise the predicted total damage sum_d D_d(m_d) subject to the
element-weighted mean width (eq. 1's mantissa part) staying within a budget. Between and
beyond the measured widths D_d is modelled as falling 4x per added bit (quantization noise
power scales as 2^(-2m)); the cost is forced non-increasing in m. The constrained problem is
solved by Lagrangian relaxation: for a multiplier lam each dimension independently takes

    m_d(lam) = argmin_m  D_d(m) + lam * numel_d * m / N

and lam is bisected to the smallest value whose assignment meets the budget. Every such
assignment is Pareto-optimal (no other assignment has both less damage and fewer bits); it
can leave a little budget unused where the exact knapsack optimum would not.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Mapping

import torch
from mase_ir import MaseGraph

from mase_passes.graphs import freeze_weights
from mase_passes.passes.evaluate import kl_to_reference, reference_logits
from mase_passes.passes.quantize import Quantize
from mase_passes.search_space import SearchSpace


def output_kl(graph: MaseGraph, batches: list, reference: list[torch.Tensor]) -> float:
    """Mean KL(reference || graph) of the softmax over the outputs' last axis."""
    run = freeze_weights(graph)
    total, count = 0.0, 0
    with torch.no_grad():
        for (inputs, _), ref in zip(batches, reference):
            s, n = kl_to_reference(run(**inputs), ref)
            total += s
            count += n
    return total / count


def sensitivity(graph: MaseGraph, batches: Iterable, space: SearchSpace, fmt: Callable[[int], object],
                probe: tuple[int, ...] = (2, 3), base: Mapping[str, int] | str | None = None,
                reference: list[torch.Tensor] | None = None,
                progress: Callable[[str, int, float], None] | None = None) -> dict[str, dict[int, float]]:
    """{dimension: {probe width: D_d(m)}} (see the module docstring); ``base`` gives the other
    dimensions' widths: a mapping, None (each at its upper end; ``len(dims) * len(probe) + 1``
    runs) or ``"fp32"``: every other tensor, fixed ones included, left unquantized, so a run
    rounds one dimension's tensors only (about the cost of an FP32 run instead of a fully
    quantized one) and the floor is 0 (``len(dims) * len(probe)`` runs)."""
    batches = list(batches)
    if not batches:
        raise ValueError("sensitivity: no batches")
    ref = reference if reference is not None else reference_logits(graph, batches)
    alone = base == "fp32"
    if isinstance(base, str) and not alone:
        raise ValueError(f"sensitivity: base must be a mapping, None or 'fp32', got {base!r}")
    base_params = {} if alone else dict(base) if base is not None else {d.name: d.hi for d in space.dims}

    def damage(params):
        if alone:  # only the probed dimension's tensors
            widths = {k: m for d in space.dims if d.name in params for k in d.keys for m in [params[d.name]]}
        else:
            widths = space.widths(params)
        q = Quantize(config=space.config(widths, fmt)).apply(graph)
        return output_kl(q, batches, ref)

    floor = 0.0 if alone else damage(base_params)
    out: dict[str, dict[int, float]] = {}
    for d in space.dims:
        out[d.name] = {}
        for m in probe:
            if not d.lo <= m <= d.hi:
                continue
            kl = damage({**base_params, d.name: m})
            out[d.name][m] = max(kl - floor, 0.0)
            if progress:
                progress(d.name, m, out[d.name][m])
    return out


def damage_curve(measured: Mapping[int, float], lo: int, hi: int) -> dict[int, float]:
    """D(m) for every m in [lo, hi] from the measured points: geometric interpolation between
    them, 4x per bit beyond them, 0 where nothing was measured, non-increasing in m."""
    pts = sorted((m, max(v, 0.0)) for m, v in measured.items())
    curve = {}
    for m in range(lo, hi + 1):
        if not pts:
            curve[m] = 0.0
            continue
        below = [p for p in pts if p[0] <= m]
        above = [p for p in pts if p[0] >= m]
        if below and above:
            (m0, v0), (m1, v1) = below[-1], above[0]
            if m0 == m1 or v0 <= 0 or v1 <= 0:
                v = v0 if m0 == m else (v1 if m1 == m else min(v0, v1))
            else:  # geometric: log D linear in m
                v = math.exp(math.log(v0) + (math.log(v1) - math.log(v0)) * (m - m0) / (m1 - m0))
        elif below:
            m0, v0 = below[-1]
            v = v0 * 4.0 ** (m0 - m)
        else:
            m1, v1 = above[0]
            v = v1 * 4.0 ** (m1 - m)
        curve[m] = v
    for m in range(lo + 1, hi + 1):  # noise must not make more bits look worse
        curve[m] = min(curve[m], curve[m - 1])
    return curve


def allocate(space: SearchSpace, damage: Mapping[str, Mapping[int, float]], budget: float,
             iterations: int = 100) -> dict[str, int]:
    """{dimension: width} minimising the predicted damage with mean mantissa <= ``budget``
    (Lagrangian relaxation, see the module docstring). Dimensions missing from ``damage``
    count as insensitive (D = 0)."""
    if budget < space.min_mean_mantissa() - 1e-9:
        raise ValueError(f"allocate: budget {budget} is below the smallest mean mantissa the space "
                         f"reaches ({space.min_mean_mantissa():.4f})")
    total = sum(space.numel.values())
    curves = {d.name: damage_curve(damage.get(d.name, {}), d.lo, d.hi) for d in space.dims}

    def pick(lam: float) -> dict[str, int]:
        # ties go to the wider format (min over (cost, -m))
        return {d.name: min(range(d.lo, d.hi + 1),
                            key=lambda m: (curves[d.name][m] + lam * d.numel * m / total, -m))
                for d in space.dims}

    def mean(params):
        return space.mean_mantissa(space.widths(params))

    if mean(pick(0.0)) <= budget:
        return pick(0.0)
    lo, hi = 0.0, 1.0
    while mean(pick(hi)) > budget:
        hi *= 2
        if hi > 1e12:  # cannot happen above min_mean_mantissa; guard against a silent hang
            raise RuntimeError("allocate: the multiplier did not converge")
    for _ in range(iterations):
        mid = (lo + hi) / 2
        if mean(pick(mid)) <= budget:
            hi = mid
        else:
            lo = mid
    return pick(hi)
