"""Tracing real transformer models: outputs equal to eager, module-level ops,
original parameter paths, no-ops dropped, unknown ops refused."""

import pytest
import torch

import mase_ir
from mase_ir_testkit import _inputs, eager_outputs, graph_outputs


def _max_diff(a, b):
    assert len(a) == len(b)
    return max((x - y).abs().max().item() for x, y in zip(a, b))


def test_tiny_models_match_eager_on_the_example_inputs(tiny):
    assert _max_diff(graph_outputs(tiny.graph, tiny.example), eager_outputs(tiny.model, tiny.example)) <= 1e-5


def test_tiny_models_match_eager_on_fresh_inputs_of_the_same_shape(tiny):
    fresh = _inputs(1, {k: v for k, v in tiny.example.items() if not isinstance(v, torch.Tensor)})
    fresh["attention_mask"][0, -2:] = 0
    assert _max_diff(graph_outputs(tiny.graph, fresh), eager_outputs(tiny.model, fresh)) <= 1e-5


def test_minilm_real_weights_match_eager(minilm):
    got = graph_outputs(minilm.graph, minilm.example)
    want = eager_outputs(minilm.model, minilm.example)
    assert _max_diff(got, want) <= 1e-5
    assert got[0].shape == (2, minilm.example["input_ids"].shape[1], 384)


def test_minilm_keeps_module_paths_and_weights(minilm):
    state = minilm.model.state_dict()
    params = dict(minilm.graph.named_parameters())
    assert "encoder.layer.0.attention.self.query.weight" in params
    for path, p in params.items():
        assert torch.equal(p.detach(), state[path]), path
    query = [n for n in minilm.graph.nodes if n.module == "encoder.layer.0.attention.self.query"]
    assert [n.op for n in query] == ["linear"]
    assert query[0].params["weight"].path == "encoder.layer.0.attention.self.query.weight"


def test_every_linear_module_becomes_one_linear_node(tiny):
    linears = [name for name, m in tiny.model.named_modules() if isinstance(m, torch.nn.Linear)]
    nodes = [n.module for n in tiny.graph.nodes if n.op == "linear"]
    assert sorted(nodes) == sorted(linears)


def test_no_ops_are_dropped(tiny):
    # dropout (eval), asserts, same-dtype casts and aliases leave no node behind
    ops = {n.op for n in tiny.graph.nodes}
    assert ops <= set(mase_ir.OPS)
    float_casts = [n for n in tiny.graph.nodes if n.op == "cast" and n.args[0].type.is_float
                   and n.attrs["dtype"] == "f32"]
    assert float_casts == []


def test_llama_rms_norm_is_raised_to_one_node_per_module():
    from mase_ir_testkit import _tiny
    model, extra = _tiny("llama")
    graph = mase_ir.trace(model.eval(), _inputs(0, extra))
    norms = sorted(name for name, m in model.named_modules() if type(m).__name__ == "LlamaRMSNorm")
    assert sorted(n.module for n in graph.nodes if n.op == "rms_norm") == norms
    assert not [n for n in graph.nodes if n.op in ("pow", "rsqrt", "mean")]


def test_attention_and_activations_are_module_level_ops(tiny):
    hist = tiny.graph.summary().op_histogram
    assert hist["scaled_dot_product_attention"] == 2
    act = {"bert": "gelu", "opt": "relu", "llama": "silu"}[tiny.name]
    assert hist[act] == 2


class _Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = torch.nn.LayerNorm(16)
        self.fc = torch.nn.Linear(16, 16)

    def forward(self, x):
        h = self.fc(self.norm(x))
        scores = torch.softmax(h @ h.transpose(-1, -2) / 4.0, dim=-1)
        y = torch.relu(scores @ h).permute(0, 2, 1) * 2.0 + 1.0
        return torch.addmm(self.fc.bias, y.reshape(-1, 16), self.fc.weight)


def test_plain_module_traces_and_runs():
    torch.manual_seed(0)
    model = _Block().eval()
    x = torch.randn(2, 5, 16)
    graph = mase_ir.trace(model, {"x": x})
    ops = {n.op for n in graph.nodes}
    assert {"layer_norm", "linear", "matmul", "softmax", "relu", "reorder", "transpose"} <= ops
    addmm = graph.nodes[-1]
    assert addmm.op == "matmul" and set(addmm.params) == {"other", "bias"}
    x2 = torch.randn(2, 5, 16)
    assert torch.allclose(graph(x=x2), model(x2), atol=1e-6, rtol=0)


class _Odd(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = torch.nn.Sequential(torch.nn.Linear(4, 4), _Cumprod())

    def forward(self, x):
        return self.inner(x)


class _Cumprod(torch.nn.Module):
    def forward(self, x):
        return torch.cumprod(x, dim=-1)


def test_unknown_op_is_refused_with_aten_name_module_and_supported_list():
    with pytest.raises(mase_ir.UnsupportedOpError) as info:
        mase_ir.trace(_Odd(), {"x": torch.randn(2, 4)})
    message = str(info.value)
    assert "aten.cumprod" in message
    assert "'inner.1'" in message
    assert "aten.linear.default" in message and "layer_norm" in message
    assert info.value.module == "inner.1"


def test_a_model_in_train_mode_is_traced_in_eval_mode_without_dropout():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5)).train()
    graph = mase_ir.trace(model, {"input": torch.randn(2, 4)})
    assert [n.op for n in graph.nodes] == ["linear"]
    x = torch.randn(2, 4)
    assert torch.equal(graph(input=x), model.eval()(x))


@pytest.mark.parametrize("family", ["bert", "opt", "llama"])
def test_eager_attention_traces_to_matmul_and_softmax(family):
    from mase_ir_testkit import _tiny
    model, extra = _tiny(family)
    model.set_attn_implementation("eager")
    example = _inputs(2, extra)
    graph = mase_ir.trace(model.eval(), example)
    hist = graph.summary().op_histogram
    assert hist["matmul"] == 4 and hist["softmax"] == 2 and "scaled_dot_product_attention" not in hist
    assert _max_diff(graph_outputs(graph, example), eager_outputs(model, example)) <= 1e-5
    assert mase_ir.parse(graph.to_text()).to_text() == graph.to_text()


def test_graph_inputs_are_checked_by_name_shape_and_dtype(tiny):
    inputs = tiny.tensors(tiny.example)
    with pytest.raises(ValueError, match="graph input 'input_ids' must be i64\\[2,8\\], got torch.int32"):
        tiny.graph(**{**inputs, "input_ids": inputs["input_ids"].int()})
    with pytest.raises(TypeError, match="missing graph input 'attention_mask'"):
        tiny.graph(input_ids=inputs["input_ids"])


class _Scaled(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.arange(4.0))
        self.register_buffer("unused", torch.zeros(3))
        self.fc = torch.nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x) * self.scale


def test_buffers_keep_their_path_are_not_trainable_and_unused_ones_are_dropped():
    model = _Scaled()
    graph = mase_ir.trace(model, {"x": torch.randn(2, 4)})
    mul = graph.nodes[-1]
    assert mul.op == "mul" and mul.params["other"].path == "scale"
    assert sorted(graph.weights) == ["fc.bias", "fc.weight", "scale"]
    assert sorted(n for n, _ in graph.named_parameters()) == ["fc.bias", "fc.weight"]
    x = torch.randn(2, 4)
    assert torch.equal(graph(x=x), model(x))


def test_trace_rejects_non_modules_and_positional_inputs_clearly():
    with pytest.raises(TypeError, match="needs a torch.nn.Module"):
        mase_ir.trace(lambda x: x, {"x": torch.randn(2)})
    with pytest.raises(TypeError, match="as a dict of keyword arguments, got tuple"):
        mase_ir.trace(torch.nn.ReLU(), (torch.randn(2),))


def test_trace_puts_back_every_submodule_mode():
    """A training wrapper around an eval-mode backbone keeps both modes after tracing."""
    backbone = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Dropout(0.5))
    wrapper = torch.nn.Sequential(backbone, torch.nn.Linear(8, 2)).train()
    backbone.eval()  # after the wrapper's train(), which is recursive
    mase_ir.trace(wrapper, {"input": torch.randn(2, 8)})
    assert wrapper.training and wrapper[1].training
    assert not backbone.training and not backbone[1].training


def test_flatten_is_a_reshape_to_the_result_shape():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4), torch.nn.ReLU()).eval()
    x = torch.randn(2, 3, 4)
    graph = mase_ir.trace(model, {"input": x})  # Sequential's argument is named input
    first = graph.nodes[0]
    assert first.op == "reshape" and list(first.attrs["shape"]) == [2, 12]
    x2 = torch.randn(2, 3, 4)
    assert torch.equal(graph(input=x2), model(x2))
    partial = mase_ir.trace(torch.nn.Flatten(0, 1).eval(), {"input": x})  # start/end dims honoured
    assert list(partial.nodes[0].attrs["shape"]) == [6, 4]
    assert torch.equal(partial(input=x), x.reshape(6, 4))
