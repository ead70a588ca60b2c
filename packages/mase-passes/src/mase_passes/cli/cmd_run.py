"""mase run CONFIG: the whole co-design flow, then the report.

Stages, each ending with a one-line summary:

  load        model and dataset ([model], [dataset])
  trace       the model into a mase_ir graph; checked against the eager model on one batch
  profile     activation statistics on the calibration samples -> variance plot (paper Fig. 1a)
  compare     FP32 and the uniform configurations of [report] compare on the evaluation samples
  search      Optuna over per-tensor mantissa widths ([search]); resumes a stored study; with
              k_area / k_throughput each trial's [hardware] scope is estimated (cli/hwsearch.py)
  search without hardware terms
              only with k_area / k_throughput: the same search with both set to 0 (study
              <study_name>_no_hw_terms), so the report can show what the hardware terms bought
  choose      the search's best (or [quantize] config) quantized and scored -> bitwidths (Fig. 1b)
  hardware    parallelize (estimated area / throughput), emit, simulate, synthesize ([hardware])
  report      OUT/report/report.md + report.html + PNGs, written atomically

Outputs under [output] dir (or --out): artifacts/ (results.json and the files of the report),
search/ (the Optuna storage and search outputs; keep it to resume; search_no_hw_terms/ for the
search without hardware terms), design/ (the emitted
design), report/. A second run with the same config resumes the search from its storage.
The folder is locked for the run, artefacts and design are staged and published with a manifest
at the end, and nothing mase did not create is replaced (cli/runfolder.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shlex
import shutil
import sys

from mase_passes.atomic import write_atomic
from mase_passes.cli import hardware
from mase_passes.cli import stages as st
from mase_passes.cli.prepare import Prepared, prepare
from mase_passes.cli.progress import Stages
from mase_passes.passes.evaluate import reference_logits

HELP = "the whole flow: trace, profile, compare, search, choose, hardware, report"
log = logging.getLogger("mase")
PLAIN = st.PLAIN


def add_arguments(p) -> None:
    from mase_passes.cli.main import add_config_arguments
    add_config_arguments(p)


def main(args, stages: Stages) -> int:
    from mase_passes.cli.prepare import check
    cfg, _ = check(args)  # before anything is loaded
    hardware.warn_unavailable(cfg.hardware)
    if cfg.search["trials"] == 0:
        for key in ("k_area", "k_throughput"):
            if cfg.search[key]:
                log.warning("warning: [search] %s = %g has no effect: [search] trials = 0 (no search)", key,
                            cfg.search[key])
    p = prepare(args, stages, staged=True)  # artefacts and design published at the end
    results = software(p, stages, verbose=args.verbose)
    failure = None
    with stages.stage("hardware") as s:
        try:
            results["hardware"] = hardware.run(p, results, stages)
        except Exception as exc:  # the report still says what the software half measured
            failure = exc
            results["hardware"] = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
        s.summary = hardware.summary(results["hardware"])
    report_dir = finish(p, results, stages, args)
    print(report_dir / "report.html")
    if failure is not None:
        raise failure
    return 0


def software(p: Prepared, stages: Stages, verbose: bool = False) -> dict:
    """compare, search and choose; returns the results dict (without hardware)."""
    cfg, wl, graph, art = p.cfg, p.wl, p.graph, p.artifacts
    results = p.results
    with stages.stage("compare") as s:
        reference = reference_logits(graph, wl.evaluation)
        rows = st.compare(graph, wl, cfg.report["compare"], reference, stages)
        results["comparison"] = [r.row() for r in rows]
        s.summary = ", ".join(f"{r.name} {_m(wl.metric, r.metric)}" for r in rows)
    p.rows = rows
    plain = None
    if cfg.search["trials"] > 0:
        with stages.stage("search") as s:
            search_reference = reference_logits(graph, wl.search)
            terms, scored = None, {}  # scored: evaluations shared with the search without hardware terms
            p.folder.claim("search")
            if cfg.search["k_area"] or cfg.search["k_throughput"]:
                terms = st.hardware_terms(graph, wl, cfg.search, cfg.out_dir / "search", cfg.hardware)
            res, info, seeded = st.search(graph, wl, cfg.search, cfg.out_dir / "search", search_reference, stages,
                                          verbose, hw=cfg.hardware, terms=terms,
                                          evaluations=scored if terms is not None else None,
                                          seeding=st.seeding(cfg))
            for name in ("history", "pareto"):
                shutil.copy2(cfg.out_dir / "search" / f"{name}.png", art / f"search_{name}.png")
            info.update(history_png="search_history.png", pareto_png="search_pareto.png")
            results["search"] = info
            s.summary = (f"{info['trials']} trials ({_trial_kinds(info)}), best trial {info['best_trial']}: "
                         f"{wl.metric} {_m(wl.metric, info['best_search_metric'])} at "
                         f"{info['best_search_bits']:.2f} bits" + _hw_summary(info) + f" (storage {info['storage']})")
        conf, source = res.best_config, f"search best trial {info['best_trial']}"
        if terms is not None:
            with stages.stage("search without hardware terms") as s:
                scfg = dict(cfg.search, k_area=0.0, k_throughput=0.0,
                            study_name=cfg.search["study_name"] + "_no_hw_terms")
                fresh = len(scored)
                p.folder.claim("search_no_hw_terms")
                res0, info0, _ = st.search(graph, wl, scfg, cfg.out_dir / "search_no_hw_terms", search_reference,
                                           stages, verbose, terms=terms, evaluations=scored, context=seeded)
                if "allocation" in info:  # the same seeds and space, measured once
                    info0["allocation_reused"] = True
                info0["evaluated"] = len(scored) - fresh  # the others were scored by the first search
                results["search_no_hw_terms"] = info0
                info["hardware_terms"] = terms.info()  # the cache counts now cover both searches
                s.summary = (f"{info0['trials']} trials, best trial {info0['best_trial']}: {wl.metric} "
                             f"{_m(wl.metric, info0['best_search_metric'])} at {info0['best_search_bits']:.2f} bits"
                             + _hw_summary(info0) + f"; {info0['evaluated']} new evaluations, "
                             f"{terms.trial.estimates} hardware estimates for "
                             f"{terms.trial.lookups} lookups in both searches")
            plain = (res0.best_config, f"search without hardware terms, best trial {info0['best_trial']}")
    else:
        results["search"] = {"skipped": "[search] trials = 0; the configuration comes from [quantize] config"}
        conf = cfg.quantize["config"]
        source = f"[quantize] config {conf if isinstance(conf, str) else '(inline)'}"
    with stages.stage("choose") as s:
        q = st.quantize_chosen(graph, wl, conf, cfg.quantize, stages)
        r = st.evaluate(q, wl, reference)
        dist = st.bit_distribution(q)
        from mase_passes.report.figures import plot_bitwidths
        plot_bitwidths(dist, art / "bitwidths.png")
        st.write_chosen_config(conf, art / "chosen_config.toml", f"{source}; {wl.metric} {r.value:.4f} "
                               f"on {wl.info['eval_samples']} samples, {r.average_bits:.3f} average bits")
        results["chosen"] = {"source": source, "mode": cfg.quantize["mode"], "config_file": "chosen_config.toml",
                             "metric": r.value, "agreement": r.agreement, "average_bits": r.average_bits,
                             "mean_mantissa": dist["mean_mantissa"], "formats": dist["formats"],
                             "layers": dist["layers"], "bitwidth_png": "bitwidths.png"}
        results["chosen"]["element_mean_mantissa"] = dist["element_mean_mantissa"]
        s.summary = (f"{source}: {wl.metric} {_m(wl.metric, r.value)}, {r.average_bits:.2f} bits, "
                     f"mean mantissa {dist['element_mean_mantissa'] or float('nan'):.2f} (element-weighted; "
                     f"{dist['mean_mantissa'] or float('nan'):.2f} per tensor), "
                     f"{len(dist['formats'])} formats")
        if plain is not None:  # the comparison row of the search without hardware terms
            if plain[0] == conf:  # both searches chose the same configuration: the same graph and scores
                q0, r0, how = q, r, cfg.quantize["mode"]
            else:  # PTQ: the row is there for its hardware estimate; a second QAT would double the run's longest stage
                q0 = st.quantize_chosen(graph, wl, plain[0], dict(cfg.quantize, mode="ptq"), stages)
                r0, how = st.evaluate(q0, wl, reference), "ptq"
            results["plain"] = {"name": PLAIN, "format": f"{plain[1]} ({how.upper()})", "mode": how,
                                "metric": r0.value, "agreement": r0.agreement, "average_bits": r0.average_bits}
            p.plain = q0
            s.summary += f"; {PLAIN}: {wl.metric} {_m(wl.metric, r0.value)}, {r0.average_bits:.2f} bits"
    p.chosen = q
    if cfg.report["confirm_samples"]:
        with stages.stage("confirm") as s:
            if wl.metric != "accuracy":
                results["chosen"]["confirm"] = {"skipped": "[report] confirm_samples: accuracy tasks only"}
                s.summary = "skipped: the paired accuracy interval is for accuracy tasks only"
            else:
                c = st.confirm(graph, q, st.confirm_batches(wl, cfg.report["confirm_samples"], cfg.model["device"]))
                results["chosen"]["confirm"] = c
                s.summary = (f"on {c['samples']} test samples: FP32 {c['fp32'] * 100:.1f}%, chosen "
                             f"{c['chosen'] * 100:.1f}%, difference {c['difference'] * 100:+.2f} points, 95% interval "
                             f"[{c['low'] * 100:+.2f}, {c['high'] * 100:+.2f}] (paired; measured)")
    return results


def _trial_kinds(info: dict) -> str:
    parts = []
    if info.get("allocation"):
        parts.append(f"{info['allocation']['seeds']} allocation seeds")
    if info["sampler"] == "tpe":
        parts.append(f"{info['sampled_by_model']} proposed by TPE's model after its {info['startup_trials']} "
                     "start-up trials")
    if info.get("pruned_over_budget"):
        parts.append(f"{info['pruned_over_budget']} over-budget proposals pruned unevaluated")
    return "; ".join(parts) or info["sampler"]


def _hw_summary(info: dict) -> str:
    if info.get("best_area") is None:
        return ""
    return f", {info['best_area']:,.0f} LUT, {info['best_throughput']:,.4g} inputs/s (estimated)"


def finish(p: Prepared, results: dict, stages: Stages, args) -> object:
    from mase_passes import __version__
    from mase_passes.report import write_report
    from mase_passes.report.versions import all_versions

    with stages.stage("report") as s:
        results.update(
            title=p.cfg.report["title"], created=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            command="mase " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[0].endswith("mase")
            else f"mase {args.command} {args.config}",
            config_file=str(p.cfg.path), config=_jsonable(p.cfg.as_dict()), mase_version=__version__,
            versions=all_versions())
        results["timings"] = dict(stages.timings)
        files = ["variance.png", "bitwidths.png", "chosen_config.toml"]
        if results.get("search", {}).get("history_png"):
            files += ["search_history.png", "search_pareto.png"]
        from mase_passes.report.content import comparison_rows
        from mase_passes.report.figures import plot_comparison
        rows, ref, _ = comparison_rows(results)
        plot_comparison(rows, ref, results["workload"]["metric"], p.artifacts / "comparison.png")
        files.append("comparison.png")
        results["files"] = files
        write_atomic(p.artifacts / "results.json", json.dumps(results, indent=1, default=str))
        # artefacts and design swapped in with a manifest; the report is rendered from them
        published = p.folder.publish(results["config"], results["versions"])
        report_dir = write_report(published, p.folder.claim("report"))
        s.summary = f"{report_dir / 'report.md'} and report.html"
    return report_dir


def _m(metric: str, v) -> str:
    if v is None:
        return "n/a"
    return f"{v * 100:.1f}%" if metric == "accuracy" else f"ppl {v:.4g}"


def _jsonable(x):
    return json.loads(json.dumps(x, default=str))
