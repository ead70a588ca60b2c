"""The run config: typed validation before any work, with messages that name the place and the fix."""

import json
import re
import sys
from pathlib import Path

import pytest

from mase_passes.cli.main import main
from mase_passes.cli.schema import SCHEMA, RunConfigError, load_run_config

sys.path.insert(0, str(Path(__file__).parent))  # the tests run with --import-mode=importlib
from cli_models import bert_checkpoint, csv_dataset, write_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


def toml(tmp_path, text: str) -> Path:
    p = tmp_path / "run.toml"
    p.write_text(text)
    return p


def error_of(path, overrides=()) -> str:
    with pytest.raises(RunConfigError) as exc:
        load_run_config(path, list(overrides))
    return str(exc.value)


def test_defaults_are_the_builtin_workload():
    cfg = load_run_config(None)
    assert cfg.model["name"] == "minilm-wordnet" and cfg.dataset["name"] == "wordnet-glosses"
    assert cfg.search["trials"] == 16 and cfg.search["mantissa"] == [2, 7]
    # every schema key present with its default
    assert all(set(getattr(cfg, s)) == set(keys) for s, keys in SCHEMA.items())


def test_unknown_key_names_table_and_suggests(tmp_path):
    p = toml(tmp_path, "[search]\ntrails = 4\n")
    msg = error_of(p)
    assert str(p) in msg and "'trails'" in msg and "[search]" in msg and "did you mean 'trials'" in msg


def test_unknown_section_suggests(tmp_path):
    msg = error_of(toml(tmp_path, "[serach]\ntrials = 4\n"))
    assert "[serach]" in msg and "did you mean 'search'" in msg


@pytest.mark.parametrize("text, key, hint", [
    ('[search]\ntrials = "many"\n', "[search] trials", "whole number"),
    ("[search]\ntrials = -1\n", "[search] trials", ">= 0"),
    ('[search]\nsampler = "cmaes"\n', "[search] sampler", "'tpe'"),
    ("[search]\nmantissa = [7, 2]\n", "[search] mantissa", "lo <= hi"),
    ("[hardware]\nemit = 1\n", "[hardware] emit", "true or false"),
    ('[report]\ncompare = ["MXInt9"]\n', "[report] compare", "neither a baseline name"),
    ("[dataset]\nbatch_size = 0\n", "[dataset] batch_size", ">= 1"),
    ("[search]\nk = nan\n", "[search] k", "finite"),
])
def test_bad_value_names_file_key_and_fix(tmp_path, text, key, hint):
    p = toml(tmp_path, text)
    msg = error_of(p)
    assert str(p) in msg and key in msg and hint in msg


def test_not_toml(tmp_path):
    assert "not valid TOML" in error_of(toml(tmp_path, "[search\n"))


def test_missing_files(tmp_path):
    assert "config file not found" in error_of(tmp_path / "nope.toml")
    msg = error_of(toml(tmp_path, '[model]\nname = "ckpt"\n[dataset]\nname = "d.csv"\n'))
    assert "[model] name" in msg and "does not exist" in msg
    (tmp_path / "ckpt").mkdir()
    msg = error_of(toml(tmp_path, '[model]\nname = "ckpt"\n[dataset]\nname = "d.csv"\n'))
    assert "no config.json" in msg
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    msg = error_of(toml(tmp_path, '[model]\nname = "ckpt"\n[dataset]\nname = "d.csv"\n'))
    assert "[dataset] name" in msg and "does not exist" in msg
    msg = error_of(toml(tmp_path, '[model]\nname = "ckpt"\n[dataset]\nname = "d.parquet"\n'))
    assert "must end in one of" in msg


def test_paths_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    (tmp_path / "d.csv").write_text("text,label\na,b\n")
    cfg = load_run_config(toml(tmp_path, '[model]\nname = "ckpt"\n[dataset]\nname = "d.csv"\n'))
    assert cfg.model["name"] == str(tmp_path / "ckpt") and cfg.dataset["name"] == str(tmp_path / "d.csv")


def test_set_overrides_and_errors(tmp_path):
    cfg = load_run_config(None, ["search.trials=3", "output.dir=elsewhere", "report.compare=['MXInt8']"])
    assert cfg.search["trials"] == 3 and cfg.output["dir"] == "elsewhere" and cfg.report["compare"] == ["MXInt8"]
    assert "section.key=value" in str(pytest.raises(RunConfigError, load_run_config, None, ["trials=3"]).value)
    assert "did you mean 'trials'" in str(pytest.raises(RunConfigError, load_run_config, None, ["search.trial=3"]).value)


def test_inline_quantize_config_is_checked(tmp_path):
    p = toml(tmp_path, '[search]\ntrials = 0\n[quantize.config]\ndefault = "MXInt((16,2),8,99)"\n')
    assert "[quantize] config" in error_of(p)
    p = toml(tmp_path, '[search]\ntrials = 0\n')
    assert "nothing to choose" in error_of(p)


def test_builtin_model_needs_builtin_dataset(tmp_path):
    (tmp_path / "d.csv").write_text("text,label\na,b\n")
    assert 'the builtin dataset "wordnet-glosses" only' in error_of(toml(tmp_path, '[dataset]\nname = "d.csv"\n'))


def test_unsupported_family_stops_before_work(tmp_path, capsys):
    ck = tmp_path / "gpt2"
    ck.mkdir()
    (ck / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    (tmp_path / "t.txt").write_text("some text\n")
    p = toml(tmp_path, '[model]\nname = "gpt2"\n[dataset]\nname = "t.txt"\n')
    assert main(["check", str(p)]) == 2
    err = capsys.readouterr().err
    assert "model_type 'gpt2'" in err and "supported: BERT sequence classification" in err
    out = tmp_path / "out"
    assert main(["run", str(p), "--out", str(out)]) == 2  # the run command stops at the same check
    assert not out.exists()  # before any work


def test_bert_without_head_and_wrong_dataset_kind(tmp_path, capsys):
    ck = bert_checkpoint(tmp_path / "bert")
    conf = json.loads((ck / "config.json").read_text())
    (tmp_path / "t.txt").write_text("the cat\n")
    p = write_config(tmp_path / "a.toml", str(ck), str(tmp_path / "t.txt"), str(tmp_path / "out"))
    assert main(["check", str(p)]) == 2
    assert "needs a .csv/.jsonl" in capsys.readouterr().err
    conf["architectures"] = ["BertModel"]
    (ck / "config.json").write_text(json.dumps(conf))
    data = csv_dataset(tmp_path / "d.csv")
    p = write_config(tmp_path / "b.toml", str(ck), str(data), str(tmp_path / "out"))
    assert main(["check", str(p)]) == 2
    assert "no sequence-classification head" in capsys.readouterr().err


def test_dataset_columns_checked_before_work(tmp_path, capsys):
    ck = bert_checkpoint(tmp_path / "bert")
    data = csv_dataset(tmp_path / "d.csv")
    p = write_config(tmp_path / "a.toml", str(ck), str(data), str(tmp_path / "out"))
    assert main(["check", str(p)]) == 2  # the CSV's text column is "sentence"
    err = capsys.readouterr().err
    assert "no column 'text'" in err and "set [dataset] text_column" in err
    p = write_config(tmp_path / "b.toml", str(ck), str(data), str(tmp_path / "out"),
                     dataset={"text_column": "sentence"})
    assert main(["check", str(p)]) == 0
    assert not (tmp_path / "out").exists()  # check does no work and writes nothing
    p = write_config(tmp_path / "c.toml", str(ck), str(data), str(tmp_path / "out"),
                     dataset={"text_column": "sentence", "batch_size": 64})
    assert main(["check", str(p)]) == 2
    assert "fewer than batch_size" in capsys.readouterr().err


def test_examples_validate_and_every_key_is_documented():
    readme = (EXAMPLES / "README.md").read_text()
    for section, keys in SCHEMA.items():
        assert f"[{section}]" in readme, section
        for key in keys:
            assert re.search(rf"`{key}`", readme), f"[{section}] {key} is not documented in examples/README.md"
    configs = sorted(EXAMPLES.glob("*.toml"))
    assert configs
    for path in configs:
        if path.name.startswith("quant"):
            continue  # quantization configs (levels), not run configs
        load_run_config(path, check_paths=False)


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["run"])
    assert exc.value.code == 2
    assert main(["check", "--keys"]) == 0
    out = capsys.readouterr().out
    assert "[search]" in out and "trials (int, default 16)" in out


def test_a_new_pass_option_is_a_config_key_without_a_change_in_cli(tmp_path, monkeypatch):
    """A field added to the quantize pass becomes [quantize] <field> with the field's type,
    default and doc; a config sets it, a wrong type is refused naming file and key, and the
    stage that quantizes hands it to the pass."""
    import dataclasses
    import types

    import mase_ir

    from mase_passes.cli import schema, stages
    from mase_passes.passes import REGISTRY
    from mase_passes.passes.options import option
    from mase_passes.passes.quantize import Quantize

    @dataclasses.dataclass(frozen=True)
    class QuantizeWithKnob(Quantize):
        knob: int = option(3, "a new option of the quantize pass", at_least=1)

        def apply(self, graph, batches=None, loss_fn=None):
            seen.append(self.knob)
            return super().apply(graph, batches, loss_fn)

    seen = []
    module = types.ModuleType("quantize_with_knob")
    module.QuantizeWithKnob = QuantizeWithKnob
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(REGISTRY, "quantize", (module.__name__, "QuantizeWithKnob"))
    monkeypatch.setattr(schema, "SCHEMA", schema.build_schema())  # what a fresh import builds

    key = schema.SCHEMA["quantize"]["knob"]
    assert (key.type, key.default, key.doc) == ("int", 3, "a new option of the quantize pass")
    p = toml(tmp_path, "[quantize]\nknob = 5\nmode = \"ptq\"\n")
    cfg = load_run_config(p)
    assert cfg.quantize["knob"] == 5
    msg = error_of(toml(tmp_path, '[quantize]\nknob = "five"\nmode = "pqt"\n'))
    lines = msg.splitlines()  # both errors at once, each with file and key
    assert len(lines) == 2 and all(str(tmp_path) in line for line in lines)
    assert "[quantize] knob: expected a whole number" in msg and "[quantize] mode: must be one of" in msg
    assert "[quantize] knob: must be >= 1" in error_of(toml(tmp_path, "[quantize]\nknob = 0\n"))

    class Workload:  # what quantize_chosen reads of a workload
        metric, calibration, info = "accuracy", [], {"calibration_samples": 0}

    g = mase_ir.parse('graph(%x: f32[2,4]) {\n  %y: f32[2,4] = relu(%x: f32[2,4])\n  return %y\n}\n')
    stages.quantize_chosen(g, Workload(), {"default": "MXInt((4,),8,3)"}, cfg.quantize, None)
    assert seen == [5]


def test_every_problem_of_a_config_is_listed_at_once(tmp_path):
    """A typo, a bad value, a missing file and a cross-key conflict: one error, a line each."""
    msg = error_of(toml(tmp_path, '[search]\ntrails = 4\nsampler = "cmaes"\ntrials = 0\n'
                                  '[quantize]\nconfig = "missing.toml"\n'))
    lines = msg.splitlines()
    assert len(lines) == 2  # the key errors first: path and cross checks need valid values
    assert "did you mean 'trials'" in lines[0] and "[search] sampler: must be one of" in lines[1]
    msg = error_of(toml(tmp_path, '[model]\nname = "ckpt"\n[dataset]\nname = "d.parquet"\n'
                                  '[search]\nk_area = 0.1\n[hardware]\nparallelize = false\n'))
    lines = msg.splitlines()
    assert len(lines) == 3 and all(str(tmp_path) in line for line in lines)
    assert "[model] name" in lines[0] and "[dataset] name" in lines[1] and "[search] k_area" in lines[2]


# --- presets ([presets.NAME] tables, mase run --preset NAME / --quick) --------------------
def test_a_preset_is_merged_over_the_file_before_set(tmp_path):
    path = toml(tmp_path, '[search]\ntrials = 24\nk = 0.25\n[presets.quick.search]\ntrials = 8\n'
                          '[presets.quick.allocate]\nenabled = false\n[allocate]\nenabled = true\n')
    plain = load_run_config(path)
    assert plain.search["trials"] == 24 and plain.allocate["enabled"] is True
    quick = load_run_config(path, preset="quick")
    assert quick.search["trials"] == 8 and quick.search["k"] == 0.25 and quick.allocate["enabled"] is False
    assert load_run_config(path, ["search.trials=3"], preset="quick").search["trials"] == 3  # --set wins


def test_an_unknown_preset_and_a_broken_one_are_named(tmp_path):
    path = toml(tmp_path, '[presets.quick.search]\ntrails = 8\n[presets.slow.search]\ntrials = "many"\n')
    msg = error_of(path)  # checked even when not selected, every problem at once
    assert "unknown key 'trails' in [presets.quick.search] (did you mean 'trials'?)" in msg
    assert "[presets.slow.search] trials: expected a whole number, got 'many'" in msg
    good = toml(tmp_path, '[presets.fast.search]\ntrials = 8\n')
    with pytest.raises(RunConfigError, match=r"no preset \[presets.quick\] \(presets of this file: fast\)"):
        load_run_config(good, preset="quick")


def test_allocation_budgets_over_the_search_budget_are_refused(tmp_path):
    path = toml(tmp_path, '[search]\nmax_mantissa = 4.0\n[allocate]\nenabled = true\nbudget = 4.0\n'
                          'extra_budgets = [4.2]\n')
    assert "[allocate] budget / extra_budgets [4.2] exceed [search] max_mantissa = 4" in error_of(path)


def test_the_example_quick_preset_is_the_short_flow():
    cfg = load_run_config(EXAMPLES / "minilm_wordnet.toml", preset="quick")
    full = load_run_config(EXAMPLES / "minilm_wordnet.toml")
    assert full.allocate["enabled"] and full.quantize["mode"] == "qat" and full.report["confirm_samples"] == 1000
    assert not cfg.allocate["enabled"] and cfg.quantize["mode"] == "ptq" and cfg.report["confirm_samples"] == 0
    assert cfg.search["trials"] == 8 and cfg.search["study_name"] != full.search["study_name"]
