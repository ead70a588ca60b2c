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

__all__ = ["check_against_golden", "lint", "assert_beats_equal", "rtl_ports"]


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


def mxint_blocks(n: int, lanes: int, man: int, exp: int, rng, *, edge: bool = True, exp_range=None) -> dict:
    """``n`` seeded random MXInt beats plus edge blocks, as ``{"mant", "exp"}`` beat arrays.

    Random blocks draw every element in ``[-(2^m-1), 2^m-1]`` and the shared
    exponent in ``exp_range`` (inclusive, clipped to ``[-emax, emax]``; default
    the whole range) — narrow it to where the operator under test neither
    saturates nor flushes everything to zero, or rounding goes untested. With ``edge``, six blocks are prepended: all
    zeros, all +saturated at +emax, all -saturated at -emax, alternating
    +-saturation at emax, a single smallest element at -emax, and a block
    whose top element only just reaches the top binade (2^(m-1)).
    """
    hi = (1 << man) - 1
    emax = (1 << (exp - 1)) - 1
    mant = rng.integers(-hi, hi + 1, size=(n, lanes))
    lo, hi_e = (-emax, emax) if exp_range is None else (max(-emax, exp_range[0]), min(emax, exp_range[1]))
    exps = rng.integers(lo, hi_e + 1, size=(n, 1))
    if edge:
        one_hot = np.zeros(lanes, dtype=np.int64)
        one_hot[-1] = 1
        top = np.zeros(lanes, dtype=np.int64)
        top[0] = 1 << (man - 1)
        edges_m = np.stack([
            np.zeros(lanes, dtype=np.int64),
            np.full(lanes, hi),
            np.full(lanes, -hi),
            np.where(np.arange(lanes) % 2 == 0, hi, -hi),
            one_hot,
            top,
        ])
        edges_e = np.array([[-emax], [emax], [-emax], [emax], [-emax], [0]])
        mant = np.concatenate([edges_m, mant])
        exps = np.concatenate([edges_e, exps])
    return {"mant": mant.astype(np.int64), "exp": exps.astype(np.int64)}


def rtl_ports(module: str, params: Mapping | None = None) -> list[tuple[str, str, int]]:
    """The top module's ports as elaborated by Verilator (``--xml-only``): (name, dir, width)."""
    import tempfile
    import xml.etree.ElementTree as ET

    spec = catalog.get(module)
    vparams = spec.verilog_params(params)
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/{module}.xml"
        args = ["verilator", "--xml-only", "--xml-output", out, "--top-module", spec.name]
        for k, v in vparams.items():
            args.append(f'-G{k}="{v}"' if isinstance(v, str) else f"-G{k}={v}")
        args += [str(p) for p in spec.source_paths()]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AssertionError(f"verilator --xml-only of {module} failed:\n{proc.stderr}")
        root = ET.parse(out).getroot()
    widths = {}
    for dt in root.iter("basicdtype"):
        left, right = dt.get("left"), dt.get("right")
        widths[dt.get("id")] = abs(int(left) - int(right)) + 1 if left is not None else 1
    top = next(m for m in root.iter("module") if m.get("name") == spec.name)
    return [
        (v.get("name"), v.get("dir"), widths[v.get("dtype_id")])
        for v in sorted((v for v in top.findall("var") if v.get("pinIndex")), key=lambda v: int(v.get("pinIndex")))
    ]
