"""reorder_channels: exact in FP32, sorts the hidden channels, lowers the block rounding error,
and leaves alone what it cannot permute (checked against direct computations)."""

import mase_ir
import mx_formats as mxf
import pytest
import torch

from mase_passes.passes.reorder_channels import ReorderChannels, bits_lost, find_group


class FFN(torch.nn.Module):
    """32 -> 64 -> gelu -> 32, with a few hidden channels scaled up 64x (as in BERT's FFN)."""

    def __init__(self, act=torch.nn.functional.gelu):
        super().__init__()
        self.up = torch.nn.Linear(32, 64)
        self.down = torch.nn.Linear(64, 32)
        self.act = act
        with torch.no_grad():
            for c in (3, 21, 40, 58):  # one large channel in each of the four 16-channel blocks
                self.up.weight[c] *= 64
                self.up.bias[c] *= 64

    def forward(self, x):
        return self.down(self.act(self.up(x)))


class GatedFFN(torch.nn.Module):
    """LLaMA's MLP: down(silu(gate(x)) * up(x))."""

    def __init__(self):
        super().__init__()
        self.gate = torch.nn.Linear(32, 64, bias=False)
        self.up = torch.nn.Linear(32, 64, bias=False)
        self.down = torch.nn.Linear(64, 32, bias=False)
        with torch.no_grad():
            self.up.weight[[5, 30]] *= 50

    def forward(self, x):
        return self.down(torch.nn.functional.silu(self.gate(x)) * self.up(x))


def _traced(model, features=32):
    torch.manual_seed(0)
    x = torch.randn(8, features)
    return model.eval(), x, mase_ir.trace(model, {"x": x})


def _hidden(graph, value, x):
    probe = mase_ir.MaseGraph(graph.inputs, graph.nodes, [value], graph.weights)
    with torch.no_grad():
        return probe(x=x)


def test_reordered_graph_computes_the_same_function_and_sorts_the_hidden_channels():
    torch.manual_seed(0)
    model, x, g = _traced(FFN())
    calib = [{"x": torch.randn(8, 32)} for _ in range(3)]
    out, report = ReorderChannels().apply(g, calib)
    test_x = torch.randn(8, 32)
    with torch.no_grad():
        assert torch.allclose(out(x=test_x), model(test_x), atol=1e-5)
        assert torch.equal(g(x=test_x), model(test_x))  # the input graph keeps its weights
    up = next(n.name for n in g.nodes if n.op == "linear")
    amax = torch.stack([_hidden(out, up, b["x"]).abs().amax(0) for b in calib]).amax(0)
    # channel maxima of the new graph, measured independently: the four large ones come first
    assert set(torch.argsort(amax, descending=True)[:4].tolist()) == {0, 1, 2, 3}
    assert len(report.groups) == 1 and report.groups[0].channels == 64
    assert report.groups[0].bits_lost_after < report.groups[0].bits_lost_before


def test_reordering_lowers_the_mxint_rounding_error_of_the_hidden_values():
    torch.manual_seed(0)
    _, x, g = _traced(FFN())
    calib = [{"x": torch.randn(8, 32)} for _ in range(3)]
    out, _ = ReorderChannels().apply(g, calib)
    fmt = mxf.MXInt((16, 1), 8, 4)
    gelu = next(n.name for n in g.nodes if n.op == "gelu")
    errors = []
    for graph in (g, out):
        h = _hidden(graph, gelu, x)
        e = torch.as_tensor(mxf.fake_quantize(h.numpy(), fmt)) - h
        # per-channel relative error, averaged over channels (invariant to their order)
        errors.append(float((e.pow(2).sum(0) / h.pow(2).sum(0).clamp_min(1e-30)).mean()))
    # scattered large channels zero most of their block-mates at 4 bits; sorted, they share one block
    assert errors[1] < 0.5 * errors[0]


def test_gated_ffn_permutes_gate_and_up_together():
    torch.manual_seed(0)
    model, x, g = _traced(GatedFFN())
    out, report = ReorderChannels().apply(g, [{"x": torch.randn(8, 32)}])
    with torch.no_grad():
        assert torch.allclose(out(x=x), model(x), atol=1e-5)
    assert len(report.groups) == 1 and len(report.groups[0].producers) == 2


def test_shared_weights_and_outside_readers_are_left_alone_with_the_reason():
    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(16, 16)

        def forward(self, x):
            return self.a(torch.relu(self.a(x)))  # the same weight both sides

    class Leaky(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(16, 16), torch.nn.Linear(16, 16)

        def forward(self, x):
            h = torch.relu(self.a(x))
            return self.b(h) + h  # h is read by the add too: its order is visible

    _, _, tied = _traced(Tied(), 16)
    first, second = [n.name for n in tied.nodes if n.op == "linear"]
    assert find_group(tied, second) == (None, f"weight of %{first} (a.weight) is shared with another use")
    _, x, leaky = _traced(Leaky(), 16)
    out, report = ReorderChannels().apply(leaky, [{"x": x}])
    assert report.groups == [] and "also read outside the group" in report.skipped[0][1]
    assert all(torch.equal(out.weights[k], leaky.weights[k]) for k in leaky.weights)


def test_bits_lost_against_a_hand_count():
    # blocks of 2: (8, 1) -> log2(8/8) + log2(8/1) = 3; (2, 2) -> 0; mean over 4 channels = 0.75
    assert bits_lost(torch.tensor([8.0, 1.0, 2.0, 2.0]), 2) == pytest.approx(0.75)
    assert bits_lost(torch.tensor([8.0, 0.0]), 2) == 0.0  # a dead channel is not counted


def test_no_calibration_batches_is_an_error():
    _, _, g = _traced(FFN())
    with pytest.raises(ValueError, match="no calibration batches"):
        ReorderChannels().apply(g, [])


@pytest.mark.parametrize("family", ["bert", "llama"])
def test_hugging_face_ffns_are_found_and_the_model_output_is_unchanged(family):
    import transformers as tf

    torch.manual_seed(0)
    if family == "bert":
        model = tf.BertModel(tf.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                           intermediate_size=64, max_position_embeddings=32), add_pooling_layer=False)
        kwargs = {}
    else:
        model = tf.LlamaModel(tf.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32))
        kwargs = {"use_cache": False}
    model.eval()
    ids = torch.randint(1, 64, (2, 8))
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    g = mase_ir.trace(model, {**inputs, **kwargs})
    out, report = ReorderChannels().apply(g, [inputs])
    assert [len(grp.producers) for grp in report.groups] == ([1, 1] if family == "bert" else [2, 2])
    assert all(grp.consumer and grp.channels == 64 for grp in report.groups)
    with torch.no_grad():
        assert torch.allclose(out(**inputs), g(**inputs), atol=1e-5)
        # the check can fail: the hidden values really are permuted (not the identity)
        assert any(not torch.equal(out.weights[k], g.weights[k]) for k in g.weights)
