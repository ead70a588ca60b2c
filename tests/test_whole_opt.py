"""Integration: a whole 2-layer OPT decoder (transformers OPTModel, hidden 64, 2 heads, FFN 128,
seq 8, random weights, causal mask, learned positions, pre-LN, ReLU FFN) traced
(``use_cache=False``), quantized to MXInt, mapped WHOLE, emitted and simulated with Verilator over
several inputs back to back.

Host boundary: the token lookup, the learned position lookup (constant positions 2..9 for a
sequence without padding) and their sum; the input port takes the summed embeddings. Hardware:
per layer the layer norms, the query scaling (mul by a constant from a ROM), Q/K/V/out
projections, attention with the causal mask (``mase_causal_mask`` -> masked softmax), residuals,
fc1 / ReLU / fc2, and the final layer norm.

Oracles: the exact emulation (each input alone) bit for bit; the estimate for the measured
initiation interval (within 20%); causality (outputs before a changed token unchanged, bit for bit,
in the golden chain and the simulation); the float model."""

import json
import os
import shutil
import sys

import mase_ir
import mx_formats as mxf
import numpy as np
import pytest
import torch
from mase_passes.hardware import emulate
from mase_passes.hardware.attention import find_attention
from mase_passes.hardware.mapping import map_graph
from mase_passes.passes.quantize import Quantize

sys.path.insert(0, os.path.dirname(__file__))
from emit_flow import emit_whole, simulate_back_to_back, uncovered_nodes  # noqa: E402

SEQ, HIDDEN, HEADS, FFN, LAYERS, VOCAB = 8, 64, 2, 128, 2, 100
CONFIG = {"default": "MXInt((4,),8,6)",
          "op": {"linear": {"weight": "MXInt((4,4),8,5)", "bias": "MXInt((4,4),8,7)"},
                 "softmax": {"data_out": "MXInt((4,),8,7)"}, "matmul": {"data_out": "MXInt((4,),8,7)"}}}


class _Decoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        from transformers import OPTConfig, OPTModel

        torch.manual_seed(0)
        cfg = OPTConfig(hidden_size=HIDDEN, num_attention_heads=HEADS, ffn_dim=FFN, num_hidden_layers=LAYERS,
                        vocab_size=VOCAB, max_position_embeddings=16, word_embed_proj_dim=HIDDEN,
                        attn_implementation="eager")
        self.opt = OPTModel(cfg).eval()
        with torch.no_grad():
            # unit-scale embeddings: the layer norm's fixed 2^-8 input grid flattens the 0.02-scale
            # init (measured against float: mean error 0.061 at 0.02, 0.025 at 1; docs/hardware.md)
            self.opt.decoder.embed_tokens.weight.normal_(0.0, 1.0)
            self.opt.decoder.embed_positions.weight.normal_(0.0, 1.0)
            for mod in self.opt.modules():
                if isinstance(mod, torch.nn.LayerNorm):  # gamma / beta away from the identity init
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.5, 0.5)

    def forward(self, input_ids):
        return self.opt(input_ids=input_ids, use_cache=False).last_hidden_state


def _inputs():
    gen = torch.Generator().manual_seed(6)
    ids0 = torch.randint(2, VOCAB, (1, SEQ), generator=gen)
    ids1 = torch.randint(2, VOCAB, (1, SEQ), generator=gen)
    ids2 = ids0.clone()
    ids2[0, -1] = (ids0[0, -1] + 17) % (VOCAB - 2) + 2
    return [{"input_ids": ids0}, {"input_ids": ids1}, {"input_ids": ids2}]


@pytest.fixture(scope="module")
def opt():
    model = _Decoder().eval()
    xs = _inputs()
    return model, xs, Quantize(config=CONFIG).apply(mase_ir.trace(model, xs[0]))


def test_opt_maps_whole_with_the_embeddings_on_the_host(opt):
    _, _, q = opt
    d = map_graph(q)
    assert sorted(q.node(n).op for n in d.host_nodes) == ["add", "embedding", "embedding", "reshape"]
    assert {q.node(n).module for n in d.host_nodes if q.node(n).op == "embedding"} == \
        {"opt.decoder.embed_tokens", "opt.decoder.embed_positions"}
    assert len(d.inputs) == 1 and not d.masks
    assert uncovered_nodes(q, d) == []
    pats = find_attention(q)
    assert len(pats) == LAYERS and all(p.mask_const is not None and p.q_rope is None for p in pats)
    mods = [s.module for s in d.stages]
    assert mods.count("mase_causal_mask") == LAYERS and mods.count("mase_mxint_masked_softmax") == LAYERS
    assert mods.count("mase_mxint_layer_norm") == 2 * LAYERS + 1 and mods.count("mase_mxint_relu") == LAYERS
    assert mods.count("mase_mxint_linear") == 6 * LAYERS


def test_exact_emulation_is_causal_and_close_to_opt(opt):
    model, xs, q = opt
    d = map_graph(q)
    out = [mxf.dequantize(emulate.exact(d, x)["layer_norm_4"]) for x in xs]
    np.testing.assert_array_equal(out[0][:-1], out[2][:-1])
    assert not np.array_equal(out[0][-1], out[2][-1])
    for k, x in enumerate(xs):
        with torch.no_grad():
            want = model(**x)[0].numpy()
        # measured max 0.17, mean 0.025-0.027 on the three inputs (outputs layer-normed, of order 1)
        assert np.abs(out[k] - want).max() < 0.3 and np.abs(out[k] - want).mean() < 0.04


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("verilator") is None, reason="Verilator not installed")
def test_whole_opt_simulates_bit_exact_and_at_the_estimated_rate(opt, tmp_path):
    _, xs, q = opt
    r = emit_whole(q, xs, tmp_path / "opt")
    meta = json.loads((r.out_dir / "design.json").read_text())
    assert {h["node"] for h in meta["host_boundary"]} == set(r.design.host_nodes)
    sims = simulate_back_to_back(r, xs, "layer_norm_4")  # three inputs back to back; bit-exact, II within 20%
    np.testing.assert_array_equal(mxf.dequantize(sims[0])[:-1], mxf.dequantize(sims[2])[:-1])
    # measured II 4385 cycles per input against the estimated 4096 (+7.1%, bottleneck the fc
    # linears); first input done after 12,683 cycles
