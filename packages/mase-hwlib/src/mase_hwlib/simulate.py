"""Run a catalog module's RTL on Icarus Verilog through cocotb 2, from plain Python.

    >>> import mase_hwlib, numpy as np
    >>> r = mase_hwlib.simulate("mase_skid_buffer", {"DATA_WIDTH": 8},
    ...                         {"x": {"data": np.arange(10)}})
    >>> r.outputs["y"]["data"][:, 0]          # the same ten beats
    >>> r.first_output_latency, r.cycles_per_block, r.total_cycles

How it works: the module is compiled once per parameter set into a cache
directory (``$MASE_HWLIB_BUILD`` or ``~/.cache/mase-hwlib``) named
``<module>-<hash of parameters and RTL text>``; a later call with the same
parameters reuses the compiled ``sim.vvp``.  Each call writes its input beats
and the run settings to a fresh directory inside that build directory, runs
the generic cocotb driver :mod:`mase_hwlib._bench` in a ``vvp`` process, and
reads the captured output beats and handshake cycles back.

The driver presents each input beat for one or more cycles (valid held until
ready, as the handshake requires), inserting idle cycles with probability
``idle`` before a beat, and drops each output's ready with probability
``backpressure`` per cycle; both are drawn from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mase_hwlib import catalog, streams

__all__ = ["SimResult", "simulate", "build", "build_dir_for"]

TIMESCALE = ("1ns", "1ps")


@dataclass
class SimResult:
    """Outputs and cycle counts of one simulation.

    ``outputs`` is ``{stream: {field: int64 array (n_beats, lanes)}}``.
    Cycles count rising clock edges after reset is released (cycle 0 is the
    first edge at which a handshake can happen).

    * ``first_output_latency``: cycle of the first output handshake minus the
      cycle of the first input handshake;
    * ``cycles_per_block``: mean distance between consecutive handshakes on the
      first output stream (``nan`` with fewer than two output beats);
    * ``total_cycles``: cycles from the first input handshake to the last
      output handshake, both included.
    """

    outputs: dict
    first_output_latency: int
    cycles_per_block: float
    total_cycles: int
    handshake_cycles: dict = field(default_factory=dict)

    def output_mx(self, stream: str, fmt, shape, axes=None):
        """An MXInt output stream as an ``mx_formats.MXArray`` of ``shape`` (see streams.beats_to_mx)."""
        return streams.beats_to_mx(self.outputs[stream], fmt, shape, axes)


def _cache_root() -> Path:
    root = os.environ.get("MASE_HWLIB_BUILD")
    return Path(root) if root else Path.home() / ".cache" / "mase-hwlib"


def build_dir_for(spec: catalog.ModuleSpec, vparams: Mapping[str, object]) -> Path:
    """Cache directory for one module and parameter set (changes with the RTL text too)."""
    h = hashlib.sha256()
    h.update(json.dumps(sorted(vparams.items()), default=str).encode())
    for path in spec.source_paths():
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for value in vparams.values():  # files named by string parameters (ROM images)
        if isinstance(value, str) and os.path.isfile(value):
            h.update(Path(value).read_bytes())
    return _cache_root() / f"{spec.name}-{h.hexdigest()[:16]}"


def _verilog_value(value):
    return f'"{value}"' if isinstance(value, str) else value


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build(module: str, params: Mapping[str, object] | None = None) -> Path:
    """Compile ``module`` with ``params`` (once per cache key); returns the build dir."""
    from cocotb_tools.runner import get_runner

    spec = catalog.get(module)
    vparams = spec.verilog_params(params)
    bdir = build_dir_for(spec, vparams)
    with _locked(bdir.with_suffix(".lock")):
        if not (bdir / "sim.vvp").is_file():
            bdir.mkdir(parents=True, exist_ok=True)
            runner = get_runner("icarus")
            with _quiet_cocotb_log(bdir / "build.log"), _build_errors(module, bdir / "build.log"):
                runner.build(
                    sources=[str(p) for p in spec.source_paths()],
                    hdl_toplevel=spec.name,
                    parameters={k: _verilog_value(v) for k, v in vparams.items()},
                    build_dir=str(bdir),
                    timescale=TIMESCALE,
                    always=True,
                    log_file=str(bdir / "build.log"),
                )
    return bdir


@contextlib.contextmanager
def _build_errors(module: str, log: Path):
    """Turn a failed compile into an error that shows the compiler's messages."""
    try:
        yield
    except (RuntimeError, SystemExit) as exc:
        text = log.read_text(errors="replace") if log.is_file() else ""
        lines = [ln for ln in text.splitlines() if "Running command" not in ln][-20:]
        raise RuntimeError(f"build of {module} failed ({exc}):\n" + "\n".join(lines)) from None


@contextlib.contextmanager
def _quiet_cocotb_log(logfile: Path):
    """Keep the runner's INFO chatter out of the caller's console."""
    import logging

    log = logging.getLogger("cocotb")
    old = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(old)


def simulate(
    module: str,
    params: Mapping[str, object] | None,
    inputs: Mapping,
    *,
    idle: float = 0.0,
    backpressure: float = 0.0,
    seed: int = 0,
    max_cycles: int | None = None,
    expected_beats: Mapping[str, int] | None = None,
) -> SimResult:
    """Run ``module`` on ``inputs`` and return its outputs and cycle counts.

    ``inputs``: ``{stream: {field: array}}`` or ``{stream: MXArray}`` (see
    :mod:`mase_hwlib.streams`).  The number of output beats to wait for is
    ``expected_beats[stream]`` if given, else what the golden model produces
    for these inputs.  ``max_cycles`` bounds the run (default: generous in the
    number of beats); reaching it is an error that names the missing beats.
    """
    from cocotb_tools.runner import get_runner

    if not 0 <= idle < 1 or not 0 <= backpressure < 1:
        raise ValueError(f"simulate: idle and backpressure must be in [0, 1), got {idle}, {backpressure}")
    spec = catalog.get(module)
    resolved = spec.resolve(params)
    vparams = {p.name: resolved[p.name] for p in spec.params}
    beats = streams.normalize(spec, resolved, inputs, "in")
    ins, outs = spec.inputs_for(resolved), spec.outputs_for(resolved)
    if expected_beats is None:
        golden_out = spec.golden(resolved, beats)
        expected_beats = {name: len(next(iter(f.values()))) for name, f in golden_out.items()}
    n_in = sum(len(next(iter(f.values()))) for f in beats.values())
    n_out = sum(expected_beats.values())
    if max_cycles is None:
        max_cycles = 200 + 20 * (n_in + n_out) * (1 + int(1 / (1 - max(idle, backpressure))))
        max_cycles += int(resolved.get("SIM_EXTRA_CYCLES", 0))

    bdir = build(module, vparams)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=bdir))
    try:
        desc = {
            "inputs": [_stream_desc(s, resolved, len(next(iter(beats[s.name].values())))) for s in ins],
            "outputs": [_stream_desc(s, resolved, int(expected_beats[s.name])) for s in outs],
            # streams unused by this parameter set: valid / ready held at 0
            "quiet_inputs": [s.name for s in spec.inputs if s not in ins],
            "quiet_outputs": [s.name for s in spec.outputs if s not in outs],
            "idle": idle,
            "backpressure": backpressure,
            "seed": seed,
            "max_cycles": max_cycles,
        }
        (run_dir / "spec.json").write_text(json.dumps(desc))
        np.savez(run_dir / "inputs.npz", **{f"{s}.{f}": a for s, fs in beats.items() for f, a in fs.items()})
        runner = get_runner("icarus")
        results_xml = run_dir / "results.xml"
        with _quiet_cocotb_log(run_dir / "test.log"):
            try:
                runner.test(
                    test_module="mase_hwlib._bench",
                    hdl_toplevel=spec.name,
                    hdl_toplevel_lang="verilog",
                    build_dir=str(bdir),
                    test_dir=str(run_dir),
                    extra_env={
                        "MASE_HWLIB_IO": str(run_dir),
                        "COCOTB_LOG_LEVEL": "WARNING",
                        "GPI_LOG_LEVEL": "WARNING",
                        # pytest's assertion rewriting of every imported module costs ~4 s
                        # per run; the driver's asserts carry their own messages
                        "COCOTB_REWRITE_ASSERTION_FILES": "",
                    },
                    log_file=str(run_dir / "sim.log"),
                    results_xml=str(results_xml),
                    timescale=TIMESCALE,
                )
            except SystemExit as exc:  # the runner exits under pytest on a failed cocotb test
                raise RuntimeError(_failure_text(module, run_dir, exc)) from None
        result_file = run_dir / "outputs.npz"
        if not result_file.is_file():
            raise RuntimeError(_failure_text(module, run_dir, None))
        meta = json.loads((run_dir / "outputs.json").read_text())
        if meta.get("error"):
            raise RuntimeError(f"simulate({module}): {meta['error']}")
        data = np.load(result_file)
        outputs = {s.name: {f.suffix: data[f"{s.name}.{f.suffix}"] for f in s.fields} for s in outs}
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    cyc = meta["cycles"]
    first_in = min((c[0] for c in (cyc[s.name] for s in ins) if c), default=0)
    out_cycles = [cyc[s.name] for s in outs if cyc[s.name]]
    first_out = min((c[0] for c in out_cycles), default=first_in)
    last_out = max((c[-1] for c in out_cycles), default=-1)
    primary = cyc[outs[0].name] if outs else []
    per_block = float((primary[-1] - primary[0]) / (len(primary) - 1)) if len(primary) > 1 else float("nan")
    return SimResult(
        outputs=outputs,
        first_output_latency=int(first_out - first_in),
        cycles_per_block=per_block,
        total_cycles=int(last_out - first_in + 1),
        handshake_cycles=cyc,
    )


def _stream_desc(s: catalog.Stream, resolved, n_beats: int) -> dict:
    fields = []
    for f in s.fields:
        lanes, width = f.resolve(resolved)
        fields.append({"suffix": f.suffix, "lanes": lanes, "width": width, "signed": f.signed})
    return {"name": s.name, "fields": fields, "beats": n_beats}


def _failure_text(module: str, run_dir: Path, exc) -> str:
    meta = run_dir / "outputs.json"
    if meta.is_file():
        err = json.loads(meta.read_text()).get("error")
        if err:
            return f"simulate({module}): {err}"
    log = run_dir / "sim.log"
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.is_file() else "(no log)"
    return f"simulate({module}): the simulation failed ({exc!r}); end of the simulator log:\n{tail}"
