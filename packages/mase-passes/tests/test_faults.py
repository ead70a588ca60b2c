"""Bad input and faults in the passes: each gets an error naming the place, nothing saved is lost.

docs/reliability.md lists these cases with the test that triggers each.
"""

import os

import pytest
import torch

from mase_passes.config import ConfigError, load_config
from mase_passes.passes.evaluate import Evaluate, NonFiniteOutputError, reference_logits
from mase_passes.passes.quantize import Quantize
from mase_passes.atomic import write_atomic
from mase_passes.passes.search import Search


# --- a model whose outputs contain NaN -------------------------------------------------------
def _poison(graph, path="fc2.weight", row=1):
    """fc2's weight row ``row`` NaN: every sample's logit ``row`` becomes NaN."""
    w = graph.weights[path].detach().clone()
    w[row, 0] = float("nan")
    graph.weights[path] = w


def test_nan_outputs_are_an_error_naming_the_batch_not_a_silent_accuracy(mlp, task):
    _, _, g = mlp
    _poison(g)
    with pytest.raises(NonFiniteOutputError, match=r"evaluate: batch 0: the model output \[16, 4\] holds 16 "
                                                   r"non-finite value\(s\), the first at index \[0, 1\] = nan"):
        Evaluate().apply(g, task)


def test_nan_in_the_fp32_reference_is_caught_before_any_trial(mlp, task, tmp_path):
    _, _, g = mlp
    _poison(g)
    with pytest.raises(NonFiniteOutputError, match="reference, batch 0"):
        reference_logits(g, task)
    with pytest.raises(NonFiniteOutputError, match="reference, batch 0"):
        Search(n_trials=2, out_dir=str(tmp_path)).apply(g, task, reference=g)
    assert not (tmp_path / "best_config.toml").exists()


def test_inf_outputs_are_named_too(mlp, task):
    _, _, g = mlp
    w = g.weights["fc2.bias"].detach().clone()
    w[3] = float("inf")
    g.weights["fc2.bias"] = w
    with pytest.raises(NonFiniteOutputError, match=r"first at index \[0, 3\] = inf"):
        Evaluate().apply(g, task[:1])


# --- malformed quantization configs -----------------------------------------------------------
@pytest.mark.parametrize("text, match", [
    ('default = "MXInt((16,2),8,7)"\n[op.linear\nweight = "f32"\n', r"q\.toml: not valid TOML: .*line 2"),
    ('default = 7\n', r"q\.toml: default: expected a format string or a table of slot -> format, got 7"),
    ('default = "MXInt((16,2),8,99)"\n', r"q\.toml: default.*man_bits=99 is outside the legal range \[1, 23\]"),
    ('default = "MXint((16,2),8,7)"\n', r"q\.toml: default: bad format string 'MXint\(\(16,2\),8,7\)' at column 1"),
    ('op = "f32"\n', r"q\.toml: \[op\] must be a table of name -> formats"),
    ('[regex]\n"(unclosed" = "f32"\n', r"q\.toml: regex '\(unclosed' does not compile"),
    ('[defaults]\nweight = "f32"\n', r"q\.toml: unknown level\(s\) \['defaults'\]; levels: \['default', 'op', "
                                    r"'regex', 'node'\]"),
    ('[node.fc1]\nweight = ["f32"]\n', r"q\.toml: node\.fc1\.weight: a format must be a string"),
])
def test_malformed_configs_name_the_file_and_the_entry(tmp_path, text, match):
    path = tmp_path / "q.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"config file .*nothere\.toml not found"):
        load_config(tmp_path / "nothere.toml")


# --- writes are whole or absent ----------------------------------------------------------------
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "best_config.toml"
    target.write_text("old = 1\n")

    def crash(*args):  # the process dies between writing the temporary and renaming it
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        write_atomic(target, "new = 2\n" * 1000)
    assert target.read_text() == "old = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best_config.toml"]
    monkeypatch.undo()
    write_atomic(target, "new = 2\n")
    assert target.read_text() == "new = 2\n"


@pytest.mark.slow
def test_search_outputs_are_renamed_into_place(mlp, task, tmp_path, monkeypatch):
    """Every output of a search goes through os.replace from a temporary in the same folder."""
    _, _, g = mlp
    renamed = []
    real = os.replace

    def spy(src, dst):
        renamed.append((os.path.dirname(src), os.path.basename(dst)))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    Search(n_trials=2, out_dir=str(tmp_path)).apply(g, task[:1])
    assert sorted(name for _, name in renamed) == ["best_config.toml", "history.png", "pareto.csv", "pareto.png"]
    assert all(d == str(tmp_path) for d, _ in renamed)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_misspelt_slot_or_op_is_refused_with_a_suggestion(mlp):
    """A slot or op name no op has (a typo) is an error naming the entry, not a silent no-op."""
    _, _, g = mlp
    with pytest.raises(ConfigError, match=r"node\.linear: unknown slot 'wieght'; did you mean 'weight'\?"):
        Quantize(config={"node": {"linear": {"wieght": "MXInt((16,2),8,3)"}}}).apply(g)
    with pytest.raises(ConfigError, match=r"op\.lnear: no MASE op named 'lnear'; did you mean 'linear'\?"):
        Quantize(config={"op": {"lnear": "MXInt((16,2),8,3)"}}).apply(g)
    with pytest.raises(ConfigError, match=r"op\.relu: unknown slot 'weight'"):  # relu has no weight
        Quantize(config={"op": {"relu": {"weight": "MXInt((16,2),8,3)"}}}).apply(g)
    # the control: spelled right, the same entry does quantize fc1's weight
    q = Quantize(config={"node": {"linear": {"weight": "MXInt((16,2),8,3)"}}}).apply(g)
    assert str(q.node("linear").params["weight"].type.element) == "MXInt((16,2),8,3)"
