"""Mapping of quantized graphs onto mase_hwlib modules, and the exact emulation against an
independent oracle (float64 arithmetic + mx_formats.quantize, not the hwlib golden models)."""

import mase_ir
import mx_formats as mxf
import numpy as np
import pytest
import torch

from mase_passes.hardware import MappingError, map_graph
from mase_passes.hardware import emulate, examples
from mase_passes.passes.quantize import Quantize


def test_toy_maps_to_linear_in_rom_and_relu_with_host_side_flatten():
    _, _, q = examples.toy()
    d = map_graph(q)
    assert d.host_nodes == ["flatten"]
    assert [(v.name, v.shape) for v in d.inputs] == [("flatten", (4, 32))]
    lin, relu = d.stages
    # by hand: x [4,32] in (4,2) blocks -> BLOCK_K 4, X_ROWS 2; W [8,32] in (4,4) -> OUT_TILE 4
    assert lin.module == "mase_mxint_linear"
    assert {k: lin.params[k] for k in ("BLOCK_K", "X_ROWS", "OUT_TILE", "IN_TILES", "OUT_TILES", "X_MAN", "W_MAN",
                                       "OUT_MAN", "HAS_BIAS", "BIAS_MAN", "WEIGHTS_IN_ROM")} == \
        dict(BLOCK_K=4, X_ROWS=2, OUT_TILE=4, IN_TILES=8, OUT_TILES=2, X_MAN=5, W_MAN=3, OUT_MAN=6, HAS_BIAS=1,
             BIAS_MAN=6, WEIGHTS_IN_ROM=1)
    assert relu.module == "mase_mxint_relu" and relu.inputs == {"x": "linear"}
    assert (relu.params["IN_MAN"], relu.params["OUT_MAN"], relu.params["BLOCK_0"], relu.params["BLOCK_1"]) == (6, 5, 4, 2)
    assert [v.name for v in d.outputs] == ["relu"]


def _oracle_linear_relu(q, x):
    """flatten -> linear -> relu by float64 arithmetic on the quantized operands, rounded by
    mx_formats.quantize (exact: every product and the short sums are exact in float64)."""
    fx = q.value_type("x").element
    xin = mxf.dequantize(mxf.quantize(x.double().numpy(), fx, axes=(-1, -2))).reshape(4, 32)
    xq = mxf.dequantize(mxf.quantize(xin, q.value_type("flatten").element, axes=(-1, -2)))
    n = q.node("linear")
    w = q.weights["fc.weight"].detach().double().numpy()
    b = q.weights["fc.bias"].detach().double().numpy()
    wq = mxf.dequantize(mxf.quantize(w, n.params["weight"].type.element, axes=(-1, -2)))
    bq = mxf.dequantize(mxf.quantize(b, mxf.MXInt((4,), 8, 6), axes=(-1,)))
    y = mxf.quantize(xq @ wq.T + bq, n.result.element, axes=(-1, -2))
    r = mxf.quantize(np.maximum(mxf.dequantize(y), 0), q.node("relu").result.element, axes=(-1, -2))
    return y, r


def test_exact_emulation_equals_float64_oracle_and_fast_emulation_gap_is_measured():
    _, x, q = examples.toy()
    d = map_graph(q)
    ex = emulate.exact(d, {"x": x})
    y, r = _oracle_linear_relu(q, x)
    np.testing.assert_array_equal(mxf.dequantize(ex["linear"]), mxf.dequantize(y))
    np.testing.assert_array_equal(mxf.dequantize(ex["relu"]), mxf.dequantize(r))
    (gap,) = emulate.compare(d, {"x": x})
    fast = q(x=x).detach().double().numpy()
    assert gap.elements == 32
    assert gap.differing == int((fast != mxf.dequantize(r)).sum())
    assert gap.max_abs == float(np.abs(fast - mxf.dequantize(r)).max())


def test_gap_counts_lsb_steps():
    """A design whose fast emulation is off by one LSB must report 1 LSB: perturb a fast output."""
    _, x, q = examples.toy()
    d = map_graph(q)
    ex = emulate.exact(d, {"x": x})["relu"]
    lsb = emulate._lsb(ex)
    val = mxf.dequantize(ex)
    # the LSB of element (r, c) is 2^(s - m + 1) of its block: check against the block exponents
    beats = __import__("mase_hwlib").streams.mx_to_beats(ex)
    exps = beats["exp"].reshape(2, 2)  # block grid (rows/2, features/4)
    for r in range(4):
        for c in range(8):
            assert lsb[r, c] == 2.0 ** (exps[r // 2, c // 4] - 5 + 1)
    assert np.all(np.abs(val) / lsb <= 2 ** 5 - 1)


def test_mlp_chain_maps_three_linears_with_mixed_widths():
    _, x, q = examples.mlp()
    d = map_graph(q)
    assert [s.module for s in d.stages] == ["mase_mxint_linear", "mase_mxint_relu"] * 2 + ["mase_mxint_linear"]
    assert d.stages[2].params["W_MAN"] == 2 and d.stages[0].params["W_MAN"] == 4
    assert d.stages[1].params["OUT_MAN"] == 3 and d.stages[2].params["X_MAN"] == 3
    (gap,) = emulate.compare(d, {"x": x})
    assert gap.elements == 16 and gap.differing == 0 and gap.max_ulp == 0  # exact in float32 (docs/hardware.md §2)


def _quantized(model, x, cfg):
    return Quantize(config=cfg).apply(mase_ir.trace(model.eval(), {"x": x}))


class _Lin(torch.nn.Module):
    def __init__(self, fin, fout):
        super().__init__()
        self.fc = torch.nn.Linear(fin, fout)

    def forward(self, x):
        return self.fc(x)


class _Tanh(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x):
        return torch.tanh(self.fc(x))


class _Residual(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 8)

    def forward(self, x):
        h = self.fc(x)
        return h + torch.relu(h)


def test_op_without_operator_is_refused_naming_node_and_op():
    q = _quantized(_Tanh(), torch.randn(2, 8), {"default": "MXInt((4,2),8,5)", "op": {"linear": {"weight": "MXInt((4,4),8,3)", "bias": "MXInt((4,4),8,3)"}}})
    with pytest.raises(MappingError, match=r"%tanh: op 'tanh'.*no mase_hwlib operator"):
        map_graph(q)


def test_format_without_operator_is_refused():
    # (BMF and BL linears map since mase_bmf_linear / mase_bl_linear: test_hw_bmf.py)
    q = _quantized(_Tanh(), torch.randn(2, 8), {"default": "MXFP8_E4M3"})
    with pytest.raises(MappingError, match=r"%linear: .*MXFP8_E4M3.*MXInt stream operators only"):
        map_graph(q)


def test_search_blocking_gets_a_reblock_after_the_linear():
    """(16,2) everywhere (the search's default): the linear emits 2 x 2 tiles at m+4 bits, a
    mase_mxint_reblock rounds them into (16,2) blocks; oracle: mx_formats, twice."""
    torch.manual_seed(0)
    x = torch.randn(2, 32)
    q = _quantized(_Lin(32, 32), x, {"default": "MXInt((16,2),8,5)", "node": {"linear": {"weight": "MXInt((16,2),8,3)"}}})
    d = map_graph(q)
    lin, rb = d.stages
    assert rb.module == "mase_mxint_reblock" and lin.params["OUT_TILE"] == 2 and lin.params["OUT_MAN"] == 9
    assert (rb.params["IN_B0"], rb.params["IN_B1"], rb.params["OUT_B0"], rb.params["OUT_B1"]) == (2, 2, 16, 2)
    y = emulate.exact(d, {"x": x})["linear"]
    xq = mxf.dequantize(mxf.quantize(x.double().numpy(), mxf.MXInt((16, 2), 8, 5), axes=(-1, -2)))
    n = q.node("linear")
    wq = mxf.dequantize(mxf.quantize(q.weights["fc.weight"].detach().double().numpy(), mxf.MXInt((16, 2), 8, 3),
                                     axes=(-1, -2)))
    bq = mxf.dequantize(mxf.quantize(q.weights["fc.bias"].detach().double().numpy(), mxf.MXInt((16, 2), 8, 5),
                                     axes=(-1, -2)))  # the graph's own bias quantization
    tiles = mxf.quantize(xq @ wq.T + bq, mxf.MXInt((2, 2), 8, 9), axes=(-1, -2))
    want = mxf.quantize(mxf.dequantize(tiles), n.result.element, axes=(-1, -2))
    np.testing.assert_array_equal(mxf.dequantize(y), mxf.dequantize(want))


def test_fan_out_maps_and_output_with_other_readers_is_refused():
    q = _quantized(_Residual(), torch.randn(2, 8), {"default": "MXInt((4,2),8,5)", "op": {"linear": {"weight": "MXInt((4,4),8,3)", "bias": "MXInt((4,4),8,3)"}}})
    d = map_graph(q)
    readers = [s.name for s in d.stages for v in s.inputs.values() if v == "linear"]
    assert sorted(readers) == ["add", "relu"]

    class OutAndMore(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(8, 8)

        def forward(self, x):
            h = self.fc(x)
            return h, torch.relu(h)

    q2 = _quantized(OutAndMore(), torch.randn(2, 8), {"default": "MXInt((4,2),8,5)", "op": {"linear": {"weight": "MXInt((4,4),8,3)", "bias": "MXInt((4,4),8,3)"}}})
    with pytest.raises(MappingError, match=r"%linear: its result is a graph output and also read by"):
        map_graph(q2)


def test_shape_that_does_not_tile_is_refused():
    q = _quantized(_Lin(8, 6), torch.randn(2, 8), {"default": "MXInt((4,2),8,5)", "op": {"linear": {"weight": "MXInt((4,4),8,3)", "bias": "MXInt((4,4),8,3)"}}})
    with pytest.raises(MappingError, match=r"%linear: value %linear \[2, 6\] is not a whole number of 2x4 tiles"):
        map_graph(q)
