"""Hardware-aware search from the CLI ([search] k_area / k_throughput, mase_passes.cli.hwsearch):
every trial records its estimated area and throughput, a large k_area makes the search choose
the smallest design, the per-assignment cache is hit, and a key that cannot act is an error or a
warning.

Oracles: a stand-in cost model whose LUT count is 1000 x the sum of the linear's mantissa widths
(the formula, not the pipeline, predicts each trial's area up to one constant: the guard bits the
mapping adds to the linear's own output); the smallest design is the uniform-lo trial (every
width at its minimum); the number of estimates equals the number of distinct format assignments
of the scope's tensors, counted by hand from the trials' configurations."""

import logging

import mase_ir
import optuna
import pytest
import torch
from mase_hwlib import catalog

from mase_passes.cli import hwsearch
from mase_passes.cli import stages as st
from mase_passes.cli.progress import Stages
from mase_passes.cli.schema import RunConfigError, load_run_config
from mase_passes.cli.workload import Workload
from mase_passes.passes.evaluate import reference_logits
from mase_passes.passes.quantize import Quantize

SCOPE = "fc2"  # 32 -> 32, fed by a quantized relu (a graph input is not quantized by the search)


class MLP3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(32, 32)
        self.fc2 = torch.nn.Linear(32, 32)
        self.fc3 = torch.nn.Linear(32, 4)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class LinearCost:
    """Stand-in cost model: LUT = 1000 x (X_MAN + W_MAN + BIAS_MAN + OUT_MAN) of a linear."""

    def __init__(self, lut_per_bit=1000.0, modules=("mase_mxint_linear",)):
        self.lut_per_bit = lut_per_bit
        self.modules = list(modules)
        self.errors = {("mase_mxint_linear", "lut"): {"family": "linear", "interp_mape": 5.0, "extrap_mape": 9.0}}
        self.calls = 0

    def predict(self, module, params, nodsp=False, extrapolate=False):
        self.calls += 1
        p = catalog.get(module).resolve(params)
        bits = p["X_MAN"] + p["W_MAN"] + p["BIAS_MAN"] + p["OUT_MAN"]
        return {"lut": self.lut_per_bit * bits, "ff": 10.0, "dsp": 0.0, "bram": 0.0}


@pytest.fixture
def setup3():
    torch.manual_seed(0)
    model = MLP3().eval()
    g = mase_ir.trace(model, {"x": torch.randn(16, 32)})
    torch.manual_seed(1)
    batches = []
    for _ in range(2):
        xb = torch.randn(16, 32)
        with torch.no_grad():
            batches.append(({"x": xb}, model(xb).argmax(-1)))
    info = {"search_samples": 32, "eval_samples": 32, "calibration_samples": 32}
    return g, Workload(model, None, "accuracy", batches, batches, batches, info)


def config(*sets):
    return load_run_config(None, [f"hardware.scope='{SCOPE}'", *sets])


def scope_widths(g, conf) -> tuple:
    """The mantissa widths of fc2's input, weight, bias and output under ``conf`` (by hand)."""
    q = Quantize(config=conf).apply(g)
    n = next(n for n in q.nodes if n.module == SCOPE)
    return (q.value_type(n.args[0].name).element.man_bits, n.params["weight"].type.element.man_bits,
            n.params["bias"].type.element.man_bits, n.result.element.man_bits)


def run_search(g, wl, cfg, out, terms, evaluations=None):
    ref = reference_logits(g, wl.search)
    res, info, _ = st.search(g, wl, cfg.search, out, ref, Stages(quiet=True), hw=cfg.hardware, terms=terms,
                          evaluations=evaluations)
    return res, info


@pytest.mark.slow
def test_k_area_records_area_per_trial_and_chooses_the_smallest_design(setup3, tmp_path, monkeypatch):
    g, wl = setup3
    from mase_passes.passes import evaluate as ev
    evaluated = []
    original = ev.Evaluate.apply
    monkeypatch.setattr(ev.Evaluate, "apply", lambda self, *a, **kw: evaluated.append(1) or original(self, *a, **kw))
    shared = {}
    sets = ["search.trials=5", "search.sampler='random'", "search.mantissa=[2, 8]", "search.k=0",
            "search.quality='kl'", "search.start_uniform=[8, 2]"]
    cfg = config(*sets, "search.k_area=1000")
    cost = LinearCost()
    terms = st.hardware_terms(g, wl, cfg.search, tmp_path / "a", cfg.hardware, cost_model=cost)
    assert terms.reference["lut"] > terms.low["lut"]  # uniform 8 is bigger than uniform 2
    _, info = run_search(g, wl, cfg, tmp_path / "a", terms, shared)
    assert len(evaluated) == len(shared) == 5
    study = optuna.load_study(study_name="mase", storage=f"sqlite:///{tmp_path / 'a' / 'study.db'}")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 5 and all(t.user_attrs["area"] is not None for t in done)
    assert all(t.user_attrs["throughput"] > 0 for t in done)
    # each recorded area is the formula on the trial's formats, up to one constant (the guard bits)
    searcher = st._search_options(wl, cfg.search, tmp_path / "a", False)[0](mantissa=(2, 8))
    space = searcher.space(g)
    offsets = {t.user_attrs["area"] - 1000 * sum(scope_widths(g, searcher.config_of(
        space, optuna.trial.FixedTrial(t.params)))) for t in done}
    assert len(offsets) == 1
    # k_area = 1000: 1000 * A_ref / A moves by > 10 between any two different areas, more than
    # any KL difference: the best trial is the smallest design, uniform m = 2 (trial 1)
    areas = {t.number: t.user_attrs["area"] for t in done}
    assert info["best_trial"] == 1 and areas[1] == min(areas.values()) == info["best_area"]
    assert [r["area"] for r in info["trials_table"]] == [areas[t.number] for t in done]

    # the same search without hardware terms keeps the trial closest to FP32 (uniform m = 8),
    # having proposed the same configurations; it records the areas too (same cache)
    plain = config(*sets, "search.study_name='plain'")
    _, info0 = run_search(g, wl, plain, tmp_path / "b", terms, shared)
    assert len(evaluated) == 5  # the same proposals: every evaluation reused, none run again
    study0 = optuna.load_study(study_name="plain", storage=f"sqlite:///{tmp_path / 'b' / 'study.db'}")
    assert [t.params for t in study0.trials] == [t.params for t in study.trials]
    assert info0["best_trial"] == 0 and info0["best_area"] == max(areas.values())
    # the reused evaluations give the same measured numbers, and eq. 4 without the area term
    by = {t.number: t for t in done}
    for t in study0.trials:
        assert t.user_attrs["metric"] == by[t.number].user_attrs["metric"]
        assert t.values[0] == pytest.approx(by[t.number].values[0] - 1000 * terms.reference["lut"] / areas[t.number])
    assert terms.trial.estimates == len(terms.trial.cache) < terms.trial.lookups  # the second search hit the cache


@pytest.mark.slow
def test_the_estimate_is_cached_per_format_assignment_of_the_scope(setup3, tmp_path):
    g, wl = setup3
    cfg = config("search.trials=8", "search.sampler='random'", "search.mantissa=[2, 3]", "search.k_area=1")
    counted = {"n": 0}

    def counting(graph, hw, cost_model):
        counted["n"] += 1
        return hwsearch.estimate_row(graph, hw, cost_model)

    base = st._search_options(wl, cfg.search, tmp_path, False)[0]
    searcher = base(mantissa=(2, 3))
    terms = hwsearch.setup(g, cfg.search, cfg.hardware, searcher, cost_model=LinearCost(), estimate=counting)
    _, info = run_search(g, wl, cfg, tmp_path, terms)
    study = optuna.load_study(study_name="mase", storage=f"sqlite:///{tmp_path / 'study.db'}")
    space = searcher.space(g)
    seen = {scope_widths(g, searcher.config_of(space, optuna.trial.FixedTrial(space.seed(m)))) for m in (2, 3)}
    seen |= {scope_widths(g, searcher.config_of(space, optuna.trial.FixedTrial(t.params))) for t in study.trials}
    assert counted["n"] == terms.trial.estimates == len(seen)
    assert terms.trial.lookups == 2 + len(study.trials)  # two references, one lookup per trial
    assert info["hardware_terms"]["estimates"] == len(seen)

    # a configuration that differs only outside the scope costs no new estimate
    q1 = Quantize(config={"default": "MXInt((16,2),8,4)"}).apply(g)
    q2 = Quantize(config={"default": "MXInt((16,2),8,4)", "regex": {"fc3": {"weight": "MXInt((16,2),8,2)"}}}).apply(g)
    before = counted["n"]
    assert terms.trial(q1) is terms.trial(q2) and counted["n"] == before + 1


def test_k_area_without_parallelize_is_a_config_error():
    with pytest.raises(RunConfigError, match=r"\[search\] k_area = 0.2 needs \[hardware\] parallelize = true"):
        load_run_config(None, ["search.k_area=0.2", "hardware.parallelize=false"])
    with pytest.raises(RunConfigError, match=r"k_throughput = 1 needs \[hardware\] parallelize"):
        load_run_config(None, ["search.k_throughput=1", "hardware.parallelize=false"])


def test_a_scope_without_estimate_is_refused_before_any_trial(setup3, tmp_path):
    g, wl = setup3
    # fc3's 4 outputs are not a whole (16,2) tile: the mapping's reason is in the error
    cfg = load_run_config(None, ["hardware.scope='fc3'", "search.k_area=1"])
    with pytest.raises(hwsearch.HardwareTermsError, match=r"scope = 'fc3' at uniform mantissa 7: cannot map"):
        st.hardware_terms(g, wl, cfg.search, tmp_path, cfg.hardware, cost_model=LinearCost())
    # a cost model without the linear: no area to weigh
    cfg = config("search.k_area=1")
    with pytest.raises(hwsearch.HardwareTermsError, match="no area estimate .*no cost model for mase_mxint_linear,"):
        st.hardware_terms(g, wl, cfg.search, tmp_path, cfg.hardware, cost_model=LinearCost(modules=()))
    assert not (tmp_path / "study.db").exists()


def test_a_term_that_cannot_change_the_ranking_is_warned_about(setup3, tmp_path, caplog):
    g, wl = setup3
    cfg = config("search.k_throughput=1", "search.k_area=1")
    with caplog.at_level(logging.WARNING, logger="mase"):
        terms = st.hardware_terms(g, wl, cfg.search, tmp_path, cfg.hardware, cost_model=LinearCost())
    # cycles depend on the tiles only, and every trial has the (16,2) blocks: same throughput
    assert terms.reference["throughput"] == terms.low["throughput"]
    assert len(terms.warnings) == 1 and "k_throughput = 1 has no effect on the ranking" in terms.warnings[0]
    assert "k_throughput = 1 has no effect" in caplog.text
    # an area model blind to the mantissas: k_area cannot rank either
    flat = LinearCost()
    flat.predict = lambda module, params, nodsp=False, extrapolate=False: {"lut": 5000.0, "ff": 1.0}
    terms = st.hardware_terms(g, wl, config("search.k_area=1").search, tmp_path, cfg.hardware, cost_model=flat)
    assert terms.warnings == ["[search] k_area = 1 has no effect on the ranking: the estimated area of "
                              "[hardware] scope is 5,000 LUT at uniform mantissa 2 and 7 alike"]


@pytest.mark.slow
def test_a_trial_without_the_weighed_estimate_fails_and_the_search_goes_on(mlp, task, tmp_path):
    from mase_passes.passes.search import Search
    _, _, g = mlp
    calls = {"n": 0}

    def flaky(q):
        calls["n"] += 1
        if calls["n"] == 2:
            return {"error": "cannot map node %x: stand-in reason"}
        return {"lut": 1000.0 * calls["n"], "throughput": 5.0}

    res = Search(n_trials=3, sampler="random", out_dir=str(tmp_path), k_area=1.0, hardware_fn=flaky,
                 area_reference=1000.0).apply(g, task)
    states = [t.state for t in res.study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3 and states[1] == optuna.trial.TrialState.FAIL
    assert res.study.trials[1].user_attrs["failure"] == ("no hardware estimate of area: "
                                                         "cannot map node %x: stand-in reason")
    # eq. 4: quality + k_area * A_ref / A, A_ref = 1000 LUT
    t = res.study.trials[0]
    assert t.values[0] == pytest.approx(t.user_attrs["metric"] + 1000.0 / t.user_attrs["area"])
