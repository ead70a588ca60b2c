"""SystemVerilog MX operators with exact Python golden models and cocotb benches.

    import mase_hwlib
    spec = mase_hwlib.catalog.get("mase_mxint_mul")      # params, streams, golden, sources
    result = mase_hwlib.simulate("mase_mxint_mul", params, inputs)   # RTL on Icarus
    y = mase_hwlib.ops.linear(qx, qw, qb, out_fmt, backend="rtl")    # MXArrays in and out
"""

from mase_hwlib import catalog, ops, streams
from mase_hwlib.__about__ import __version__
from mase_hwlib.simulate import SimResult, SimTimeout, simulate

__all__ = ["SimResult", "SimTimeout", "__version__", "catalog", "ops", "simulate", "streams"]
