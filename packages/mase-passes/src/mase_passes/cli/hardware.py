"""The hardware half of ``mase run``: parallelize, emit, simulate, synthesize ([hardware]).

The passes are looked up in the registry; a stage that is switched on but whose pass is not
registered stops with "<name> pass not available" (exit status 1) — there is no stand-in.

What is built is the part of the quantized graph under ``[hardware] scope`` (a module path,
or "model" for all of it): the hwlib operators cover linear / relu / add / mul / gelu and
streaming-order ops, so for a whole transformer a scope picks a block they can build.

Blocking for hardware. ``mase_mxint_linear`` streams X_ROWS x OUT_TILE output tiles; the
mapping inserts a re-blocking stage where a linear's result block differs (so the search's
one-block-for-every-tensor configurations map as they are). ``reblock_weights`` instead gives
every linear in scope the weight blocking the linear chains without re-blocking, (input feature
block, output feature block), keeping mantissa and exponent widths; parallelize with ``widen``
may widen blocks. Both change the numbers, so the full model with the hardware formats is then
scored again (measured) and the report shows both.

The software half runs on ``[model] device``; everything here reads CPU tensors (the mapping
quantizes weights with numpy, the exact emulation and the test vectors are numpy), so the
sub-graph and its sample inputs are moved to the CPU first (cli/device.py).

Simulation runs only when the estimated cycles per input are at most
``simulate_max_cycles`` (a 1600-row MiniLM linear takes ~460k cycles: minutes in Icarus).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from pathlib import Path

import mx_formats as mxf

from mase_passes.cli import device as dev
from mase_passes.cli import stages as st
from mase_passes.cli.stages import require_pass
from mase_passes.cli.subgraph import extract, sample_inputs
from mase_passes.graphs import clone
from mase_passes.passes import REGISTRY

log = logging.getLogger("mase")


def _skip_hint(stage: str) -> str:
    return f"set [hardware] {stage} = false to run without it"


def warn_unavailable(hw: dict) -> None:
    """Say at the start (not only after the search) that a requested hardware stage cannot run."""
    for stage in ("parallelize", "emit"):
        if hw[stage] and stage not in REGISTRY:
            log.warning("warning: %s pass not available in this install; the run will stop at that stage "
                        "(%s)", stage, _skip_hint(stage))


def budget_of(hw: dict):
    """The [hardware] target preset with any lut/dsp/bram override."""
    over = {k: hw[k] for k in ("lut", "dsp", "bram") if hw[k] is not None}
    if not over:
        return hw["target"]
    from mase_passes.hardware.budgets import budget
    base = budget(hw["target"])
    spec = {"lut": base.lut, "ff": base.ff, "dsp": base.dsp, "bram": base.bram, **over}
    spec["name"] = f"{hw['target']} with " + ", ".join(f"{k} {v}" for k, v in over.items())
    return {k: v for k, v in spec.items() if k != "name"}


def reblock(graph, scope: str):
    """A copy where every linear under ``scope`` has the blocking mase_mxint_linear chains (the
    registered reblock pass)."""
    from mase_passes.passes.reblock import Reblock
    return Reblock(scope=scope).apply(graph)


def transplant(full, part):
    """``full`` (a copy) with the formats ``part`` (a parallelized sub-graph) chose (the
    registered transplant pass)."""
    from mase_passes.passes.transplant import Transplant
    return Transplant().apply(full, part)


def _formats(graph) -> dict:
    from mase_passes.graphs import slots
    return {s.key: str(s.type.element) for s in slots(graph)}


def same_tiles(graph, like):
    """A copy of ``graph`` whose fixed-point linears in ``like``'s MXInt places take the tiles the
    MXInt formats give there: ``BLOCK_K, X_ROWS`` = the input's block, ``OUT_TILE`` = the weight's
    second block extent, as mase_mxint_linear tiles them (fixed point has no block, so its tile is a hardware choice, read from
    ``node.hw.parallelism = (X_ROWS, OUT_TILE, BLOCK_K)``). So the int8 row runs at the MXInt
    rows' parallelism, the paper's comparison at equal parallelism."""
    g = None
    names = {m.name for m in like.nodes}
    for n in graph.nodes:
        if n.op != "linear" or not isinstance(n.result.element, mxf.Fixed) or n.name not in names:
            continue
        ref = like.node(n.name)
        x, w = like.value_type(ref.args[0].name).element, ref.params["weight"].type.element
        if not (isinstance(x, mxf.MXInt) and isinstance(w, mxf.MXInt)):
            continue
        g = g or clone(graph)
        node = g.node(n.name)
        # mase_mxint_linear: BLOCK_K, X_ROWS from x's block, OUT_TILE = the weight's second block extent
        node.hw = dataclasses.replace(node.hw, parallelism=(x.block[1] if len(x.block) > 1 else 1,
                                                            w.block[1] if len(w.block) > 1 else 1, x.block[0]))
    return g or graph


def estimate_row(graph, hw: dict, cost_model, tiles_like=None) -> dict:
    """Estimated area and throughput of one configuration: the [hardware] scope mapped and
    parallelized under the [hardware] budget with the formats' own blocks (reblock_weights as
    configured, never widened), so every row of the comparison and every search trial is
    estimated under the same settings; fixed-point linears take the tiles of ``tiles_like``
    (:func:`same_tiles`). {"error": reason} when it does not map or fit."""
    from mase_passes.hardware.mapping import MappingError
    try:
        graph = same_tiles(graph, tiles_like) if tiles_like is not None else graph
        g = reblock(graph, hw["scope"]) if hw["reblock_weights"] else graph
        _, rep = get_parallelize()(budget=budget_of(hw), widen=False, clock_mhz=hw["clock_mhz"],
                                   dsp=hw["use_dsp"]).apply(
            dev.to_device(extract(g, hw["scope"]), dev.CPU), cost_model=cost_model)
    except (MappingError, ValueError) as exc:
        # the first line says why; the per-stage table after it does not fit a table cell
        return {"error": str(exc).splitlines()[0].removesuffix("; per stage:")}
    return describe(rep.estimate, hw, cost_model)


def describe(e, hw: dict, cost_model) -> dict:
    """The numbers of one design estimate the report shows: area totals, the cost model's error
    band per resource (:func:`error_band`), whether any stage extrapolates, and the throughput at
    the design's clock (:func:`design_clock`) with the clock's source."""
    clock, source = design_clock(e, hw["clock_mhz"], cost_model)
    extrapolated = sorted({s.module for s in e.stages if s.area is not None and "extrapolated" in s.area_label})
    return {**_area(e), "band_pct": {r: error_band(e, cost_model, r) for r in RESOURCES},
            "extrapolated": bool(extrapolated), "extrapolated_modules": extrapolated,
            "throughput": clock * 1e6 / e.cycles_per_input, "cycles_per_input": e.cycles_per_input,
            "clock_mhz": clock, "clock_source": source}


RESOURCES = ("lut", "ff", "dsp", "bram")


def error_band(e, cost_model, resource: str) -> float | None:
    """The cost model's relative error for a design total, in percent: the area-weighted mean of
    each modelled stage's held-out MAPE (``CostModel.errors[(module, resource)]``: ``interp_mape``,
    or ``extrap_mape`` for a stage whose parameters lie outside the fitted range),

        band = sum_s MAPE_s * A_s / sum_s A_s,

    which is the MAPE of the total when the stages' errors have one sign (the worst case).
    0 when the total is 0 (e.g. no DSP); None when no stage of the total has a measured error."""
    errors = getattr(cost_model, "errors", None) or {}
    num = den = 0.0
    total = 0.0
    for s in e.stages:
        if s.area is None:
            continue
        a = float(s.area.get(resource, 0.0))
        total += a
        rec = errors.get((s.module, resource)) or {}
        err = rec.get("extrap_mape" if "extrapolated" in s.area_label else "interp_mape")
        if err is None or err != err:  # NaN: a constant target (every synthesized point equal)
            if rec.get("family") in ("constant", "structural"):  # equal everywhere / counted exactly
                err = 0.0
            else:
                continue
        num += float(err) * a
        den += a
    if total == 0.0:
        return 0.0
    return num / den if den > 0 else None


def design_clock(e, configured_mhz: float, cost_model) -> tuple[float, str]:
    """(clock in MHz, where it comes from). A cost model with ``clock_mhz(module, params) ->
    (MHz, source)`` (mase_cost: the Fmax of timing-driven place and route, or its fallback
    labelled as assumed; ``[hardware] clock_mhz`` is passed as that fallback) gives each stage's
    clock and the design runs at the slowest of them; stages it cannot answer for are named.
    Without one (or when it answers for no stage) the design runs at ``[hardware] clock_mhz``:
    "assumed clock"."""
    fn = getattr(cost_model, "clock_mhz", None)
    known, unknown = [], []
    if callable(fn):
        for s in e.stages:
            try:
                try:
                    got = fn(s.module, s.params, fallback_mhz=configured_mhz)
                except TypeError:  # a clock model without a fallback option
                    got = fn(s.module, s.params)
            except (KeyError, ValueError, NotImplementedError):
                got = None
            if got is None or got[0] is None:
                unknown.append(s.module)
            else:
                known.append((float(got[0]), str(got[1]), s.module))
    if not known:
        return float(configured_mhz), f"assumed clock ([hardware] clock_mhz = {configured_mhz:g})"
    mhz, source, module = min(known)
    label = f"{module}: {source}"
    if unknown:
        label += f"; no clock estimate for {', '.join(sorted(set(unknown)))}"
    return mhz, label


def _area(e) -> dict:
    """Area totals; None (not 0) when no stage has a cost model, and which modules lack one."""
    modelled = any(s.area is not None for s in e.stages)
    out = {r: (e.total(r) if modelled else None) for r in ("lut", "ff", "dsp", "bram")}
    out["unmodelled"] = sorted({s.module for s in e.stages if s.area is None})
    return out


def get_parallelize():
    return require_pass("parallelize", _skip_hint("parallelize"))


def run(p, results: dict, stages) -> dict:
    hw = p.cfg.hardware
    if not hw["parallelize"] and not hw["emit"]:
        return {"status": "skipped", "reason": "[hardware] parallelize = false and emit = false"}
    Parallelize = get_parallelize() if hw["parallelize"] else None
    Emit = require_pass("emit", _skip_hint("emit")) if hw["emit"] else None
    from mase_cost import CostModel
    cost_model = CostModel.default()
    scope = hw["scope"]
    info: dict = {"status": "done", "scope": scope, "target": hw["target"], "clock_mhz": hw["clock_mhz"],
                  "use_dsp": hw["use_dsp"],
                  "throughput_unit": "inputs/s", "lines": []}
    q = p.chosen
    hq = reblock(q, scope) if hw["reblock_weights"] else q
    sub = dev.to_device(extract(hq, scope), dev.CPU)  # the hardware stages read numpy
    info["lines"].append(f"Scope: `{scope}` — {len(sub.nodes)} nodes ({', '.join(sorted({n.op for n in sub.nodes}))}), "
                         f"inputs {[i.name for i in sub.inputs]}, outputs {sub.outputs}.")
    if Parallelize is not None:
        t = time.perf_counter()
        sub, rep = Parallelize(budget=budget_of(hw), widen=hw["widen"], clock_mhz=hw["clock_mhz"],
                               dsp=hw["use_dsp"]).apply(
            sub, cost_model=cost_model)
        e = rep.estimate
        info["parallelize_s"] = time.perf_counter() - t
        info["budget"] = rep.budget.name
        d = describe(e, hw, cost_model)
        info["estimate"] = {**d, "inputs_per_s": d["throughput"], "bottleneck": e.bottleneck.stage}
        a = info["estimate"]
        band = a["band_pct"]["lut"]
        area = ("no area estimate: no cost model for " + ", ".join(a["unmodelled"]) if a["lut"] is None else
                f"{a['lut']:,.0f} LUT" + (f" ± {band:.1f}%" if band is not None else "")
                + f", {a['dsp']:,.0f} DSP, {a['bram']:,.0f} BRAM18 (estimated, cost model"
                + (f", extrapolated for {', '.join(a['extrapolated_modules'])}" if a["extrapolated"] else "")
                + (f"; no cost model for {', '.join(a['unmodelled'])}, not counted" if a["unmodelled"] else "") + ")")
        info["operators"] = [{"node": s.stage, "module": s.module, "parallelism": _par(s.params),
                              "lut": (s.area or {}).get("lut"), "cycles": s.cycles_per_input,
                              "area_label": s.area_label} for s in e.stages]
        info["lines"].append(
            f"Parallelize under budget {rep.budget.name}: {area}; bottleneck {e.bottleneck.stage} "
            f"at {e.cycles_per_input:,.0f} cycles per input = {a['throughput']:,.3g} inputs/s (estimated) at "
            f"{a['clock_mhz']:g} MHz ({a['clock_source']}).")
        info["lines"] += [f"parallelize: {s}" for s in rep.steps + rep.notes]
    # the hardware formats on the whole model, scored again when they differ from the chosen ones
    hfull = transplant(hq, sub)
    changed = sum(a != b for a, b in zip(_formats(q).values(), _formats(hfull).values()))
    if changed:
        r = st.evaluate(hfull, p.wl, None)
        info["hardware_config"] = {"changed_tensors": changed, "metric": r.value, "average_bits": r.average_bits}
        info["lines"].append(
            f"Hardware blocking changed {changed} tensor formats (linear weights (BLOCK_K, OUT_TILE)"
            + (", widened blocks" if hw["widen"] else "") + f"); the model with them scores {p.wl.metric} "
            f"{r.value:.4f} at {r.average_bits:.3f} average bits (measured).")
    if p.rows:
        info["estimates"] = {}
        for row in p.rows:
            if row.name != "FP32":
                info["estimates"][row.name] = estimate_row(row.graph, hw, cost_model, tiles_like=q)
        info["estimates"]["chosen (mixed)"] = estimate_row(q, hw, cost_model)
        if getattr(p, "plain", None) is not None:
            info["estimates"][st.PLAIN] = estimate_row(p.plain, hw, cost_model)
        bad = {k: v["error"] for k, v in info["estimates"].items() if "error" in v}
        for k, msg in bad.items():
            info["lines"].append(f"No estimate for {k}: {msg}")
    if Emit is not None:
        # mase run emits into its staging area (published with the artefacts, cli/runfolder.py);
        # mase emit into OUT/design, which must be mase's own and not a link (never resolved)
        design = p.design_dir if getattr(p, "design_dir", None) is not None else \
            (p.folder.claim("design") if getattr(p, "folder", None) is not None else p.cfg.out_dir / "design")
        published = p.cfg.out_dir.absolute() / "design"
        design.parent.mkdir(parents=True, exist_ok=True)
        if "estimate" in info:
            cycles = info["estimate"]["cycles_per_input"]
        else:
            from mase_passes.hardware.estimate import estimate
            from mase_passes.hardware.mapping import map_graph
            cycles = estimate(map_graph(sub), cost_model, hw["clock_mhz"], nodsp=not hw["use_dsp"]).cycles_per_input
        info["cycles_per_input"] = cycles
        # test vectors need the exact (golden-model) emulation, as slow as the design is big: only
        # for designs small enough to simulate
        small = cycles <= hw["simulate_max_cycles"]
        # computed where the model runs ([model] device), read by the numpy emulation on the CPU
        x = dev.to_device(sample_inputs(hfull, sub, p.wl.evaluation[0][0]), dev.CPU) if small else None
        t = time.perf_counter()
        res = Emit(overwrite=True, clock_mhz=hw["clock_mhz"]).apply(sub, design, sample_inputs=x,
                                                                    cost_model=cost_model)
        info["emit_s"] = time.perf_counter() - t
        info["design_dir"] = str(published)
        info["lines"].append(f"Emitted {len(res.files)} files to `{published}` (top.sv, rtl/, mem/, testbench, "
                             f"Yosys scripts, README.md).")
        for gap in res.gaps:
            d = gap.__dict__
            info["lines"].append("Exact (hardware) vs fast (software) emulation on one batch: "
                                 + ", ".join(f"{k} {v}" for k, v in d.items()) + " (measured).")
        _simulate(res, hw, info)
        if hw["synthesize"]:
            _synthesize(design, info)
    return info


def _par(params: dict) -> str:
    keys = [k for k in ("X_ROWS", "OUT_TILE", "BLOCK_K", "BLOCK_0", "BLOCK_1") if k in params]
    return ", ".join(f"{k}={params[k]}" for k in keys)


def _simulate(res, hw: dict, info: dict) -> None:
    cycles = res.estimate.cycles_per_input
    if not hw["simulate"]:
        info["lines"].append("Simulation: off ([hardware] simulate = false).")
        return
    verilator = hw.get("simulator", "icarus") == "verilator"
    tool = "verilator" if verilator else "iverilog"
    if shutil.which(tool) is None:
        name = "Verilator (verilator)" if verilator else "Icarus Verilog (iverilog)"
        info["lines"].append(f"Simulation: skipped, {name} not found on PATH.")
        return
    if cycles > hw["simulate_max_cycles"]:
        info["lines"].append(f"Simulation: skipped, {cycles:,.0f} estimated cycles per input exceed [hardware] "
                             f"simulate_max_cycles = {hw['simulate_max_cycles']:,}; the design was emitted without "
                             f"test vectors (their exact emulation takes as long as the design is big).")
        return
    t = time.perf_counter()
    try:
        ok = res.run_simulation(simulator=hw.get("simulator", "icarus"))
    except SystemExit as exc:  # the cocotb runner exits on a failing bench
        ok = exc.code in (0, None)
    info["simulation"] = {"passed": bool(ok), "seconds": time.perf_counter() - t}
    how = "Verilator C++ model" if verilator else "Icarus, cocotb bench"
    info["lines"].append(f"Simulation ({how} with idle cycles and back-pressure): "
                         f"{'outputs equal the exact emulation bit for bit' if ok else 'FAILED: outputs differ'} "
                         f"({info['simulation']['seconds']:.1f} s, measured).")
    if not ok:
        raise RuntimeError(f"simulation of the emitted design in {res.out_dir} does not match the exact emulation")


def _synthesize(design: Path, info: dict, timeout: int = 3600) -> None:
    """``synth.ys`` of the emitted design (mase_cost's one recipe), run by the Yosys build the cost
    model's sweeps use, so synthesized and estimated numbers are comparable."""
    from mase_cost import synth

    try:
        rec = synth.synthesize_design(design, timeout=timeout)
    except FileNotFoundError as exc:
        info["lines"].append(f"Synthesis: skipped, {exc}.")
        return
    if rec["status"] == "timeout":
        raise RuntimeError(f"yosys synthesis of the emitted design did not finish within {timeout} s (killed)")
    if rec["status"] != "ok":
        raise RuntimeError(f"yosys synthesis of the emitted design in {design} failed: {rec['error']}")
    stat = {t: rec[t] for t in synth.TARGETS}
    info["synthesis"] = {"resources": stat, "seconds": rec["synth_seconds"], "yosys_version": rec["yosys_version"]}
    est = info.get("estimate") or {}
    err = ""
    if est.get("lut"):
        err = f"; cost-model LUT estimate {est['lut']:,.0f} is {100 * (est['lut'] - stat['lut']) / max(stat['lut'], 1):+.1f}% off"
    info["lines"].append(f"Synthesis ({rec['yosys_version'].split(' (')[0]} synth_xilinx xc7): {stat['lut']:,} LUT, "
                         f"{stat['ff']:,} FF, {stat['dsp']:,} DSP, {stat['bram']:,} BRAM18 (synthesized){err}.")


def summary(hw: dict) -> str:
    if hw.get("status") == "done":
        e = hw.get("estimate")
        parts = [f"scope {hw['scope']}"]
        if e:
            lut = "no LUT estimate" if e["lut"] is None else f"{e['lut']:,.0f} LUT"
            parts.append(f"{lut}, {e['inputs_per_s']:,.3g} inputs/s (estimated)")
        if hw.get("design_dir"):
            parts.append(f"design {hw['design_dir']}")
        if hw.get("simulation"):
            parts.append("simulation bit-exact" if hw["simulation"]["passed"] else "simulation FAILED")
        return "; ".join(parts)
    return f"{hw.get('status')}: {hw.get('reason', '')}"
