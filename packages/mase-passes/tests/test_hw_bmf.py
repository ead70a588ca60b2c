"""Block-minifloat / block-logarithm graphs on hardware (the BMF8 / BL8 comparison rows): a BMF /
BL linear maps onto mase_bmf_linear / mase_bl_linear with ROM weights, its exact emulation equals
an independent oracle (rational arithmetic on mx_formats' dequantized operands, re-quantized by
mx_formats.quantize), the estimate says honestly that no cost model covers it yet, an emitted design simulates bit for
bit equal to that emulation (Icarus, idle cycles and back-pressure), and what is not built is
refused by name."""

import json
import shutil
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


def test_other_ops_and_mixed_families_are_refused_by_name():
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


class _NoBlockFloatCost:
    """A cost model that knows only the MXInt linear (as mase_cost does before BMF / BL sweeps)."""

    modules = ["mase_mxint_linear"]

    def predict(self, module, params, nodsp=False, extrapolate=False):
        return {"lut": 1.0, "ff": 0.0, "dsp": 0.0, "bram": 0.0, "carry": 0.0}


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog not installed")
@pytest.mark.parametrize("fmt", [BMF8, BL8])
def test_emitted_block_float_linear_simulates_bit_exact(fmt, tmp_path):
    """ROM images (mase_hwlib.rom_bmf) and _data / _bias wiring: every output code and shared bias
    of the simulation equals the exact emulation, which equals the rational oracle."""
    pytest.importorskip("cocotb_tools", reason="cocotb not installed")
    torch.manual_seed(2)
    x = torch.randn(4, 32)
    q = _quantized(_Lin(32, 16), x, fmt)
    r = get_pass("emit")().apply(q, tmp_path / "design", sample_inputs={"x": x})
    top = (r.out_dir / "top.sv").read_text()
    assert ".x_data(" in top and ".x_bias(" in top and ".y_bias(" in top
    assert sorted(p.name for p in (r.out_dir / "mem").iterdir()) == ["linear_bias.hex", "linear_weight.hex"]
    assert r.run_simulation(idle=0.3, backpressure=0.3, seed=3)
    seen = json.loads((r.out_dir / "sim_out" / "outputs.json").read_text())
    assert not seen["errors"]
    want = json.loads((r.out_dir / "vectors.json").read_text())["outputs"]["out_linear"]
    got = seen["outputs"]["out_linear"]
    assert got["data"] == want["data"] and got["bias"] == want["bias"] and len(got["bias"]) == 2  # 4 rows x 16 outputs: two (16, 2) blocks
    y = mxf.dequantize(emulate.exact(r.design, {"x": x})["linear"]).astype(np.float64)
    assert np.array_equal(y, _oracle(q, x))


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog not installed")
def test_block_float_bench_detects_a_wrong_bias(tmp_path):
    pytest.importorskip("cocotb_tools", reason="cocotb not installed")
    x = torch.randn(2, 32)
    r = get_pass("emit")().apply(_quantized(_Lin(32, 16), x, BMF8), tmp_path / "design", sample_inputs={"x": x})
    vec = json.loads((r.out_dir / "vectors.json").read_text())
    vec["outputs"]["out_linear"]["bias"][0] += 1
    (r.out_dir / "vectors.json").write_text(json.dumps(vec))
    assert not r.run_simulation(idle=0.0, backpressure=0.0)
    seen = json.loads((r.out_dir / "sim_out" / "outputs.json").read_text())
    assert any("out_linear beat 0" in e for e in seen["errors"])


def test_element_lsb_is_the_grid_step():
    """BMF: every value is a whole number of its LSB, below 2^(M+1) of them, and one LSB more is the
    next grid value up (re-quantizing it gives it back); BL: the step is the element's power."""
    from mase_passes.hardware.bmf_map import element_lsb

    torch.manual_seed(3)
    t = (torch.randn(4, 32) * torch.logspace(-3, 3, 32)).double().numpy()
    for fmt in (mxf.BMF((16, 2), 4, 3, 8), mxf.BL((16, 2), 7, 8)):
        q = mxf.quantize(t, fmt, axes=(-1, -2))
        v, lsb = mxf.dequantize(q).astype(np.float64), element_lsb(q)
        assert np.all(lsb > 0)
        if isinstance(fmt, mxf.BL):
            assert np.array_equal(lsb[v != 0], np.abs(v[v != 0]))
            continue
        n = np.abs(v) / lsb
        assert np.array_equal(n, np.round(n)) and n.max() < 2 ** (fmt.man_bits + 1)
        up = np.abs(v) + lsb  # a grid value of the same block (below its saturation)
        back = mxf.dequantize(mxf.quantize(np.where(n < 2 ** (fmt.man_bits + 1) - 1, up, np.abs(v)), fmt,
                                           axes=(-1, -2))).astype(np.float64)
        inner = n < 2 ** (fmt.man_bits + 1) - 1
        assert np.array_equal(back[inner], up[inner])
