"""Parser of the text form (grammar: docs/grammar.md).

Any malformed input raises :class:`ParseError` with the line and column of the
offending token, what was expected there and what was found; nothing else
escapes (format errors from mx_formats and bad metadata fields are converted).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any

from mase_ir.graph import MaseGraph, Node, Operand, Param, bind_roles
from mase_ir.metadata import HardwareMeta, SoftwareMeta, hardware_from_fields, software_from_fields
from mase_ir.ops import OPS
from mase_ir.types import TensorType, parse_element

MAX_DEPTH = 32  # nesting limit of literals, so hostile text cannot exhaust the stack


class ParseError(ValueError):
    """A syntax error at ``line``/``column`` (1-based); ``source`` names the file when known."""

    def __init__(self, message: str, line: int, column: int, expected: str, found: str,
                 source: str | None = None):
        self.message, self.line, self.column = message, line, column
        self.expected, self.found, self.source = expected, found, source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}line {line}, column {column}: {message} (expected {expected}, found {found})")

    def in_file(self, source: str) -> "ParseError":
        """The same error, naming the file it came from."""
        return ParseError(self.message, self.line, self.column, self.expected, self.found, source)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # value, ident, int, float, string, punct, eof
    text: str
    pos: int


_TOKEN = re.compile(r"""
    (?P<ws>\s+|//[^\n]*)
  | (?P<value>%[A-Za-z0-9_.]+)
  | (?P<float>-?(?:\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)|-inf\b)
  | (?P<int>-?\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<punct>[()\[\]{},:=])
""", re.VERBOSE | re.ASCII)  # ASCII: \d and \s must not take other scripts


def _describe(tok: Token) -> str:
    if tok.kind == "eof":
        return "end of input"
    return repr(tok.text) if len(tok.text) <= 40 else repr(tok.text[:37] + "...")


class _Parser:
    def __init__(self, text: str):
        # tokens are made one at a time as the parser asks (it looks one token ahead): a list of
        # every token of a 55 MB text took 5.7 GB; now memory is the text plus the graph built
        self.text = text
        self._toks = self._lex(text)
        self._cur = next(self._toks)
        # one TensorType object per distinct (shape, element): a graph repeats a few types
        # thousands of times, and each copy cost ~100 bytes (a third of the parsed graph)
        self._types: dict[tuple, TensorType] = {}
        self._names: dict[str, str] = {}  # each defined value name, to share its string with its uses

    # --- positions and errors ----------------------------------------------------------
    def _linecol(self, pos: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return line, col

    def error(self, expected: str, tok: Token | None = None, message: str | None = None) -> ParseError:
        tok = tok or self.peek()
        line, col = self._linecol(tok.pos)
        return ParseError(message or "syntax error", line, col, expected, _describe(tok))

    def _lex(self, text: str):
        """The tokens of ``text`` in order, whitespace and comments dropped, then ``eof`` forever."""
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                line, col = self._linecol(pos)
                raise ParseError("unexpected character", line, col, "a token", repr(text[pos]))
            kind = m.lastgroup
            assert kind is not None  # every alternative of _TOKEN is a named group
            if kind != "ws":
                yield Token(kind, m.group(), pos)
            pos = m.end()
        eof = Token("eof", "", len(text))
        while True:
            yield eof

    # --- token helpers -------------------------------------------------------------------
    def peek(self) -> Token:
        return self._cur

    def next(self) -> Token:
        tok = self._cur
        if tok.kind != "eof":
            self._cur = next(self._toks)
        return tok

    def accept(self, text: str) -> bool:
        tok = self.peek()
        if tok.kind in ("punct", "ident") and tok.text == text:
            self.next()
            return True
        return False

    def expect(self, text: str) -> Token:
        tok = self.peek()
        if tok.kind in ("punct", "ident") and tok.text == text:
            return self.next()
        raise self.error(repr(text))

    def expect_kind(self, kind: str, what: str) -> Token:
        tok = self.peek()
        if tok.kind != kind:
            raise self.error(what)
        return self.next()

    # --- pieces --------------------------------------------------------------------------------
    def value_name(self) -> tuple[str, Token]:
        tok = self.expect_kind("value", "a value name like %x")
        return tok.text[1:], tok

    def string(self) -> str:
        tok = self.expect_kind("string", "a string")
        try:
            return json.loads(tok.text)
        except ValueError:
            raise self.error("a valid string escape", tok, "bad string literal") from None

    def int_(self, what: str = "an integer") -> int:
        return self._int(self.expect_kind("int", what))

    def _int(self, tok: Token) -> int:
        try:
            return int(tok.text)
        except ValueError:  # Python refuses int() of more than 4300 digits
            raise self.error("an integer of sane size", tok, "integer too long") from None

    def tensor_type(self) -> TensorType:
        start = self.expect_kind("ident", "an element type like f32 or MXInt((16,2),8,7)")
        end = start.pos + len(start.text)
        if self.peek().text == "(" and self.peek().kind == "punct":
            depth = 0
            while True:
                tok = self.next()
                if tok.kind == "eof":
                    raise self.error("')' closing the format", tok)
                if tok.text == "(" and tok.kind == "punct":
                    depth += 1
                elif tok.text == ")" and tok.kind == "punct":
                    depth -= 1
                    if depth == 0:
                        end = tok.pos + 1
                        break
        fmt_text = self.text[start.pos:end]
        try:
            element = parse_element(fmt_text)
        except Exception as exc:  # any failure of the format library is a parse error here
            column = getattr(exc, "column", None)
            column = column if isinstance(column, int) else 0
            line, col = self._linecol(start.pos)
            raise ParseError(f"bad element type: {exc}", line, col + (column or 0),
                             "an element type (f32, i64, bool, or an mx_formats format)",
                             repr(fmt_text)) from None
        self.expect("[")
        dims = []
        if not self.accept("]"):
            dims.append(self.int_("a dimension"))
            while self.accept(","):
                dims.append(self.int_("a dimension"))
            self.expect("]")
        for d in dims:
            if d < 0:
                raise self.error("a non-negative dimension", None, "negative dimension")
        key = (tuple(dims), element)
        t = self._types.get(key)
        if t is None:
            t = self._types[key] = TensorType(*key)
        return t

    def literal(self, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise self.error(f"at most {MAX_DEPTH} nested literals", None, "literal nested too deeply")
        tok = self.peek()
        if tok.kind == "int":
            self.next()
            return self._int(tok)
        if tok.kind == "float":
            self.next()
            return float(tok.text)
        if tok.kind == "string":
            return self.string()
        if tok.kind == "ident":
            self.next()
            keywords = {"true": True, "false": False, "none": None,
                        "inf": float("inf"), "nan": float("nan")}
            if tok.text in keywords:
                return keywords[tok.text]
            if tok.text in ("software", "hardware"):
                return self.record(tok, depth)
            raise self.error("a literal (number, string, true, false, none, [..], {..}, software(..), "
                             "hardware(..))", tok)
        if tok.kind == "punct" and tok.text == "[":
            self.next()
            items = []
            if not self.accept("]"):
                items.append(self.literal(depth + 1))
                while self.accept(","):
                    items.append(self.literal(depth + 1))
                self.expect("]")
            return items
        if tok.kind == "punct" and tok.text == "{":
            self.next()
            table: dict[str, Any] = {}
            if not self.accept("}"):
                while True:
                    key = self.string()
                    self.expect(":")
                    table[key] = self.literal(depth + 1)
                    if not self.accept(","):
                        break
                self.expect("}")
            return table
        raise self.error("a literal")

    def record(self, name: Token, depth: int) -> SoftwareMeta | HardwareMeta:
        self.expect("(")
        values = {}
        if not self.accept(")"):
            while True:
                key = self.expect_kind("ident", "a field name")
                if key.text in values:
                    raise self.error("a new field name", key, "duplicate field")
                self.expect("=")
                values[key.text] = self.literal(depth + 1)
                if not self.accept(","):
                    break
            self.expect(")")
        try:
            return software_from_fields(values) if name.text == "software" else hardware_from_fields(values)
        except (TypeError, ValueError) as exc:
            raise self.error(f"valid {name.text}() fields", name, str(exc)) from None

    # --- graph -------------------------------------------------------------------------------
    def graph(self) -> MaseGraph:
        self.expect("graph")
        self.expect("(")
        inputs: list[Operand] = []
        types: dict[str, TensorType] = {}
        if not self.accept(")"):
            while True:
                name, tok = self.value_name()
                if name in types:
                    raise self.error("a new value name", tok, f"%{name} is defined twice")
                self.expect(":")
                inputs.append(Operand(name, self.tensor_type()))
                types[name] = inputs[-1].type
                self._names[name] = name
                if not self.accept(","):
                    break
            self.expect(")")
        self.expect("{")
        nodes = []
        while self.peek().kind == "value":
            node = self.node(types)
            nodes.append(node)
            types[node.name] = node.result
            self._names[node.name] = node.name
        self.expect("return")
        outputs = []
        if self.peek().kind == "value":
            while True:
                name, tok = self.value_name()
                if name not in types:
                    raise self.error("a defined value", tok, f"output %{name} is not defined")
                outputs.append(name)
                if not self.accept(","):
                    break
        self.expect("}")
        self.expect_kind("eof", "end of input")
        return MaseGraph(inputs, nodes, outputs, {})

    def node(self, types: dict[str, TensorType]) -> Node:
        name, name_tok = self.value_name()
        if name in types:
            raise self.error("a new value name", name_tok, f"%{name} is defined twice")
        self.expect(":")
        result = self.tensor_type()
        self.expect("=")
        op_tok = self.expect_kind("ident", "an op name")
        if op_tok.text not in OPS:
            raise self.error(f"one of the MASE ops ({', '.join(sorted(OPS))})", op_tok, "unknown op")
        node = Node(name=name, op=sys.intern(op_tok.text), result=result)  # one string per op name
        self.expect("(")
        if not self.accept(")"):
            while True:
                arg, tok = self.value_name()
                if arg not in types:
                    raise self.error("a value defined earlier", tok, f"%{arg} is not defined before use")
                self.expect(":")
                # the defining name's own string object (one copy per value, not one per use)
                node.args.append(Operand(self._names.get(arg, arg), self.tensor_type()))
                if not self.accept(","):
                    break
            self.expect(")")
        if self.accept("["):
            while True:
                role = self.expect_kind("ident", "a parameter role name")
                if role.text in node.params:
                    raise self.error("a new role", role, f"parameter {role.text} given twice")
                self.expect(":")
                ptype = self.tensor_type()
                self.expect("=")
                node.params[sys.intern(role.text)] = Param(self.string(), ptype)
                if not self.accept(","):
                    break
            self.expect("]")
        if self.accept("{"):
            seen = set()
            while True:
                key = self.expect_kind("ident", "an attribute name")
                if key.text in seen:
                    raise self.error("a new attribute name", key, f"attribute {key.text} given twice")
                seen.add(key.text)
                self.expect("=")
                value = self.literal()
                self.attribute(node, key, value)
                if not self.accept(","):
                    break
            self.expect("}")
        try:
            bind_roles(node)
        except ValueError as exc:
            raise self.error(f"operands that fit {node.op}", op_tok, str(exc)) from None
        return node

    def attribute(self, node: Node, key: Token, value: Any) -> None:
        if key.text == "module":
            if not isinstance(value, str):
                raise self.error("a string", key, "module must be a string")
            node.module = value
        elif key.text == "sw":
            if not isinstance(value, SoftwareMeta):
                raise self.error("software(...)", key, "sw must be a software() record")
            node.sw = value
        elif key.text == "hw":
            if not isinstance(value, HardwareMeta):
                raise self.error("hardware(...)", key, "hw must be a hardware() record")
            node.hw = value
        elif isinstance(value, (SoftwareMeta, HardwareMeta)):
            raise self.error("a plain literal", key, "records belong in sw / hw only")
        else:
            node.attrs[key.text] = value


def parse(text: str) -> MaseGraph:
    """Parse the text form into a graph without weights (see :func:`mase_ir.load`).

    Raises :class:`ParseError` for any malformed text."""
    if not isinstance(text, str):
        raise TypeError(f"parse() takes a str, got {type(text).__name__}")
    return _Parser(text).graph()
