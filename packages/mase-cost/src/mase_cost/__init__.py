"""Area and throughput models for mase-hwlib operators, fitted on Yosys synthesis sweeps.

    >>> from mase_cost import CostModel
    >>> m = CostModel.default()
    >>> m.predict("mase_mxint_mul", {"BLOCK_0": 4, "BLOCK_1": 2, "A_MAN": 5, "B_MAN": 5})
    >>> m.throughput("mase_mxint_linear", {"BLOCK_K": 4, "IN_TILES": 4}, clock_mhz=200)

``sweep`` / ``synthesize`` produce the dataset (also the ``mase-cost sweep`` command).
"""

from mase_cost.__about__ import __version__
from mase_cost.model import CostModel
from mase_cost.sweep import sweep
from mase_cost.synth import synthesize

__all__ = ["CostModel", "__version__", "sweep", "synthesize"]
