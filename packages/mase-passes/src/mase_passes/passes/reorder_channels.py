"""reorder_channels: permute the hidden channels between two linears so that MX blocks hold
channels of similar range. Exact in floating point; no hardware cost.

A block format shares one exponent among B[0] consecutive channels, so a block that mixes one
large channel with small ones rounds the small ones coarsely (at m mantissa bits, a channel
2^k times smaller than its block maximum keeps about m - k of them). Inside a feed-forward
block the channel order is arbitrary: for

    h = f(x W1^T + b1, x W2^T + b2, ...)     f pointwise per channel (gelu, silu, relu, mul, ...)
    y = h W^T + b

and a permutation P of the H hidden channels, using W1[P], b1[P], W2[P], b2[P] and W[:, P]
gives the same y (the hidden values come out permuted, the sum over them is unchanged). The
pass finds every such *channel group* — a consumer linear, the pointwise ops feeding its input
and the linears producing their operands, with no other reader of any value inside — measures
each hidden channel's largest |value| on calibration batches (the maximum over the group's
values, each scaled by its median channel maximum so that no value dominates) and sorts the
channels by it, so every run of B[0] channels holds neighbours in range. In BERT and OPT this
is the FFN (linear, gelu/relu, linear); in LLaMA gate, up, silu, mul, down.

The report gives, per group and for the B[0]-channel blocks of the hidden values, the mean over
channels of log2(block maximum / channel maximum) before and after: the bits the shared exponent
costs an average channel (measured on the calibration batches). Groups that cannot be permuted
(a weight shared with another use, a parameter operand inside the pointwise part, a hidden value
read elsewhere) are reported with the reason and left alone.

The residual stream is not reordered: every layer reads and writes it, and on MiniLM sorting
it raised the output KL of the searched configurations (packages/mase-passes/README.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

import torch
from mase_ir import MaseGraph
from mase_ir.capture import capture_batches

from mase_passes.graphs import clone
from mase_passes.passes.options import option

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome

POINTWISE_UNARY = ("gelu", "silu", "relu", "tanh", "neg")
POINTWISE_BINARY = ("mul", "add", "sub")


@dataclass(frozen=True)
class ChannelGroup:
    """The linear ``consumer`` whose input is a pointwise function of the ``producers``'
    outputs through ``pointwise`` nodes; ``values`` are every hidden value (H channels)."""

    consumer: str
    producers: tuple[str, ...]
    pointwise: tuple[str, ...]
    channels: int

    @property
    def values(self) -> tuple[str, ...]:
        return self.producers + self.pointwise


@dataclass
class GroupReport:
    consumer: str
    producers: tuple[str, ...]
    channels: int
    bits_lost_before: float
    bits_lost_after: float


@dataclass
class ReorderReport:
    """What the pass did: the permuted groups and the groups it left alone (with the reason)."""

    block: int
    groups: list[GroupReport] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"reorder_channels (blocks of {self.block} channels; bits lost to the shared exponent, "
                 f"mean over channels, measured on the calibration batches):"]
        lines += [f"  {g.consumer} <- {', '.join(g.producers)}: {g.channels} channels, "
                  f"{g.bits_lost_before:.2f} -> {g.bits_lost_after:.2f} bits" for g in self.groups]
        lines += [f"  left alone: {name}: {why}" for name, why in self.skipped]
        return "\n".join(lines)


@dataclass(frozen=True)
class ReorderChannels:
    """Options: ``block`` (channels per shared exponent, B[0] of the format to be used; only the
    report depends on it), ``max_batches`` of calibration data to measure the channels on."""

    name = "reorder_channels"
    kind = "transform"
    block: int = option(16, "channels per shared exponent (B[0] of the format to be used; only the report "
                            "depends on it)", at_least=1)
    max_batches: int | None = option(4, "calibration batches the channel ranges are measured on (none: all)",
                                     at_least=1)

    def run(self, graph: MaseGraph, ctx) -> Outcome:
        """Pipeline contract: channels sorted by their range on ``ctx.calibration``."""
        from mase_passes.pipeline import Outcome
        return Outcome(*self.apply(graph, ctx.calibration))

    def __post_init__(self):
        if self.block < 1:
            raise ValueError(f"reorder_channels: block must be >= 1, got {self.block}")

    def apply(self, graph: MaseGraph, batches: Iterable) -> tuple[MaseGraph, ReorderReport]:
        """(a copy of ``graph`` with the permuted weights, the report); ``graph`` is unchanged."""
        report = ReorderReport(self.block)
        groups = []
        for n in graph.nodes:
            if n.op == "linear":
                group, why = find_group(graph, n.name)
                if group is not None:
                    groups.append(group)
                elif why is not None:
                    report.skipped.append((n.name, why))
        out = clone(graph)
        if not groups:
            return out, report
        amax = channel_absmax(graph, [v for grp in groups for v in grp.values], batches, self.max_batches)
        for grp in groups:
            score = torch.stack([a / a.median().clamp_min(torch.finfo(a.dtype).tiny)
                                 for a in (amax[v] for v in grp.values)]).amax(0)
            perm = torch.argsort(score, descending=True, stable=True)
            permute_group(out, grp, perm)
            before = [bits_lost(amax[v], self.block) for v in grp.values]
            after = [bits_lost(amax[v][perm], self.block) for v in grp.values]
            report.groups.append(GroupReport(grp.consumer, grp.producers, grp.channels,
                                             sum(before) / len(before), sum(after) / len(after)))
        return out, report


def find_group(graph: MaseGraph, consumer: str) -> tuple[ChannelGroup | None, str | None]:
    """The channel group feeding linear ``consumer``, or (None, reason); the reason is None when
    the input is simply not produced by a linear through pointwise ops (nothing to permute)."""
    nodes = {n.name: n for n in graph.nodes}
    readers: dict[str, list[str]] = defaultdict(list)
    for n in graph.nodes:
        for a in n.args:
            readers[a.name].append(n.name)
    param_uses: dict[str, int] = defaultdict(int)
    for n in graph.nodes:
        for p in n.params.values():
            param_uses[p.path] += 1

    head = nodes[consumer]
    if not head.args or "weight" not in head.params:
        return None, None
    channels = head.params["weight"].type.shape[-1]
    producers, pointwise, todo = [], [], [head.args[0].name]
    while todo:
        v = todo.pop()
        if v in producers or v in pointwise:
            continue
        n = nodes.get(v)
        if n is None:  # a graph input: nothing upstream to permute
            return None, None
        if n.op == "linear" and "weight" in n.params and len(n.args) == 1:
            producers.append(v)
        elif (n.op in POINTWISE_UNARY and len(n.args) == 1) or (n.op in POINTWISE_BINARY and len(n.args) == 2):
            if n.params:
                return None, f"{n.op} %{v} has a parameter operand"
            if any(tuple(a.type.shape) != tuple(n.result.shape) for a in n.args):
                return None, None  # broadcasting (e.g. a scalar table): not a per-channel map
            pointwise.append(v)
            todo += [a.name for a in n.args]
        else:
            return None, None
    if not producers:
        return None, None
    for v in producers + pointwise:
        if nodes[v].result.shape[-1] != channels:
            return None, None
        inside = set(producers + pointwise) | {consumer}
        if v in graph.outputs or any(r not in inside for r in readers[v]):
            return None, f"hidden value %{v} is also read outside the group"
    for name in producers + [consumer]:
        for role, p in nodes[name].params.items():
            if param_uses[p.path] > 1:
                return None, f"{role} of %{name} ({p.path}) is shared with another use"
    order = [n.name for n in graph.nodes]
    return ChannelGroup(consumer, tuple(sorted(producers, key=order.index)),
                        tuple(sorted(pointwise, key=order.index)), channels), None


def channel_absmax(graph: MaseGraph, values: list[str], batches: Iterable, max_batches: int | None) -> dict[str, torch.Tensor]:
    """{value: max |value| per last-axis channel} over the calibration batches."""
    out: dict[str, torch.Tensor] = {}
    seen = 0
    with torch.no_grad():
        for got in capture_batches(graph, batches, values, max_batches):
            for v, t in got.items():
                a = t.detach().float().abs().reshape(-1, t.shape[-1]).amax(0)
                out[v] = a if v not in out else torch.maximum(out[v], a)
            seen += 1
    if seen == 0:
        raise ValueError("reorder_channels: no calibration batches were given")
    return out


def permute_group(g: MaseGraph, grp: ChannelGroup, perm: torch.Tensor) -> None:
    """Producers' output rows (weight, bias) and the consumer's input columns, in place on ``g``'s
    weights dict (new tensors: a clone shares the originals with the source graph)."""
    nodes = {n.name: n for n in g.nodes}
    for name in grp.producers:
        for role, p in nodes[name].params.items():
            _replace(g, p.path, g.weights[p.path].detach()[perm])
    w = nodes[grp.consumer].params["weight"].path
    _replace(g, w, g.weights[w].detach()[:, perm])


def _replace(g: MaseGraph, path: str, value: torch.Tensor) -> None:
    old = g.weights[path]
    value = value.clone()
    g.weights[path] = torch.nn.Parameter(value, requires_grad=old.requires_grad) if isinstance(old, torch.nn.Parameter) else value


def bits_lost(amax: torch.Tensor, block: int) -> float:
    """Mean over channels c of log2(max over c's block / amax_c), blocks of ``block`` consecutive
    channels (a partial last block as it is); channels that never leave 0 are not counted."""
    a = amax.double()
    total, count = 0.0, 0
    for s in range(0, a.numel(), block):
        part = a[s:s + block]
        live = part[part > 0]
        if live.numel():
            total += float(torch.log2(live.max() / live).sum())
            count += live.numel()
    return total / max(count, 1)
