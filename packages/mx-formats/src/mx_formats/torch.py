"""torch autograd wrapper: fake quantization with a straight-through gradient.

    import mx_formats.torch as mxt
    y = mxt.fake_quantize(t, "MXInt((16,2),8,5)")     # forward: values on the grid
    y.sum().backward()                                  # backward: dy/dx = 1 (STE)
    q = mxt.quantize(t, "MXFP8_E4M3")                  # packed MXArray (codes on the host)

CPU tensors go to the numba kernels: a contiguous float32 one without a copy (the
result is written straight into the new tensor's memory), any other dtype or
layout through a float32 copy. Tensors on any other device (a GPU) stay there:
``torch_kernels.py`` computes the same values bit for bit with torch ops, under
torch.compile on CUDA, and the gradient never leaves the device. A dtype the
device kernels do not take (float64) falls back to the host with a one-line
warning. Results come back in the input's dtype and device (exact when the
format's values fit that dtype, e.g. bfloat16 holds at most 8 significant bits).

Importing ``mx_formats`` never imports torch; importing ``mx_formats.torch`` does.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from mx_formats import api
from mx_formats import torch_kernels as TK
from mx_formats.array import MXArray, code_dtype
from mx_formats.formats import BL, BMF, BlockFormat, Fixed, Float32, Format, MetadataFormat, MiniFloat, MXInt, OCPFormat
from mx_formats.layout import make_layout

__all__ = ["fake_quantize", "quantize"]

# Device types served by the numba kernels in place; every other one gets the torch
# kernels. (Tests empty it to run the device path on CPU tensors.)
HOST_DEVICE_TYPES = {"cpu"}


def _on_device(x: torch.Tensor, what: str) -> bool:
    """Whether ``x`` takes the device kernels; warns (one line) when a device tensor cannot."""
    if x.device.type in HOST_DEVICE_TYPES:
        return False
    if x.dtype in TK.SUPPORTED_DTYPES:
        return True
    warnings.warn(f"mx_formats.torch.{what}: no {x.device.type} kernel for {x.dtype} (float32, float16, bfloat16 "
                  f"have one); computing on the host, slowly", stacklevel=4)
    return False


def _forward(t: torch.Tensor, fmt, axes, rounding: str, seed: int) -> torch.Tensor:
    x = t.detach()
    if _on_device(x, "fake_quantize"):
        api._check_options(rounding, seed, "nan", "fake_quantize")
        return TK.fake_quantize(x, fmt, axes, rounding, seed=seed, out_dtype=x.dtype)
    if x.device.type == "cpu" and x.dtype == torch.float32 and x.is_contiguous():
        out = torch.empty_like(x)
        api.fake_quantize(x.numpy(), fmt, axes, rounding, seed=seed, out=out.numpy())
        return out
    values = api.fake_quantize(x.to("cpu", torch.float32).contiguous().numpy(), fmt, axes, rounding, seed=seed)
    return torch.from_numpy(values).to(device=t.device, dtype=t.dtype)


def _max_magnitude(scales: torch.Tensor, fmt: Format, layout) -> torch.Tensor:
    """Per-element largest magnitude of its block (float64, original shape), as MXArray.max_magnitude."""
    if isinstance(fmt, Fixed):
        return torch.tensor(((1 << (fmt.width - 1)) - 1) * 2.0**-fmt.frac, dtype=torch.float64, device=scales.device)
    if not isinstance(fmt, BlockFormat):
        assert isinstance(fmt, MiniFloat)  # Fixed above; Float32 never saturates and is not asked
        return torch.tensor(fmt.max_value, dtype=torch.float64, device=scales.device)
    s = scales.to(torch.float64)
    if isinstance(fmt, MXInt):
        top = torch.ldexp(torch.full_like(s, (1 << fmt.man_bits) - 1), s - fmt.man_bits + 1)
    elif isinstance(fmt, OCPFormat):
        top = torch.ldexp(torch.full_like(s, fmt.elem_max), s)
    elif isinstance(fmt, BMF):
        top = torch.ldexp(torch.full_like(s, 2.0 - 2.0**-fmt.man_bits), fmt.exp_code_max - s)
    else:
        assert isinstance(fmt, BL)  # the last block format without metadata
        top = torch.ldexp(torch.ones_like(s), fmt.exp_code_max - s)
    top = torch.where(scales == fmt.scale_nan, float("nan"), top)
    moved = layout.moved_shape
    top = top.repeat_interleave(layout.b_col, dim=-1)[..., : moved[-1]]
    if len(layout.axes) == 2:
        top = top.repeat_interleave(layout.b_row, dim=-2)[..., : moved[-2], :]
    if layout.needs_move:
        n = len(layout.axes)
        top = top.movedim(tuple(range(-n, 0)), tuple(reversed(layout.axes)))
    return top.reshape(layout.original)


def _saturated(t: torch.Tensor, fmt, axes) -> torch.Tensor:
    if isinstance(fmt, MetadataFormat):
        raise ValueError(f"zero_saturated_grad is not defined for {fmt}: its scale varies within a block")
    if _on_device(t, "fake_quantize"):
        x = t.detach()
        scales = TK.quantize(x, fmt, axes)[0] if fmt.is_block else torch.zeros(0, device=x.device)
        return x.abs().to(torch.float64) > _max_magnitude(scales, fmt, make_layout(fmt, tuple(x.shape), axes))
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


def quantize(t: torch.Tensor, fmt: Format | str, axes=None, rounding: str = "nearest_even", *,
             seed: int = 0) -> MXArray:
    """:func:`mx_formats.quantize` of a tensor: a packed ``MXArray`` (numpy, on the host).

    A tensor on a GPU is encoded there (``torch_kernels``, bit for bit the numba
    kernel's codes and scales) and only the packed codes cross to the host.
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"quantize takes a torch.Tensor, got {type(t).__name__}")
    if not t.dtype.is_floating_point:
        raise TypeError(f"quantize: tensor must be floating point, got {t.dtype}")
    fmt = api._check_format(fmt)
    x = t.detach()
    if isinstance(fmt, Float32) or not _on_device(x, "quantize"):
        return api.quantize(x.to("cpu", torch.float32 if x.dtype != torch.float64 else x.dtype).numpy(), fmt, axes,
                            rounding, seed=seed)
    api._check_options(rounding, seed, "nan", "quantize")
    layout = make_layout(fmt, tuple(x.shape), axes)
    if isinstance(fmt, MetadataFormat):
        if x.numel() == 0:
            return api.quantize(np.empty(tuple(x.shape), np.float32), fmt, axes, rounding)
        scales, codes, meta, tensor_scale = TK.quantize_metadata(x, fmt, axes, rounding)
        return MXArray(fmt, tuple(x.shape), layout.axes, scales.cpu().numpy(), codes.cpu().numpy(),
                       meta.cpu().numpy() if meta is not None else None,
                       np.float32(tensor_scale.item()) if tensor_scale is not None else None)
    if not fmt.is_block and not bool(torch.isfinite(x).all()):
        api._refuse_nonfinite(x.float().cpu().numpy(), "quantize", f"{fmt} has no code for NaN or Inf")
    scales, codes = TK.quantize(x, fmt, axes, rounding, seed=seed)
    scales = scales.cpu().numpy() if scales is not None else np.zeros((0,), np.int16)
    return MXArray(fmt, tuple(x.shape), layout.axes, scales,
                   codes.cpu().numpy().astype(code_dtype(fmt.element_bits), copy=False))
