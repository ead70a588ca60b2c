"""Fuzz mx_formats.parse: any text gives a format or a ValueError, never anything else or a hang.

Three generators: arbitrary unicode, "format soup" (the grammar's own pieces in random
order, which reaches deep into the parser), and one-character mutations of canonical
strings. Whatever parses must print back to a canonical string that parses to the same
format (so the accepted language and the printer agree). Every example runs under a
hypothesis deadline and a SIGALRM guard: a parser stuck in a loop fails the test instead
of hanging CI.
"""

import signal
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mx_formats as mxf

PIECES = ["MXInt", "BMF", "BL", "Fixed", "MiniFloat", "f32", "MXFP8_E4M3", "MXINT8", "MXFP4_E2M1", "(", ")",
          ",", " ", "\t", "-", "0", "1", "7", "8", "16", "32", "999999999", "1000000000", ",)", "_", "x", "\n",
          "\u00b2", "\u0663", "\uff11", "((", "))"]
SETTINGS = settings(max_examples=400, deadline=timedelta(seconds=2),
                    suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def hard_limit(seconds: int = 10):
    """Fail (instead of hanging) if the body runs longer than ``seconds`` of wall time."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"parse did not return within {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def parse_or_value_error(text: str):
    """The property: a Format that round-trips, or a ValueError; anything else escapes as a failure."""
    with hard_limit():
        try:
            fmt = mxf.parse(text)
        except ValueError as exc:
            assert str(exc), "an error without a message"
            return None
    assert isinstance(fmt, mxf.Format)
    canonical = str(fmt)
    assert mxf.parse(canonical) == fmt, f"{text!r} -> {fmt!r} prints {canonical!r}, which parses differently"
    assert str(mxf.parse(canonical)) == canonical
    return fmt


@SETTINGS
@given(st.text(max_size=80))
def test_arbitrary_text(text):
    parse_or_value_error(text)


@SETTINGS
@given(st.lists(st.sampled_from(PIECES), max_size=24).map("".join))
def test_format_soup(text):
    parse_or_value_error(text)


@st.composite
def formats(draw):
    """Legal formats of every family (constructor arguments drawn across their whole ranges)."""
    block = draw(st.one_of(st.tuples(st.integers(1, 1 << 16)),
                           st.tuples(st.integers(1, 1 << 16), st.integers(1, 1 << 16))))
    kind = draw(st.sampled_from(["MXInt", "BMF", "BL", "OCP", "Fixed", "MiniFloat", "f32"]))
    try:
        if kind == "MXInt":
            return mxf.MXInt(block, draw(st.integers(1, 8)), draw(st.integers(1, 23)))
        if kind == "BMF":
            return mxf.BMF(block, draw(st.integers(1, 7)), draw(st.integers(0, 23)), draw(st.integers(2, 8)))
        if kind == "BL":
            return mxf.BL(block, draw(st.integers(1, 7)), draw(st.integers(2, 8)))
        if kind == "OCP":
            return draw(st.sampled_from(sorted(mxf.OCP_FORMATS.values(), key=str)))
        if kind == "Fixed":
            return mxf.Fixed(draw(st.integers(2, 24)), draw(st.integers(-100, 120)))
        if kind == "MiniFloat":
            return mxf.MiniFloat(draw(st.integers(1, 8)), draw(st.integers(0, 23)), draw(st.integers(-128, 255)))
        return mxf.F32
    except ValueError:
        from hypothesis import reject

        reject()


@SETTINGS
@given(formats())
def test_every_legal_format_round_trips(fmt):
    assert parse_or_value_error(str(fmt)) == fmt


@SETTINGS
@given(formats(), st.data())
def test_mutated_canonical_strings(fmt, data):
    text = str(fmt)
    pos = data.draw(st.integers(0, len(text)))
    op = data.draw(st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate"]))
    junk = data.draw(st.sampled_from(PIECES + ["", "9" * 12]))
    mutated = {"delete": text[:pos] + text[pos + 1:], "insert": text[:pos] + junk + text[pos:],
               "replace": text[:pos] + junk + text[pos + 1:], "truncate": text[:pos],
               "duplicate": text[:pos] + text}[op]
    parse_or_value_error(mutated)


def test_huge_inputs_are_rejected_fast():
    for text in ["MXInt(" + "(" * 100_000, "MXInt((16,2),8," + "9" * 100_000 + ")", " " * 1_000_000 + "f32x",
                 "Fixed(8," + "-" * 100_000 + "1)"]:
        t0 = time.perf_counter()
        with pytest.raises(ValueError):
            parse_or_value_error_strict(text)
        assert time.perf_counter() - t0 < 2.0, text[:30]


def parse_or_value_error_strict(text):
    with hard_limit():
        return mxf.parse(text)


@pytest.mark.parametrize("bad", [None, 8, b"MXINT8", ["f32"]])
def test_non_strings_are_a_type_error_naming_the_type(bad):
    with pytest.raises(TypeError, match=f"parse\\(\\) takes a format string, got {type(bad).__name__}"):
        mxf.parse(bad)


def test_a_superscript_digit_is_a_format_parse_error_with_its_column():
    with pytest.raises(mxf.FormatParseError, match="at column 9"):
        mxf.parse("Fixed(8,\u00b2)")


def test_non_ascii_digits_are_refused():
    with pytest.raises(mxf.FormatParseError):
        mxf.parse("MXInt((16,2),8,\uff17)")
