"""parallelize: choose each operator's stream tile under a resource budget, record the choice.

In mase_hwlib the stream tile *is* the MX block: one beat carries one block, and a stage does
one block (elementwise) or one tile pair (linear: ``X_ROWS x OUT_TILE x BLOCK_K``
multiply-adds) per cycle. So a stage's parallelism is its tensors' block shape, and tiles are
tied together along the dataflow: a linear's ``BLOCK_K`` is its input's feature block and its
weight's first block extent, its ``OUT_TILE`` the weight's second extent and its output's
feature block, the rows per tile flow unchanged through every stage, elementwise stages keep
the block. These ties form equivalence classes of block extents (union-find below).

Algorithm (greedy, after the paper's balancing of dataflow stages):

1. map the quantized graph (tiles = the config's blocks, the starting point) and estimate
   every stage's cycles per input and area (:mod:`mase_passes.hardware.estimate`);
2. if the modelled area is already over the budget: error naming the resources;
3. repeat: take the bottleneck stage (most cycles per input); for each block class its
   cycles depend on, try doubling it (every tensor in the class must still tile its axis,
   and blocks stay within ``max_block``); keep the candidate with the fewest bottleneck
   cycles (then the least LUTs) whose modelled area fits; stop when none fits or nothing
   improves.

Doubling a block changes the quantization (more elements share an exponent; mantissa and
exponent widths are kept), so the result is a new graph whose accuracy should be evaluated
again — the co-design loop. ``widen=False`` only estimates and checks the budget.
A stage whose module has no cost model has no area number (label ``no cost model for
<module>``); by default parallelize does not widen such a stage (its area growth would be
unaccounted) and says so in the notes; ``allow_unmodelled=True`` widens it anyway.

Results: each mapped node's ``hw`` (HardwareMeta: ip, tile, streaming_order, interface,
parallelism, area = estimated LUTs or None, throughput = output elements per cycle), and a
:class:`ParallelizeReport` with the per-stage table, the bottleneck and the notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import mx_formats as mxf
from mase_ir import MaseGraph
from mase_ir.metadata import HardwareMeta

from mase_passes.graphs import clone
from mase_passes.passes.options import option
from mase_passes.hardware.budgets import Budget, budget as make_budget
from mase_passes.hardware.estimate import DesignEstimate, estimate
from mase_passes.hardware import fixed_map
from mase_passes.hardware.mapping import HwDesign, MappingError, map_graph

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome


class BudgetError(ValueError):
    """The design does not fit the budget even at its starting tiles."""


@dataclass
class ParallelizeReport:
    budget: Budget
    estimate: DesignEstimate
    design: HwDesign
    steps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: range problems of the mapped design (a Fixed format that saturates its profiled range, ...)
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"parallelize under budget {self.budget.name} (LUT {self.budget.lut:g}, FF {self.budget.ff:g}, "
                 f"DSP {self.budget.dsp:g}, BRAM18 {self.budget.bram:g})", self.estimate.table()]
        lines += [f"warning: {w}" for w in self.warnings]
        lines += [f"step: {s}" for s in self.steps] + [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


# ---- block classes ----------------------------------------------------------------------------

class _Classes:
    """Union-find over block extents: key -> class root; each key knows the tensor axis it tiles."""

    def __init__(self):
        self.parent: dict = {}
        self.extent: dict = {}  # key -> length of the axis the extent must divide

    def add(self, key, extent: int):
        self.parent.setdefault(key, key)
        self.extent[key] = extent

    def find(self, key):
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb

    def members(self, root):
        return [k for k in self.parent if self.find(k) == root]


def _classes(design: HwDesign) -> _Classes:
    g = design.graph
    c = _Classes()
    for v in design.values.values():
        c.add(("F", v.name), v.shape[1])
        c.add(("R", v.name), v.graph_shape[-2] if len(v.graph_shape) >= 2 else 1)
    for s in design.stages:
        ins = list(s.inputs.values())
        if s.group is not None or s.module == "mase_mxint_reblock":
            continue  # attention stages (blocks fixed by mase_hwlib.attention.plan) and reblock (changes blocks)
        if s.module == "mase_mxint_rom_source" and g.node(s.node).op == "layer_norm":
            # gamma / beta: their parameter block follows the activation block they are applied to
            role = "weight" if s.name.endswith("_weight_rom") else "bias"
            c.add(("LN", f"{s.node}/{role}"), g.node(s.node).params[role].type.shape[-1])
            c.union(("LN", f"{s.node}/{role}"), ("F", s.output))
            continue
        if s.module == "mase_fixed_linear":
            # fixed point has no block: BLOCK_K is the input's feature tile, OUT_TILE the output's;
            # both are free hardware choices (fixed_map hints), only the rows flow through
            c.union(("R", ins[0]), ("R", s.output))
            continue
        if s.module == "mase_mxint_linear":
            n = g.node(s.node)
            fout, fin = n.params["weight"].type.shape
            c.add(("W0", s.node), fin)
            c.add(("W1", s.node), fout)
            c.union(("W0", s.node), ("F", ins[0]))
            c.union(("W1", s.node), ("F", s.output))
            c.union(("R", ins[0]), ("R", s.output))
        else:
            for v in ins:
                c.union(("F", v), ("F", s.output))
                c.union(("R", v), ("R", s.output))
    # streaming no-op nodes alias their operand's stream: same value object, nothing to tie
    return c


def _size(design: HwDesign, key) -> int:
    kind, name = key
    if kind in ("F", "R"):
        return design.values[name].tile[0 if kind == "F" else 1]
    if kind == "LN":
        node, role = name.split("/")
        return design.graph.node(node).params[role].type.element.block[0]
    n = design.graph.node(name)
    b = n.params["weight"].type.element.block
    return b[0] if kind == "W0" else (b[1] if len(b) == 2 else 1)


def _reblock(graph: MaseGraph, design: HwDesign, members, new: int) -> MaseGraph:
    """A copy of ``graph`` with every block extent in ``members`` set to ``new``."""
    g = clone(graph)
    graph_values = {i.name for i in g.inputs} | {n.name for n in g.nodes}
    for kind, name in members:
        if kind in ("F", "R") and name not in graph_values:
            continue  # a stream inside one node's stage chain (e.g. gelu's fixed-point lanes): follows the node
        if kind in ("F", "R") and fixed_map.is_fixed(g.value_type(name).element):
            # a Fixed value's tile is a hardware choice recorded where the mapping reads it
            fixed_map.set_tile_hint(g, name, **({"features": new} if kind == "F" else {"rows": new}))
            continue
        if kind == "LN":
            node, role = name.split("/")
            fmt = g.node(node).params[role].type.element
            g.set_param_format(node, role, mxf.MXInt((new,), fmt.exp_bits, fmt.man_bits))
            continue
        if kind in ("F", "R"):
            fmt = g.value_type(name).element
            f, r = (fmt.block[0], fmt.block[1] if len(fmt.block) == 2 else 1)
            f, r = (new, r) if kind == "F" else (f, new)
            g.set_format(name, mxf.MXInt((f, r) if r > 1 else (f,), fmt.exp_bits, fmt.man_bits))
        else:
            n = g.node(name)
            for role in ("weight", "bias") if kind == "W1" else ("weight",):
                if role not in n.params:
                    continue
                fmt = n.params[role].type.element
                b = list(fmt.block) + [1] * (2 - len(fmt.block))
                if role == "weight":
                    b[0 if kind == "W0" else 1] = new
                    block = tuple(b) if b[1] > 1 else (b[0],)
                else:
                    block = (new,) + tuple(fmt.block[1:])
                g.set_param_format(name, role, mxf.MXInt(block, fmt.exp_bits, fmt.man_bits))
    # streaming no-op nodes carry their operand's stream: give them its new block
    for a, v in design.aliases.items():
        src, fmt = g.value_type(v).element, g.value_type(a).element
        if isinstance(src, mxf.MXInt) and isinstance(fmt, mxf.MXInt):
            g.set_format(a, mxf.MXInt(src.block, fmt.exp_bits, fmt.man_bits))
    return g


def _stage_keys(design: HwDesign, stage) -> list:
    """Block extents whose doubling shortens ``stage``: its rows and feature tiles."""
    out = design.values[stage.output]
    keys = [("R", out.name), ("F", out.name)]
    if stage.module in ("mase_mxint_linear", "mase_fixed_linear"):
        keys.append(("F", stage.inputs["x"]))
    return keys


def _element_count_ok(design: HwDesign, members, new: int, max_block: int) -> bool:
    for kind, name in members:
        if kind == "LN":
            f, r = new, 1
        elif kind in ("F", "R"):
            f, r = design.values[name].tile
            f, r = (new, r) if kind == "F" else (f, new)
        else:
            b = design.graph.node(name).params["weight"].type.element.block
            f, r = b[0], (b[1] if len(b) == 2 else 1)
            f, r = (new, r) if kind == "W0" else (f, new)
        if f * r > max_block:
            return False
    return True


@dataclass(frozen=True)
class Parallelize:
    """Options: ``budget`` (preset name ``xc7a100t`` / ``u250``, a dict of lut/ff/dsp/bram, or a
    Budget), ``fraction`` of it to use, ``widen`` (grow tiles; False = estimate and check only),
    ``max_block`` (elements per block), ``max_steps``, ``allow_unmodelled``, ``clock_mhz``, ``dsp``
    (False: every multiplier in LUTs, as synth_xilinx -nodsp; True: products of 9 bits or more in
    DSP48E1s, the synthesis default)."""

    name = "parallelize"
    kind = "transform"
    budget: str | dict[str, int] | Budget = option("xc7a100t", 'budget: a preset ("xc7a100t", "u250") or a table '
                                                               "of lut / ff / dsp / bram")
    fraction: float = option(1.0, "fraction of the budget to use", positive=True)
    widen: bool = option(True, "widen the bottleneck's blocks while the design fits (false: estimate and check)")
    max_block: int = option(64, "largest block extent (elements) widening may reach", at_least=1)
    max_steps: int = option(32, "widening steps at most", at_least=0)
    allow_unmodelled: bool = option(False, "accept stages the cost model has no area for")
    clock_mhz: float = option(200.0, "clock of the throughput estimate", positive=True)
    dsp: bool = option(True, "products of 9 bits or more in DSP48E1s (false: every multiplier in LUTs)")

    def run(self, graph: MaseGraph, ctx) -> Outcome:
        """Pipeline contract: parallelized with ``ctx.cost_model`` (None: the default model)."""
        from mase_passes.pipeline import Outcome
        return Outcome(*self.apply(graph, ctx.cost_model))

    def apply(self, graph: MaseGraph, cost_model=None) -> tuple[MaseGraph, ParallelizeReport]:
        """Returns (graph with chosen blocks and node.hw filled, report). ``graph`` is not changed."""
        if cost_model is None:
            from mase_cost import CostModel

            cost_model = CostModel.default()
        bud = make_budget(self.budget).scaled(self.fraction) if self.fraction != 1.0 else make_budget(self.budget)
        g = clone(graph)
        design = map_graph(g)
        est = estimate(design, cost_model, self.clock_mhz, nodsp=not self.dsp)
        over = bud.over({r: est.total(r) for r in ("lut", "ff", "dsp", "bram")})
        if over:
            detail = ", ".join(f"{k} {u:.0f} > {lim:.0f}" for k, (u, lim) in over.items())
            extra = sorted({s.module for s in est.stages if s.area is not None and "extrapolated" in s.area_label})
            detail += " (estimated by the cost model" + (f", extrapolated for {', '.join(extra)}" if extra else "") + ")"
            raise BudgetError(f"parallelize: the design does not fit budget {bud.name} even at its starting tiles "
                              f"(the quantization config's blocks): {detail}; per stage:\n{est.table()}")
        steps, notes = [], []
        if est.unmodelled:
            notes.append(f"no cost model for {sorted({s.module for s in est.stages if s.area is None})}: "
                         f"stages {est.unmodelled} have no area estimate and are not in the budget check")
        while self.widen and len(steps) < self.max_steps:
            best = None
            bott = est.bottleneck
            stage = design.stage(bott.stage)
            classes = _classes(design)
            tried = set()
            for key in _stage_keys(design, stage):
                root = classes.find(key)
                if root in tried:
                    continue
                tried.add(root)
                members = classes.members(root)
                new = 2 * _size(design, key)
                if any(classes.extent[m] % new for m in members) or not _element_count_ok(design, members, new,
                                                                                         self.max_block):
                    continue
                g2 = _reblock(g, design, members, new)
                try:
                    d2 = map_graph(g2)
                except MappingError as exc:  # e.g. a layer_norm gamma whose block is not in the class
                    msg = f"not widening {key[0]}-block of %{key[1]} to {new}: {exc}"
                    if msg not in notes:
                        notes.append(msg)
                    continue
                e2 = estimate(d2, cost_model, self.clock_mhz, nodsp=not self.dsp)
                changed = [s.stage for s, s0 in zip(e2.stages, est.stages) if s.params != s0.params]
                blind = [s for s in changed if e2.stages[[x.stage for x in e2.stages].index(s)].area is None]
                if blind and not self.allow_unmodelled:
                    msg = (f"not widening {key[0]}-block of %{key[1]} to {new}: stages {blind} have no cost model "
                           "(area growth unaccounted; allow_unmodelled=True widens anyway)")
                    if msg not in notes:
                        notes.append(msg)
                    continue
                if bud.over({r: e2.total(r) for r in ("lut", "ff", "dsp", "bram")}):
                    continue
                score = (e2.cycles_per_input, e2.total("lut"))
                if best is None or score < best[0]:
                    best = (score, g2, d2, e2, f"{'rows' if key[0] == 'R' else 'features'} block of "
                                               f"%{key[1]} (and {len(members) - 1} tied extents) {new // 2} -> {new}")
            if best is None or best[0][0] >= est.cycles_per_input:
                if best is None:
                    notes.append(f"stopped: no widening of bottleneck {bott.stage} fits the budget and the block limits")
                else:
                    notes.append(f"stopped: widening no longer shortens the bottleneck ({bott.stage})")
                break
            _, g, design, est, what = best
            steps.append(f"{what}: bottleneck now {est.bottleneck.stage} at {est.cycles_per_input:.0f} cycles/input")
        record(design, est)
        return g, ParallelizeReport(bud, est, design, steps, notes, list(design.warnings))


def record(design: HwDesign, est: DesignEstimate) -> None:
    """Write each stage's choice and estimates into its IR node's HardwareMeta."""
    by_stage = {s.stage: s for s in est.stages}
    for s in design.stages:
        if s.output != s.node:
            continue  # an inner stage of a multi-stage node: the node records its last stage
        e = by_stage[s.name]
        out = design.values[s.output]
        f, r = out.tile
        lin = [t for t in design.stages if t.node == s.node and (t is s and s.module == "mase_mxint_linear"
                                                                 or t.module == "mase_fixed_linear")]
        if lin:  # (a fixed linear followed by its cast into MXInt records the linear's tile-pair shape too)
            par = (lin[0].params["X_ROWS"], lin[0].params["OUT_TILE"], lin[0].params["BLOCK_K"])
        else:
            par = (r, f)
        elements = out.shape[0] * out.shape[1]
        tile = tuple(out.fmt.block) if out.fmt is not None else ((f, r) if r > 1 else (f,))
        design.graph.node(s.node).hw = HardwareMeta(
            ip=s.module, tile=tile, streaming_order=tuple(range(len(out.graph_shape))),
            interface="valid_ready", parallelism=par,
            area=e.area["lut"] if e.area is not None else None,
            throughput=elements / e.cycles_per_input)
