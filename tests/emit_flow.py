"""Shared steps of the emit integration tests: PyTorch -> trace -> quantize -> parallelize ->
emit -> Icarus simulation of the emitted top, and decoding of what the simulation produced."""

import json

import mx_formats as mxf
import numpy as np
from mase_hwlib import streams

from mase_passes.passes import get_pass


def flow(q, x, out_dir, **parallelize_opts):
    """Parallelize and emit a quantized graph; returns (parallelized graph, report, EmitResult)."""
    g, report = get_pass("parallelize")(**parallelize_opts).apply(q)
    result = get_pass("emit")().apply(g, out_dir, sample_inputs={"x": x})
    return g, report, result


def simulated_outputs(result) -> dict:
    """The output beats the simulation wrote (sim_out/outputs.json) as MXArrays, per output port."""
    seen = json.loads((result.out_dir / "sim_out" / "outputs.json").read_text())
    vec = json.loads((result.out_dir / "vectors.json").read_text())
    out = {}
    for port, spec in vec["outputs"].items():
        beats = seen["outputs"][port]
        fmt = mxf.parse(spec["format"])
        axes = (-1, -2) if len(fmt.block) == 2 else (-1,)
        rows = int(np.prod(spec["shape"][:-1]))
        out[port] = streams.beats_to_mx({"mant": np.array(beats["mant"], dtype=np.int64),
                                         "exp": np.array(beats["exp"], dtype=np.int64).reshape(-1, 1)},
                                        fmt, (rows, spec["shape"][-1]), axes)
    return out


def assert_bit_exact(sim, exact):
    """Same shared exponents and mantissas, block by block."""
    a, b = streams.mx_to_beats(sim), streams.mx_to_beats(exact)
    np.testing.assert_array_equal(a["exp"], b["exp"])
    np.testing.assert_array_equal(a["mant"], b["mant"])
