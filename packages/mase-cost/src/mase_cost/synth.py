"""One Yosys synthesis of one hwlib operator at one parameter point.

The flow is the one fixed by DESIGN.md section 6::

    read_verilog -sv <catalog sources>
    chparam -set <P> <v> ... <module>
    synth_xilinx -family xc7 -noiopad -flatten [-nodsp] -top <module>
    tee -o stat.json stat -json

and the resource counts are read from ``stat -json``:

* ``lut``   = LUT1 + ... + LUT6 (logic LUTs; LUTRAM cells counted apart in ``lutram``);
* ``ff``    = every FD* primitive (FDRE, FDSE, FDCE, FDPE);
* ``dsp``   = DSP48E1;
* ``carry`` = CARRY4;
* ``bram``  = RAMB18E1 + 2 * RAMB36E1 (in 18 Kb halves);
* ``muxf``  = MUXF7 + MUXF8;
* ``cells`` = every cell yosys reports.

A failure or a timeout never raises: it comes back as a record with
``status`` ``"failed"`` / ``"timeout"`` and the tool's last lines in ``error``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from mase_hwlib import catalog

import mase_cost

__all__ = ["TARGETS", "point_key", "rtl_version", "synthesize", "yosys_version", "resources_from_stat"]

#: Resource columns of a record, in order.
TARGETS = ("lut", "ff", "dsp", "carry", "bram", "lutram", "muxf", "cells")

_LUTRAM = ("RAM32M", "RAM64M", "RAM32X1D", "RAM64X1D", "RAM128X1D", "RAM256X1S", "RAM32X1S", "RAM64X1S", "SRL16E", "SRLC32E")


def point_key(module: str, params: Mapping[str, int], nodsp: bool) -> str:
    """Canonical identity of a sweep point (what resume compares)."""
    return f"{module}|{json.dumps(dict(sorted(params.items())), separators=(',', ':'))}|nodsp={int(bool(nodsp))}"


@functools.cache
def yosys_version(yosys: str = "yosys") -> str:
    """``yosys -V`` text, e.g. ``Yosys 0.23 (git sha1 7ce5011c24b)``."""
    out = subprocess.run([yosys, "-V"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


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
        "cells": int(stat["design"]["num_cells"]),
    }


def _script(module: str, vparams: Mapping[str, object], nodsp: bool, sources, stat_path: Path) -> str:
    files = " ".join(f'"{p}"' for p in sources)
    sets = " ".join(f"-set {k} {int(v)}" for k, v in vparams.items() if not isinstance(v, str))
    lines = [f"read_verilog -sv {files}"]
    if sets:
        lines.append(f"chparam {sets} {module}")
    lines.append(f"synth_xilinx -family xc7 -noiopad -flatten{' -nodsp' if nodsp else ''} -top {module}")
    # relative path: yosys keeps the quotes of a quoted -o argument literally
    lines.append(f"tee -q -o {stat_path.name} stat -json")
    return "\n".join(lines) + "\n"


def synthesize(
    module: str,
    params: Mapping[str, int],
    nodsp: bool = False,
    timeout: float = 600.0,
    yosys: str = "yosys",
) -> dict:
    """Synthesize ``module`` at ``params`` and return one dataset record.

    ``params`` are checked against the catalog's legal ranges first (a
    ``ValueError`` names the module and parameter); only the given parameters
    are set, the others keep their catalog defaults.  The record holds
    ``key, module, params (JSON), nodsp, status, error``, the resource counts
    of :data:`TARGETS`, ``synth_seconds``, ``yosys_version``, ``rtl_version``
    and ``mase_cost_version``.
    """
    spec = catalog.get(module)
    vparams = spec.verilog_params(params)  # raises ValueError on a bad parameter
    given = {k: vparams[k] for k in params}
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
    }
    with tempfile.TemporaryDirectory(prefix="mase-cost-") as tmp:
        stat_path = Path(tmp) / "stat.json"
        script = Path(tmp) / "synth.ys"
        script.write_text(_script(module, given, nodsp, spec.source_paths(), stat_path))
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [yosys, "-q", "-s", str(script)], capture_output=True, text=True, timeout=timeout, cwd=tmp
            )
        except subprocess.TimeoutExpired:
            record.update(status="timeout", error=f"yosys did not finish within {timeout:g} s")
            record["synth_seconds"] = round(time.perf_counter() - start, 3)
            return record
        record["synth_seconds"] = round(time.perf_counter() - start, 3)
        if proc.returncode != 0 or not stat_path.is_file():
            tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-5:]
            record.update(status="failed", error=f"yosys exit {proc.returncode}: " + " | ".join(tail))
            return record
        record.update(resources_from_stat(json.loads(stat_path.read_text())))
    return record
