"""Refusals of the whole-model mapping rules (hardware/attention.py masks and RoPE,
hardware/decoder_map.py, the host boundary of hardware/mapping.py), each naming the node and the
problem. The positive cases (whole BERT / LLaMA simulated bit for bit) are the root tests
tests/test_whole_bert.py and tests/test_whole_llama.py."""

import mase_ir
import pytest
import torch
from mase_passes.hardware import emulate
from mase_passes.hardware.attention import find_attention
from mase_passes.hardware.mapping import MappingError, map_graph
from mase_passes.passes.quantize import Quantize

CONFIG = {"default": "MXInt((4,),8,6)",
          "op": {"linear": {"weight": "MXInt((4,4),8,5)", "bias": "MXInt((4,4),8,7)"}}}


def _llama():
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=32, num_attention_heads=2, num_key_value_heads=2, intermediate_size=64,
                      num_hidden_layers=1, vocab_size=50, max_position_embeddings=16, attn_implementation="eager")
    m = LlamaModel(cfg).eval()
    return mase_ir.trace(m, {"input_ids": torch.randint(0, 50, (1, 8)), "use_cache": False})


def _bert():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=32, num_attention_heads=2, intermediate_size=64, num_hidden_layers=1,
                     vocab_size=50, max_position_embeddings=16, attn_implementation="eager")
    m = BertModel(cfg, add_pooling_layer=False).eval()
    x = {"input_ids": torch.randint(1, 50, (1, 8)), "attention_mask": torch.tensor([[1] * 6 + [0] * 2])}
    return mase_ir.trace(m, x), x


def test_a_constant_mask_that_is_not_causal_is_refused():
    g = _llama()
    (pat,) = find_attention(g)
    path = g.node(pat.mask_add).params["other"].path
    w = g.weights[path].clone()
    w[..., 0, 1] = 0.0  # row 0 now sees key 1: not causal
    g.weights[path] = w
    with pytest.raises(MappingError, match=rf"cannot map node %{pat.mask_add}: the constant attention mask is not "
                                           r"the causal mask"):
        map_graph(Quantize(config=CONFIG).apply(g))


def test_the_causal_pattern_is_found_with_rope_on_q_and_k():
    (pat,) = find_attention(_llama())
    assert pat.q_rope.cos.shape == pat.k_rope.cos.shape == (8, 16) and pat.mask_stream == f"{pat.out}__causal"
    assert pat.mask_const.shape == (8, 8)  # the folded causal constant, one row per query


def test_a_mask_add_that_rounds_the_scores_again_is_refused():
    g, _ = _bert()
    (pat,) = find_attention(g)
    cfg = {**CONFIG, "node": {pat.mask_add: {"data_out": "MXInt((4,),8,3)"}}}  # scores: 6 mantissa bits
    with pytest.raises(MappingError, match=rf"cannot map node %{pat.mask_add}: the masked scores' format "
                                           r"MXInt\(\(4,\),8,3\) must have the scaled scores' mantissa"):
        map_graph(Quantize(config=cfg).apply(g))


def test_a_mask_port_value_other_than_0_or_1_is_refused():
    """The pooling's mask is the attention mask cast to float on the host: a 2 in it is not a mask."""
    from transformers import BertConfig, BertModel

    from mase_passes.workloads.minilm import GlossClassifier

    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=32, num_attention_heads=2, intermediate_size=64, num_hidden_layers=1,
                     vocab_size=50, max_position_embeddings=16, attn_implementation="eager")
    model = GlossClassifier(BertModel(cfg, add_pooling_layer=False), 4)
    model.head = torch.nn.Linear(32, 4)
    model.eval()
    x = {"input_ids": torch.randint(1, 50, (1, 8)), "attention_mask": torch.tensor([[1] * 6 + [0] * 2])}
    d = map_graph(Quantize(config=CONFIG).apply(mase_ir.trace(model, x)))
    bad = {**x, "attention_mask": torch.tensor([[1] * 5 + [2] + [0] * 2])}
    with pytest.raises(ValueError, match=r"mask port %\w+: the host computed values other than 0 and 1 \(\[2\.0\]\)"):
        emulate.hardware_inputs(d, bad)


def test_host_reasons_name_the_embedding_boundary_and_the_mask():
    g, _ = _bert()
    d = map_graph(Quantize(config=CONFIG).apply(g))
    reasons = {g.node(n).op: r for n, r in d.host_reasons.items()}
    assert "tables stay in host memory" in reasons["embedding"]
    assert "mask" in reasons["logical_and"] and "mask" in reasons["expand"]
    assert set(d.host_nodes) == set(d.host_reasons)
