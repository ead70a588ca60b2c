"""Mapping of a BERT encoder layer: the attention pattern onto mase_hwlib.attention's stage list,
the residual fan-outs, and the exact emulation of the attention output against a float
computation on the same quantized operands (close, not equal: integer softmax)."""

import mx_formats as mxf
import numpy as np
import pytest
import torch

from mase_passes.hardware import MappingError, emulate, examples, map_graph
from mase_passes.hardware.attention import find_attention


def test_attention_pattern_is_found_with_its_shapes():
    _, _, q = examples.bert_layer(seq=4)
    (pat,) = find_attention(q)
    assert (pat.q, pat.k, pat.v) == ("linear", "linear_1", "linear_2")
    assert (pat.seq, pat.d_model, pat.heads, pat.scale) == (4, 32, 2, 0.25)
    assert pat.out == "reorder_3" and set(pat.nodes) >= {"matmul", "mul", "softmax", "matmul_1"}


def test_bert_layer_maps_every_node_and_wires_the_residuals():
    _, _, q = examples.bert_layer(seq=4)
    d = map_graph(q)
    readers = {}
    for s in d.stages:
        for v in s.inputs.values():
            readers.setdefault(v, []).append(s.name)
    assert sorted(readers["x"]) == ["add", "linear", "linear_1", "linear_2"]  # Q, K, V and the residual
    assert sorted(readers["layer_norm"]) == ["add_1", "linear_4"]
    qk = d.stage("reorder_3_qk")
    assert qk.module == "mase_mxint_matmul" and qk.params["K_TILES"] == 16 // 4
    assert d.stage("reorder_3_q_replay").inputs == {"x": "linear"}


def test_attention_output_tracks_float_attention_on_the_quantized_operands():
    _, x, q = examples.bert_layer(seq=4)
    d = map_graph(q)
    env = emulate.exact(d, {"x": x})
    qq, kk, vv = (mxf.dequantize(env[n]) for n in ("linear", "linear_1", "linear_2"))
    out = np.zeros((4, 32))
    for h in range(2):
        sl = slice(16 * h, 16 * h + 16)
        s = qq[:, sl] @ kk[:, sl].T * 0.25
        p = np.exp(s - s.max(-1, keepdims=True))
        out[:, sl] = (p / p.sum(-1, keepdims=True)) @ vv[:, sl]
    got = mxf.dequantize(env["reorder_3"])
    assert np.abs(got - out).max() < 0.05 * max(1.0, np.abs(out).max())


def test_batch_of_two_is_not_the_attention_pattern_and_is_refused():
    m, _, _ = examples.bert_layer(seq=4)
    import mase_ir

    from mase_passes.passes.quantize import Quantize

    x = torch.randn(2, 4, 32)
    q = Quantize(config=examples.BERT_CONFIG).apply(mase_ir.trace(m, {"x": x}))
    with pytest.raises(MappingError, match="cannot map node"):
        map_graph(q)


def test_fused_sdpa_attention_maps_and_tracks_the_eager_layer():
    """transformers' default sdpa attention traces to one fused node: the same stage list, with
    the documented intermediate widths; the output stays close to the eager-traced layer's."""
    from mase_passes.hardware.attention import SDPA_P_MAN, SDPA_SCORE_MAN

    _, x, q_sdpa = examples.bert_layer(seq=4, attn="sdpa")
    (pat,) = find_attention(q_sdpa)
    assert pat.scale == 0.25 and pat.score_fmt.man_bits == SDPA_SCORE_MAN and pat.p_fmt.man_bits == SDPA_P_MAN
    d = map_graph(q_sdpa)
    assert d.stage("reorder_3_softmax").module == "mase_mxint_softmax"
    _, _, q_eager = examples.bert_layer(seq=4)
    a = mxf.dequantize(emulate.exact(d, {"x": x})["layer_norm_1"])
    b = mxf.dequantize(emulate.exact(map_graph(q_eager), {"x": x})["layer_norm_1"])
    assert np.abs(a - b).max() < 0.25
