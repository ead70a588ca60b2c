"""Where the software half of the flow runs: the ``[model] device`` key and the one helper that
moves things there.

``[model] device`` is a torch device string: ``"cpu"``, ``"cuda"`` (the current GPU) or
``"cuda:N"``; without the key it is ``"cuda"`` when ``torch.cuda.is_available()``, else
``"cpu"``. The model is loaded and traced on the CPU (so every constant the trace folds into
the graph lands in its weights, on one device), then the eager model, the traced graph's weights
and every batch (calibration, evaluation, search) move to the device once (cli/prepare.py).
Everything downstream computes there without further moves: the interpreter runs on whatever
device its weights and inputs are on, fake quantization keeps CUDA tensors on the GPU
(mx_formats.torch), QAT trains the graph's parameters where they are, and a pass that needs
numpy (the profile statistics) copies to the host itself.

The hardware half (mapping, exact emulation in numpy, emit, simulation) reads CPU tensors:
cli/hardware.py moves the sub-graph and its sample inputs to the CPU with :func:`to_device`,
and a graph is saved from a CPU copy.
"""

from __future__ import annotations

import re

CPU = "cpu"
DEVICES = '"cpu", "cuda" or "cuda:N" (N = the GPU index)'
_CUDA = re.compile(r"cuda(?::(\d+))?")


def default_device() -> str:
    """``"cuda"`` when torch sees a usable GPU, else ``"cpu"``."""
    import torch
    return "cuda" if torch.cuda.is_available() else CPU


def device_problem(value: str) -> str | None:
    """What is wrong with ``value`` as ``[model] device`` on this machine, or None."""
    if value == CPU:
        return None
    m = _CUDA.fullmatch(value)
    if m is None:
        return f"must be {DEVICES}"
    import torch
    if not torch.cuda.is_available():
        return ("a GPU is asked for but none is usable here (torch.cuda.is_available() is False: no GPU, "
                "no driver, or a torch build without CUDA); set device = \"cpu\" or leave the key out "
                "(default: \"cuda\" when available, else \"cpu\")")
    if m.group(1) is not None:
        count = torch.cuda.device_count()
        if int(m.group(1)) >= count:
            return (f"GPU {m.group(1)} does not exist: torch sees {count} GPU(s) (cuda:0 .. cuda:{count - 1}); "
                    f"set another index or \"cuda\"")
    return None


def to_device(x, device: str):
    """``x`` on ``device``:

    * a tensor: ``x.to(device)`` (the tensor itself when it is already there);
    * a ``torch.nn.Module``: moved in place and returned;
    * a MaseGraph: a copy (mase_passes.graphs.clone) whose weights are on ``device``; a
      ``torch.nn.Parameter`` stays a Parameter with its ``requires_grad``, a weight already on
      ``device`` is shared with ``x`` (as a clone shares it), two paths holding one tensor still
      hold one tensor;
    * a dict, list or tuple (batches of ``(inputs, target)``): a new container of moved items;
    * anything else as it is.
    """
    return _move(x, device)


def _move(x, device: str):
    import torch
    from mase_ir import MaseGraph

    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, torch.nn.Module):
        return x.to(device)
    if isinstance(x, MaseGraph):
        from mase_passes.graphs import clone
        g = clone(x)
        moved: dict[int, torch.Tensor] = {}
        for path, w in g.weights.items():
            if id(w) not in moved:
                t = w.detach().to(device)
                if t.device == w.device:
                    moved[id(w)] = w  # already there: shared, as clone shares it
                elif isinstance(w, torch.nn.Parameter):
                    moved[id(w)] = torch.nn.Parameter(t, requires_grad=w.requires_grad)
                else:
                    moved[id(w)] = t
            g.weights[path] = moved[id(w)]
        return g
    if isinstance(x, dict):
        return {k: _move(v, device) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_move(v, device) for v in x)
    return x
