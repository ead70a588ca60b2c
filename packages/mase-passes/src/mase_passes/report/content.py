"""What the report says: ``results.json`` of a run -> a :class:`Document`.

Every number carries its kind, in its column header or next to it:

* **measured** — computed on this machine in this run (accuracy / perplexity on the evaluation
  samples, agreement with FP32, eq. 1 bits counted on the quantized graph, simulation, wall times);
* **estimated** — predicted by the mase_cost models (area, throughput) through the parallelize pass;
* **synthesized** — reported by Yosys on the emitted design.
"""

from __future__ import annotations

from mase_passes.report.document import Document

KINDS = ("**measured** = computed on this machine in this run; **estimated** = predicted by the "
         "mase_cost models (cost model, no synthesis); **synthesized** = reported by Yosys on the "
         "emitted design.")


def fmt_metric(metric: str, value) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.1f}" if metric == "accuracy" else f"{value:.4g}"


def metric_header(metric: str) -> str:
    return "accuracy % (measured)" if metric == "accuracy" else "perplexity (measured)"


def _pct(v) -> str:
    return "—" if v is None else f"{v * 100:.1f}"


def _num(v, spec=".3g") -> str:
    if isinstance(v, str):
        return v
    return "—" if v is None else format(v, spec)


def build(results: dict) -> Document:
    wl = results["workload"]
    metric = wl["metric"]
    doc = Document(results.get("title") or f"MASE report: {wl.get('task', 'run')}")
    doc.para(f"Run {results['created']} with `{results['command']}` (config `{results.get('config_file')}`). "
             + KINDS)

    doc.heading("Model and task")
    g = results["graph"]
    doc.bullets([f"model: {wl['model']}", f"family: {wl['family']}", f"task: {wl['task']}",
                 f"dataset: `{wl['dataset']}`",
                 f"metric: {metric} on {wl['eval_samples']} evaluation samples "
                 f"(batch {wl['batch_size']} x {wl['max_length']} tokens); search trials scored on "
                 f"{wl['search_samples']}" + (f" ({wl['search_source']})" if wl.get("search_source") else "")
                 + f"; profile on {wl['calibration_samples']} calibration samples"
                 + (f" ({wl['calibration_source']})" if wl.get("calibration_source") else ""),
                 f"traced graph: {g['nodes']} nodes, {g['tensors']} quantizable tensors, "
                 f"{g['parameters']:,} parameters; traced vs eager max |Δ output| on one batch: "
                 f"{g['trace_max_abs_diff']:.3g} (measured)"]
                + ([f"labels: {wl['label_mapping']}"] if wl.get("label_mapping") else []))

    rows = results["comparison"]
    fp32 = rows[0]
    doc.heading("FP32 baseline")
    doc.para(f"Traced graph in FP32: {metric} **{fmt_metric(metric, fp32['metric'])}"
             f"{' %' if metric == 'accuracy' else ''}** (measured), 32 bits per element.")

    ch = results["chosen"]
    doc.heading("Chosen mixed-precision configuration")
    doc.para(f"Source: {ch['source']}. Mode: {ch['mode']}. Config file: `{ch['config_file']}`.")
    doc.table(["", metric_header(metric), "agreement with FP32 % (measured)", "average bits, eq. 1 (measured)",
               "mean mantissa bits (measured)"],
              [["chosen", fmt_metric(metric, ch["metric"]), _pct(ch["agreement"]), _num(ch["average_bits"], ".2f"),
                _num(ch["mean_mantissa"], ".2f")]])
    doc.para("Formats used (tensor count): " + ", ".join(f"`{f}` × {n}" for f, n in ch["formats"].items()) + ".")
    doc.image(ch["bitwidth_png"], "Bitwidth per tensor and per layer of the chosen configuration (paper Fig. 1b)")
    doc.table(["layer", "tensors", "average bits (measured)", "min bits", "max bits"],
              [[r["layer"], r["tensors"], f"{r['average_bits']:.2f}", f"{r['min_bits']:.2f}",
                f"{r['max_bits']:.2f}"] for r in ch["layers"]])

    pr = results["profile"]
    doc.heading("Variance profile")
    doc.para(f"Variance of every activation over the calibration samples ({pr['activations']} activations, "
             f"from {pr['variance_min']:.3g} to {pr['variance_max']:.3g}; measured by the profile pass).")
    doc.image(pr["variance_png"], "Activation variance across the graph (paper Fig. 1a)")

    _search(doc, results.get("search"), metric)
    _comparison(doc, rows, ch, metric, results.get("hardware") or {})
    _hardware(doc, results.get("hardware") or {})

    doc.heading("Run")
    doc.table(["stage", "wall time s (measured)"], [[k, f"{v:.1f}"] for k, v in results["timings"].items()])
    doc.heading("Tool versions")
    doc.table(["tool", "version"], [[k, v] for k, v in results["versions"].items()])
    return doc


def _search(doc: Document, s: dict | None, metric: str) -> None:
    doc.heading("Search")
    if not s or s.get("skipped"):
        doc.para(f"No search: {s.get('skipped') if s else 'not run'}.")
        return
    doc.para(f"Optuna {s['sampler']} sampler, {s['objective']}-objective"
             + (f" (paper eq. 4, k = {s['k']:g})" if s["objective"] == "single" else " (metric vs bits)")
             + f", mantissa widths {s['mantissa'][0]}..{s['mantissa'][1]} per tensor; {s['trials']} finished "
             f"trials of {s['requested']} requested"
             + (f" (resumed with {s['resumed_from']} already finished)" if s["resumed_from"] else "")
             + (f", {s['failed_trials']} failed or interrupted" if s["failed_trials"] else "")
             + (f" ({s['nonfinite_failures']} of them with NaN/Inf outputs)" if s.get("nonfinite_failures") else "")
             + f"; each trial scored on {s['search_samples']} samples"
             + (f" ({s['search_source']})" if s.get("search_source") else "") + f". Best: trial {s['best_trial']} "
             f"({metric} {fmt_metric(metric, s['best_search_metric'])} on the search samples, "
             f"{_num(s['best_search_bits'], '.2f')} bits; measured). Storage: `{s['storage']}`, "
             f"study `{s['study_name']}`.")
    doc.image(s["history_png"], "Search history: metric and average bits per trial (measured)")
    doc.image(s["pareto_png"], "Pareto front, metric vs average bits (measured)")
    doc.table(["trial", f"{metric_header(metric)} on search samples", "average bits (measured)"],
              [[r["trial"], fmt_metric(metric, r["metric"]), f"{r['average_bits']:.2f}"] for r in s["front"]])


def _comparison(doc: Document, rows: list, chosen: dict, metric: str, hw: dict) -> None:
    doc.heading("Comparison")
    est = hw.get("estimates") or {}
    table = []
    for r in rows + [dict(chosen, name="chosen (mixed)", format=chosen["source"])]:
        e = est.get(r["name"]) or {}
        if e.get("unmodelled") and e.get("lut") is None:
            e = dict(e, lut="no cost model", dsp="no cost model")
        table.append([r["name"], f"`{r['format']}`" if r["name"] != "chosen (mixed)" else r["format"],
                      fmt_metric(metric, r["metric"]), _pct(r["agreement"]), _num(r["average_bits"], ".2f"),
                      _num(e.get("lut"), ",.0f"), _num(e.get("dsp"), ",.0f"), _num(e.get("throughput"), ".4g")])
    doc.table(["configuration", "format", metric_header(metric), "agreement % (measured)",
               "average bits (measured)", "area LUT (estimated)", "DSP (estimated)",
               f"throughput {hw.get('throughput_unit', 'inputs/s')} (estimated)"], table)
    if not est:
        doc.para(f"Area and throughput: not estimated — {hw.get('reason', 'hardware stages not run')}.")


def _hardware(doc: Document, hw: dict) -> None:
    doc.heading("Hardware")
    status = hw.get("status", "not run")
    if status != "done":
        doc.para(f"Hardware stages: {status} — {hw.get('reason', '')}")
    for line in hw.get("lines", []):
        doc.para(line)
    if hw.get("design_dir"):
        doc.para(f"Emitted design: `{hw['design_dir']}`.")
    if hw.get("operators"):
        doc.table(["node", "module", "parallelism", "LUT (estimated)", "cycles per input (estimated)"],
                  [[o.get("node"), o.get("module"), o.get("parallelism"), _num(o.get("lut"), ",.0f"),
                    _num(o.get("cycles"), ".4g")] for o in hw["operators"]])
