"""tools/check_layers.py passes on the repository and fails on a tree that breaks the layering."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "tools" / "check_layers.py"


def run_check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), "--root", str(root)], capture_output=True, text=True)


@pytest.mark.slow
def test_the_repository_layering_is_clean():
    result = run_check(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def tree_copy(tmp_path):
    """The packages' pyprojects, version files and sources, in a scratch tree."""
    for pkg in (ROOT / "packages").iterdir():
        shutil.copytree(pkg / "src", tmp_path / "packages" / pkg.name / "src",
                        ignore=shutil.ignore_patterns("__pycache__", "*.sv", "*.mem", "*.csv", "*.json"))
        shutil.copy(pkg / "pyproject.toml", tmp_path / "packages" / pkg.name / "pyproject.toml")
    return tmp_path


@pytest.mark.slow
def test_an_upward_import_fails(tree_copy):
    target = tree_copy / "packages" / "mx-formats" / "src" / "mx_formats" / "formats.py"
    target.write_text(target.read_text() + "\nimport mase_ir  # points up\n")
    result = run_check(tree_copy)
    assert result.returncode == 1
    assert "mx-formats imports mase_ir, which points up or sideways" in result.stdout


@pytest.mark.slow
def test_an_undeclared_sibling_import_fails(tree_copy):
    target = next((tree_copy / "packages" / "mase-cost" / "src" / "mase_cost").glob("__init__.py"))
    target.write_text(target.read_text() + "\nimport mx_formats\n")
    result = run_check(tree_copy)
    assert result.returncode == 1
    assert "does not declare mx-formats" in result.stdout


@pytest.mark.slow
def test_a_pin_that_excludes_the_sibling_version_fails(tree_copy):
    pyproject = tree_copy / "packages" / "mase-ir" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"mx-formats>=0.1,<0.2"', '"mx-formats>=0.2,<0.3"'))
    result = run_check(tree_copy)
    assert result.returncode == 1
    assert "excludes mx-formats's current version" in result.stdout


@pytest.mark.slow
def test_importing_torch_in_mx_formats_fails(tree_copy):
    target = tree_copy / "packages" / "mx-formats" / "src" / "mx_formats" / "__init__.py"
    target.write_text(target.read_text() + "\nimport mx_formats.torch  # noqa\n")
    result = run_check(tree_copy)
    assert result.returncode == 1
    assert "import mx_formats imports torch" in result.stdout


def load_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location("check_layers", CHECK)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.mark.parametrize("module, line, end", [
    (None, None, None),  # the repository as it is
    ("layout.py", "import torch", ["mx_formats.layout", "torch"]),  # reached through mx_formats.api
    ("__init__.py", "from . import torch as _t", ["mx_formats", "mx_formats.torch", "torch"]),
    ("layout.py", "def f():\n    import torch", None),  # inside a function: not run by the import
])
def test_static_torch_check_follows_module_level_imports(tree_copy, module, line, end):
    """The fallback of an interpreter without numba: the chain of module-level imports to torch."""
    src = tree_copy / "packages" / "mx-formats" / "src"
    if module:
        target = src / "mx_formats" / module
        target.write_text(target.read_text() + f"\n{line}\n")
    chain = load_tool().torch_import_chain(src, "mx_formats")
    if end is None:
        assert chain == []
    else:
        assert chain[0] == "mx_formats" and chain[-len(end):] == end
