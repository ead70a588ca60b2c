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


def uncovered_nodes(q, design, extra=()) -> list[str]:
    """Nodes of ``q`` the design leaves out: not host side, no stage of their own, no no-op view,
    not inside an attention pattern nor in ``extra`` (e.g. a pooling pattern's nodes)."""
    from mase_passes.hardware.attention import find_attention

    covered = {s.node for s in design.stages} | set(design.aliases) | set(extra)
    for p in find_attention(q):
        covered |= set(p.nodes)
    return [n.name for n in q.nodes if n.name not in design.host_nodes and n.name not in covered]


def emit_whole(q, xs, out_dir):
    """Parallelize a whole quantized model for the U250 (no widening) and emit it with vectors of
    its first input; returns the EmitResult."""
    p, _ = get_pass("parallelize")(budget="u250", widen=False).apply(q)
    return get_pass("emit")().apply(p, out_dir, sample_inputs=xs[0])


def per_input_outputs(result, seen: dict, count: int, k: int) -> dict:
    """Input ``k``'s share of ``count`` inputs simulated back to back, per output value, as MXArrays."""
    from mase_passes.hardware import topgen

    out, ports = {}, topgen.port_names(result.design)
    for v in result.design.outputs:
        beats = seen[ports[v.name]]
        per = len(beats["cycle"]) // count
        out[v.name] = streams.beats_to_mx({"mant": np.array(beats["mant"][k * per:(k + 1) * per], dtype=np.int64),
                                           "exp": np.array(beats["exp"][k * per:(k + 1) * per],
                                                           dtype=np.int64).reshape(-1, 1)},
                                          v.fmt, v.shape, v.axes)
    return out


def simulate_back_to_back(result, xs, value: str) -> list:
    """Simulate ``xs`` back to back with Verilator and check the design: it passes, each input's
    ``value`` equals the exact emulation of that input alone bit for bit, and the measured
    initiation interval is within 20% of the estimate (inputs overlapping in the pipeline).
    Returns the simulated ``value`` per input."""
    from mase_passes.hardware import emulate, verilator

    run = verilator.simulate(result.out_dir, verilator.vectors_for(result, xs))
    assert run.passed, run.errors[:5]
    seen = json.loads((result.out_dir / "sim_out" / "outputs.json").read_text())["outputs"]
    sims = [per_input_outputs(result, seen, len(xs), k)[value] for k in range(len(xs))]
    for k, x in enumerate(xs):
        assert_bit_exact(sims[k], emulate.exact(result.design, x)[value])
    assert run.measured_ii is not None and run.estimated_ii == result.estimate.cycles_per_input
    assert abs(run.measured_ii - run.estimated_ii) <= 0.2 * run.estimated_ii, run.summary()
    assert run.measured_ii < run.done[0]
    return sims
