"""Fixed-point graphs on hardware: the int8 baseline (fixed_point_config) and mixed precision
fixed point map onto mase_fixed_* modules, casts bridge Fixed and MXInt, the exact emulation
equals an independent oracle (float64 arithmetic + mx_formats.quantize, not the hwlib goldens),
ranges the formats cannot hold are reported, parallelize estimates and widens fixed stages."""

import math
import shutil

import mase_ir
import mx_formats as mxf
import numpy as np
import pytest
import torch

from mase_passes.baselines import fixed_point_config
from mase_passes.hardware import MappingError, emulate, fixed_map, map_graph
from mase_passes.passes import get_pass
from mase_passes.passes.parallelize import Parallelize


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 8)
        self.fc2 = torch.nn.Linear(8, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class MLPR(MLP):
    """The MLP with a relu on its output too: linear -> relu -> linear -> relu."""

    def forward(self, x):
        return torch.relu(self.fc2(torch.relu(self.fc1(x))))


# Fixed linear -> relu into MXInt -> MXInt linear -> relu back into Fixed
MIXED_CONFIG = {"node": {"linear": {"data_in": "Fixed(8,4)", "weight": "Fixed(8,7)", "bias": "Fixed(8,7)",
                                    "data_out": "Fixed(8,5)"},
                         "relu": {"data_out": "MXInt((4,),8,5)"},
                         "linear_1": {"weight": "MXInt((4,4),8,6)", "bias": "MXInt((4,),8,6)",
                                      "data_out": "MXInt((4,),8,7)"},
                         "relu_1": {"data_out": "Fixed(12,9)"}}}


def mixed_mlp(x):
    torch.manual_seed(0)
    return get_pass("quantize")(config=MIXED_CONFIG).apply(mase_ir.trace(MLPR().eval(), {"x": x}))


def _frac(amax: float, width: int) -> int:
    """fixed_point_config's rule: f = width - 1 - e for max|x| = m 2^e, m in [0.5, 1)."""
    return width - 1 - math.frexp(amax)[1]


def int8_mlp(width=8, overrides=None, seed=0):
    """(model, sample x, quantized graph): profile on calibration batches, fixed_point_config, and the
    graph input given a Fixed format by the same rule (the profile records node results only)."""
    torch.manual_seed(seed)
    model = MLP().eval()
    x = torch.randn(4, 16)
    g = mase_ir.trace(model, {"x": x})
    cal = [{"x": torch.randn(4, 16)} for _ in range(4)]
    get_pass("profile")().apply(g, cal)
    cfg = fixed_point_config(g, width)
    amax = max(float(b["x"].abs().max()) for b in cal + [{"x": x}])
    cfg["node"]["linear"]["data_in"] = f"Fixed({width},{_frac(amax, width)})"
    for node, slots in (overrides or {}).items():
        cfg["node"].setdefault(node, {}).update(slots)
    return model, x, get_pass("quantize")(config=cfg).apply(g)


def _fixed(q, name) -> mxf.Fixed:
    return q.value_type(name).element


def _oracle(q, x, with_relu_fmt=None):
    """linear -> relu -> linear by float64 arithmetic on the quantized operands (every product and
    sum here is a short dyadic number, exact in float64), each result rounded by mx_formats.quantize."""
    def quant(v, fmt):
        return mxf.dequantize(mxf.quantize(v, fmt)).astype(np.float64)

    def param(node, role):
        n = q.node(node)
        return quant(q.weights[n.params[role].path].detach().double().numpy(), n.params[role].type.element)

    h = quant(x.double().numpy(), _fixed(q, "x"))
    h = quant(h @ param("linear", "weight").T + param("linear", "bias"), _fixed(q, "linear"))
    h = quant(np.maximum(h, 0), with_relu_fmt or _fixed(q, "relu"))
    return quant(h @ param("linear_1", "weight").T + param("linear_1", "bias"), _fixed(q, "linear_1"))


def test_int8_mlp_maps_to_fixed_linear_and_relu_with_rom_weights():
    _, _, q = int8_mlp()
    d = map_graph(q)
    assert [s.module for s in d.stages] == ["mase_fixed_linear", "mase_fixed_relu", "mase_fixed_linear"]
    lin, relu, lin1 = d.stages
    fx, fw, fb, fo = _fixed(q, "x"), *(q.node("linear").params[r].type.element for r in ("weight", "bias")), \
        _fixed(q, "linear")
    # by hand: x [4,16], default tile 4 features x 1 row; W [8,16]: OUT_TILE 4 (default rule), 4 x 2 tiles
    assert {k: lin.params[k] for k in ("BLOCK_K", "X_ROWS", "OUT_TILE", "IN_TILES", "OUT_TILES", "HAS_BIAS",
                                       "WEIGHTS_IN_ROM")} == dict(BLOCK_K=4, X_ROWS=1, OUT_TILE=4, IN_TILES=4,
                                                                  OUT_TILES=2, HAS_BIAS=1, WEIGHTS_IN_ROM=1)
    assert (lin.params["X_WIDTH"], lin.params["X_FRAC"], lin.params["W_FRAC"], lin.params["B_FRAC"],
            lin.params["OUT_WIDTH"], lin.params["OUT_FRAC"]) == (8, fx.frac, fw.frac, fb.frac, 8, fo.frac)
    assert relu.params == dict(BLOCK=4, IN_WIDTH=8, IN_FRAC=fo.frac, OUT_WIDTH=8, OUT_FRAC=_fixed(q, "relu").frac)
    assert lin1.inputs == {"x": "relu"} and lin1.params["IN_TILES"] == 2 and lin1.params["OUT_TILES"] == 1
    # the weight ROM: tile (o, k) holds W[4o + c, 4k + kk] at lane 4c + kk, quantized by mx_formats
    w = q.weights["fc1.weight"].detach().double().numpy()
    codes = mxf.quantize(w, fw).mantissas()
    tiles = lin.roms["WEIGHT_FILE"][0]["data"]
    assert tiles.shape == (8, 16)
    assert tiles[1 * 4 + 2][3 * 4 + 1] == codes[1 * 4 + 3, 2 * 4 + 1]
    assert [v.describe() for v in d.inputs] == [f"Fixed(8,{fx.frac}) lanes [4, 16] as 4x16, 16 beats of 1x4"]
    assert not d.warnings  # fixed_point_config's fractions hold every profiled range


def test_exact_emulation_equals_float64_oracle_and_the_fast_gap_is_measured():
    _, x, q = int8_mlp()
    d = map_graph(q)
    ex = emulate.exact(d, {"x": x})
    got = ex["linear_1"] * 2.0 ** -_fixed(q, "linear_1").frac
    np.testing.assert_array_equal(got, _oracle(q, x))
    (gap,) = emulate.compare(d, {"x": x})
    fast = q(x=x).detach().double().numpy()
    assert gap.elements == 16 and gap.differing == int((fast != got).sum())
    assert gap.differing == 0  # measured: 8-bit products and 16-term sums are exact in float32 too
    assert gap.max_ulp == float(np.abs(fast - got).max() * 2.0 ** _fixed(q, "linear_1").frac)


def test_mixed_precision_fixed_point_maps_with_per_tensor_widths():
    """MP int: 4-, 12- and 16-bit tensors in one graph; each stage rounds into its own format."""
    _, x, q = int8_mlp(overrides={"linear": {"weight": "Fixed(4,3)", "data_out": "Fixed(12,8)"},
                                  "relu": {"data_out": "Fixed(16,12)"}, "linear_1": {"bias": "Fixed(12,10)"}})
    d = map_graph(q)
    lin, relu, lin1 = d.stages
    assert (lin.params["W_WIDTH"], lin.params["OUT_WIDTH"], relu.params["OUT_WIDTH"], lin1.params["X_WIDTH"],
            lin1.params["B_WIDTH"]) == (4, 12, 16, 16, 12)
    got = emulate.exact(d, {"x": x})["linear_1"] * 2.0 ** -_fixed(q, "linear_1").frac
    np.testing.assert_array_equal(got, _oracle(q, x))


def test_fixed_linear_feeding_an_mxint_op_casts_once_and_back():
    """Fixed linear -> relu with an MXInt result (fixed relu, exact, then mase_fixed_to_mxint) ->
    linear_1 with MXInt operands but a Fixed weight is refused; with MXInt weights it maps, and a
    final relu back into Fixed goes through mase_mxint_block_to_fixed."""
    _, x, q = int8_mlp(overrides={"relu": {"data_out": "MXInt((4,),8,5)"}})
    with pytest.raises(MappingError, match=r"%linear_1: linear of MXInt operands .*mixed MXInt / fixed-point"):
        map_graph(q)

    qm = mixed_mlp(x)
    d = map_graph(qm)
    assert [s.module for s in d.stages] == ["mase_fixed_linear", "mase_fixed_relu", "mase_fixed_to_mxint",
                                            "mase_mxint_linear", "mase_mxint_relu", "mase_mxint_block_to_fixed"]
    to_mx = d.stage("relu_to_mxint")
    assert (to_mx.params["IN_WIDTH"], to_mx.params["IN_FRAC"], to_mx.params["BLOCK_0"]) == (8, 5, 4)
    ex = emulate.exact(d, {"x": x})
    # oracle: the relu's MXInt result is mx_formats.quantize of the exact relu of the Fixed linear
    lin = ex["linear"] * 2.0 ** -5
    relu_mx = mxf.quantize(np.maximum(lin, 0), mxf.MXInt((4,), 8, 5), axes=(-1,))
    np.testing.assert_array_equal(mxf.dequantize(ex["relu"]), mxf.dequantize(relu_mx))
    y = mxf.dequantize(ex["linear_1"]).astype(np.float64)
    want = mxf.quantize(np.maximum(y, 0), mxf.Fixed(12, 9)).mantissas()
    np.testing.assert_array_equal(ex["relu_1"], want)


@pytest.mark.parametrize("overrides,message", [
    ({"linear": {"weight": "MXInt((4,4),8,5)"}}, r"%linear: linear with a fixed-point input needs a Fixed weight"),
    ({"linear": {"bias": "MXInt((4,),8,5)"}}, r"%linear: linear with a fixed-point input needs a Fixed bias"),
    ({"linear": {"data_out": "MXInt((4,2),8,5)"}}, r"%linear: result block \(4, 2\) has 2 rows but the "
                                                   r"fixed-point input tiles have 1"),
    ({"relu": {"data_out": "MXInt((2,2),8,5)"}}, r"%relu: fixed-point tile \(4, 1\) \(features, rows\) differs "
                                                 r"from the result's MXInt block \(2, 2\)"),
])
def test_mixes_without_an_operator_are_refused_naming_the_node(overrides, message):
    _, _, q = int8_mlp(overrides=overrides)
    with pytest.raises(MappingError, match=message):
        map_graph(q)


def test_float_input_and_fixed_nonlinear_are_refused():
    torch.manual_seed(0)
    m = MLP().eval()
    x = torch.randn(4, 16)
    g = mase_ir.trace(m, {"x": x})
    q = get_pass("quantize")(config={"node": {"linear": {"weight": "Fixed(8,7)", "bias": "Fixed(8,7)",
                                                         "data_out": "Fixed(8,5)"}}}).apply(g)
    with pytest.raises(MappingError, match=r"%linear: its operand %x is a hardware input of format f32: .*"
                                           r"MXInt or Fixed format \(set data_in"):
        map_graph(q)

    class G(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.gelu(x)

    qg = get_pass("quantize")(config={"default": "Fixed(8,4)"}).apply(mase_ir.trace(G(), {"x": x}))
    with pytest.raises(MappingError, match=r"%gelu: op 'gelu' with fixed-point operands or result has no mase_hwlib "
                                           r"operator"):
        map_graph(qg)


def test_a_format_that_cannot_hold_the_profiled_range_is_reported():
    """Fixed(8,7) holds [-1, 0.992]; the first linear's profiled range is about [-1.54, 1.37]."""
    _, x, q = int8_mlp(overrides={"linear": {"data_out": "Fixed(8,7)", "weight": "Fixed(8,10)"}})
    st = q.node("linear").sw.statistics
    assert st["min"] < -1 and st["max"] > 1
    d = map_graph(q)
    lines = d.warnings
    assert lines[0] == (f"%linear: Fixed(8,7) holds [-1, 0.992188] but the profiled range is "
                        f"[{st['min']:.6g}, {st['max']:.6g}]: values beyond it saturate (integer part too short)")
    w = q.weights["fc1.weight"].detach().double()
    assert float(w.abs().max()) * 2 ** 10 >= 128  # the weight's integer part really does not fit
    assert lines[1].startswith("%linear weight: Fixed(8,10) holds [-0.125, 0.124023] but the values span")
    assert len(lines) == 2  # relu / linear_1 formats from fixed_point_config hold their ranges
    _, report = Parallelize(budget="u250", widen=False).apply(q, cost_model=NoFixedCost())
    assert report.warnings == lines
    assert f"warning: {lines[0]}" in str(report)
    # saturated, not wrapped: the emulated linear stays in [-128, 127], at the rails where the range is exceeded
    lin = emulate.exact(d, {"x": x})["linear"]
    assert lin.min() >= -128 and lin.max() <= 127 and (np.abs(lin) >= 127).any()


def test_range_warnings_reach_the_emitted_design(tmp_path):
    import json

    _, _, q = int8_mlp(overrides={"linear": {"data_out": "Fixed(8,7)"}})
    r = get_pass("emit")().apply(q, tmp_path / "warn")
    (line,) = json.loads((r.out_dir / "design.json").read_text())["warnings"]
    assert line.startswith("%linear: Fixed(8,7) holds [-1, 0.992188]")
    assert f"- {line}" in (r.out_dir / "README.md").read_text()


class NoFixedCost:
    """A cost model that knows only the MXInt linear (as mase_cost did before fixed point)."""

    modules = ["mase_mxint_linear"]

    def predict(self, module, params, nodsp=False, extrapolate=False):
        return {"lut": 1.0, "ff": 0.0, "dsp": 0.0, "bram": 0.0, "carry": 0.0}


class FixedCost:
    """Area oracle for the fixed stages: 10 LUT per MAC lane, 5 LUT per relu lane."""

    modules = ["mase_fixed_linear", "mase_fixed_relu"]

    def predict(self, module, params, nodsp=False, extrapolate=False):
        if module == "mase_fixed_linear":
            lut = 10.0 * params["X_ROWS"] * params["OUT_TILE"] * params["BLOCK_K"]
        else:
            lut = 5.0 * params["BLOCK"]
        return {"lut": lut, "ff": 0.0, "dsp": 0.0, "bram": 0.0, "carry": 0.0}


def test_parallelize_estimates_fixed_stages_without_a_cost_model_and_says_so():
    _, _, q = int8_mlp()
    g, report = Parallelize(budget="u250").apply(q, cost_model=NoFixedCost())
    labels = {s.stage: s.area_label for s in report.estimate.stages}
    assert labels == {"linear": "no cost model for mase_fixed_linear", "relu": "no cost model for mase_fixed_relu",
                      "linear_1": "no cost model for mase_fixed_linear"}
    # cycles: IN_TILES per output tile (4 rows x 2 output tiles x 4 = 32, then 4 x 1 x 2 = 8);
    # relu one 4-lane beat per cycle (4 rows x 8 features / 4 = 8)
    assert [s.cycles_per_input for s in report.estimate.stages] == [32, 8, 8]
    assert not report.steps and any("have no cost model" in n for n in report.notes)
    assert g.node("linear").hw.ip == "mase_fixed_linear" and g.node("linear").hw.parallelism == (1, 4, 4)
    assert g.node("relu").hw.tile == (4,) and g.node("linear").hw.area is None


def test_parallelize_widens_fixed_tiles_and_emit_maps_them_back_without_changing_values():
    """Fixed point has no block, so widening a tile changes the hardware only: the recorded tiles
    (node.hw) are what map_graph reads again, and the exact outputs stay the same."""
    _, x, q = int8_mlp()
    before = emulate.exact(map_graph(q), {"x": x})["linear_1"]
    g, report = Parallelize(budget={"lut": 2000, "ff": 1e9, "dsp": 1e9, "bram": 1e9},
                            max_block=16).apply(q, cost_model=FixedCost())
    assert report.steps and report.estimate.cycles_per_input < 32
    assert report.estimate.total("lut") <= 2000
    d = map_graph(g)
    lin = d.stage("linear")
    assert (lin.params["X_ROWS"], lin.params["OUT_TILE"], lin.params["BLOCK_K"]) == g.node("linear").hw.parallelism
    assert lin.params["X_ROWS"] * lin.params["OUT_TILE"] * lin.params["BLOCK_K"] > 16  # widened from 1x4x4
    assert [s.params for s in d.stages] == [s.params for s in report.design.stages]
    np.testing.assert_array_equal(emulate.exact(d, {"x": x})["linear_1"], before)


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog not installed")
def test_mixed_fixed_and_mxint_design_emits_and_simulates_bit_exact(tmp_path):
    """Fixed linear -> MXInt relu (cast) -> MXInt linear -> Fixed relu (cast back), in Icarus."""
    import json

    torch.manual_seed(1)
    x = torch.randn(4, 16)
    q = mixed_mlp(x)
    r = get_pass("emit")().apply(q, tmp_path / "mixed", sample_inputs={"x": x})
    assert r.run_simulation(idle=0.3, backpressure=0.3, seed=2)
    seen = json.loads((r.out_dir / "sim_out" / "outputs.json").read_text())["outputs"]["out_relu_1"]
    got = fixed_map.untile(np.array(seen["data"]), (4, 4), 4, 1)
    np.testing.assert_array_equal(got, r.expected["out_relu_1"])
    assert np.abs(r.expected["out_relu_1"]).max() > 0


class Residual(torch.nn.Module):
    """x + fc2(relu(fc1(x))): the fixed-point input forks to the residual add."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(8, 16)
        self.fc2 = torch.nn.Linear(16, 8)

    def forward(self, x):
        return x + self.fc2(torch.relu(self.fc1(x)))


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog not installed")
def test_int8_residual_with_fork_and_fixed_add_simulates_bit_exact(tmp_path):
    import json

    torch.manual_seed(3)
    m = Residual().eval()
    x = torch.randn(4, 8)
    g = mase_ir.trace(m, {"x": x})
    get_pass("profile")().apply(g, [{"x": x}])
    cfg = fixed_point_config(g, 8)
    cfg["node"]["linear"]["data_in"] = f"Fixed(8,{_frac(float(x.abs().max()), 8)})"
    q = get_pass("quantize")(config=cfg).apply(g)
    r = get_pass("emit")().apply(q, tmp_path / "res", sample_inputs={"x": x})
    assert [s.module for s in r.design.stages] == ["mase_fixed_linear", "mase_fixed_relu", "mase_fixed_linear",
                                                   "mase_fixed_add"]
    add = r.design.stage("add")
    fx, fl, fo = (q.value_type(v).element for v in ("x", "linear_1", "add"))
    assert (add.params["A_FRAC"], add.params["B_FRAC"], add.params["OUT_FRAC"]) == (fx.frac, fl.frac, fo.frac)
    assert "mase_fork2" in (r.out_dir / "top.sv").read_text()
    # oracle: the exact sum of the two Fixed operands, rounded by mx_formats
    ex = emulate.exact(r.design, {"x": x})
    a = ex["x"] * 2.0 ** -fx.frac
    b = ex["linear_1"] * 2.0 ** -fl.frac
    np.testing.assert_array_equal(ex["add"], mxf.quantize(a + b, fo).mantissas())
    assert r.run_simulation(idle=0.3, backpressure=0.4, seed=4)
    seen = json.loads((r.out_dir / "sim_out" / "outputs.json").read_text())["outputs"]["out_add"]
    out = r.design.outputs[0]
    np.testing.assert_array_equal(fixed_map.untile(np.array(seen["data"]), out.shape, *out.tile),
                                  r.expected["out_add"])


def test_int8_toy_with_host_side_flatten_maps_and_emulates_exactly():
    """The paper's toy (flatten -> linear -> relu) in int8: flatten runs on the host, its Fixed
    result is the hardware input, and the exact emulation equals the float64 oracle."""
    from mase_passes.hardware import examples

    torch.manual_seed(0)
    m = examples.Toy().eval()
    x = torch.randn(4, 4, 8)
    g = mase_ir.trace(m, {"x": x})
    get_pass("profile")().apply(g, [{"x": x}])
    cfg = fixed_point_config(g, 8)
    cfg["node"]["flatten"] = {"data_in": "Fixed(8,5)", "data_out": "Fixed(8,5)"}
    q = get_pass("quantize")(config=cfg).apply(g)
    d = map_graph(q)
    assert d.host_nodes == ["flatten"] and [v.name for v in d.inputs] == ["flatten"]
    assert [s.module for s in d.stages] == ["mase_fixed_linear", "mase_fixed_relu"]
    ex = emulate.exact(d, {"x": x})
    n = q.node("linear")
    xq = mxf.dequantize(mxf.quantize(x.double().numpy().reshape(4, 32), mxf.Fixed(8, 5))).astype(np.float64)
    w, b = (mxf.dequantize(mxf.quantize(q.weights[n.params[r].path].detach().double().numpy(),
                                        n.params[r].type.element)).astype(np.float64) for r in ("weight", "bias"))
    y = mxf.quantize(xq @ w.T + b, _fixed(q, "linear")).mantissas()
    np.testing.assert_array_equal(ex["linear"], y)
    np.testing.assert_array_equal(ex["relu"], mxf.quantize(np.maximum(y, 0) * 2.0 ** -_fixed(q, "linear").frac,
                                                           _fixed(q, "relu")).mantissas())


def test_recorded_parallelism_is_the_fixed_tile_so_rows_compare_at_one_parallelism():
    """node.hw of a linear (e.g. copied from the MXInt row's parallelize) sets the fixed tiles: the
    input's (BLOCK_K, X_ROWS) and the OUT_TILE; a hint that does not divide the shape is ignored."""
    import dataclasses

    _, x, q = int8_mlp()
    before = emulate.exact(map_graph(q), {"x": x})["linear_1"]
    q.node("linear").hw = dataclasses.replace(q.node("linear").hw, parallelism=(2, 8, 16))
    q.node("linear_1").hw = dataclasses.replace(q.node("linear_1").hw, parallelism=(2, 3, 8))  # 3 does not divide 4
    d = map_graph(q)
    lin, relu, lin1 = d.stages
    assert (lin.params["X_ROWS"], lin.params["OUT_TILE"], lin.params["BLOCK_K"]) == (2, 8, 16)
    assert relu.params["BLOCK"] == 16 and d.values["relu"].tile == (8, 2)
    assert (lin1.params["X_ROWS"], lin1.params["OUT_TILE"], lin1.params["BLOCK_K"]) == (2, 4, 8)
    np.testing.assert_array_equal(emulate.exact(d, {"x": x})["linear_1"], before)


def test_the_int8_row_takes_the_mxint_rows_tiles():
    """cli.hardware.same_tiles: the comparison's int8 linears run at the tiles the MXInt formats
    give (BLOCK_K, X_ROWS = the input's block, OUT_TILE = the weight's second block extent), not at the
    fixed-point default tile; the graph given is not changed."""
    from mase_passes.cli.hardware import same_tiles

    _, _, q = int8_mlp()
    g = mase_ir.trace(MLP().eval(), {"x": torch.randn(4, 16)})
    config = {"default": "MXInt((8,2),8,5)", "op": {"linear": {"weight": "MXInt((8,4),8,5)"}}}
    mx = get_pass("quantize")(config=config).apply(g)
    before = [dict(s.params) for s in map_graph(q).stages]
    d = map_graph(same_tiles(q, mx))
    lin = d.stages[0]
    assert lin.module == "mase_fixed_linear"
    assert (lin.params["BLOCK_K"], lin.params["X_ROWS"], lin.params["OUT_TILE"]) == (8, 2, 4)
    assert (lin.params["IN_TILES"], lin.params["OUT_TILES"]) == (16 // 8, 8 // 4)
    assert [dict(s.params) for s in map_graph(q).stages] == before
