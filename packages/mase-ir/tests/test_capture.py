"""capture: the recorded values are the graph's own intermediate results (oracle: the same
ops written out in PyTorch), the graph is left as it was, and a bad name is refused."""

import mx_formats as mxf
import pytest
import torch

import mase_ir
from mase_ir.quant import fake_quantize
from mase_ir.capture import CaptureError, capture, capture_batches

TEXT = """graph(%x: f32[2,4]) {
  %y: f32[2,3] = linear(%x: f32[2,4]) [weight: f32[3,4] = "fc.weight", bias: f32[3] = "fc.bias"] {module = "fc"}
  %z: f32[2,3] = relu(%y: f32[2,3])
  return %z
}
"""


@pytest.fixture
def graph():
    g = mase_ir.parse(TEXT)
    torch.manual_seed(0)
    g.weights = {"fc.weight": torch.randn(3, 4), "fc.bias": torch.randn(3)}
    return g


def test_records_intermediate_values_as_pytorch_computes_them(graph):
    x = torch.randn(2, 4)
    got = capture(graph, {"x": x}, ["y", "x", "z"])
    y = x @ graph.weights["fc.weight"].T + graph.weights["fc.bias"]
    assert list(got) == ["y", "x", "z"]
    assert torch.allclose(got["y"], y) and torch.equal(got["x"], x)
    assert torch.allclose(got["z"], torch.relu(y))
    assert graph.outputs == ["z"] and graph.to_text() == TEXT  # the graph is not changed


def test_quantized_value_comes_back_in_its_format(graph):
    graph.set_format("y", mxf.MXInt((4,), 8, 2))
    x = torch.randn(2, 4)
    got = capture(graph, {"x": x}, ["y"])["y"]
    y = x @ graph.weights["fc.weight"].T + graph.weights["fc.bias"]
    assert torch.equal(got, fake_quantize(y, mxf.MXInt((4,), 8, 2)))


def test_batches_and_their_limit(graph):
    xs = [torch.randn(2, 4) for _ in range(3)]
    runs = list(capture_batches(graph, [({"x": x}, None) for x in xs], ["z"], max_batches=2))
    assert len(runs) == 2
    for x, got in zip(xs, runs):
        assert torch.equal(got["z"], graph(x=x))


def test_gradients_flow_through_recorded_values(graph):
    w = graph.weights["fc.weight"] = torch.nn.Parameter(graph.weights["fc.weight"])
    capture(graph, {"x": torch.randn(2, 4)}, ["y"])["y"].sum().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0


def test_unknown_value_is_named_with_a_suggestion(graph):
    with pytest.raises(CaptureError, match=r"no value %zz in the graph \(did you mean %z\?\)"):
        capture(graph, {"x": torch.randn(2, 4)}, ["zz"])
