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
    try:
        import mx_formats.torch as mxt
    except ImportError as exc:  # the torch bridge is an optional part of mx_formats
        raise RuntimeError(
            f"running a graph with format {fmt} needs mx_formats.torch (fake_quantize with STE): {exc}"
        ) from exc
    if not getattr(fmt, "is_block", False):
        return mxt.fake_quantize(t, fmt)
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
    out = mxt.fake_quantize(t, fmt, axes=axes)
    for _ in range(squeeze):
        out = out.squeeze(0)
    return out
