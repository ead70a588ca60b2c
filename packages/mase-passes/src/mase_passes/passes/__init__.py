"""The pass registry: every pass name and the module that defines it, in one table.

A pass is a frozen dataclass whose fields are its options, with a ``name`` class attribute
and an ``apply(graph, ...)`` method. Modules are imported only when a pass is asked for, so
``import mase_passes`` stays cheap (optuna and matplotlib load with ``search`` / plots).

    from mase_passes.passes import get_pass
    Quantize = get_pass("quantize"); g2 = Quantize(config={"default": "MXInt((16,2),8,5)"}).apply(g)
"""

from __future__ import annotations

import importlib

# pass name -> (module, class). Keep this the single place that says which passes exist.
REGISTRY: dict[str, tuple[str, str]] = {
    "profile": ("mase_passes.passes.profile", "Profile"),
    "quantize": ("mase_passes.passes.quantize", "Quantize"),
    "reorder_channels": ("mase_passes.passes.reorder_channels", "ReorderChannels"),
    "evaluate": ("mase_passes.passes.evaluate", "Evaluate"),
    "search": ("mase_passes.passes.search", "Search"),
    "parallelize": ("mase_passes.passes.parallelize", "Parallelize"),
    "emit": ("mase_passes.passes.emit", "Emit"),
}


def get_pass(name: str):
    """The pass class registered under ``name`` (imported on first use)."""
    if name not in REGISTRY:
        raise KeyError(f"no pass named {name!r}; registered passes: {sorted(REGISTRY)}")
    module, cls = REGISTRY[name]
    return getattr(importlib.import_module(module), cls)


def list_passes() -> list[str]:
    return sorted(REGISTRY)
