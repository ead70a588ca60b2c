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

Two limits keep a broken design from hanging the caller:

* ``max_cycles`` (simulated time): a design that never asserts ``valid`` (or never
  ``ready``) stops the bench after that many clock cycles; the error names the
  module and every stream that is short of beats, with its count and the cycle of
  its last handshake.
* ``timeout`` (wall-clock seconds): a design whose simulated time stops advancing
  (a zero-delay combinational loop keeps Icarus busy in one time step forever, so
  the cycle limit is never reached) is killed after ``timeout`` seconds; the error
  names the module and says that simulated time stopped. The watchdog finds the
  simulator as the child process whose working directory is this run's directory
  (Linux ``/proc``; elsewhere only ``max_cycles`` applies).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mase_hwlib import catalog, streams
from mase_hwlib.extras import require

__all__ = ["SimResult", "SimTimeout", "simulate", "build", "build_dir_for"]

TIMESCALE = ("1ns", "1ps")


class SimTimeout(RuntimeError):
    """A simulation hit ``max_cycles`` (simulated time) or ``timeout`` (wall-clock seconds).

    A ``RuntimeError``, so callers that already catch failed simulations catch this too."""


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
    get_runner = require("cocotb_tools.runner", "mase-hwlib[sim]", "mase_hwlib.simulate").get_runner

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
    timeout: float | None = None,
) -> SimResult:
    """Run ``module`` on ``inputs`` and return its outputs and cycle counts.

    ``inputs``: ``{stream: {field: array}}`` or ``{stream: MXArray}`` (see
    :mod:`mase_hwlib.streams`).  The number of output beats to wait for is
    ``expected_beats[stream]`` if given, else what the golden model produces
    for these inputs.  ``max_cycles`` bounds the run (default: generous in the
    number of beats); reaching it is an error that names the module and the
    streams short of beats.  ``timeout`` bounds the wall-clock time of the
    simulator process (default ``$MASE_HWLIB_SIM_TIMEOUT`` or 120 s plus
    ``max_cycles / 100`` s, far above any healthy run); reaching it kills the
    simulator and raises an error naming the module.
    """
    get_runner = require("cocotb_tools.runner", "mase-hwlib[sim]", "mase_hwlib.simulate").get_runner

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
    if timeout is None:
        env = os.environ.get("MASE_HWLIB_SIM_TIMEOUT")
        timeout = float(env) if env else 120.0 + max_cycles / 100
    if not timeout > 0:
        raise ValueError(f"simulate: timeout must be a positive number of seconds, got {timeout}")

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
        with _quiet_cocotb_log(run_dir / "test.log"), _Watchdog(run_dir, timeout) as watchdog:
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
            except (SystemExit, RuntimeError) as exc:  # the runner exits under pytest on a failed test
                if watchdog.fired:
                    raise SimTimeout(_hang_text(module, timeout, run_dir)) from None
                raise _failure(module, run_dir, exc, desc) from None
        if watchdog.fired:
            raise SimTimeout(_hang_text(module, timeout, run_dir))
        result_file = run_dir / "outputs.npz"
        if not result_file.is_file():
            raise _failure(module, run_dir, None, desc)
        meta = json.loads((run_dir / "outputs.json").read_text())
        if meta.get("error"):
            raise _error(module, meta, desc)
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


def _failure(module: str, run_dir: Path, exc, desc: dict) -> RuntimeError:
    meta = run_dir / "outputs.json"
    if meta.is_file():
        data = json.loads(meta.read_text())
        if data.get("error"):
            return _error(module, data, desc)
    log = run_dir / "sim.log"
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.is_file() else "(no log)"
    return RuntimeError(f"simulate({module}): the simulation failed ({exc!r}); end of the simulator log:\n{tail}")


def _error(module: str, meta: dict, desc: dict) -> RuntimeError:
    """The bench's error, plus, after a cycle timeout, each stream that is short of beats."""
    err = meta["error"]
    if not err.startswith("timeout"):
        return RuntimeError(f"simulate({module}): {err}")
    cycles = meta.get("cycles", {})
    stalled = []
    for kind, verb, key in (("output", "delivered", "outputs"), ("input", "accepted", "inputs")):
        for s in desc[key]:
            seen = cycles.get(s["name"], [])
            if len(seen) >= s["beats"]:
                continue
            if seen:
                when = f"last handshake at cycle {seen[-1]}"
            elif kind == "output":
                when = f"{s['name']}_valid never rose while the bench held {s['name']}_ready high"
            else:
                when = f"{s['name']}_ready never rose while the bench held {s['name']}_valid high"
            stalled.append(f"{kind} stream '{s['name']}' {verb} {len(seen)} of {s['beats']} beats ({when})")
    return SimTimeout(f"simulate({module}): {err}; stalled: " + "; ".join(stalled or ["no stream (all beats moved)"]))


def _hang_text(module: str, timeout: float, run_dir: Path) -> str:
    return (f"simulate({module}): no result after {timeout:g} s of wall-clock time; the simulator was killed. "
            "Simulated time stopped advancing (e.g. a zero-delay combinational loop) or the run is far "
            "slower than expected; raise `timeout=` (or $MASE_HWLIB_SIM_TIMEOUT) only for the latter.")


class _Watchdog:
    """Kill the simulator of one run if it outlives ``timeout`` seconds.

    The runner starts ``vvp`` with ``subprocess.run`` and no timeout; we find that child
    as the process of ours whose working directory is ``run_dir`` (unique per call, so
    concurrent simulations in other threads are never touched) and SIGKILL it.
    """

    def __init__(self, run_dir: Path, timeout: float):
        self.run_dir, self.timeout = str(Path(run_dir).resolve()), timeout
        self.fired = False
        self._done = threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._watch, name="mase-hwlib-sim-watchdog", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        return False

    def _watch(self):
        if self._done.wait(self.timeout):
            return
        self.fired = True
        while not self._done.is_set():  # the simulator may not have started yet: keep looking
            for pid in _children_in(self.run_dir):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            self._done.wait(0.2)


def _children_in(cwd: str) -> list[int]:
    """Our direct child processes whose working directory is ``cwd`` (Linux /proc)."""
    me, found = os.getpid(), []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            if ppid == me and os.readlink(f"/proc/{entry}/cwd") == cwd:
                found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found
