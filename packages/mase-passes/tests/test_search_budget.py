"""The search's space options (ranges, group_by, seeds) and its mean-mantissa budget."""

import sys
from pathlib import Path

import mase_ir
import optuna
import pytest
import torch

from mase_passes.config import load_config
from mase_passes.graphs import slots
from mase_passes.passes.search import Search

sys.path.insert(0, str(Path(__file__).parent))  # the tests directory is no package
from test_search_space import GROUP, Stack  # noqa: E402


def _mean_mantissa_of_config(graph, conf) -> float:
    """From the written TOML and the graph's tensor sizes alone (not the search's own bookkeeping)."""
    num = den = 0
    for s in slots(graph):
        num += conf["node"][s.node][s.role].man_bits * s.type.numel
        den += s.type.numel
    return num / den


def test_budget_trials_over_it_are_pruned_and_never_evaluated(mlp, task, tmp_path):
    _, _, g = mlp
    res = Search(n_trials=4, max_mantissa=4.0, mantissa=(2, 6), startup_trials=2, seeds=(3,),
                 out_dir=str(tmp_path)).apply(g, task[:1])
    trials = res.study.trials
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert res.finished_trials == len(done) == 4          # n_trials counts evaluated trials
    assert all(t.user_attrs["mean_mantissa"] <= 4.0 and "metric" in t.user_attrs for t in done)
    assert all(t.user_attrs["mean_mantissa"] > 4.0 and "metric" not in t.user_attrs for t in pruned)
    assert set(done[0].params.values()) == {3}           # the seed ran first
    conf = load_config(tmp_path / "best_config.toml")
    assert _mean_mantissa_of_config(g, conf) <= 4.0


def test_grouped_space_with_fixed_tensors_and_seeds(tmp_path):
    torch.manual_seed(0)
    model = Stack().eval()
    x = torch.randn(4, 8)
    g = mase_ir.trace(model, {"x": x})
    with torch.no_grad():
        y = model(x).argmax(-1)
    res = Search(n_trials=3, mantissa=(2, 6), ranges=((r"\.bias$", (7, 7)),), group_by=GROUP,
                 seeds=({"layers.*:linear.weight": 6, ".*": 2},), out_dir=str(tmp_path)).apply(g, [({"x": x}, y)])
    first = res.study.trials[0]
    assert first.params["layers.*:linear.weight"] == 6 and first.params["model:add#1.data_out"] == 2
    assert all(len(t.params) == 8 for t in res.study.trials)  # 13 tensors - 3 biases, two pairs grouped
    conf = load_config(tmp_path / "best_config.toml")
    best = res.study.best_trial.params
    assert conf["node"]["linear"]["weight"].man_bits == conf["node"]["linear_1"]["weight"].man_bits \
        == best["layers.*:linear.weight"]
    assert {conf["node"][n]["bias"].man_bits for n in ("linear", "linear_1", "linear_2")} == {7}


def test_budget_options_are_checked(mlp, task, tmp_path):
    _, _, g = mlp
    with pytest.raises(ValueError, match="max_mantissa is a constraint of the single-objective"):
        Search(objective="multi", max_mantissa=4.0)
    with pytest.raises(ValueError, match="below the smallest mean mantissa"):
        Search(n_trials=1, max_mantissa=1.5, mantissa=(2, 6), out_dir=str(tmp_path)).apply(g, task[:1])
