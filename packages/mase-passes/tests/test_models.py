"""The passes on other families, built from tiny random configs: LLaMA (causal LM) and BERT
sequence classification (a checkpoint given by path, as a user would)."""

import mase_ir
import pytest
import torch

from mase_passes.passes.evaluate import Evaluate
from mase_passes.passes.profile import Profile
from mase_passes.passes.quantize import Quantize


@pytest.mark.slow
def test_llama_profile_quantize_evaluate():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32)
    model = LlamaForCausalLM(cfg).eval()
    ids = torch.randint(0, 64, (2, 16))
    mask = torch.ones_like(ids)
    g = mase_ir.trace(model, {"input_ids": ids, "attention_mask": mask, "use_cache": False})
    Profile().apply(g, [{"input_ids": ids, "attention_mask": mask}])
    assert any(n.op == "rms_norm" and n.sw.statistics["variance"] > 0 for n in g.nodes)
    q = Quantize(config={"default": "MXInt((16,2),8,5)", "op": {"rms_norm": "f32"}}).apply(g)
    assert all(n.result.element.bits_per_element == 32 for n in q.nodes if n.op == "rms_norm")
    r = Evaluate(metric="perplexity").apply(q, [({"input_ids": ids, "attention_mask": mask}, ids)])
    assert 1.0 < r.value < 64 * 4  # near the vocabulary size for random weights
    assert r.average_bits < 32


def test_bert_sequence_classification_from_a_path(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=32, num_labels=3)
    BertForSequenceClassification(cfg).save_pretrained(tmp_path)
    model = BertForSequenceClassification.from_pretrained(tmp_path).eval()
    ids = torch.randint(1, 64, (4, 8))
    mask = torch.ones_like(ids)

    class Logits(torch.nn.Module):  # graphs return tensors; the HF output is a dataclass
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).logits

    # the wrapper must be in eval mode too: export re-applies its mode to every submodule
    g = mase_ir.trace(Logits(model).eval(), {"input_ids": ids, "attention_mask": mask})
    inputs = {"input_ids": ids, "attention_mask": mask}
    with torch.no_grad():
        labels = model(**inputs).logits.argmax(-1)
    assert Evaluate().apply(g, [(inputs, labels)]).value == 1.0
    q = Quantize(config={"default": "MXInt((16,2),8,7)"}).apply(g)
    r = Evaluate().apply(q, [(inputs, labels)], reference=g)
    assert r.average_bits == pytest.approx(8.25)
