"""Block-minifloat / block-logarithm graphs on hardware (the BMF8 / BL8 comparison rows): a BMF /
BL linear maps onto mase_bmf_linear / mase_bl_linear with ROM weights, its exact emulation equals
an independent oracle (rational arithmetic on mx_formats' dequantized operands, re-quantized by
mx_formats.quantize), the estimate says honestly that no cost model covers it yet, and what is not
built is refused by name."""

from fractions import Fraction

import mase_ir
import mx_formats as mxf
import numpy as np
import pytest
import torch

from mase_passes.hardware import MappingError, emulate, map_graph
from mase_passes.hardware.estimate import estimate
from mase_passes.passes import get_pass
from mase_passes.passes.parallelize import Parallelize
from mase_passes.passes.quantize import Quantize

BMF8, BL8 = "BMF((16,2),4,3,8)", "BL((16,2),7,8)"


class _Lin(torch.nn.Module):
    def __init__(self, fin=64, fout=32):
        super().__init__()
        self.fc = torch.nn.Linear(fin, fout)

    def forward(self, x):
        return self.fc(x)


class _LinRelu(_Lin):
    def forward(self, x):
        return torch.relu(self.fc(x))


def _quantized(model, x, fmt):
    torch.manual_seed(0)
    return Quantize(config={"default": fmt}).apply(mase_ir.trace(model.eval(), {"x": x}))


def _oracle(q, x):
    """x W^T + b in rationals on the quantized operands, then mx_formats.quantize into the result."""
    n = q.node("linear")

    def deq(t, fmt, axes):
        return mxf.dequantize(mxf.quantize(t, fmt, axes=axes)).astype(np.float64)

    fx = q.value_type("x").element
    xs = deq(x.double().numpy(), fx, (-1, -2))
    ws = deq(q.weights[n.params["weight"].path].detach().double().numpy(), n.params["weight"].type.element, (-1, -2))
    fb = n.params["bias"].type.element  # a 2-D block on a 1-D bias: its second extent is the padded unit axis
    fb1 = (mxf.BL((fb.block[0],), fb.exp_bits, fb.bias_bits) if isinstance(fb, mxf.BL)
           else mxf.BMF((fb.block[0],), fb.exp_bits, fb.man_bits, fb.bias_bits))
    bs = deq(q.weights[n.params["bias"].path].detach().double().numpy(), fb1, (-1,))
    exact = [[sum((Fraction(float(a)) * Fraction(float(c)) for a, c in zip(xr, wr)), Fraction(float(bs[j])))
              for j, wr in enumerate(ws)] for xr in xs]
    as_float = np.array([[float(v) for v in row] for row in exact])
    assert all(Fraction(float(v)) == v for row in exact for v in row)  # exact in float64
    return mxf.dequantize(mxf.quantize(as_float, n.result.element, axes=(-1, -2))).astype(np.float64)


@pytest.mark.parametrize("fmt,module", [(BMF8, "mase_bmf_linear"), (BL8, "mase_bl_linear")])
def test_block_float_linear_maps_with_rom_weights_and_emulates_exactly(fmt, module):
    torch.manual_seed(1)
    x = torch.randn(4, 64)
    q = _quantized(_Lin(), x, fmt)
    d = map_graph(q)
    (s,) = d.stages
    assert s.module == module
    assert {k: s.params[k] for k in ("BLOCK_K", "X_ROWS", "OUT_TILE", "IN_TILES", "OUT_TILES", "OUT_GROUP",
                                     "HAS_BIAS", "WEIGHTS_IN_ROM")} == dict(
        BLOCK_K=16, X_ROWS=2, OUT_TILE=2, IN_TILES=4, OUT_TILES=16, OUT_GROUP=8, HAS_BIAS=1, WEIGHTS_IN_ROM=1)
    y = mxf.dequantize(emulate.exact(d, {"x": x})["linear"]).astype(np.float64)
    # the default bounded accumulator: on this data it rounds to the same outputs as the exact sum
    assert np.array_equal(y, _oracle(q, x))


@pytest.mark.parametrize("fmt,module", [(BMF8, "mase_bmf_linear"), (BL8, "mase_bl_linear")])
def test_estimate_gives_cycles_from_the_catalog_and_no_invented_area(fmt, module):
    q = _quantized(_Lin(), torch.randn(4, 64), fmt)
    d = map_graph(q)
    (e,) = estimate(d, cost_model=_NoBlockFloatCost()).stages
    assert e.area is None and e.area_label == f"no cost model for {module}"
    # mase_cost.cycles has the formula now (it reads the catalog's schedule, which the hwlib
    # bench checks by simulation); the value is the schedule's either way
    assert e.cycles_label == "estimated (mase_cost.cycles formula)"
    # 2 x groups of 16 output tiles, IN_TILES = 4 tile pairs each
    assert e.cycles_per_input == 2 * 16 * 4
    _, report = Parallelize(budget="u250", widen=False).apply(q, cost_model=_NoBlockFloatCost())
    assert report.estimate.unmodelled == ["linear"]


def test_other_ops_mixed_families_and_emit_are_refused_by_name(tmp_path):
    x = torch.randn(4, 64)
    with pytest.raises(MappingError, match=r"%relu: op 'relu' with block-minifloat / block-logarithm values"):
        map_graph(_quantized(_LinRelu(), x, BMF8))
    mixed = Quantize(config={"default": BMF8, "node": {"linear": {"weight": "MXInt((16,2),8,7)"}}}).apply(
        mase_ir.trace(_Lin().eval(), {"x": x}))
    with pytest.raises(MappingError, match=r"%linear: .*all BMF or all BL"):
        map_graph(mixed)
    other = Quantize(config={"default": BMF8, "node": {"linear": {"weight": "BMF((16,2),4,2,8)"}}}).apply(
        mase_ir.trace(_Lin().eval(), {"x": x}))
    with pytest.raises(MappingError, match=r"%linear: .*one element format"):
        map_graph(other)
    with pytest.raises(MappingError, match=r"%linear: mase_bmf_linear is mapped for estimates"):
        get_pass("emit")().apply(_quantized(_Lin(), x, BMF8), tmp_path / "bmf")
    assert not (tmp_path / "bmf").exists()


class _NoBlockFloatCost:
    """A cost model that knows only the MXInt linear (as mase_cost does before BMF / BL sweeps)."""

    modules = ["mase_mxint_linear"]

    def predict(self, module, params, nodsp=False, extrapolate=False):
        return {"lut": 1.0, "ff": 0.0, "dsp": 0.0, "bram": 0.0, "carry": 0.0}
