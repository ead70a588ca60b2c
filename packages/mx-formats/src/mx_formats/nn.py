"""``MXLinear`` / ``mx_matmul``: a linear layer and a matmul whose forward and backward GEMMs take
MX inputs (issue 21).

    import mx_formats.nn as mxnn
    from mx_formats.training import TrainingSpec
    spec = TrainingSpec.mx("MXFP8_E4M3", "MXFP8_E5M2")
    layer = mxnn.MXLinear(512, 256, spec=spec)          # or: mxnn.convert_linears(model, spec)

One training step of ``y = x W^T + b`` (``x`` flattened to ``[tokens, in_features]``):

    forward       y  = Q_fi(x)  @ Q_fw(W)^T        Q_fi, Q_fw blocked along in_features
    input grad    dx = Q_ig(dy) @ Q_iw(W)          blocked along out_features
    weight grad   dW = Q_wg(dy)^T @ Q_wi(x)        blocked along tokens
    bias grad     db = sum_tokens dy               (no GEMM: FP32)

and of ``C = A @ B`` (:func:`mx_matmul`, ``A: [..., m, k]``, ``B: [..., k, n]``, the batch axes
broadcast as torch.matmul does; a ``TrainingSpec`` with ``op="matmul"``):

    forward       C  = Q_fa(A)  @ Q_fb(B)          blocked along k
    a grad        dA = Q_ag(dC) @ Q_ab(B)^T        blocked along n
    b grad        dB = Q_ba(A)^T @ Q_bg(dC)        blocked along m

each ``Q`` being :func:`mx_formats.torch.fake_quantize` in the format the
:class:`~mx_formats.training.TrainingSpec` gives that operand (the table in
``mx_formats.training``). The products of on-grid values are exact in float32 and are
accumulated in float32 (``torch.matmul`` with TF32 off, PyTorch's default for float32 matmul);
the output is cast to the spec's ``elementwise`` dtype. The parameters stay FP32 master
weights, the optimizer updates them, and the next step quantizes them again.

The layer saves the full-precision ``x`` and ``W`` and quantizes them again in the backward
along the backward GEMMs' reduction axes, so the forward and the backward copies of one tensor
are on different grids (blocks along different axes). ``ste`` says what the forward quantizers
contribute to the gradient (``mx_formats.training``).
"""

from __future__ import annotations

import torch

from mx_formats.torch import _saturated, fake_quantize
from mx_formats.training import Operand, TrainingSpec, TrainingSpecError

__all__ = ["MXLinear", "convert_linears", "mx_linear", "mx_matmul"]

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def _axes(t: torch.Tensor, op: Operand) -> tuple[int, ...] | None:
    """``op.axes`` (indices into the operand's last two axes) as axes of ``t``."""
    return tuple(t.dim() - 2 + a for a in op.axes) or None


def _q(t: torch.Tensor, op: Operand, rounding: str) -> torch.Tensor:
    """``t`` (float32, at least 2-D) on ``op``'s grid, blocked along ``op.axes`` of its last two
    axes; detached."""
    if not op.quantized:
        return t
    return fake_quantize(t, op.format, _axes(t, op), rounding).detach()


class _MXLinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x2, weight, bias, spec: TrainingSpec):
        x2 = x2.float()
        w = weight.float()
        y = _q(x2, spec["forward", "input"], spec.rounding) @ _q(w, spec["forward", "weight"], spec.rounding).T
        if bias is not None:
            y = y + bias.float()
        ctx.spec = spec
        ctx.has_bias = bias is not None
        ctx.save_for_backward(x2, w)
        return y.to(_DTYPES[spec.elementwise])

    @staticmethod
    def backward(ctx, dy):
        x2, w = ctx.saved_tensors
        spec = ctx.spec
        dy = dy.float()
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = _q(dy, spec["input_grad", "grad_output"], spec.rounding) @ _q(w, spec["input_grad", "weight"],
                                                                                spec.rounding)
            dx = _ste(dx, x2, spec["forward", "input"], spec)
        if ctx.needs_input_grad[1]:
            dw = _q(dy, spec["weight_grad", "grad_output"], spec.rounding).T @ _q(x2, spec["weight_grad", "input"],
                                                                                   spec.rounding)
            dw = _ste(dw, w, spec["forward", "weight"], spec)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = dy.sum(0)
        return dx, dw, db, None


def _ste(grad: torch.Tensor, t: torch.Tensor, op: Operand, spec: TrainingSpec) -> torch.Tensor:
    """The straight-through estimator of ``t``'s forward quantizer ``op`` applied to ``grad``:
    unchanged (``identity``), or zero where the quantizer saturated ``t`` (``zero_saturated``:
    ``|t|`` above its block's largest magnitude)."""
    if spec.ste != "zero_saturated" or not op.quantized:
        return grad
    return grad.masked_fill(_saturated(t, op.format, _axes(t, op)), 0.0)


class _MXMatmulFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, spec: TrainingSpec):
        a, b = a.float(), b.float()
        c = _q(a, spec["forward", "a"], spec.rounding) @ _q(b, spec["forward", "b"], spec.rounding)
        ctx.spec = spec
        ctx.save_for_backward(a, b)
        return c.to(_DTYPES[spec.elementwise])

    @staticmethod
    def backward(ctx, dc):
        a, b = ctx.saved_tensors
        spec = ctx.spec
        dc = dc.float()
        da = db = None
        if ctx.needs_input_grad[0]:
            da = _q(dc, spec["a_grad", "grad_output"], spec.rounding) @ \
                _q(b, spec["a_grad", "b"], spec.rounding).transpose(-1, -2)
            da = _ste(da, a, spec["forward", "a"], spec)
        if ctx.needs_input_grad[1]:
            db = _q(a, spec["b_grad", "a"], spec.rounding).transpose(-1, -2) @ \
                _q(dc, spec["b_grad", "grad_output"], spec.rounding)
            db = _ste(db, b, spec["forward", "b"], spec)
        return da, db, None


def mx_matmul(a: torch.Tensor, b: torch.Tensor, spec: TrainingSpec) -> torch.Tensor:
    """``torch.matmul(a, b)`` for ``a: [..., m, k]``, ``b: [..., k, n]`` with the spec's MX GEMMs in
    forward and backward (module docstring). The batch axes broadcast (the gradient of a broadcast
    operand is summed over them by autograd, in float32)."""
    if not isinstance(spec, TrainingSpec) or spec.op != "matmul":
        got = f"a {spec.op} spec" if isinstance(spec, TrainingSpec) else type(spec).__name__
        raise TrainingSpecError(f"mx_matmul: spec must be a TrainingSpec with op='matmul', got {got}")
    if a.dim() < 2 or b.dim() < 2:
        raise ValueError(f"mx_matmul: both operands need at least 2 axes, got {list(a.shape)} and {list(b.shape)}")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"mx_matmul: a is {list(a.shape)} and b is {list(b.shape)}: a's last axis must equal "
                         f"b's second-to-last")
    batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return _MXMatmulFunction.apply(a.expand(*batch, *a.shape[-2:]), b.expand(*batch, *b.shape[-2:]), spec)


def mx_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, spec: TrainingSpec) -> torch.Tensor:
    """``F.linear`` with the spec's MX GEMMs in forward and backward; ``x`` is ``[..., in_features]``."""
    if not isinstance(spec, TrainingSpec):
        raise TypeError(f"mx_linear: spec must be a TrainingSpec, got {type(spec).__name__}")
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"mx_linear: input has {x.shape[-1]} features, the weight takes {weight.shape[1]}")
    lead = x.shape[:-1]
    y = _MXLinearFunction.apply(x.reshape(-1, x.shape[-1]), weight, bias, spec)
    return y.reshape(*lead, weight.shape[0])


class MXLinear(torch.nn.Linear):
    """``nn.Linear`` trained with MX GEMMs (module docstring); same parameters and state dict."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, spec: TrainingSpec,
                 device=None, dtype=None):
        if not isinstance(spec, TrainingSpec):
            raise TrainingSpecError(f"MXLinear: spec must be a TrainingSpec, got {type(spec).__name__}")
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        self.spec = spec

    @classmethod
    def from_linear(cls, linear: torch.nn.Linear, spec: TrainingSpec) -> MXLinear:
        """An MXLinear holding ``linear``'s parameters (the same tensors, not copies)."""
        new = cls(linear.in_features, linear.out_features, linear.bias is not None, spec=spec, device="meta")
        new.weight = linear.weight
        new.bias = linear.bias
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mx_linear(x, self.weight, self.bias, self.spec)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", spec={self.spec.describe()}"


def convert_linears(model: torch.nn.Module, spec: TrainingSpec, skip=()) -> list[str]:
    """Replace every ``nn.Linear`` of ``model`` (in place) by an :class:`MXLinear` sharing its
    parameters, except those whose qualified name is in ``skip``; returns the replaced names."""
    if not isinstance(spec, TrainingSpec):
        raise TrainingSpecError(f"convert_linears: spec must be a TrainingSpec, got {type(spec).__name__}")
    names = dict(model.named_modules())
    missing = [s for s in skip if s not in names]
    if missing:
        raise ValueError(f"convert_linears: skip names {missing} are not modules of the model")
    replaced = []
    for name, module in list(names.items()):
        if type(module) is not torch.nn.Linear or name in skip:
            continue
        parent_name, _, child = name.rpartition(".")
        setattr(names[parent_name] if parent_name else model, child, MXLinear.from_linear(module, spec))
        replaced.append(name)
    return replaced
