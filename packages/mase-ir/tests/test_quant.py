"""Quantized execution and QAT: formats in the types drive fake quantization with a
straight-through gradient; verify() and summary() see the formats."""

import mx_formats as mxf
import numpy as np
import pytest
import torch

import mase_ir



def mxint_reference(x: np.ndarray, block: int, exp_bits: int, man_bits: int) -> np.ndarray:
    """Slow MXInt reference from DESIGN.md §3, 1-D blocks along the last axis:
    s = floor(log2 amax) clamped to +-(2^(e-1)-1); q = clamp(round_even(x 2^(m-1-s)), +-(2^m-1));
    value = q 2^(s-m+1)."""
    out = np.zeros_like(x, dtype=np.float64)
    smax = 2 ** (exp_bits - 1) - 1
    qmax = 2 ** man_bits - 1
    flat = x.reshape(-1, x.shape[-1])
    res = out.reshape(-1, x.shape[-1])
    for r in range(flat.shape[0]):
        for b0 in range(0, flat.shape[1], block):
            blk = flat[r, b0:b0 + block].astype(np.float64)
            amax = np.abs(blk).max()
            s = -smax if amax == 0 else int(np.clip(np.frexp(amax)[1] - 1, -smax, smax))
            q = np.clip(np.round(blk * 2.0 ** (man_bits - 1 - s)), -qmax, qmax)
            res[r, b0:b0 + block] = q * 2.0 ** (s - man_bits + 1)
    return out.astype(np.float32)


class _MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(32, 32)
        self.fc2 = torch.nn.Linear(32, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def _traced_mlp(seed=0):
    torch.manual_seed(seed)
    model = _MLP().eval()
    return model, mase_ir.trace(model, {"x": torch.randn(8, 32)})


def test_weight_and_activation_formats_fake_quantize_like_the_reference():
    model, g = _traced_mlp()
    fmt_w, fmt_a = mxf.MXInt((16,), 8, 3), mxf.MXInt((16,), 8, 5)
    fc1 = next(n for n in g.nodes if n.module == "fc1")
    g.set_param_format(fc1.name, "weight", fmt_w)
    g.set_format("x", fmt_a)
    x = torch.randn(8, 32)
    wq = torch.from_numpy(mxint_reference(model.fc1.weight.detach().numpy(), 16, 8, 3))
    xq = torch.from_numpy(mxint_reference(x.numpy(), 16, 8, 5))
    want = model.fc2(torch.relu(torch.nn.functional.linear(xq, wq, model.fc1.bias)))
    got = g(x=x)
    assert torch.allclose(got, want, atol=1e-6, rtol=0)
    assert not torch.allclose(got, model(x), atol=1e-3)  # quantization really happened


def test_summary_average_bits_follows_eq1_weighted_by_elements():
    _, g = _traced_mlp()
    fc1 = next(n for n in g.nodes if n.module == "fc1")
    g.set_param_format(fc1.name, "weight", mxf.MXInt((16, 2), 8, 7))  # 8.25 bits, 1024 elements
    s = g.summary()
    # float tensors: results 8x32, 8x32, 8x4 (f32), fc1.weight 32x32 (8.25), fc1.bias 32,
    # fc2.weight 4x32, fc2.bias 4 (f32)
    f32_elems = 256 + 256 + 32 + 32 + 128 + 4
    assert s.average_bits == pytest.approx((32 * f32_elems + 8.25 * 1024) / (f32_elems + 1024))
    assert s.nodes == 3 and s.op_histogram == {"linear": 2, "relu": 1}
    assert s.parameters == 32 * 32 + 32 + 4 * 32 + 4


def test_qat_steps_lower_the_loss():
    torch.manual_seed(1)
    _, g = _traced_mlp(1)
    for n in g.nodes:
        if n.op == "linear":
            g.set_param_format(n.name, "weight", mxf.MXInt((16, 2), 8, 3))
    g.set_format("x", mxf.MXInt((16,), 8, 5))
    x = torch.randn(8, 32)
    target = torch.randn(8, 4)
    opt = torch.optim.SGD(g.parameters(), lr=0.05)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(g(x=x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters())
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.slow
def test_qat_on_tiny_llama_lowers_the_loss():
    from mase_ir_testkit import _inputs, _tiny
    model, extra = _tiny("llama")
    example = _inputs(0, extra)
    g = mase_ir.trace(model.eval(), example)
    for n in g.nodes:
        if n.op == "linear":
            g.set_param_format(n.name, "weight", mxf.MXInt((16, 2), 8, 5))
    g.verify()
    inputs = {k: v for k, v in example.items() if isinstance(v, torch.Tensor)}
    labels = inputs["input_ids"]
    opt = torch.optim.Adam(g.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        logits = g(**inputs)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 100), labels[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_verify_names_the_node_with_a_type_mismatch():
    _, g = _traced_mlp()
    relu = next(n for n in g.nodes if n.op == "relu")
    relu.args[0].type = relu.args[0].type.with_format(mxf.MXInt((16,), 8, 3))
    with pytest.raises(mase_ir.VerifyError, match=f"node %{relu.name}: argument %.* has type MXInt"):
        g.verify()


def test_verify_catches_wrong_result_shape_missing_attr_and_missing_weight():
    _, g = _traced_mlp()
    fc2 = next(n for n in g.nodes if n.module == "fc2")
    fc2.result = mase_ir.TensorType((8, 5), fc2.result.element)
    with pytest.raises(mase_ir.VerifyError, match=f"node %{fc2.name}: op linear computes"):
        g.verify()
    text = """graph(%x: f32[2,3]) {
  %y: f32[3,2] = transpose(%x: f32[2,3]) {dim0 = 0}
  return %y
}
"""
    with pytest.raises(mase_ir.VerifyError, match="node %y: op transpose requires attribute 'dim1'"):
        mase_ir.parse(text).verify()
    _, g = _traced_mlp()
    del g.weights["fc1.weight"]
    with pytest.raises(mase_ir.VerifyError, match="missing weight 'fc1.weight'"):
        g.verify()


def test_quantized_graph_saves_loads_and_computes_the_same(tmp_path):
    _, g = _traced_mlp()
    fc2 = next(n for n in g.nodes if n.module == "fc2")
    g.set_param_format(fc2.name, "weight", mxf.MXInt((16, 2), 8, 3))
    g.set_format(fc2.args[0].name, mxf.MXFP8_E4M3)
    g.verify()
    g.save(tmp_path)
    loaded = mase_ir.load(tmp_path)
    assert "MXFP8_E4M3[8,32]" in loaded.to_text() and loaded.to_text() == g.to_text()
    x = torch.randn(8, 32)
    assert torch.equal(loaded(x=x), g(x=x))


@pytest.mark.parametrize("fmt, axes", [(mxf.MXInt((16, 2), 8, 3), (1, 0)), (mxf.MXFP8_E4M3, (1,)),
                                       (mxf.Fixed(8, 4), None)])
def test_quantizer_matches_numpy_and_passes_gradients_straight_through(fmt, axes):
    from mase_ir import quant
    t = torch.randn(4, 32) * 3
    want = torch.from_numpy(mxf.fake_quantize(t.numpy(), fmt, axes=axes))
    x = t.clone().requires_grad_(True)
    y = quant.fake_quantize(x, fmt, -1)
    assert torch.equal(y.detach(), want)
    (y * torch.arange(32.0)).sum().backward()
    assert torch.equal(x.grad, torch.arange(32.0).expand(4, 32))


def test_a_vector_under_a_2d_block_is_blocked_along_its_only_axis():
    from mase_ir import quant
    bias = torch.randn(40) * 5
    want = torch.from_numpy(mxf.fake_quantize(bias.numpy(), mxf.MXInt((16, 2), 8, 3)))
    assert torch.equal(quant.fake_quantize(bias, mxf.MXInt((16, 2), 8, 3), -1), want)
