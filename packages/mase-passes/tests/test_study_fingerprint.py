"""A stored study remembers the settings its trials were scored under (issue 18, item 1): a
resume with another search space, objective or sample set is refused, saying what changed and
how to start a new study; seed trials that a kill or Ctrl-C cut short are run again on resume."""

import optuna
import pytest

from mase_passes.cli import stages as st
from mase_passes.cli.main import main
from mase_passes.cli.progress import Stages
from mase_passes.cli.schema import load_run_config
from mase_passes.cli.workload import Workload
from mase_passes.fingerprint import StudyMismatchError
from mase_passes.passes import evaluate as evaluate_module
from mase_passes.passes.evaluate import reference_logits
from mase_passes.passes.search import Search

States = optuna.trial.TrialState


def stored(tmp_path, name="mase"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'study.db'}")


def test_a_resume_with_another_mantissa_range_is_refused_naming_the_change(mlp, task, tmp_path):
    _, _, g = mlp
    Search(n_trials=2, sampler="random", mantissa=(2, 6), out_dir=str(tmp_path)).apply(g, task[:1])
    with pytest.raises(StudyMismatchError) as err:
        Search(n_trials=4, sampler="random", mantissa=(3, 8), out_dir=str(tmp_path)).apply(g, task[:1])
    msg = str(err.value)
    assert "2..6 -> 3..8" in msg and "searched tensors" in msg
    assert "study_name" in msg and "new name" in msg  # how to start a new study
    assert len(stored(tmp_path).trials) == 2  # nothing was added to the old study


@pytest.mark.parametrize("change, expected", [
    ({"k": 0.1}, "k 0.5 -> 0.1"),
    ({"objective": "multi"}, "objective 'single' -> 'multi'"),
    ({"quality": "agreement"}, "quality 'metric' -> 'agreement'"),
    ({"max_mantissa": 7.0}, "max_mantissa None -> 7.0"),
])
def test_a_resume_with_another_objective_is_refused(mlp, task, tmp_path, change, expected):
    _, _, g = mlp
    base = dict(n_trials=2, sampler="random", k=0.5, out_dir=str(tmp_path))
    Search(**base).apply(g, task[:1], reference=g)
    with pytest.raises(StudyMismatchError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        Search(**dict(base, n_trials=3, **change)).apply(g, task[:1], reference=g)


def test_a_resume_on_other_samples_is_refused(mlp, task, tmp_path):
    _, _, g = mlp
    Search(n_trials=2, sampler="random", out_dir=str(tmp_path)).apply(g, task[:1])
    with pytest.raises(StudyMismatchError, match="search samples"):
        Search(n_trials=3, sampler="random", out_dir=str(tmp_path)).apply(g, task[1:2])


def test_sampler_seed_and_budget_may_change_on_resume(mlp, task, tmp_path):
    _, _, g = mlp
    Search(n_trials=2, sampler="random", seed=0, out_dir=str(tmp_path)).apply(g, task[:1])
    res = Search(n_trials=3, sampler="tpe", seed=5, out_dir=str(tmp_path)).apply(g, task[:1])
    assert res.finished_trials == 3


@pytest.mark.slow
def test_an_interrupted_seed_trial_is_enqueued_again_on_resume(mlp, task, tmp_path, monkeypatch):
    """Ctrl-C inside the first uniform trial: it is FAIL; the resumed study runs it again (before,
    the seeds were enqueued only into an empty study, so the uniform-3 trial was never scored)."""
    _, _, g = mlp
    original = evaluate_module.Evaluate.apply
    calls = {"n": 0}

    def interrupted_once(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return original(self, *a, **kw)

    monkeypatch.setattr(evaluate_module.Evaluate, "apply", interrupted_once)
    opts = dict(sampler="random", start_uniform=(3, 5), mantissa=(2, 8), out_dir=str(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        Search(n_trials=4, **opts).apply(g, task[:1])
    assert [t.state for t in stored(tmp_path).trials] == [States.FAIL, States.WAITING]  # the second seed waits
    res = Search(n_trials=4, **opts).apply(g, task[:1])
    complete = [t for t in res.study.trials if t.state == States.COMPLETE]
    uniform = sorted(set(t.params.values()).pop() for t in complete if len(set(t.params.values())) == 1)
    assert uniform == [3, 5]  # both seeds scored once, none twice
    assert len(complete) == 4


@pytest.mark.slow
def test_a_seed_trial_that_failed_for_a_recorded_reason_is_not_retried(mlp, task, tmp_path, monkeypatch):
    _, _, g = mlp
    original = evaluate_module.Evaluate.apply
    calls = {"n": 0}

    def nan_first(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise evaluate_module.NonFiniteOutputError("batch 0: 1 non-finite output")
        return original(self, *a, **kw)

    monkeypatch.setattr(evaluate_module.Evaluate, "apply", nan_first)
    opts = dict(sampler="random", start_uniform=(3,), mantissa=(2, 8), out_dir=str(tmp_path))
    Search(n_trials=2, **opts).apply(g, task[:1])
    Search(n_trials=3, **opts).apply(g, task[:1])
    trials = stored(tmp_path).trials
    all3 = [t for t in trials if set(t.params.values()) == {3}]
    assert [t.state for t in all3] == [States.FAIL]


def workload(mlp, task):
    model, _, _ = mlp
    info = {"search_samples": 48, "eval_samples": 48, "calibration_samples": 48}
    return Workload(model, None, "accuracy", task, task, task, info)


@pytest.mark.slow
def test_the_run_search_stage_refuses_a_changed_config_and_main_exits_2(mlp, task, tmp_path, monkeypatch, capsys):
    _, _, g = mlp
    wl, ref = workload(mlp, task), reference_logits(g, task)
    first = load_run_config(None, ["search.trials=2", "search.sampler='random'", "search.mantissa=[2, 6]"]).search
    st.search(g, wl, first, tmp_path / "search", ref, Stages(quiet=True))
    second = load_run_config(None, ["search.trials=3", "search.sampler='random'", "search.mantissa=[2, 6]",
                                    "search.k=0.25"]).search
    with pytest.raises(StudyMismatchError, match=r"k 0\.\d+ -> 0\.25"):
        st.search(g, wl, second, tmp_path / "search", ref, Stages(quiet=True))

    # through the command: exit status 2 and the message on stderr (the mase run stages are stubbed)
    import mase_passes.cli.cmd_search as cmd_search

    def refuse(args, stages):
        raise StudyMismatchError("search: study 'mase' ... Changed: k 0.5 -> 0.25")
    monkeypatch.setattr(cmd_search, "main", refuse)
    assert main(["search", "whatever.toml"]) == 2
    assert "k 0.5 -> 0.25" in capsys.readouterr().err
