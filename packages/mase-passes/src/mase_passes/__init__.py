"""The MASE passes of the co-design loop: profile, quantize, evaluate, search.

    import mase_passes as mp
    g = mase_ir.trace(model, inputs)
    mp.get_pass("profile")().apply(g, calibration_batches)
    q = mp.get_pass("quantize")(config="quant.toml").apply(g)
    r = mp.get_pass("evaluate")(k=0.1).apply(q, batches, reference=g)

Passes live one per module in ``mase_passes.passes``; ``mase_passes.passes.REGISTRY`` lists
them. ``mase_passes.workloads.minilm`` is the default workload (MiniLM on WordNet glosses).
"""

from mase_passes.__about__ import __version__
from mase_passes.bits import average_bits, tensor_bits
from mase_passes.config import ConfigError, load_config
from mase_passes.passes import REGISTRY, get_pass, list_passes

__all__ = ["__version__", "REGISTRY", "get_pass", "list_passes", "load_config", "ConfigError",
           "average_bits", "tensor_bits"]
