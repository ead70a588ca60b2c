"""Tiny random checkpoints and datasets saved to folders, as a user would point `mase` at them."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

WORDS = ("the a cat dog bird fish tree house car runs sits eats sees on under near red blue green "
         "big small old new fast slow").split()
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LABELS = ["neg", "neu", "pos"]


def tokenizer():
    from transformers import BertTokenizer
    return BertTokenizer(vocab={w: i for i, w in enumerate(SPECIAL + list(WORDS))})


def bert_checkpoint(path: Path) -> Path:
    """BertForSequenceClassification, 3 labels with names, hidden 32, 2 layers, + tokenizer."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(SPECIAL) + len(WORDS), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=64, max_position_embeddings=32, num_labels=3,
                     id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)})
    BertForSequenceClassification(cfg).save_pretrained(path)
    tokenizer().save_pretrained(path)
    return path


def llama_checkpoint(path: Path) -> Path:
    """LlamaForCausalLM, hidden 32, 2 layers, + the same word tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(SPECIAL) + len(WORDS), hidden_size=32, intermediate_size=64,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=32)
    LlamaForCausalLM(cfg).save_pretrained(path)
    tokenizer().save_pretrained(path)
    return path


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7))) for _ in range(n)]


def csv_dataset(path: Path, n_test: int = 24, n_train: int = 16) -> Path:
    rows = []
    for split, n, seed in (("train", n_train, 1), ("test", n_test, 2)):
        for i, text in enumerate(sentences(n, seed)):
            rows.append({"split": split, "sentence": text, "label": LABELS[i % 3]})
    with open(path, "w", newline="") as fh:
        fh.write("# tiny test set\n")
        w = csv.DictWriter(fh, fieldnames=["split", "sentence", "label"])
        w.writeheader()
        w.writerows(rows)
    return path


def jsonl_dataset(path: Path, n: int = 24) -> Path:
    with open(path, "w") as fh:
        for i, text in enumerate(sentences(n, 3)):
            fh.write(json.dumps({"text": text, "label": LABELS[i % 3]}) + "\n")
    return path


def text_dataset(path: Path, n: int = 80) -> Path:
    path.write_text(" ".join(sentences(n, 4)) + "\n")
    return path


def write_config(path: Path, model_path: str, data_path: str, out: str, **sections) -> Path:
    """A run config with small defaults; ``sections`` like search={"trials": 2} are merged in."""
    base = {"model": {"name": model_path}, "dataset": {"name": data_path, "batch_size": 8, "max_length": 8,
                                                   "eval_samples": 16, "calibration_samples": 8},
            "search": {"trials": 2, "samples": 8, "mantissa": [3, 6]},
            "hardware": {"parallelize": False, "emit": False}, "output": {"dir": out}}
    for name, table in sections.items():
        base.setdefault(name, {}).update(table)
    lines = []
    for name, table in base.items():
        lines.append(f"[{name}]")
        for k, v in table.items():
            lines.append(f"{k} = {json.dumps(v)}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path
