"""Typed node metadata: what software passes record and what hardware passes decide.

These replace an untyped ``meta`` dict: every field has a type, a default of
"not decided yet" (``None`` / empty), and a text form inside a node's ``{...}``
attribute block, e.g.
``hw = hardware(ip = "mase_mxint_linear", tile = [16,2], parallelism = [4,4])``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(slots=True)
class SoftwareMeta:
    """Software-side annotations: the statistics slot filled by profiling passes
    (e.g. ``{"amax": 3.5, "variance": 0.2}``), keyed by statistic name."""

    statistics: dict[str, float] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.statistics


@dataclass(slots=True)
class HardwareMeta:
    """Hardware-side annotations of one node.

    ip: name of the hardware IP block implementing the node (e.g. ``mase_mxint_linear``).
    tile: tile shape the block consumes per beat.
    streaming_order: order in which tensor axes are streamed (outermost first).
    interface: stream interface kind (e.g. ``valid_ready``).
    parallelism: parallel lanes per tiled axis.
    area: estimated area (LUT-equivalents).
    throughput: estimated throughput (elements per cycle).
    """

    ip: str | None = None
    tile: tuple[int, ...] | None = None
    streaming_order: tuple[int, ...] | None = None
    interface: str | None = None
    parallelism: tuple[int, ...] | None = None
    area: float | None = None
    throughput: float | None = None

    def __post_init__(self):
        for name in ("tile", "streaming_order", "parallelism"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            ):
                raise TypeError(f"hardware.{name} must be a list of ints, got {value!r}")
            setattr(self, name, tuple(value))
        for name in ("ip", "interface"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"hardware.{name} must be a string, got {value!r}")
        for name in ("area", "throughput"):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise TypeError(f"hardware.{name} must be a number, got {value!r}")
                setattr(self, name, float(value))

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def items(self):
        """The decided fields, in declaration order."""
        return [(f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None]


def software_from_fields(values: dict) -> SoftwareMeta:
    unknown = set(values) - {"statistics"}
    if unknown:
        raise TypeError(f"software() has no field(s) {sorted(unknown)}; fields: ['statistics']")
    stats = values.get("statistics", {})
    if not isinstance(stats, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in stats.values()
    ):
        raise TypeError(f"software.statistics must map names to numbers, got {stats!r}")
    return SoftwareMeta({k: float(v) for k, v in stats.items()})


def hardware_from_fields(values: dict) -> HardwareMeta:
    known = [f.name for f in fields(HardwareMeta)]
    unknown = set(values) - set(known)
    if unknown:
        raise TypeError(f"hardware() has no field(s) {sorted(unknown)}; fields: {known}")
    return HardwareMeta(**values)
