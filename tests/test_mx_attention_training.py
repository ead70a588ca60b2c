"""tools/train_causal_lm.py --mx-attention: LLaMA attention with both matmuls through mx_matmul.

Oracles: transformers' own eager attention (an all-f32 matmul spec must reproduce it), and
mx_formats.fake_quantize applied by hand to Q and K^T along the head dimension."""

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
import mx_formats as mxf  # noqa: E402
from mx_formats.training import TrainingSpec  # noqa: E402

TOOL = Path(__file__).resolve().parents[1] / "tools" / "train_causal_lm.py"


def _tool():
    spec = importlib.util.spec_from_file_location("train_causal_lm", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _llama(attn):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=32)
    m = LlamaForCausalLM(cfg).eval()
    m.set_attn_implementation(attn)
    return m


def test_an_f32_matmul_spec_reproduces_eager_attention():
    tool = _tool()
    ids = torch.randint(0, 64, (2, 12), generator=torch.Generator().manual_seed(1))
    ref = _llama("eager")(input_ids=ids, use_cache=False).logits
    m = _llama("eager")
    tool.use_mx_attention(m, TrainingSpec.from_dict({}, op="matmul"))
    assert torch.allclose(m(input_ids=ids, use_cache=False).logits, ref, atol=1e-5, rtol=1e-5)


def test_attention_scores_are_products_of_mx_operands_and_training_steps_run():
    tool = _tool()
    spec = tool.attention_spec(TrainingSpec.mx("MXFP6_E3M2", "MXFP8_E5M2"))
    assert str(spec["forward", "a"].format) == "MXFP6_E3M2" and str(spec["b_grad", "grad_output"].format) == \
        "MXFP8_E5M2"
    attend = tool.mx_attention(spec)

    class Mod(torch.nn.Module):
        num_key_value_groups = 1

    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(1, 2, 8, 32, generator=g) for _ in range(3))
    _, probs = attend(Mod().eval(), q, k, v, None, scaling=0.25)
    fq = mxf.MXFP6_E3M2
    s = torch.from_numpy(mxf.fake_quantize(q.numpy(), fq, -1)) @ \
        torch.from_numpy(mxf.fake_quantize(k.transpose(2, 3).contiguous().numpy(), fq, -2))
    assert torch.allclose(probs, torch.softmax(s * 0.25, -1), atol=1e-6)
    assert not torch.allclose(probs, torch.softmax(q @ k.transpose(2, 3) * 0.25, -1), atol=1e-4)
    # a training step through the model: finite gradients reach the attention projections
    m = _llama("eager").train()
    tool.use_mx_attention(m, spec)
    ids = torch.randint(0, 64, (2, 12), generator=g)
    m(input_ids=ids, labels=ids, use_cache=False).loss.backward()
    grad = m.model.layers[0].self_attn.q_proj.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
