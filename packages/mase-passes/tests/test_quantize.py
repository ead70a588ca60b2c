import mx_formats as mxf
import numpy as np
import pytest
import torch

from mase_passes.bits import average_bits
from mase_passes.graphs import clone
from mase_passes.passes.quantize import Quantize, distillation_loss, summary

FMT = mxf.MXInt((16,), 8, 3)


def _fq(t):
    return torch.from_numpy(mxf.fake_quantize(t.detach().numpy(), FMT))


def test_ptq_output_equals_hand_quantized_reference(mlp):
    """1-D blocks of 16 along the last axis (in_features for x and W): the reference quantizes
    every tensor with mx_formats' numpy fake_quantize and runs the float ops."""
    model, x, g = mlp
    q = Quantize(config={"default": str(FMT)}).apply(g)
    with torch.no_grad():
        h = _fq(_fq(x) @ _fq(model.fc1.weight).T + _fq(model.fc1.bias))
        r = _fq(torch.relu(h))
        out = _fq(r @ _fq(model.fc2.weight).T + _fq(model.fc2.bias))
        got = q(x=x)
    np.testing.assert_array_equal(got.numpy(), out.numpy())
    assert not torch.equal(got, g(x=x))


def test_average_bits_by_hand(mlp):
    _, _, g = mlp
    q = Quantize(config={"default": "MXInt((16,2),8,3)", "op": {"linear": {"weight": "MXInt((16,2),8,7)"}},
                         "node": {"linear_1": {"bias": "f32"}}}).apply(g)
    # results: linear 16x64, relu 16x64, linear_1 16x4 at 8/32+3+1 = 4.25 bits
    # weights 64x32 and 4x64 at 8.25; bias 64 at 4.25; bias 4 at 32
    num = 4.25 * (1024 + 1024 + 64) + 8.25 * (2048 + 256) + 4.25 * 64 + 32 * 4
    den = 1024 + 1024 + 64 + 2048 + 256 + 64 + 4
    assert average_bits(q) == pytest.approx(num / den)
    assert average_bits(q, weighted=False) == pytest.approx((4.25 * 4 + 8.25 * 2 + 32) / 7)
    text = summary(q)
    assert "linear.weight" in text and f"{num / den:.4f}" in text


@pytest.mark.slow
def test_qat_lowers_the_loss_and_leaves_the_input_graph_alone(mlp, task):
    _, _, g = mlp
    before = {k: v.detach().clone() for k, v in g.named_parameters()}
    # labels the FP32 model does not already fit: a fresh random labelling
    torch.manual_seed(5)
    data = [(inp, torch.randint(0, 4, (16,))) for inp, _ in task]
    qat = Quantize(config={"default": "MXInt((16,2),8,5)"}, mode="qat", lr=1e-2, steps=30)
    q = qat.apply(g, data)
    def loss(graph):
        with torch.no_grad():
            return sum(float(torch.nn.functional.cross_entropy(graph(**i), y)) for i, y in data)
    ptq = Quantize(config={"default": "MXInt((16,2),8,5)"}).apply(g)
    assert loss(q) < 0.8 * loss(ptq)
    for k, v in g.named_parameters():
        assert torch.equal(v, before[k])


def test_qat_without_data_is_refused(mlp):
    _, _, g = mlp
    with pytest.raises(ValueError, match="needs batches"):
        Quantize(config={"default": "f32"}, mode="qat", steps=2).apply(g)


def test_distillation_loss_is_kl_of_tempered_softmaxes_by_hand():
    torch.manual_seed(3)
    z, zt = torch.randn(5, 7), torch.randn(5, 7)
    for t in (1.0, 2.5):
        p = np.exp(zt.numpy() / t) / np.exp(zt.numpy() / t).sum(-1, keepdims=True)
        q = np.exp(z.numpy() / t) / np.exp(z.numpy() / t).sum(-1, keepdims=True)
        by_hand = t * t * (p * (np.log(p) - np.log(q))).sum(-1).mean()
        assert float(distillation_loss(z, zt, t)) == pytest.approx(by_hand, rel=1e-5)
    assert float(distillation_loss(zt, zt)) == pytest.approx(0.0, abs=1e-7)


def test_distillation_qat_pulls_the_quantized_model_towards_fp32_without_labels(mlp, task):
    """At 2-bit mantissas PTQ moves the outputs far from FP32; distillation on the same inputs
    (labels replaced by garbage, which it must ignore) brings the output KL down."""
    _, _, g = mlp
    conf = {"default": "MXInt((16,2),8,2)"}
    garbage = [(inp, torch.full((16,), 3)) for inp, _ in task]
    qat = Quantize(config=conf, mode="qat", loss="distill", lr=3e-3, steps=60).apply(g, garbage)
    ptq = Quantize(config=conf).apply(g)
    ref = [g(**inp).detach() for inp, _ in task]
    def kl(graph):
        with torch.no_grad():
            return sum(float(distillation_loss(graph(**inp), r)) for (inp, _), r in zip(task, ref))
    assert kl(qat) < 0.7 * kl(ptq)
    with pytest.raises(ValueError, match="loss 'distill' has its own loss"):
        Quantize(config=conf, mode="qat", loss="distill", steps=1).apply(g, task, loss_fn=torch.nn.functional.mse_loss)
    with pytest.raises(ValueError, match="loss must be one of"):
        Quantize(config=conf, loss="mse")
    with pytest.raises(ValueError, match="schedule must be one of"):
        Quantize(config=conf, schedule="cosine")


def test_the_linear_schedule_scales_each_step_by_the_remaining_fraction(mlp, task, monkeypatch):
    """Record the learning rate each Adam step ran with."""
    _, _, g = mlp
    seen = []
    real_step = torch.optim.Adam.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    conf = {"default": "MXInt((16,2),8,5)"}
    Quantize(config=conf, mode="qat", lr=0.2, steps=4).apply(g, task)
    assert seen == pytest.approx([0.2, 0.15, 0.1, 0.05])
    seen.clear()
    Quantize(config=conf, mode="qat", lr=0.2, steps=4, schedule="constant").apply(g, task)
    assert seen == pytest.approx([0.2] * 4)


@pytest.mark.slow
def test_hidden_value_distillation_by_hand_and_on_the_mlp(mlp, task):
    torch.manual_seed(4)
    z, zt, h, ht = torch.randn(5, 7), torch.randn(5, 7), torch.randn(5, 3), torch.randn(5, 3)
    by_hand = float(distillation_loss(z, zt)) + 0.5 * float(((h - ht) ** 2).sum() / (ht ** 2).sum())
    assert float(distillation_loss((z, h), (zt, ht), hidden_weight=0.5)) == pytest.approx(by_hand, rel=1e-5)
    # matching the hidden relu output too leaves it closer to FP32 than PTQ and than matching
    # the logits alone
    _, _, g = mlp
    conf = {"default": "MXInt((16,2),8,3)"}
    q = Quantize(config=conf, mode="qat", loss="distill", distill_values=("relu",), lr=3e-3, steps=60).apply(g, task)
    logits_only = Quantize(config=conf, mode="qat", loss="distill", lr=3e-3, steps=60).apply(g, task)
    ptq = Quantize(config=conf).apply(g)
    assert q.outputs == g.outputs and q(**task[0][0]).shape == g(**task[0][0]).shape  # outputs restored

    def hidden_error(graph):
        probe, ref = clone(graph), clone(g)
        probe.outputs, ref.outputs = ["relu"], ["relu"]
        with torch.no_grad():
            return sum(float(((probe(**i) - ref(**i)) ** 2).sum() / (ref(**i) ** 2).sum()) for i, _ in task)
    assert hidden_error(q) < min(hidden_error(ptq), 0.9 * hidden_error(logits_only))
    with pytest.raises(ValueError, match=r"\['nope'\] are not values of the graph"):
        Quantize(config=conf, mode="qat", loss="distill", distill_values=("nope",), steps=1).apply(g, task)
    with pytest.raises(ValueError, match="needs loss 'distill'"):
        Quantize(config=conf, mode="qat", distill_values=("relu",), steps=1).apply(g, task)
