"""A user's Hugging Face checkpoint given by path: check its family, load it, wrap it to return logits.

Supported families (what mase_ir traces and the evaluate pass scores):

* ``bert-classification`` — ``model_type`` "bert" with a ``...ForSequenceClassification``
  architecture; metric: accuracy of argmax(logits) against the label;
* ``causal-lm`` — ``model_type`` "opt" or "llama" (``...ForCausalLM``); metric: perplexity,
  exp of the mean next-token cross-entropy.

:func:`inspect` reads only ``config.json`` (no weights), so an unsupported family is refused
before any work. :class:`Logits` makes the Hugging Face output (a dataclass) a tensor, the
form a traced graph returns; causal LMs run with ``use_cache=False`` (torch.export cannot
trace the cache objects).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

MODEL_TYPES = {"bert": "bert-classification", "opt": "causal-lm", "llama": "causal-lm"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "tokenizer.model")


class UnsupportedModelError(ValueError):
    """The checkpoint is not a family the IR and the passes support; the message says which are."""


def inspect(path: str | Path, family: str = "auto") -> str:
    """The family of the checkpoint at ``path`` from its config.json (``family`` "auto"), or
    ``family`` itself after checking that the model type fits it."""
    path = Path(path)
    try:
        conf = json.loads((path / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UnsupportedModelError(f"{path}: cannot read config.json: {exc}") from None
    model_type = conf.get("model_type")
    archs = conf.get("architectures") or []
    supported = ("supported: BERT sequence classification (model_type 'bert', "
                 "BertForSequenceClassification) and causal LMs with model_type 'opt' or 'llama'")
    if model_type not in MODEL_TYPES:
        raise UnsupportedModelError(f"{path}: model_type {model_type!r} (architectures {archs}) is not "
                                    f"supported by mase; {supported}")
    expected = MODEL_TYPES[model_type]
    if family not in ("auto", expected):
        raise UnsupportedModelError(f"{path}: [model] family = {family!r} but the checkpoint's model_type "
                                    f"{model_type!r} is a {expected} model; set family = \"{expected}\" or \"auto\"")
    if family == "auto" and expected == "bert-classification" \
            and not any(a.endswith("ForSequenceClassification") for a in archs):
        raise UnsupportedModelError(f"{path}: BERT checkpoint with architectures {archs} has no sequence-"
                                    f"classification head; save a BertForSequenceClassification, or set "
                                    f"[model] family = \"bert-classification\" to load one with a new "
                                    f"(untrained) head")
    return expected


def has_tokenizer(path: str | Path) -> bool:
    return any((Path(path) / f).is_file() for f in TOKENIZER_FILES)


def num_labels(path: str | Path) -> int | None:
    conf = json.loads((Path(path) / "config.json").read_text())
    return conf.get("num_labels") or (len(conf["id2label"]) if "id2label" in conf else None)


def label2id(path: str | Path) -> dict[str, int]:
    conf = json.loads((Path(path) / "config.json").read_text())
    return {str(k): int(v) for k, v in (conf.get("label2id") or {}).items()}


class Logits(torch.nn.Module):
    """``forward(input_ids, attention_mask) -> logits`` of a Hugging Face model."""

    def __init__(self, model: torch.nn.Module, causal: bool):
        super().__init__()
        self.model = model
        self.causal = causal

    def forward(self, input_ids, attention_mask):
        if self.causal:
            return self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def load(path: str | Path, family: str, tokenizer: str | Path | None = None):
    """(Logits wrapper in eval mode, tokenizer) for a checked ``family``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mase_hwlib.extras import require
    require("transformers", "mase-passes[workload]", "loading a Hugging Face checkpoint")
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    causal = family == "causal-lm"
    cls = AutoModelForCausalLM if causal else AutoModelForSequenceClassification
    model = cls.from_pretrained(str(path)).eval()
    tok = AutoTokenizer.from_pretrained(str(tokenizer or path))
    if tok.pad_token is None:  # LLaMA/OPT tokenizers may have none; padding positions are masked
        tok.pad_token = tok.eos_token or tok.unk_token
        if tok.pad_token is None:
            raise UnsupportedModelError(f"{tokenizer or path}: the tokenizer has no pad, eos or unk token "
                                        f"to pad batches with")
    # eval mode on the wrapper too: export re-applies the wrapper's mode to every submodule
    return Logits(model, causal).eval(), tok
