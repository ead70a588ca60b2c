"""Front end: ``torch.export`` a model, then raise its ATen graph to MASE ops.

Steps, in one walk over the exported graph:

1. Placeholders become graph inputs (user tensors), parameters (trainable, by
   their state_dict path) or constants (buffers and lifted tensors).
2. A call whose tensor operands are all constants (position ids, causal masks,
   rotary tables) is evaluated now and becomes a constant: nothing about it is
   left to run or to build in hardware.
3. No-ops are dropped: eval-mode dropout, aliases/contiguous/clones, dtype
   conversions to the same dtype, and runtime asserts.
4. Every other call is raised through ``RAISE`` (ATen overload -> MASE op);
   anything else is refused with its ATen name and source module.
5. Patterns are raised further (``patterns.py``): ``rms_norm`` from LLaMA's decomposed
   pow/mean/add/rsqrt/mul, and reshape/permute chains fused into one ``reorder``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable

import torch

from mase_ir.graph import MaseGraph, Node, Operand, Param
from mase_ir.ops import OPS
from mase_ir.patterns import fuse_data_movement, raise_rms_norm
from mase_ir.types import TensorType, dtype_name

aten = torch.ops.aten


class TraceError(ValueError):
    """The model cannot be traced or raised to MASE ops."""


class UnsupportedOpError(TraceError):
    def __init__(self, aten_name: str, module: str, module_type: str):
        self.aten_name = aten_name
        self.module = module
        super().__init__(
            f"unsupported op {aten_name} in module {module or '<root>'!r} ({module_type}); "
            f"mase_ir raises these ATen ops: {', '.join(supported_aten_ops())}; "
            f"MASE ops: {', '.join(sorted(OPS))}")


@dataclass(frozen=True)
class Raise:
    """How one ATen overload becomes a MASE op.

    roles: MASE role name -> ATen schema argument name (tensor or scalar operands).
    attrs: MASE attribute name -> ATen schema argument name.
    check: optional guard returning an error string when the call cannot be raised.
    """

    op: str
    roles: dict[str, str]
    attrs: dict[str, str]
    check: Callable[[dict], str | None] | None = None


def _same(*names):
    return {n: n for n in names}


def _no_dtype(a):
    # softmax(x, dtype=float32) on the float32 tensors of the IR is plain softmax
    return None if a.get("dtype") in (None, torch.float32) else f"softmax to dtype {a['dtype']}"


RAISE: dict[Any, Raise] = {
    aten.linear.default: Raise("linear", {"input": "input", "weight": "weight", "bias": "bias"}, {}),
    aten.matmul.default: Raise("matmul", {"input": "self", "other": "other"}, {}),
    aten.mm.default: Raise("matmul", {"input": "self", "other": "mat2"}, {}),
    aten.bmm.default: Raise("matmul", {"input": "self", "other": "mat2"}, {}),
    aten.addmm.default: Raise("matmul", {"input": "mat1", "other": "mat2", "bias": "self"}, {},
                              lambda a: None if a["beta"] == 1 and a["alpha"] == 1
                              else "addmm with beta or alpha other than 1"),
    aten.scaled_dot_product_attention.default: Raise(
        "scaled_dot_product_attention",
        {"query": "query", "key": "key", "value": "value", "attn_mask": "attn_mask"},
        _same("dropout_p", "is_causal", "scale", "enable_gqa")),
    aten._softmax.default: Raise("softmax", {"input": "self"}, {"dim": "dim"}),
    aten.softmax.int: Raise("softmax", {"input": "self"}, {"dim": "dim"}, _no_dtype),
    aten.layer_norm.default: Raise("layer_norm", {"input": "input", "weight": "weight", "bias": "bias"},
                                   _same("normalized_shape", "eps")),
    aten.rms_norm.default: Raise("rms_norm", {"input": "input", "weight": "weight"},
                                 _same("normalized_shape", "eps")),
    aten.gelu.default: Raise("gelu", {"input": "self"}, {"approximate": "approximate"}),
    aten.silu.default: Raise("silu", {"input": "self"}, {}),
    aten.relu.default: Raise("relu", {"input": "self"}, {}),
    aten.tanh.default: Raise("tanh", {"input": "self"}, {}),
    aten.neg.default: Raise("neg", {"input": "self"}, {}),
    aten.rsqrt.default: Raise("rsqrt", {"input": "self"}, {}),
    aten.exp.default: Raise("exp", {"input": "self"}, {}),
    aten.pow.Tensor_Scalar: Raise("pow", {"input": "self"}, {"exponent": "exponent"}),
    aten.mean.dim: Raise("mean", {"input": "self"}, {"dim": "dim", "keepdim": "keepdim"},
                         lambda a: None if a.get("dtype") is None else "mean with a dtype argument"),
    aten.cumsum.default: Raise("cumsum", {"input": "self"}, {"dim": "dim"},
                               lambda a: None if a.get("dtype") is None else "cumsum with a dtype argument"),
    aten.add.Tensor: Raise("add", {"input": "self", "other": "other"}, {"alpha": "alpha"}),
    aten.add.Scalar: Raise("add", {"input": "self", "other": "other"}, {"alpha": "alpha"}),
    aten.sub.Tensor: Raise("sub", {"input": "self", "other": "other"}, {"alpha": "alpha"}),
    aten.mul.Tensor: Raise("mul", {"input": "self", "other": "other"}, {}),
    aten.mul.Scalar: Raise("mul", {"input": "self", "other": "other"}, {}),
    aten.div.Tensor: Raise("div", {"input": "self", "other": "other"}, {}),
    aten.__and__.Tensor: Raise("logical_and", {"input": "self", "other": "other"}, {}),
    aten.logical_and.default: Raise("logical_and", {"input": "self", "other": "other"}, {}),
    aten.eq.Tensor: Raise("eq", {"input": "self", "other": "other"}, {}),
    aten.eq.Scalar: Raise("eq", {"input": "self", "other": "other"}, {}),
    aten.ne.Scalar: Raise("ne", {"input": "self", "other": "other"}, {}),
    aten.lt.Tensor: Raise("lt", {"input": "self", "other": "other"}, {}),
    aten.le.Tensor: Raise("le", {"input": "self", "other": "other"}, {}),
    aten.gt.Scalar: Raise("gt", {"input": "self", "other": "other"}, {}),
    aten.ge.Scalar: Raise("ge", {"input": "self", "other": "other"}, {}),
    aten.where.self: Raise("where", {"condition": "condition", "input": "self", "other": "other"}, {}),
    aten.where.ScalarOther: Raise("where", {"condition": "condition", "input": "self", "other": "other"}, {}),
    aten.where.ScalarSelf: Raise("where", {"condition": "condition", "input": "self", "other": "other"}, {}),
    aten.masked_fill.Tensor: Raise("masked_fill", {"input": "self", "mask": "mask"}, {"value": "value"},
                                   lambda a: None if not isinstance(a["value"], torch.Tensor)
                                   else "masked_fill with a tensor value"),
    aten.masked_fill.Scalar: Raise("masked_fill", {"input": "self", "mask": "mask"}, {"value": "value"}),
    aten.embedding.default: Raise("embedding", {"weight": "weight", "indices": "indices"},
                                  {"padding_idx": "padding_idx"}),
    aten.index.Tensor: Raise("index", {"input": "self", "indices": "indices"}, {},
                             lambda a: None if all(i is not None for i in a["indices"])
                             else "index with None (full-slice) entries"),
    aten.gather.default: Raise("gather", {"input": "self", "index": "index"}, {"dim": "dim"},
                               lambda a: None if not a.get("sparse_grad") else "sparse gather"),
    aten.view.default: Raise("reshape", {"input": "self"}, {"shape": "size"}),
    aten._unsafe_view.default: Raise("reshape", {"input": "self"}, {"shape": "size"}),
    aten.reshape.default: Raise("reshape", {"input": "self"}, {"shape": "shape"}),
    aten.flatten.using_ints: Raise("reshape", {"input": "self"}, {}),  # shape set in _call
    aten.transpose.int: Raise("transpose", {"input": "self"}, _same("dim0", "dim1")),
    aten.t.default: Raise("transpose", {"input": "self"}, {}),  # dims set in _call
    aten.permute.default: Raise("reorder", {"input": "self"}, {"dims": "dims"}),
    aten.expand.default: Raise("expand", {"input": "self"}, {"size": "size"}),
    aten.unsqueeze.default: Raise("unsqueeze", {"input": "self"}, {"dim": "dim"}),
    aten.squeeze.dim: Raise("squeeze", {"input": "self"}, {"dim": "dim"}),
    aten.slice.Tensor: Raise("slice", {"input": "self"}, _same("dim", "start", "end", "step")),
    aten.select.int: Raise("select", {"input": "self"}, _same("dim", "index")),
    aten.cat.default: Raise("cat", {"tensors": "tensors"}, {"dim": "dim"}),
}

# Default attribute values that carry no information and are left out of the text.
_DEFAULT_ATTRS = {
    "alpha": 1, "approximate": "none", "padding_idx": -1, "dropout_p": 0.0, "is_causal": False,
    "scale": None, "enable_gqa": False, "step": 1, "keepdim": False,
}

_ASSERTS = {
    aten._assert_tensor_metadata.default, aten._assert_scalar.default,
    aten.sym_constrain_range_for_size.default, aten._assert_async.msg,
}
_ALIASES = {aten.alias.default, aten.contiguous.default, aten.clone.default, aten.detach.default,
            aten.lift_fresh_copy.default}
_CASTS = {aten.to.dtype, aten.to.dtype_layout, aten.to.device, aten._to_copy.default, aten.type_as.default}


def supported_aten_ops() -> list[str]:
    names = {str(k) for k in RAISE} | {str(k) for k in _ALIASES | _CASTS} | {"aten.dropout.default (eval)"}
    return sorted(names)


def _bind(target, args, kwargs) -> dict[str, Any]:
    """ATen schema argument name -> value (defaults filled in)."""
    out = {}
    pos = 0
    for a in target._schema.arguments:
        if not a.kwarg_only and pos < len(args):
            out[a.name] = args[pos]
            pos += 1
        elif a.name in kwargs:
            out[a.name] = kwargs[a.name]
        elif a.has_default_value():
            out[a.name] = a.default_value
        else:
            out[a.name] = None
    return out


# Kinds of values during the walk.
@dataclass(frozen=True)
class _Val:  # an SSA value of the MASE graph
    name: str


@dataclass(frozen=True)
class _Weight:  # a parameter or constant, by path
    path: str


def _module_of(node: torch.fx.Node) -> tuple[str, str]:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "", ""
    path, typ = list(stack.values())[-1]
    typ = typ if isinstance(typ, str) else getattr(typ, "__qualname__", str(typ))
    return path, typ


def _py(value):
    """Attributes as plain Python literals (lists for sequences, str for dtypes)."""
    if isinstance(value, torch.dtype):
        return dtype_name(value)
    if isinstance(value, (list, tuple)):
        return [_py(v) for v in value]
    if isinstance(value, (torch.SymInt, torch.SymFloat)):
        raise TraceError(f"dynamic shape value {value} (mase_ir needs static shapes)")
    return value


def trace(model: torch.nn.Module, example_inputs: dict) -> MaseGraph:
    """Trace ``model(**example_inputs)`` into a module-level :class:`MaseGraph`.

    Decoder models from transformers need ``use_cache=False`` in ``example_inputs``.
    Shapes are fixed to those of the example inputs. Raises :class:`UnsupportedOpError`
    for an op the IR does not know and :class:`TraceError` when export fails.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"trace() needs a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(example_inputs, dict):
        raise TypeError("trace() takes the example inputs as a dict of keyword arguments, "
                        f"got {type(example_inputs).__name__}")
    # The IR is an inference graph: dropout off, norms use running statistics. Each
    # submodule's own mode is put back afterwards (model.train(flag) would overwrite a
    # submodule that the caller had set to eval inside a training wrapper).
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        ep = torch.export.export(model, (), dict(example_inputs), strict=False)
    except Exception as exc:
        raise TraceError(f"torch.export failed on {type(model).__name__}: {type(exc).__name__}: {exc}") from exc
    finally:
        for module, training in modes:
            module.training = training
    return _Raiser(ep).run()


class _Raiser:
    def __init__(self, ep):
        self.ep = ep
        self.env: dict[torch.fx.Node, Any] = {}
        self.consts: dict[torch.fx.Node, torch.Tensor] = {}
        self.weights: dict[str, torch.Tensor] = {}
        self.nodes: list[Node] = []
        self.inputs: list[Operand] = []
        self.types: dict[str, TensorType] = {}  # SSA value name -> type
        self.const_paths: dict[int, str] = {}
        self.keep_alive: list[torch.Tensor] = []  # keeps id() of folded constants unique

    def run(self) -> MaseGraph:
        ep = self.ep
        sig = ep.graph_signature
        state = ep.state_dict
        specs = {s.arg.name: s for s in sig.input_specs if hasattr(s.arg, "name")}
        for fx in ep.graph.nodes:
            if fx.op == "placeholder":
                self._placeholder(fx, specs.get(fx.name), state)
            elif fx.op == "get_attr":
                self.env[fx] = getattr(ep.graph_module, fx.target)
            elif fx.op == "call_function":
                self._call(fx)
            elif fx.op == "output":
                outputs = self._outputs(fx)
        graph = MaseGraph(self.inputs, self.nodes, outputs, self.weights)
        raise_rms_norm(graph)
        fuse_data_movement(graph)
        _drop_unused_weights(graph)
        graph.verify()
        return graph

    # --- placeholders ----------------------------------------------------------------
    def _placeholder(self, fx, spec, state):
        kind = spec.kind.name if spec is not None else "USER_INPUT"
        if kind == "PARAMETER":
            path = spec.target
            if path not in self.weights:
                self.weights[path] = torch.nn.Parameter(state[path].detach().clone())
            self.env[fx] = _Weight(path)
        elif kind in ("BUFFER", "CONSTANT_TENSOR"):
            value = state[spec.target] if spec.target in state else self.ep.constants[spec.target]
            self.consts[fx] = value.detach().clone()
            self.env[fx] = self.consts[fx]
            # used as it is by a raised op, a buffer keeps its state_dict path
            self.const_paths[id(self.consts[fx])] = spec.target
            self.weights[spec.target] = self.consts[fx]
        elif kind == "USER_INPUT":
            val = fx.meta.get("val")
            if not isinstance(val, torch.Tensor):
                self.env[fx] = val  # non-tensor inputs (e.g. use_cache=False) are fixed at trace time
                return
            self.inputs.append(Operand(fx.name, TensorType.of(val)))
            self.types[fx.name] = self.inputs[-1].type
            self.env[fx] = _Val(fx.name)
        else:
            raise TraceError(f"unsupported graph input kind {kind} for {fx.name}")

    # --- calls ---------------------------------------------------------------------------
    def _resolve(self, a):
        if isinstance(a, torch.fx.Node):
            return self.env[a]
        if isinstance(a, (list, tuple)):
            return type(a)(self._resolve(x) for x in a)
        return a

    @staticmethod
    def _flat(vals):
        if isinstance(vals, (list, tuple)):
            for v in vals:
                yield from _Raiser._flat(v)
        elif isinstance(vals, dict):
            for v in vals.values():
                yield from _Raiser._flat(v)
        else:
            yield vals

    def _call(self, fx):
        target = fx.target
        args = self._resolve(fx.args)
        kwargs = {k: self._resolve(v) for k, v in fx.kwargs.items()}
        symbolic = [v for v in self._flat((args, kwargs)) if isinstance(v, (_Val, _Weight))]
        if target in _ASSERTS:
            self.env[fx] = None
            return
        if not symbolic:
            self.env[fx] = self._fold(fx, target, args, kwargs)
            return
        module, module_type = _module_of(fx)
        if target is operator.getitem:
            raise UnsupportedOpError("getitem of a multi-output op", module, module_type)
        if target in _ALIASES:
            self.env[fx] = args[0]
            return
        if target == aten.dropout.default:
            if args[2]:
                raise TraceError(f"dropout in training mode in module {module!r}: trace the model in eval()")
            self.env[fx] = args[0]
            return
        if target in _CASTS:
            val = fx.meta["val"]
            src = self._type(args[0]).torch_dtype if isinstance(args[0], _Val) else \
                self.weights[args[0].path].dtype
            if val.dtype == src:
                self.env[fx] = args[0]
                return
            self._emit(fx, "cast", {"input": args[0]}, {"dtype": dtype_name(val.dtype)}, module)
            return
        rule = RAISE.get(target)
        if rule is None:
            raise UnsupportedOpError(str(target), module, module_type)
        bound = _bind(target, args, kwargs)
        if rule.check is not None:
            problem = rule.check(bound)
            if problem:
                raise UnsupportedOpError(f"{target} ({problem})", module, module_type)
        operands = {role: bound[name] for role, name in rule.roles.items()}
        attrs = {name: _py(bound[src]) for name, src in rule.attrs.items()}
        if target == aten.t.default:
            attrs = {"dim0": 0, "dim1": 1}
        if target == aten.flatten.using_ints:  # a reshape to the (static) result shape
            attrs = {"shape": [int(d) for d in fx.meta["val"].shape]}
        attrs = {k: v for k, v in attrs.items() if not (k in _DEFAULT_ATTRS and v == _DEFAULT_ATTRS[k]
                                                         and type(v) is type(_DEFAULT_ATTRS[k]))}
        self._emit(fx, rule.op, operands, attrs, module)

    def _fold(self, fx, target, args, kwargs):
        """Evaluate a call on constant inputs now."""
        name = getattr(target, "__name__", str(target))
        if "wrap_with_set_grad_enabled" in name or "wrap_with_autocast" in name:
            # Higher-order op around a submodule: run the submodule eagerly.
            enabled, sub, *rest = args
            with torch.set_grad_enabled(bool(enabled)) if "grad" in name else torch.no_grad():
                out = sub(*rest)
        else:
            with torch.no_grad():
                out = target(*args, **kwargs)
        if isinstance(out, torch.Tensor):
            out = out.detach()
        return out

    def _type(self, v: _Val) -> TensorType:
        return self.types[v.name]

    def _const_path(self, fx_name: str, role: str, module: str, value: torch.Tensor) -> str:
        # A folded constant is named after its first use, "<module>#<node>.<role>", and
        # shared by later uses of the same tensor (e.g. LLaMA's rotary tables).
        if id(value) in self.const_paths:
            return self.const_paths[id(value)]
        path = f"{module}#{fx_name}.{role}" if module else f"#{fx_name}.{role}"
        self.weights[path] = value.detach().clone().contiguous()
        self.const_paths[id(value)] = path
        self.keep_alive.append(value)
        return path

    def _emit(self, fx, op: str, operands: dict[str, Any], attrs: dict[str, Any], module: str):
        val = fx.meta.get("val")
        if not isinstance(val, torch.Tensor):
            raise TraceError(f"{fx.target} in module {module!r} does not produce one tensor")
        spec = OPS[op]
        node = Node(name=fx.name, op=op, result=TensorType.of(val), module=module)
        for role in spec.roles:
            value = operands.get(role.name)
            if role.variadic:
                for i, item in enumerate(value or ()):  # a variadic role without operands has none
                    self._operand(node, f"{role.name}.{i}", item, fx.name, module, variadic=True)
            else:
                self._operand(node, role.name, value, fx.name, module)
        node.attrs.update(attrs)
        self.nodes.append(node)
        self.types[fx.name] = node.result
        self.env[fx] = _Val(fx.name)

    def _operand(self, node: Node, role: str, value, fx_name: str, module: str, variadic=False):
        if value is None:
            return
        if isinstance(value, _Val):
            node.args.append(Operand(value.name, self._type(value)))
        elif isinstance(value, _Weight):
            w = self.weights[value.path]
            node.params[role] = Param(value.path, TensorType.of(w))
        elif isinstance(value, torch.Tensor):
            path = self._const_path(fx_name, role, module, value)
            node.params[role] = Param(path, TensorType.of(value))
        elif variadic:
            raise TraceError(f"{node.op} in module {module!r}: list operand {role} is a {type(value).__name__}")
        else:
            node.attrs[role] = _py(value)

    def _outputs(self, fx) -> list[str]:
        names = []
        for v in self._flat(self._resolve(fx.args[0])):
            if v is None:
                continue
            if not isinstance(v, _Val):
                raise TraceError(f"a model output is a {'parameter' if isinstance(v, _Weight) else 'constant'}; "
                                 "mase_ir outputs must be computed values")
            names.append(v.name)
        return names


def _drop_unused_weights(graph: MaseGraph) -> None:
    used = {p.path for n in graph.nodes for p in n.params.values()}
    for path in [p for p in graph.weights if p not in used]:
        del graph.weights[path]
