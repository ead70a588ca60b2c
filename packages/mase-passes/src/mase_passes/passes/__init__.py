"""The pass registry: every pass name and the module that defines it, in one table.

A pass is a frozen dataclass whose fields are its options (made with
:func:`mase_passes.passes.options.option`: default, one-line doc, checks), with class
attributes ``name`` and ``kind``, a typed ``apply(graph, ...)`` for Python callers, and the
one contract the pipeline runner (mase_passes.pipeline) calls, ``run(graph, context) ->
Outcome(graph, report)``:

* an **analysis** (``kind = "analysis"``) writes typed metadata (``node.sw`` / ``node.hw``) or
  context (a chosen config, search seeds) and returns the same graph with a typed report;
* a **transform** (``kind = "transform"``) returns a new graph (the input is left unchanged).

Modules are imported only when a pass is asked for, so ``import mase_passes`` stays cheap
(optuna and matplotlib load with ``search`` / plots).

    from mase_passes.passes import get_pass
    Quantize = get_pass("quantize"); g2 = Quantize(config={"default": "MXInt((16,2),8,5)"}).apply(g)
"""

from __future__ import annotations

import difflib
import importlib

# pass name -> (module, class). Keep this the single place that says which passes exist.
REGISTRY: dict[str, tuple[str, str]] = {
    "profile": ("mase_passes.passes.profile", "Profile"),
    "reorder_channels": ("mase_passes.passes.reorder_channels", "ReorderChannels"),
    "sensitivity": ("mase_passes.passes.sensitivity", "Sensitivity"),
    "allocate": ("mase_passes.passes.allocate", "Allocate"),
    "quantize": ("mase_passes.passes.quantize", "Quantize"),
    "fixed_point": ("mase_passes.passes.fixed_point", "FixedPoint"),
    "freeze_weights": ("mase_passes.passes.freeze_weights", "FreezeWeights"),
    "evaluate": ("mase_passes.passes.evaluate", "Evaluate"),
    "search": ("mase_passes.passes.search", "Search"),
    "extract": ("mase_passes.passes.extract", "Extract"),
    "reblock": ("mase_passes.passes.reblock", "Reblock"),
    "parallelize": ("mase_passes.passes.parallelize", "Parallelize"),
    "transplant": ("mase_passes.passes.transplant", "Transplant"),
    "emit": ("mase_passes.passes.emit", "Emit"),
}


def get_pass(name: str):
    """The pass class registered under ``name`` (imported on first use)."""
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"no pass named {name!r}{hint}; registered passes: {sorted(REGISTRY)}")
    module, cls = REGISTRY[name]
    return getattr(importlib.import_module(module), cls)


def list_passes() -> list[str]:
    return sorted(REGISTRY)
