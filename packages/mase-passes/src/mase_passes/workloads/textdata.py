"""A user's dataset given by path, as batches the passes take: ``[(inputs, target)]``.

* ``.csv`` / ``.jsonl`` — one sample per row / line with a text column and a label column
  (names configurable); an optional split column with ``train`` / ``validation`` / ``test``
  values (validation rows score search trials, so the test metric of the chosen configuration
  is not the one it was selected on). Lines of
  a CSV starting with ``#`` are comments (provenance headers, as in the WordNet gloss CSV).
  Labels are names or integers; names map to class indices through the checkpoint's
  ``label2id`` when it knows every name, otherwise in sorted order (say so in the report).
* ``.txt`` — running text for a causal LM: tokenized once, cut into windows of
  ``max_length`` tokens; the target of a window is its own ids (next-token prediction).

Every batch has the same shape (batch_size x max_length): a traced graph has static shapes,
so a last partial batch is dropped. ``evenly_spaced`` picks ``limit`` indices spread over the
whole range, which keeps a class-sorted file class balanced.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import torch


class DatasetError(ValueError):
    """The dataset file is malformed; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class Table:
    texts: list[str]
    labels: list  # names (str) or integers, as in the file


@dataclass(frozen=True)
class Splits:
    """The parts of a labelled file; ``train`` and ``validation`` are None when it has no such rows."""

    train: Table | None
    validation: Table | None
    test: Table


SPLITS = ("train", "validation", "test")


def read_table(path: str | Path, text_column: str, label_column: str, split_column: str) -> Splits:
    """The splits of a CSV or JSONL file; without a split column every row is test."""
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise DatasetError(f"{path}: no rows")
    cols = set(rows[0][1])
    for col, key in ((text_column, "text_column"), (label_column, "label_column")):
        if col not in cols:
            raise DatasetError(f"{path}: no column {col!r} (columns: {sorted(cols)}); set [dataset] {key}")
    has_split = split_column in cols
    parts: dict[str, Table] = {name: Table([], []) for name in SPLITS}
    for line, row in rows:
        text, label = row.get(text_column), row.get(label_column)
        if not isinstance(text, str) or not text.strip():
            raise DatasetError(f"{path}:{line}: empty or missing {text_column!r}")
        if label is None or label == "":
            raise DatasetError(f"{path}:{line}: empty or missing {label_column!r}")
        split = row.get(split_column, "test") if has_split else "test"
        if split not in parts:
            raise DatasetError(f"{path}:{line}: {split_column} = {split!r}, expected one of "
                               f"{', '.join(repr(n) for n in SPLITS)}")
        parts[split].texts.append(text)
        parts[split].labels.append(label)
    if not parts["test"].texts:
        raise DatasetError(f"{path}: no test rows ({split_column} = 'test')")
    present = {name: (t if t.texts else None) for name, t in parts.items()}
    return Splits(present["train"], present["validation"], parts["test"])


def _read_rows(path: Path) -> list[tuple[int, dict]]:
    """Rows of a .jsonl / .csv file; text that is not UTF-8 and csv's own errors (a field over
    its size limit, a NUL byte) become a DatasetError naming the file."""
    try:
        return _read_rows_unchecked(path)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8") from None
    except csv.Error as exc:
        raise DatasetError(f"{path}: not a readable CSV file ({exc}); check the quoting, or that this is the "
                           "dataset file") from None


def check_text_file(path: str | Path) -> str:
    """The text of a causal-LM dataset file, or a DatasetError: not UTF-8, binary (NUL bytes), empty."""
    path = Path(path)
    data = path.read_bytes()
    nul = data.find(b"\0")
    if nul >= 0:
        raise DatasetError(f"{path}: holds NUL bytes (the first at byte {nul}): a binary file, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8") from None
    if not text.strip():
        raise DatasetError(f"{path}: empty text file")
    return text


def _read_rows_unchecked(path: Path) -> list[tuple[int, dict]]:
    if path.suffix == ".jsonl":
        out = []
        with open(path, encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path}:{i}: not valid JSON: {exc}") from None
                if not isinstance(obj, dict):
                    raise DatasetError(f"{path}:{i}: expected a JSON object per line")
                out.append((i, obj))
        return out
    with open(path, encoding="utf-8", newline="") as fh:
        lines = [(i, line) for i, line in enumerate(fh, 1) if not line.startswith("#")]
    reader = csv.DictReader(line for _, line in lines)
    # DictReader consumes the header line first; data rows map to lines[1:] when no quoted newlines
    return [(lines[k + 1][0] if k + 1 < len(lines) else 0, row) for k, row in enumerate(reader)]


def label_indices(labels: list, known: dict[str, int] | None = None) -> tuple[list[int], list[str], str]:
    """(class indices, class names, how they were mapped)."""
    names = [str(x) for x in labels]
    if known and all(n in known for n in names):
        classes = [n for n, _ in sorted(known.items(), key=lambda kv: kv[1])]
        return [known[n] for n in names], classes, "checkpoint label2id"
    if all(isinstance(x, int) or (isinstance(x, str) and x.lstrip("-").isdigit()) for x in labels):
        idx = [int(x) for x in labels]
        if min(idx) < 0:
            raise DatasetError(f"negative class index {min(idx)} in the labels")
        return idx, [str(i) for i in range(max(idx) + 1)], "integer labels"
    classes = sorted(set(names))
    index = {c: i for i, c in enumerate(classes)}
    return [index[n] for n in names], classes, "sorted label names"


def evenly_spaced(n: int, limit: int | None) -> list[int]:
    """``limit`` indices spread evenly over range(n) (all when limit is None, 0 or >= n)."""
    if not limit or limit >= n:
        return list(range(n))
    step = n / limit
    return [int(i * step) for i in range(limit)]


def classification_batches(tok, texts: list[str], labels: list[int], batch_size: int, max_length: int,
                           indices: list[int]) -> list:
    """[(inputs, labels)] over ``indices`` in order; the last partial batch is dropped."""
    out = []
    for s in range(0, len(indices) - batch_size + 1, batch_size):
        part = indices[s:s + batch_size]
        enc = tok([texts[i] for i in part], padding="max_length", max_length=max_length,
                  truncation=True, return_tensors="pt")
        out.append(({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]},
                    torch.tensor([labels[i] for i in part])))
    return out


def text_windows(tok, path: str | Path, max_length: int) -> torch.Tensor:
    """[windows, max_length] token ids of a text file cut into non-overlapping windows."""
    path = Path(path)
    text = check_text_file(path)
    ids = tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
    n = ids.numel() // max_length
    if n == 0:
        raise DatasetError(f"{path}: {ids.numel()} tokens, fewer than one window of max_length = {max_length}")
    return ids[: n * max_length].reshape(n, max_length)


def lm_batches(windows: torch.Tensor, batch_size: int, indices: list[int]) -> list:
    """[(inputs, ids)] for perplexity: every position real (mask of ones), target = the ids."""
    out = []
    for s in range(0, len(indices) - batch_size + 1, batch_size):
        ids = windows[indices[s:s + batch_size]]
        out.append(({"input_ids": ids, "attention_mask": torch.ones_like(ids)}, ids))
    return out
