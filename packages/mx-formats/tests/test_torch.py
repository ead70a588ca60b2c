"""mx_formats.torch: forward equals the numpy kernel, straight-through gradient."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import mx_formats as mxf  # noqa: E402
import mx_formats.torch as mxt  # noqa: E402

FMT = mxf.MXInt((16, 2), 8, 4)


def test_forward_equals_the_numpy_kernel_and_gradient_passes_straight_through():
    t = torch.randn(6, 48, requires_grad=True)
    y = mxt.fake_quantize(t, FMT)
    assert torch.equal(y, torch.from_numpy(mxf.fake_quantize(t.detach().numpy(), FMT)))
    upstream = torch.randn_like(y)
    y.backward(upstream)
    assert torch.equal(t.grad, upstream)


def test_saturated_elements_can_get_a_zero_gradient():
    t = torch.tensor([[1.97, 0.1] + [0.0] * 14], requires_grad=True)  # m=2: 1.97 -> clamp at 1.5
    y = mxt.fake_quantize(t, mxf.MXInt((16,), 8, 2), zero_saturated_grad=True)
    assert y[0, 0].item() == 1.5
    y.sum().backward()
    assert t.grad[0, 0].item() == 0.0 and t.grad[0, 1].item() == 1.0


def test_contiguous_float32_cpu_input_is_not_copied():
    t = torch.randn(4, 64)
    seen = {}
    original = mxf.api.fake_quantize

    def spy(x, *args, **kwargs):
        seen["shares_memory"] = np.shares_memory(x, t.numpy())
        seen["out_given"] = kwargs.get("out") is not None
        return original(x, *args, **kwargs)

    mxt.api.fake_quantize = spy
    try:
        mxt.fake_quantize(t, FMT)
    finally:
        mxt.api.fake_quantize = original
    assert seen == {"shares_memory": True, "out_given": True}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_other_dtypes_and_layouts_come_back_in_their_own_dtype(dtype):
    t = torch.randn(48, 6).to(dtype).t()  # non-contiguous too
    y = mxt.fake_quantize(t, mxf.MXInt((16,), 8, 6))  # 7 significant bits fit bfloat16
    assert y.dtype == dtype and y.shape == t.shape
    expected = mxf.fake_quantize(t.float().contiguous().numpy(), mxf.MXInt((16,), 8, 6))
    assert torch.equal(y.float(), torch.from_numpy(expected))


def test_refuses_integer_tensors():
    with pytest.raises(TypeError, match="floating point"):
        mxt.fake_quantize(torch.ones(3, dtype=torch.int64), FMT)
