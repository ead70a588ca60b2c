"""MaseGraph: a static-single-assignment graph of MASE ops with typed values.

Every node defines one SSA value (``%name``) of a :class:`TensorType`; its operands
are SSA arguments (each with the type the node expects, which must equal the
producer's type), named parameters / constants (a state_dict path and a type), and
scalar attributes. The graph runs (``graph(**inputs)``) and trains: formats other
than ``f32`` are fake-quantized with a straight-through gradient where a tensor is
consumed, along the consumer's blocked axis.
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field
from typing import Any

import mx_formats as mxf
import torch

from mase_ir.metadata import HardwareMeta, SoftwareMeta
from mase_ir.ops import OPS, OpSpec
from mase_ir.quant import fake_quantize
from mase_ir.types import TensorType


class VerifyError(ValueError):
    """The graph is inconsistent; ``node`` names the node at fault (or None for the graph)."""

    def __init__(self, node: str | None, message: str):
        self.node = node
        where = f"node %{node}" if node else "graph"
        super().__init__(f"{where}: {message}")


@dataclass(slots=True)
class Operand:
    """An SSA argument: the value's name and the type the consumer expects."""

    name: str
    type: TensorType


@dataclass(slots=True)
class Param:
    """A parameter or constant operand: its state_dict path and type."""

    path: str
    type: TensorType


@dataclass(slots=True)  # no per-object __dict__: parsed graphs hold 10^5 of these
class Node:
    name: str
    op: str
    result: TensorType
    args: list[Operand] = field(default_factory=list)
    params: dict[str, Param] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    module: str = ""
    sw: SoftwareMeta = field(default_factory=SoftwareMeta)
    hw: HardwareMeta = field(default_factory=HardwareMeta)

    @property
    def spec(self) -> OpSpec:
        return OPS[self.op]


_MISSING = object()


def bind_roles(node: Node) -> list[tuple[str, str, Any]]:
    """Assign each operand role of ``node`` its source.

    Returns ``(role, kind, ref)`` with kind ``arg`` (ref: index into node.args),
    ``param`` (ref: key into node.params), ``scalar`` (ref: attribute name),
    ``none`` (an absent optional role) or ``list`` (ref: list of such triples for
    a variadic role). Raises ``ValueError`` when args and roles do not fit.
    """
    if node.op not in OPS:
        raise ValueError(f"unknown op {node.op!r}")
    spec = OPS[node.op]
    role_names = {r.name for r in spec.roles}
    next_arg = 0
    bound: list[tuple[str, str, Any]] = []
    for role in spec.roles:
        if role.variadic:
            keys = [k for k in node.params if k.startswith(role.name + ".")]
            total = len(keys) + len(node.args) - next_arg
            items: list[tuple[str, str, Any]] = []  # (key, "param" | "arg", param key | arg index)
            for i in range(total):
                key = f"{role.name}.{i}"
                if key in node.params:
                    items.append((key, "param", key))
                else:
                    items.append((key, "arg", next_arg))
                    next_arg += 1
            if next_arg > len(node.args) or len(items) - sum(1 for _, k, _ in items if k == "arg") != len(keys):
                raise ValueError(f"parameters of {role.name} are not numbered 0..{total - 1}: {sorted(keys)}")
            bound.append((role.name, "list", items))
            continue
        if role.name in node.params:
            bound.append((role.name, "param", role.name))
        elif role.name in node.attrs:
            bound.append((role.name, "scalar", role.name))
        elif next_arg < len(node.args):
            bound.append((role.name, "arg", next_arg))
            next_arg += 1
        elif role.optional:
            bound.append((role.name, "none", None))
        else:
            raise ValueError(f"op {node.op} needs operand {role.name!r} but has no argument left for it")
    if next_arg != len(node.args):
        raise ValueError(f"op {node.op} takes {next_arg} argument(s) here, got {len(node.args)}")
    variadic = {r.name for r in spec.roles if r.variadic}
    extra = [k for k in node.params if (k not in role_names or k in variadic)
             and not (k.split(".")[0] in variadic and k.split(".", 1)[-1].isdigit())]
    if extra:
        raise ValueError(f"op {node.op} has no operand role(s) {extra}; roles: {[r.name for r in spec.roles]}")
    return bound


def op_attrs(node: Node) -> dict[str, Any]:
    """The attributes passed to the op's function (role scalars excluded)."""
    roles = {r.name for r in node.spec.roles}
    return {k: v for k, v in node.attrs.items() if k not in roles}


@dataclass
class Summary:
    nodes: int
    op_histogram: dict[str, int]
    parameters: int
    average_bits: float

    def __str__(self) -> str:
        hist = ", ".join(f"{k}: {v}" for k, v in sorted(self.op_histogram.items(), key=lambda kv: (-kv[1], kv[0])))
        return (f"nodes: {self.nodes}\nops: {hist}\nparameters: {self.parameters}\n"
                f"average bits: {self.average_bits:.4f}")


#: An SSA value name: what the text form's ``%name`` token accepts (mase_ir.parser), so a printed
#: graph parses back. Every name that reaches a file name, a Verilog identifier or a comment in an
#: emitted design starts here, so nothing else (a newline, a quote, a slash) can get in.
VALUE_NAME = re.compile(r"[A-Za-z0-9_.]+", re.ASCII)


def check_value_name(name) -> str:
    """``name`` if it is a legal SSA value name (:data:`VALUE_NAME`), else a ValueError saying why."""
    if not isinstance(name, str) or not VALUE_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a value name: use ASCII letters, digits, '_' and '.' only "
                         "(what the text form's %name accepts)")
    return name


class MaseGraph:
    """A traced model: inputs, nodes in topological order, outputs and weights.

    ``weights`` maps a state_dict path to its tensor; trainable parameters are
    ``torch.nn.Parameter``s, constants (buffers, folded tensors) plain tensors.
    """

    def __init__(self, inputs: list[Operand], nodes: list[Node], outputs: list[str],
                 weights: dict[str, torch.Tensor] | None = None):
        self.inputs = inputs
        self.nodes = nodes
        self.outputs = outputs
        self.weights: dict[str, torch.Tensor] = weights if weights is not None else {}
        #: Training in MX (mase_ir.mx_training): with a format here, every linear run with
        #: gradients enabled quantizes its backward GEMMs' inputs too (the output gradient in
        #: this format). Not part of the text form: a training-time switch, off by default.
        self.backward_format: mxf.Format | None = None
        self._training_specs: dict = {}

    # --- access ------------------------------------------------------------------
    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node %{name}")

    def value_type(self, name: str) -> TensorType:
        for i in self.inputs:
            if i.name == name:
                return i.type
        return self.node(name).result

    def named_parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
        return [(k, v) for k, v in self.weights.items() if isinstance(v, torch.nn.Parameter)]

    def parameters(self) -> list[torch.nn.Parameter]:
        return [v for _, v in self.named_parameters()]

    def set_format(self, value: str, fmt: mxf.Format) -> None:
        """Give SSA value ``value`` the format ``fmt`` at its producer and all its consumers."""
        producer: Operand | Node | None = None
        for i in self.inputs:
            if i.name == value:
                producer = i
                i.type = i.type.with_format(fmt)
        for n in self.nodes:
            if n.name == value:
                producer = n
                n.result = n.result.with_format(fmt)
            for a in n.args:
                if a.name == value:
                    a.type = a.type.with_format(fmt)
        if producer is None:
            raise KeyError(f"no value %{value}")

    def rename(self, old: str, new: str) -> None:
        """Rename SSA value ``old`` to ``new`` at its definition, uses and outputs; ``new`` must
        be a legal value name (:func:`check_value_name`)."""
        check_value_name(new)
        taken = {i.name for i in self.inputs} | {n.name for n in self.nodes}
        if new in taken:
            raise ValueError(f"value %{new} already exists")
        if old not in taken:
            raise KeyError(f"no value %{old}")
        for i in self.inputs:
            if i.name == old:
                i.name = new
        for n in self.nodes:
            if n.name == old:
                n.name = new
            for a in n.args:
                if a.name == old:
                    a.name = new
        self.outputs = [new if o == old else o for o in self.outputs]

    def set_param_format(self, node: str, role: str, fmt: mxf.Format) -> None:
        p = self.node(node).params[role]
        p.type = p.type.with_format(fmt)

    # --- checks ------------------------------------------------------------------
    def verify(self) -> None:
        """Check the graph is consistent; raise :class:`VerifyError` naming the node at fault.

        Checks: legal (:data:`VALUE_NAME`), unique SSA names defined before use; known ops and operand roles;
        required attributes present and no unknown ones; each argument's type equals
        its producer's type; parameters exist with the declared shape and dtype;
        each result's shape and dtype equal what the op computes (run on meta tensors);
        outputs are defined values.
        """
        types: dict[str, TensorType] = {}
        for v in [i.name for i in self.inputs] + [n.name for n in self.nodes]:
            try:
                check_value_name(v)
            except ValueError as exc:
                raise VerifyError(None, str(exc)) from None
        for i in self.inputs:
            if i.name in types:
                raise VerifyError(None, f"input %{i.name} defined twice")
            types[i.name] = i.type
        for n in self.nodes:
            self._verify_node(n, types)
            types[n.name] = n.result
        for o in self.outputs:
            if o not in types:
                raise VerifyError(None, f"output %{o} is not defined")

    def _verify_node(self, n: Node, types: dict[str, TensorType]) -> None:
        if n.name in types:
            raise VerifyError(n.name, "value defined twice")
        if n.op not in OPS:
            raise VerifyError(n.name, f"unknown op {n.op!r}")
        if not isinstance(n.sw, SoftwareMeta) or not isinstance(n.hw, HardwareMeta):
            raise VerifyError(n.name, "sw / hw must be SoftwareMeta / HardwareMeta")
        try:  # fields may have been assigned after construction: re-run their checks
            HardwareMeta(**{k: v for k, v in n.hw.items()})
        except TypeError as exc:
            raise VerifyError(n.name, str(exc)) from None
        spec = n.spec
        try:
            bound = bind_roles(n)
        except ValueError as exc:
            raise VerifyError(n.name, str(exc)) from None
        attrs = op_attrs(n)
        for req in spec.required_attrs:
            if req not in attrs:
                raise VerifyError(n.name, f"op {n.op} requires attribute {req!r}")
        scalar_roles = {r for r, kind, _ in bound if kind == "scalar"}
        allowed = set(spec.required_attrs) | set(spec.optional_attrs) | scalar_roles
        unknown = set(n.attrs) - allowed
        if unknown:
            raise VerifyError(n.name, f"op {n.op} has no attribute(s) {sorted(unknown)}; "
                                      f"allowed: {sorted(allowed)}")
        for a in n.args:
            if a.name not in types:
                raise VerifyError(n.name, f"argument %{a.name} is not defined before use")
            if a.type != types[a.name]:
                raise VerifyError(n.name, f"argument %{a.name} has type {a.type} but its producer "
                                          f"gives {types[a.name]}")
        for role, p in n.params.items():
            w = self.weights.get(p.path)
            if w is None:
                raise VerifyError(n.name, f"parameter {role} refers to missing weight {p.path!r}")
            if tuple(w.shape) != p.type.shape or w.dtype != p.type.torch_dtype:
                raise VerifyError(n.name, f"parameter {role} ({p.path}) is declared {p.type} but the "
                                          f"weight is {w.dtype} {list(w.shape)}")
        meta = self._run_node(n, bound, lambda a: torch.empty(a.type.shape, dtype=a.type.torch_dtype,
                                                              device="meta"),
                              lambda p: torch.empty(p.type.shape, dtype=p.type.torch_dtype, device="meta"),
                              quantize=False, error=VerifyError)
        if tuple(meta.shape) != n.result.shape or meta.dtype != n.result.torch_dtype:
            raise VerifyError(n.name, f"op {n.op} computes {meta.dtype} {list(meta.shape)} "
                                      f"but the result is declared {n.result}")

    # --- execution -----------------------------------------------------------------
    def _run_node(self, n: Node, bound, arg_value, param_value, quantize: bool, error=RuntimeError):
        if n.op in ("linear", "matmul") and quantize and self.backward_format is not None and torch.is_grad_enabled():
            return self._run_training_gemm(n, bound, arg_value, param_value)
        spec = n.spec
        roles = {r.name: r for r in spec.roles}

        def fetch(role_name, kind, ref, block_axis):
            if kind == "arg":
                a = n.args[ref]
                v = arg_value(a)
                return fake_quantize(v, a.type.element, block_axis) if quantize and a.type.is_quantized else v
            if kind == "param":
                p = n.params[ref]
                v = param_value(p)
                return fake_quantize(v, p.type.element, block_axis) if quantize and p.type.is_quantized else v
            if kind == "scalar":
                return n.attrs[ref]
            return None

        operands = []
        for role_name, kind, ref in bound:
            axis = roles[role_name].block_axis
            if kind == "list":
                operands.append([fetch(k, kk, r, axis) for k, kk, r in ref])
            else:
                operands.append(fetch(role_name, kind, ref, axis))
        while operands and operands[-1] is None and bound[len(operands) - 1][1] == "none":
            operands.pop()
        try:
            return spec.fn(*operands, **op_attrs(n))
        except Exception as exc:
            if error is VerifyError:
                raise VerifyError(n.name, f"op {n.op} fails on the declared types: {exc}") from None
            raise error(f"node %{n.name} ({n.op}, from module {n.module!r}) failed: {exc}") from exc

    def _run_training_gemm(self, n: Node, bound, arg_value, param_value):
        """A linear / matmul node in training mode: mx_formats.nn.mx_linear / mx_matmul with the
        node's formats forward and ``backward_format`` for the output gradients (mase_ir.mx_training)."""
        from mase_ir.mx_training import linear_spec, matmul_spec, mx_training_linear, mx_training_matmul

        raw: dict[str, Any] = {}
        types: dict[str, TensorType] = {}
        for role, kind, ref in bound:
            if kind == "arg":
                raw[role], types[role] = arg_value(n.args[ref]), n.args[ref].type
            elif kind == "param":
                raw[role], types[role] = param_value(n.params[ref]), n.params[ref].type
        fmt: dict[str, mxf.Format] = {r: (t.element if t.is_quantized and isinstance(t.element, mxf.Format)
                                          else mxf.F32) for r, t in types.items()}
        backward = self.backward_format
        assert backward is not None  # _run_node's condition
        second = "weight" if n.op == "linear" else "other"
        key = (n.name, fmt["input"], fmt[second], backward)
        spec = self._training_specs.get(key)
        if spec is None:
            make = linear_spec if n.op == "linear" else matmul_spec
            spec = self._training_specs[key] = make(fmt["input"], fmt[second], backward)
        bias = raw.get("bias")
        if bias is not None and "bias" in fmt:
            bias = fake_quantize(bias, fmt["bias"], -1)
        try:
            if n.op == "linear":
                return mx_training_linear(n.name, raw["input"], raw["weight"], bias, spec)
            return mx_training_matmul(raw["input"], raw["other"], bias, spec)
        except ValueError:  # a refusal that names the node already
            raise
        except Exception as exc:
            raise RuntimeError(f"node %{n.name} ({n.op}, training with backward_format "
                               f"{self.backward_format}) failed: {exc}") from exc

    def __call__(self, **inputs: torch.Tensor):
        """Run the graph. Keyword arguments are the graph inputs by name (non-tensor
        keywords, e.g. ``use_cache=False``, were fixed at trace time and are ignored).
        Returns one tensor, or a tuple when the graph has several outputs."""
        env: dict[str, torch.Tensor] = {}
        for i in self.inputs:
            if i.name not in inputs:
                raise TypeError(f"missing graph input {i.name!r} ({i.type})")
            t = inputs[i.name]
            if not isinstance(t, torch.Tensor) or tuple(t.shape) != i.type.shape or t.dtype != i.type.torch_dtype:
                got = f"{t.dtype} {list(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(f"graph input {i.name!r} must be {i.type}, got {got}")
            env[i.name] = t
        unknown = [k for k, v in inputs.items() if isinstance(v, torch.Tensor) and
                   k not in {i.name for i in self.inputs}]
        if unknown:
            raise TypeError(f"unknown graph input(s) {unknown}; inputs: {[i.name for i in self.inputs]}")
        for n in self.nodes:
            env[n.name] = self._run_node(n, bind_roles(n), lambda a: env[a.name],
                                         lambda p: self.weights[p.path], quantize=True)
        outs = []
        for o in self.outputs:
            t = self.value_type(o)
            outs.append(fake_quantize(env[o], t.element) if isinstance(t.element, mxf.Format) and t.is_quantized
                        else env[o])
        return outs[0] if len(outs) == 1 else tuple(outs)  # () for a graph without outputs

    # --- reporting ----------------------------------------------------------------
    def summary(self) -> Summary:
        """Node count, op histogram, trainable parameter count, and average bits.

        Average bits is paper eq. 1 weighted by element count over every real-valued
        tensor the hardware holds: each node's result and each distinct parameter use
        (path, format): sum(bits_i * numel_i) / sum(numel_i); f32 counts 32 bits.
        Integer and boolean tensors are left out.
        """
        hist = collections.Counter(n.op for n in self.nodes)
        n_params = sum(p.numel() for p in self.parameters())
        bits = 0.0
        count = 0
        seen = set()
        tensors = [n.result for n in self.nodes]
        for n in self.nodes:
            for p in n.params.values():
                key = (p.path, p.type)
                if key not in seen:
                    seen.add(key)
                    tensors.append(p.type)
        for t in tensors:
            if isinstance(t.element, mxf.Format):  # t.is_float
                bits += t.element.bits_per_element * t.numel
                count += t.numel
        return Summary(len(self.nodes), dict(hist), n_params, bits / count if count else 0.0)

    # --- text and files ------------------------------------------------------------
    def to_text(self) -> str:
        from mase_ir.text import print_graph
        return print_graph(self)

    def __str__(self) -> str:
        return self.to_text()

    def save(self, directory) -> None:
        from mase_ir.io import save
        save(self, directory)
