"""Synthesize an emitted design with Yosys and compare with the cost model's predictions.

    python3 packages/mase-passes/benchmarks/synth_emitted.py --model toy --exp 8 --out /tmp/synth_toy
    python3 packages/mase-passes/benchmarks/synth_emitted.py --model toy --exp 4 --timeout 1800

Steps: PyTorch example -> trace -> quantize (the example's mixed MXInt config, every exponent
field set to ``--exp`` bits) -> parallelize (``--budget``, widening off by default so the
design is the config's) -> emit -> ``synth.ys`` in the design folder, mase_cost's one recipe
(``mase_cost.synth.synth_script``: ``synth_xilinx -family xc7 -noiopad -flatten``) run by the
Yosys build its sweeps use -> resources.
Also synthesizes each stage's module alone (same recipe) so per-stage predictions can be
checked where the cost model has a family. Prints synthesized vs estimated and the relative
error; every number is labelled (synthesized / estimated / no cost model).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from mase_cost import CostModel, synth
from mase_hwlib import catalog

from mase_passes.hardware import examples
from mase_passes.passes import get_pass

RES = ("lut", "ff", "carry", "dsp", "bram")


def _config(cfg, exp: int):
    text = json.dumps(cfg)
    return json.loads(re.sub(r"(MXInt\(\([0-9,]+\)),8,", rf"\1,{exp},", text))


def synth_stage(design_dir: Path, stage, timeout: float) -> dict:
    """One stage's module alone, its parameters set with chparam (ROM paths resolved in the design folder)."""
    spec = catalog.get(stage.module)
    script = synth.synth_script([f"rtl/{p.name}" for p in spec.source_paths()], stage.module,
                                params=spec.verilog_params(stage.params), stat_file="synth_stat.json")
    with tempfile.TemporaryDirectory(dir=design_dir) as tmp:
        tmp = Path(tmp)
        (tmp / "rtl").symlink_to(design_dir / "rtl")
        (tmp / "mem").symlink_to(design_dir / "mem")
        (tmp / "synth.ys").write_text(script)
        return synth.synthesize_design(tmp, timeout=timeout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("toy", "mlp"), default="toy")
    ap.add_argument("--exp", type=int, default=8, help="shared-exponent bits of every format")
    ap.add_argument("--budget", default="xc7a100t")
    ap.add_argument("--widen", action="store_true")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per yosys run")
    ap.add_argument("--out", default=None, help="design folder (default: a temporary one)")
    ap.add_argument("--skip-top", action="store_true", help="per-stage syntheses only")
    a = ap.parse_args(argv)

    build = examples.toy if a.model == "toy" else examples.mlp
    cfg = examples.TOY_CONFIG if a.model == "toy" else examples.MLP_CONFIG
    import mase_ir

    model, x, _ = build()
    q = get_pass("quantize")(config=_config(cfg, a.exp)).apply(mase_ir.trace(model, {"x": x}))
    cost = CostModel.default()
    g, rep = get_pass("parallelize")(budget=a.budget, widen=a.widen).apply(q, cost_model=cost)
    parent = Path(a.out or tempfile.mkdtemp(prefix="mase_synth_"))
    parent.mkdir(parents=True, exist_ok=True)
    out = parent / f"{a.model}_e{a.exp}"
    res = get_pass("emit")(overwrite=True).apply(g, out, cost_model=cost)
    print(f"design: {res.out_dir}  ({a.model}, exponent bits {a.exp})")
    print(rep.estimate.table())
    print()
    print(f"{'stage':<12} {'module':<20} {'res':<6} {'synthesized':>12} {'estimated':>12} {'error':>8}  seconds")
    sums_syn = {r: 0.0 for r in RES}
    sums_est = {r: 0.0 for r in RES}
    all_modelled = True
    for s, e in zip(res.design.stages, res.estimate.stages):
        syn = synth_stage(res.out_dir, s, a.timeout)
        sec = syn["synth_seconds"]
        if syn["status"] != "ok":
            print(f"{s.name:<12} {s.module:<20} synthesis {syn['status']}: {syn['error']}")
            all_modelled = False
            continue
        for r in RES:
            est = None if e.area is None else e.area.get(r, 0.0)
            sums_syn[r] += syn[r]
            if est is None:
                all_modelled = False
                print(f"{s.name:<12} {s.module:<20} {r:<6} {syn[r]:12.0f} {'-':>12} {'':>8}  {sec:.0f}  ({e.area_label})")
            else:
                sums_est[r] += est
                rel = f"{(est - syn[r]) / syn[r] * 100:+.0f}%" if syn[r] else ("0" if est == 0 else "n/a")
                print(f"{s.name:<12} {s.module:<20} {r:<6} {syn[r]:12.0f} {est:12.0f} {rel:>8}  {sec:.0f}  ({e.area_label})")
    print()
    if not a.skip_top:
        top = synth.synthesize_design(res.out_dir, timeout=a.timeout)
        sec = top["synth_seconds"]
        if top["status"] != "ok":
            print(f"top-level synthesis {top['status']}: {top['error']} ({sec:.0f} s)")
        else:
            print(f"top-level synthesis ({sec:.0f} s, synthesized): " + ", ".join(f"{r} {top[r]}" for r in RES))
            for r in RES:
                label = "sum of estimates over modelled stages" + ("" if all_modelled else " (some stages unmodelled)")
                err = f"{(sums_est[r] - top[r]) / top[r] * 100:+.0f}%" if top[r] else "n/a"
                print(f"  {r:<6} synthesized top {top[r]:8.0f} | sum of per-stage syntheses {sums_syn[r]:8.0f} | "
                      f"{label} {sums_est[r]:8.0f} | error vs top {err}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
