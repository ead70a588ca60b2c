"""search: Optuna over per-tensor formats, single- or multi-objective, resumable.

Each trial draws a mantissa width per quantizable tensor (node results and parameter uses,
see mase_passes.graphs.slots) from ``mantissa`` (inclusive range), or one per group of
tensors with per-tensor ranges (mase_passes.search_space); block shape, shared exponent width
and format family are fixed to ``blocks[0]``, ``exponents[0]``, ``families[0]`` (MXInt,
(16,2), 8 as in the paper) and become per-model choices of the study when more than one is
given. The trial quantizes a copy of the graph (PTQ) and
evaluates it; the objective is paper eq. 4 (single) or (quality, bits[, area]) with
directions (max, min[, min]) (multi: the Pareto front).

Storage is an Optuna URL, a SQLite file in ``out_dir`` by default (PostgreSQL URLs let several
workers share one study, with heartbeats: see mase_passes.storage and docs/scale-out.md).
Running ``apply`` again with the same storage and study name resumes: finished trials are
kept and only ``n_trials`` minus the finished ones run; with several workers the study stops
once ``n_trials`` trials are complete in total (each worker finishes the trial in hand, so a
few more may complete). Each trial records the worker (``host:pid``) that ran it. Ctrl-C (SIGINT, main thread) raises
KeyboardInterrupt only inside a trial's computation (the trial becomes FAIL); one that arrives
while Optuna stores a result waits until it is stored (mase_passes.interrupts), so no trial is
lost or left RUNNING.
Outputs in ``out_dir``: best_config.toml, pareto.csv, pareto.png, history.png, each written to
a temporary file and renamed, so a kill never leaves a half-written one.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import mx_formats as mxf
import optuna
from mase_ir import MaseGraph

from mase_passes.atomic import write_atomic
from mase_passes.config import dump_toml
from mase_passes.fingerprint import (FINGERPRINT_VERSION, StudyMismatchError,  # noqa: F401
                                       batches_digest, check_fingerprint)
from mase_passes.interrupts import DeferredInterrupt
from mase_passes.passes.options import option
from mase_passes.search_space import SearchSpace
from mase_passes.passes.evaluate import Evaluate, NonFiniteOutputError, reference_logits
from mase_passes.passes.quantize import Quantize
from mase_passes.storage import StorageOptions, open_storage, sqlite_writer_lock, storage_failure, uses_heartbeat

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome

SAMPLERS = ("tpe", "nsga2", "qmc", "random")
FAMILIES = ("MXInt", "BMF", "BL")


@dataclass(frozen=True)
class SearchResult:
    """The study, its best trial (single objective: eq. 4; multi: the Pareto trial of best
    quality) and that trial's quantization config, the output folder, the complete trials."""

    study: optuna.Study
    best_config: dict
    out_dir: Path
    finished_trials: int
    best_trial: optuna.trial.FrozenTrial | None = None


@dataclass(frozen=True)
class Search:
    """Options: trials, sampler, seed, objective (single or multi), storage URL, study
    name, output directory, mantissa range, the block/exponent/family choices, the eq. 4 weights,
    ``start_uniform`` mantissa widths tried first (one uniform trial each, new studies only)
    and optional area/throughput callbacks ``config -> number`` for the hardware terms, or
    ``hardware_fn``: ``quantized graph -> {"lut": LUTs, "throughput": inputs/s, ...}`` (a dict
    with ``"error"`` when the graph has no estimate), called once per trial on the trial's
    quantized graph (mase_passes.cli.hwsearch caches it per format assignment); the trial
    records ``area`` and ``throughput`` and eq. 4 gets them divided by ``area_reference`` /
    ``throughput_reference`` (see mase_passes.passes.evaluate). A trial whose hardware
    estimate is missing a term eq. 4 weighs is a failed trial (``failure`` says why).
    ``evaluations``: a dict {trial parameters: EvalResult} shared by searches of the same graph,
    batches and reference; a configuration found there is not evaluated again (its eq. 4 value
    is recomputed with this search's weights).

    The space (mase_passes.search_space): ``ranges`` ((regex on a tensor's label, (lo, hi))
    pairs, first match wins, lo == hi fixes the width), ``group_by`` (a regex: tensors whose
    labels agree outside its matches share one width), ``seeds`` (trials enqueued first in a
    new study, after the uniform ones: each an int or {dimension name or regex: width}),
    ``max_mantissa`` (a budget on the element-weighted mean mantissa: an Optuna constraint; a
    trial over it is not evaluated but pruned, so ``n_trials`` counts evaluated trials) and
    ``startup_trials`` (TPE's random start). ``quality`` is the eq. 4 quality term (see
    mase_passes.passes.evaluate): the task ``metric``, or "agreement" / "kl" with the FP32
    reference — KL keeps ranking trials where accuracy saturates (glosses the head was fitted
    on)."""

    name = "search"
    kind = "analysis"
    aliases = {"trials": "n_trials"}  # the name the mase command and pipeline strings use
    n_trials: int = option(64, "Optuna trials (evaluated; pruned over-budget ones do not count)", at_least=1)
    sampler: str = option("tpe", "tpe, nsga2, qmc or random", choices=SAMPLERS)
    seed: int = option(0, "sampler seed; the sampler gets seed + the number of trials already in the study, "
                          "so a resumed study does not replay the first run's proposals", at_least=0)
    objective: str = option("single", '"single" (paper eq. 4) or "multi" (metric vs bits, Pareto front)',
                            choices=("single", "multi"))
    storage: str | None = option(None, "Optuna storage URL (default: SQLite file in out_dir)")
    study_name: str = option("mase", "Optuna study name (a second run with the same name resumes)")
    out_dir: str = option("mase_search", "folder of the study file and the search outputs")
    mantissa: tuple[int, int] = option((2, 8), "inclusive range of mantissa widths searched per tensor")
    blocks: tuple[tuple[int, ...], ...] = option(((16, 2),), "block shapes; more than one: a choice of the study")
    exponents: tuple[int, ...] = option((8,), "shared exponent widths; more than one: a choice of the study")
    families: tuple[str, ...] = option(("MXInt",), "format families (MXInt, BMF, BL); more than one: a choice")
    tensor_formats: tuple[str, ...] = option((), "fixed formats a searched tensor may take instead of a width "
                                                 "(e.g. MXFP4, NVFP4, M2XFP_ES): then each tensor chooses its "
                                                 "format family too")
    metric: str = option("accuracy", '"accuracy" or "perplexity"', choices=("accuracy", "perplexity"))
    quality: str = option("metric", 'eq. 4 quality term of a trial: "metric" (accuracy or -log perplexity), '
                                    '"agreement" or "kl" (-KL) with the FP32 outputs',
                          choices=("metric", "agreement", "kl"))
    k: float = option(0.0, "eq. 4 weight of 1/bits")
    k_throughput: float = option(0.0, "eq. 4 weight of the throughput theta / throughput_reference")
    k_area: float = option(0.0, "eq. 4 weight of area_reference / A")
    start_uniform: tuple[int, ...] = option((), "uniform mantissa widths tried first (new study only)")
    ranges: tuple[tuple[str, tuple[int, int]], ...] = option(
        (), "[regex, [lo, hi]] pairs on tensor labels, first match wins; lo == hi fixes the width")
    group_by: str | None = option(None, "regex: tensors whose labels agree outside its matches share one width")
    seeds: tuple[int | dict[str, int], ...] = option(
        (), "trials enqueued first in a new study: a width, or {dimension name or regex: width}")
    max_mantissa: float | None = option(None, "budget on the element-weighted mean mantissa (trials over it are "
                                              "pruned, not evaluated)", positive=True)
    startup_trials: int = option(10, "random trials before TPE models the space", at_least=0)
    population: int = option(50, "NSGA-II population size (its first generation is random)", at_least=2)
    verbose: bool = option(False, "Optuna's per-trial log", text=False)
    area_fn: Callable[[dict], float] | None = option(None, "config -> area (LUTs) of the hardware term", text=False)
    throughput_fn: Callable[[dict], float] | None = option(None, "config -> inputs/s of the hardware term",
                                                           text=False)
    hardware_fn: Callable[[MaseGraph], dict] | None = option(
        None, "quantized graph -> {lut, throughput, ...} estimate of the hardware terms", text=False)
    # {trial params: EvalResult} shared by searches of the same graph, batches and reference
    # (e.g. with and without hardware terms): a configuration already scored is not scored again
    evaluations: dict | None = option(None, "evaluations shared with another search of the same graph",
                                      text=False)
    area_reference: float = option(1.0, "LUTs that count as A = 1 in eq. 4", positive=True)
    throughput_reference: float = option(1.0, "inputs/s that count as theta = 1 in eq. 4", positive=True)
    heartbeat_interval: int = option(10, "seconds between heartbeats of a running trial (server storages only)",
                                     at_least=1)
    grace_period: int = option(60, "seconds without a heartbeat after which a trial's worker counts as dead",
                               at_least=1)

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise ValueError(f"search: sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.objective not in ("single", "multi"):
            raise ValueError(f"search: objective must be 'single' or 'multi', got {self.objective!r}")
        lo, hi = self.mantissa
        if not 1 <= lo <= hi:
            raise ValueError(f"search: mantissa range must satisfy 1 <= lo <= hi, got {self.mantissa}")
        bad = [f for f in self.families if f not in FAMILIES]
        if bad or not self.families:
            raise ValueError(f"search: families must be a non-empty subset of {FAMILIES}, got {self.families}")
        if self.n_trials < 1:
            raise ValueError(f"search: n_trials must be >= 1, got {self.n_trials}")
        for name in self.tensor_formats:
            try:
                mxf.parse(name)
            except (ValueError, mxf.FormatParseError) as exc:
                raise ValueError(f"search: tensor_formats entry {name!r} is not a format: {exc}") from None
        if self.max_mantissa is not None and self.objective != "single":
            raise ValueError("search: max_mantissa is a constraint of the single-objective search; "
                             "the multi-objective one already trades bits on its front")

    # --- the study ------------------------------------------------------------------
    def make_sampler(self, seed: int | None = None) -> optuna.samplers.BaseSampler:
        seed = self.seed if seed is None else seed
        if self.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, multivariate=True,
                                              n_startup_trials=self.startup_trials)
        if self.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=self.population)
        if self.sampler == "qmc":
            with warnings.catch_warnings():  # "experimental" notice only; the sampler is stable for us
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                # scrambled Sobol: without scrambling the seed changes nothing (every seed, one sequence)
                return optuna.samplers.QMCSampler(seed=seed, scramble=True)
        return optuna.samplers.RandomSampler(seed=seed)

    def storage_url(self) -> str:
        if self.storage:
            return self.storage
        Path(self.out_dir).mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{Path(self.out_dir).resolve() / 'study.db'}"

    def directions(self) -> list[str]:
        if self.objective == "single":
            return ["maximize"]
        return ["maximize", "minimize"] + (["minimize"] if self.area_fn or self.hardware_fn else [])

    def space(self, graph: MaseGraph) -> SearchSpace:
        """The dimensions searched on ``graph`` (one per tensor unless ranges/group_by say otherwise)."""
        return SearchSpace.build(graph, self.mantissa, self.ranges, self.group_by)

    def config_of(self, space: SearchSpace, trial: optuna.trial.BaseTrial) -> dict:
        """Suggest a width per dimension of ``space`` and return the quantization config
        (node level, every tensor)."""
        family = trial.suggest_categorical("family", list(self.families)) if len(self.families) > 1 \
            else self.families[0]
        block = self.blocks[0]
        if len(self.blocks) > 1:
            block = self.blocks[trial.suggest_int("block_index", 0, len(self.blocks) - 1)]
        exponent = trial.suggest_categorical("exponent", list(self.exponents)) \
            if len(self.exponents) > 1 else self.exponents[0]
        if not self.tensor_formats:
            params = {d.name: trial.suggest_int(d.name, d.lo, d.hi) for d in space.dims}
            return space.config(space.widths(params), lambda m: _format(family, block, exponent, m))
        # per tensor: a width of the family, or one of the fixed formats (a categorical dimension)
        params = {d.name: trial.suggest_categorical(d.name, [*range(d.lo, d.hi + 1), *self.tensor_formats])
                  for d in space.dims}
        choice = dict(space.fixed)
        for d in space.dims:
            choice.update(dict.fromkeys(d.keys, params[d.name]))
        return space.config(choice, lambda v: mxf.parse(v) if isinstance(v, str) else _format(family, block,
                                                                                               exponent, v))

    def mean_mantissa(self, space: SearchSpace, params: dict) -> float:
        """The element-weighted mean mantissa of a trial (what ``max_mantissa`` bounds). A fixed
        format of ``tensor_formats`` counts as the mantissa width of the searched family's format
        with the same bits per element (paper eq. 1): ``bits - 1 - exponent / block size``, e.g.
        3.0 for MXFP4 and 3.25 for NVFP4 next to MXInt((16,2),8,m)."""
        if not self.tensor_formats:
            return space.mean_mantissa(space.widths(params))
        overhead = 1 + self.exponents[0] / math.prod(self.blocks[0])
        width = {d.name: (mxf.parse(v).bits_per_element - overhead if isinstance(v, str) else v)
                 for d in space.dims for v in [params[d.name]]}
        total = sum(space.numel.values())
        fixed = sum(space.fixed[k] * space.numel[k] for k in space.fixed)
        return (fixed + sum(width[d.name] * d.numel for d in space.dims)) / total

    def apply(self, graph: MaseGraph, batches: Iterable, reference: MaseGraph | list | None = None,
              callbacks: Iterable[Callable] = ()) -> SearchResult:
        """Run (or resume) the study on ``graph`` evaluated on ``batches``; write the outputs.
        ``callbacks``: Optuna callbacks ``(study, frozen_trial)`` called after every trial (a
        progress bar). A SQLite storage is held with its writer lock throughout (a second search
        on the file is refused at once: StorageBusy, mase_passes.storage)."""
        with sqlite_writer_lock(self.storage_url(), f"the search of study {self.study_name!r}"):
            return self._apply(graph, batches, reference, list(callbacks))

    def run(self, graph: MaseGraph, ctx) -> Outcome:
        """Pipeline contract: the study on ``ctx.search`` (else ``ctx.evaluation``) against
        ``ctx.reference``, in ``ctx.out_dir / out_dir``, with the seeds and ranges of an earlier
        allocate after this pass's own; the best config becomes ``ctx.config``. The graph is
        unchanged."""
        from mase_passes.pipeline import Outcome
        changes = dict(out_dir=str(Path(ctx.out_dir) / self.out_dir), seeds=tuple(self.seeds) + tuple(ctx.seeds),
                       ranges=tuple(self.ranges) + tuple(ctx.ranges))
        if ctx.metric:
            changes["metric"] = ctx.metric
        batches = ctx.search if ctx.search is not None else ctx.evaluation
        result = dataclasses.replace(self, **changes).apply(graph, batches, reference=ctx.reference,
                                                            callbacks=ctx.callbacks)
        ctx.config = result.best_config
        return Outcome(graph, result)

    def _apply(self, graph: MaseGraph, batches: Iterable, reference, callbacks: list) -> SearchResult:
        batches = list(batches)
        if not self.verbose:  # optuna logs every trial's ~200 parameters otherwise
            optuna.logging.set_verbosity(optuna.logging.WARNING)
        if isinstance(reference, MaseGraph):  # run the FP32 reference once, not per trial
            reference = reference_logits(reference, batches)
        space = self.space(graph)
        if self.max_mantissa is not None and self.max_mantissa < space.min_mean_mantissa() - 1e-9:
            raise ValueError(f"search: max_mantissa {self.max_mantissa} is below the smallest mean mantissa "
                             f"of the space ({space.min_mean_mantissa():.4f})")
        if self.quality != "metric" and reference is None:
            raise ValueError(f"search: quality {self.quality!r} compares trials with the FP32 outputs; "
                             "pass reference= (the FP32 graph or its logits)")
        evaluator = Evaluate(metric=self.metric, k=self.k, k_throughput=self.k_throughput, k_area=self.k_area,
                             quality=self.quality, area_reference=self.area_reference,
                             throughput_reference=self.throughput_reference)
        storage = open_storage(self.storage_url(), StorageOptions(heartbeat_interval=self.heartbeat_interval,
                                                                  grace_period=self.grace_period))
        study = optuna.create_study(study_name=self.study_name, storage=storage,
                                    sampler=self.make_sampler(), directions=self.directions(),
                                    load_if_exists=True)
        check_fingerprint(study, self.fingerprint(space, batches), self.storage_url())
        if uses_heartbeat(storage):  # other workers may be live: fail only trials without a heartbeat
            _fail_dead_workers(study, storage, self.grace_period)
        else:
            _fail_stale(study, storage)
        # seed + trials already stored: a new study is reproducible, and a resumed one does not
        # replay the first run's proposals (the same seed would propose the same configs again)
        study.sampler = self.make_sampler(self.seed + len(study.trials))
        worker = f"{socket.gethostname()}:{os.getpid()}"
        interrupt = DeferredInterrupt()

        def objective(trial):
            trial.set_user_attr("worker", worker)
            conf = self.config_of(space, trial)
            mean_m = self.mean_mantissa(space, trial.params)
            trial.set_user_attr("mean_mantissa", mean_m)
            if self.max_mantissa is not None:
                trial.set_constraint("mean_mantissa", mean_m - self.max_mantissa)
                if mean_m > self.max_mantissa:  # over budget: not worth an evaluation
                    raise optuna.TrialPruned(f"mean mantissa {mean_m:.3f} > {self.max_mantissa}")
            try:
                with interrupt.interruptible():  # Ctrl-C here: Optuna records the trial FAIL, re-raises
                    q = Quantize(config=conf).apply(graph)
                    area = self.area_fn(conf) if self.area_fn else None
                    thr = self.throughput_fn(conf) if self.throughput_fn else None
                    if self.hardware_fn is not None:
                        area, thr = self._hardware_terms(q, trial)
                    key = tuple(sorted(trial.params.items()))
                    r = self.evaluations.get(key) if self.evaluations is not None else None
                    if r is None:
                        r = evaluator.apply(q, batches, reference=reference, throughput=thr, area=area)
                        if self.evaluations is not None:
                            self.evaluations[key] = r
            except NonFiniteOutputError as exc:  # the trial becomes FAIL (optimize's catch); say why
                trial.set_user_attr("failure", f"non-finite outputs: {exc}")
                raise
            except HardwareTermError as exc:
                trial.set_user_attr("failure", str(exc))
                raise
            trial.set_user_attr("metric", r.value)
            trial.set_user_attr("average_bits", r.average_bits)
            trial.set_user_attr("agreement", r.agreement)
            trial.set_user_attr("kl", r.kl)
            trial.set_user_attr("area", area)
            trial.set_user_attr("throughput", thr)
            quality = evaluator.quality_term(r.value, r.agreement, r.kl)
            if self.objective == "single":  # from the terms, not r.objective: r may be a shared evaluation
                return evaluator.objective(quality, r.average_bits, thr, area)
            return (quality, r.average_bits) + ((area,) if self.area_fn or self.hardware_fn else ())

        done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
        remaining = self.n_trials - done
        if remaining > 0:
            # the uniform widths first, TPE then starts near them; on a resume, the seed trials a
            # kill or Ctrl-C cut short (FAIL without a recorded reason) are enqueued again
            for params in missing_seeds(study, [space.seed(r) for r in tuple(self.start_uniform) + tuple(self.seeds)]):
                study.enqueue_trial(params)
            stop = optuna.study.MaxTrialsCallback(self.n_trials, states=(optuna.trial.TrialState.COMPLETE,))
            # pruned (over-budget) trials cost no evaluation and do not count; cap them anyway
            attempts = remaining if self.max_mantissa is None else 20 * remaining + len(self.seeds)
            # a config whose outputs are NaN/Inf is a FAIL trial, not the end of the study; a few
            # extra attempts make up for such failures (the callback stops at n_trials complete)
            attempts += max(3, remaining)
            # Ctrl-C outside a trial's computation is held until the trial is stored
            with interrupt:
                try:
                    study.optimize(objective, n_trials=attempts,
                                   callbacks=[stop, *callbacks, interrupt.raise_pending],
                                   catch=(NonFiniteOutputError, HardwareTermError))
                except Exception as exc:  # a full disk reaches us as Optuna's "invalid data in the commit"
                    failure = storage_failure(exc, self.storage_url())
                    if failure is None:
                        raise
                    raise failure from exc
        if uses_heartbeat(storage):  # Optuna checks before each trial; a worker that is done checks once more
            _fail_dead_workers(study, storage, self.grace_period)
        out = Path(self.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        best = self.best_trial(study)
        best_conf = self.config_of(space, optuna.trial.FixedTrial(best.params))
        write_atomic(out / "best_config.toml",
                     f"# best trial {best.number}: {best.user_attrs}\n" + dump_toml(_as_strings(best_conf)))
        write_pareto(study, out)
        plot_history(study, out / "history.png")
        finished = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
        return SearchResult(study, best_conf, out, finished, best)

    def fingerprint(self, space: SearchSpace, batches: list) -> dict:
        """What a stored trial's score depends on besides its parameters: the space (every
        dimension's tensors and range, the widths held fixed, the format choices), the objective
        (directions, quality, eq. 4 weights and references, the mantissa budget) and a digest of
        the search samples. A resumed study must have the same (check_fingerprint); the sampler,
        seed, trial count and seed trials may change between runs."""
        return {
            "version": FINGERPRINT_VERSION,
            "space": {d.name: {"range": [d.lo, d.hi], "tensors": list(d.keys)} for d in space.dims},
            "fixed": dict(sorted(space.fixed.items())),
            "families": list(self.families), "blocks": [list(b) for b in self.blocks],
            "exponents": list(self.exponents),
            **({"tensor_formats": list(self.tensor_formats)} if self.tensor_formats else {}),
            "objective": self.objective, "directions": self.directions(), "metric": self.metric,
            "quality": self.quality, "k": self.k, "k_area": self.k_area, "k_throughput": self.k_throughput,
            "area_reference": float(f"{self.area_reference:.9g}"),
            "throughput_reference": float(f"{self.throughput_reference:.9g}"),
            "max_mantissa": self.max_mantissa,
            "hardware_terms": self.hardware_fn is not None or self.area_fn is not None
            or self.throughput_fn is not None,
            "samples": batches_digest(batches),
        }

    def _hardware_terms(self, q: MaseGraph, trial) -> tuple[float | None, float | None]:
        """(area in LUTs, throughput in inputs/s) of the trial's quantized graph from
        ``hardware_fn``; a term eq. 4 weighs (k_area / k_throughput non-zero) must be there."""
        est = self.hardware_fn(q)
        area, thr = est.get("lut"), est.get("throughput")
        trial.set_user_attr("area_extrapolated", bool(est.get("extrapolated")))
        weighed = (("area", self.k_area or self.objective == "multi", area), ("throughput", self.k_throughput, thr))
        missing = [name for name, k, v in weighed if k and v is None]  # multi: area is the third objective
        if missing or ("error" in est and any(k for _, k, _ in weighed)):
            why = est.get("error") or ("no cost model for " + ", ".join(est.get("unmodelled") or ["?"]))
            raise HardwareTermError(f"no hardware estimate of {' and '.join(missing) or 'the design'}: {why}")
        return area, thr

    def best_trial(self, study: optuna.Study) -> optuna.trial.FrozenTrial:
        """Single objective: the best eq. 4 trial; multi: the Pareto trial with the best quality."""
        if self.objective == "single":
            return study.best_trial
        # multi: the Pareto trial with the best quality
        return max(study.best_trials, key=lambda t: t.values[0])


class HardwareTermError(ValueError):
    """A trial whose hardware estimate lacks a term eq. 4 weighs: the trial fails, the search goes on."""


def _format(family: str, block, exponent: int, mantissa: int) -> mxf.Format:
    if family == "MXInt":
        return mxf.MXInt(tuple(block), exponent, mantissa)
    if family == "BMF":  # mantissa = fraction bits; 4-bit element exponent, shared bias of `exponent` bits
        return mxf.parse(f"BMF({_block_text(block)},4,{mantissa},{exponent})")
    return mxf.parse(f"BL({_block_text(block)},{mantissa},{exponent})")  # mantissa = exponent-code bits


def _block_text(block) -> str:
    return "(" + ",".join(str(b) for b in block) + ("," if len(block) == 1 else "") + ")"


def _as_strings(conf: dict) -> dict:
    return {"node": {n: {r: str(f) for r, f in slots_.items()} for n, slots_ in conf["node"].items()}}


def missing_seeds(study: optuna.Study, seeds: list[dict]) -> list[dict]:
    """The seed trials (parameter dicts) the study does not hold yet: none completed, pruned,
    waiting or running with these parameters. A seed trial that FAILed with a recorded reason
    (non-finite outputs, a missing hardware estimate) would fail the same way and is not retried;
    one that FAILed without a reason (killed, interrupted) is."""
    States = optuna.trial.TrialState
    held = []
    for t in study.get_trials(deepcopy=False):
        # waiting: an enqueued seed (fixed_params) or a dead worker's trial queued again (params)
        params = t.params if t.state in (States.COMPLETE, States.PRUNED) \
            else (t.system_attrs.get("fixed_params") or t.params)
        if t.state == States.FAIL and "failure" in t.user_attrs:
            params = t.params
        elif t.state == States.FAIL:
            continue
        if params:
            held.append(params)
    out = []
    for s in seeds:
        if any(all(p.get(k) == v for k, v in s.items()) for p in held) or s in out:
            continue
        out.append(s)
    return out


# A RUNNING trial with no heartbeat at all this long after its start is a dead worker's too
# (seconds beyond the grace period: the start time is the worker's clock, the heartbeat the server's)
NO_HEARTBEAT_MARGIN = 60


def _fail_dead_workers(study: optuna.Study, storage, grace_period: int) -> None:
    """Fail (and, through the storage's retry callback, re-enqueue) the RUNNING trials whose
    heartbeat is older than the grace period: their worker is dead (mase_passes.storage).
    Optuna skips a RUNNING trial that has no heartbeat yet (its worker died between taking the
    trial and the heartbeat thread's first beat: the soak benchmark found one in 11 kills), so
    it would stay RUNNING for good. A live worker's trial records its ``worker`` as the first
    thing its objective does, right after its heartbeat thread starts, so a RUNNING trial
    without one that is older than the grace period plus NO_HEARTBEAT_MARGIN is failed too."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
        _fail_never_started(study, storage, grace_period)


def _fail_never_started(study: optuna.Study, storage, grace_period: int) -> list[int]:
    """``grace_period``: the one the storage was opened with (StorageOptions; RDBStorage keeps it in
    an attribute Optuna documents as not for users)."""
    import copy
    import datetime

    limit = datetime.timedelta(seconds=grace_period + NO_HEARTBEAT_MARGIN)
    now = datetime.datetime.now()
    silent = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
              if t.datetime_start is not None and now - t.datetime_start > limit and "worker" not in t.user_attrs]
    failed = []
    for t in silent:
        trial_id = _trial_id(storage, study, t)
        try:
            if storage.set_trial_state_values(trial_id, state=optuna.trial.TrialState.FAIL):
                failed.append(trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:  # another worker failed it first
            pass
    callback = storage.get_heartbeat_stale_trial_callback()
    if callback is not None:
        for trial_id in failed:
            callback(study, copy.deepcopy(storage.get_trial(trial_id)))
    return failed


def _trial_id(storage, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> int:
    """The storage's id of ``trial`` (public storage API; FrozenTrial keeps it private)."""
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study.study_name),
                                                           trial.number)


def _fail_stale(study: optuna.Study, storage) -> None:
    """Trials left RUNNING by a killed worker will never finish: mark them FAIL so they do not
    count as finished and the resumed study re-runs that budget."""
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        storage.set_trial_state_values(_trial_id(storage, study, t), optuna.trial.TrialState.FAIL)


def write_pareto(study: optuna.Study, out: Path) -> None:
    """pareto.csv (trial, metric, average bits, area in LUTs, throughput in inputs/s, objective
    values) and pareto.png."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    front = _pareto([(t.user_attrs["metric"], t.user_attrs["average_bits"]) for t in done])
    fh = io.StringIO(newline="")
    w = csv.writer(fh)
    w.writerow(["trial", "metric", "average_bits", "area", "throughput", "values", "on_front"])
    for t, on in zip(done, front):
        w.writerow([t.number, t.user_attrs["metric"], t.user_attrs["average_bits"],
                    t.user_attrs.get("area"), t.user_attrs.get("throughput"),
                    " ".join(f"{v:.6g}" for v in t.values), int(on)])
    write_atomic(out / "pareto.csv", fh.getvalue())
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter([t.user_attrs["average_bits"] for t in done], [t.user_attrs["metric"] for t in done],
               s=12, c="0.6", label="trials")
    pts = sorted((t.user_attrs["average_bits"], t.user_attrs["metric"]) for t, on in zip(done, front) if on)
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color="C3", label="Pareto front")
    ax.set_xlabel("average bits (eq. 1)")
    ax.set_ylabel("metric")
    ax.legend()
    fig.tight_layout()
    _savefig_atomic(fig, out / "pareto.png")
    plt.close(fig)


def _pareto(points: list[tuple[float, float]]) -> list[bool]:
    """Non-dominated flags for (metric to maximize, bits to minimize)."""
    return [not any((m2 >= m and b2 <= b) and (m2 > m or b2 < b) for m2, b2 in points) for m, b in points]


def plot_history(study: optuna.Study, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([t.number for t in done], [t.user_attrs["metric"] for t in done], "o", ms=3, label="metric")
    ax2 = ax.twinx()
    ax2.plot([t.number for t in done], [t.user_attrs["average_bits"] for t in done], "x", ms=3,
             color="C1", label="average bits")
    ax.set_xlabel("trial")
    ax.set_ylabel("metric")
    ax2.set_ylabel("average bits")
    fig.tight_layout()
    _savefig_atomic(fig, Path(path))
    plt.close(fig)


def _savefig_atomic(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, dpi=120, format=path.suffix.lstrip(".") or "png")
    write_atomic(path, buf.getvalue())
