import math

import mase_ir
import pytest
import torch

from mase_passes.bits import average_bits
from mase_passes.passes.evaluate import Evaluate
from mase_passes.passes.quantize import Quantize


def test_accuracy_and_agreement_against_eager_counts(mlp, task):
    model, _, g = mlp
    torch.manual_seed(7)
    data = [(i, torch.randint(0, 4, (16,))) for i, _ in task]
    q = Quantize(config={"default": "MXInt((16,2),8,2)"}).apply(g)
    r = Evaluate().apply(q, data, reference=g)
    with torch.no_grad():
        correct = sum(int((q(**i).argmax(-1) == y).sum()) for i, y in data)
        agree = sum(int((q(**i).argmax(-1) == model(**i).argmax(-1)).sum()) for i, _ in data)
    assert r.value == correct / 48
    assert r.agreement == agree / 48
    assert r.average_bits == average_bits(q)
    assert Evaluate().apply(g, task, reference=g).agreement == 1.0
    assert Evaluate().apply(g, task).value == 1.0  # task labels are the FP32 predictions


def test_eq4_objective_and_optional_hardware_terms(mlp, task):
    _, _, g = mlp
    q = Quantize(config={"default": "MXInt((16,2),8,5)"}).apply(g)
    ev = Evaluate(k=2.0, k_throughput=0.5, k_area=100.0)
    r = ev.apply(q, task, throughput=3.0, area=400.0)
    assert r.objective == pytest.approx(r.value + 2.0 / r.average_bits + 0.5 * 3.0 + 100.0 / 400.0)
    r2 = ev.apply(q, task)  # no mase_cost numbers: those terms are left out and reported as None
    assert r2.area is None and r2.throughput is None
    assert r2.objective == pytest.approx(r2.value + 2.0 / r2.average_bits)
    with pytest.raises(ValueError, match="area must be positive"):
        ev.objective(1.0, 8.0, area=0.0)


def test_perplexity_of_a_tiny_causal_lm_equals_transformers_loss():
    from transformers import OPTConfig, OPTForCausalLM

    torch.manual_seed(0)
    cfg = OPTConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=4,
                    max_position_embeddings=32, word_embed_proj_dim=32)
    model = OPTForCausalLM(cfg).eval()
    ids = torch.randint(2, 64, (2, 12))
    mask = torch.ones_like(ids)
    g = mase_ir.trace(model, {"input_ids": ids, "attention_mask": mask, "use_cache": False})
    r = Evaluate(metric="perplexity").apply(g, [({"input_ids": ids, "attention_mask": mask}, ids)], reference=g)
    with torch.no_grad():
        loss = model(input_ids=ids, attention_mask=mask, labels=ids, use_cache=False).loss
    assert r.value == pytest.approx(math.exp(float(loss)), rel=1e-5)
    assert r.agreement == 1.0
    q = Quantize(config={"default": "MXInt((16,2),8,2)"}).apply(g)
    assert Evaluate(metric="perplexity").apply(q, [({"input_ids": ids, "attention_mask": mask}, ids)]).value != r.value


def test_output_kl_and_the_quality_term_against_numpy(mlp, task):
    import numpy as np
    model, _, g = mlp
    q = Quantize(config={"default": "MXInt((16,2),8,2)"}).apply(g)
    total = 0.0
    with torch.no_grad():
        for i, _ in task:
            zr, zq = model(**i).double().numpy(), q(**i).double().numpy()
            p = np.exp(zr - zr.max(-1, keepdims=True)); p /= p.sum(-1, keepdims=True)
            s = np.exp(zq - zq.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
            total += float((p * (np.log(p) - np.log(s))).sum())
    r = Evaluate(quality="kl", k=1.0).apply(q, task, reference=g)
    assert r.kl == pytest.approx(total / 48, rel=1e-4) and r.kl > 0
    assert r.objective == pytest.approx(-r.kl + 1.0 / r.average_bits)
    ra = Evaluate(quality="agreement").apply(q, task, reference=g)
    assert ra.objective == pytest.approx(ra.agreement) and ra.value == r.value
    assert Evaluate().apply(g, task, reference=g).kl == pytest.approx(0.0, abs=1e-6)
    assert Evaluate().apply(q, task).kl is None
    with pytest.raises(ValueError, match="pass reference="):
        Evaluate(quality="kl").apply(q, task)
    with pytest.raises(ValueError, match="quality must be one of"):
        Evaluate(quality="loss")
