"""The run configuration of the ``mase`` command: one TOML file, checked before any work.

The schema is one table (``SCHEMA``): section -> key -> :class:`Key` (type, default, what it
means). ``load_run_config`` reads the file, applies ``--set section.key=value`` overrides,
and returns a :class:`RunConfig` whose sections are plain dicts with every key present
(defaults filled in) and every value checked. Any problem raises :class:`RunConfigError`
naming the file, the ``[section]`` and the key, and saying what to change; an unknown key
comes with a did-you-mean (difflib) from the keys of its table.

Input paths (``model.name`` when not builtin, ``dataset.name`` when not builtin,
``quantize.config`` when a string) are relative to the config file's folder, so an example
config works from any working directory; ``output.dir`` is relative to the working directory
(that is where a user looks for the report).

examples/README.md documents every key; a test checks that it mentions every key here.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

BUILTIN_MODELS = ("minilm-wordnet",)
BUILTIN_DATASETS = ("wordnet-glosses",)
FAMILIES = ("auto", "bert-classification", "causal-lm")
SAMPLERS = ("tpe", "nsga2", "qmc", "random")
DATASET_SUFFIXES = (".csv", ".jsonl", ".txt")
COMPARE_NAMES = ("MXInt8", "MXInt6", "MXInt4", "int8", "BMF8", "BL8")


class RunConfigError(ValueError):
    """The run configuration (or a command-line override) is wrong; the message says where and
    what to change. The ``mase`` command exits with status 2 on it."""


@dataclass(frozen=True)
class Key:
    """One config key: its type (``"str"``, ``"int"``, ``"float"``, ``"bool"``, ``"int-list"``,
    ``"str-list"``, ``"int-pair"``, ``"str-or-table"``), its default (``REQUIRED`` for none)
    and a one-line description. ``check(value) -> str | None`` returns what is wrong. A
    :class:`Computed` default is worked out when the config is loaded (``[model] device``)."""

    type: str
    default: Any
    doc: str
    check: Callable[[Any], str | None] | None = None
    optional: bool = False  # None (key absent) is a legal value


REQUIRED = object()


@dataclass(frozen=True)
class Computed:
    """A default that depends on the machine: ``value()`` gives it when a config is loaded;
    ``text`` says what it is (examples/README.md, ``mase check --keys``)."""

    value: Callable[[], Any]
    text: str

    def __repr__(self) -> str:
        return self.text


def _choice(options):
    return lambda v: None if v in options else f"must be one of {list(options)}"


def _at_least(lo):
    return lambda v: None if v >= lo else f"must be >= {lo}"


def _positive(v):
    return None if v > 0 else "must be > 0"


def _target(v):
    try:
        from mase_passes.hardware.budgets import PRESETS
    except ImportError:  # no hardware subpackage: the hardware stages say so themselves
        return None
    return None if v in PRESETS else f"must be one of {sorted(PRESETS)}"


def _seed(v):
    # numpy's RandomState (under Optuna's samplers) takes 0 .. 2**32 - 1, and gets seed + stored trials
    return None if 0 <= v < 2**31 else "must be in 0 .. 2**31 - 1"


def _device(v):
    from mase_passes.cli.device import device_problem
    return device_problem(v)


def _default_device():
    from mase_passes.cli.device import default_device
    return default_device()


def _regex(v):
    import re
    try:
        re.compile(v)
    except re.error as exc:
        return f"not a valid regular expression ({exc})"
    return None


def _mantissa(v):
    lo, hi = v
    return None if 1 <= lo <= hi <= 23 else "must be [lo, hi] with 1 <= lo <= hi <= 23"


def _compare(v):
    import mx_formats as mxf
    for name in v:
        if name in COMPARE_NAMES:
            continue
        try:
            mxf.parse(name)
        except Exception:  # noqa: BLE001 - any parse failure is a bad entry
            return (f"entry {name!r} is neither a baseline name {list(COMPARE_NAMES)} "
                    f"nor a format string such as \"MXInt((16,2),8,5)\"")
    return None


SCHEMA: dict[str, dict[str, Key]] = {
    "model": {
        "name": Key("str", "minilm-wordnet",
                    "builtin model (\"minilm-wordnet\": pretrained MiniLM + WordNet gloss head) "
                    "or the path of a Hugging Face checkpoint folder"),
        "family": Key("str", "auto", "what the checkpoint is: \"auto\" (from its config.json), "
                      "\"bert-classification\" or \"causal-lm\" (OPT, LLaMA)", _choice(FAMILIES)),
        "tokenizer": Key("str", None, "tokenizer folder (default: the checkpoint folder)", optional=True),
        "device": Key("str", Computed(_default_device, '"cuda" when torch.cuda.is_available(), else "cpu"'),
                      "torch device of the software flow: \"cpu\", \"cuda\" or \"cuda:N\"; the model, the "
                      "batches, profile, evaluation, search trials and QAT run there; the hardware stages "
                      "(mapping, exact emulation, emit, simulation) read CPU copies", _device),
    },
    "dataset": {
        "name": Key("str", "wordnet-glosses",
                    "builtin dataset (\"wordnet-glosses\") or a path: .csv / .jsonl with text and "
                    "label columns (classification) or .txt (perplexity of a causal LM)"),
        "text_column": Key("str", "text", "CSV/JSONL column holding the text"),
        "label_column": Key("str", "label", "CSV/JSONL column holding the label (name or integer)"),
        "split_column": Key("str", "split", "optional CSV/JSONL column with train/validation/test; "
                            "without it every row is a test row, calibration uses the first rows and "
                            "search trials are scored on test rows (said in the report)"),
        "eval_samples": Key("int", 200, "test samples evaluated per configuration (evenly spaced, so "
                            "class balanced on a sorted file; 0 = all)", _at_least(0)),
        "calibration_samples": Key("int", 100, "training samples run through the profile pass",
                                   _at_least(1)),
        "batch_size": Key("int", 50, "samples per batch (a traced graph has a static batch size)",
                          _at_least(1)),
        "max_length": Key("int", 32, "tokens per sample (padded / truncated)", _at_least(2)),
    },
    "quantize": {
        "config": Key("str-or-table", None,
                      "quantization config used when [search] trials = 0: a TOML file path or an "
                      "inline table with the levels default / op / regex / node", optional=True),
        "mode": Key("str", "ptq", "\"ptq\" or \"qat\" (fine-tune the chosen config on the "
                    "calibration samples through straight-through quantizers)", _choice(("ptq", "qat"))),
        "lr": Key("float", 3e-6, "QAT learning rate (Adam; fake-quantized weights move in steps, and "
                  "MiniLM at mean mantissa 4 diverged at 1e-4)", _positive),
        "steps": Key("int", 20, "QAT optimizer steps", _at_least(1)),
        "loss": Key("str", "task", "QAT loss: \"task\" (cross-entropy on the labels, or next-token loss) or "
                    "\"distill\" (KL to the FP32 model's outputs; no labels needed)",
                    _choice(("task", "distill"))),
    },
    "search": {
        "trials": Key("int", 16, "Optuna trials (0 = no search: use [quantize] config)", _at_least(0)),
        "sampler": Key("str", "tpe", "tpe, nsga2, qmc or random", _choice(SAMPLERS)),
        "objective": Key("str", "single", "\"single\" (paper eq. 4) or \"multi\" (metric vs bits, "
                         "Pareto front)", _choice(("single", "multi"))),
        "seed": Key("int", 0, "sampler seed; the sampler gets seed + the number of trials already in the "
                    "study, so a resumed study does not replay the first run's proposals", _seed),
        "mantissa": Key("int-pair", [2, 7], "inclusive range of mantissa widths searched per tensor",
                        _mantissa),
        "start_uniform": Key("int-list", [], "uniform mantissa widths tried first (new study only)"),
        "group_by": Key("str", None, "regex: tensors whose labels agree outside its matches share one "
                        "width (e.g. \"layer\\\\.\\\\d+\\\\.\" for one width per tensor role across layers)", _regex,
                        optional=True),
        "max_mantissa": Key("float", None, "budget on the element-weighted mean mantissa (trials over it "
                            "are pruned, not evaluated)", _positive, optional=True),
        "startup_trials": Key("int", 10, "random trials before TPE models the space", _at_least(0)),
        "samples": Key("int", 0, "validation samples scored per trial (0 = as many as the evaluation "
                       "scores); they are never evaluation samples: the builtin task's holdout glosses, "
                       "the dataset's validation (else train) rows, the text windows not evaluated",
                       _at_least(0)),
        "quality": Key("str", "metric", "eq. 4 quality term of a trial: \"metric\" (accuracy or -log perplexity), "
                       "\"agreement\" or \"kl\" (-KL) with the FP32 outputs", _choice(("metric", "agreement", "kl"))),
        "k": Key("float", 0.5, "eq. 4 weight of 1/bits"),
        "k_throughput": Key("float", 0.0, "eq. 4 weight of the estimated throughput of [hardware] scope, relative "
                            "to the uniform design at the top mantissa (theta / theta_ref; needs [hardware] "
                            "parallelize; mase run then also searches without the hardware terms, for the report)"),
        "k_area": Key("float", 0.0, "eq. 4 weight of 1 / estimated LUTs of [hardware] scope, relative to the "
                      "uniform design at the top mantissa (A_ref / A; needs [hardware] parallelize; mase run then "
                      "also searches without the hardware terms, for the report)"),
        "storage": Key("str", None, "Optuna storage URL (default: SQLite file in <output>/search)",
                       optional=True),
        "study_name": Key("str", "mase", "Optuna study name (a second run with the same name resumes)"),
    },
    "hardware": {
        "parallelize": Key("bool", True, "run the parallelize pass (per-operator parallelism and "
                           "estimated area / throughput under the budget)"),
        "emit": Key("bool", True, "run the emit pass (SystemVerilog design folder)"),
        "simulate": Key("bool", True, "simulate the emitted design when the emit pass supports it"),
        "synthesize": Key("bool", False, "synthesize the emitted top level with Yosys (slow)"),
        "scope": Key("str", "model", "what to build: \"model\" (the whole graph) or a module path, e.g. "
                     "\"encoder.encoder.layer.5.attention.output.dense\" (that module and its children)"),
        "reblock_weights": Key("bool", False, "give each linear in scope the weight blocking mase_mxint_linear "
                               "chains: (input feature block, output feature block); the model is scored again"),
        "widen": Key("bool", False, "let parallelize widen MX blocks for throughput (changes the numbers; "
                     "the model is scored again)"),
        "simulate_max_cycles": Key("int", 50_000, "simulate only designs estimated at most this many cycles "
                                   "per input", _at_least(1)),
        "target": Key("str", "xc7a100t", "budget preset of the parallelize pass: \"xc7a100t\" or \"u250\"",
                      _target),
        "clock_mhz": Key("float", 200.0, "clock used for throughput estimates", _positive),
        "use_dsp": Key("bool", False, "estimate multipliers of 9 bits or more in DSP48E1s (synthesis "
                       "default); false: every multiplier in LUTs, so the LUT count is the whole datapath "
                       "and area efficiency (throughput per LUT) compares every format on equal terms"),
        "lut": Key("int", None, "LUT budget (overrides the target preset)", _at_least(1), optional=True),
        "dsp": Key("int", None, "DSP budget (overrides the target preset)", _at_least(0), optional=True),
        "bram": Key("int", None, "BRAM18 budget (overrides the target preset)", _at_least(0),
                    optional=True),
    },
    "report": {
        "title": Key("str", None, "report title (default: model and task)", optional=True),
        "compare": Key("str-list", ["int8", "MXInt8", "MXInt6", "MXInt4", "BMF8", "BL8"],
                       "uniform configurations in the comparison table: baseline names "
                       f"{list(COMPARE_NAMES)} or format strings", _compare),
    },
    "output": {
        "dir": Key("str", "mase_out", "output folder (relative to the working directory): "
                   "search/, design/ and report/ are written inside"),
    },
}


@dataclass(frozen=True)
class RunConfig:
    """A checked run configuration: every section a dict with every key of SCHEMA."""

    path: Path | None
    model: dict
    dataset: dict
    quantize: dict
    search: dict
    hardware: dict
    report: dict
    output: dict

    @property
    def builtin_model(self) -> bool:
        return self.model["name"] in BUILTIN_MODELS

    @property
    def out_dir(self) -> Path:
        return Path(self.output["dir"])

    def as_dict(self) -> dict:
        return {s: dict(getattr(self, s)) for s in SCHEMA}


def load_run_config(path: str | Path | None, overrides: list[str] = (), check_paths: bool = True) -> RunConfig:
    """Read, override and check a run config; ``path`` None means all defaults."""
    raw: dict = {}
    where = "<defaults>"
    base = Path.cwd()
    if path is not None:
        path = Path(path)
        where = str(path)
        if not path.is_file():
            raise RunConfigError(f"{path}: config file not found (give the path of a TOML file, "
                                 f"e.g. examples/minilm_wordnet.toml)")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise RunConfigError(f"{path}: not valid TOML: {exc}") from None
        base = path.resolve().parent
    for item in overrides:
        _override(raw, item)
    sections = {}
    for section, value in raw.items():
        if section not in SCHEMA:
            raise RunConfigError(f"{where}: unknown section [{section}]{_did_you_mean(section, SCHEMA)}; "
                                 f"sections: {', '.join('[' + s + ']' for s in SCHEMA)}")
        if not isinstance(value, Mapping):
            raise RunConfigError(f"{where}: {section} must be a table [{section}], got {_show(value)}")
    for section, keys in SCHEMA.items():
        given = dict(raw.get(section, {}))
        for key in given:
            if key not in keys:
                raise RunConfigError(f"{where}: unknown key '{key}' in [{section}]"
                                     f"{_did_you_mean(key, keys)}; keys of [{section}]: {', '.join(keys)}")
        out = {}
        for key, spec in keys.items():
            if key in given:
                out[key] = _check(given[key], spec, f"{where}: [{section}] {key}")
            elif spec.default is REQUIRED:
                raise RunConfigError(f"{where}: [{section}] {key} is required: {spec.doc}")
            elif isinstance(spec.default, Computed):
                out[key] = spec.default.value()
            else:
                out[key] = list(spec.default) if isinstance(spec.default, list) else spec.default
        sections[section] = out
    _resolve_paths(sections, base, where, check_paths)
    _cross_checks(sections, where)
    return RunConfig(path, **sections)


def _override(raw: dict, item: str) -> None:
    """``section.key=value`` (value in TOML syntax, else taken as a string)."""
    if "=" not in item or "." not in item.split("=", 1)[0]:
        raise RunConfigError(f"--set {item!r}: expected section.key=value, e.g. search.trials=4")
    dotted, text = item.split("=", 1)
    section, key = dotted.strip().split(".", 1)
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    raw.setdefault(section, {})
    if not isinstance(raw[section], dict):
        raise RunConfigError(f"--set {item!r}: {section} is not a table")
    raw[section][key] = value


def _check(value: Any, spec: Key, where: str) -> Any:
    t = spec.type
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "int-list": isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value),
        "str-list": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "int-pair": isinstance(value, list) and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value),
        "str-or-table": isinstance(value, (str, Mapping)),
    }[t]
    if not ok:
        want = {"str": "a string (in quotes)", "int": "a whole number", "float": "a number",
                "bool": "true or false", "int-list": "a list of whole numbers, e.g. [4, 5]",
                "str-list": "a list of strings, e.g. [\"MXInt8\"]",
                "int-pair": "two whole numbers [lo, hi], e.g. [2, 7]",
                "str-or-table": "a file path string or a table"}[t]
        raise RunConfigError(f"{where}: expected {want}, got {_show(value)} ({spec.doc})")
    if t == "float":
        value = float(value)
        if not math.isfinite(value):
            raise RunConfigError(f"{where}: must be a finite number, got {value}")
    if spec.check is not None:
        problem = spec.check(value)
        if problem:
            raise RunConfigError(f"{where}: {problem}, got {_show(value)} ({spec.doc})")
    return value


def _resolve_paths(s: dict, base: Path, where: str, check: bool) -> None:
    if s["model"]["name"] not in BUILTIN_MODELS:
        p = (base / s["model"]["name"]).resolve()
        if check and not (p / "config.json").is_file():
            what = "does not exist" if not p.exists() else "has no config.json (not a Hugging Face checkpoint)"
            raise RunConfigError(f"{where}: [model] name: {p} {what}; give a checkpoint folder saved "
                                 f"with save_pretrained() or a builtin model {list(BUILTIN_MODELS)}")
        s["model"]["name"] = str(p)
    if s["model"]["tokenizer"] is not None:
        p = (base / s["model"]["tokenizer"]).resolve()
        if check and not p.is_dir():
            raise RunConfigError(f"{where}: [model] tokenizer: folder {p} does not exist")
        s["model"]["tokenizer"] = str(p)
    if s["dataset"]["name"] not in BUILTIN_DATASETS:
        p = (base / s["dataset"]["name"]).resolve()
        if p.suffix not in DATASET_SUFFIXES:
            raise RunConfigError(f"{where}: [dataset] name: {p.name} must end in one of {list(DATASET_SUFFIXES)} "
                                 f"or be a builtin dataset {list(BUILTIN_DATASETS)}")
        if check and not p.is_file():
            raise RunConfigError(f"{where}: [dataset] name: file {p} does not exist")
        s["dataset"]["name"] = str(p)
    q = s["quantize"]["config"]
    if isinstance(q, str):
        p = (base / q).resolve()
        if check and not p.is_file():
            raise RunConfigError(f"{where}: [quantize] config: file {p} does not exist")
        s["quantize"]["config"] = str(p)
    if q is not None:
        from mase_passes.config import ConfigError, load_config
        try:
            load_config(s["quantize"]["config"] if isinstance(q, str) else dict(q))
        except ConfigError as exc:
            raise RunConfigError(f"{where}: [quantize] config: {exc}") from None


def _cross_checks(s: dict, where: str) -> None:
    out = Path(s["output"]["dir"])
    if out.exists() and not out.is_dir():
        raise RunConfigError(f"{where}: [output] dir: {out} is a file, not a folder; give a folder path (or --out DIR)")
    model, data = s["model"]["name"], s["dataset"]["name"]
    if model in BUILTIN_MODELS and data not in BUILTIN_DATASETS:
        raise RunConfigError(f"{where}: [model] name = \"{model}\" has a head trained for the builtin "
                             f"dataset only; set [dataset] name = \"wordnet-glosses\" or give your own "
                             f"checkpoint in [model] name")
    if model not in BUILTIN_MODELS and data in BUILTIN_DATASETS:
        raise RunConfigError(f"{where}: [dataset] name: the builtin \"{data}\" goes with the builtin model; "
                             f"for a checkpoint give a .csv/.jsonl (classification) or .txt (causal LM) path")
    if s["search"]["trials"] == 0 and s["quantize"]["config"] is None:
        raise RunConfigError(f"{where}: [search] trials = 0 and no [quantize] config: nothing to choose; "
                             f"give [quantize] config or set trials >= 1")
    for key in ("k", "k_throughput", "k_area"):
        if s["search"][key] and s["search"]["objective"] == "multi" and key != "k":
            raise RunConfigError(f"{where}: [search] {key} only applies to objective = \"single\"")
    for key in ("k_throughput", "k_area"):
        if s["search"][key] and not s["hardware"]["parallelize"]:
            raise RunConfigError(f"{where}: [search] {key} = {s['search'][key]:g} needs [hardware] parallelize = true "
                                 f"(each trial's area and throughput come from the parallelize pass); set it, "
                                 f"or set {key} = 0")


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _show(value: Any) -> str:
    kind = {str: "string", bool: "boolean", int: "integer", float: "number", list: "list", dict: "table"}
    return f"{value!r} ({kind.get(type(value), type(value).__name__)})"
