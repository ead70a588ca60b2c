#!/usr/bin/env python3
"""Check the package layering of DESIGN.md §2.

    python tools/check_layers.py [--root DIR]

Fails (exit 1, one line per problem) when
  - a package imports an internal package it may not depend on (the table below,
    closed transitively: mase-cost may use mx_formats through mase-hwlib),
  - a package imports an internal package it does not declare in its pyproject
    (it would not install alone),
  - a package declares an internal dependency that is not allowed,
  - a sibling pin excludes the sibling's current version,
  - `import mx_formats` imports torch.
Only the standard library and `packaging` (shipped with pip) are needed.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

# DESIGN.md §2: package -> the internal packages it depends on directly.
LAYERS = {
    "mx-formats": [],
    "mase-ir": ["mx-formats"],
    "mase-hwlib": ["mx-formats"],
    "mase-cost": ["mase-hwlib"],
    "mase-passes": ["mase-ir", "mx-formats", "mase-hwlib", "mase-cost"],
}
MODULES = {name: name.replace("-", "_") for name in LAYERS}
PACKAGE_OF_MODULE = {module: name for name, module in MODULES.items()}


def allowed(name: str) -> set[str]:
    """Transitive closure of LAYERS[name]."""
    seen: set[str] = set()
    stack = list(LAYERS[name])
    while stack:
        dep = stack.pop()
        if dep not in seen:
            seen.add(dep)
            stack.extend(LAYERS[dep])
    return seen


def current_version(pkg_dir: Path) -> str:
    text = (pkg_dir / "src" / MODULES[pkg_dir.name] / "__about__.py").read_text()
    match = re.search(r'__version__\s*=\s*"([^"]+)"', text)
    if not match:
        raise SystemExit(f"{pkg_dir}: no __version__ in __about__.py")
    return match.group(1)


def internal_imports(src: Path):
    """(file, line, internal package) for every import of an internal module under src."""
    for path in sorted(src.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in PACKAGE_OF_MODULE:
                    yield path, node.lineno, PACKAGE_OF_MODULE[top]


def declared_internal(pyproject: dict):
    from packaging.requirements import Requirement

    reqs = list(pyproject["project"].get("dependencies", []))
    for extra in pyproject["project"].get("optional-dependencies", {}).values():
        reqs.extend(extra)
    for text in reqs:
        req = Requirement(text)
        if req.name in LAYERS:
            yield req


def check(root: Path) -> list[str]:
    problems = []
    versions = {name: current_version(root / "packages" / name) for name in LAYERS}
    for name in LAYERS:
        pkg_dir = root / "packages" / name
        pyproject = tomllib.loads((pkg_dir / "pyproject.toml").read_text())
        ok = allowed(name)
        declared = {}
        for req in declared_internal(pyproject):
            declared[req.name] = req
            if req.name not in ok:
                problems.append(f"{name}/pyproject.toml: declares {req.name}, which {name} may not depend on "
                                f"(allowed: {', '.join(sorted(ok)) or 'nothing internal'})")
            elif not req.specifier.contains(versions[req.name], prereleases=True):
                problems.append(f"{name}/pyproject.toml: pin {req} excludes {req.name}'s current version "
                                f"{versions[req.name]}")
        for path, line, dep in internal_imports(pkg_dir / "src"):
            where = f"{path.relative_to(root)}:{line}"
            if dep == name:
                continue
            if dep not in ok:
                problems.append(f"{where}: {name} imports {MODULES[dep]}, which points up or sideways in the "
                                f"layering (allowed: {', '.join(sorted(ok)) or 'nothing internal'})")
            elif dep not in declared:
                problems.append(f"{where}: {name} imports {MODULES[dep]} but its pyproject does not declare {dep}")
    problems.extend(check_mx_formats_without_torch(root))
    return problems


def check_mx_formats_without_torch(root: Path) -> list[str]:
    code = "import sys, mx_formats; print('torch' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(root / "packages" / "mx-formats" / "src"))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if run.returncode != 0:
        tail = run.stderr.strip().splitlines()[-1:] or ["(no message)"]
        return [f"import mx_formats failed: {tail[0]}"]
    if run.stdout.strip() != "False":
        return ["import mx_formats imports torch (torch must stay an optional extra: mx_formats.torch)"]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    problems = check(args.root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"layering check: {len(problems)} problem(s)")
        return 1
    print(f"layering check: {len(LAYERS)} packages, imports and pins point down the table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
