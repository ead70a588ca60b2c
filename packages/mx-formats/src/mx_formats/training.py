"""Training specs: which MX format each input of each GEMM of a linear layer or a matmul takes (issue 21).

A linear layer ``y = x W^T (+ b)`` with ``x: [tokens, in_features]`` and
``W: [out_features, in_features]`` runs three GEMMs per training step:

=============  =============================  ==================  ========================
GEMM           product                        reduction axis      operands (their axes)
=============  =============================  ==================  ========================
``forward``    ``y = Q(x) Q(W)^T``             ``in_features``     input (tokens, in_features),
                                                                  weight (out_features, in_features)
``input_grad`` ``dx = Q(dy) Q(W)``             ``out_features``    grad_output (tokens, out_features),
                                                                  weight (out_features, in_features)
``weight_grad````dW = Q(dy)^T Q(x)``           ``tokens``          grad_output (tokens, out_features),
                                                                  input (tokens, in_features)
=============  =============================  ==================  ========================

A matmul ``C = A B`` (``A: [..., m, k]``, ``B: [..., k, n]``, e.g. the attention scores
``Q K^T`` and ``P V``; ``op="matmul"``) has its own three GEMMs, over the last two axes of
every batch element:

=============  =============================  ==================  ========================
GEMM           product                        reduction axis      operands (their axes)
=============  =============================  ==================  ========================
``forward``    ``C = Q(A) Q(B)``               ``k``               a (m, k), b (k, n)
``a_grad``     ``dA = Q(dC) Q(B)^T``           ``n``               grad_output (m, n), b (k, n)
``b_grad``     ``dB = Q(A)^T Q(dC)``           ``m``               a (m, k), grad_output (m, n)
=============  =============================  ==================  ========================

Each ``Q`` is :func:`mx_formats.fake_quantize` of that operand in its own format, blocked
along that GEMM's reduction axis (a 2-D block puts ``block[0]`` there and ``block[1]`` on the
operand's other axis), so every GEMM is a dot product of MX blocks, as MX hardware computes it.
The backward GEMMs quantize the saved full-precision ``x`` and the master ``W`` again, along
their own reduction axes (after microxcaling's ``*_elem_format_bp`` formats). ``f32`` means
the operand is not quantized. The bias gradient ``sum_tokens dy`` is no GEMM and stays FP32.

What the quantizers contribute to the gradient is the straight-through estimator (``ste``):

* ``"identity"``: ``dQ(t)/dt = 1``; the gradient is exactly the quantized backward GEMMs.
* ``"zero_saturated"``: as identity, but the gradient of ``x`` (of ``W``) is zeroed where the
  forward quantizer clipped it (``|t|`` above the largest magnitude of its block, as
  ``mx_formats.torch.fake_quantize(..., zero_saturated_grad=True)``).

``elementwise`` ("float32" or "bfloat16") is the dtype of the layer's output, i.e. of the
elementwise work that follows; the GEMMs multiply the on-grid operands exactly and accumulate
in float32.

Every problem is found when the spec is made, before any training step: an unknown GEMM or
operand name, a format string that does not parse, a backward format without backward
semantics (a scalar ``Fixed``/``MiniFloat`` has no per-block scale to follow gradients that
move over orders of magnitude during training, and the metadata formats NVFP4 / M2XFP define
their extra scales for weights chosen offline and activations only), an axis that the operand
does not have, or an axis that is not the GEMM's reduction axis.

    spec = TrainingSpec.mx("MXFP8_E4M3", "MXFP8_E5M2")          # E4M3 forward, E5M2 gradients
    spec = TrainingSpec.from_dict({"forward": {"input": "MXFP6_E3M2", "weight": "MXFP4_E2M1"},
                                   "input_grad": {"grad_output": "MXFP6_E3M2", "weight": "MXFP4_E2M1"},
                                   "weight_grad": {"grad_output": "MXFP6_E3M2", "input": "MXFP6_E3M2"}})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from mx_formats.formats import F32, BlockFormat, Float32, Format, MetadataFormat
from mx_formats.parse import FormatParseError, parse

__all__ = ["GEMMS", "MATMUL_GEMMS", "OPS", "Operand", "TrainingSpec", "TrainingSpecError"]

#: GEMM -> (reduction axis, {operand: its axes, in tensor order}).
GEMMS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "forward": ("in_features", {"input": ("tokens", "in_features"), "weight": ("out_features", "in_features")}),
    "input_grad": ("out_features", {"grad_output": ("tokens", "out_features"),
                                    "weight": ("out_features", "in_features")}),
    "weight_grad": ("tokens", {"grad_output": ("tokens", "out_features"), "input": ("tokens", "in_features")}),
}
#: The same for a matmul ``C = A B`` over the last two axes (module docstring).
MATMUL_GEMMS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "forward": ("k", {"a": ("m", "k"), "b": ("k", "n")}),
    "a_grad": ("n", {"grad_output": ("m", "n"), "b": ("k", "n")}),
    "b_grad": ("m", {"a": ("m", "k"), "grad_output": ("m", "n")}),
}
#: The GEMM table of each op a spec can describe.
OPS = {"linear": GEMMS, "matmul": MATMUL_GEMMS}
ELEMENTWISE = ("float32", "bfloat16")
STE_MODES = ("identity", "zero_saturated")
# stochastic rounding needs a fresh seed per step and operand; the spec has no seed schedule
ROUNDING = ("nearest_even", "nearest_away", "toward_zero", "floor")


class TrainingSpecError(ValueError):
    """A training spec is wrong; the message names the GEMM, the operand and the problem."""


@dataclass(frozen=True)
class Operand:
    """One GEMM input: its format and the axes (of the 2-D operand) its blocks run along."""

    format: Format
    axes: tuple[int, ...]  # () for f32 and scalar formats; else (reduction axis index[, the other])

    @property
    def quantized(self) -> bool:
        return not isinstance(self.format, Float32)


def _format(value, where: str) -> Format:
    if isinstance(value, Format):
        return value
    if not isinstance(value, str):
        raise TrainingSpecError(f"{where}: expected a format string such as \"MXFP8_E4M3\" or a Format, "
                                f"got {value!r}")
    try:
        return parse(value)
    except FormatParseError as exc:
        raise TrainingSpecError(f"{where}: {exc}") from None


def _operand(op: str, gemm: str, name: str, value) -> Operand:
    """Check one operand entry (a format, or {"format": ..., "axis": ...}) of ``op``'s ``gemm``."""
    where = f"training spec [{gemm}] {name}" if op == "linear" else f"{op} training spec [{gemm}] {name}"
    reduction, operands = OPS[op][gemm]
    names = operands[name]
    axis = reduction
    if isinstance(value, Mapping):
        unknown = set(value) - {"format", "axis"}
        if unknown:
            raise TrainingSpecError(f"{where}: unknown key(s) {sorted(unknown)}; an operand takes 'format' and "
                                    f"'axis'")
        if "format" not in value:
            raise TrainingSpecError(f"{where}: no 'format'")
        axis = value.get("axis", reduction)
        value = value["format"]
    fmt = _format(value, where)
    if axis not in names:
        raise TrainingSpecError(f"{where}: axis {axis!r} does not exist; the axes of {name} are {names}")
    if axis != reduction:
        raise TrainingSpecError(f"{where}: axis {axis!r} is not the {gemm} GEMM's reduction axis "
                                f"{reduction!r}; MX blocks of a GEMM operand run along the reduction axis")
    if gemm != "forward" and not isinstance(fmt, Float32):
        if not isinstance(fmt, BlockFormat):
            raise TrainingSpecError(f"{where}: {fmt} has no backward semantics: a scalar format has no per-block "
                                    f"scale to follow gradients; use a block format (e.g. MXFP8_E5M2) or f32")
        if isinstance(fmt, MetadataFormat):
            raise TrainingSpecError(f"{where}: {fmt} has no backward semantics here: its extra scales are "
                                    f"defined for offline weights / forward activations; use an OCP MX or "
                                    f"MXInt/BMF/BL format or f32")
    if isinstance(fmt, MetadataFormat) and len(fmt.block) != 1:
        raise TrainingSpecError(f"{where}: {fmt} blocks run along one axis only")
    if not isinstance(fmt, BlockFormat):
        return Operand(fmt, ())
    k = names.index(reduction)
    return Operand(fmt, (k,) if len(fmt.block) == 1 else (k, 1 - k))


@dataclass(frozen=True)
class TrainingSpec:
    """Formats of the six GEMM inputs of one training step of a linear layer (``op="linear"``) or
    a matmul (``op="matmul"``), checked (module docstring)."""

    operands: Mapping[str, Mapping[str, Operand]]  # gemm -> operand name -> Operand
    elementwise: str = "float32"
    ste: str = "identity"
    rounding: str = "nearest_even"
    op: str = "linear"

    def __post_init__(self):
        if self.op not in OPS:
            raise TrainingSpecError(f"training spec op: {self.op!r}, expected one of {list(OPS)}")
        if self.elementwise not in ELEMENTWISE:
            raise TrainingSpecError(f"training spec elementwise: {self.elementwise!r}, expected one of {ELEMENTWISE}")
        if self.ste not in STE_MODES:
            raise TrainingSpecError(f"training spec ste: {self.ste!r}, expected one of {STE_MODES}")
        if self.rounding not in ROUNDING:
            raise TrainingSpecError(f"training spec rounding: {self.rounding!r}, expected one of {ROUNDING} "
                                    f"(stochastic rounding needs a per-step seed, which the spec does not have)")

    def __getitem__(self, key: tuple[str, str]) -> Operand:
        gemm, name = key
        return self.operands[gemm][name]

    @classmethod
    def from_dict(cls, spec: Mapping, op: str = "linear") -> TrainingSpec:
        """From ``{gemm: {operand: format | {"format", "axis"}}, "elementwise", "ste", "rounding"}``
        of ``op``'s GEMMs; an operand left out is ``f32`` (not quantized)."""
        if not isinstance(spec, Mapping):
            raise TrainingSpecError(f"training spec: expected a table, got {spec!r}")
        if op not in OPS:
            raise TrainingSpecError(f"training spec op: {op!r}, expected one of {list(OPS)}")
        gemms = OPS[op]
        options = {"elementwise", "ste", "rounding"}
        for key in spec:
            if key not in gemms and key not in options:
                raise TrainingSpecError(f"training spec: unknown key {key!r}; the GEMMs of a {op} are {list(gemms)}, "
                                        f"options {sorted(options)}")
        operands = {}
        for gemm, (_, names) in gemms.items():
            given = spec.get(gemm, {})
            if not isinstance(given, Mapping):
                raise TrainingSpecError(f"training spec [{gemm}]: expected a table of operands {list(names)}, "
                                        f"got {given!r}")
            for name in given:
                if name not in names:
                    raise TrainingSpecError(f"training spec [{gemm}]: unknown operand {name!r}; the {gemm} GEMM "
                                            f"takes {list(names)}")
            operands[gemm] = {name: _operand(op, gemm, name, given.get(name, F32)) for name in names}
        return cls(operands, op=op, **{k: spec[k] for k in options if k in spec})

    @classmethod
    def mx(cls, forward: Format | str, backward: Format | str, weight: Format | str | None = None,
           op: str = "linear", **options) -> TrainingSpec:
        """The MX paper's recipe: activations (forward input, and the saved input in the weight
        gradient) in ``forward``, weights (both GEMMs) in ``weight`` (default ``forward``),
        output gradients (both backward GEMMs) in ``backward``. For ``op="matmul"`` ``a`` is an
        activation and ``b`` takes ``weight`` (attention: both are activations, leave it out)."""
        weight = forward if weight is None else weight
        if op == "matmul":
            return cls.from_dict({"forward": {"a": forward, "b": weight},
                                  "a_grad": {"grad_output": backward, "b": weight},
                                  "b_grad": {"a": forward, "grad_output": backward}, **options}, op="matmul")
        return cls.from_dict({"forward": {"input": forward, "weight": weight},
                              "input_grad": {"grad_output": backward, "weight": weight},
                              "weight_grad": {"grad_output": backward, "input": forward}, **options})

    def describe(self) -> str:
        """One line: every GEMM's operand formats."""
        parts = [f"{g}({', '.join(f'{n}={op.format}' for n, op in ops.items())})" for g, ops in self.operands.items()]
        head = "" if self.op == "linear" else f"{self.op}: "
        return head + "; ".join(parts) + f"; elementwise {self.elementwise}; ste {self.ste}"
