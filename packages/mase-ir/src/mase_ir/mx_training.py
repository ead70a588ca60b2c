"""Training in MX inside the IR: ``linear`` and ``matmul`` nodes whose backward GEMMs are quantized too.

With ``MaseGraph.backward_format`` set (a block format, e.g. ``MXFP8_E5M2``), every ``linear``
node of a graph run with gradients enabled computes through ``mx_formats.nn.mx_linear`` with a
:class:`mx_formats.training.TrainingSpec` made from the node itself:

* forward GEMM: the input and the weight in the node's own formats (the quantization config),
  blocked along in_features as the IR blocks them -- the forward values are the ones the graph
  computes without this mode;
* input-gradient GEMM: the output gradient in ``backward_format`` and the weight in its own
  format, both blocked along out_features;
* weight-gradient GEMM: the output gradient in ``backward_format`` and the saved input in its
  own format, both blocked along the tokens.

Every ``matmul`` node (``A @ B``, e.g. attention's ``Q K^T`` and ``P V``) computes through
``mx_formats.nn.mx_matmul`` the same way: forward A and B in their own formats (A blocked along
its last axis, B along its second-to-last, as the IR blocks them), the A-gradient GEMM with the
output gradient in ``backward_format`` and B in its format, both blocked along n, the
B-gradient GEMM with A in its format and the output gradient in ``backward_format``, both
blocked along m.

The bias keeps the IR's straight-through fake quantization; everything else in the graph is
unchanged (elementwise ops in float32). The spec is checked when the mode is switched on
(:func:`check_backward_format`: a format without backward semantics is refused before any
step). Without gradients (evaluation) the nodes run as usual.
"""

from __future__ import annotations

import mx_formats as mxf
import torch

__all__ = ["check_backward_format", "linear_spec", "matmul_spec", "mx_training_linear", "mx_training_matmul"]


def check_backward_format(fmt) -> mxf.Format:
    """``fmt`` (a Format or a format string) if it can quantize output gradients, else a
    ``mx_formats.training.TrainingSpecError`` that says why."""
    from mx_formats.training import TrainingSpec

    spec = TrainingSpec.from_dict({"input_grad": {"grad_output": fmt}, "weight_grad": {"grad_output": fmt}})
    return spec["input_grad", "grad_output"].format


def linear_spec(x_fmt: mxf.Format, w_fmt: mxf.Format, backward: mxf.Format):
    """The TrainingSpec of one linear node (module docstring)."""
    from mx_formats.training import TrainingSpec

    return TrainingSpec.from_dict({
        "forward": {"input": x_fmt, "weight": w_fmt},
        "input_grad": {"grad_output": backward, "weight": w_fmt},
        "weight_grad": {"grad_output": backward, "input": x_fmt},
    })


def matmul_spec(a_fmt: mxf.Format, b_fmt: mxf.Format, backward: mxf.Format):
    """The TrainingSpec (``op="matmul"``) of one matmul node (module docstring)."""
    from mx_formats.training import TrainingSpec

    return TrainingSpec.from_dict({
        "forward": {"a": a_fmt, "b": b_fmt},
        "a_grad": {"grad_output": backward, "b": b_fmt},
        "b_grad": {"a": a_fmt, "grad_output": backward},
    }, op="matmul")


def mx_training_matmul(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None, spec) -> torch.Tensor:
    """``a @ b (+ bias)`` with the spec's GEMMs (the bias added in float32 after the product)."""
    from mx_formats.nn import mx_matmul

    c = mx_matmul(a, b, spec)
    return c if bias is None else c + bias


def mx_training_linear(node: str, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, spec) -> torch.Tensor:
    """``y = x W^T + b`` with the spec's GEMMs. The IR blocks a 2-D-block input along
    (features, the axis before); mx_linear flattens the leading axes into tokens, which pairs the
    same rows only when that axis has a whole number of blocks: otherwise refused."""
    from mx_formats.nn import mx_linear

    fmt = spec["forward", "input"].format
    if isinstance(fmt, mxf.BlockFormat) and len(fmt.block) == 2 and x.dim() >= 3 and x.shape[-2] % fmt.block[1]:
        raise ValueError(f"node %{node}: training with backward_format needs the input's axis -2 ({x.shape[-2]}) "
                         f"to be a multiple of its block's second extent {fmt.block[1]} ({fmt})")
    return mx_linear(x, w, b, spec)
