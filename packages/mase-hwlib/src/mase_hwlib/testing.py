"""Bench helpers shared by the hwlib tests: compare RTL to golden, lint with Verilator.

A bench is one dict per test configuration, ``{"params": {...}, ...}``, that
feeds both the build (through :func:`mase_hwlib.simulate`) and the golden model.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping

import numpy as np

from mase_hwlib import catalog, streams
from mase_hwlib.simulate import SimResult, simulate

__all__ = ["check_against_golden", "lint", "assert_beats_equal"]


def assert_beats_equal(module: str, got: Mapping, want: Mapping) -> None:
    """Bit-for-bit comparison of two ``{stream: {field: array}}`` dicts; names the first mismatch."""
    assert set(got) == set(want), f"{module}: output streams {sorted(got)} != {sorted(want)}"
    for name in want:
        for suffix, w in want[name].items():
            g = np.asarray(got[name][suffix])
            w = np.asarray(w)
            if g.shape != w.shape:
                raise AssertionError(f"{module}: {name}_{suffix} has shape {g.shape}, golden {w.shape}")
            bad = np.argwhere(g != w)
            if len(bad):
                beat = bad[0][0]
                raise AssertionError(
                    f"{module}: {name}_{suffix} differs from the golden model at {len(bad)} lane(s); "
                    f"first at beat {beat}: rtl {g[beat].tolist()} golden {w[beat].tolist()}"
                )


def check_against_golden(
    module: str,
    params: Mapping,
    inputs: Mapping,
    *,
    idle: float = 0.3,
    backpressure: float = 0.3,
    seed: int = 0,
) -> SimResult:
    """Run the RTL with random idle cycles and back-pressure; assert it equals the golden model."""
    spec = catalog.get(module)
    resolved = spec.resolve(params)
    beats = streams.normalize(spec, resolved, inputs, "in")
    want = spec.golden(resolved, beats)
    result = simulate(module, params, beats, idle=idle, backpressure=backpressure, seed=seed)
    assert_beats_equal(module, result.outputs, want)
    return result


def lint(module: str, params: Mapping | None = None) -> str:
    """``verilator --lint-only -Wall`` on a module with ``params``; raises with the log on a warning."""
    verilator = shutil.which("verilator")
    if verilator is None:
        raise FileNotFoundError("verilator is not on PATH")
    spec = catalog.get(module)
    vparams = spec.verilog_params(params)
    args = [verilator, "--lint-only", "-Wall", "--top-module", spec.name]
    for k, v in vparams.items():
        args.append(f'-G{k}="{v}"' if isinstance(v, str) else f"-G{k}={v}")
    args += [str(p) for p in spec.source_paths()]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0 or "%Warning" in proc.stderr or "%Error" in proc.stderr:
        raise AssertionError(f"verilator lint of {module} {vparams} failed:\n{proc.stderr}")
    return proc.stderr
