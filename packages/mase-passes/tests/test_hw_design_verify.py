"""HwDesign.verify(): a mapped design is checked against the hwlib catalog (modules, legal
parameters, input streams in use, dataflow order, port widths per beat) -- every design the
mapping builds passes (map_graph calls it), and each kind of broken design is refused with the
stage named. HwDesign.to_text(): one line per stage, written by emit as design.txt."""

import dataclasses

import mase_ir
import pytest

from mase_passes.hardware import examples
from mase_passes.hardware.design import MappingError
from mase_passes.hardware.mapping import map_graph
from mase_passes.passes import get_pass


def _mlp_design():
    model, x, _ = examples.mlp()
    return map_graph(get_pass("quantize")(config=examples.MLP_CONFIG).apply(mase_ir.trace(model, {"x": x})))


def _with_stage(design, i, **changes):
    stages = list(design.stages)
    stages[i] = dataclasses.replace(stages[i], **changes)
    return dataclasses.replace(design, stages=stages)


def test_the_mappings_design_passes_and_lists_as_text():
    d = _mlp_design()
    d.verify()
    text = d.to_text()
    lines = text.splitlines()
    assert lines[0].startswith("design(%x: MXInt((4,2),8,5) [4, 32]") and lines[-1] == "}"
    assert len([ln for ln in lines if " = mase_" in ln]) == len(d.stages)
    assert "u_linear_1 = mase_mxint_linear<" in text and "(x=%relu) -> %linear_1: MXInt((4,2),8,5)" in text
    assert lines[-2] == "  return %linear_2"


@pytest.mark.parametrize("change, match", [
    (lambda d: _with_stage(d, 1, name="linear"), "two stages are named 'linear'"),
    (lambda d: _with_stage(d, 0, module="mase_no_such_module"), "stage linear: .*mase_no_such_module"),
    (lambda d: _with_stage(d, 0, params={**d.stages[0].params, "X_MAN": 99}), r"X_MAN=99 outside its legal range"),
    (lambda d: _with_stage(d, 0, inputs={"w": "x"}), r"connects inputs \['w'\], the module's streams in use are \['x'\]"),
    (lambda d: _with_stage(d, 2, inputs={"x": "linear_2"}), "reads %linear_2 on x, which no hardware input or earlier"),
    (lambda d: _with_stage(d, 2, output="relu"), "produces %relu, already produced by stage relu"),
    # the linear's X_MAN no longer matches the mantissa bits its input stream carries
    (lambda d: _with_stage(d, 2, params={**d.stages[2].params, "X_MAN": 4}),
     r"stage linear_1 \(mase_mxint_linear\) port x takes exp 8 bits, mant 40 bits per beat, but %relu is "
     r"MXInt\(\(4,2\),8,3\)"),
    (lambda d: dataclasses.replace(d, stages=d.stages[:-1]), "hardware output %linear_2 is produced by no stage"),
])
def test_a_broken_design_is_refused_with_the_stage_named(change, match):
    with pytest.raises(MappingError, match=match):
        change(_mlp_design()).verify()


def test_emit_writes_the_text_form(tmp_path):
    model, x, _ = examples.mlp()
    q = get_pass("quantize")(config=examples.MLP_CONFIG).apply(mase_ir.trace(model, {"x": x}))
    res = get_pass("emit")().apply(q, tmp_path / "d")
    assert (tmp_path / "d" / "design.txt").read_text() == res.design.to_text()
