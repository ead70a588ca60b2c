"""The stages of ``mase run``, one function each, shared with the single-stage subcommands.

Each stage takes what it needs, returns plain data for ``results.json`` (the report is
rendered from that file alone) and writes its files under the run's output folder. Passes
are reached through the registry (``mase_passes.passes.get_pass``), never imported directly,
so the command runs exactly what the registry says exists.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import mx_formats as mxf
import torch

from mase_passes.atomic import write_atomic
from mase_passes.bits import average_bits
from mase_passes.cli.progress import Stages
from mase_passes.cli.schema import pass_options_of
from mase_passes.cli.workload import Workload
from mase_passes.config import dump_toml, load_config
from mase_passes.graphs import slots
from mase_passes.passes import REGISTRY, get_pass

log = logging.getLogger("mase")

# The comparison rows by name: uniform formats on every tensor (the package README's table)
UNIFORM = {
    "MXInt8": "MXInt((16,2),8,7)",
    "MXInt6": "MXInt((16,2),8,5)",
    "MXInt4": "MXInt((16,2),8,3)",
    "BMF8": "BMF((16,2),4,3,8)",
    "BL8": "BL((16,2),7,8)",
}


# the comparison row of the search without k_area / k_throughput (mase run)
PLAIN = "mixed, no hardware terms"


class StageUnavailable(RuntimeError):
    """A stage whose pass is not registered in this install (exit status 1, message says which)."""


def require_pass(name: str, how_to_skip: str) -> type:
    if name not in REGISTRY:
        raise StageUnavailable(f"{name} pass not available (registered passes: {', '.join(sorted(REGISTRY))}); "
                               f"{how_to_skip}")
    return get_pass(name)


# --- trace and profile ------------------------------------------------------------------
def trace(wl: Workload):
    import mase_ir
    return mase_ir.trace(wl.model, dict(wl.evaluation[0][0]))


def place(wl: Workload, graph, device: str) -> tuple[Workload, object]:
    """(the workload, the graph) on ``device``: the eager model (moved in place), every batch of
    calibration, evaluation and search, and a copy of the graph with its weights there."""
    from mase_passes.cli import device as dev
    moved = dataclasses.replace(wl, model=dev.to_device(wl.model, device),
                                calibration=dev.to_device(wl.calibration, device),
                                evaluation=dev.to_device(wl.evaluation, device),
                                search=dev.to_device(wl.search, device))
    return moved, dev.to_device(graph, device)


def graph_info(graph, wl: Workload) -> dict:
    s = graph.summary()
    inputs, _ = wl.evaluation[0]
    with torch.no_grad():  # the traced graph must compute what the model computes
        eager = wl.model(**inputs)
        traced = graph(**inputs)
    return {"nodes": s.nodes, "ops": s.op_histogram, "parameters": s.parameters,
            "tensors": len(slots(graph)), "trace_max_abs_diff": float((eager - traced).abs().max())}


def profile(graph, wl: Workload, out: Path, stages: Stages) -> dict:
    """The profile pass on the calibration batches (in place: statistics into ``node.sw``)."""
    from mase_passes.passes.profile import plot_variance
    from mase_passes.pipeline import Context, run_pass
    bar = stages.bar(len(wl.calibration), "profile")
    report = run_pass(get_pass("profile")(), graph, Context(calibration=_Ticking(wl.calibration, bar))).report
    bar.close()
    png = plot_variance(graph, out / "variance.png", f"activation variance ({wl.info.get('task', '')})")
    return {"variance_png": png.name, "activations": report.activations, "variance_min": report.variance_min,
            "variance_max": report.variance_max, "calibration_samples": wl.info["calibration_samples"]}


class _Ticking(list):
    """The calibration batches, ticking a progress bar as each is read."""

    def __init__(self, items, bar):
        super().__init__(items)
        self.bar = bar

    def __iter__(self):
        for x in super().__iter__():
            yield x
            self.bar.update(1)


# --- configurations ---------------------------------------------------------------------
def baseline_pass(name: str):
    """(the pass that makes it, format text) of a comparison row name or format string."""
    if name == "int8":
        return get_pass("fixed_point")(width=8), "Fixed(8, f) per tensor, f from the profiled |x| max"
    fmt = UNIFORM.get(name, name)
    return get_pass("quantize")(config={"default": fmt}), str(mxf.parse(fmt))


@dataclass
class Scored:
    name: str
    format: str
    metric: float
    agreement: float | None
    average_bits: float
    graph: object = None

    def row(self) -> dict:
        return {"name": self.name, "format": self.format, "metric": self.metric,
                "agreement": self.agreement, "average_bits": self.average_bits}


def evaluate(graph, wl: Workload, reference, batches=None):
    return get_pass("evaluate")(metric=wl.metric).apply(graph, batches or wl.evaluation, reference=reference)


def compare(graph, wl: Workload, names: list[str], reference, stages: Stages) -> list[Scored]:
    """FP32 and each uniform configuration, scored on the evaluation set."""
    from mase_passes.pipeline import Context, run_pass
    rows = []
    r = evaluate(graph, wl, reference)
    rows.append(Scored("FP32", "f32", r.value, r.agreement, r.average_bits, graph))
    bar = stages.bar(len(names), "compare")
    for name in names:
        make, text = baseline_pass(name)
        q = run_pass(make, graph, Context()).graph
        r = evaluate(q, wl, reference)
        rows.append(Scored(name, text, r.value, r.agreement, r.average_bits, q))
        log.debug("compare %s: %s = %.4f, bits %.2f", name, wl.metric, r.value, r.average_bits)
        bar.update(1)
    bar.close()
    return rows


def quantize_chosen(graph, wl: Workload, conf, qcfg: dict, stages: Stages):
    """The chosen configuration applied (PTQ, or QAT on the calibration batches) by the
    quantize pass with every [quantize] option, under the pipeline's rules (output verified)."""
    from mase_passes.pipeline import Context, run_pass
    quantize = get_pass("quantize")(**{**pass_options_of("quantize", qcfg), "config": conf})
    loss = None if wl.metric == "accuracy" or qcfg["loss"] == "distill" else _next_token_loss
    ctx = Context(calibration=wl.calibration, loss_fn=loss)
    if qcfg["mode"] == "ptq":
        return run_pass(quantize, graph, ctx).graph
    with stages.stage("qat") as s:
        q = run_pass(quantize, graph, ctx).graph
        s.summary = (f"{qcfg['steps']} steps at lr {qcfg['lr']:g} ({qcfg['loss']} loss) on "
                     f"{wl.info['calibration_samples']} samples")
    return q


def seeding(cfg) -> dict | None:
    """The [sensitivity] and [allocate] sections when [allocate] enabled (else None: no seeding)."""
    return {"sensitivity": cfg.sensitivity, "allocate": cfg.allocate} if cfg.allocate["enabled"] else None


def confirm_batches(wl: Workload, samples: int, device: str) -> list:
    """``samples`` test samples (evenly spaced over the test split) on ``device``."""
    from mase_passes.cli import device as dev
    if wl.test_batches is None:
        raise RuntimeError("[report] confirm_samples: this workload has no labelled test split")
    return dev.to_device(wl.test_batches(samples), device)


def confirm(graph, chosen, batches: list) -> dict:
    """FP32 (``graph``) and the chosen configuration on the same ``batches``: accuracies and the
    paired difference d = mean_i (c_i - f_i) (c_i, f_i = 1 where the chosen / FP32 model is right on
    sample i) with its 95% interval d +- 1.96 s / sqrt(n), s the sample standard deviation of
    c_i - f_i (normal approximation of the paired difference; ``better`` / ``worse`` = samples only
    the chosen / only FP32 gets right). All measured."""
    from mase_passes.graphs import freeze_weights
    run = freeze_weights(chosen)
    diffs, right_fp32, right_chosen = [], 0, 0
    with torch.no_grad():
        for inputs, target in batches:
            f = (graph(**inputs).argmax(-1) == target).to(torch.int64)
            c = (run(**inputs).argmax(-1) == target).to(torch.int64)
            right_fp32 += int(f.sum())
            right_chosen += int(c.sum())
            diffs += (c - f).tolist()
    return paired_interval(diffs) | {"fp32": right_fp32 / len(diffs), "chosen": right_chosen / len(diffs)}


def paired_interval(diffs: list[int], z: float = 1.959963984540054) -> dict:
    """Mean of the paired differences, its standard error and the interval mean +- z * SE."""
    import math
    n = len(diffs)
    if n < 2:
        raise ValueError("paired_interval: needs at least two samples")
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    se = sd / math.sqrt(n)
    return {"samples": n, "difference": mean, "standard_error": se, "low": mean - z * se, "high": mean + z * se,
            "better": sum(d > 0 for d in diffs), "worse": sum(d < 0 for d in diffs),
            "interval": "95%, normal approximation of the paired difference"}


def _next_token_loss(logits, ids):
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def bit_distribution(q) -> dict:
    """Per tensor and per layer bitwidths of a quantized graph (the paper's Fig. 1b data)."""
    modules = {n.name: (n.module or "") for n in q.nodes}
    tensors = []
    for s in slots(q):
        f = s.type.element
        tensors.append({"key": s.key, "role": s.role, "layer": layer_of(modules[s.node]), "format": str(f),
                        "bits": f.bits_per_element, "mantissa": getattr(f, "man_bits", None), "numel": s.type.numel})
    layers: dict[str, list] = {}
    for t in tensors:
        layers.setdefault(t["layer"], []).append(t)
    per_layer = [{"layer": k, "tensors": len(v),
                  "average_bits": sum(t["bits"] * t["numel"] for t in v) / sum(t["numel"] for t in v),
                  "min_bits": min(t["bits"] for t in v), "max_bits": max(t["bits"] for t in v)}
                 for k, v in layers.items()]
    mants = [t["mantissa"] for t in tensors if t["mantissa"] is not None]
    weighted = [(t["mantissa"], t["numel"]) for t in tensors if t["mantissa"] is not None]
    return {"tensors": tensors, "layers": per_layer,
            "formats": dict(Counter(t["format"] for t in tensors).most_common()),
            "mean_mantissa": sum(mants) / len(mants) if mants else None,
            # the search budget's measure (max_mantissa): weighted by the tensors' elements
            "element_mean_mantissa": (sum(m * n for m, n in weighted) / sum(n for _, n in weighted)
                                      if weighted else None),
            "average_bits": average_bits(q), "plain_mean_bits": average_bits(q, weighted=False)}


def layer_of(module: str) -> str:
    """'encoder.layer.3.attention.self.query' -> 'layer 3'; other modules by their first part."""
    m = re.search(r"(?:^|\.)(?:layers?|h|blocks?)\.(\d+)(?:\.|$)", module)
    if m:
        return f"layer {m.group(1)}"
    parts = [p for p in module.split(".") if p and p not in ("model", "encoder", "decoder")]
    return parts[0] if parts else "(graph)"


def write_chosen_config(conf, path: Path, header: str) -> None:
    if isinstance(conf, (str, Path)):
        text = Path(conf).read_text()
    else:
        text = dump_toml(_strings(load_config(conf)))
    write_atomic(path, f"# {header}\n{text}")


def _strings(conf: dict) -> dict:
    def s(v):
        return {k: str(f) for k, f in v.items()}
    out = {}
    if "default" in conf:
        out["default"] = s(conf["default"])
    for level in ("op", "regex", "node"):
        if conf.get(level):
            out[level] = {k: s(v) for k, v in conf[level].items()}
    return out


# --- search -------------------------------------------------------------------------------
def _search_options(wl: Workload, scfg: dict, out: Path, verbose: bool) -> tuple[type, dict]:
    """(the search pass, its options): every [search] key that is a pass option (cli/schema.py
    derives the section from the pass), plus what the command sets itself."""
    opts = pass_options_of("search", scfg)
    opts.update(out_dir=str(out), metric=wl.metric, verbose=verbose)
    return get_pass("search"), opts


def hardware_terms(graph, wl: Workload, scfg: dict, out: Path, hw: dict | None, cost_model=None):
    """The checked hardware terms of a search with k_area / k_throughput (mase_passes.cli.hwsearch)."""
    from mase_passes.cli import hwsearch
    if hw is None:
        raise hwsearch.HardwareTermsError("[search] k_area / k_throughput need the [hardware] section "
                                          "(scope, budget) to estimate each trial")
    base, opts = _search_options(wl, scfg, out, False)
    return hwsearch.setup(graph, scfg, hw, base(**opts), cost_model=cost_model)


def search(graph, wl: Workload, scfg: dict, out: Path, reference, stages: Stages, verbose: bool = False,
           hw: dict | None = None, terms=None, evaluations: dict | None = None, seeding: dict | None = None,
           context=None):
    """Run or resume the Optuna study on ``wl.search`` (``reference``: the FP32 outputs of those
    batches) through the pipeline runner; returns (SearchResult, summary dict, pipeline Context).

    The pipeline is mase_passes.pipeline.sensitivity_seeded_search, the one
    benchmarks/minilm_search.py runs: with ``seeding`` (``{"sensitivity": [sensitivity] section,
    "allocate": [allocate] section}``, when [allocate] enabled) the sensitivity pass (on the
    ``[sensitivity] samples`` calibration samples spread over all of them) and the allocate pass run first and
    seed the search and narrow its space; ``context``: the Context of an earlier call, whose
    seeds and ranges the search reuses without measuring again (the search without hardware
    terms).

    Hardware terms (mase_passes.cli.hwsearch): with ``[search] k_area`` or ``k_throughput``
    non-zero, ``hw`` (the [hardware] section) gives each trial an area and a throughput (an
    error when it cannot); ``terms`` (a built HardwareTerms) records them in every trial even
    with both weights 0 (the comparison search without hardware terms). ``evaluations``: a dict
    shared with another search of the same graph, samples and reference; a configuration it has
    already scored is not scored again (the search without hardware terms re-proposes the same
    random-start trials).

    Ctrl-C: during a trial's computation Optuna marks the trial FAIL and re-raises
    KeyboardInterrupt; while Optuna stores a result the interrupt is held until it is stored
    (mase_passes.interrupts). Every finished trial is then committed to the storage, and the next run (same storage and study
    name) counts them and runs only the rest."""
    import optuna

    base, opts = _search_options(wl, scfg, out, verbose)
    url = base(**opts).storage_url()
    if terms is None and (scfg["k_area"] or scfg["k_throughput"]):
        terms = hardware_terms(graph, wl, scfg, out, hw)
    if evaluations is not None:
        opts["evaluations"] = evaluations
    if terms is not None:
        opts.update(hardware_fn=terms.trial, area_reference=terms.reference.get("lut") or 1.0,
                    throughput_reference=terms.reference.get("throughput") or 1.0)

    def trials_so_far() -> list:
        from mase_passes.storage import open_storage  # retries the table-creation race of new databases
        try:
            return optuna.load_study(study_name=scfg["study_name"], storage=open_storage(url)).trials
        except KeyError:  # no such study yet
            return []
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials_so_far())
    if done:
        log.info("[search] resuming study %r: %d finished trial(s) kept in %s", scfg["study_name"], done, url)
    bar = stages.bar(scfg["trials"], "search trials", initial=min(done, scfg["trials"]))
    quiet_optuna = None if verbose else _drop_failed_trial_dumps()
    # The search pass seeds its sampler with seed + trials already stored (a resumed study does
    # not replay its first proposals) and records a trial with NaN/Inf outputs as FAIL and goes on.
    from mase_passes.pipeline import Context, sensitivity_seeded_search
    searcher = base(**opts)
    if context is None:
        context = Context(calibration=_spread_samples(wl.calibration, (seeding or {}).get("sensitivity", {})
                                                      .get("samples", 0)), out_dir=Path("."))
        pipeline = sensitivity_seeded_search(searcher, *_seeding_passes(seeding))
    else:  # the seeds and narrowed ranges of the earlier run are in the context already
        from mase_passes.pipeline import Pipeline
        pipeline = Pipeline([searcher])
    context.search, context.reference, context.metric = wl.search, reference, wl.metric
    context.callbacks = (_progress_callback(bar),)
    stage_seconds = {}
    sens_bar = None

    def sens_progress(done, total):
        nonlocal sens_bar
        if sens_bar is None:
            sens_bar = stages.bar(total, "sensitivity")
        sens_bar.update(1)
    context.progress = sens_progress

    def on_stage(record):
        stage_seconds[record.label] = record.seconds
        if record.label == "allocate":
            log.info("[search] %s", allocation_summary(context))
    try:
        _, records = pipeline.run(graph, context, on_stage=on_stage)
        result = context.reports["search"]
        bar.n = min(result.finished_trials, bar.total)
        bar.refresh()
    finally:
        bar.close()
        if sens_bar is not None:
            sens_bar.close()
        if quiet_optuna is not None:
            quiet_optuna()
    study = result.study
    best = result.best_trial
    info = {"trials": result.finished_trials, "requested": scfg["trials"], "resumed_from": done,
            "sampler": scfg["sampler"], "objective": scfg["objective"], "quality": scfg["quality"], "k": scfg["k"],
            "mantissa": list(scfg["mantissa"]), "storage": url, "study_name": scfg["study_name"],
            "best_trial": best.number, "best_search_metric": best.user_attrs.get("metric"),
            "best_search_bits": best.user_attrs.get("average_bits"),
            "search_samples": wl.info["search_samples"], "search_source": wl.info.get("search_source"),
            "front": _front(out / "pareto.csv"),
            "failed_trials": sum(t.state == optuna.trial.TrialState.FAIL for t in study.trials),
            "nonfinite_failures": sum(t.state == optuna.trial.TrialState.FAIL
                                      and str(t.user_attrs.get("failure", "")).startswith("non-finite")
                                      for t in study.trials),
            "pruned_over_budget": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
            "startup_trials": scfg["startup_trials"], "max_mantissa": scfg["max_mantissa"],
            "pipeline": str(pipeline), "stage_seconds": stage_seconds,
            "best_mean_mantissa": best.user_attrs.get("mean_mantissa")}
    info["sampled_by_model"] = _modelled_trials(study, scfg)
    if "allocate" in context.reports:
        info["allocation"] = allocation_info(context)
    if terms is not None:
        info["k_area"], info["k_throughput"] = scfg["k_area"], scfg["k_throughput"]
        info["hardware_terms"] = terms.info()
        info["best_area"] = best.user_attrs.get("area")
        info["best_throughput"] = best.user_attrs.get("throughput")
        info["trials_table"] = [
            {"trial": t.number, "metric": t.user_attrs.get("metric"), "average_bits": t.user_attrs.get("average_bits"),
             "area": t.user_attrs.get("area"), "throughput": t.user_attrs.get("throughput"),
             "extrapolated": t.user_attrs.get("area_extrapolated"),
             "objective": t.values[0] if t.values else None}
            for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return result, info, context


def _seeding_passes(seeding: dict | None) -> tuple:
    """(sensitivity pass, allocate pass) of the [sensitivity] / [allocate] sections, or (None, None)."""
    if not seeding:
        return None, None
    sens = get_pass("sensitivity")(**pass_options_of("sensitivity", seeding["sensitivity"]))
    return sens, get_pass("allocate")(**pass_options_of("allocate", seeding["allocate"]))


def _spread_samples(batches: list, samples: int) -> list:
    """Whole batches (at least one) of ``samples`` samples spread evenly over all of ``batches``:
    the calibration batches of a sorted file are class-contiguous (the builtin task's first batch
    holds five of its ten classes), so the first batches would not do."""
    if not batches or not samples:
        return list(batches)
    per = batches[0][1].shape[0]
    keep = max(1, samples // per)
    if keep >= len(batches):
        return list(batches)
    from mase_passes.workloads.textdata import evenly_spaced
    idx = torch.tensor(evenly_spaced(per * len(batches), keep * per))
    inputs = {k: torch.cat([b[0][k] for b in batches])[idx] for k in batches[0][0]}
    target = torch.cat([b[1] for b in batches])[idx]
    return [({k: v[i * per:(i + 1) * per] for k, v in inputs.items()}, target[i * per:(i + 1) * per])
            for i in range(keep)]


def allocation_info(ctx) -> dict:
    """results.json's record of the sensitivity and allocate passes of a seeded search."""
    sens, alloc = ctx.reports["sensitivity"], ctx.reports["allocate"]
    space = sens.space
    samples = sum(int(b[1].shape[0]) for b in ctx.calibration)
    return {"budget": alloc.budget, "mean_mantissa": alloc.mean_mantissa, "widths": dict(alloc.widths),
            "seeds": len(alloc.seeds), "dimensions": len(space.dims), "sensitivity_samples": samples,
            "sensitivity_seconds": sens.seconds,
            "damage": {d: {str(m): v for m, v in probes.items()} for d, probes in sens.damage.items()},
            "share": {d.name: d.numel / sum(space.numel.values()) for d in space.dims},
            "narrowed": len(ctx.ranges)}


def allocation_summary(ctx) -> str:
    a = allocation_info(ctx)
    return (f"sensitivity of {a['dimensions']} dimensions on {a['sensitivity_samples']} calibration samples "
            f"({a['sensitivity_seconds']:.1f} s); allocation at budget {a['budget']:g}: mean mantissa "
            f"{a['mean_mantissa']:.2f}, {a['seeds']} seed trials"
            + (f", space narrowed around it" if a["narrowed"] else ""))


def _modelled_trials(study, scfg: dict) -> int:
    """Complete trials TPE proposed from its model (after its start-up trials; Optuna counts
    complete and pruned trials, seed trials included, towards the start-up)."""
    import optuna
    if scfg["sampler"] != "tpe":
        return 0
    States = optuna.trial.TrialState
    seen, modelled = 0, 0
    for t in sorted(study.trials, key=lambda t: t.number):
        if t.state == States.COMPLETE and seen >= scfg["startup_trials"] and "fixed_params" not in t.system_attrs:
            modelled += 1
        if t.state in (States.COMPLETE, States.PRUNED):
            seen += 1
    return modelled


def _drop_failed_trial_dumps():
    """Optuna logs a failed trial with all its parameters (211 for MiniLM) and the traceback;
    the search stage says it in one line instead. Returns the undo function."""
    import logging as _logging

    class _Filter(_logging.Filter):
        def filter(self, record):
            msg = record.getMessage()
            return not (msg.startswith("Trial ") and ("failed with parameters" in msg or "failed with value" in msg))

    flt = _Filter()
    handlers = _logging.getLogger("optuna").handlers
    for h in handlers:
        h.addFilter(flt)

    def undo():
        for h in handlers:
            h.removeFilter(flt)
    return undo


def _progress_callback(bar):
    """An Optuna callback: one tick per complete trial (failed and pruned ones are not counted)."""
    import optuna

    def tick(study, trial) -> None:
        if trial.state == optuna.trial.TrialState.COMPLETE and bar.n < bar.total:
            bar.update(1)
    return tick


def _front(csv_path: Path) -> list[dict]:
    import csv
    if not csv_path.is_file():
        return []
    with open(csv_path, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("on_front") == "1"]
    return sorted(({"trial": int(r["trial"]), "metric": float(r["metric"]),
                    "average_bits": float(r["average_bits"])} for r in rows), key=lambda r: r["average_bits"])
