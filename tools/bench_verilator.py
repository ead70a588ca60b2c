"""Icarus (cocotb bench) vs Verilator (C++ harness) on one emitted example design, same run.

Emits the design, stacks K sample inputs back to back, simulates them with both simulators (the
same idle / back-pressure draws), checks both agree with each other beat for beat and cycle for
cycle, and prints the wall times (measured) and the initiation interval (measured vs estimated).

    python3 -m hatch run python tools/bench_verilator.py --design bert --inputs 4

Wall times: Icarus's includes its (cached) elaboration and cocotb start-up, as a user of
``run_sim.py`` sees it; Verilator's first run includes the C++ build, later runs reuse it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import mase_ir
import torch
from mase_passes.hardware import examples, verilator
from mase_passes.passes import get_pass
from mase_passes.passes.quantize import Quantize


class _Linear384(torch.nn.Module):
    """The shape of one MiniLM linear (hidden 384) on 32 rows."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(384, 384)

    def forward(self, x):
        return self.fc(x)


def _minilm_linear():
    torch.manual_seed(0)
    x = torch.randn(32, 384)
    q = Quantize(config={"default": "MXInt((16,2),8,7)"}).apply(mase_ir.trace(_Linear384().eval(), {"x": x}))
    return None, x, q


# name -> (model, sample input, quantized graph), parallelize options (None: emitted as quantized)
DESIGNS = {
    "toy": (examples.toy, {"budget": "u250", "max_block": 16}),
    "mlp": (examples.mlp, {"budget": "u250", "max_block": 16, "allow_unmodelled": True}),
    "ffn": (lambda: examples.ffn(layer_norm=True), {"budget": "u250", "allow_unmodelled": True, "max_block": 64}),
    "bert": (lambda: examples.bert_layer(seq=4), {"budget": "u250", "widen": False}),
    "minilm_linear": (_minilm_linear, None),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", choices=sorted(DESIGNS), default="bert")
    ap.add_argument("--inputs", type=int, default=4, help="sample inputs streamed back to back")
    ap.add_argument("--idle", type=float, default=0.0)
    ap.add_argument("--backpressure", type=float, default=0.0)
    ap.add_argument("--out", default=None, help="design folder (default: a temporary one)")
    a = ap.parse_args(argv)
    make, opts = DESIGNS[a.design]
    _, x, q = make()
    root = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="bench_verilator-"))
    shutil.rmtree(root, ignore_errors=True)
    g = q if opts is None else get_pass("parallelize")(**opts).apply(q)[0]
    r = get_pass("emit")().apply(g, root, sample_inputs={"x": x})
    gen = torch.Generator().manual_seed(1)
    xs = [{"x": x}] + [{"x": torch.randn(x.shape, generator=gen)} for _ in range(a.inputs - 1)]
    (root / "stacked.json").write_text(json.dumps(verilator.vectors_for(r, xs)))
    kw = {"idle": a.idle, "backpressure": a.backpressure, "seed": 0, "vectors": root / "stacked.json"}

    t = time.perf_counter()
    ok_icarus = r.run_simulation(**kw)
    icarus_s = time.perf_counter() - t
    icarus = json.loads((root / "sim_out" / "outputs.json").read_text())
    runs, times = [], []
    for _ in range(2):  # first: build + run; second: the cached build
        t = time.perf_counter()
        runs.append(verilator.simulate(root, root / "stacked.json", a.idle, a.backpressure, 0))
        times.append(time.perf_counter() - t)
    run = runs[1]
    same = run.outputs == icarus["outputs"]
    print(f"design {a.design}: {len(r.design.stages)} stages, {a.inputs} inputs, {run.cycles:,} cycles (measured)")
    print(f"Icarus (cocotb): {'bit-exact' if ok_icarus else 'FAILED'}, {icarus_s:.2f} s wall (measured)")
    print(f"Verilator: {'bit-exact' if run.passed else 'FAILED'}, first {times[0]:.2f} s wall (build "
          f"{runs[0].build_s:.1f} s), cached {times[1]:.2f} s wall, of which the simulation {run.run_s:.3f} s "
          f"(measured)")
    print(f"speed-up, cached Verilator vs Icarus: {icarus_s / times[1]:.1f}x; simulation alone: "
          f"{icarus_s / max(run.run_s, 1e-9):.0f}x (measured)")
    print(f"same beats and cycles in both: {same}")
    print(run.summary())
    return 0 if ok_icarus and run.passed and same else 1


if __name__ == "__main__":
    sys.exit(main())
