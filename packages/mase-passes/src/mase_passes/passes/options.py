"""Pass options: written once, as dataclass fields, and read by everything that sets them.

A pass option is a dataclass field made with :func:`option`: its default, a one-line doc and
the checks a value must pass (``choices``, ``at_least``, ``positive``). The pipeline runner
(mase_passes.pipeline) and the ``mase`` command's config sections (mase_passes.cli.schema)
both read these fields, so a new option needs no other change to be settable from a pipeline
string, a pipeline TOML file or a run config.

Values from text (TOML or a pipeline string) are converted to the field's annotation by
:func:`coerce`: lists become tuples, an int is accepted where a float is wanted, ``X | None``
accepts None; anything else is an :class:`OptionError` saying what was expected.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Mapping


class OptionError(ValueError):
    """A pass option is unknown or its value has the wrong type or range; the message names it."""


def option(default: Any = dataclasses.MISSING, doc: str = "", *, factory: Callable[[], Any] | None = None,
           choices: tuple | None = None, at_least: float | None = None, positive: bool = False,
           text: bool = True) -> Any:
    """A dataclass field with the metadata the runner and the CLI read. ``text=False``: the
    option holds a Python object (a callback, a shared cache) and cannot be written as text."""
    meta = {"doc": doc, "choices": choices, "at_least": at_least, "positive": positive, "text": text}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class OptionSpec:
    """One option of a pass: name, annotation (resolved), default, doc and checks."""

    name: str
    annotation: Any
    default: Any
    doc: str
    choices: tuple | None = None
    at_least: float | None = None
    positive: bool = False
    text: bool = True

    def problem(self, value: Any) -> str | None:
        """What is wrong with an already converted value (None: nothing)."""
        if value is None:
            return None
        if self.choices is not None and value not in self.choices:
            return f"must be one of {list(self.choices)}"
        if self.at_least is not None and value < self.at_least:
            return f"must be >= {self.at_least:g}"
        if self.positive and not value > 0:
            return "must be > 0"
        return None


def pass_options(cls) -> list[OptionSpec]:
    """The options of pass class ``cls``, in field order (every dataclass field but none)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        m = f.metadata
        out.append(OptionSpec(f.name, hints[f.name], default, m.get("doc", ""), m.get("choices"),
                              m.get("at_least"), bool(m.get("positive")), m.get("text", True)))
    return out


def type_text(annotation: Any) -> str:
    """How a user writes a value of ``annotation``: int, float, str, bool, [int, ...], [int, int], ..."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return "any"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_text(a) for a in args if a is not type(None)) + (
            " | none" if type(None) in args else "")
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"[{type_text(args[0])}, ...]"
        if not args:
            return "[...]"
        return "[" + ", ".join(type_text(a) for a in args) + "]"
    if origin is dict:
        return f"{{{type_text(args[0])}: {type_text(args[1])}}}" if args else "table"
    return getattr(annotation, "__name__", str(annotation))


_WANT = {int: "a whole number", float: "a number", str: "a string (in quotes)", bool: "true or false"}


def expected(annotation: Any) -> str:
    """The phrase of an error message: what a value of ``annotation`` looks like."""
    if annotation in _WANT:
        return _WANT[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        example = {int: "[4, 5]", str: '["a", "b"]', float: "[0.5, 1.0]"}.get(args[0], "[...]")
        return f"a list of {type_text(args[0])}, e.g. {example}"
    if origin is tuple and args and all(a is int for a in args):
        return f"{len(args)} whole numbers {type_text(annotation)}, e.g. {list(range(2, 2 + len(args)))}"
    return type_text(annotation)


def coerce(value: Any, annotation: Any) -> Any:
    """``value`` (as TOML or a pipeline string gives it) converted to ``annotation``; raises
    :class:`OptionError` with what was expected."""
    ok, out = _coerce(value, annotation)
    if not ok and isinstance(value, float) and not math.isfinite(value):
        raise OptionError(f"must be a finite number, got {value}")
    if not ok:
        raise OptionError(f"expected {expected(annotation)}, got {show(value)}")
    return out


def _coerce(v: Any, t: Any) -> tuple[bool, Any]:
    if t is Any:
        return True, v
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin in (typing.Union, types.UnionType):
        if v is None:
            return type(None) in args, None
        for a in args:
            if a is not type(None):
                ok, out = _coerce(v, a)
                if ok:
                    return True, out
        return False, None
    if t is bool:
        return isinstance(v, bool), v
    if t is int:
        return isinstance(v, int) and not isinstance(v, bool), v
    if t is float:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            return True, float(v)
        return False, None
    if t is str:
        return isinstance(v, str), v
    if origin is tuple:
        if not isinstance(v, (list, tuple)):
            return False, None
        if len(args) == 2 and args[1] is Ellipsis:
            items = [_coerce(x, args[0]) for x in v]
        elif not args:
            return True, tuple(v)
        elif len(args) != len(v):
            return False, None
        else:
            items = [_coerce(x, a) for x, a in zip(v, args)]
        return all(ok for ok, _ in items), tuple(x for _, x in items)
    if origin is dict:
        if not isinstance(v, Mapping):
            return False, None
        items = [(_coerce(k, args[0]), _coerce(x, args[1])) for k, x in v.items()]
        return all(a[0] and b[0] for a, b in items), {a[1]: b[1] for a, b in items}
    return isinstance(v, t), v


def show(value: Any) -> str:
    kind = {str: "string", bool: "boolean", int: "integer", float: "number", list: "list", dict: "table",
            tuple: "list"}
    return f"{value!r} ({kind.get(type(value), type(value).__name__)})"
