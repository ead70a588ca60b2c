"""mx_formats.training / mx_formats.nn: MX GEMMs in the forward AND the backward of a linear.

The oracle is autograd-free: numpy arrays, :func:`mx_formats.fake_quantize` (the numba
kernels) applied by hand to each GEMM operand along that GEMM's reduction axis, and float64
matrix products.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import mx_formats as mxf  # noqa: E402
from mx_formats.nn import MXLinear, convert_linears, mx_linear  # noqa: E402
from mx_formats.training import TrainingSpec, TrainingSpecError  # noqa: E402

TOKENS, IN, OUT = 96, 64, 80  # OUT is not a multiple of 32: ragged blocks along out_features too


def _q(a: np.ndarray, fmt, axes) -> np.ndarray:
    return a if isinstance(fmt, mxf.Float32) else mxf.fake_quantize(a.astype(np.float32), fmt, axes).astype(np.float64)


def _oracle(x, w, b, dy, fwd_in, fwd_w, ig_dy, ig_w, wg_dy, wg_x, axes_of):
    """(y, dx, dW, db) of the linear step by hand; ``axes_of(fmt, reduction_axis)`` gives the blocked axes."""
    y = _q(x, fwd_in, axes_of(fwd_in, 1)) @ _q(w, fwd_w, axes_of(fwd_w, 1)).T + b
    dx = _q(dy, ig_dy, axes_of(ig_dy, 1)) @ _q(w, ig_w, axes_of(ig_w, 0))
    dw = _q(dy, wg_dy, axes_of(wg_dy, 0)).T @ _q(x, wg_x, axes_of(wg_x, 0))
    return y, dx, dw, dy.sum(0)


def _reduction_axes(fmt, k):
    if not isinstance(fmt, mxf.BlockFormat):
        return None
    return (k,) if len(fmt.block) == 1 else (k, 1 - k)


def _wrong_axes(fmt, k):
    return _reduction_axes(fmt, 1 - k)


def _step(spec, x, w, b, dy):
    layer = MXLinear(IN, OUT, spec=spec)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        layer.bias.copy_(torch.from_numpy(b))
    xt = torch.from_numpy(x).requires_grad_(True)
    y = layer(xt)
    y.backward(torch.from_numpy(dy))
    return y.detach().double().numpy(), xt.grad.double().numpy(), layer.weight.grad.double().numpy(), \
        layer.bias.grad.double().numpy()


def _rel(a, ref):
    return float(np.linalg.norm(a - ref) / np.linalg.norm(ref))


SPECS = {
    "mxfp8": ("MXFP8_E4M3", "MXFP8_E4M3", "MXFP8_E5M2", "MXFP8_E4M3", "MXFP8_E5M2", "MXFP8_E4M3"),
    "mxfp4w6a": ("MXFP6_E3M2", "MXFP4_E2M1", "MXFP6_E3M2", "MXFP4_E2M1", "MXFP6_E3M2", "MXFP6_E3M2"),
    "mixed_families": ("MXInt((16,2),8,5)", "BMF((16,),4,3,8)", "MXFP8_E5M2", "BL((16,),7,8)",
                       "MXInt((16,2),8,6)", "MXFP6_E2M3"),
}


@pytest.mark.parametrize("name", list(SPECS))
def test_every_gemm_takes_its_operands_on_their_grids_along_its_reduction_axis(name):
    fi, fw, igd, igw, wgd, wgx = SPECS[name]
    spec = TrainingSpec.from_dict({"forward": {"input": fi, "weight": fw},
                                   "input_grad": {"grad_output": igd, "weight": igw},
                                   "weight_grad": {"grad_output": wgd, "input": wgx}})
    rng = np.random.default_rng(1)
    # magnitudes spread over decades, so the blocks' scales differ along every axis
    x = (rng.standard_normal((TOKENS, IN)) * np.exp2(rng.integers(-6, 6, (TOKENS, 1)))).astype(np.float32)
    w = (rng.standard_normal((OUT, IN)) * np.exp2(rng.integers(-4, 4, (1, IN)))).astype(np.float32)
    b = rng.standard_normal(OUT).astype(np.float32)
    dy = (rng.standard_normal((TOKENS, OUT)) * 1e-3 * np.exp2(rng.integers(-8, 8, (TOKENS, 1)))).astype(np.float32)
    got = _step(spec, x, w, b, dy)
    fmts = [mxf.parse(f) for f in SPECS[name]]
    want = _oracle(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), dy.astype(np.float64),
                   *fmts, _reduction_axes)
    wrong = _oracle(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), dy.astype(np.float64),
                    *fmts, _wrong_axes)
    for what, g, ref, bad in zip(("y", "dx", "dW", "db"), got, want, wrong):
        assert _rel(g, ref) < 2e-6, what  # float32 accumulation of exact products
        if what != "db":  # blocking along the other axis is a visibly different gradient
            assert _rel(bad, ref) > 1e-3, what


def test_input_gradient_lies_on_the_output_gradient_grid_along_out_features():
    fmt = mxf.MXFP8_E5M2
    spec = TrainingSpec.from_dict({"input_grad": {"grad_output": fmt}})
    layer = MXLinear(64, 64, bias=False, spec=spec)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(64))  # dx = Q(dy) exactly
    x = torch.randn(64, 64, requires_grad=True)
    # 32 rows of a block span 12 decades, more than E5M2's 31 binades: the other axis' grid differs
    dy = torch.randn(64, 64) * torch.logspace(-12, 12, 64)[:, None]
    layer(x).backward(dy)
    g = x.grad.numpy()
    assert np.array_equal(mxf.fake_quantize(g, fmt, axes=-1), g)
    assert not np.array_equal(mxf.fake_quantize(g, fmt, axes=0), g)
    assert not np.array_equal(g, dy.numpy())


def test_weight_gradient_lies_on_the_output_gradient_grid_along_tokens():
    fmt = mxf.MXFP6_E3M2
    spec = TrainingSpec.from_dict({"weight_grad": {"grad_output": fmt}})
    layer = MXLinear(64, 64, bias=False, spec=spec)
    x = torch.eye(64, requires_grad=True)  # tokens == in_features: dW = Q(dy)^T exactly
    dy = torch.randn(64, 64) * torch.logspace(-6, 2, 64)[None, :]
    layer(x).backward(dy)
    g_t = layer.weight.grad.numpy().T  # [tokens, out]
    assert np.array_equal(mxf.fake_quantize(g_t, fmt, axes=0), g_t)
    assert not np.array_equal(mxf.fake_quantize(g_t, fmt, axes=-1), g_t)


def test_identity_ste_passes_the_gradient_as_if_the_forward_quantizers_were_identity():
    spec = TrainingSpec.from_dict({"forward": {"input": "MXFP4_E2M1", "weight": "MXFP4_E2M1"}})
    w = torch.randn(OUT, IN)
    x = torch.randn(TOKENS, IN, requires_grad=True)
    dy = torch.randn(TOKENS, OUT)
    wp = torch.nn.Parameter(w.clone())
    mx_linear(x, wp, None, spec).backward(dy)
    assert torch.allclose(x.grad, dy @ w, rtol=1e-5, atol=1e-5)
    assert torch.allclose(wp.grad, dy.T @ x.detach(), rtol=1e-5, atol=1e-5)


def test_zero_saturated_ste_zeroes_the_gradient_where_the_forward_quantizer_clipped():
    fixed = mxf.Fixed(8, 4)  # saturates above 127/16
    spec = TrainingSpec.from_dict({"forward": {"input": fixed}, "ste": "zero_saturated"})
    w = torch.randn(OUT, IN)
    x = torch.randn(TOKENS, IN) * 4
    x[::7, ::5] = 20.0
    x.requires_grad_(True)
    dy = torch.randn(TOKENS, OUT)
    mx_linear(x, torch.nn.Parameter(w), None, spec).backward(dy)
    clipped = x.detach().abs() > 127 / 16
    assert clipped.any() and (~clipped).any()
    full = dy @ w
    assert torch.equal(x.grad[clipped], torch.zeros(int(clipped.sum())))
    assert torch.allclose(x.grad[~clipped], full[~clipped], rtol=1e-5, atol=1e-5)


def test_elementwise_bfloat16_gives_a_bfloat16_output():
    spec = TrainingSpec.mx("MXFP8_E4M3", "MXFP8_E5M2", elementwise="bfloat16")
    y = MXLinear(IN, OUT, spec=spec)(torch.randn(3, 5, IN))
    assert y.dtype == torch.bfloat16 and y.shape == (3, 5, OUT)


def test_convert_linears_replaces_in_place_and_keeps_the_parameters():
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    w0 = model[0].weight
    assert convert_linears(model, TrainingSpec.mx("MXFP8_E4M3", "MXFP8_E5M2"), skip=("2",)) == ["0"]
    assert isinstance(model[0], MXLinear) and type(model[2]) is torch.nn.Linear and model[0].weight is w0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="not modules"):
        convert_linears(model, TrainingSpec.mx("MXFP8_E4M3", "MXFP8_E5M2"), skip=("head",))


@pytest.mark.slow
def test_a_tiny_model_trained_in_mxfp6_learns():
    torch.manual_seed(0)
    spec = TrainingSpec.mx("MXFP6_E3M2", "MXFP6_E3M2")
    model = torch.nn.Sequential(MXLinear(32, 64, spec=spec), torch.nn.ReLU(), MXLinear(64, 4, spec=spec))
    x = torch.randn(128, 32)
    y = (x @ torch.randn(32, 4)).argmax(1)  # a linearly separable 4-class task
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.3 * losses[0]


@pytest.mark.parametrize("spec, match", [
    ({"input_grad": {"grad_output": {"format": "MXFP8_E5M2", "axis": "channels"}}},
     r"\[input_grad\] grad_output: axis 'channels' does not exist; the axes of grad_output are"),
    ({"weight_grad": {"input": {"format": "MXFP8_E4M3", "axis": "in_features"}}},
     r"\[weight_grad\] input: axis 'in_features' is not the weight_grad GEMM's reduction axis 'tokens'"),
    ({"input_grad": {"grad_output": "Fixed(8,4)"}}, r"\[input_grad\] grad_output: Fixed\(8,4\) has no backward"),
    ({"weight_grad": {"grad_output": "MiniFloat(5,2,15)"}}, r"MiniFloat\(5,2,15\) has no backward semantics"),
    ({"input_grad": {"weight": "NVFP4"}}, r"\[input_grad\] weight: NVFP4 has no backward semantics"),
    ({"forward": {"activation": "MXFP8_E4M3"}}, r"\[forward\]: unknown operand 'activation'"),
    ({"backward": {}}, r"unknown key 'backward'"),
    ({"forward": {"input": "MXFP9"}}, r"\[forward\] input:"),
    ({"forward": {"input": {"axis": "in_features"}}}, r"\[forward\] input: no 'format'"),
    ({"elementwise": "float16"}, r"elementwise: 'float16'"),
    ({"rounding": "stochastic"}, r"per-step seed"),
    ({"ste": "clipped"}, r"ste: 'clipped'"),
])
def test_a_bad_spec_is_refused_when_it_is_made(spec, match):
    with pytest.raises(TrainingSpecError, match=match):
        TrainingSpec.from_dict(spec)


def test_scalar_formats_are_fine_in_the_forward_pass():
    spec = TrainingSpec.from_dict({"forward": {"input": "Fixed(8,4)", "weight": "MiniFloat(4,3,7)"}})
    assert spec["forward", "input"].axes == () and not spec["input_grad", "grad_output"].quantized
