"""Integration: a whole 2-layer BERT encoder (transformers BertModel, hidden 64, 2 heads, FFN 128,
seq 8, random weights, a padding attention mask) traced, quantized to MXInt, mapped WHOLE, emitted
and simulated with Verilator over several inputs back to back -- as the main command's classifier
(the workload's GlossClassifier: the encoder, masked mean pooling, a linear head of 10 classes).

The host boundary is explicit and checked: the embedding lookups and their sum (word + token type
+ position) and the boolean expansion of ``attention_mask`` run on the host; the hardware input
ports take the summed embedding vectors and the boolean [seq, seq] mask. Everything else -- the
embeddings' layer norm, per layer Q/K/V, attention with the padding mask (masked softmax), output
projection, residual adds, two layer norms, the GELU FFN -- is hardware.

Oracles: the exact emulation (golden models chained, run on each input alone) bit for bit; the
estimate for the measured initiation interval (within 20%, the issue's criterion); the float model
(the integer design still computes BERT); and the mask's meaning (the outputs of unpadded positions
do not depend on the tokens at padded positions, bit for bit)."""

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
from mase_passes.hardware.mapping import COMPUTE_OPS, STREAMING_OPS, MappingError, map_graph
from mase_passes.passes import get_pass
from mase_passes.passes.quantize import Quantize

sys.path.insert(0, os.path.dirname(__file__))
from emit_flow import emit_whole, simulate_back_to_back, uncovered_nodes  # noqa: E402

SEQ, HIDDEN, HEADS, FFN, LAYERS, VOCAB = 8, 64, 2, 128, 2, 100
# one-row blocks (what gelu and layer_norm take); the mask adds and their where() in one-element
# blocks, so the fast emulation (graph forward) does not share an exponent between a -3.4e38
# mask entry and a real score (the hardware's scores are one element per block anyway)
CONFIG = {"default": "MXInt((4,),8,6)",
          "op": {"linear": {"weight": "MXInt((4,4),8,5)", "bias": "MXInt((4,4),8,7)"},
                 "softmax": {"data_out": "MXInt((4,),8,7)"}, "matmul": {"data_out": "MXInt((4,),8,7)"}},
          "node": {n: {"data_in": "MXInt((1,),8,6)", "data_out": "MXInt((1,),8,6)"} for n in ("add_4", "add_7")}}


def _bert(pooler_tanh=False):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=HIDDEN, num_attention_heads=HEADS, intermediate_size=FFN,
                     num_hidden_layers=LAYERS, vocab_size=VOCAB, max_position_embeddings=16,
                     attn_implementation="eager")
    bert = BertModel(cfg, add_pooling_layer=False).eval()
    with torch.no_grad():  # gamma/beta away from the identity init, so the affine stages matter
        for mod in bert.modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.5, 0.5)
    if not pooler_tanh:
        return _Encoder(bert)
    return _TanhHead(bert)


class _Encoder(torch.nn.Module):
    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class _TanhHead(_Encoder):
    """The encoder then an op without hardware (tanh, as BERT's pooler has)."""

    def __init__(self, bert):
        super().__init__(bert)
        self.head = torch.nn.Tanh()

    def forward(self, input_ids, attention_mask):
        return self.head(super().forward(input_ids, attention_mask))


def _inputs():
    """Three inputs: 2 padded positions; 4 padded positions; the first one with other tokens at
    its padded positions (the mask must make them invisible to the unpadded ones)."""
    gen = torch.Generator().manual_seed(3)
    ids0 = torch.randint(1, VOCAB, (1, SEQ), generator=gen)
    ids1 = torch.randint(1, VOCAB, (1, SEQ), generator=gen)
    ids2 = ids0.clone()
    ids2[0, 6:] = torch.tensor([7, 11])
    m6 = torch.tensor([[1] * 6 + [0] * 2])
    m4 = torch.tensor([[1] * 4 + [0] * 4])
    return [{"input_ids": ids0, "attention_mask": m6}, {"input_ids": ids1, "attention_mask": m4},
            {"input_ids": ids2, "attention_mask": m6}]


@pytest.fixture(scope="module")
def bert():
    model = _bert()
    xs = _inputs()
    q = Quantize(config=CONFIG).apply(mase_ir.trace(model, xs[0]))
    return model, xs, q


def test_bert_maps_whole_with_an_explicit_host_boundary(bert):
    _, _, q = bert
    d = map_graph(q)
    # host side: the embedding lookups and their sum, and the boolean mask expansion -- nothing else
    kinds = {n: q.node(n).op for n in d.host_nodes}
    assert sorted(n for n, op in kinds.items() if op == "embedding") == ["embedding", "embedding_1", "embedding_2"]
    assert all(q.node(n).module.startswith("bert.embeddings") for n, op in kinds.items() if op in ("embedding", "add"))
    assert {op for op in kinds.values()} == {"embedding", "add", "cast", "index", "logical_and", "expand"}
    assert all(str(q.node(n).result.element) == "bool" for n, op in kinds.items()
               if op not in ("embedding", "add"))
    assert {"embedding" in r or "mask" in r for r in d.host_reasons.values()} == {True}
    # the hardware input ports: the summed embeddings (into the embeddings' layer norm) and the mask
    assert [v.name for v in d.inputs] == ["add_1", "expand_2"] and d.masks == {"expand_2"}
    assert q.node("layer_norm").module == "bert.embeddings.LayerNorm"
    # every other node is hardware: a stage of its own, inside an attention pattern, or a no-op view
    assert uncovered_nodes(q, d) == []
    pats = find_attention(q)
    assert len(pats) == LAYERS and all(p.mask == "expand_2" for p in pats)
    mods = [s.module for s in d.stages]
    assert mods.count("mase_mxint_masked_softmax") == LAYERS and "mase_mxint_softmax" not in mods
    assert mods.count("mase_mxint_linear") == 6 * LAYERS
    assert mods.count("mase_mxint_layer_norm") == 2 * LAYERS + 1  # + the embeddings' layer norm
    assert mods.count("mase_mxint_gelu") == LAYERS
    assert {op for op in COMPUTE_OPS} >= {"linear", "add", "gelu", "layer_norm"} and "reorder" in STREAMING_OPS


def test_the_mask_is_applied_by_the_exact_emulation(bert):
    """Mask semantics on the golden chain: tokens at padded positions cannot change the unpadded
    outputs (bit for bit), the mask changes the result, and the integer design is close to BERT."""
    model, xs, q = bert
    d = map_graph(q)
    out = {k: mxf.dequantize(emulate.exact(d, x)["layer_norm_4"]) for k, x in enumerate(xs)}
    np.testing.assert_array_equal(out[0][:6], out[2][:6])
    assert not np.array_equal(out[0][6:], out[2][6:])
    unmasked = mxf.dequantize(emulate.exact(d, {**xs[0], "attention_mask": torch.ones(1, SEQ, dtype=torch.long)})
                              ["layer_norm_4"])
    assert np.abs(unmasked[:6] - out[0][:6]).max() > 0.05
    for k, x in enumerate(xs):
        with torch.no_grad():
            ref = model(**x)[0].numpy()
        # measured max 0.38 / 0.38 / 0.41, mean 0.043 on the three inputs (the fast emulation: max
        # 0.17-0.26, mean 0.027): MXInt mantissas of 5-7 bits, integer softmax, GELU and layer
        # norm; the outputs are layer-normed, so of order 1
        assert np.abs(out[k] - ref).max() < 0.6 and np.abs(out[k] - ref).mean() < 0.06


CLASSES = 10


@pytest.fixture(scope="module")
def classifier():
    """The main command's model shape (mase_passes.workloads.minilm.GlossClassifier: encoder,
    masked mean pooling, linear head) on the small random encoder, 10 classes."""
    from mase_passes.workloads.minilm import GlossClassifier

    enc = _bert().bert
    model = GlossClassifier(enc, CLASSES)
    torch.manual_seed(5)
    model.head = torch.nn.Linear(HIDDEN, CLASSES)  # the workload's head is sized for MiniLM (384)
    model.eval()
    xs = _inputs()
    g = mase_ir.trace(model, xs[0])
    (head,) = [n.name for n in g.nodes if n.module == "head"]
    # 10 logits: blocks of 2 along the classes (the linear's OUT_TILE)
    cfg = {**CONFIG, "node": {**CONFIG["node"], head: {"weight": "MXInt((4,2),8,5)", "bias": "MXInt((2,2),8,7)",
                                                       "data_out": "MXInt((2,),8,7)"}}}
    return model, xs, Quantize(config=cfg).apply(g), head


def test_classifier_maps_whole_with_mean_pooling_in_hardware(classifier):
    _, _, q, head = classifier
    from mase_passes.hardware.decoder_map import find_pooling

    d = map_graph(q)
    (pool,) = find_pooling(q, set(d.host_nodes))
    # the pooling's 0/1 weights: the attention mask unsqueezed and cast to float on the host
    cast = q.node(pool.mask)
    unsq = q.node(cast.args[0].name)
    assert (cast.op, unsq.op, unsq.args[0].name) == ("cast", "unsqueeze", "attention_mask")
    assert {cast.name, unsq.name} <= set(d.host_nodes) and "0/1" in d.host_reasons[cast.name]
    assert d.masks == {"expand_2", pool.mask}  # attention's [seq, seq] booleans, pooling's [seq]
    assert [v.name for v in d.outputs] == [head]
    mods = [s.module for s in d.stages]
    assert mods.count("mase_mxint_masked_mean") == 1 and mods.count("mase_mxint_linear") == 6 * LAYERS + 1
    assert uncovered_nodes(q, d, pool.nodes) == []


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("verilator") is None, reason="Verilator not installed")
def test_whole_bert_classifier_simulates_bit_exact_and_at_the_estimated_rate(classifier, tmp_path):
    """Encoder (embedding boundary, masked attention, layer norms, GELU FFN, residuals), masked mean
    pooling and the head, in one design; three inputs back to back in Verilator."""
    model, xs, q, head = classifier
    r = emit_whole(q, xs, tmp_path / "bert")
    meta = json.loads((r.out_dir / "design.json").read_text())
    # the design states its host boundary and its mask ports
    assert {h["node"] for h in meta["host_boundary"]} == set(r.design.host_nodes)
    assert sorted(meta["mask_inputs"]) == sorted(f"in_{n}" for n in r.design.masks)
    assert [i["port"] for i in meta["inputs"]][0] == "in_add_1"
    readme = (r.out_dir / "README.md").read_text()
    assert "## Host boundary" in readme and "embedding lookup" in readme and "boolean mask" in readme

    # three inputs back to back, each bit for bit against the golden chain run on it alone; measured
    # II within 20% of the estimate (measured 4096 = estimated 4096 cycles per input, bottleneck the
    # FFN linears; first input done after about 12,800 cycles)
    sims = simulate_back_to_back(r, xs, head)
    # the tokens at input 2's padded positions are invisible: the same logits, bit for bit
    np.testing.assert_array_equal(mxf.dequantize(sims[0]), mxf.dequantize(sims[2]))
    for k, x in enumerate(xs):  # measured max |logit error| 0.075, 0.021, 0.075 (mean |logit| 0.29)
        with torch.no_grad():
            ref = model(**x).numpy()
        assert np.abs(mxf.dequantize(sims[k]) - ref).max() < 0.12


def test_an_op_without_hardware_fails_before_any_file_with_op_node_module_and_the_mappable_ops(tmp_path):
    model = _bert(pooler_tanh=True)
    x = _inputs()[0]
    q = Quantize(config=CONFIG).apply(mase_ir.trace(model, x))
    assert q.node("tanh").module == "head"
    out = tmp_path / "design"
    with pytest.raises(MappingError) as exc:
        get_pass("emit")().apply(q, out, sample_inputs=x)
    msg = str(exc.value)
    assert exc.value.node == "tanh"
    assert msg.startswith("cannot map node %tanh: op 'tanh' (source module 'head') has no mase_hwlib operator")
    for op in [*COMPUTE_OPS, *STREAMING_OPS, "softmax", "embedding", "boolean mask"]:
        assert op in msg.split("mappable:")[1], op
    assert not out.exists() and list(tmp_path.iterdir()) == []  # not even the temporary folder


def test_sdpa_bert_with_the_padding_mask_maps_whole_too():
    """transformers' default attention (sdpa) traces to one fused node taking the boolean mask as
    attn_mask: the same masked softmax. Oracles: the padding invariance, bit for bit, and the
    float model."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=HIDDEN, num_attention_heads=HEADS, intermediate_size=FFN,
                     num_hidden_layers=LAYERS, vocab_size=VOCAB, max_position_embeddings=16,
                     attn_implementation="sdpa")
    model = _Encoder(BertModel(cfg, add_pooling_layer=False).eval())
    xs = _inputs()
    g = mase_ir.trace(model, xs[0])
    assert [n.op for n in g.nodes].count("scaled_dot_product_attention") == LAYERS
    q = Quantize(config={k: v for k, v in CONFIG.items() if k != "node"}).apply(g)
    d = map_graph(q)
    assert d.masks == {"expand_2"} and [s.module for s in d.stages].count("mase_mxint_masked_softmax") == LAYERS
    out = [mxf.dequantize(emulate.exact(d, x)["layer_norm_4"]) for x in xs]
    np.testing.assert_array_equal(out[0][:6], out[2][:6])
    with torch.no_grad():
        ref = model(**xs[1])[0].numpy()
    assert np.abs(out[1] - ref).mean() < 0.06  # measured 0.033 (max 0.12; outputs of order 1)
