"""The one place where the IR calls the number-format library during execution.

A tensor whose type carries a format other than ``f32`` is fake-quantized with
``mx_formats.torch.fake_quantize``: quantize then dequantize, with a
straight-through gradient, so the graph stays trainable (QAT).
"""

from __future__ import annotations

import mx_formats as mxf
import mx_formats.torch as mxt
import torch


def fake_quantize(t: torch.Tensor, fmt: mxf.Format, block_axis: int = -1) -> torch.Tensor:
    """Round ``t`` to ``fmt`` (value-preserving f32 passes through).

    For block formats the first blocked axis is ``block_axis`` (the consumer's
    reduction axis) and, for 2-D blocks, the second is the neighbouring axis
    (-2 when ``block_axis`` is -1, else -1). A tensor with fewer axes than the
    block is treated by mx_formats as having leading axes of extent 1, and the
    axes below refer to that padded shape.
    """
    if fmt == mxf.F32:
        return t
    if not isinstance(fmt, mxf.BlockFormat):  # fmt.is_block
        return mxt.fake_quantize(t, fmt)
    ndim = max(t.dim(), len(fmt.block))
    axis = block_axis % ndim
    axes: tuple[int, ...]
    if len(fmt.block) == 1:
        axes = (axis,)
    else:
        axes = (axis, axis - 1 if axis == ndim - 1 else ndim - 1)
    return mxt.fake_quantize(t, fmt, axes=axes)
