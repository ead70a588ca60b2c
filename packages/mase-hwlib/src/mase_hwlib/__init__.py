"""SystemVerilog MX operators with exact Python golden models and cocotb benches.

Not built yet: see README.md for what this package will hold."""

from mase_hwlib.__about__ import __version__

__all__ = ["__version__"]
