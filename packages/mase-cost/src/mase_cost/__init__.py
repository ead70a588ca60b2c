"""Area and throughput models for mase-hwlib operators, fitted on Yosys synthesis sweeps.

Not built yet: see README.md for what this package will hold."""

from mase_cost.__about__ import __version__

__all__ = ["__version__"]
