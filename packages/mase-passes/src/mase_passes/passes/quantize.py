"""quantize: give every tensor of a graph a number format from a config; optionally fine-tune.

Post-training quantization (``mode="ptq"``) only changes the types in a copy of the graph;
the graph then fake-quantizes each tensor where it is consumed. Quantization-aware training
(``mode="qat"``) also runs ``steps`` Adam steps at learning rate ``lr`` on the graph's
parameters, gradients passing the quantizers straight through (STE, in mase_ir), on batches
of ``(inputs, target)`` with a loss function (default cross-entropy on logits).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
from mase_ir import MaseGraph

from mase_passes import config as cfg
from mase_passes.bits import average_bits, tensor_bits
from mase_passes.graphs import clone


@dataclass(frozen=True)
class Quantize:
    """Options: ``config`` (dict or TOML path, see mase_passes.config), ``mode`` ptq or qat,
    ``lr`` and ``steps`` for QAT."""

    name = "quantize"
    config: Any = field(default_factory=dict)
    mode: str = "ptq"
    lr: float = 1e-4
    steps: int = 100

    def __post_init__(self):
        if self.mode not in ("ptq", "qat"):
            raise ValueError(f"quantize: mode must be 'ptq' or 'qat', got {self.mode!r}")
        if self.mode == "qat" and (self.steps < 1 or self.lr <= 0):
            raise ValueError(f"quantize: qat needs steps >= 1 and lr > 0, got steps={self.steps}, lr={self.lr}")

    def apply(self, graph: MaseGraph, batches: Iterable | None = None,
              loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> MaseGraph:
        """A quantized copy of ``graph`` (``graph`` itself is not changed)."""
        conf = cfg.load_config(self.config)
        g = clone(graph, copy_weights=self.mode == "qat")
        apply_config(g, conf)
        if self.mode == "qat":
            if batches is None:
                raise ValueError("quantize: mode 'qat' needs batches of (inputs, target)")
            finetune(g, batches, self.steps, self.lr, loss_fn or torch.nn.functional.cross_entropy)
        return g


def apply_config(g: MaseGraph, conf: dict[str, Any]) -> None:
    """Set formats in place (see mase_passes.config for the precedence rules)."""
    for n in g.nodes:
        if n.result.is_float:
            fmt = cfg.resolve(conf, n.op, n.name, n.module, "data_out")
            if fmt is not None:
                g.set_format(n.name, fmt)
        for role, p in n.params.items():
            if p.type.is_float:
                fmt = cfg.resolve(conf, n.op, n.name, n.module, role.split(".")[0], is_param=True)
                if fmt is not None:
                    g.set_param_format(n.name, role, fmt)
    # data_in: graph inputs take any matching level; a produced value changes only on an
    # explicit data_in entry above the default level (its producer's data_out decided it).
    producers = {n.name for n in g.nodes}
    for n in g.nodes:
        for a in n.args:
            if not a.type.is_float:
                continue
            if a.name in producers:
                fmt = cfg.resolve(conf, n.op, n.name, n.module, "data_in", include_default=False,
                                  wildcard=False)
            else:
                fmt = cfg.resolve(conf, n.op, n.name, n.module, "data_in")
            if fmt is not None:
                g.set_format(a.name, fmt)


def finetune(g: MaseGraph, batches: Iterable, steps: int, lr: float, loss_fn) -> list[float]:
    """``steps`` Adam steps over ``batches`` (cycled); returns the loss of each step."""
    params = g.parameters()
    if not params:
        raise ValueError("quantize: qat found no trainable parameters in the graph")
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    data = list(batches)
    if not data:
        raise ValueError("quantize: qat got an empty batch list")
    for inputs, target in itertools.islice(itertools.cycle(data), steps):
        opt.zero_grad()
        loss = loss_fn(g(**inputs), target)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def summary(graph: MaseGraph) -> str:
    """Bits per tensor (paper eq. 1) and the model's element-weighted average."""
    rows = tensor_bits(graph)
    width = max((len(r.key) for r in rows), default=6)
    lines = [f"{'tensor':<{width}}  {'format':<22} {'elements':>10} {'bits':>6}"]
    lines += [f"{r.key:<{width}}  {r.format:<22} {r.numel:>10} {r.bits:>6.3f}" for r in rows]
    lines.append(f"model average bits (element-weighted): {average_bits(graph):.4f}; "
                 f"mean over {len(rows)} tensors: {average_bits(graph, weighted=False):.4f}")
    return "\n".join(lines)
