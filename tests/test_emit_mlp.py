"""Integration: a 3-layer MLP with a mixed-precision MXInt config (mantissas 2-7 bits per tensor,
8-bit exponents) from PyTorch through quantize, parallelize (widening the bottleneck under a LUT
budget) and emit to an Icarus simulation that equals the exact emulation bit for bit."""

import os
import shutil
import sys

import mx_formats as mxf
import numpy as np
import pytest

from mase_passes.hardware import examples

sys.path.insert(0, os.path.dirname(__file__))
from emit_flow import assert_bit_exact, flow, simulated_outputs  # noqa: E402


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog not installed")
def test_mlp_simulates_bit_exact(tmp_path):
    model, x, q = examples.mlp()
    widths = {q.node(n).params["weight"].type.element.man_bits for n in ("linear", "linear_1", "linear_2")}
    assert len(widths) > 1  # mixed precision
    # allow_unmodelled: the default cost model may not cover mase_mxint_linear; max_block bounds the blocks
    g, report, r = flow(q, x, tmp_path / "mlp", budget="u250", max_block=16, allow_unmodelled=True)
    assert report.steps, "the bottleneck linear is widened"
    assert report.estimate.cycles_per_input < 64  # 64 cycles at the config's blocks
    assert r.run_simulation(idle=0.2, backpressure=0.2, seed=3)
    sim = simulated_outputs(r)
    assert_bit_exact(sim["out_linear_2"], r.expected["out_linear_2"])
    # sanity against the float model: the quantized MLP still tracks it
    ref = model(x).detach().double().numpy()
    err = np.abs(mxf.dequantize(r.expected["out_linear_2"]) - ref).max()
    assert err < 0.5 * np.abs(ref).max()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog not installed")
def test_ffn_with_residual_gelu_and_layer_norm_simulates_bit_exact(tmp_path):
    """BERT's output sub-layer: layer_norm(x + W2 gelu(W1 x)) — fan-out of x to the residual (fork +
    FIFO), i-GELU and integer layer norm with fixed-point -> MXInt conversion, gamma/beta from ROM
    streams. The fast emulation (float gelu / layer_norm) differs and the gap is reported."""
    model, x, q = examples.ffn(layer_norm=True)
    # widening the feature blocks reaches gelu, the layer norm and its gamma/beta ROMs too
    g, report, r = flow(q, x, tmp_path / "ffn", budget="u250", allow_unmodelled=True, max_block=64)
    assert report.steps and g.node("layer_norm").params["weight"].type.element.block[0] > 4
    top = (r.out_dir / "top.sv").read_text()
    assert "mase_fork2" in top and "mase_mxint_rom_source" in top and "mase_mxint_layer_norm" in top
    assert r.run_simulation(idle=0.2, backpressure=0.2, seed=5)
    sim = simulated_outputs(r)
    assert_bit_exact(sim["out_layer_norm"], r.expected["out_layer_norm"])
    (gap,) = r.gaps
    # measured 44 of 128 differ by at most 2 LSB (integer GELU / layer norm vs float; docs/hardware.md §2)
    assert gap.elements == 128 and 0 < gap.differing <= 44 and gap.max_ulp <= 2 and gap.max_abs <= 0.125
    ref = model(x).detach().double().numpy()
    assert np.abs(mxf.dequantize(r.expected["out_layer_norm"]) - ref).max() < 0.5


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog not installed")
def test_search_config_with_reblocks_simulates_bit_exact(tmp_path):
    """The search's own blocking, MXInt((16,2),8,m) on every tensor with per-tensor m: each linear
    emits 2 x 2 tiles and a mase_mxint_reblock rounds them into (16,2) blocks."""
    model, x, q = examples.search_mlp()
    g, report, r = flow(q, x, tmp_path / "search_mlp", budget="u250", widen=False)
    assert sum(s.module == "mase_mxint_reblock" for s in r.design.stages) == 2
    assert r.run_simulation(idle=0.2, backpressure=0.2, seed=11)
    sim = simulated_outputs(r)
    assert_bit_exact(sim["out_linear_1"], r.expected["out_linear_1"])
    (gap,) = r.gaps  # double rounding (tile, then block) vs the fast emulation's single rounding
    assert gap.elements == 64 and gap.differing <= 1 and gap.max_ulp <= 1  # measured: 1 element, 1 LSB
