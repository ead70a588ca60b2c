"""The search stage of `mase run`: a trial with NaN/Inf outputs is a failed trial and the search
goes on; a retried or resumed study does not replay the proposals it already tried."""

import optuna
import pytest
import torch

from mase_passes.cli import stages as st
from mase_passes.cli.progress import Stages
from mase_passes.cli.schema import load_run_config
from mase_passes.cli.workload import Workload
from mase_passes.passes import evaluate as evaluate_module
from mase_passes.passes.evaluate import reference_logits


def workload(mlp, task):
    model, _, _ = mlp
    info = {"search_samples": 48, "eval_samples": 48, "calibration_samples": 48}
    return Workload(model, None, "accuracy", task, task, task, info)


def params_of(db, name="mase"):
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    return study, [tuple(sorted(t.params.items())) for t in study.trials]


@pytest.mark.slow
def test_nonfinite_trials_fail_and_the_search_goes_on(mlp, task, tmp_path, monkeypatch):
    _, _, g = mlp
    wl = workload(mlp, task)
    original = evaluate_module.Evaluate.apply
    calls = {"n": 0}

    def flaky(self, graph, batches, *a, **kw):
        calls["n"] += 1
        if calls["n"] in (2, 3):  # the 2nd and 3rd trials "produce NaN"
            raise evaluate_module.NonFiniteOutputError("evaluate: batch 0: the model output holds 1 non-finite value")
        return original(self, graph, batches, *a, **kw)

    monkeypatch.setattr(evaluate_module.Evaluate, "apply", flaky)
    scfg = load_run_config(None, ["search.trials=4", "search.sampler='random'", "search.mantissa=[2, 8]"]).search
    ref = reference_logits(g, task)
    _, info, _ = st.search(g, wl, scfg, tmp_path / "search", ref, Stages(quiet=True))
    study, proposals = params_of(tmp_path / "search" / "study.db")
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 4 == info["trials"]
    assert states.count(optuna.trial.TrialState.FAIL) == 2 == info["nonfinite_failures"]
    assert len(set(proposals)) == len(proposals)  # no configuration proposed twice

    # resume with a larger budget: the new trials are new proposals too
    monkeypatch.setattr(evaluate_module.Evaluate, "apply", original)
    scfg["trials"] = 6
    _, info, _ = st.search(g, wl, scfg, tmp_path / "search", ref, Stages(quiet=True))
    study, proposals = params_of(tmp_path / "search" / "study.db")
    assert info["trials"] == 6 and info["resumed_from"] == 4
    assert len(set(proposals)) == len(proposals)


def test_allocate_enabled_seeds_the_search_with_the_allocations(mlp, task, tmp_path):
    """[allocate] enabled: the search stage runs sensitivity, allocate and search as one pipeline
    (pipeline.sensitivity_seeded_search); oracle: the library's sensitivity and allocate on the same
    space and on 16 calibration samples spread over every batch (built by hand), and the seed
    trials' parameters in the study."""
    from mase_passes.passes.search import _format
    from mase_passes.search_space import SearchSpace
    from mase_passes.sensitivity import allocate, sensitivity
    _, _, g = mlp
    wl = workload(mlp, task)
    cfg = load_run_config(None, ["search.trials=3", "search.sampler='random'", "search.mantissa=[2, 7]",
                                 "search.max_mantissa=5.0", "search.quality='kl'", "search.k=0.0",
                                 "allocate.enabled=true", "allocate.budget=4.5", "allocate.extra_budgets=[4.0]",
                                 "allocate.narrow=[1, 1]", "sensitivity.samples=16", "sensitivity.probe=[3]"])
    ref = reference_logits(g, task)
    _, info, ctx = st.search(g, wl, cfg.search, tmp_path / "search", ref, Stages(quiet=True), seeding=st.seeding(cfg))
    space = SearchSpace.build(g, (2, 7))
    x = torch.cat([inp["x"] for inp, _ in task])[0::3]  # 16 of the 48 samples, every third: all batches
    spread = [({"x": x}, torch.cat([y for _, y in task])[0::3])]
    damage = sensitivity(g, spread, space, lambda m: _format("MXInt", (16, 2), 8, m), probe=(3,))
    seeds = [allocate(space, damage, b) for b in (4.5, 4.0)]
    assert ctx.seeds == tuple(seeds) and info["allocation"]["widths"] == seeds[0]
    assert info["allocation"]["sensitivity_samples"] == 16 and info["pipeline"].startswith("sensitivity,allocate{budget=4.5,")
    study, _ = params_of(tmp_path / "search" / "study.db")
    first = sorted(study.trials, key=lambda t: t.number)[:2]
    assert [t.params for t in first] == seeds  # the allocations are the first trials
    for t in study.trials:  # every proposal within [m - 1, m + 1] of the allocation
        assert all(abs(v - seeds[0][k]) <= 1 for k, v in t.params.items())
