"""The builtin causal LM ``llama-debtext``: shipped weights, corpus splits, and the ``mase`` workload.

Oracle for the perplexity: the number tools/train_causal_lm.py measured on a GPU at the end
of training (training.json, pinned below as well), recomputed here on the CPU by a plain loop
over the model's logits (no mase pass involved)."""

import hashlib
import json
import math
from importlib.resources import files
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from mase_passes.cli.schema import RunConfigError, load_run_config  # noqa: E402
from mase_passes.cli.workload import load, preflight  # noqa: E402
from mase_passes.workloads import llama_debtext, textdata  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "causal_lm_perplexity.toml"
# measured at the end of training (NVIDIA H200, FP32): 64 evenly spaced test windows of 128 tokens
PINNED_CI_PERPLEXITY = 28.266020


@pytest.fixture(scope="module")
def shipped():
    return llama_debtext.load_model()


@pytest.mark.slow
def test_fp32_test_perplexity_is_the_one_measured_when_training(shipped):
    model, tok = shipped
    record = llama_debtext.training_record()["perplexity"]
    assert record["test_ci_subset"] == pytest.approx(PINNED_CI_PERPLEXITY, rel=1e-6)
    wins = llama_debtext.windows(tok, "test", record["windows"])
    assert wins.shape[0] == record["test_windows"]
    sub = wins[[int(i * wins.shape[0] / record["ci_subset_windows"]) for i in range(record["ci_subset_windows"])]]
    nll, count = 0.0, 0
    with torch.no_grad():
        for s in range(0, sub.shape[0], 16):
            ids = sub[s:s + 16]
            logits = model(ids, torch.ones_like(ids)).float()
            nll += float(torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                                           ids[:, 1:].reshape(-1), reduction="sum"))
            count += ids[:, 1:].numel()
    # GPU vs CPU float32 differ by rounding only: measured 4e-7 relative
    assert math.exp(nll / count) == pytest.approx(PINNED_CI_PERPLEXITY, rel=1e-4)


def test_the_model_is_a_small_llama():
    conf = json.loads((llama_debtext.model_dir() / "config.json").read_text())
    assert conf["architectures"] == ["LlamaForCausalLM"] and conf["hidden_act"] == "silu"
    assert llama_debtext.training_record()["parameters"] < 10_000_000
    assert (llama_debtext.model_dir() / "model.safetensors").stat().st_size < 25 * 2**20


def test_shipped_splits_are_the_ones_corpus_json_describes():
    meta = json.loads(Path(str(files("mase_passes") / "data" / "debtext" / "corpus.json")).read_text())
    for name in ("validation", "test"):
        text = llama_debtext.split_text(name)
        assert hashlib.sha256(text.encode("utf-8")).hexdigest() == meta["splits"][name]["sha256"]
        assert text.count("\n") == meta["splits"][name]["documents"]
    assert {s["package"] for s in meta["sources"]} >= {"wordnet-base", "fortunes"}
    assert not set(llama_debtext.split_text("test").splitlines()) & set(llama_debtext.split_text("validation").splitlines())
    with pytest.raises(ValueError, match="no shipped split 'train'"):
        llama_debtext.split_text("train")


def test_mase_workload_scores_test_windows_and_searches_validation_ones(shipped):
    cfg = load_run_config(EXAMPLE, ["dataset.eval_samples=16", "dataset.batch_size=8", "search.samples=8"])
    family = preflight(cfg)
    wl = load(cfg, family)
    _, tok = shipped
    test = llama_debtext.windows(tok, "test", 128)
    val = llama_debtext.windows(tok, "validation", 128)
    assert wl.metric == "perplexity" and len(wl.evaluation) == 2 and len(wl.search) == 1
    idx = textdata.evenly_spaced(test.shape[0], 16)
    assert torch.equal(wl.evaluation[1][0]["input_ids"], test[idx[8:16]])
    assert torch.equal(wl.search[0][1], val[textdata.evenly_spaced(val.shape[0], 8)])


def test_a_window_longer_than_the_model_positions_is_a_config_error():
    cfg = load_run_config(EXAMPLE, ["dataset.max_length=512"])
    with pytest.raises(RunConfigError, match="max_length = 512 is more than llama-debtext's 256 positions"):
        load(cfg, preflight(cfg))


def test_the_builtin_model_goes_with_its_own_dataset():
    with pytest.raises(RunConfigError, match='set \\[dataset\\] name = "debtext"'):
        load_run_config(EXAMPLE, ['dataset.name="wordnet-glosses"'])
