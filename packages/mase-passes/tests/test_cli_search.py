"""The search stage of `mase run`: a trial with NaN/Inf outputs is a failed trial and the search
goes on; a retried or resumed study does not replay the proposals it already tried."""

import optuna
import pytest

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
    _, info = st.search(g, wl, scfg, tmp_path / "search", ref, Stages(quiet=True))
    study, proposals = params_of(tmp_path / "search" / "study.db")
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 4 == info["trials"]
    assert states.count(optuna.trial.TrialState.FAIL) == 2 == info["nonfinite_failures"]
    assert len(set(proposals)) == len(proposals)  # no configuration proposed twice

    # resume with a larger budget: the new trials are new proposals too
    monkeypatch.setattr(evaluate_module.Evaluate, "apply", original)
    scfg["trials"] = 6
    _, info = st.search(g, wl, scfg, tmp_path / "search", ref, Stages(quiet=True))
    study, proposals = params_of(tmp_path / "search" / "study.db")
    assert info["trials"] == 6 and info["resumed_from"] == 4
    assert len(set(proposals)) == len(proposals)
