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


def delta_header(metric: str) -> str:
    return "Δ vs FP32, points (measured)" if metric == "accuracy" else "Δ perplexity vs FP32 (measured)"


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
               "mean mantissa bits, element-weighted (measured)", "mean mantissa bits per tensor (measured)"],
              [["chosen", fmt_metric(metric, ch["metric"]), _pct(ch["agreement"]), _num(ch["average_bits"], ".2f"),
                _num(ch.get("element_mean_mantissa"), ".2f"), _num(ch["mean_mantissa"], ".2f")]])
    c = ch.get("confirm")
    if c and "skipped" in c:
        doc.para(f"Confirmation: {c['skipped']}.")
    elif c:
        doc.para(f"**Confirmation on {c['samples']} test samples** (never seen by the search or the QAT; measured): "
                 f"FP32 {c['fp32'] * 100:.2f} %, chosen {c['chosen'] * 100:.2f} %: difference "
                 f"**{c['difference'] * 100:+.2f} points, 95% interval [{c['low'] * 100:+.2f}, {c['high'] * 100:+.2f}]** "
                 f"({c['interval']}; {c['better']} samples only the chosen configuration gets right, {c['worse']} "
                 f"only FP32).")
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
    if results.get("search_no_hw_terms"):
        _search(doc, results["search_no_hw_terms"], metric, "Search without hardware terms")
    _comparison(doc, results, metric)
    _hardware(doc, results.get("hardware") or {})

    doc.heading("Run")
    doc.table(["stage", "wall time s (measured)"], [[k, f"{v:.1f}"] for k, v in results["timings"].items()])
    doc.heading("Tool versions")
    doc.table(["tool", "version"], [[k, v] for k, v in results["versions"].items()])
    return doc


def _search(doc: Document, s: dict | None, metric: str, title: str = "Search") -> None:
    doc.heading(title)
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
    if s.get("pipeline"):
        doc.para(f"Pipeline (mase_passes.pipeline, `verify()` after every pass): `{s['pipeline']}`"
                 + ("; " + ", ".join(f"{k} {v:.1f} s" for k, v in s.get("stage_seconds", {}).items())
                    + " (measured)" if s.get("stage_seconds") else "") + ".")
    a = s.get("allocation")
    if a:
        doc.para(f"Sensitivity-seeded: output KL to FP32 of each of the {a['dimensions']} search dimensions at the probe "
                 f"width, on {a['sensitivity_samples']} calibration samples ({a['sensitivity_seconds']:.1f} s, "
                 f"measured); the Lagrangian allocation at mean mantissa budget {a['budget']:g} "
                 f"(mean {a['mean_mantissa']:.3f}) and at the extra budgets are the first {a['seeds']} trials"
                 + (", and each dimension's range is narrowed around the allocation" if a["narrowed"] else "")
                 + (f"; the budget is a constraint of the search (max_mantissa = {s['max_mantissa']:g}: "
                    f"{s.get('pruned_over_budget', 0)} proposals over it were pruned without an evaluation)"
                    if s.get("max_mantissa") is not None else "") + ".")
    elif s.get("allocation_reused"):
        doc.para("Seeded and narrowed by the same allocation as the search above (measured once).")
    if s.get("sampler") == "tpe" and "sampled_by_model" in s:
        doc.para(f"TPE: {s['startup_trials']} start-up trials (random, or enqueued seeds; Optuna counts complete "
                 f"and pruned trials), then {s['sampled_by_model']} of the {s['trials']} finished trials were "
                 "proposed from its model.")
    if s.get("hardware_terms"):
        _hardware_terms(doc, s, metric)
    if s.get("history_png"):
        doc.image(s["history_png"], "Search history: metric and average bits per trial (measured)")
        doc.image(s["pareto_png"], "Pareto front, metric vs average bits (measured)")
    doc.table(["trial", f"{metric_header(metric)} on search samples", "average bits (measured)"],
              [[r["trial"], fmt_metric(metric, r["metric"]), f"{r['average_bits']:.2f}"] for r in s["front"]])


CHOSEN = "chosen (mixed)"
PLAIN = "mixed, no hardware terms"  # = mase_passes.cli.stages.PLAIN (the report reads results.json only)
REFERENCE = "int8"  # area efficiency is relative to this row (the paper's Fig. 5, 7, 8)


def _hardware_terms(doc: Document, s: dict, metric: str) -> None:
    t = s["hardware_terms"]
    weights = [f"{k} = {s[k]:g}" for k in ("k_area", "k_throughput") if s.get(k)]
    doc.para(("Hardware terms of eq. 4: " + ", ".join(weights) if weights else
              "No hardware terms in eq. 4 (k_area = k_throughput = 0); each trial's hardware is estimated for "
              "the comparison only")
             + f". Each trial's [hardware] scope is mapped and parallelized with its formats (cost model; cached "
             f"per format assignment of the scope: {t['estimates']} estimates for {t['lookups']} lookups). "
             + ("eq. 4 uses A_ref / A and theta / theta_ref with the reference " if weights else "Reference ")
             + f"{t['reference']}: "
             f"{_num(t['area_reference_lut'], ',.0f')} LUT, {_num(t['throughput_reference'], '.4g')} inputs/s "
             f"({t['low']}: {_num(t['low_lut'], ',.0f')} LUT, {_num(t['low_throughput'], '.4g')} inputs/s; "
             "estimated).")
    if s.get("evaluated") is not None:
        doc.para(f"{s['evaluated']} of its {s['trials']} trials were evaluated by this search; the others are "
                 "configurations the search with hardware terms had already scored on the same samples (reused).")
    for w in t.get("warnings", []):
        doc.para(f"Warning: {w}.")
    rows = s.get("trials_table") or []
    if rows:
        doc.table(["trial", f"{metric_header(metric)} on search samples", "average bits (measured)",
                   "area LUT (estimated)", "throughput inputs/s (estimated)", "eq. 4 objective"],
                  [[r["trial"], fmt_metric(metric, r["metric"]), _num(r["average_bits"], ".2f"),
                    _num(r["area"], ",.0f") + (", extrapolated" if r.get("extrapolated") else ""),
                    _num(r["throughput"], ".4g"), _num(r["objective"], ".5g")] for r in rows])


def comparison_rows(results: dict) -> tuple[list[dict], str | None, str]:
    """The comparison's data: one dict per row (name, format, metric, agreement, average_bits,
    delta = metric difference vs FP32, in percentage points for accuracy, est = the hardware estimate or
    None, error = why there is none, efficiency = area efficiency vs the reference row), the
    reference row's name (None when no row has an estimate) and a note on the reference.

    Area efficiency = throughput per LUT relative to the reference row,
    ``(theta / LUT) / (theta_ref / LUT_ref)``; the reference is int8 (the paper's baseline), or,
    when int8 has no estimate, the first row that has one (the note says so)."""
    metric = results["workload"]["metric"]
    hw = results.get("hardware") or {}
    est = hw.get("estimates") or {}
    ch = results["chosen"]
    rows = [dict(r) for r in results["comparison"]] + [dict(ch, name=CHOSEN, format=ch["source"])]
    if results.get("plain"):
        rows.append(dict(results["plain"]))
    fp32 = next((r["metric"] for r in rows if r["name"] == "FP32"), None)
    for r in rows:
        e = est.get(r["name"])
        r["error"] = None
        if r["name"] == "FP32":
            r["error"] = "not built (FP32 is the software reference)"
        elif e is None:
            r["error"] = "not estimated: " + (hw.get("reason") or "hardware stages not run")
        elif "error" in e:
            r["error"] = e["error"]
        elif not e.get("lut") or not e.get("throughput"):
            r["error"] = "no area estimate: no cost model for " + ", ".join(e.get("unmodelled") or ["?"])
        r["est"] = None if r["error"] else e
        r["delta"] = (None if fp32 is None or r["metric"] is None
                      else (100 if metric == "accuracy" else 1) * (r["metric"] - fp32))
    ref = next((r for r in rows if r["name"] == REFERENCE and r["est"]), None)
    note = f"relative to the {REFERENCE} row"
    if ref is None:
        ref = next((r for r in rows if r["est"]), None)
        why = next((r["error"] for r in rows if r["name"] == REFERENCE), "not in [report] compare")
        note = (f"relative to the {ref['name']} row, because {REFERENCE} has no estimate ({why})" if ref else
                "not computed: no row has a hardware estimate")
    for r in rows:
        r["efficiency"] = None
        if r["est"] and ref is not None:
            e, f = r["est"], ref["est"]
            r["efficiency"] = (e["throughput"] / e["lut"]) / (f["throughput"] / f["lut"])
    return rows, (ref["name"] if ref else None), note


def _clock(e: dict, hw: dict) -> tuple[float, str]:
    """(MHz, source) of a row's throughput; results written before clocks were recorded used
    [hardware] clock_mhz."""
    if e.get("clock_mhz") is not None:
        return e["clock_mhz"], e.get("clock_source", "")
    return hw.get("clock_mhz", 200.0), "assumed clock ([hardware] clock_mhz)"


def _resource(e: dict, r: str) -> str:
    """'42.0k ± 4.1%' (LUT, FF) or '64 ± 0.0%' (DSP, BRAM), ' (error band unmeasured)' where the cost model
    has no held-out error for it, ', extrapolated' where a stage extrapolates."""
    v = e.get(r)
    if v is None:
        return "no cost model"
    text = f"{v / 1000:.1f}k" if r in ("lut", "ff") and v >= 1000 else f"{v:,.0f}"
    band = (e.get("band_pct") or {}).get(r)
    if round(v) != 0:
        text += " (error band unmeasured)" if band is None else f" ± {band:.1f}%"
    if e.get("extrapolated") and round(v) != 0:
        text += ", extrapolated"
    return text


def _comparison(doc: Document, results: dict, metric: str) -> None:
    doc.heading("Comparison")
    rows, ref, note = comparison_rows(results)
    hw = results.get("hardware") or {}
    table = []
    for r in rows:
        e = r["est"]
        fmt = f"`{r['format']}`" if r["name"] not in (CHOSEN, PLAIN) else r["format"]
        cells = [r["name"], fmt, fmt_metric(metric, r["metric"]), _num(r["delta"], "+.1f" if metric == "accuracy" else "+.4g"),
                 _pct(r["agreement"]), _num(r["average_bits"], ".2f")]
        if e:
            cells += [_resource(e, k) for k in ("lut", "ff", "dsp", "bram")]
            cells += [f"{e['throughput']:.4g} at {_clock(e, hw)[0]:g} MHz", f"{r['efficiency']:.3f}x"]
        else:
            cells += [r["error"]] + ["—"] * 5
        table.append(cells)
    doc.table(["configuration", "format", metric_header(metric), delta_header(metric),
               "agreement % (measured)", "average bits (measured)", "LUT (estimated)", "FF (estimated)",
               "DSP (estimated)", "BRAM18 (estimated)",
               f"throughput {hw.get('throughput_unit', 'inputs/s')} (estimated)",
               f"area efficiency vs {ref or REFERENCE} (estimated)"], table)
    with_est = [r for r in rows if r["est"]]
    if with_est:
        clocks = sorted({"{:g} MHz: {}".format(*_clock(r["est"], hw)) for r in with_est})
        doc.para(f"Every row is the [hardware] scope `{hw.get('scope')}` parallelized under the same budget "
                 f"({hw.get('budget') or hw.get('target')}) with the same settings (the formats' own blocks, not "
                 "widened), multipliers " + ("in DSP48E1s where 9 bits or wider ([hardware] use_dsp = true)"
                 if hw.get("use_dsp") else "in LUTs ([hardware] use_dsp = false: the LUT count is the whole "
                 "datapath)") + ". Area: mase_cost cost model; ± is its held-out error (area-weighted mean of the "
                 "operators' MAPE; the extrapolation MAPE where an operator's parameters are outside the "
                 "synthesized range, marked extrapolated). Throughput = clock / bottleneck cycles per input. "
                 "Clock: " + "; ".join(clocks) + f". Area efficiency = throughput per LUT, {note}.")
    elif not (hw.get("estimates")):
        doc.para(f"Area and throughput: not estimated — {hw.get('reason', 'hardware stages not run')}.")
    plain = next((r for r in rows if r["name"] == PLAIN), None)
    chosen = next(r for r in rows if r["name"] == CHOSEN)
    s = results.get("search") or {}
    if plain is not None:
        terms = ", ".join(f"{k} = {s[k]:g}" for k in ("k_area", "k_throughput") if s.get(k))
        if chosen["est"] and plain["est"]:
            gain = (chosen["est"]["throughput"] / chosen["est"]["lut"]) / (plain["est"]["throughput"]
                                                                           / plain["est"]["lut"])
            doc.para(f"Hardware terms: the search with {terms} chose a design with **{gain:.3f}x** the area "
                     f"efficiency of the same search without them (row {PLAIN}; estimated; the paper reports "
                     f"1.11x), at {fmt_metric(metric, chosen['metric'])} vs {fmt_metric(metric, plain['metric'])} "
                     f"{metric} (measured"
                     + (f"; {chosen['mode'].upper()} vs {plain['mode'].upper()}: only the chosen configuration is "
                        "fine-tuned" if plain.get("mode") and plain["mode"] != chosen.get("mode") else "") + ").")
        else:
            doc.para(f"Hardware terms ({terms}): no area-efficiency comparison — "
                     f"{chosen['error'] or plain['error']}.")
    if "comparison.png" in results.get("files", []):
        doc.image("comparison.png", f"Area efficiency vs {ref or REFERENCE} (bars, estimated) and {metric} difference "
                                    "vs FP32 (line, measured) per configuration (after the paper's Fig. 7)")


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
