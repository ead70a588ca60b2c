"""The operator catalog: one typed entry per RTL module.

An entry (:class:`ModuleSpec`) says everything a caller needs to use a module
without reading its Verilog:

* ``params`` — the Verilog parameters, each with a default and a legal range;
* ``derive`` — a function of the parameters that returns derived values (port
  widths, lane counts, latencies) and raises ``ValueError`` on an illegal
  combination;
* ``streams`` — the valid/ready streams with their data fields, whose lane
  counts and widths are names of parameters or derived values;
* ``golden`` — the exact Python model: ``golden(params, inputs) -> outputs``
  on beat arrays (see :mod:`mase_hwlib.streams`);
* ``sources`` — the .sv files, in compile order, found as package data with
  :mod:`importlib.resources` so the catalog works from an installed wheel.

Families register their modules from their own file, one ``register(...)``
call per module.  The list of family modules is :data:`FAMILIES`; adding a
family is one line there.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

__all__ = [
    "FAMILIES",
    "Field",
    "ModuleSpec",
    "Param",
    "Stream",
    "get",
    "names",
    "register",
    "rtl_path",
]

#: Family modules that register catalog entries, imported on first use.
FAMILIES: tuple[str, ...] = (
    "mase_hwlib.catalog_infra",
    "mase_hwlib.catalog_mxint",
    "mase_hwlib.catalog_dot",
    "mase_hwlib.catalog_nonlinear",
    "mase_hwlib.catalog_stream",
    "mase_hwlib.catalog_fixed",
    "mase_hwlib.catalog_bmf",
    "mase_hwlib.catalog_decoder",
    "mase_hwlib.catalog_attention_ops",
    "mase_hwlib.catalog_m2xfp",
)


@dataclass(frozen=True)
class Param:
    """One Verilog parameter: integer in ``[lo, hi]`` (or a string when ``kind='str'``)."""

    name: str
    default: int | str
    doc: str
    lo: int | None = None
    hi: int | None = None
    kind: str = "int"

    def check(self, module: str, value) -> int | str:
        if self.kind == "str":
            if not isinstance(value, str):
                raise ValueError(f"{module}: parameter {self.name} must be a string, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int,)) and not hasattr(value, "__index__"):
            raise ValueError(f"{module}: parameter {self.name} must be an integer, got {value!r}")
        value = int(value)
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise ValueError(
                f"{module}: parameter {self.name}={value} outside its legal range [{self.lo}, {self.hi}]"
            )
        return value


@dataclass(frozen=True)
class Field:
    """A data port of a stream: ``<stream>_<suffix>``, ``lanes`` lanes of ``width`` bits.

    ``lanes`` and ``width`` are ints or names of parameters / derived values.
    Lane ``i`` sits at bits ``[i*width +: width]`` of the port.
    """

    suffix: str
    lanes: int | str
    width: int | str
    signed: bool = False

    def resolve(self, values: Mapping[str, int]) -> tuple[int, int]:
        def get(x):
            return x if isinstance(x, int) else int(values[x])

        return get(self.lanes), get(self.width)


@dataclass(frozen=True)
class Stream:
    """A valid/ready stream ``<name>_valid``, ``<name>_ready`` and its data fields."""

    name: str
    direction: str  # "in" or "out"
    fields: tuple[Field, ...]
    doc: str = ""
    #: For a stream that only some parameter sets use (e.g. the weight stream of a
    #: linear layer whose weights sit in a ROM): ``present(resolved_params) -> bool``.
    #: The ports exist either way; an absent stream is not driven nor expected.
    present: Callable[[Mapping], bool] | None = None

    def active(self, resolved: Mapping) -> bool:
        return self.present is None or bool(self.present(resolved))

    def __post_init__(self):
        if self.direction not in ("in", "out"):
            raise ValueError(f"stream {self.name}: direction must be 'in' or 'out', got {self.direction!r}")


def _no_derived(params: Mapping[str, int]) -> dict[str, int]:
    return {}


@dataclass(frozen=True)
class ModuleSpec:
    """Catalog entry of one RTL module."""

    name: str
    family: str
    doc: str
    params: tuple[Param, ...]
    streams: tuple[Stream, ...]
    golden: Callable
    sources: tuple[str, ...]
    derive: Callable[[Mapping[str, int]], dict] = field(default=_no_derived)

    @property
    def inputs(self) -> tuple[Stream, ...]:
        return tuple(s for s in self.streams if s.direction == "in")

    @property
    def outputs(self) -> tuple[Stream, ...]:
        return tuple(s for s in self.streams if s.direction == "out")

    def inputs_for(self, resolved: Mapping) -> tuple[Stream, ...]:
        """Input streams in use for these (resolved) parameters."""
        return tuple(s for s in self.inputs if s.active(resolved))

    def outputs_for(self, resolved: Mapping) -> tuple[Stream, ...]:
        """Output streams in use for these (resolved) parameters."""
        return tuple(s for s in self.outputs if s.active(resolved))

    def stream(self, name: str) -> Stream:
        for s in self.streams:
            if s.name == name:
                return s
        raise KeyError(f"{self.name}: no stream {name!r} (streams: {[s.name for s in self.streams]})")

    def resolve(self, params: Mapping[str, object] | None = None) -> dict:
        """Full parameter set: defaults filled in, ranges checked, derived values added.

        Returns ``{**params, **derived}``.  Only the keys of ``params`` (not the
        derived ones) are passed to the Verilog build.
        """
        params = dict(params or {})
        known = {p.name for p in self.params}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"{self.name}: unknown parameter(s) {unknown}; legal: {sorted(known)}")
        full = {p.name: p.check(self.name, params.get(p.name, p.default)) for p in self.params}
        derived = self.derive(full)
        return {**full, **derived}

    def verilog_params(self, params: Mapping[str, object] | None = None) -> dict:
        """The Verilog parameters only (defaults filled in and checked)."""
        full = self.resolve(params)
        return {p.name: full[p.name] for p in self.params}

    def ports(self, params: Mapping[str, object] | None = None) -> list[tuple[str, str, int]]:
        """Every Verilog port as ``(name, "input"/"output", width)`` for these parameters:
        ``clk``, ``rst``, then per stream ``_valid``, ``_ready`` and the data fields."""
        full = self.resolve(params)
        ports = [("clk", "input", 1), ("rst", "input", 1)]
        for s in self.streams:
            fwd, back = ("input", "output") if s.direction == "in" else ("output", "input")
            ports += [(f"{s.name}_valid", fwd, 1), (f"{s.name}_ready", back, 1)]
            for f in s.fields:
                lanes, width = f.resolve(full)
                ports.append((f"{s.name}_{f.suffix}", fwd, lanes * width))
        return ports

    def source_paths(self) -> list[Path]:
        """Absolute paths of the RTL sources (package data)."""
        return [rtl_path(s) for s in self.sources]


_REGISTRY: dict[str, ModuleSpec] = {}
_loaded = False


def register(spec: ModuleSpec) -> ModuleSpec:
    """Add one module to the catalog (called once per module by a family file)."""
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"catalog: module {spec.name} registered twice")
    if not spec.name.startswith("mase_"):
        raise ValueError(f"catalog: module name {spec.name} must start with 'mase_'")
    _REGISTRY[spec.name] = spec
    return spec


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for family in FAMILIES:
        importlib.import_module(family)
    _loaded = True


def get(name: str) -> ModuleSpec:
    """The catalog entry of module ``name``."""
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"catalog: no module {name!r}; known: {sorted(_REGISTRY)}") from None


def names() -> list[str]:
    """All module names in the catalog, sorted."""
    _load()
    return sorted(_REGISTRY)


def rtl_path(filename: str) -> Path:
    """Absolute path of an RTL file shipped in ``mase_hwlib/rtl``."""
    ref = resources.files("mase_hwlib").joinpath("rtl", filename)
    path = Path(str(ref))
    if not path.is_file():
        raise FileNotFoundError(f"mase_hwlib: RTL file {filename} is not in the package data ({path})")
    return path
