"""The hardware terms of the search (paper eq. 4: ``k' * theta`` and ``k'' / A``) for ``mase run``
and ``mase search``.

When ``[search] k_area`` or ``k_throughput`` is non-zero, every trial's quantized graph is
estimated like a comparison row (mase_passes.cli.hardware.estimate_row): the ``[hardware]
scope`` mapped onto mase_hwlib and parallelized under the ``[hardware]`` budget with the
formats' own blocks (no widening), area = LUTs and throughput = inputs/s from mase_cost. The
estimate depends only on the formats of the scope's tensors (its nodes' results and parameters
and the values it reads from outside), so it is cached per distinct assignment of them:
trials that differ only outside the scope cost one estimate.

Units in eq. 4: both terms are relative to a reference design, the uniform configuration at
the top of the searched mantissa range (``[search] mantissa`` hi; MXInt((16,2),8,7) = MXInt8
for the default [2, 7]):

    objective = quality + k / bits + k_throughput * theta / theta_ref + k_area * A_ref / A

so ``k_area = 0.1`` is worth 0.1 (10 accuracy points) for a design of the reference's area and
0.125 for one 20% smaller. Trials record the raw numbers (``area`` in LUTs, ``throughput`` in
inputs/s).

A key that cannot act is refused or warned about before any trial runs:

* ``[hardware] parallelize = false``: error (the trials' numbers come from the parallelize
  pass; see schema._cross_checks);
* the reference design does not map, does not fit the budget, or the cost model has no area
  for it: error naming the reason;
* the estimate does not change between uniform lo and hi mantissas (e.g. throughput: the
  cycles of a stage depend on its tiles, which are the formats' blocks, the same in every
  trial): warning, since the term then adds the same constant to every trial.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mase_passes.cli.hardware import estimate_row
from mase_passes.cli.schema import RunConfigError
from mase_passes.passes.extract import in_scope

log = logging.getLogger("mase")


class HardwareTermsError(RunConfigError):
    """[search] k_area / k_throughput cannot act in this configuration (the message says why;
    the ``mase`` command exits with status 2, as for any configuration error)."""


def scope_key(graph, scope: str) -> tuple:
    """The formats of every tensor the scope's hardware depends on: each in-scope node's result
    and parameters, and the values it reads from outside the scope."""
    inside = [n for n in graph.nodes if scope == "model" or in_scope(n.module or "", scope)]
    names = {n.name for n in inside}
    key = []
    for n in inside:
        key.append((n.name, str(n.result.element)))
        key += [(n.name, role, str(p.type.element)) for role, p in sorted(n.params.items())]
        key += [(a.name, str(graph.value_type(a.name).element)) for a in n.args if a.name not in names]
    return tuple(key)


class TrialHardware:
    """``quantized graph -> estimate_row dict`` (``lut``, ``throughput``, ``extrapolated``, ...),
    cached per :func:`scope_key`. ``estimates`` counts the estimates computed, ``lookups`` the calls."""

    def __init__(self, hw: dict, cost_model, estimate=estimate_row):
        self.hw, self.cost_model, self._estimate = hw, cost_model, estimate
        self.cache: dict[tuple, dict] = {}
        self.estimates = 0
        self.lookups = 0

    def __call__(self, graph) -> dict:
        self.lookups += 1
        key = scope_key(graph, self.hw["scope"])
        if key not in self.cache:
            self.estimates += 1
            self.cache[key] = self._estimate(graph, self.hw, self.cost_model)
        return self.cache[key]


@dataclass
class HardwareTerms:
    """What the search gets: the trial estimator and the eq. 4 references (the uniform design at
    the top of the mantissa range), plus the uniform-lo design for the report."""

    trial: TrialHardware
    reference: dict          # estimate of the uniform configuration at mantissa hi
    low: dict                # ... at mantissa lo
    reference_mantissa: int
    low_mantissa: int
    warnings: list[str]

    @property
    def area_reference(self) -> float:
        return self.reference["lut"]

    @property
    def throughput_reference(self) -> float:
        return self.reference["throughput"]

    def info(self) -> dict:
        return {"reference": f"uniform mantissa {self.reference_mantissa}",
                "area_reference_lut": self.reference.get("lut"),
                "throughput_reference": self.reference.get("throughput"),
                "low": f"uniform mantissa {self.low_mantissa}", "low_lut": self.low.get("lut"),
                "low_throughput": self.low.get("throughput"), "warnings": list(self.warnings),
                "estimates": self.trial.estimates, "lookups": self.trial.lookups}


def uniform_graph(graph, searcher, space, mantissa: int):
    """``graph`` quantized with one mantissa width on every searched tensor (the search's format)."""
    import optuna

    from mase_passes.passes.quantize import Quantize
    conf = searcher.config_of(space, optuna.trial.FixedTrial(space.seed(mantissa)))
    return Quantize(config=conf).apply(graph)


def setup(graph, scfg: dict, hw: dict, searcher, cost_model=None, estimate=estimate_row) -> HardwareTerms:
    """Check that the hardware terms can act and build them; raises :class:`HardwareTermsError`."""
    keys = [f"{k} = {scfg[k]:g}" for k in ("k_area", "k_throughput") if scfg[k]]
    what = "[search] " + " and ".join(keys)
    if not hw["parallelize"]:
        raise HardwareTermsError(f"{what}: needs [hardware] parallelize = true (each trial's area and throughput "
                                 f"come from the parallelize pass); set it, or set the key to 0")
    if cost_model is None:
        from mase_cost import CostModel
        cost_model = CostModel.default()
    trial = TrialHardware(hw, cost_model, estimate)
    space = searcher.space(graph)
    lo, hi = scfg["mantissa"]
    ref = trial(uniform_graph(graph, searcher, space, hi))
    low = trial(uniform_graph(graph, searcher, space, lo)) if lo != hi else ref
    for label, row in ((f"uniform mantissa {hi}", ref), (f"uniform mantissa {lo}", low)):
        if "error" in row:
            raise HardwareTermsError(f"{what}: no hardware estimate of [hardware] scope = {hw['scope']!r} at {label}: "
                                     f"{row['error']}; set the key to 0 or choose a scope that maps")
        if scfg["k_area"] and not row.get("lut"):
            raise HardwareTermsError(f"{what}: the cost model has no area estimate for [hardware] scope = "
                                     f"{hw['scope']!r} at {label} (no cost model for "
                                     f"{', '.join(row.get('unmodelled') or ['?'])}); set k_area = 0")
    warnings = []
    if scfg["k_area"] and ref["lut"] == low["lut"]:
        warnings.append(f"[search] k_area = {scfg['k_area']:g} has no effect on the ranking: the estimated area of "
                        f"[hardware] scope is {ref['lut']:,.0f} LUT at uniform mantissa {lo} and {hi} alike")
    if scfg["k_throughput"] and ref["throughput"] == low["throughput"]:
        warnings.append(f"[search] k_throughput = {scfg['k_throughput']:g} has no effect on the ranking: the estimated "
                        f"throughput of [hardware] scope is {ref['throughput']:,.4g} inputs/s at uniform mantissa {lo} "
                        f"and {hi} alike (trials are estimated with the formats' blocks, not widened, and a stage's "
                        f"cycles depend on its tiles only)")
    for w in warnings:
        log.warning("warning: %s", w)
    return HardwareTerms(trial, ref, low, hi, lo, warnings)
