"""Versions of everything a reported number depends on: the mase packages, Python libraries and
the EDA tools (their own ``-V`` output; "not found" when a tool is not on PATH)."""

from __future__ import annotations

import platform
import shutil
import subprocess
from importlib import metadata

PACKAGES = ("mx-formats", "mase-ir", "mase-hwlib", "mase-cost", "mase-passes",
            "torch", "transformers", "optuna", "numpy", "cocotb")
TOOLS = {"yosys": ["yosys", "-V"], "iverilog": ["iverilog", "-V"], "verilator": ["verilator", "--version"]}


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def tool_versions() -> dict[str, str]:
    out = {}
    for name, cmd in TOOLS.items():
        if shutil.which(cmd[0]) is None:
            out[name] = "not found"
            continue
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            text = (p.stdout or p.stderr).strip().splitlines()
            out[name] = text[0] if text else f"exit {p.returncode}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            out[name] = f"failed: {exc}"
    return out


def all_versions() -> dict[str, str]:
    return {**package_versions(), **tool_versions()}
