"""torch autograd wrapper: fake quantization with a straight-through gradient.

    import mx_formats.torch as mxt
    y = mxt.fake_quantize(t, "MXInt((16,2),8,5)")     # forward: values on the grid
    y.sum().backward()                                  # backward: dy/dx = 1 (STE)

A contiguous float32 CPU tensor is handed to the numba kernel without a copy and
the result is written straight into the new tensor's memory. Any other device,
dtype or layout goes through a float32 CPU copy and comes back in the input's
dtype and device (exact when the format's values fit that dtype, e.g. bfloat16
holds at most 8 significant bits).

Importing ``mx_formats`` never imports torch; importing ``mx_formats.torch`` does.
"""

from __future__ import annotations

import numpy as np
import torch

from mx_formats import api
from mx_formats.formats import Format

__all__ = ["fake_quantize"]


def _forward(t: torch.Tensor, fmt, axes, rounding: str, seed: int) -> torch.Tensor:
    x = t.detach()
    if x.device.type == "cpu" and x.dtype == torch.float32 and x.is_contiguous():
        out = torch.empty_like(x)
        api.fake_quantize(x.numpy(), fmt, axes, rounding, seed=seed, out=out.numpy())
        return out
    values = api.fake_quantize(x.to("cpu", torch.float32).contiguous().numpy(), fmt, axes, rounding, seed=seed)
    return torch.from_numpy(values).to(device=t.device, dtype=t.dtype)


def _saturated(t: torch.Tensor, fmt, axes) -> torch.Tensor:
    x = t.detach().to("cpu", torch.float32).contiguous().numpy()
    top = api.quantize(x, fmt, axes).max_magnitude()
    return torch.from_numpy(np.abs(x) > top).to(t.device)


class _FakeQuantize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t, fmt, axes, rounding, seed, zero_saturated_grad):
        if zero_saturated_grad:
            ctx.save_for_backward(_saturated(t, fmt, axes))
        ctx.zero_saturated_grad = zero_saturated_grad
        return _forward(t, fmt, axes, rounding, seed)

    @staticmethod
    def backward(ctx, grad):
        if ctx.zero_saturated_grad:
            (saturated,) = ctx.saved_tensors
            grad = grad.masked_fill(saturated, 0.0)
        return grad, None, None, None, None, None


def fake_quantize(t: torch.Tensor, fmt: Format | str, axes=None, rounding: str = "nearest_even", *, seed: int = 0,
                  zero_saturated_grad: bool = False) -> torch.Tensor:
    """Fake-quantize ``t`` to ``fmt`` with a straight-through gradient.

    Forward values equal :func:`mx_formats.fake_quantize` of the same data. The
    gradient passes through unchanged (STE), or is zeroed where ``|x|`` exceeds
    the largest magnitude of its block (saturated elements) when
    ``zero_saturated_grad`` is set.
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"fake_quantize takes a torch.Tensor, got {type(t).__name__}")
    if not t.dtype.is_floating_point:
        raise TypeError(f"fake_quantize: tensor must be floating point, got {t.dtype}")
    fmt = api._check_format(fmt)
    return _FakeQuantize.apply(t, fmt, axes, rounding, seed, zero_saturated_grad)
