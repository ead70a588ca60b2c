"""The builtin causal LM ``llama-debtext``: a small LLaMA trained from scratch on Debian text.

Model: transformers ``LlamaForCausalLM`` (RMSNorm, SwiGLU, RoPE; 6 layers, hidden 256, 8 heads,
vocabulary 4096, tied embeddings, about 5.9M parameters), trained in FP32 by
``tools/train_causal_lm.py`` (its docstring has the exact command) on the ``debtext`` corpus of
``tools/make_text_corpus.py`` (WordNet 3.0 glosses and examples from ``wordnet-base``, fortunes
from ``fortunes`` / ``fortunes-min``), with a byte-level BPE tokenizer trained on its train split.
Shipped as package data: ``data/llama_debtext/`` (config.json, model.safetensors, tokenizer files,
training.json with the perplexities measured at the end of training) and ``data/debtext/``
(validation and test splits, gzip-compressed, and corpus.json with the provenance).

Metric: perplexity = exp(summed next-token cross-entropy inside each non-overlapping window of
``max_length`` tokens / predicted tokens), windows cut from the test split tokenized as one text
(as a user's .txt file is, ``textdata.text_windows``). Search trials score validation windows,
never test ones.
"""

from __future__ import annotations

import gzip
import json
from importlib.resources import files
from pathlib import Path

import torch

from mase_passes.workloads import checkpoint, textdata

NAME = "llama-debtext"
DATASET = "debtext"
SPLITS = ("validation", "test")


class WorkloadError(ValueError):
    """The run's [dataset] settings do not fit the builtin model or its splits; the message says which."""


def model_dir() -> Path:
    return Path(str(files("mase_passes") / "data" / "llama_debtext"))


def split_text(name: str) -> str:
    """The text of a shipped corpus split (``validation`` or ``test``)."""
    if name not in SPLITS:
        raise ValueError(f"{DATASET}: no shipped split {name!r}; shipped: {SPLITS} (train is re-derived by "
                         f"tools/make_text_corpus.py)")
    with gzip.open(Path(str(files("mase_passes") / "data" / "debtext" / f"{name}.txt.gz")), "rt",
                   encoding="utf-8") as fh:
        return fh.read()


def training_record() -> dict:
    """What tools/train_causal_lm.py measured when it trained the shipped model (training.json)."""
    return json.loads((model_dir() / "training.json").read_text(encoding="utf-8"))


def load_model():
    """(Logits wrapper in eval mode, tokenizer) of the shipped checkpoint."""
    return checkpoint.load(model_dir(), "causal-lm")


def windows(tok, name: str, max_length: int) -> torch.Tensor:
    """[windows, max_length] token ids of a split tokenized as one text."""
    ids = tok(split_text(name), add_special_tokens=False, return_tensors="pt")["input_ids"][0]
    n = ids.numel() // max_length
    if n == 0:
        raise WorkloadError(f"[dataset] {DATASET} {name}: {ids.numel()} tokens, fewer than one window of "
                            f"max_length = {max_length}")
    return ids[: n * max_length].reshape(n, max_length)


def workload_parts(dataset: dict, search_samples: int | None):
    """(model, tokenizer, metric, calibration, evaluation, search, info) for the run's [dataset]
    (batch_size, max_length, eval_samples, calibration_samples) and [search] samples."""
    positions = json.loads((model_dir() / "config.json").read_text(encoding="utf-8"))["max_position_embeddings"]
    if dataset["max_length"] > positions:
        raise WorkloadError(f"[dataset] max_length = {dataset['max_length']} is more than {NAME}'s {positions} "
                            f"positions; set max_length <= {positions}")
    model, tok = load_model()
    test = windows(tok, "test", dataset["max_length"])
    val = windows(tok, "validation", dataset["max_length"])
    bs = min(dataset["batch_size"], test.shape[0])
    ev_idx = textdata.evenly_spaced(test.shape[0], dataset["eval_samples"])
    evaluation = textdata.lm_batches(test, bs, ev_idx)
    if not evaluation:
        raise WorkloadError(f"[dataset] eval_samples = {dataset['eval_samples']} is fewer than batch_size = {bs}: "
                            f"no full evaluation batch; raise eval_samples or lower batch_size")
    # calibration and search windows come from the validation split: the test windows stay unseen
    calibration = textdata.lm_batches(val, bs, list(range(min(val.shape[0], max(bs, dataset["calibration_samples"])))))
    n = search_samples or len(ev_idx)
    search = textdata.lm_batches(val, bs, textdata.evenly_spaced(val.shape[0], n))
    rec = training_record()
    info = {"model": f"{NAME} (LlamaForCausalLM, {rec['parameters']} parameters, trained from scratch in FP32 "
                     f"by tools/train_causal_lm.py; measured test perplexity {rec['perplexity']['test']:.3f} "
                     f"over all {rec['perplexity']['test_windows']} windows of {rec['perplexity']['windows']})",
            "family": "builtin causal LM",
            "task": f"perplexity on the {DATASET} test split ({test.shape[0]} windows of {dataset['max_length']} "
                    f"tokens)",
            "dataset": f"{DATASET} (mase_passes/data/debtext: WordNet glosses + fortunes, corpus.json)",
            "calibration_source": "first validation windows", "search_source": "validation windows"}
    return model, tok, "perplexity", calibration, evaluation, search, info
