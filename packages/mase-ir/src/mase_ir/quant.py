"""The one place where the IR calls the number-format library during execution.

A tensor whose type carries a format other than ``f32`` is fake-quantized with
``mx_formats.torch.fake_quantize``: quantize then dequantize, with a
straight-through gradient, so the graph stays trainable (QAT).
"""

from __future__ import annotations

import mx_formats as mxf
import torch


def fake_quantize(t: torch.Tensor, fmt: mxf.Format, block_axis: int = -1) -> torch.Tensor:
    """Round ``t`` to ``fmt`` (value-preserving f32 passes through).

    For block formats the first blocked axis is ``block_axis`` (the consumer's
    reduction axis) and, for 2-D blocks, the second is the neighbouring axis
    (-2 when ``block_axis`` is -1, else -1). Tensors with fewer axes than the
    block get unit leading axes for the duration of the call.
    """
    if fmt == mxf.F32:
        return t
    fq = _backend()
    if not getattr(fmt, "is_block", False):
        return fq(t, fmt, None)
    block_dims = len(fmt.block)
    squeeze = 0
    while t.dim() < block_dims:
        t = t.unsqueeze(0)
        squeeze += 1
    axis = block_axis % t.dim()
    if block_dims == 1:
        axes = (axis,)
    else:
        other = axis - 1 if axis == t.dim() - 1 else t.dim() - 1
        axes = (axis, other)
    out = fq(t, fmt, axes)
    for _ in range(squeeze):
        out = out.squeeze(0)
    return out


def _backend():
    """``mx_formats.torch.fake_quantize`` when present, else the numpy round trip
    ``mx_formats.fake_quantize`` wrapped in a straight-through autograd function."""
    try:
        import mx_formats.torch as mxt
    except ImportError:
        return _StraightThrough.apply
    return lambda t, fmt, axes: mxt.fake_quantize(t, fmt, axes=axes)


class _StraightThrough(torch.autograd.Function):
    """y = dequantize(quantize(x)); dy/dx = 1 (straight-through estimator)."""

    @staticmethod
    def forward(ctx, t, fmt, axes):
        x = t.detach().to(torch.float32).cpu().numpy()
        y = mxf.fake_quantize(x, fmt, axes=axes)
        return torch.from_numpy(y).to(t.device)

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None
