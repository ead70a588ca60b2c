"""Passes as IR text in, pass, IR text out (issue 17, part 6): the graph a pass gets and the one it
returns, written as the text form reads (mase_ir.parse / MaseGraph.to_text), so the expected
rewrite is visible in the test itself. The graphs carry no weights: these passes only retype."""

import mase_ir
import pytest

from mase_passes.passes.extract import Extract, ScopeError
from mase_passes.passes.quantize import Quantize
from mase_passes.passes.reblock import Reblock

MLP = """graph(%input: f32[4,32]) {
  %fc1: f32[4,16] = linear(%input: f32[4,32]) [weight: f32[16,32] = "fc1.weight", bias: f32[16] = "fc1.bias"] {module = "fc1"}
  %relu: f32[4,16] = relu(%fc1: f32[4,16]) {module = "act"}
  %fc2: f32[4,8] = linear(%relu: f32[4,16]) [weight: f32[8,16] = "fc2.weight"] {module = "fc2"}
  return %fc2
}
"""


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.strip().splitlines()]


def test_text_round_trips():
    assert _lines(mase_ir.parse(MLP).to_text()) == _lines(MLP)


def test_quantize_puts_the_config_formats_on_values_and_parameters():
    q = Quantize(config={"default": "MXInt((16,2),8,5)", "node": {"fc2": {"weight": "MXInt((16,2),8,3)"}},
                         "op": {"relu": {"data_out": "MXInt((16,2),8,7)"}}}).apply(mase_ir.parse(MLP))
    m5, m3, m7 = "MXInt((16,2),8,5)", "MXInt((16,2),8,3)", "MXInt((16,2),8,7)"
    assert _lines(q.to_text()) == _lines(f"""graph(%input: {m5}[4,32]) {{
  %fc1: {m5}[4,16] = linear(%input: {m5}[4,32]) [weight: {m5}[16,32] = "fc1.weight", bias: {m5}[16] = "fc1.bias"] {{module = "fc1"}}
  %relu: {m7}[4,16] = relu(%fc1: {m5}[4,16]) {{module = "act"}}
  %fc2: {m5}[4,8] = linear(%relu: {m7}[4,16]) [weight: {m3}[8,16] = "fc2.weight"] {{module = "fc2"}}
  return %fc2
}}""")


def test_reblock_gives_linear_parameters_the_blocks_of_the_hardware_tiles():
    q = Quantize(config={"default": "MXInt((16,2),8,5)"}).apply(mase_ir.parse(MLP))
    r = Reblock(scope="fc1").apply(q)
    fc1 = [ln for ln in _lines(r.to_text()) if ln.startswith("%fc1")][0]
    # weight blocked (x's block along in_features, the output's along out_features); bias one-row
    assert 'weight: MXInt((16,16),8,5)[16,32] = "fc1.weight", bias: MXInt((16,),8,5)[16] = "fc1.bias"' in fc1
    fc2 = [ln for ln in _lines(r.to_text()) if ln.startswith("%fc2")][0]
    assert 'weight: MXInt((16,2),8,5)[8,16]' in fc2  # outside the scope: unchanged


def test_extract_cuts_the_sub_graph_of_a_module_with_its_boundary_as_inputs():
    sub = Extract(scope="act").apply(mase_ir.parse(MLP))
    assert _lines(sub.to_text()) == _lines("""graph(%fc1: f32[4,16]) {
  %relu: f32[4,16] = relu(%fc1: f32[4,16]) {module = "act"}
  return %relu
}""")
    with pytest.raises(ScopeError, match=r"selects no node; top-level modules: \['act', 'fc1', 'fc2'\]"):
        Extract(scope="head").apply(mase_ir.parse(MLP))
