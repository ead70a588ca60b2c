"""evaluate: task metric, average bits and the search objective of one quantized graph.

Metrics on batches of ``(inputs, target)``:

* ``accuracy`` — argmax of the logits equals the integer label (classification);
* ``perplexity`` — causal LM: exp of the mean next-token cross-entropy, target = input ids,
  positions where ``attention_mask`` is 0 ignored;
* ``agreement`` — fraction of argmax predictions equal to a reference (FP32) graph's;
* ``kl`` — with a reference, the mean over samples (tokens, for a causal LM) of
  KL(softmax(z_ref) || softmax(z)) over the output's last axis: unlike accuracy and agreement
  it sees every logit, so it still ranks configurations whose argmax decisions all agree
  (e.g. on the glosses a classifier head was fitted on).

The objective is paper eq. 4, ``acc + k/b + k' * theta/theta_ref + k'' * A_ref/A``, where
``acc`` is the quality term chosen by ``quality``: the task metric (accuracy, or -log
perplexity), the agreement, or -KL (higher is better in every case); b the average bits
(eq. 1, element-weighted), theta the throughput in inputs per second and A the area in LUTs.
``throughput_reference`` (theta_ref) and ``area_reference`` (A_ref) make both hardware terms
dimensionless: with the references of a reference design, ``k''`` is the score a design of
the reference's area earns and a design half its size earns ``2 k''`` (the ``mase`` command
uses the uniform configuration at the top of the searched mantissa range, see
mase_passes.cli.hwsearch); both default to 1, i.e. raw inputs/s and LUTs. They come from

* the caller (``throughput=``, ``area=``), or
* with ``hardware=True``, the hardware estimate of the graph as mapped onto mase_hwlib
  (:func:`hardware_terms`: theta = inputs per second at ``clock_mhz`` of the slowest stage,
  A = LUTs predicted by ``mase_cost.CostModel.default()`` summed over the stages). A graph
  that cannot be mapped, or one with a stage the cost model does not cover, gets no number
  for that term, and ``hardware_note`` says why;

a term whose input is None is left out of the sum and reported as None.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import torch
from mase_ir import MaseGraph

from mase_passes.bits import average_bits
from mase_passes.graphs import freeze_weights
from mase_passes.passes.options import option

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome

METRICS = ("accuracy", "perplexity")
QUALITIES = ("metric", "agreement", "kl")


@dataclass(frozen=True)
class EvalResult:
    metric: str
    value: float           # accuracy in [0, 1] or perplexity
    average_bits: float
    agreement: float | None
    throughput: float | None
    area: float | None
    objective: float
    hardware_note: str | None = None
    kl: float | None = None  # mean output KL to the reference (None without one)


@dataclass(frozen=True)
class Evaluate:
    """Options: ``metric`` (accuracy or perplexity), eq. 4 weights ``k`` (bits), ``k_throughput``
    (k'), ``k_area`` (k''), ``throughput_reference`` / ``area_reference`` (the theta and A that
    count as 1, see the module docstring), ``quality``: the eq. 4 quality term, "metric" (accuracy, or
    -log(perplexity), so higher is better in both cases), "agreement" or "kl" (-KL; both need a
    reference)."""

    name = "evaluate"
    kind = "analysis"
    metric: str = option("accuracy", '"accuracy" (argmax = label) or "perplexity" (next-token)', choices=METRICS)
    k: float = option(0.0, "eq. 4 weight of 1/bits")
    k_throughput: float = option(0.0, "eq. 4 weight of the throughput theta / throughput_reference")
    k_area: float = option(0.0, "eq. 4 weight of area_reference / A")
    hardware: bool = option(False, "take theta and A from the parallelize estimate of the graph")
    clock_mhz: float = option(200.0, "clock of the hardware estimate", positive=True)
    quality: str = option("metric", 'eq. 4 quality term: "metric", "agreement" or "kl" (-KL) with the FP32 '
                                    "reference", choices=QUALITIES)
    throughput_reference: float = option(1.0, "inputs/s that count as theta = 1 in eq. 4", positive=True)
    area_reference: float = option(1.0, "LUTs that count as A = 1 in eq. 4", positive=True)

    def run(self, graph: MaseGraph, ctx) -> Outcome:
        """Pipeline contract: score ``graph`` on ``ctx.evaluation`` against ``ctx.reference``
        (metric from ``ctx.metric`` when set); the report is the EvalResult."""
        from mase_passes.pipeline import Outcome
        ev = dataclasses.replace(self, metric=ctx.metric) if ctx.metric else self
        return Outcome(graph, ev.apply(graph, ctx.evaluation, reference=ctx.reference))

    def __post_init__(self):
        for name in ("throughput_reference", "area_reference"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"evaluate: {name} must be a positive finite number, got {v!r}")
        if self.metric not in METRICS:
            raise ValueError(f"evaluate: metric must be one of {METRICS}, got {self.metric!r}")
        if self.quality not in QUALITIES:
            raise ValueError(f"evaluate: quality must be one of {QUALITIES}, got {self.quality!r}")

    def apply(self, graph: MaseGraph, batches: Iterable, reference: MaseGraph | list | None = None,
              throughput: float | None = None, area: float | None = None) -> EvalResult:
        """Evaluate ``graph``; ``reference`` is the FP32 graph or its precomputed logits per
        batch (:func:`reference_logits`, so a search runs the reference once)."""
        batches = list(batches)
        if not batches:
            raise ValueError("evaluate: no batches")
        run = freeze_weights(graph)
        ref = reference_logits(reference, batches) if isinstance(reference, MaseGraph) else reference
        if ref is not None and len(ref) != len(batches):
            raise ValueError(f"evaluate: {len(ref)} reference logits for {len(batches)} batches")
        if ref is None and self.quality != "metric":
            raise ValueError(f"evaluate: quality {self.quality!r} compares with the FP32 outputs; pass reference=")
        agree = total = 0
        kl_sum, kl_count = 0.0, 0
        correct = 0
        nll = 0.0
        tokens = 0
        with torch.no_grad():
            for i, (inputs, target) in enumerate(batches):
                logits = run(**inputs)
                check_finite(logits, f"batch {i}")
                if ref is not None:
                    k_s, k_n = kl_to_reference(logits, ref[i])
                    kl_sum += k_s
                    kl_count += k_n
                if self.metric == "accuracy":
                    pred = logits.argmax(-1)
                    correct += int((pred == target).sum())
                    total += target.numel()
                    if ref is not None:
                        agree += int((ref[i].argmax(-1) == pred).sum())
                else:
                    s, n = _next_token_nll(logits, target, inputs.get("attention_mask"))
                    nll += s
                    tokens += n
                    if ref is not None:
                        pred = logits[:, :-1].argmax(-1)
                        agree += int((ref[i][:, :-1].argmax(-1) == pred).sum())
                        total += pred.numel()
        if self.metric == "accuracy":
            value = correct / total
        else:
            if tokens == 0:
                raise ValueError("evaluate: no target tokens (all masked)")
            value = math.exp(nll / tokens)
        agreement = agree / total if ref is not None else None
        kl = kl_sum / kl_count if ref is not None else None
        bits = average_bits(graph)
        note = None
        if self.hardware and (throughput is None or area is None):
            thr_hw, area_hw, note = hardware_terms(graph, self.clock_mhz)
            throughput = thr_hw if throughput is None else throughput
            area = area_hw if area is None else area
        quality = self.quality_term(value, agreement, kl)
        return EvalResult(self.metric, value, bits, agreement, throughput, area,
                          self.objective(quality, bits, throughput, area), note, kl)

    def quality_term(self, value: float, agreement: float | None, kl: float | None) -> float:
        """The ``acc`` of eq. 4 (higher is better): see ``quality``."""
        if self.quality == "agreement":
            return agreement
        if self.quality == "kl":
            return -kl
        return value if self.metric == "accuracy" else -math.log(value)

    def objective(self, quality: float, bits: float, throughput: float | None = None,
                  area: float | None = None) -> float:
        """Paper eq. 4: quality + k/b + k' * theta/theta_ref + k'' * A_ref/A (theta in inputs/s,
        A in LUTs; missing hardware terms left out)."""
        value = quality + self.k / bits
        if throughput is not None:
            value += self.k_throughput * throughput / self.throughput_reference
        if area is not None:
            if area <= 0:
                raise ValueError(f"evaluate: area must be positive, got {area}")
            value += self.k_area * self.area_reference / area
        return value


def reference_logits(graph: MaseGraph, batches: list) -> list[torch.Tensor]:
    """The outputs of ``graph`` on each batch (the FP32 reference for agreement)."""
    run = freeze_weights(graph)
    out = []
    with torch.no_grad():
        for i, (inputs, _) in enumerate(batches):
            out.append(run(**inputs))
            check_finite(out[-1], f"reference, batch {i}")
    return out


def kl_to_reference(out: torch.Tensor, ref: torch.Tensor) -> tuple[float, int]:
    """(sum over rows of KL(softmax(ref) || softmax(out)), number of rows); rows = every index
    but the last axis, which holds the classes or the vocabulary."""
    p = ref.float().log_softmax(-1).reshape(-1, ref.shape[-1])
    q = out.float().log_softmax(-1).reshape(-1, out.shape[-1])
    return float(torch.nn.functional.kl_div(q, p, log_target=True, reduction="sum")), p.shape[0]


class NonFiniteOutputError(ValueError):
    """The model produced NaN or Inf: an argmax or a loss over it would be a silent wrong number."""


def check_finite(logits: torch.Tensor, where: str) -> None:
    """Raise :class:`NonFiniteOutputError` naming ``where``, the count and the first bad index."""
    bad = ~torch.isfinite(logits)
    if bool(bad.any()):
        first = [int(v) for v in bad.nonzero()[0]]
        raise NonFiniteOutputError(
            f"evaluate: {where}: the model output {list(logits.shape)} holds {int(bad.sum())} non-finite "
            f"value(s), the first at index {first} = {float(logits[tuple(first)])}; check the weights (a "
            f"corrupt checkpoint?) and the inputs of this batch")


def _next_token_nll(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor | None):
    """Summed cross-entropy of predicting ids[:, 1:] from logits[:, :-1], and the token count."""
    pred = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
    tgt = ids[:, 1:].reshape(-1)
    keep = torch.ones_like(tgt, dtype=torch.bool) if mask is None else mask[:, 1:].reshape(-1).bool()
    loss = torch.nn.functional.cross_entropy(pred[keep], tgt[keep], reduction="sum")
    return float(loss), int(keep.sum())


def hardware_terms(graph: MaseGraph, clock_mhz: float = 200.0, cost_model=None) -> tuple:
    """(throughput in inputs/s, area in LUTs, note) of ``graph`` mapped onto mase_hwlib with its
    current blocks (run parallelize first to choose them). Each number is an estimate (mase_cost
    cycle formulas, cost model); a missing one is None with the reason in the note."""
    from mase_passes.hardware.estimate import estimate
    from mase_passes.hardware.mapping import MappingError, map_graph

    try:
        est = estimate(map_graph(graph), cost_model, clock_mhz)
    except MappingError as exc:
        return None, None, f"not mappable to hardware: {exc}"
    if est.unmodelled:
        labels = sorted({s.area_label for s in est.stages if s.area is None})
        return est.inputs_per_s, None, f"area left out: {'; '.join(labels)} (stages {est.unmodelled})"
    return est.inputs_per_s, est.total("lut"), "estimated: mase_cost cycle formulas and cost model"
