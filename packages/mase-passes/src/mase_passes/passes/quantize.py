"""quantize: give every tensor of a graph a number format from a config; optionally fine-tune.

Post-training quantization (``mode="ptq"``) only changes the types in a copy of the graph;
the graph then fake-quantizes each tensor where it is consumed. Quantization-aware training
(``mode="qat"``) also runs ``steps`` Adam steps at learning rate ``lr`` on the graph's
parameters, gradients passing the quantizers straight through (STE, in mase_ir), on batches
of ``(inputs, target)`` with one of two losses:

* ``loss="task"``: a loss function of (outputs, target), default cross-entropy on logits;
* ``loss="distill"``: knowledge distillation from the unquantized graph itself. The targets are
  ignored; the teacher's outputs z_t on the same inputs are computed once, and the loss is

      T^2 * mean over rows of KL(softmax(z_t / T) || softmax(z / T))

  over the output's last axis (classes, or the vocabulary per token of a causal LM). It pulls
  the quantized model back towards the FP32 function instead of fitting the labels again, so it
  needs no labels and cannot learn the task beyond what the FP32 model knows. With
  ``distill_values`` (names of intermediate values, e.g. each encoder layer's output) the loss
  adds ``distill_weight`` times the mean over those values v of ||h_v - t_v||^2 / ||t_v||^2:
  a 10-class head gives 10 numbers per sample, a hidden state hundreds (as in TinyBERT).

QAT in MX (``backward="MXFP8_E5M2"``, the MX paper's training recipe): the backward GEMMs of
every linear are quantized too -- the output gradient in that format, the weight and the saved
input re-quantized in their own formats along each backward GEMM's reduction axis
(``mase_ir.mx_training``, on ``mx_formats.nn.mx_linear``); the forward values are unchanged.

Fake-quantized weights move only when an update crosses a rounding boundary, and a large step
moves many at once: on MiniLM at a mean mantissa of 4, Adam at lr 1e-4 diverged within 20 steps
while 3e-6 recovered the accuracy (packages/mase-passes/README.md), hence the small default.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

import torch
from mase_ir import MaseGraph
from mase_ir.capture import capture
from mase_ir.mx_training import check_backward_format

from mase_passes import config as cfg
from mase_passes.bits import average_bits, tensor_bits
from mase_passes.graphs import clone
from mase_passes.passes.options import option
from mase_passes.passes.evaluate import reference_logits

if TYPE_CHECKING:
    from mase_passes.pipeline import Outcome


LOSSES = ("task", "distill")
SCHEDULES = ("linear", "constant")


@dataclass(frozen=True)
class QuantizeReport:
    """The quantized graph's average bits (paper eq. 1, element-weighted) and how it was made."""

    average_bits: float
    mode: str
    steps: int


@dataclass(frozen=True)
class Quantize:
    """Transform: a copy of the graph with a format on every tensor the config reaches (PTQ),
    optionally fine-tuned (QAT) through straight-through quantizers."""

    name = "quantize"
    kind = "transform"
    config: Any = option(doc="quantization config: a dict or a TOML file path (mase_passes.config); in a "
                             "pipeline, empty means the config an earlier search or allocate chose",
                         factory=dict)
    mode: str = option("ptq", '"ptq" or "qat" (fine-tune the quantized graph through straight-through '
                              "quantizers)", choices=("ptq", "qat"))
    lr: float = option(3e-6, "QAT learning rate (Adam; fake-quantized weights move in steps, and MiniLM at "
                             "mean mantissa 4 diverged at 1e-4)", positive=True)
    steps: int = option(100, "QAT optimizer steps", at_least=1)
    loss: str = option("task", 'QAT loss: "task" (cross-entropy on the labels, or next-token loss) or '
                               '"distill" (KL to the FP32 model\'s outputs; no labels needed)', choices=LOSSES)
    temperature: float = option(1.0, "distillation temperature T (loss T^2 KL(softmax(z_t/T) || softmax(z/T)))",
                                positive=True)
    schedule: str = option("linear", 'QAT learning-rate schedule: "linear" (decay to 0) or "constant"',
                           choices=SCHEDULES)
    distill_values: tuple[str, ...] = option((), "intermediate values (e.g. each layer's output) matched to the "
                                                 "FP32 graph's in the distillation loss (normalised squared error)")
    distill_weight: float = option(1.0, "weight of the distill_values term of the distillation loss", at_least=0)
    backward: str = option("", 'QAT in MX: the format of the output gradients in the backward GEMMs of every '
                               'linear (e.g. "MXFP8_E5M2"; the weight and saved input re-quantized along those '
                               'GEMMs\' reduction axes in their own formats: mase_ir.mx_training); "" keeps the '
                               "backward pass in float32")

    def __post_init__(self):
        if self.mode not in ("ptq", "qat"):
            raise ValueError(f"quantize: mode must be 'ptq' or 'qat', got {self.mode!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"quantize: loss must be one of {LOSSES}, got {self.loss!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"quantize: schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.backward:
            if self.mode != "qat":
                raise ValueError(f"quantize: backward = {self.backward!r} quantizes the backward pass of QAT; it "
                                 "needs mode 'qat'")
            check_backward_format(self.backward)  # a TrainingSpecError (ValueError) saying why not
        if self.mode == "qat" and (self.steps < 1 or self.lr <= 0 or self.temperature <= 0):
            raise ValueError(f"quantize: qat needs steps >= 1, lr > 0 and temperature > 0, got steps={self.steps}, "
                             f"lr={self.lr}, temperature={self.temperature}")

    def apply(self, graph: MaseGraph, batches: Iterable | None = None,
              loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> MaseGraph:
        """A quantized copy of ``graph`` (``graph`` itself is not changed)."""
        conf = cfg.load_config(self.config)
        g = clone(graph, copy_weights=self.mode == "qat")
        apply_config(g, conf)
        if self.mode == "qat":
            if batches is None:
                raise ValueError("quantize: mode 'qat' needs batches of (inputs, target)")
            if self.loss == "distill":
                if loss_fn is not None:
                    raise ValueError("quantize: loss 'distill' has its own loss; loss_fn is for loss 'task'")
                known = {n.name for n in graph.nodes}
                unknown = [v for v in self.distill_values if v not in known]
                if unknown:
                    raise ValueError(f"quantize: distill_values {unknown} are not values of the graph")
                batches = teacher_batches(graph, batches, self.distill_values)
                loss_fn = functools.partial(distillation_loss, temperature=self.temperature,
                                            hidden_weight=self.distill_weight)
            elif self.distill_values:
                raise ValueError("quantize: distill_values needs loss 'distill'")
            g.backward_format = check_backward_format(self.backward) if self.backward else None
            try:
                finetune(g, batches, self.steps, self.lr, loss_fn or torch.nn.functional.cross_entropy,
                         self.schedule, values=self.distill_values)
            finally:
                g.backward_format = None  # trained: the graph runs as any other from here
        return g


    def run(self, graph: MaseGraph, ctx) -> Outcome:
        """Pipeline contract: the config (or ``ctx.config``, chosen by an earlier search or
        allocate) applied; QAT on ``ctx.calibration`` with ``ctx.loss_fn`` for the task loss."""
        from mase_passes.pipeline import Outcome, PipelineError
        config = self.config or ctx.config
        if not config:
            raise PipelineError("quantize: no config: give quantize{config=...} or run search / allocate before it")
        loss_fn = ctx.loss_fn if self.mode == "qat" and self.loss == "task" else None
        q = dataclasses.replace(self, config=config).apply(graph, ctx.calibration if self.mode == "qat" else None,
                                                           loss_fn=loss_fn)
        return Outcome(q, QuantizeReport(average_bits(q), self.mode, self.steps if self.mode == "qat" else 0))


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


def teacher_batches(graph: MaseGraph, batches: Iterable, values: tuple[str, ...] = ()) -> list:
    """[(inputs, outputs of the unquantized ``graph`` on them)]: the distillation targets; with
    ``values``, the target is the tuple (output, value_1, ...)."""
    data = list(batches)
    if not values:
        return [(inputs, z) for (inputs, _), z in zip(data, reference_logits(graph, data))]
    with torch.no_grad():
        return [(inputs, _outputs_and(graph, inputs, values)) for inputs, _ in data]


def _outputs_and(graph: MaseGraph, inputs: dict, values: tuple[str, ...]) -> tuple:
    """(the graph's outputs..., then each of ``values``) on one batch (mase_ir.capture)."""
    names = list(graph.outputs) + [v for v in values if v not in graph.outputs]
    got = capture(graph, inputs, names)
    return tuple(got[n] for n in list(graph.outputs) + list(values))


def distillation_loss(out, teacher, temperature: float = 1.0, hidden_weight: float = 1.0) -> torch.Tensor:
    """T^2 * mean over rows of KL(softmax(teacher / T) || softmax(out / T)), last axis = classes;
    for tuples (output, hidden values...) plus ``hidden_weight`` * the mean over the hidden
    values of ||h - t||^2 / ||t||^2."""
    hidden = ()
    if isinstance(out, tuple):
        (out, *hidden), (teacher, *targets) = out, teacher
    t = temperature
    p = (teacher.detach().float() / t).log_softmax(-1).reshape(-1, teacher.shape[-1])
    q = (out.float() / t).log_softmax(-1).reshape(-1, out.shape[-1])
    loss = t * t * torch.nn.functional.kl_div(q, p, log_target=True, reduction="batchmean")
    if hidden:
        loss = loss + hidden_weight * sum((h.float() - z.detach().float()).pow(2).sum() / z.detach().float().pow(2).sum()
                                          for h, z in zip(hidden, targets)) / len(hidden)
    return loss


def finetune(g: MaseGraph, batches: Iterable, steps: int, lr: float, loss_fn, schedule: str = "linear",
             values: tuple[str, ...] = ()) -> list[float]:
    """``steps`` Adam steps over ``batches`` (cycled); returns the loss of each step. With the
    "linear" schedule step i (from 0) uses lr * (1 - i / steps): the late steps are small, so
    the result does not depend on which batch happened to come last. With ``values`` the loss
    gets the tuple (outputs..., those values) of the student (recorded by mase_ir.capture)."""
    params = g.parameters()
    if not params:
        raise ValueError("quantize: qat found no trainable parameters in the graph")
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, (lambda i: 1 - i / steps) if schedule == "linear" else (lambda i: 1.0))
    losses = []
    data = list(batches)
    if not data:
        raise ValueError("quantize: qat got an empty batch list")
    for inputs, target in itertools.islice(itertools.cycle(data), steps):
        opt.zero_grad()
        loss = loss_fn(_outputs_and(g, inputs, values) if values else g(**inputs), target)
        loss.backward()
        opt.step()
        sched.step()
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
