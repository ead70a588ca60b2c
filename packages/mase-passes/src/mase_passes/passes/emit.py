"""emit: write a self-contained hardware project folder for a quantized (and parallelized) graph.

    out = get_pass("emit")(top="top").apply(graph, "build/toy", sample_inputs={"x": x})

The folder holds:

* ``top.sv`` — the top level (hwlib instances with the chosen parameters, handshakes wired,
  register slices between stages; :mod:`mase_passes.hardware.topgen`);
* ``rtl/`` — copies of every hwlib source it uses, ``files.f`` — the file list in dependency
  order (``rtl/...`` then ``top.sv``, relative to the folder);
* ``mem/*.hex`` — weight and bias ROM images (``$readmemh``; ``mase_hwlib.rom``, ``rom_fixed`` and
  ``rom_bmf`` formats);
* ``tb/test_top.py`` + ``run_sim.py`` — a cocotb 2 bench (random idle cycles and
  back-pressure, bit-for-bit comparison) and its Icarus runner;
* ``vectors.json`` — with ``sample_inputs``: the input beats and the expected output beats of
  the exact emulation;
* ``synth.ys`` / ``elaborate.ys`` — Yosys scripts (xc7 synthesis as mase_cost does it; read and
  elaborate only);
* ``design.txt`` — the mapped design as text (``HwDesign.to_text``: one line per stage);
* ``design.json`` and ``README.md`` — ports, formats, stages, parameters and the estimates,
  each labelled (cost model / formula / no cost model), and the exact-vs-fast emulation gap.

Safety: the graph is mapped (every node checked) before anything is written, so an
unmappable node stops emit with no file created. Files are written into a fresh temporary
sibling folder (``.<name>.tmp-*``) through one writer that refuses any path resolving
outside it, and the folder is renamed to ``out_dir`` at the end; on any failure the temporary
folder is removed, leaving nothing behind. ``out_dir``'s parent must exist; an existing
non-empty ``out_dir`` is refused unless ``overwrite=True``; an ``out_dir`` that is a symbolic
link is always refused (replacing it would replace the folder it points to).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mase_cost import synth
from mase_hwlib import streams
from mase_hwlib.rom import write_mx_rom
from mase_hwlib.golden import bmf as bmf_golden
from mase_hwlib.rom_bmf import write_bmf_rom
from mase_hwlib.rom_fixed import write_fixed_rom
from mase_ir import MaseGraph

from mase_passes.hardware import bench, emulate, fixed_map, topgen
from mase_passes.passes.options import option
from mase_passes.hardware.estimate import DesignEstimate, estimate
from mase_passes.hardware.design import check_names
from mase_passes.hardware.mapping import HwDesign, map_graph

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome


def _host_boundary(design: HwDesign) -> list[dict]:
    """The host-side nodes with op, source module and the mapping's reason (design.json, README)."""
    g = design.graph
    return [{"node": n, "op": g.node(n).op, "module": g.node(n).module or "<root>",
             "reason": design.host_reasons.get(n, "streaming-order node on the graph inputs")}
            for n in design.host_nodes]


class EmitError(ValueError):
    """emit refused its output location or could not complete."""


@dataclass
class EmitResult:
    out_dir: Path
    design: HwDesign
    estimate: DesignEstimate
    files: list[str]
    gaps: list = field(default_factory=list)       # exact vs fast emulation per output (with sample_inputs)
    expected: dict = field(default_factory=dict)   # output port -> exact emulation MXArray

    def run_simulation(self, **kw) -> bool:
        """Import the emitted runner and simulate (cocotb + Icarus, or ``simulator="verilator"``:
        mase_passes.hardware.verilator); True when the bench passes."""
        import importlib.util

        if kw.get("simulator", "icarus") == "icarus":  # the Verilator path needs no cocotb
            from mase_hwlib.extras import require
            require("cocotb_tools.runner", "mase-passes[hw]", "simulating an emitted design")

        spec = importlib.util.spec_from_file_location(f"mase_emitted_run_{abs(hash(self.out_dir))}",
                                                      self.out_dir / "run_sim.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.run(**kw)


class _Writer:
    """Writes files under one root only (paths are resolved and checked before each write)."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.files: list[str] = []

    def path(self, rel: str) -> Path:
        p = (self.root / rel).resolve()
        if p != self.root and self.root not in p.parents:
            raise EmitError(f"emit: refusing to write {rel!r}: it resolves to {p}, outside {self.root}")
        p.parent.mkdir(parents=True, exist_ok=True)
        self.files.append(str(p.relative_to(self.root)))
        return p

    def text(self, rel: str, text: str) -> None:
        self.path(rel).write_text(text)

    def copy(self, rel: str, src: Path) -> None:
        shutil.copyfile(src, self.path(rel))


def _fmt(v) -> str:
    """A stream value's format as text: the MXInt format, or Fixed(width,frac) of a fixed-point stream."""
    return str(v.fmt) if v.fixed is None else f"Fixed({v.fixed[1]},{v.fixed[2]})"


def _port_beats(q, v) -> dict:
    if v.fixed is not None:  # fixed-point port: lanes of `width`-bit signed integers in `data`
        return {"value": v.name, "format": _fmt(v), "shape": list(v.graph_shape), "lanes": v.lanes,
                "tile": list(v.tile), "width": v.fixed[1], "frac": v.fixed[2],
                "data": fixed_map.to_beats(q, v)["data"].astype(int).tolist()}
    if "bias" in dict(v.fields):  # block minifloat / logarithm: element codes and a shared bias per beat
        b = bmf_golden.block_beats(q)
        return {"value": v.name, "format": str(v.fmt), "shape": list(v.graph_shape), "lanes": v.lanes,
                "el_width": v.el_width, "bias_bits": v.fmt.bias_bits,
                "data": b["data"].astype(int).tolist(), "bias": b["bias"].reshape(-1).astype(int).tolist()}
    b = streams.mx_to_beats(q)
    return {"value": v.name, "format": str(v.fmt), "shape": list(v.graph_shape), "lanes": v.lanes,
            "man_bits": v.fmt.man_bits, "exp_bits": v.fmt.exp_bits,
            "mant": b["mant"].astype(int).tolist(), "exp": b["exp"].reshape(-1).astype(int).tolist()}


@dataclass(frozen=True)
class Emit:
    """Options: ``top`` (module name of the top level), ``register_slices`` (skid buffer on
    every stage-to-stage stream), ``overwrite`` (replace an existing non-empty out_dir),
    ``clock_mhz`` (for the throughput figures in the README)."""

    name = "emit"
    kind = "analysis"
    top: str = option("top", "module name of the top level")
    register_slices: bool = option(True, "a skid buffer on every stage-to-stage stream")
    overwrite: bool = option(False, "replace an existing non-empty output folder")
    clock_mhz: float = option(200.0, "clock of the throughput figures in the design README", positive=True)

    def run(self, graph: MaseGraph, ctx) -> Outcome:
        """Pipeline contract: the design folder ``ctx.out_dir / "design"``; the graph is unchanged."""
        from mase_passes.pipeline import Outcome
        return Outcome(graph, self.apply(graph, Path(ctx.out_dir) / "design", cost_model=ctx.cost_model))

    def apply(self, graph: MaseGraph, out_dir, sample_inputs: dict | None = None, cost_model=None) -> EmitResult:
        if topgen.sv_name(self.top) != self.top:
            raise EmitError(f"emit: top {self.top!r} is not a SystemVerilog identifier")
        design = map_graph(graph)  # raises MappingError naming the node, before any file exists
        check_names(design)  # two names -> one identifier or ROM file: refused, before any file exists
        est = estimate(design, cost_model, self.clock_mhz)
        given = Path(out_dir).expanduser()
        if given.is_symlink():  # replacing it would replace the folder it points to, wherever that is
            raise EmitError(f"emit: {given} is a symbolic link (to {os.readlink(given)}); emit does not replace a "
                            "folder through a link: remove the link, or emit to the folder it points to by its "
                            "own path")
        final = given.parent.resolve() / given.name  # the parent may be a link; the folder itself is not
        if not final.parent.is_dir():
            raise EmitError(f"emit: the parent of {final} does not exist (emit creates only the folder itself)")
        if final.exists() and (not final.is_dir() or (any(final.iterdir()) and not self.overwrite)):
            raise EmitError(f"emit: {final} exists and is not an empty folder (pass overwrite=True to replace it)")
        gaps, expected, vectors = [], {}, None
        if sample_inputs is not None:  # computed before writing: a failure here leaves nothing
            ports = topgen.port_names(design)
            hw_in = emulate.hardware_inputs(design, sample_inputs)
            ex = emulate.exact(design, sample_inputs)
            gaps = emulate.compare(design, sample_inputs)
            expected = {ports[v.name]: ex[v.name] for v in design.outputs}
            vectors = {"inputs": {ports[v.name]: _port_beats(hw_in[v.name], v) for v in design.inputs},
                       "outputs": {ports[v.name]: _port_beats(ex[v.name], v) for v in design.outputs},
                       "extra_cycles": int(2 * est.cycles_per_input + sum(s.latency for s in est.stages))}
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the project is an ordinary folder
            files = self._write(_Writer(tmp), design, est, vectors, gaps)
            if final.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
                os.rename(final, old / "d")
                os.rename(tmp, final)
                shutil.rmtree(old)
            else:
                os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return EmitResult(final, design, est, files, gaps, expected)

    # ---- the files ---------------------------------------------------------------------------
    def _write(self, w: _Writer, design: HwDesign, est: DesignEstimate, vectors, gaps) -> list[str]:
        rom_paths = {}
        for s in design.stages:
            for key, (q, _stem) in s.roms.items():
                rel = s.params[key]
                if isinstance(q, dict) and "bmf" in q:  # block-minifloat / logarithm tiles (bmf_map)
                    write_bmf_rom(w.path(rel), q["bmf"], q["el_width"], q["bias_bits"])
                elif isinstance(q, dict) and "data" in q:  # fixed-point tiles (mase_fixed_linear)
                    write_fixed_rom(w.path(rel), q["data"], q["width"])
                elif isinstance(q, dict):  # beats already (a constant of an attention stage)
                    write_mx_rom(w.path(rel), q, s.params["MAN"], s.params["EXP"])
                else:
                    write_mx_rom(w.path(rel), streams.mx_to_beats(q), q.fmt.man_bits, q.fmt.exp_bits)
                rom_paths[(s.name, key)] = rel
        sources = topgen.module_sources(design, self.register_slices)
        for p in sources:
            w.copy(f"rtl/{p.name}", p)
        file_list = [f"rtl/{p.name}" for p in sources] + ["top.sv"]
        header = self._header(design)
        w.text("top.sv", topgen.top_sv(design, self.top, self.register_slices, header))
        w.text("files.f", "\n".join(file_list) + "\n")
        w.text("design.txt", design.to_text())
        w.text("synth.ys", synth.synth_script(file_list, self.top, stat_file="synth_stat.json"))
        w.text("elaborate.ys", synth.elaborate_script(file_list, self.top))
        w.text("tb/test_top.py", bench.BENCH)
        w.text("run_sim.py", bench.RUNNER.format(top=self.top))
        if vectors is not None:
            w.text("vectors.json", json.dumps(vectors))
        w.text("design.json", json.dumps(self._design_json(design, est, rom_paths, gaps), indent=1))
        w.text("README.md", self._readme(design, est, vectors is not None, gaps))
        return list(w.files)

    def _header(self, design: HwDesign) -> str:
        return "\n".join([f"stage {s.name}: {s.module} " + ", ".join(f"{k}={v}" for k, v in s.params.items())
                          for s in design.stages])

    def _design_json(self, design, est, rom_paths, gaps) -> dict:
        ports = topgen.port_names(design)
        by = {e.stage: e for e in est.stages}
        return {
            "top": self.top,
            "inputs": [{"port": ports[v.name], "value": v.name, "format": _fmt(v), "shape": list(v.graph_shape),
                        "beats": v.beats} for v in design.inputs],
            "outputs": [{"port": ports[v.name], "value": v.name, "format": _fmt(v),
                         "shape": list(v.graph_shape), "beats": v.beats} for v in design.outputs],
            "host_nodes": design.host_nodes,
            "host_boundary": _host_boundary(design),
            "mask_inputs": [ports[name] for name in sorted(design.masks)],
            "stages": [{"name": s.name, "node": s.node, "module": s.module, "params": s.params,
                        "roms": {k: rom_paths[(s.name, k)] for k in s.roms},
                        "cycles_per_input": by[s.name].cycles_per_input, "cycles_label": by[s.name].cycles_label,
                        "area": by[s.name].area, "area_label": by[s.name].area_label} for s in design.stages],
            "bottleneck": est.bottleneck.stage,
            "cycles_per_input": est.cycles_per_input,
            "clock_mhz": est.clock_mhz,
            "emulation_gap": [g.__dict__ for g in gaps],
            "warnings": list(design.warnings),
        }

    def _readme(self, design, est, has_vectors, gaps) -> str:
        ports = topgen.port_names(design)
        lines = [f"# `{self.top}` — emitted by mase_passes emit", "",
                 "A dataflow accelerator of a quantized mase_ir graph built from mase_hwlib modules. Every "
                 "stream is valid/ready; an MXInt beat is one block: `<port>_mant` holds the block's signed "
                 "mantissas (lane `r*B0 + c`, `MAN+1` bits each, two's complement), `<port>_exp` its shared "
                 "exponent. A fixed-point beat is one tile: `<port>_data` holds its lanes (`Fixed(W,F)`: W-bit two's "
                 "complement v, value v * 2^-F). Blocks (tiles) stream in row-major order over the block grid "
                 "of the `[rows, features]` view.",
                 "", "## Ports", "", "| port | value | format | tensor | beats |", "|---|---|---|---|---|",
                 "| `clk`, `rst` | | | | synchronous active-high reset |"]
        for v in design.inputs + design.outputs:
            kind = "in" if v in design.inputs else "out"
            lines.append(f"| `{ports[v.name]}_*` ({kind}) | %{v.name} | `{_fmt(v)}` | {list(v.graph_shape)} "
                         f"| {v.beats} |")
        if design.host_nodes:
            lines += ["", "## Host boundary (computed on the host, not in hardware)", "",
                      "| node | op | source module | why |", "|---|---|---|---|"]
            lines += [f"| %{h['node']} | `{h['op']}` | `{h['module']}` | {h['reason']} |" for h in _host_boundary(design)]
        for name in sorted(design.masks):
            lines += ["", f"`{ports[name]}_data` is a boolean mask (one bit per key, 1 = attend; one beat per "
                          "query row), built on the host and applied by the masked softmax stages."]
        lines += ["", "## Stages and estimates", "",
                  "Cycles per input: estimated (mase_cost.cycles formulas, validated against simulation there, "
                  "or the labels under the table). "
                  "Area: estimated by the mase_cost cost model where it has one; otherwise no number "
                  "(`no cost model for <module>`). Nothing here is synthesized or measured unless said so.", "",
                  "```", est.table(), "```", "", "| stage | module | parameters |", "|---|---|---|"]
        for s in design.stages:
            lines.append(f"| {s.name} | `{s.module}` | " + ", ".join(f"{k}={v}" for k, v in s.params.items()) + " |")
        if design.warnings:
            lines += ["", "## Warnings (formats and ranges)", ""] + [f"- {w}" for w in design.warnings]
        if gaps:
            lines += ["", "## Exact vs fast emulation (measured on the sample inputs)", ""]
            lines += [f"- {g}" for g in gaps]
        lines += ["", "## Files", "",
                  "- `top.sv`, `rtl/` (hwlib sources), `files.f` (file list, dependency order)",
                  "- `mem/*.hex`: weight/bias ROMs (`$readmemh`, paths relative to this folder)",
                  "- `tb/test_top.py`, `run_sim.py`: cocotb 2 bench on Icarus: `python3 run_sim.py` "
                  + ("(compares with `vectors.json`, the exact emulation)" if has_vectors else
                     "(needs `vectors.json`: emit with sample_inputs)"),
                  "- `synth.ys`: `yosys -s synth.ys` (xc7, writes `synth_stat.json`); `elaborate.ys`: read/elaborate only",
                  "- `design.json`: the same information for tools; `design.txt`: the stages one per line", ""]
        return "\n".join(lines)
