"""Printer of the text form (grammar: docs/grammar.md).

    graph(%x: f32[1,784]) {
      %y: f32[1,10] = linear(%x: f32[1,784]) [weight: f32[10,784] = "fc.weight"] {module = "fc"}
      return %y
    }
"""

from __future__ import annotations

import json
import math
from typing import Any

from mase_ir.metadata import HardwareMeta, SoftwareMeta


def format_literal(value: Any) -> str:
    """The text of an attribute value; ``parse_literal`` reads it back to an equal value."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value)  # shortest text that reads back to the same double; 'inf', '-inf' included
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {format_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, SoftwareMeta):
        return f"software(statistics = {format_literal(value.statistics)})"
    if isinstance(value, HardwareMeta):
        return "hardware(" + ", ".join(f"{k} = {format_literal(v)}" for k, v in value.items()) + ")"
    raise TypeError(f"attribute value {value!r} of type {type(value).__name__} has no text form")


def format_node(n) -> str:
    args = ", ".join(f"%{a.name}: {a.type}" for a in n.args)
    line = f"%{n.name}: {n.result} = {n.op}({args})"
    if n.params:
        line += " [" + ", ".join(f"{role}: {p.type} = {json.dumps(p.path)}" for role, p in n.params.items()) + "]"
    attrs = [f"{k} = {format_literal(v)}" for k, v in n.attrs.items()]
    if n.module:
        attrs.append(f"module = {json.dumps(n.module)}")
    if not n.sw.is_empty():
        attrs.append(f"sw = {format_literal(n.sw)}")
    if not n.hw.is_empty():
        attrs.append(f"hw = {format_literal(n.hw)}")
    if attrs:
        line += " {" + ", ".join(attrs) + "}"
    return line


def print_graph(graph) -> str:
    header = "graph(" + ", ".join(f"%{i.name}: {i.type}" for i in graph.inputs) + ") {"
    lines = [header]
    lines += ["  " + format_node(n) for n in graph.nodes]
    lines.append("  return " + ", ".join(f"%{o}" for o in graph.outputs))
    lines.append("}")
    return "\n".join(lines) + "\n"
