"""The MASE passes (profile, quantize, parallelize, evaluate, search, emit) and the `mase` command.

Not built yet: see README.md for what this package will hold."""

from mase_passes.__about__ import __version__

__all__ = ["__version__"]
