"""Parse canonical format strings back into format objects.

Grammar (spaces allowed between tokens)::

    format := "f32" | OCP_NAME
            | "MXInt(" block "," int "," int ")"
            | "BMF(" block "," int "," int "," int ")"
            | "BL(" block "," int "," int ")"
            | "Fixed(" int "," int ")"
            | "MiniFloat(" int "," int "," int ")"
    block  := "(" int ",)" | "(" int "," int ")" | int
    int    := ["-"] digit+
            | "NVFP4"
            | ("M2XFP_ES" | "M2XFP_EM") ["(" block "," int ")"]
    OCP_NAME := MXFP8_E4M3 | MXFP8_E5M2 | MXFP6_E3M2 | MXFP6_E2M3 | MXFP4_E2M1 | MXINT8

``M2XFP_ES`` alone is the default block (32,) and subgroup 8; ``M2XFP_ES((64,),16)``
another one (the canonical string of the defaults is the bare name).

Short names (:data:`ALIASES`) are accepted too, and parse to the same object as their
canonical string (``str(parse("MXFP4")) == "MXFP4_E2M1"``; printing never writes them):

* the OCP family names ``MXFP8``, ``MXFP6``, ``MXFP4``, ``MXINT8``.  The OCP spec defines
  two FP8 and two FP6 element types; the bare name means the one with more mantissa bits,
  E4M3 and E2M3 (relative mean squared error on a standard normal 256x1024 tensor,
  measured: MXFP6_E2M3 8.0e-4 vs MXFP6_E3M2 2.9e-3; MXFP8_E4M3 8.6e-4 vs E5M2 2.9e-3).
  Write the full name for the other one.
* the MASE paper's comparison rows ``MXInt8``, ``MXInt6``, ``MXInt4``, ``BMF8``, ``BL8``
  (blocks of (16,2) with an 8-bit shared exponent: ``MXInt8`` = ``MXInt((16,2),8,7)``,
  8.25 bits).  Note the case: ``MXInt8`` is the paper's (16,2) block, ``MXINT8`` the OCP
  format, MXInt((32,),8,7).
"""

from __future__ import annotations

from mx_formats.formats import BL, BMF, F32, M2XFP, NVFP4, OCP_FORMATS, Fixed, Format, MiniFloat, MXInt

__all__ = ["ALIASES", "FormatParseError", "parse"]

#: Short name -> canonical string (module docstring says why each means what it does).
ALIASES = {
    "MXFP8": "MXFP8_E4M3",
    "MXFP6": "MXFP6_E2M3",
    "MXFP4": "MXFP4_E2M1",
    "MXInt8": "MXInt((16,2),8,7)",
    "MXInt6": "MXInt((16,2),8,5)",
    "MXInt4": "MXInt((16,2),8,3)",
    "BMF8": "BMF((16,2),4,3,8)",
    "BL8": "BL((16,2),7,8)",
}

_CONSTRUCTORS = {"MXInt": (MXInt, 3), "BMF": (BMF, 4), "BL": (BL, 3), "Fixed": (Fixed, 2), "MiniFloat": (MiniFloat, 3)}
_BLOCKED = {"MXInt", "BMF", "BL"}


class FormatParseError(ValueError):
    """A format string that does not follow the grammar; ``pos`` is the 0-based column."""

    def __init__(self, text: str, pos: int, expected: str):
        self.text, self.pos, self.expected = text, pos, expected
        found = repr(text[pos]) if pos < len(text) else "end of text"
        super().__init__(f"bad format string {text!r} at column {pos + 1}: expected {expected}, found {found}")


class _Cursor:
    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def skip_spaces(self):
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def expect(self, token: str):
        self.skip_spaces()
        if not self.text.startswith(token, self.pos):
            raise FormatParseError(self.text, self.pos, repr(token))
        self.pos += len(token)

    def peek(self, token: str) -> bool:
        self.skip_spaces()
        return self.text.startswith(token, self.pos)

    def name(self) -> str:
        self.skip_spaces()
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] == "_"):
            self.pos += 1
        if start == self.pos:
            raise FormatParseError(self.text, start, "a format name")
        return self.text[start : self.pos]

    def integer(self) -> int:
        self.skip_spaces()
        start = self.pos
        if self.pos < len(self.text) and self.text[self.pos] == "-":
            self.pos += 1
        digits = self.pos
        # ASCII only: str.isdigit() also accepts superscripts and other scripts' digits.
        while self.pos < len(self.text) and self.text[self.pos] in "0123456789":
            self.pos += 1
        if digits == self.pos or self.pos - digits > 9:
            raise FormatParseError(self.text, start, "an integer of at most 9 digits")
        return int(self.text[start : self.pos])

    def block(self):
        if not self.peek("("):
            return self.integer()
        self.expect("(")
        first = self.integer()
        self.expect(",")
        if self.peek(")"):
            self.pos += 1
            return (first,)
        second = self.integer()
        self.expect(")")
        return (first, second)


def parse(text: str) -> Format:
    """Return the format whose canonical string is ``text``.

    Raises :class:`FormatParseError` (a ``ValueError``) naming the column of the
    first problem, and ``ValueError``/``TypeError`` from the format's own checks
    for widths outside their legal range.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse() takes a format string, got {type(text).__name__}")
    cur = _Cursor(text)
    start = (cur.skip_spaces(), cur.pos)[1]
    name = cur.name()
    if name in ALIASES:
        fmt = parse(ALIASES[name])
    elif name == "f32":
        fmt = F32
    elif name in OCP_FORMATS:
        fmt = OCP_FORMATS[name]
    elif name == "NVFP4":
        fmt = NVFP4()
    elif name in ("M2XFP_ES", "M2XFP_EM"):
        if cur.peek("("):
            cur.expect("(")
            block = cur.block()
            cur.expect(",")
            subgroup = cur.integer()
            cur.expect(")")
            fmt = M2XFP(name[-2:], block, subgroup)
        else:
            fmt = M2XFP(name[-2:])
    elif name in _CONSTRUCTORS:
        cls, arity = _CONSTRUCTORS[name]
        cur.expect("(")
        args = []
        for i in range(arity):
            if i:
                cur.expect(",")
            args.append(cur.block() if (i == 0 and name in _BLOCKED) else cur.integer())
        cur.expect(")")
        fmt = cls(*args)
    else:
        known = ", ".join(["f32", *OCP_FORMATS, "NVFP4", "M2XFP_ES", "M2XFP_EM",
                           *(f"{k}(...)" for k in _CONSTRUCTORS), *ALIASES])
        raise FormatParseError(text, start, f"one of {known}")
    cur.skip_spaces()
    if cur.pos != len(text):
        raise FormatParseError(text, cur.pos, "end of text")
    return fmt
