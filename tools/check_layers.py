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
  - `import mx_formats` imports torch (checked by importing it; in an interpreter without
    numba, by following its module-level imports).
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
    """Import mx_formats in a subprocess and see whether torch got loaded. An interpreter without
    mx-formats' own dependencies (numba, numpy: outside the hatch environments) cannot import
    it; then the module-level imports reachable from ``mx_formats/__init__.py`` are read instead."""
    src = root / "packages" / "mx-formats" / "src"
    code = "import sys, mx_formats; print('torch' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(src))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if run.returncode != 0:
        tail = (run.stderr.strip().splitlines()[-1:] or ["(no message)"])[0]
        missing = re.fullmatch(r"ModuleNotFoundError: No module named '([\w.]+)'", tail)
        if not (missing and missing.group(1).split(".")[0] in declared_third_party(root / "packages" / "mx-formats")):
            return [f"import mx_formats failed: {tail}"]
        print(f"layering check: this interpreter lacks {missing.group(1)} (an mx-formats dependency); "
              "checked the module-level imports of mx_formats instead of importing it")
        chain = torch_import_chain(src, "mx_formats")
        return [f"import mx_formats imports torch ({' -> '.join(chain)}; torch must stay an optional "
                "extra: mx_formats.torch)"] if chain else []
    if run.stdout.strip() != "False":
        return ["import mx_formats imports torch (torch must stay an optional extra: mx_formats.torch)"]
    return []


def declared_third_party(pkg_dir: Path) -> set[str]:
    """Import names of the package's required (not optional) dependencies, as pip names them."""
    from packaging.requirements import Requirement

    deps = tomllib.loads((pkg_dir / "pyproject.toml").read_text())["project"].get("dependencies", [])
    return {Requirement(text).name.replace("-", "_") for text in deps}


def module_level_imports(tree: ast.Module, module: str, is_package: bool) -> list[str]:
    """Absolute names imported when ``module`` runs (not inside function bodies); relative
    imports resolve against ``module`` itself when it is a package (an __init__.py)."""
    names, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                anchor = parts if is_package else parts[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names.append(base)
            names += [f"{base}.{alias.name}" for alias in node.names]
        todo += list(ast.iter_child_nodes(node))
    return names


def torch_import_chain(src: Path, package: str) -> list[str]:
    """The chain of modules from ``package`` to an import of torch, or [] when there is none."""
    def source(name: str) -> Path | None:
        base = src.joinpath(*name.split("."))
        return next((p for p in (base / "__init__.py", base.with_suffix(".py")) if p.is_file()), None)

    seen, todo = {package}, [[package]]
    while todo:
        chain = todo.pop()
        path = source(chain[-1])
        tree = ast.parse(path.read_text(), filename=str(path))
        for name in module_level_imports(tree, chain[-1], path.name == "__init__.py"):
            if name.split(".")[0] == "torch":
                return chain + [name]
            if name.split(".")[0] == package and name not in seen and source(name) is not None:
                seen.add(name)
                todo.append(chain + [name])
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
