"""Optional dependencies: import one, or stop with the pip line of the extra that installs it.

    >>> get_runner = require("cocotb_tools.runner", "mase-hwlib[sim]", "simulation").get_runner

A bare ``ModuleNotFoundError: No module named 'cocotb_tools'`` does not say that the package
was installed without its ``sim`` extra; :class:`MissingExtra` does, and is still a
``ModuleNotFoundError`` (code that catches ``ImportError`` keeps working).  The packages above
mase-hwlib (mase-cost, mase-passes) use it for their own extras too.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["MissingExtra", "missing", "require"]


class MissingExtra(ModuleNotFoundError):
    """An optional module is not installed; the message names the extra that installs it."""


def require(module: str, extra: str, what: str) -> ModuleType:
    """``import module``, or raise :class:`MissingExtra`: "<what> needs <module> (not installed):
    pip install '<extra>'" (``extra`` as pip takes it, e.g. ``"mase-hwlib[sim]"``)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = module.split(".")[0]
        if e.name is not None and e.name.split(".")[0] != top:
            raise  # the optional module is there but one of *its* imports is broken: not our message
        raise MissingExtra(f"{what} needs {top} (not installed): pip install '{extra}'", name=e.name) from e


def missing(module: str) -> bool:
    """Whether ``module`` (its top-level package) cannot be imported, without importing it."""
    return importlib.util.find_spec(module.split(".")[0]) is None
