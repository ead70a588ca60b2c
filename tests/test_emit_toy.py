"""Integration: the paper's toy network (flatten -> linear -> relu) from PyTorch to an Icarus
simulation of the emitted top level whose outputs equal the exact emulation bit for bit."""

import json
import os
import shutil
import subprocess
import sys

import mx_formats as mxf
import numpy as np
import pytest
import torch

from mase_passes.hardware import MappingError, emulate, examples, map_graph
from mase_passes.passes import get_pass

sys.path.insert(0, os.path.dirname(__file__))
from emit_flow import assert_bit_exact, flow, simulated_outputs  # noqa: E402

needs_icarus = pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog not installed")


@needs_icarus
def test_toy_simulates_bit_exact(tmp_path):
    # U250-sized budget: at 8-bit shared exponents the exact-accumulation linear is estimated at
    # ~80k LUT (cost model extrapolated from 3-4-bit exponent points), more than an xc7a100t holds
    _, x, q = examples.toy()
    g, report, r = flow(q, x, tmp_path / "toy", budget="u250", max_block=16)
    assert "bottleneck" in report.estimate.table()
    assert r.run_simulation(idle=0.3, backpressure=0.3, seed=1)
    sim = simulated_outputs(r)
    assert_bit_exact(sim["out_relu"], r.expected["out_relu"])
    # the exact emulation is itself the float64 / mx_formats result of the quantized operands
    ex = emulate.exact(map_graph(g), {"x": x})["relu"]
    assert_bit_exact(ex, r.expected["out_relu"])
    # the gap to the fast emulation is reported (in the README too)
    (gap,) = r.gaps
    fast = g(x=x).detach().double().numpy()
    assert gap.differing == int((fast != mxf.dequantize(r.expected["out_relu"])).sum())
    assert "Exact vs fast emulation" in (r.out_dir / "README.md").read_text()


@needs_icarus
def test_bench_detects_a_wrong_beat(tmp_path):
    """The bench compares: one flipped expected mantissa makes the simulation fail."""
    _, x, q = examples.toy()
    _, _, r = flow(q, x, tmp_path / "toy", budget="u250", widen=False)
    vec_path = r.out_dir / "vectors.json"
    vec = json.loads(vec_path.read_text())
    vec["outputs"]["out_relu"]["mant"][1][0] ^= 1
    vec_path.write_text(json.dumps(vec))
    assert not r.run_simulation(idle=0.0, backpressure=0.0)
    seen = json.loads((r.out_dir / "sim_out" / "outputs.json").read_text())
    assert any("out_relu beat 1" in e for e in seen["errors"])


@pytest.mark.skipif(shutil.which("yosys") is None, reason="Yosys not installed")
def test_emitted_top_elaborates_in_yosys(tmp_path):
    _, x, q = examples.toy()
    _, _, r = flow(q, x, tmp_path / "toy", budget="u250", widen=False)
    p = subprocess.run(["yosys", "-q", "-s", "elaborate.ys"], cwd=r.out_dir, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]


def test_unmappable_node_stops_before_any_file(tmp_path):
    class WithTanh(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(8, 8)

        def forward(self, x):
            return torch.tanh(self.fc(x))  # no hwlib operator (silu maps since issue 16)

    import mase_ir

    x = torch.randn(2, 8)
    q = get_pass("quantize")(config={"default": "MXInt((4,2),8,5)",
                                     "op": {"linear": {"weight": "MXInt((4,4),8,3)", "bias": "MXInt((4,4),8,3)"}}}
                             ).apply(mase_ir.trace(WithTanh().eval(), {"x": x}))
    with pytest.raises(MappingError, match=r"cannot map node %tanh: op 'tanh'.*no mase_hwlib operator"):
        get_pass("emit")().apply(q, tmp_path / "out", sample_inputs={"x": x})
    assert list(tmp_path.iterdir()) == []


def test_emit_writes_only_inside_its_folder(tmp_path):
    _, x, q = examples.toy()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "marker").write_text("x")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    r = get_pass("emit")().apply(q, tmp_path / "design", sample_inputs={"x": x})
    after = {p for p in tmp_path.rglob("*")}
    new = after - set(before)
    assert all(p == r.out_dir or r.out_dir in p.parents for p in new)
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())


@pytest.mark.skipif(shutil.which("verilator") is None, reason="Verilator not installed")
def test_emitted_top_lints_clean_with_verilator(tmp_path):
    """The FFN + layer norm design uses every kind of top-level wiring (slices, fork + FIFOs,
    ROM sources, fixed-point streams): verilator --lint-only -Wall must be silent."""
    _, x, q = examples.ffn(layer_norm=True)
    r = get_pass("emit")().apply(q, tmp_path / "ffn")
    files = (r.out_dir / "files.f").read_text().split()
    p = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", "top", *files], cwd=r.out_dir,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
