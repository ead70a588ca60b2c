"""Fuzz the IR text parser: only ParseError (a ValueError), never a crash, never a hang.

Generators, from shallow to deep:
* arbitrary unicode text;
* token soup — the grammar's own tokens (keywords, ops, formats, punctuation, literals,
  records) in random order, which gets past the lexer into every parser rule;
* mutations of real printed graphs (delete / insert / replace / duplicate / truncate);
* well-formed random graphs: a chain of ops with random formats, shapes and attributes,
  which must print -> parse -> print to the same text (the accepted language and the
  printer agree).

Each example has a hypothesis deadline, and a SIGALRM guard turns a parser stuck in a
loop into a failure instead of a hung CI job. RecursionError, IndexError, KeyError,
TypeError, ... escaping the parser all fail the property.
"""

import signal
from contextlib import contextmanager
from datetime import timedelta

import mx_formats as mxf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mase_ir
from mase_ir.text import format_literal

SAMPLE = """graph(%x: f32[2,4], %ids: i64[2]) {
  %y: MXInt((16,2),8,5)[2,3] = linear(%x: f32[2,4]) [weight: MXInt((16,2),8,3)[3,4] = "fc.weight", bias: f32[3] = "fc.bias"] {module = "fc", hw = hardware(ip = "mase_mxint_linear", tile = [16,2], parallelism = [4,2], area = 12.5), sw = software(statistics = {"amax": 3.25, "var": 1e-06})}
  %z: f32[2,3] = relu(%y: MXInt((16,2),8,5)[2,3])
  %w: f32[2,3] = add(%z: f32[2,3]) {other = -inf}
  %t: f32[3,2] = transpose(%w: f32[2,3]) {dim0 = 0, dim1 = 1}
  return %t, %z
}
"""

TOKENS = ["graph", "(", ")", "{", "}", "[", "]", ",", ":", "=", "return", "%x", "%y", "%0", "%a.b", "f32", "i64",
          "bool", "MXInt((16,2),8,7)", "BMF((16,2),4,3,8)", "MXFP8_E4M3", "Fixed(8,4)", "MXInt((0,2),8,7)",
          "MXInt(", "linear", "relu", "add", "matmul", "softmax", "transpose", "cat", "nope_op", "weight", "bias",
          "module", "hw", "sw", "software", "hardware", "ip", "tile", "statistics", "true", "false", "none", "inf",
          "nan", "-inf", "1", "-1", "0", "2", "3", "4", "1.5", "1e999", "-0.0", "99999999999999999999999",
          '"fc.weight"', '"a\\"b"', '"\\u0000"', '"\\q"', '"', "//c\n", "\n", " ", "\t", "é", "\x00", "%", "-"]

SETTINGS = settings(max_examples=300, deadline=timedelta(seconds=3),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@contextmanager
def hard_limit(seconds: int = 20):
    def on_alarm(signum, frame):
        raise TimeoutError(f"parse did not return within {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def parse_or_parse_error(text: str):
    """The property. A ParseError must say where (line, column within the text)."""
    with hard_limit():
        try:
            g = mase_ir.parse(text)
        except mase_ir.ParseError as exc:
            lines = text.split("\n")
            assert 1 <= exc.line <= len(lines) + 1 and exc.column >= 1, (exc.line, exc.column)
            assert str(exc).startswith(f"line {exc.line}, column {exc.column}: ")
            return None
    printed = g.to_text()  # whatever parses prints, and the print parses to the same text
    assert mase_ir.parse(printed).to_text() == printed
    return g


def test_the_sample_parses():
    assert parse_or_parse_error(SAMPLE) is not None


@SETTINGS
@given(st.text(max_size=200))
def test_arbitrary_text(text):
    parse_or_parse_error(text)


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join))
def test_token_soup(text):
    parse_or_parse_error(text)


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=12).map(" ".join), st.data())
def test_token_soup_inside_a_valid_graph(soup, data):
    """Splice random tokens into a valid graph at a random token boundary."""
    pieces = SAMPLE.split(" ")
    at = data.draw(st.integers(0, len(pieces)))
    parse_or_parse_error(" ".join(pieces[:at] + [soup] + pieces[at:]))


@SETTINGS
@given(st.data())
def test_mutated_graphs(data):
    text = SAMPLE
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(pos, min(len(text), pos + 40)))
        junk = data.draw(st.one_of(st.text(max_size=6), st.sampled_from(TOKENS)))
        op = data.draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "truncate"]))
        text = {"delete": text[:pos] + text[end:], "insert": text[:pos] + junk + text[pos:],
                "replace": text[:pos] + junk + text[end:], "duplicate": text[:end] + text[pos:end] + text[end:],
                "truncate": text[:pos]}[op]
    parse_or_parse_error(text)


ELEMENTWISE = ["relu", "gelu", "silu"]
FORMATS = [mxf.F32, mxf.MXInt((16, 2), 8, 7), mxf.MXInt((4,), 3, 2), mxf.BMF((8, 2), 4, 3, 8), mxf.BL((4,), 3, 4),
           mxf.MXFP4_E2M1, mxf.MXINT8, mxf.Fixed(8, 4), mxf.MiniFloat(4, 3, 7)]
NUMBERS = st.one_of(st.integers(-2**62, 2**62), st.floats(width=64))  # inf, -inf and nan included


@st.composite
def graphs(draw):
    """A chain of elementwise ops on one tensor, each with its own format and module literal."""
    shape = draw(st.lists(st.integers(0, 9), min_size=0, max_size=3))
    dims = ",".join(map(str, shape))
    lines, prev, prev_t = [], "x", f"f32[{dims}]"
    for i in range(draw(st.integers(0, 5))):
        op = draw(st.sampled_from(ELEMENTWISE))
        t = f"{draw(st.sampled_from(FORMATS))}[{dims}]"
        attrs = ""
        if draw(st.booleans()):
            attrs = f" {{module = {format_literal(draw(st.text(max_size=10)))}, " \
                    f"sw = software(statistics = {format_literal(draw(st.dictionaries(st.text(max_size=5), NUMBERS, max_size=3)))})}}"
        lines.append(f"  %v{i}: {t} = {op}(%{prev}: {prev_t}){attrs}")
        prev, prev_t = f"v{i}", t
    return f"graph(%x: f32[{dims}]) {{\n" + "\n".join(lines + [f"  return %{prev}", "}"]) + "\n"


@SETTINGS
@given(graphs())
def test_generated_graphs_round_trip(text):
    g = parse_or_parse_error(text)
    assert g is not None, text
    assert g.to_text() == mase_ir.parse(g.to_text()).to_text()


def test_huge_and_deep_inputs_fail_fast_with_a_parse_error():
    import time

    for text in ["graph(" * 50_000, "graph(%x: f32[2]) {\n  return %x\n}\n" + "}" * 100_000,
                 "graph(%x: f32[2]) { %y: f32[2] = relu(%x: f32[2]) {module = " + "{\"a\": " * 10_000,
                 '"' + "\\" * 200_001, "%" + "a" * 1_000_000]:
        t0 = time.perf_counter()
        with hard_limit():
            try:
                mase_ir.parse(text)
            except mase_ir.ParseError:
                pass
            else:
                raise AssertionError(f"accepted {text[:40]!r}")
        assert time.perf_counter() - t0 < 5, text[:40]
