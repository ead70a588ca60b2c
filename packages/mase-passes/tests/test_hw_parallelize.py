"""parallelize: budget check, greedy widening against a brute-force search, recorded HardwareMeta,
labels for modules without a cost model; evaluate's hardware terms."""

import itertools

import mx_formats as mxf
import pytest

from mase_passes.hardware import emulate, examples, map_graph
from mase_passes.hardware.budgets import PRESETS, budget
from mase_passes.passes.evaluate import Evaluate, hardware_terms
from mase_passes.passes.parallelize import BudgetError, Parallelize


class FakeCost:
    """Area oracle with simple closed forms: linear 10 LUT per MAC lane, relu 100 LUT per lane."""

    modules = ["mase_mxint_linear", "mase_mxint_relu"]

    @staticmethod
    def lut(module, p):
        if module == "mase_mxint_linear":
            return 10.0 * p["X_ROWS"] * p["OUT_TILE"] * p["BLOCK_K"]
        return 100.0 * p["BLOCK_0"] * p["BLOCK_1"]

    def predict(self, module, params, nodsp=False, extrapolate=False):
        return {"lut": self.lut(module, params), "ff": 0.0, "dsp": 0.0, "bram": 0.0, "carry": 0.0}


def _toy_optimum(lut_budget, max_block=64):
    """Brute force over the toy's three block classes: rows R, in-feature block BK, out-feature block OT."""
    best = None
    for r, bk, ot in itertools.product((2, 4), (4, 8, 16, 32), (4, 8)):
        if max(bk * r, bk * ot, ot * r) > max_block:
            continue
        area = 10 * r * ot * bk + 100 * ot * r
        if area > lut_budget:
            continue
        cycles = max((4 // r) * (32 // bk) * (8 // ot), (4 // r) * (8 // ot))
        best = cycles if best is None else min(best, cycles)
    return best


@pytest.mark.parametrize("lut", [1500, 2500, 5000, 100000])
def test_greedy_widening_reaches_the_brute_force_optimum_on_the_toy(lut):
    _, x, q = examples.toy()
    g, rep = Parallelize(budget={"lut": lut}).apply(q, cost_model=FakeCost())
    assert rep.estimate.cycles_per_input == _toy_optimum(lut)
    # the chosen design fits, recomputed from the final stage parameters
    assert sum(FakeCost.lut(s.module, s.params) for s in rep.design.stages) <= lut
    # cycles per stage by hand: linear (N/XR)(IN/BK)(OUT/OT), relu (N/XR)(OUT/OT)
    lin, relu = rep.design.stages
    p = lin.params
    assert rep.estimate.stages[0].cycles_per_input == (4 // p["X_ROWS"]) * p["IN_TILES"] * p["OUT_TILES"]
    assert rep.estimate.stages[1].cycles_per_input == (4 // relu.params["BLOCK_1"]) * (8 // relu.params["BLOCK_0"])
    # the input graph keeps its blocks; the result still maps and emulates
    assert q.value_type("linear").element.block == (4, 2)
    assert emulate.compare(map_graph(g), {"x": x})[0].elements == 32


def test_widening_keeps_widths_and_records_hardware_meta():
    _, _, q = examples.toy()
    g, rep = Parallelize(budget={"lut": 5000}).apply(q, cost_model=FakeCost())
    assert rep.steps, "the toy must widen under this budget"
    for v in ("flatten", "linear", "relu"):
        a, b = q.value_type(v).element, g.value_type(v).element
        assert (a.man_bits, a.exp_bits) == (b.man_bits, b.exp_bits)
    lin = g.node("linear")
    p = rep.design.stage("linear").params
    assert lin.hw.ip == "mase_mxint_linear"
    assert lin.hw.parallelism == (p["X_ROWS"], p["OUT_TILE"], p["BLOCK_K"])
    assert lin.hw.area == FakeCost.lut("mase_mxint_linear", p)
    assert lin.hw.throughput == 32 / rep.estimate.stages[0].cycles_per_input
    assert g.node("relu").hw.tile == tuple(g.value_type("relu").element.block)
    assert "hw = hardware(ip = \"mase_mxint_linear\"" in g.to_text()


def test_impossible_budget_is_a_clear_error():
    _, _, q = examples.toy()
    with pytest.raises(BudgetError, match=r"does not fit budget custom.*lut 1120 > 1000 \(estimated by the cost model\)"):
        Parallelize(budget={"lut": 1000}).apply(q, cost_model=FakeCost())


def test_no_widen_only_estimates():
    _, _, q = examples.toy()
    g, rep = Parallelize(budget="u250", widen=False).apply(q, cost_model=FakeCost())
    assert not rep.steps and g.value_type("linear").element == q.value_type("linear").element
    assert rep.estimate.bottleneck.stage == "linear" and rep.estimate.cycles_per_input == 32


def test_dsp_option_reaches_every_area_prediction():
    """dsp=False asks the cost model for soft-logic (-nodsp) area of every stage, dsp=True for the
    DSP mapping; the recording model is the oracle of what was asked."""

    class Recording(FakeCost):
        def __init__(self):
            self.asked = []

        def predict(self, module, params, nodsp=False, extrapolate=False):
            self.asked.append(nodsp)
            return super().predict(module, params, nodsp, extrapolate)

    _, _, q = examples.toy()
    for dsp in (False, True):
        model = Recording()
        Parallelize(budget="u250", widen=True, dsp=dsp).apply(q, cost_model=model)
        assert model.asked and set(model.asked) == {not dsp}


def test_module_without_cost_model_is_labelled_not_invented():
    class ReluOnly(FakeCost):
        modules = ["mase_mxint_relu"]

    _, _, q = examples.toy()
    g, rep = Parallelize(budget={"lut": 10**6}).apply(q, cost_model=ReluOnly())
    lin = rep.estimate.stages[0]
    assert lin.area is None and lin.area_label == "no cost model for mase_mxint_linear"
    assert g.node("linear").hw.area is None
    assert any("not widening" in n and "no cost model" in n for n in rep.notes)
    assert not rep.steps  # the bottleneck (linear) is never widened blind
    g2, rep2 = Parallelize(budget={"lut": 10**6}, allow_unmodelled=True).apply(q, cost_model=ReluOnly())
    assert rep2.steps and rep2.estimate.cycles_per_input < 32
    assert "no cost model for mase_mxint_linear" in str(rep2)


def test_budget_presets_and_errors():
    assert budget("xc7a100t").lut == 63_400 and budget("xc7a100t").dsp == 240
    assert PRESETS["u250"].dsp == 12_288
    assert budget("xc7a100t").scaled(0.5).lut == 31_700
    with pytest.raises(KeyError, match="unknown budget preset 'zu9'"):
        budget("zu9")
    with pytest.raises(ValueError, match="unknown resource"):
        budget({"luts": 5})


def test_evaluate_hardware_terms_from_the_estimate():
    _, x, q = examples.toy()
    thr, area, note = hardware_terms(q, 100.0, cost_model=FakeCost())
    assert thr == 100e6 / 32  # 32 cycles per input at 100 MHz (linear is the bottleneck)
    assert area == 10 * 2 * 4 * 4 + 100 * 4 * 2
    data = [({"x": x}, q(x=x).argmax(-1))]
    r = Evaluate(k_throughput=1e-6, k_area=1000.0, hardware=True).apply(q, data)
    assert r.throughput is not None and r.hardware_note  # default cost model: throughput always known
    if r.area is None:
        assert "no cost model for mase_mxint_linear" in r.hardware_note
    else:
        assert r.objective == pytest.approx(r.value + r.throughput * 1e-6 + 1000.0 / r.area)
    fmt = mxf.BMF((4, 2), 4, 3, 8)
    q2 = q
    q2.set_format("linear", fmt)
    assert hardware_terms(q2)[:2] == (None, None) and "not mappable" in hardware_terms(q2)[2]


def test_widening_reaches_layer_norm_parameters():
    """The feature block of a layer-normed value ties the layer norm's gamma/beta blocks: they widen together."""
    _, x, q = examples.ffn(layer_norm=True)
    g, rep = Parallelize(budget="u250", allow_unmodelled=True, max_block=64).apply(q)
    assert rep.estimate.cycles_per_input < 256
    b = g.value_type("add").element.block[0]
    assert b > 4 and g.node("layer_norm").params["weight"].type.element.block == (b,)
    assert g.node("layer_norm").params["bias"].type.element.block == (b,)
    assert emulate.compare(map_graph(g), {"x": x})[0].elements == 128
