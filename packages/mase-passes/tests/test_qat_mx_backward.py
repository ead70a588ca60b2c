"""QAT in MX (issue 21): with ``Quantize(mode="qat", backward=...)`` every linear's backward GEMMs
are quantized too (mase_ir.mx_training). Oracle: the three GEMMs written out by hand with
``mx_formats.fake_quantize`` on numpy arrays (blocked along each GEMM's reduction axis) and float64
products; the forward values must equal the graph's own (the mode changes only the backward)."""

import mase_ir
import mx_formats as mxf
import numpy as np
import pytest
import torch

from mase_passes import config as cfg
from mase_passes.passes.quantize import Quantize, apply_config

X_FMT, W_FMT, G_FMT = "MXInt((16,2),8,5)", "MXInt((16,2),8,4)", "MXFP8_E5M2"


def _graph():
    torch.manual_seed(0)
    lin = torch.nn.Linear(32, 16, bias=False)
    g = mase_ir.trace(lin.eval(), {"input": torch.randn(4, 32)})
    apply_config(g, cfg.load_config({"default": X_FMT, "op": {"linear": {"weight": W_FMT}}}))
    for k, v in list(g.weights.items()):
        g.weights[k] = torch.nn.Parameter(v.detach().clone())
    return g


def _fq(a, fmt, axes):
    return mxf.fake_quantize(np.ascontiguousarray(a, dtype=np.float32), mxf.parse(fmt), axes=axes).astype(np.float64)


def test_backward_gemms_are_on_the_grid_along_their_reduction_axes():
    g = _graph()
    (w_key,) = list(g.weights)
    torch.manual_seed(1)
    x = torch.randn(4, 32)
    gy = torch.randn(4, 16) * torch.logspace(-3, 1, 16)  # gradients over orders of magnitude
    with torch.no_grad():
        y_plain = g(input=x)
    g.backward_format = mxf.parse(G_FMT)
    xr = x.clone().requires_grad_(True)
    y = g(input=xr)
    (y * gy).sum().backward()
    assert torch.equal(y.detach(), y_plain)  # forward unchanged
    w = g.weights[w_key].detach().numpy()
    dy = gy.numpy()
    # input gradient: dy blocked along out_features (axis 1), W along out_features (axis 0)
    dx = _fq(dy, G_FMT, (1,)) @ _fq(w, W_FMT, (0, 1))
    # weight gradient: dy and x blocked along the tokens (axis 0)
    dw = _fq(dy, G_FMT, (0,)).T @ _fq(x.numpy(), X_FMT, (0, 1))
    np.testing.assert_allclose(xr.grad.numpy(), dx, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g.weights[w_key].grad.numpy(), dw, rtol=1e-6, atol=1e-9)
    # and it differs from the float32 straight-through gradient (what QAT computed before)
    g.backward_format = None
    g.weights[w_key].grad = None
    (g(input=x) * gy).sum().backward()
    assert not np.allclose(g.weights[w_key].grad.numpy(), dw, rtol=1e-3)


def test_qat_with_mx_backward_trains_and_returns_an_ordinary_graph():
    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4)).eval()
    x = torch.randn(16, 32)
    g = mase_ir.trace(model, {"input": x})
    target = torch.randint(0, 4, (16,))
    batches = [({"input": x}, target)]
    conf = {"default": X_FMT}
    with torch.no_grad():
        before = torch.nn.functional.cross_entropy(Quantize(config=conf).apply(g)(input=x), target)
    q = Quantize(config=conf, mode="qat", steps=30, lr=3e-3, backward=G_FMT).apply(g, batches)
    with torch.no_grad():
        after = torch.nn.functional.cross_entropy(q(input=x), target)
    assert q.backward_format is None
    assert float(after) < 0.8 * float(before), (float(before), float(after))


@pytest.mark.parametrize("fmt,why", [("Fixed(8,4)", "no backward semantics"), ("M2XFP_EM", "no backward semantics"),
                                     ("MXFP9", "MXFP9")])
def test_a_backward_format_without_backward_semantics_is_refused_before_any_step(fmt, why):
    with pytest.raises(ValueError, match=why):
        Quantize(mode="qat", backward=fmt)


def test_backward_needs_qat():
    with pytest.raises(ValueError, match="needs mode 'qat'"):
        Quantize(backward=G_FMT)


class _Scores(torch.nn.Module):
    """Attention-like: a matmul of two activations (q k^T) after two linears."""

    def __init__(self):
        super().__init__()
        self.q = torch.nn.Linear(32, 32, bias=False)
        self.k = torch.nn.Linear(32, 32, bias=False)

    def forward(self, input):
        return torch.matmul(self.q(input), self.k(input).transpose(-1, -2))


def test_matmul_nodes_train_with_mx_backward_gemms_too():
    torch.manual_seed(3)
    g = mase_ir.trace(_Scores().eval(), {"input": torch.randn(2, 16, 32)})
    apply_config(g, cfg.load_config({"default": X_FMT}))
    assert [n.op for n in g.nodes].count("matmul") == 1
    x = torch.randn(2, 16, 32)
    with torch.no_grad():
        y_plain = g(input=x)
    g.backward_format = mxf.parse(G_FMT)
    seen = {}
    orig = g._run_training_gemm

    def spy(n, bound, arg_value, param_value):  # keeps the matmul's operands and result for the oracle
        out = orig(n, bound, arg_value, param_value)
        if n.op == "matmul":
            seen["a"], seen["b"] = (arg_value(n.args[i]) for i in (0, 1))
            out.retain_grad()
            seen["c"] = out
            for t in (seen["a"], seen["b"]):
                t.retain_grad()
        return out

    g._run_training_gemm = spy
    xr = x.clone().requires_grad_(True)
    y = g(input=xr)
    assert torch.equal(y.detach(), y_plain)  # forward unchanged
    gy = torch.randn(2, 16, 16) * torch.logspace(-3, 1, 16)
    (y * gy).sum().backward()
    a, b, dc = seen["a"].detach().numpy(), seen["b"].detach().numpy(), seen["c"].grad.numpy()
    # dA = Q(dC along n) Q(B along n)^T; dB = Q(A along m)^T Q(dC along m); A, B in X_FMT
    da = _fq(dc, G_FMT, (2,)) @ np.swapaxes(_fq(b, X_FMT, (2, 1)), -1, -2)
    db = np.swapaxes(_fq(a, X_FMT, (1, 2)), -1, -2) @ _fq(dc, G_FMT, (1,))
    np.testing.assert_allclose(seen["a"].grad.numpy(), da, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(seen["b"].grad.numpy(), db, rtol=1e-5, atol=1e-9)
