"""Area and cycle estimates of a mapped design, each number labelled with where it came from.

Per stage:

* **cycles per input** — cycles the stage needs for one whole input (one pass of the graph's
  static batch) at full rate: ``cycles_per_block x output beats`` with ``cycles_per_block``
  from ``mase_cost.cycles`` (formulas checked against simulation there): 1 for the
  elementwise modules, ``IN_TILES`` per output tile for linear. A dataflow pipeline's
  throughput is set by its slowest stage, the *bottleneck*: ``1 / max_s cycles_s`` inputs
  per cycle (stages overlap in steady state).
* **area** — ``mase_cost.CostModel.predict`` (Yosys xc7 sweeps, regression) where the cost
  model has a fitted family for the module: label ``estimated (cost model)``; with
  parameters outside its fitted range it extrapolates and says ``estimated (cost model,
  extrapolated)``; a module it does not know gets no number and the label
  ``no cost model for <module>`` — nothing is invented.

Register slices (``mase_skid_buffer``) move one beat per cycle and are never the bottleneck;
their area is not modelled by mase_cost either and is reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mase_cost import cycles as cost_cycles
from mase_hwlib import catalog

from mase_passes.hardware.mapping import HwDesign

__all__ = ["StageEstimate", "DesignEstimate", "estimate", "RESOURCES"]

RESOURCES = ("lut", "ff", "dsp", "bram", "carry")


@dataclass
class StageEstimate:
    stage: str
    module: str
    params: dict
    cycles_per_input: float
    latency: float
    area: dict | None
    area_label: str
    cycles_label: str = "estimated (mase_cost.cycles formula)"


@dataclass
class DesignEstimate:
    stages: list[StageEstimate]
    clock_mhz: float
    notes: list[str] = field(default_factory=list)

    @property
    def bottleneck(self) -> StageEstimate:
        return max(self.stages, key=lambda s: s.cycles_per_input)

    @property
    def cycles_per_input(self) -> float:
        return self.bottleneck.cycles_per_input

    @property
    def inputs_per_s(self) -> float:
        return self.clock_mhz * 1e6 / self.cycles_per_input

    def total(self, resource: str) -> float:
        """Sum over the stages that have an area estimate (see ``unmodelled``)."""
        return sum(s.area.get(resource, 0.0) for s in self.stages if s.area is not None)

    @property
    def unmodelled(self) -> list[str]:
        return [s.stage for s in self.stages if s.area is None]

    def table(self) -> str:
        rows = [f"{'stage':<20} {'module':<20} {'cycles/input':>12} {'LUT':>9} {'FF':>8} {'DSP':>6} "
                f"{'BRAM':>6}  area source"]
        for s in self.stages:
            a = s.area
            cells = [f"{a.get(r, 0.0):9.0f}" if a else f"{'-':>9}" for r in ("lut",)]
            cells += [f"{a.get(r, 0.0):8.0f}" if a else f"{'-':>8}" for r in ("ff",)]
            cells += [f"{a.get(r, 0.0):6.0f}" if a else f"{'-':>6}" for r in ("dsp", "bram")]
            mark = " <- bottleneck" if s is self.bottleneck else ""
            rows.append(f"{s.stage:<20} {s.module:<20} {s.cycles_per_input:12.0f} {' '.join(cells)}  "
                        f"{s.area_label}{mark}")
        rows.append(f"total (modelled stages): LUT {self.total('lut'):.0f}, FF {self.total('ff'):.0f}, "
                    f"DSP {self.total('dsp'):.0f}, BRAM {self.total('bram'):.0f}"
                    + (f"; no estimate for {self.unmodelled}" if self.unmodelled else ""))
        by_label: dict[str, list[str]] = {}
        for s in self.stages:
            if s.cycles_label != "estimated (mase_cost.cycles formula)":
                by_label.setdefault(s.cycles_label, []).append(s.stage)
        rows += [f"cycles of {names}: {label}" for label, names in by_label.items()]
        rows.append(f"throughput: {self.cycles_per_input:.0f} cycles per input (bottleneck {self.bottleneck.stage}), "
                    f"{self.inputs_per_s:.4g} inputs/s at {self.clock_mhz:g} MHz (estimated)")
        return "\n".join(rows)


def _cost_model(model):
    if model is not None:
        return model
    from mase_cost import CostModel

    return CostModel.default()


def stage_area(model, module: str, params: dict, nodsp: bool = False) -> tuple[dict | None, str]:
    """(predicted resources or None, label) for one module instance; ``nodsp``: every product in
    LUTs (synth_xilinx -nodsp), else products of 9 bits or more in DSP48E1s."""
    if module not in model.modules:
        return None, f"no cost model for {module}"
    clean = {k: v for k, v in params.items() if not isinstance(v, str)}
    note = ""
    if clean.get("WEIGHTS_IN_ROM"):
        # the cost model was fitted on streamed-weight linears: the ROM itself is not in it
        clean["WEIGHTS_IN_ROM"] = 0
        note = "; weight/bias ROM not included"
    try:
        try:
            return model.predict(module, clean, nodsp=nodsp), "estimated (cost model" + note + ")"
        except ValueError as exc:
            if "fitted range" not in str(exc):
                raise
            return model.predict(module, clean, nodsp=nodsp, extrapolate=True), "estimated (cost model, extrapolated" + note + ")"
    except (KeyError, ValueError) as exc:  # a model that cannot answer gives no number, and says why
        return None, f"no cost model for {module} (prediction failed: {type(exc).__name__}: {exc})"


def estimate(design: HwDesign, cost_model=None, clock_mhz: float = 200.0, nodsp: bool = False) -> DesignEstimate:
    """Per-stage cycles and area of ``design`` (see the module docstring for the labels); ``nodsp``
    estimates soft-logic multipliers (no DSP48E1), as :func:`stage_area`."""
    model = _cost_model(cost_model)
    out = []
    for s in design.stages:
        resolved = catalog.get(s.module).resolve(s.params)
        beats = design.values[s.output].beats
        area, label = stage_area(model, s.module, s.params, nodsp)
        try:
            c = cost_cycles.cycles(s.module, resolved)
            cyc_label = "estimated (mase_cost.cycles formula)"
        except KeyError:
            c = None
        if c is None and "CYCLES_PER_BLOCK" in resolved:
            # no mase_cost formula, but the catalog entry derives its schedule (e.g. the BMF / BL
            # linears: an output block every OUT_GROUP * IN_TILES cycles, checked in their benches)
            c = {"cycles_per_block": float(resolved["CYCLES_PER_BLOCK"]), "latency": float(resolved["LATENCY"])}
            cyc_label = f"catalog schedule (no mase_cost cycle model for {s.module})"
        if c is None:
            # mase_cost has no cycle formula: the catalog's documented schedule (one beat per cycle
            # for these streaming modules, LATENCY if the entry derives one), labelled as such
            c = {"cycles_per_block": 1.0, "latency": float(resolved.get("LATENCY", 1))}
            cyc_label = f"assumed 1 beat/cycle (no mase_cost cycle model for {s.module})"
        out.append(StageEstimate(s.name, s.module, dict(s.params), c["cycles_per_block"] * beats,
                                 c["latency"], area, label, cyc_label))
    return DesignEstimate(out, clock_mhz)
