"""Text form: print -> parse -> print is the identity, saved graphs compute the
same outputs, and bad text gives ParseError with line, column, expected, found."""

import mx_formats as mxf
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mase_ir
from mase_ir_testkit import graph_outputs

SMALL = """graph(%x: f32[2,4]) {
  %y: f32[2,3] = linear(%x: f32[2,4]) [weight: f32[3,4] = "fc.weight", bias: f32[3] = "fc.bias"] {module = "fc"}
  %z: f32[2,3] = relu(%y: f32[2,3])
  return %z
}
"""


def test_tiny_models_round_trip_text(tiny):
    text = tiny.graph.to_text()
    assert mase_ir.parse(text).to_text() == text


def test_minilm_round_trips_text(minilm):
    text = minilm.graph.to_text()
    assert mase_ir.parse(text).to_text() == text
    assert 'linear(%' in text and '"encoder.layer.5.output.dense.weight"' in text


def test_saved_and_loaded_graph_computes_the_same_outputs(tiny, tmp_path):
    tiny.graph.save(tmp_path)
    loaded = mase_ir.load(tmp_path)
    assert loaded.to_text() == tiny.graph.to_text()
    for a, b in zip(graph_outputs(loaded, tiny.example), graph_outputs(tiny.graph, tiny.example)):
        assert torch.equal(a, b)
    assert sorted(n for n, _ in loaded.named_parameters()) == sorted(n for n, _ in tiny.graph.named_parameters())


def test_minilm_save_load_outputs_equal(minilm, tmp_path):
    minilm.graph.save(tmp_path)
    loaded = mase_ir.load(tmp_path)
    for a, b in zip(graph_outputs(loaded, minilm.example), graph_outputs(minilm.graph, minilm.example)):
        assert torch.equal(a, b)


def test_formats_and_metadata_round_trip():
    g = mase_ir.parse(SMALL)
    g.set_format("y", mxf.MXInt((16, 2), 8, 5))
    g.set_param_format("y", "weight", mxf.MXInt((16, 2), 8, 3))
    n = g.node("y")
    n.hw = mase_ir.HardwareMeta(ip="mase_mxint_linear", tile=(16, 2), streaming_order=(1, 0),
                                interface="valid_ready", parallelism=[4, 2], area=1234.5, throughput=2.0)
    n.sw = mase_ir.SoftwareMeta({"amax": 3.25, "variance": 1e-3})
    text = g.to_text()
    line = text.splitlines()[1].strip()
    assert line.startswith("%y: MXInt((16,2),8,5)[2,3] = linear(%x: f32[2,4]) "
                           "[weight: MXInt((16,2),8,3)[3,4] = \"fc.weight\"")
    assert 'hw = hardware(ip = "mase_mxint_linear", tile = [16,2], streaming_order = [1,0]' in line
    assert "%z: f32[2,3] = relu(%y: MXInt((16,2),8,5)[2,3])" in text
    back = mase_ir.parse(text)
    assert back.to_text() == text
    assert back.node("y").hw == n.hw and back.node("y").sw == n.sw


def test_literals_round_trip():
    from mase_ir.parser import _Parser
    from mase_ir.text import format_literal
    for value in [0, -3, 1.5, -0.0, 1e-06, 1e300, float("inf"), float("-inf"), "a \"quoted\"\n",
                  True, False, None, [], [1, [2, 3.0], "x"], {"k": 1.0, "j": [1]}]:
        text = format_literal(value)
        back = _Parser(text).literal()
        assert format_literal(back) == text
        assert back == value or (isinstance(value, float) and value != value)


@pytest.mark.parametrize("text, line, column, expected, found", [
    ("graph(%x: f32[2]) {\n  return %y\n}\n", 2, 10, "a defined value", "'%y'"),
    ("graph(%x: f32[2]) {\n  %y: f32[2] = relu(%x: f32[2]\n  return %y\n}\n", 3, 3, "')'", "'return'"),
    ("graph(%x: f32[2]) {\n  %y: f32[2] = frobnicate(%x: f32[2])\n  return %y\n}\n", 2, 16,
     "one of the MASE ops", "'frobnicate'"),
    ("graph(%x: f32[2]) {\n  %y: f32[2] = relu(%q: f32[2])\n  return %y\n}\n", 2, 21,
     "a value defined earlier", "'%q'"),
    ("graph(%x: MXInt((16,2),8)[2]) {\n  return %x\n}\n", 1, 11, "an element type", "'MXInt((16,2),8)'"),
    ("graph(%x: f32[2]) {\n  %y: f32[2] = relu(%x: f32[2]) {hw = hardware(tile = \"x\")}\n  return %y\n}\n",
     2, 39, "valid hardware() fields", "'hardware'"),
    ("graph(%x: f32[2]) {\n  %y: f32[2] = relu(%x: f32[2], %x: f32[2])\n  return %y\n}\n", 2, 16,
     "operands that fit relu", "'relu'"),
    ("graph(%x: f32[2]) {\n  return %x\n}\n}", 4, 1, "end of input", "'}'"),
    ("graph(%x: f32[2]) {\n  return %x\n", 3, 1, "'}'", "end of input"),
    ("graph(%x: f32[2]) $", 1, 19, "a token", "'$'"),
])
def test_parse_errors_name_line_column_expected_found(text, line, column, expected, found):
    with pytest.raises(mase_ir.ParseError) as info:
        mase_ir.parse(text)
    err = info.value
    assert (err.line, err.column) == (line, column)
    assert err.expected.startswith(expected)
    assert err.found == found
    assert f"line {line}, column {column}" in str(err)


_SAMPLE = None


def _sample_text():
    global _SAMPLE
    if _SAMPLE is None:
        g = mase_ir.parse(SMALL)
        g.node("y").hw = mase_ir.HardwareMeta(ip="ip", tile=(16, 2))
        g.node("y").sw = mase_ir.SoftwareMeta({"amax": 1.0})
        _SAMPLE = g.to_text()
    return _SAMPLE


def _parse_only_parse_errors(text):
    try:
        mase_ir.parse(text)
    except mase_ir.ParseError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list('graph%xyf32MXInt()[]{},:="-.0123456789e \nreturn\\')),
               max_size=120))
def test_random_text_only_raises_parse_error(text):
    _parse_only_parse_errors(text)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_truncated_and_mutated_text_only_raises_parse_error(data):
    text = _sample_text()
    cut = data.draw(st.integers(0, len(text)))
    _parse_only_parse_errors(text[:cut])
    pos = data.draw(st.integers(0, len(text) - 1))
    junk = data.draw(st.text(max_size=4))
    _parse_only_parse_errors(text[:pos] + junk + text[pos + 1:])


def test_deeply_nested_literal_is_a_parse_error():
    text = "graph(%x: f32[2]) {\n  %y: f32[2] = relu(%x: f32[2]) {module = " + "[" * 5000 + "\n  return %y\n}\n"
    with pytest.raises(mase_ir.ParseError):
        mase_ir.parse(text)


def test_oversized_integer_is_a_parse_error_with_a_short_found():
    with pytest.raises(mase_ir.ParseError) as info:
        mase_ir.parse("graph(%x: f32[" + "9" * 5000 + "]) {\n  return %x\n}\n")
    assert (info.value.line, info.value.column) == (1, 15)
    assert len(info.value.found) < 50 and "integer too long" in str(info.value)


def test_graph_without_outputs_parses_and_returns_nothing():
    g = mase_ir.parse("graph() {\n  return \n}\n")
    assert g() == () and g.to_text() == "graph() {\n  return \n}\n"


def test_op_reference_doc_is_generated_from_the_registry():
    from pathlib import Path

    from mase_ir.ops import reference_markdown
    doc = Path(__file__).parent.parent / "docs" / "ops.md"
    assert doc.read_text() == reference_markdown(), "regenerate docs/ops.md from mase_ir.ops.reference_markdown()"


def test_duplicate_attribute_and_bare_variadic_parameter_are_parse_errors():
    dup = 'graph(%x: f32[2]) {\n  %y: f32[2] = relu(%x: f32[2]) {module = "a", module = "b"}\n  return %y\n}\n'
    with pytest.raises(mase_ir.ParseError, match="attribute module given twice"):
        mase_ir.parse(dup)
    bare = ('graph(%x: f32[2]) {\n  %y: f32[4] = cat(%x: f32[2]) [tensors: f32[2] = "c"]\n'
            '  return %y\n}\n')
    with pytest.raises(mase_ir.ParseError, match="no operand role"):
        mase_ir.parse(bare)


def test_grammar_doc_example_parses_and_prints_back():
    from pathlib import Path
    doc = (Path(__file__).parent.parent / "docs" / "grammar.md").read_text()
    example = doc.split("```\n", 2)[1]
    assert example.startswith("graph(")
    assert mase_ir.parse(example).to_text() == example
