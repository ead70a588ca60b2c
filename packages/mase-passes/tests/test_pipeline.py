"""The pipeline runner: one list of passes from a string, TOML or Python; every error of a
pipeline text at once; verify after each pass naming the stage and the node; passes as IR text
in, pass, IR text out (the expected text written by hand from each pass's rule)."""

import dataclasses
from dataclasses import dataclass

import mase_ir
import pytest
import torch

from mase_passes import sensitivity as sens
from mase_passes.passes import REGISTRY
from mase_passes.passes.quantize import Quantize
from mase_passes.passes.search import Search
from mase_passes.pipeline import Context, Outcome, Pipeline, PipelineError, build_pass
from mase_passes.search_space import SearchSpace

F32 = """graph(%x: f32[2,32]) {
  %linear: f32[2,16] = linear(%x: f32[2,32]) [weight: f32[16,32] = "fc1.weight", bias: f32[16] = "fc1.bias"] {module = "fc1"}
  %relu: f32[2,16] = relu(%linear: f32[2,16])
  %linear_1: f32[2,4] = linear(%relu: f32[2,16]) [weight: f32[4,16] = "fc2.weight", bias: f32[4] = "fc2.bias"] {module = "fc2"}
  return %linear_1
}
"""


def graph_of(text: str) -> mase_ir.MaseGraph:
    g = mase_ir.parse(text)
    torch.manual_seed(0)
    g.weights = {"fc1.weight": torch.randn(16, 32), "fc1.bias": torch.randn(16),
                 "fc2.weight": torch.randn(4, 16), "fc2.bias": torch.randn(4)}
    return g


def run_text(pipeline: str, text: str, **context) -> str:
    out, _ = Pipeline.parse(pipeline).run(graph_of(text), Context(**context))
    return out.to_text()


# --- IR text in, pass, IR text out ------------------------------------------------------
def test_quantize_then_reblock_as_text():
    """quantize gives every slot the default format; reblock then gives each MXInt linear's weight
    (input block B[0], output block B[0]) = (16, 16) and its bias (16,), widths kept."""
    got = run_text('quantize{config={default="MXInt((16,2),8,5)"}},reblock', F32)
    m = "MXInt((16,2),8,5)"
    assert got == f"""graph(%x: {m}[2,32]) {{
  %linear: {m}[2,16] = linear(%x: {m}[2,32]) [weight: MXInt((16,16),8,5)[16,32] = "fc1.weight", bias: MXInt((16,),8,5)[16] = "fc1.bias"] {{module = "fc1"}}
  %relu: {m}[2,16] = relu(%linear: {m}[2,16])
  %linear_1: {m}[2,4] = linear(%relu: {m}[2,16]) [weight: MXInt((16,16),8,5)[4,16] = "fc2.weight", bias: MXInt((16,),8,5)[4] = "fc2.bias"] {{module = "fc2"}}
  return %linear_1
}}
"""


def test_extract_then_transplant_as_text():
    """extract{scope=fc2}: the one node under fc2, reading %relu from outside; after a quantize of
    the part, transplant carries its formats back and leaves the other nodes as they were."""
    g = graph_of(F32)
    ctx = Context()
    part, _ = Pipeline.parse("extract{scope=fc2}").run(g, ctx)
    assert part.to_text() == """graph(%relu: f32[2,16]) {
  %linear_1: f32[2,4] = linear(%relu: f32[2,16]) [weight: f32[4,16] = "fc2.weight", bias: f32[4] = "fc2.bias"] {module = "fc2"}
  return %linear_1
}
"""
    full, _ = Pipeline.parse('quantize{config={node={linear_1={weight="MXInt((16,),8,3)"}}}},transplant').run(part, ctx)
    assert full.to_text() == F32.replace('[weight: f32[4,16] = "fc2.weight"',
                                         '[weight: MXInt((16,),8,3)[4,16] = "fc2.weight"')
    assert g.to_text() == F32  # transforms leave their input alone


def test_freeze_weights_as_text():
    """The rounded weight is stored under path@format@axis and typed f32; values equal fake
    quantization of the original (mase_ir.quant, the oracle)."""
    from mase_ir.quant import fake_quantize
    import mx_formats as mxf
    g = graph_of(F32)
    q, _ = Pipeline.parse('quantize{config={node={linear={weight="MXInt((16,),8,2)"}}}},freeze_weights').run(g)
    assert '[weight: f32[16,32] = "fc1.weight@MXInt((16,),8,2)@-1"' in q.to_text()
    assert torch.equal(q.weights["fc1.weight@MXInt((16,),8,2)@-1"],
                       fake_quantize(g.weights["fc1.weight"], mxf.MXInt((16,), 8, 2), -1))


# --- building from text ------------------------------------------------------------------
def test_string_toml_and_python_give_the_same_passes(tmp_path):
    text = "profile,reorder_channels,quantize{mode=qat,steps=3,lr=1e-5},search{trials=64,mantissa=[2,7]}"
    p = Pipeline.parse(text)
    s = p.passes[3]
    assert isinstance(s, Search) and s.n_trials == 64 and s.mantissa == (2, 7)
    assert p.passes[2] == Quantize(mode="qat", steps=3, lr=1e-5)
    toml = tmp_path / "flow.toml"
    toml.write_text('[[pass]]\nname = "profile"\n[[pass]]\nname = "reorder_channels"\n'
                    '[[pass]]\nname = "quantize"\nmode = "qat"\nsteps = 3\nlr = 1e-5\n'
                    '[[pass]]\nname = "search"\ntrials = 64\nmantissa = [2, 7]\n')
    assert Pipeline.from_toml(toml).passes == p.passes
    assert Pipeline.parse(str(p)).passes == p.passes  # the printed form reads back


def test_every_error_of_a_pipeline_string_at_once():
    with pytest.raises(PipelineError) as exc:
        Pipeline.parse("profle,quantize{mode=qat,stpes=3},search{trials=many},quantize{mode=int4},evaluate{k}")
    lines = str(exc.value).splitlines()
    assert len(lines) == 5  # in stage order, though stage 5's is found while splitting the text
    assert "stage 1: no pass named 'profle' (did you mean 'profile'?)" in lines[0]
    assert "stage 2 quantize: unknown option 'stpes' (did you mean 'steps'?)" in lines[1]
    assert "stage 3 search: option trials: expected a whole number, got 'many' (string)" in lines[2]
    assert "stage 4 quantize: option mode: must be one of ['ptq', 'qat'], got 'int4'" in lines[3]
    assert "stage 5 evaluate: 'k' is not option=value" in lines[4]


def test_options_are_converted_to_their_field_types():
    p = build_pass("profile", {"percentiles": [50, 99.5]})
    assert p.percentiles == (50.0, 99.5) and all(isinstance(q, float) for q in p.percentiles)
    s = build_pass("search", {"ranges": [["\\.bias$", [7, 7]]], "seeds": [4, {"fc1": 3}]})
    assert s.ranges == (("\\.bias$", (7, 7)),) and s.seeds == (4, {"fc1": 3})
    with pytest.raises(PipelineError, match="unknown option 'hardware_fn'"):  # Python objects are not text
        build_pass("search", {"hardware_fn": "f"})
    with pytest.raises(PipelineError, match="must be > 0"):
        build_pass("quantize", {"lr": 0})


def test_a_pass_whose_output_fails_verify_stops_naming_stage_pass_and_node(monkeypatch):
    @dataclass(frozen=True)
    class Widen:
        """Declares a result shape the op does not compute."""
        name = "widen_result"
        kind = "transform"

        def run(self, graph, ctx):
            g = graph_of(graph.to_text())
            n = g.node("relu")
            n.result = dataclasses.replace(n.result, shape=(2, 17))
            return Outcome(g)

    monkeypatch.setitem(REGISTRY, "widen_result", (__name__, "Widen"))
    with pytest.raises(PipelineError, match=r"output of stage 2 \(widen_result, pass widen_result\) fails verify "
                                            r"at node %relu"):
        Pipeline([Quantize(config={"default": "f32"}), Widen()]).run(graph_of(F32))


def test_stages_are_timed_and_reports_kept_under_their_labels():
    ctx = Context()
    out, records = Pipeline.parse('quantize{config={default="MXInt((16,2),8,3)"}},'
                                  'quantize{config={default="MXInt((16,2),8,7)"}}').run(graph_of(F32), ctx)
    assert [r.label for r in records] == ["quantize", "quantize#2"]
    assert all(r.seconds >= 0 for r in records)
    # eq. 1 by hand: MXInt((16,2),8,m) is 8/32 + m + 1 bits on every tensor
    assert ctx.reports["quantize"].average_bits == pytest.approx(4.25)
    assert ctx.reports["quantize#2"].average_bits == pytest.approx(8.25)


# --- passes sharing context: sensitivity -> allocate -> quantize --------------------------
def test_sensitivity_allocate_quantize_uses_the_allocation(mlp, task):
    _, _, g = mlp
    ctx = Context(calibration=task)
    out, records = Pipeline.parse("sensitivity{mantissa=[2,7],probe=[2,3]},allocate{budget=4.0,extra_budgets=[3.5]},"
                                  "quantize").run(g, ctx)
    # oracle: the library functions called directly on the same space and batches
    space = SearchSpace.build(g, (2, 7))
    fmt = records[0].pass_.fmt
    damage = sens.sensitivity(g, task, space, fmt, probe=(2, 3))
    assert records[0].report.damage == damage
    widths = sens.allocate(space, damage, 4.0)
    assert records[1].report.widths == widths
    assert ctx.seeds == (widths, sens.allocate(space, damage, 3.5))
    expect = Quantize(config=space.config(space.widths(widths), fmt)).apply(g)
    assert out.to_text() == expect.to_text()
    assert space.mean_mantissa(space.widths(widths)) <= 4.0


def test_quantize_without_a_config_says_what_to_run_first():
    with pytest.raises(PipelineError, match="run search / allocate before it"):
        Pipeline.parse("quantize").run(graph_of(F32))


# --- the seeded search builder shared by `mase run` and benchmarks/minilm_search.py -------
def test_seeded_search_measures_the_search_space_and_refuses_seeds_over_budget():
    from mase_passes.passes.allocate import Allocate
    from mase_passes.passes.sensitivity import Sensitivity
    from mase_passes.pipeline import sensitivity_seeded_search

    search = Search(mantissa=(3, 6), ranges=((r"\.bias$", (7, 7)),), group_by=r"\d+", families=("BMF",),
                    blocks=((8, 1),), exponents=(6,), max_mantissa=4.5)
    p = sensitivity_seeded_search(search, Sensitivity(probe=(4,)), Allocate(budget=4.0, extra_budgets=(3.8,)))
    sens_, alloc, last = p.passes
    assert [x.name for x in p.passes] == ["sensitivity", "allocate", "search"] and last is search
    assert (sens_.mantissa, sens_.ranges, sens_.group_by) == ((3, 6), ((r"\.bias$", (7, 7)),), r"\d+")
    assert (sens_.family, sens_.block, sens_.exponent, sens_.probe) == ("BMF", (8, 1), 6, (4,))
    assert sensitivity_seeded_search(search).passes == [search]  # no allocate: the search alone
    with pytest.raises(PipelineError, match=r"\[4\.6\] exceed the search's max_mantissa = 4\.5"):
        sensitivity_seeded_search(search, allocate=Allocate(budget=4.0, extra_budgets=(4.6,)))
