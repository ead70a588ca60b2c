"""Run a graph and record chosen values: the one way a pass looks inside a graph.

    values = capture(graph, inputs, ["linear_3", "gelu_1"])      # {name: tensor}
    for values in capture_batches(graph, batches, names): ...    # one dict per batch

A recorded value is what the graph would return if it were an output: the producer's result,
fake-quantized to the value's own format when it has one (along its last axis, as graph
outputs are), so on an unquantized graph it is the exact float result. Graph inputs can be
recorded too (they come back as given). Gradients flow as in a normal run: wrap the call in
``torch.no_grad()`` to record for statistics, leave it out to train through the values (the
distillation loss of mase_passes' quantize pass does).

The graph itself is not changed: the run uses a view of it that shares its nodes and weights
and returns the chosen values instead of the graph's outputs.
"""

from __future__ import annotations

import difflib
from typing import Iterable, Iterator, Sequence

import torch

from mase_ir.graph import MaseGraph


class CaptureError(KeyError):
    """A value asked for is not defined in the graph; the message names it."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def capture(graph: MaseGraph, inputs: dict[str, torch.Tensor], values: Sequence[str]) -> dict[str, torch.Tensor]:
    """``{value: tensor}`` for every name in ``values`` (in that order) after one run on ``inputs``."""
    view = _view(graph, values)
    if not view.outputs:
        return {}
    got = view(**inputs)
    got = got if isinstance(got, tuple) else (got,)
    return dict(zip(view.outputs, got))


def capture_batches(graph: MaseGraph, batches: Iterable, values: Sequence[str],
                    max_batches: int | None = None) -> Iterator[dict[str, torch.Tensor]]:
    """``capture`` over ``batches`` (dicts of inputs or ``(inputs, target)`` pairs), at most
    ``max_batches`` of them (None: all)."""
    view = _view(graph, values)
    for i, batch in enumerate(batches):
        if max_batches is not None and i >= max_batches:
            return
        inputs = batch[0] if isinstance(batch, tuple) else batch
        got = view(**inputs)
        got = got if isinstance(got, tuple) else (got,)
        yield dict(zip(view.outputs, got))


def _view(graph: MaseGraph, values: Sequence[str]) -> MaseGraph:
    defined = [i.name for i in graph.inputs] + [n.name for n in graph.nodes]
    known = set(defined)
    for v in values:
        if v not in known:
            close = difflib.get_close_matches(str(v), defined, n=1)
            hint = f" (did you mean %{close[0]}?)" if close else ""
            raise CaptureError(f"capture: no value %{v} in the graph{hint}")
    view = MaseGraph(graph.inputs, graph.nodes, list(dict.fromkeys(values)), graph.weights)
    view.backward_format = graph.backward_format  # a graph training in MX trains so through the view too
    return view
