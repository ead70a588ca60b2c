import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from mase_passes.config import load_config
from mase_passes.passes.evaluate import Evaluate
from mase_passes.passes.quantize import Quantize
from mase_passes.passes.search import Search, _pareto

HERE = Path(__file__).parent


def test_search_writes_its_outputs_and_the_best_config_reproduces_its_trial(mlp, task, tmp_path):
    _, _, g = mlp
    res = Search(n_trials=4, out_dir=str(tmp_path), k=0.5, mantissa=(2, 6)).apply(g, task, reference=g)
    assert res.finished_trials == 4
    for name in ("best_config.toml", "pareto.csv", "pareto.png", "history.png", "study.db"):
        assert (tmp_path / name).is_file(), name
    best = res.study.best_trial
    q = Quantize(config=tmp_path / "best_config.toml").apply(g)
    r = Evaluate(k=0.5).apply(q, task)
    assert r.objective == pytest.approx(best.value)
    assert r.average_bits == pytest.approx(best.user_attrs["average_bits"])
    # every mantissa width in the config is the one the trial drew
    conf = load_config(tmp_path / "best_config.toml")
    for key, m in best.params.items():
        node, role = key.rsplit(".", 1)
        assert conf["node"][node][role].man_bits == m
    rows = list(csv.DictReader(open(tmp_path / "pareto.csv")))
    assert len(rows) == 4 and any(r["on_front"] == "1" for r in rows)


@pytest.mark.parametrize("sampler", ["tpe", "nsga2", "qmc", "random"])
def test_each_sampler_runs_multi_objective(mlp, task, tmp_path, sampler):
    _, _, g = mlp
    res = Search(n_trials=3, sampler=sampler, objective="multi", out_dir=str(tmp_path)).apply(g, task[:1])
    assert res.finished_trials == 3
    assert res.study.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]


def test_format_family_and_exponent_become_choices_when_asked(mlp, task, tmp_path):
    _, _, g = mlp
    res = Search(n_trials=3, families=("MXInt", "BMF"), exponents=(6, 8), mantissa=(2, 3),
                 out_dir=str(tmp_path)).apply(g, task[:1])
    for t in res.study.trials:
        assert t.params["family"] in ("MXInt", "BMF") and t.params["exponent"] in (6, 8)


def test_pareto_flags_against_brute_force():
    pts = [(0.9, 8.0), (0.9, 6.0), (0.8, 4.0), (0.7, 5.0), (0.95, 9.0)]
    assert _pareto(pts) == [False, True, True, False, True]


def _complete(db: Path) -> list[tuple[int, float]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("select t.number, v.value from trials t join trial_values v "
                               "on v.trial_id = t.trial_id where t.state = 'COMPLETE' order by t.number").fetchall()
    except sqlite3.Error:  # tables not created yet
        return []


@pytest.mark.slow
def test_a_killed_search_resumes_without_losing_finished_trials(mlp, tmp_path):
    db = tmp_path / "study.db"
    proc = subprocess.Popen([sys.executable, str(HERE / "search_worker.py"), str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        while len(_complete(db)) < 3 and time.time() < deadline:
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    before = _complete(db)
    assert len(before) >= 3, "the worker did not finish 3 trials in 90 s"
    # resume in this process with the same storage: only the missing trials run
    model, x, g = mlp
    import torch
    with torch.no_grad():
        y = model(x).argmax(-1)
    target = len(before) + 2
    res = Search(n_trials=target, out_dir=str(tmp_path), sampler="random").apply(g, [({"x": x}, y)])
    after = _complete(db)
    assert res.finished_trials == target
    assert after[: len(before)] == before  # the killed run's trials are all still there
    states = {t.state for t in res.study.trials}
    assert optuna.trial.TrialState.RUNNING not in states  # a trial cut by the kill is marked FAIL


def test_start_uniform_trials_come_first(mlp, task, tmp_path):
    _, _, g = mlp
    res = Search(n_trials=3, start_uniform=(3, 5), out_dir=str(tmp_path)).apply(g, task[:1])
    first, second = res.study.trials[:2]
    assert set(first.params.values()) == {3} and set(second.params.values()) == {5}


def test_a_resumed_search_does_not_replay_its_first_proposals(mlp, task, tmp_path):
    """The sampler is seeded with seed + stored trials: run 2 then resume to 4 gives 4 distinct draws
    (re-seeding with the same seed would propose trials 0-1 again as 2-3)."""
    _, _, g = mlp
    opts = dict(sampler="random", start_uniform=(), mantissa=(2, 7), out_dir=str(tmp_path))
    Search(n_trials=2, **opts).apply(g, task[:1])
    study = Search(n_trials=4, **opts).apply(g, task[:1]).study
    draws = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(draws) == 4 and len(set(draws)) == 4


def test_a_trial_with_non_finite_outputs_fails_and_the_search_goes_on(mlp, task, tmp_path, monkeypatch):
    from mase_passes.passes import evaluate as evaluate_module

    _, _, g = mlp
    real, calls = evaluate_module.Evaluate.apply, {"n": 0}

    def sometimes_nan(self, graph, batches, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise evaluate_module.NonFiniteOutputError("batch 0: 3 non-finite outputs")
        return real(self, graph, batches, **kw)

    monkeypatch.setattr(evaluate_module.Evaluate, "apply", sometimes_nan)
    res = Search(n_trials=3, sampler="random", start_uniform=(), out_dir=str(tmp_path)).apply(g, task[:1])
    states = [t.state for t in res.study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3 and res.finished_trials == 3
    failed = [t for t in res.study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(failed) == 1 and failed[0].user_attrs["failure"].startswith("non-finite outputs")


def test_a_kl_search_keeps_the_trial_closest_to_fp32(mlp, task, tmp_path):
    """With quality 'kl' and k = 0 the best trial is the one whose outputs have the smallest KL
    to the FP32 reference, recomputed here from its config."""
    _, _, g = mlp
    res = Search(n_trials=5, out_dir=str(tmp_path), quality="kl", mantissa=(2, 5), seed=3).apply(g, task, reference=g)
    done = [t for t in res.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    kls = {t.number: t.user_attrs["kl"] for t in done}
    assert res.study.best_trial.number == min(kls, key=kls.get)
    q = Quantize(config=tmp_path / "best_config.toml").apply(g)
    assert Evaluate().apply(q, task, reference=g).kl == pytest.approx(min(kls.values()), rel=1e-6)
    with pytest.raises(ValueError, match="pass reference="):
        Search(n_trials=1, out_dir=str(tmp_path / "x"), quality="kl").apply(g, task)


@pytest.mark.parametrize("where", ["storing a result", "a trial's computation"])
def test_ctrl_c_leaves_every_trial_stored_and_raises_keyboard_interrupt(mlp, task, tmp_path, monkeypatch, where):
    """SIGINT while Optuna stores trial 1's result (unprotected, Optuna dies with an
    UnboundLocalError and may leave the trial RUNNING) or while trial 1 evaluates: the search
    raises KeyboardInterrupt, trial 0 is COMPLETE, nothing stays RUNNING."""
    import optuna.study._optimize as optimize_module
    from mase_passes.passes import evaluate as evaluate_module

    _, _, g = mlp
    calls = {"tell": 0, "evaluate": 0}
    if where == "storing a result":
        original = optimize_module._tell_with_warning

        def tell(*a, **kw):
            calls["tell"] += 1
            if calls["tell"] == 2:
                os.kill(os.getpid(), signal.SIGINT)  # the handler runs before this call returns
            return original(*a, **kw)
        monkeypatch.setattr(optimize_module, "_tell_with_warning", tell)
    else:
        original = evaluate_module.Evaluate.apply

        def evaluate(self, *a, **kw):
            calls["evaluate"] += 1
            if calls["evaluate"] == 2:
                os.kill(os.getpid(), signal.SIGINT)
            return original(self, *a, **kw)
        monkeypatch.setattr(evaluate_module.Evaluate, "apply", evaluate)
    with pytest.raises(KeyboardInterrupt):
        Search(n_trials=5, sampler="random", mantissa=(2, 8), out_dir=str(tmp_path)).apply(g, task)
    study = optuna.load_study(study_name="mase", storage=f"sqlite:///{tmp_path / 'study.db'}")
    states = [t.state for t in study.trials]
    assert states[0] == optuna.trial.TrialState.COMPLETE
    assert optuna.trial.TrialState.RUNNING not in states
    # a result being stored is kept; an evaluation cut short is a FAIL trial
    expected = optuna.trial.TrialState.COMPLETE if where == "storing a result" else optuna.trial.TrialState.FAIL
    assert states[1] == expected and len(states) == 2


def test_callbacks_see_every_trial_and_the_result_names_the_best(mlp, task, tmp_path):
    """Progress comes from Optuna callbacks (no subclass of the pass): one call per finished trial,
    in order; the result's best trial is the study's."""
    _, _, g = mlp
    seen = []
    res = Search(n_trials=3, out_dir=str(tmp_path), k=0.5, mantissa=(2, 6)).apply(
        g, task, reference=g, callbacks=[lambda study, trial: seen.append((trial.number, trial.state))])
    assert seen == [(i, optuna.trial.TrialState.COMPLETE) for i in range(3)]
    assert res.best_trial.number == res.study.best_trial.number


def _proposals(sampler, n):
    import optuna
    study = optuna.create_study(direction="maximize", sampler=sampler)
    dists = {f"d{i}": optuna.distributions.IntDistribution(2, 7) for i in range(6)}
    for _ in range(n):
        t = study.ask(dists)
        study.tell(t, -sum(t.params.values()))
    return [t.params for t in study.trials]


def test_samplers_with_one_seed_share_their_random_start_and_qmc_seeds_differ():
    """One seed: TPE proposes random's first startup_trials trials and NSGA-II random's first
    generation (population), then they part (what benchmarks/sampler_comparison.py accounts for);
    QMC is scrambled, so its seed changes its sequence."""
    from mase_passes.passes.search import Search
    rnd = _proposals(Search(sampler="random").make_sampler(5), 12)
    tpe = _proposals(Search(sampler="tpe", startup_trials=4).make_sampler(5), 12)
    nsga = _proposals(Search(sampler="nsga2", population=6).make_sampler(5), 12)
    assert tpe[:4] == rnd[:4] and tpe[4:] != rnd[4:]
    assert nsga[:6] == rnd[:6] and nsga[6:] != rnd[6:]
    qmc = [_proposals(Search(sampler="qmc").make_sampler(s), 6) for s in (0, 1)]
    assert qmc[0][1:] != qmc[1][1:]


def test_heartbeats_are_told_by_public_storage_api(tmp_path):
    import optuna

    from mase_passes.storage import open_storage, uses_heartbeat
    assert not uses_heartbeat(open_storage(f"sqlite:///{tmp_path / 's.db'}"))
    assert not uses_heartbeat(optuna.storages.InMemoryStorage())
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        beating = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'h.db'}", heartbeat_interval=5)
    assert uses_heartbeat(beating)
