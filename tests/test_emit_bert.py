"""Integration: a small BERT encoder layer (transformers BertLayer, hidden 32, 2 heads, seq 4,
FFN 64; attention + feed-forward, two layer norms, GELU) from PyTorch through quantize (MXInt,
8-bit exponents, mixed mantissas), parallelize and emit to an Icarus simulation of the whole
layer that equals the exact emulation bit for bit. The fast emulation (float softmax, GELU,
layer norm) differs from the integer operators; the gap is measured and reported."""

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
def test_bert_encoder_layer_simulates_bit_exact(tmp_path):
    model, x, q = examples.bert_layer(seq=4)
    g, report, r = flow(q, x, tmp_path / "bert", budget="u250", widen=False)
    modules = {s.module for s in r.design.stages}
    assert {"mase_mxint_replay", "mase_mxint_matmul", "mase_mxint_softmax", "mase_mxint_layer_norm",
            "mase_mxint_gelu", "mase_mxint_rom_source", "mase_fixed_to_mxint", "mase_mxint_add"} <= modules
    assert sum(s.module == "mase_mxint_linear" for s in r.design.stages) == 6
    assert r.run_simulation(idle=0.1, backpressure=0.1, seed=7)
    sim = simulated_outputs(r)
    assert_bit_exact(sim["out_layer_norm_1"], r.expected["out_layer_norm_1"])
    (gap,) = r.gaps
    # measured 76 of 128 differ by at most 5 LSB (integer softmax, GELU, layer norm; docs/hardware.md §2)
    assert gap.elements == 4 * 32 and 0 < gap.differing <= 76 and gap.max_ulp <= 5
    # the integer layer still computes a BERT layer: close to the float model
    ref = model(x).detach().double().numpy().reshape(4, 32)
    err = np.abs(mxf.dequantize(r.expected["out_layer_norm_1"]) - ref)
    assert err.mean() < 0.1 and err.max() < 1.0, (err.mean(), err.max())
