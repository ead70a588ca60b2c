"""The RTL is package data: a built wheel, installed elsewhere, finds every source file."""

import subprocess
import zipfile
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1]


def test_catalog_sources_resolve_inside_an_installed_wheel(tmp_path):
    pytest.importorskip("hatchling")  # the build backend (offline, no pip needed)
    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(wheel_dir)],
                   cwd=PKG, check=True, capture_output=True)
    wheel = next(wheel_dir.glob("mase_hwlib-*.whl"))
    with zipfile.ZipFile(wheel) as zf:  # a pure-Python wheel installs by unpacking
        zf.extractall(site)
    code = (
        "import mase_hwlib\n"
        "from mase_hwlib import catalog\n"
        "paths = [p for n in catalog.names() for p in catalog.get(n).source_paths()]\n"
        "print(mase_hwlib.__file__)\n"
        "print(all(p.is_file() for p in paths), len(paths))\n"
        "print(sorted({str(p.parent) for p in paths}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].startswith(str(site))
    assert out[1].startswith("True")
    assert out[2] == repr([str(site / "mase_hwlib" / "rtl")])
