"""Every package builds a wheel; mx-formats installs alone in a clean venv and passes its tests there."""

import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())


def run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheels")
    for name in PACKAGES:
        run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT / "packages" / name)])
    return out


@pytest.mark.parametrize("name", PACKAGES)
def test_each_package_builds_a_wheel_with_its_version(wheels, name):
    about = (ROOT / "packages" / name / "src" / name.replace("-", "_") / "__about__.py").read_text()
    version = about.split('"')[1]
    assert (wheels / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").exists()
    pyproject = tomllib.loads((ROOT / "packages" / name / "pyproject.toml").read_text())
    assert pyproject["tool"]["hatch"]["version"]["path"] == f"src/{name.replace('-', '_')}/__about__.py"


@pytest.mark.slow
def test_mx_formats_installs_alone_and_its_tests_pass(wheels, tmp_path):
    """A clean venv (no torch, no siblings): install the wheel, copy the tests out of the
    source tree so they import the installed package, run them."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    wheel = next(wheels.glob("mx_formats-*.whl"))
    run([str(python), "-m", "pip", "install", "-q", f"{wheel}[test]"])
    tests = tmp_path / "tests"
    shutil.copytree(ROOT / "packages" / "mx-formats" / "tests", tests, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "HATCH"))}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")
    result = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)], cwd=tmp_path, env=env)
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary, summary
    # torch is not installed there: its tests are the only skips
    check = run([str(python), "-c", "import importlib.util as u, mx_formats; print(u.find_spec('torch') is None, mx_formats.__file__)"])
    is_missing, location = check.stdout.split()
    assert is_missing == "True" and "site-packages" in location
