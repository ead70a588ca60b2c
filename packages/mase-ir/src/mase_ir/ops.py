"""The MASE op registry: every op the IR knows, its operand roles, its attributes,
and how it executes in PyTorch.

An op's operands are named *roles* in a fixed order (``linear``: input, weight,
bias). In a node, each role is filled by one of

* a parameter or constant tensor (the ``[...]`` block of the text form),
* a Python scalar (an attribute named after the role, e.g. ``add`` with ``{other = 1e-06}``),
* otherwise the next SSA argument ``(...)``, in order.

Optional roles are trailing; a missing optional role is ``None``. A variadic role
(``cat``'s ``tensors``, ``index``'s ``indices``) is last and takes all the remaining
arguments; its parameter entries are named ``<role>.<i>`` by position.

``block_axis`` is the first blocked axis when the operand is quantized to a block
format: the reduction axis of dot products (DESIGN.md §3: linear input and weight
along in_features = -1; ``matmul`` A along -1, B along -2; attention K along the
head dim -1, V along the sequence -2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from mase_ir.types import torch_dtype_of


@dataclass(frozen=True)
class Role:
    name: str
    optional: bool = False
    variadic: bool = False
    block_axis: int = -1


@dataclass(frozen=True)
class OpSpec:
    """One MASE op: ``fn(*operands, **attrs)`` computes its single result."""

    name: str
    roles: tuple[Role, ...]
    required_attrs: tuple[str, ...]
    optional_attrs: tuple[str, ...]
    fn: Callable
    doc: str

    def role(self, name: str) -> Role | None:
        for r in self.roles:
            if r.name == name:
                return r
        return None

    @property
    def variadic(self) -> Role | None:
        return self.roles[-1] if self.roles and self.roles[-1].variadic else None


OPS: dict[str, OpSpec] = {}


def _op(name, roles, fn, doc, required=(), optional=()):
    OPS[name] = OpSpec(name, tuple(roles), tuple(required), tuple(optional), fn, doc)


def _R(name, **kw):
    return Role(name, **kw)


# --- dot products and attention -------------------------------------------------
_op("linear", [_R("input"), _R("weight"), _R("bias", optional=True)],
    lambda input, weight, bias=None: F.linear(input, weight, bias),
    "y = x W^T + b")
_op("matmul", [_R("input"), _R("other", block_axis=-2), _R("bias", optional=True)],
    lambda input, other, bias=None: torch.matmul(input, other) if bias is None
    else torch.addmm(bias, input, other),
    "y = A @ B (+ bias) (batched); A blocked along -1, B along -2")


def _sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    return F.scaled_dot_product_attention(
        query, key, value, attn_mask=attn_mask, dropout_p=dropout_p,
        is_causal=is_causal, scale=scale, enable_gqa=enable_gqa)


_op("scaled_dot_product_attention",
    [_R("query"), _R("key"), _R("value", block_axis=-2), _R("attn_mask", optional=True)],
    _sdpa, "softmax(Q K^T * scale + mask) V",
    optional=("dropout_p", "is_causal", "scale", "enable_gqa"))

# --- normalisation and activations ----------------------------------------------
_op("softmax", [_R("input")], lambda input, dim: torch.softmax(input, dim),
    "exp(x_i) / sum_j exp(x_j) along dim", required=("dim",))
_op("layer_norm", [_R("input"), _R("weight", optional=True), _R("bias", optional=True)],
    lambda input, weight=None, bias=None, normalized_shape=None, eps=1e-5:
        F.layer_norm(input, normalized_shape, weight, bias, eps),
    "(x - mean) / sqrt(var + eps) * w + b over the trailing normalized_shape",
    required=("normalized_shape", "eps"))


def _rms_norm(input, weight=None, normalized_shape=None, eps=None):
    # Computed in float32 like the HF LLaMA reference: x * rsqrt(mean(x^2) + eps) * w.
    dims = tuple(range(-len(normalized_shape), 0))
    y = input * torch.rsqrt(input.pow(2).mean(dims, keepdim=True) + eps)
    return y if weight is None else weight * y


_op("rms_norm", [_R("input"), _R("weight", optional=True)], _rms_norm,
    "x * rsqrt(mean(x^2) + eps) * w over the trailing normalized_shape",
    required=("normalized_shape", "eps"))
_op("gelu", [_R("input")], lambda input, approximate="none": F.gelu(input, approximate=approximate),
    "x * Phi(x) (approximate = none | tanh)", optional=("approximate",))
_op("silu", [_R("input")], lambda input: F.silu(input), "x * sigmoid(x)")
_op("relu", [_R("input")], lambda input: torch.relu(input), "max(x, 0)")
_op("tanh", [_R("input")], lambda input: torch.tanh(input), "tanh(x)")
_op("neg", [_R("input")], lambda input: torch.neg(input), "-x")
_op("rsqrt", [_R("input")], lambda input: torch.rsqrt(input), "1 / sqrt(x)")
_op("exp", [_R("input")], lambda input: torch.exp(input), "e^x")
_op("pow", [_R("input")], lambda input, exponent: torch.pow(input, exponent), "x^exponent",
    required=("exponent",))
_op("mean", [_R("input")], lambda input, dim, keepdim=False: torch.mean(input, dim, keepdim),
    "mean over dim", required=("dim",), optional=("keepdim",))
_op("cumsum", [_R("input")], lambda input, dim: torch.cumsum(input, dim), "running sum along dim",
    required=("dim",))

# --- elementwise binary ---------------------------------------------------------
_op("add", [_R("input"), _R("other")], lambda input, other, alpha=1: torch.add(input, other, alpha=alpha),
    "x + alpha * y (broadcasting)", optional=("alpha",))
_op("sub", [_R("input"), _R("other")], lambda input, other, alpha=1: torch.sub(input, other, alpha=alpha),
    "x - alpha * y (broadcasting)", optional=("alpha",))
_op("mul", [_R("input"), _R("other")], lambda input, other: torch.mul(input, other), "x * y (broadcasting)")
_op("div", [_R("input"), _R("other")], lambda input, other: torch.div(input, other), "x / y (broadcasting)")
_op("logical_and", [_R("input"), _R("other")], lambda input, other: torch.logical_and(input, other),
    "x and y on booleans")
for _name, _fn in (("eq", torch.eq), ("ne", torch.ne), ("lt", torch.lt), ("le", torch.le),
                   ("gt", torch.gt), ("ge", torch.ge)):
    _op(_name, [_R("input"), _R("other")], (lambda f: lambda input, other: f(input, other))(_fn),
        f"elementwise comparison {_name}")
_op("where", [_R("condition"), _R("input"), _R("other")],
    lambda condition, input, other: torch.where(condition, input, other), "cond ? x : y")
_op("masked_fill", [_R("input"), _R("mask")],
    lambda input, mask, value: torch.masked_fill(input, mask, value), "x where !mask else value",
    required=("value",))

# --- lookup -----------------------------------------------------------------------
_op("embedding", [_R("weight"), _R("indices")],
    lambda weight, indices, padding_idx=-1: F.embedding(indices, weight),
    "rows of the weight table picked by integer indices", optional=("padding_idx",))
_op("index", [_R("input"), _R("indices", variadic=True)],
    lambda input, indices: input[tuple(indices)], "advanced indexing x[i0, i1, ...]")
_op("gather", [_R("input"), _R("index")], lambda input, index, dim: torch.gather(input, dim, index),
    "x[..., index[...], ...] along dim", required=("dim",))

# --- data movement (a dataflow design streams these as reorder buffers) ----------
_op("reshape", [_R("input")], lambda input, shape: torch.reshape(input, shape),
    "same elements, new shape (row-major)", required=("shape",))
_op("transpose", [_R("input")], lambda input, dim0, dim1: torch.transpose(input, dim0, dim1),
    "swap two axes", required=("dim0", "dim1"))
def _reorder(input, dims, shape=None, out_shape=None):
    x = input if shape is None else torch.reshape(input, shape)
    x = torch.permute(x, dims)
    return x if out_shape is None else torch.reshape(x, out_shape)


_op("reorder", [_R("input")], _reorder,
    "optional reshape to shape, permute (out axis i is axis dims[i]), optional reshape to out_shape: "
    "one reorder buffer in a dataflow design",
    required=("dims",), optional=("shape", "out_shape"))
_op("expand", [_R("input")], lambda input, size: input.expand(size), "broadcast to size",
    required=("size",))
_op("unsqueeze", [_R("input")], lambda input, dim: torch.unsqueeze(input, dim), "insert a unit axis",
    required=("dim",))
_op("squeeze", [_R("input")], lambda input, dim: torch.squeeze(input, dim), "drop unit axes",
    required=("dim",))
_op("slice", [_R("input")],
    lambda input, dim, start=None, end=None, step=1: torch.ops.aten.slice.Tensor(input, dim, start, end, step),
    "x[start:end:step] along dim", required=("dim",), optional=("start", "end", "step"))
_op("select", [_R("input")], lambda input, dim, index: torch.select(input, dim, index),
    "x[index] along dim (axis removed)", required=("dim", "index"))
_op("cat", [_R("tensors", variadic=True)], lambda tensors, dim=0: torch.cat(tensors, dim),
    "concatenate along dim", optional=("dim",))
_op("cast", [_R("input")], lambda input, dtype: input.to(torch_dtype_of(dtype)),
    "convert storage dtype (f32, i64, bool, ...)", required=("dtype",))


def supported_ops() -> list[str]:
    return sorted(OPS)


def reference_markdown() -> str:
    """The op reference (docs/ops.md), generated from this registry."""
    lines = ["# MASE ops", "", "Generated from `mase_ir.ops.OPS` by `mase_ir.ops.reference_markdown()`.",
             "Roles are operands in order (`?` optional, `*` variadic, `@-2` blocked along axis -2 when",
             "quantized); attributes in *italics* are optional.", "",
             "| op | roles | attributes | computes |", "|---|---|---|---|"]
    for name in sorted(OPS):
        spec = OPS[name]
        roles = ", ".join(r.name + ("?" if r.optional else "") + ("*" if r.variadic else "")
                          + (f"@{r.block_axis}" if r.block_axis != -1 else "") for r in spec.roles)
        attrs = ", ".join(list(spec.required_attrs) + [f"*{a}*" for a in spec.optional_attrs])
        lines.append(f"| `{name}` | {roles} | {attrs} | {spec.doc.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
