"""Quantization configs: which format every tensor of a graph gets.

A config is a dict (or a TOML file with the same layout) with up to four levels, from the
least to the most specific; a more specific level overrides a less specific one per slot:

    default = "MXInt((16,2),8,7)"                       # every slot of every node
    [op.linear]      weight = "MXInt((16,2),8,3)"       # by MASE op name
    [regex."layer\\.[0-3]\\."]  data_out = "MXInt((16,2),8,5)"  # re.search on node name or module path
    [node.linear_5]  bias = "f32"                       # by SSA node name

A level's value is either one format string (all slots) or a table of slots. Slots:
``data_out`` (the node's result), ``data_in`` (the node's floating-point arguments) and any
parameter role of the op (``weight``, ``bias``, ...; ``params`` sets every parameter role).
Order of ``regex`` entries is the order of the dict/TOML; later matches win.

Why ``data_in`` is special: the IR is SSA, so a node's input *is* its producer's result and
carries one format. ``data_out`` decides it; an explicit ``data_in`` at the op, regex or node
level then overrides the producer's format (the default level's ``data_in`` only applies to
graph inputs, which have no producer).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Any, Mapping

import mx_formats as mxf
from mase_ir.ops import OPS

LEVELS = ("default", "op", "regex", "node")
SPECIAL_SLOTS = ("data_in", "data_out", "params")


class ConfigError(ValueError):
    """A quantization config is malformed; the message names the entry at fault."""


def load_config(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """A config dict from a dict or a TOML file path, checked and with formats parsed."""
    if isinstance(source, Mapping):
        raw = dict(source)
        where = "config"
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found")
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        where = str(path)
    unknown = set(raw) - set(LEVELS)
    if unknown:
        raise ConfigError(f"{where}: unknown level(s) {sorted(unknown)}; levels: {list(LEVELS)}")
    out: dict[str, Any] = {}
    if "default" in raw:
        out["default"] = _slots(raw["default"], f"{where}: default", _ALL_SLOTS)
    for level in ("op", "regex", "node"):
        table = raw.get(level, {})
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: [{level}] must be a table of name -> formats")
        out[level] = {}
        for key, value in table.items():
            allowed = _ALL_SLOTS
            if level == "op":
                if key not in OPS:
                    raise ConfigError(f"{where}: op.{key}: no MASE op named {key!r}{_did_you_mean(key, OPS)}")
                allowed = SPECIAL_SLOTS + tuple(r.name for r in OPS[key].roles)
            if level == "regex":
                try:
                    re.compile(key)
                except re.error as exc:
                    raise ConfigError(f"{where}: regex {key!r} does not compile: {exc}") from None
            out[level][key] = _slots(value, f"{where}: {level}.{key}", allowed)
    return out


# Every slot name some op has: the special slots and every operand role of the IR's ops.
# A slot outside the level's set is a typo (``wieght``) that would otherwise match nothing.
_ALL_SLOTS = SPECIAL_SLOTS + tuple(sorted({r.name for spec in OPS.values() for r in spec.roles}))


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _slots(value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, mxf.Format]:
    if isinstance(value, (str, mxf.Format)):
        return {"*": _fmt(value, where)}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a format string or a table of slot -> format, got {value!r}")
    for slot in value:
        # a variadic role's parameters are named <role>.<i> (cat's tensors.0, ...)
        if slot.split(".")[0] not in allowed:
            raise ConfigError(f"{where}: unknown slot {slot!r}{_did_you_mean(slot, allowed)} "
                              f"(slots here: {', '.join(allowed)})")
    return {slot: _fmt(v, f"{where}.{slot}") for slot, v in value.items()}


def _fmt(value: Any, where: str) -> mxf.Format:
    if isinstance(value, mxf.Format):
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{where}: a format must be a string such as 'MXInt((16,2),8,7)', got {value!r}")
    try:
        return mxf.parse(value)
    except Exception as exc:  # mx_formats raises FormatParseError; keep the place in the message
        raise ConfigError(f"{where}: {exc}") from None


def _pick(slots: dict[str, mxf.Format], slot: str, is_param: bool, wildcard: bool) -> mxf.Format | None:
    if slot in slots:
        return slots[slot]
    if is_param and "params" in slots:
        return slots["params"]
    return slots.get("*") if wildcard else None


def resolve(config: dict[str, Any], op: str, name: str, module: str, slot: str,
            is_param: bool = False, include_default: bool = True,
            wildcard: bool = True) -> mxf.Format | None:
    """The format for one slot of one node, or None if no level mentions it.

    Precedence (last wins): default < op < regex (in order) < node. With
    ``wildcard=False`` only entries naming ``slot`` itself count (not a bare format).
    """
    found = None
    levels = []
    if include_default and "default" in config:
        levels.append(config["default"])
    if op in config.get("op", {}):
        levels.append(config["op"][op])
    for pattern, slots in config.get("regex", {}).items():
        if re.search(pattern, name) or (module and re.search(pattern, module)):
            levels.append(slots)
    if name in config.get("node", {}):
        levels.append(config["node"][name])
    for slots in levels:
        fmt = _pick(slots, slot, is_param, wildcard)
        if fmt is not None:
            found = fmt
    return found


def dump_toml(config: Mapping[str, Any]) -> str:
    """Write a config dict (formats or strings) as TOML that :func:`load_config` reads back."""
    def q(s: str) -> str:
        return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def slots_text(v) -> str:
        if isinstance(v, Mapping):
            return "{ " + ", ".join(f"{k} = {q(f)}" for k, f in v.items() if k != "*") + " }" \
                if "*" not in v else q(v["*"])
        return q(v)

    lines = []
    if "default" in config:
        lines.append(f"default = {slots_text(config['default'])}")
    for level in ("op", "regex", "node"):
        table = config.get(level) or {}
        if table:
            lines.append(f"\n[{level}]")
            for key, v in table.items():
                lines.append(f"{q(key)} = {slots_text(v)}")
    return "\n".join(lines) + "\n"
