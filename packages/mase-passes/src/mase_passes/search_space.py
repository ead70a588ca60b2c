"""The search space of a mixed-precision search: which tensors get a width, from which range,
and which tensors share one.

Every quantizable tensor (a :class:`mase_passes.graphs.Slot`) has a *label* that names it by
where it sits in the model rather than by its SSA node name::

    <module path>:<op>[#i].<role>     e.g.  encoder.encoder.layer.3.intermediate.dense:linear.weight

``#i`` (i >= 1) tells apart the i-th node of the same op inside one module (the four
``reorder`` nodes of a self-attention block: q, k, v, context). Labels are what ``ranges``,
``group_by`` and seeds match with ``re.search``.

* ``ranges``: ``(regex, (lo, hi))`` pairs, first match wins, unmatched tensors take the
  default range. ``lo == hi`` fixes the width: the tensor is no search dimension at all
  (small tensors such as biases and layer-norm parameters cost nothing in eq. 1 bits, so a
  search should not spend its trials on them).
* ``group_by``: a regex; tensors whose labels are equal once every match is replaced by ``*``
  share one width (``(?<=layer\\.)\\d+`` ties each tensor to its counterparts in the other
  layers: 211 MiniLM tensors become about 37 dimensions). All tensors of a group must resolve
  to the same range.

The element-weighted mean mantissa of a width assignment ``m`` is
``sum_i m_i * numel_i / sum_i numel_i`` over every tensor, the mantissa part of paper eq. 1
(for MXInt(B, e, m) the bits are that plus 1 sign bit plus e/prod(B)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from mase_ir import MaseGraph

from mase_passes.graphs import Slot, slots


def slot_labels(graph: MaseGraph) -> dict[str, str]:
    """{slot key: label} for every quantizable tensor of ``graph`` (see the module docstring)."""
    seen: dict[tuple[str, str], int] = {}
    node_label = {}
    for n in graph.nodes:
        module = n.module or "model"
        i = seen.get((module, n.op), 0)
        seen[(module, n.op)] = i + 1
        node_label[n.name] = f"{module}:{n.op}" + (f"#{i}" if i else "")
    return {s.key: f"{node_label[s.node]}.{s.role}" for s in slots(graph)}


@dataclass(frozen=True)
class Dimension:
    """One searched width: its name (the Optuna parameter), its tensors and range."""

    name: str
    keys: tuple[str, ...]
    lo: int
    hi: int
    numel: int


@dataclass(frozen=True)
class SearchSpace:
    dims: tuple[Dimension, ...]
    fixed: Mapping[str, int]          # slot key -> width of tensors that are not searched
    numel: Mapping[str, int]          # slot key -> element count
    labels: Mapping[str, str]         # slot key -> label
    where: Mapping[str, tuple[str, str]]  # slot key -> (node name, role)

    @classmethod
    def build(cls, graph: MaseGraph, mantissa: tuple[int, int] = (2, 8),
              ranges: Iterable[tuple[str, tuple[int, int]]] | Mapping = (),
              group_by: str | None = None) -> "SearchSpace":
        labels = slot_labels(graph)
        graph_slots: list[Slot] = slots(graph)
        rules = _compile_ranges(ranges)
        grouper = _compile(group_by, "group_by") if group_by else None
        fixed: dict[str, int] = {}
        groups: dict[str, list[tuple[str, tuple[int, int]]]] = {}
        for s in graph_slots:
            label = labels[s.key]
            rng = next((r for pat, r in rules if pat.search(label)), tuple(mantissa))
            if rng[0] == rng[1]:
                fixed[s.key] = rng[0]
                continue
            name = grouper.sub("*", label) if grouper else s.key
            groups.setdefault(name, []).append((s.key, rng))
        numel = {s.key: s.type.numel for s in graph_slots}
        dims = []
        for name, members in groups.items():
            rngs = {r for _, r in members}
            if len(rngs) > 1:
                raise ValueError(f"search space: group {name!r} mixes mantissa ranges {sorted(rngs)}; "
                                 f"make the ranges patterns agree on every tensor of the group")
            (lo, hi), = rngs
            keys = tuple(k for k, _ in members)
            dims.append(Dimension(name, keys, lo, hi, sum(numel[k] for k in keys)))
        return cls(tuple(dims), fixed, numel, labels, {s.key: (s.node, s.role) for s in graph_slots})

    # --- width assignments -------------------------------------------------------------
    def widths(self, params: Mapping[str, int]) -> dict[str, int]:
        """{slot key: width} from {dimension name: width} (fixed tensors included)."""
        out = dict(self.fixed)
        for d in self.dims:
            if d.name not in params:
                raise KeyError(f"search space: no width for dimension {d.name!r}")
            for k in d.keys:
                out[k] = int(params[d.name])
        return out

    def config(self, widths: Mapping[str, int], fmt: Callable[[int], object]) -> dict:
        """A node-level quantization config giving each tensor ``fmt(width)``."""
        nodes: dict[str, dict] = {}
        for key, m in widths.items():
            node, role = self.where[key]
            nodes.setdefault(node, {})[role] = fmt(m)
        return {"node": nodes}

    def mean_mantissa(self, widths: Mapping[str, int]) -> float:
        """Element-weighted mean width over every tensor (the mantissa part of eq. 1)."""
        total = sum(self.numel.values())
        return sum(widths[k] * n for k, n in self.numel.items()) / total

    def min_mean_mantissa(self) -> float:
        """The smallest mean the space can reach (every dimension at its lower end)."""
        return self.mean_mantissa(self.widths({d.name: d.lo for d in self.dims}))

    def seed(self, rule: Mapping[str, int] | int) -> dict[str, int]:
        """Parameters for an enqueued trial: ``rule`` is one width for every dimension, or
        {dimension name or regex: width} (an exact name first, else the first regex that
        ``re.search``-es the name). Widths are clipped to each dimension's range; a dimension
        no entry matches is an error naming it."""
        out = {}
        for d in self.dims:
            if isinstance(rule, int):
                m = rule
            elif d.name in rule:
                m = rule[d.name]
            else:
                m = next((v for pat, v in rule.items() if re.search(pat, d.name)), None)
                if m is None:
                    raise ValueError(f"search seed: no entry matches dimension {d.name!r}")
            out[d.name] = min(max(int(m), d.lo), d.hi)
        return out


def _compile(pattern: str, what: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(f"search space: {what} pattern {pattern!r} is not a regex: {e}") from None


def _compile_ranges(ranges) -> list[tuple[re.Pattern, tuple[int, int]]]:
    items: Sequence = list(ranges.items()) if isinstance(ranges, Mapping) else list(ranges)
    out = []
    for entry in items:
        try:
            pattern, (lo, hi) = entry
        except (TypeError, ValueError):
            raise ValueError(f"search space: a ranges entry must be (regex, (lo, hi)), got {entry!r}") from None
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
            raise ValueError(f"search space: range for {pattern!r} must satisfy 1 <= lo <= hi, got {(lo, hi)}")
        out.append((_compile(pattern, "ranges"), (lo, hi)))
    return out
