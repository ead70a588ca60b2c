"""The run configuration of the ``mase`` command: one TOML file, checked before any work.

The schema is one table (``SCHEMA``): section -> key -> :class:`Key` (type, default, what it
means). ``[quantize]`` and ``[search]`` are derived from the quantize and search passes'
option fields (mase_passes.passes.options: type, default, one-line doc), so a new pass option
is a config key without a change here; the commented tables ``CLI_DEFAULTS``, ``CLI_SET``,
``CLI_DOCS``, ``CLI_CHECKS`` and ``CLI_ONLY`` say where the command differs on purpose.
``load_run_config`` reads the file, applies ``--set section.key=value`` overrides, and returns
a :class:`RunConfig` whose sections are plain dicts with every key present (defaults filled
in) and every value checked. Problems raise one :class:`RunConfigError` listing every one of
them, a line each, naming the file, the ``[section]`` and the key, and saying what to change;
an unknown key comes with a did-you-mean (difflib) from the keys of its table.

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

BUILTIN_MODELS = ("minilm-wordnet", "llama-debtext")
BUILTIN_DATASETS = ("wordnet-glosses", "debtext")
# each builtin model is scored on its own builtin dataset (the llama-debtext causal LM: workloads/llama_debtext.py)
BUILTIN_PAIRS = {"minilm-wordnet": "wordnet-glosses", "llama-debtext": "debtext"}
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
    annotation: Any = None  # a key derived from a pass option: the field's type (checked by coerce)
    field: str | None = None  # ... and the field's name, when the key is spelled differently


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
    from mase_passes.hardware.budgets import PRESETS
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


def _str_or_table(v):
    return None if isinstance(v, (str, Mapping)) else "expected a file path string or a table"


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


# the sections in order; None: derived from a pass (PASS_SECTIONS)
_TABLES: dict[str, dict[str, Key] | None] = {
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
    "quantize": None,  # derived from the quantize pass: pass_section() below
    "search": None,    # derived from the search pass
    "sensitivity": None,  # derived from the sensitivity pass (run before the search with [allocate] enabled)
    "allocate": None,     # derived from the allocate pass
    "hardware": {
        "parallelize": Key("bool", True, "run the parallelize pass (per-operator parallelism and "
                           "estimated area / throughput under the budget)"),
        "emit": Key("bool", True, "run the emit pass (SystemVerilog design folder)"),
        "simulate": Key("bool", True, "simulate the emitted design when the emit pass supports it"),
        "simulator": Key("str", "icarus", "simulator of the emitted design: \"icarus\" (the cocotb bench) or "
                         "\"verilator\" (a C++ model, built once per design; mase_passes.hardware.verilator)",
                         _choice(("icarus", "verilator"))),
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
        "confirm_samples": Key("int", 0, "test samples (evenly spaced over the test split; 0 = off) on which FP32 "
                               "and the chosen configuration are scored once more for the headline: the paired "
                               "accuracy difference with its 95% interval (accuracy tasks only; never search or "
                               "calibration samples)", _at_least(0)),
    },
    "output": {
        "dir": Key("str", "mase_out", "output folder (relative to the working directory): "
                   "search/, design/ and report/ are written inside"),
    },
}


# --- sections derived from pass options --------------------------------------------------
# [quantize] and [search] are the options of the quantize and search passes: every field made
# with mase_passes.passes.options.option is a key, with the field's type, default and doc, so a
# new pass option is a config key without a change here. The tables below are the exceptions,
# each on purpose.
PASS_SECTIONS = {"quantize": "quantize", "search": "search", "sensitivity": "sensitivity", "allocate": "allocate"}

# CLI defaults that differ from the pass's, each on purpose (the reason above it)
CLI_DEFAULTS: dict[tuple[str, str], Any] = {
    # QAT inside `mase run` trains on the calibration samples only; 20 steps keep it to a minute
    ("quantize", "steps"): 20,
    # a first run finishes in minutes on 2 cores; the pass's 64 is the package README's study
    ("search", "n_trials"): 16,
    # m = 7 is MXInt8 (8.25 bits), the widest row of the paper's comparison; 8 adds nothing
    ("search", "mantissa"): [2, 7],
    # the command's single objective weighs bits (paper eq. 4); the pass leaves that to its caller
    ("search", "k"): 0.5,
}
# pass options the command sets itself instead of reading a key: field -> where the value comes from
CLI_SET: dict[tuple[str, str], str] = {
    ("search", "out_dir"): "<output>/search",
    ("search", "metric"): "the workload's metric",
    ("search", "area_reference"): "the uniform design at the top mantissa (cli/hwsearch.py)",
    ("search", "throughput_reference"): "the uniform design at the top mantissa (cli/hwsearch.py)",
    # the sensitivity pass measures the space the search runs on (mase_passes.pipeline.sensitivity_seeded_search
    # copies these from the search), so they are [search] keys only
    ("sensitivity", "mantissa"): "[search] mantissa",
    ("sensitivity", "ranges"): "[search] ranges",
    ("sensitivity", "group_by"): "[search] group_by",
    ("sensitivity", "family"): "[search] families (the first)",
    ("sensitivity", "block"): "[search] blocks (the first)",
    ("sensitivity", "exponent"): "[search] exponents (the first)",
}
# docs and checks where the command's meaning is wider than the pass's
CLI_DOCS: dict[tuple[str, str], str] = {
    ("quantize", "config"): "quantization config used when [search] trials = 0: a TOML file path or an "
                            "inline table with the levels default / op / regex / node",
    ("quantize", "mode"): "\"ptq\" or \"qat\" (fine-tune the chosen config on the calibration samples "
                          "through straight-through quantizers)",
    ("search", "n_trials"): "Optuna trials (0 = no search: use [quantize] config)",
    ("search", "storage"): "Optuna storage URL (default: SQLite file in <output>/search)",
    ("search", "group_by"): "regex: tensors whose labels agree outside its matches share one width (e.g. "
                            "\"layer\\\\.\\\\d+\\\\.\" for one width per tensor role across layers)",
    ("search", "k_throughput"): "eq. 4 weight of the estimated throughput of [hardware] scope, relative to the "
                                "uniform design at the top mantissa (theta / theta_ref; needs [hardware] "
                                "parallelize; mase run then also searches without the hardware terms, for the report)",
    ("search", "k_area"): "eq. 4 weight of 1 / estimated LUTs of [hardware] scope, relative to the uniform design "
                          "at the top mantissa (A_ref / A; needs [hardware] parallelize; mase run then also "
                          "searches without the hardware terms, for the report)",
}
CLI_CHECKS: dict[tuple[str, str], Callable[[Any], str | None]] = {
    ("quantize", "config"): _str_or_table,
    ("search", "n_trials"): _at_least(0),  # 0: no search, [quantize] config is the choice
    ("search", "seed"): _seed,
    ("search", "mantissa"): _mantissa,
    ("search", "group_by"): _regex,
}
# keys of the command that are no pass option, placed after the given one
CLI_ONLY: dict[tuple[str, str], tuple[str, Key]] = {
    ("search", "samples"): ("startup_trials", Key(
        "int", 0, "validation samples scored per trial (0 = as many as the evaluation scores); they are never "
        "evaluation samples: the builtin task's holdout glosses, the dataset's validation (else train) rows, "
        "the text windows not evaluated", _at_least(0))),
    # the pipeline of `mase run` / `mase search`: [allocate] enabled puts sensitivity and allocate before the search
    ("allocate", "enabled"): (None, Key(
        "bool", False, "run the sensitivity and allocate passes before the search: the allocations at budget and "
        "extra_budgets are its first trials and, with narrow, its space is narrowed around them "
        "(mase_passes.pipeline.sensitivity_seeded_search)")),
    ("sensitivity", "samples"): (None, Key(
        "int", 50, "calibration samples (whole batches, at least one) the sensitivity of each search dimension "
        "is measured on", _at_least(1))),
}


def key_type(annotation: Any) -> tuple[str, bool]:
    """(the type name shown for a key, whether None is allowed) of a pass option's annotation."""
    import types as _types
    import typing

    from mase_passes.passes.options import type_text
    args = typing.get_args(annotation)
    optional = typing.get_origin(annotation) in (typing.Union, _types.UnionType) and type(None) in args
    if optional and len(args) == 2:
        annotation = next(a for a in args if a is not type(None))
    names = {str: "str", int: "int", float: "float", bool: "bool", Any: "str-or-table",
             tuple[int, ...]: "int-list", tuple[str, ...]: "str-list", tuple[int, int]: "int-pair"}
    return names.get(annotation) or type_text(annotation), optional


def pass_section(section: str) -> dict[str, Key]:
    """The keys of ``section`` from its pass's options (see the tables above)."""
    from mase_passes.passes import get_pass
    from mase_passes.passes.options import pass_options
    cls = get_pass(PASS_SECTIONS[section])
    spelled = {f: a for a, f in getattr(cls, "aliases", {}).items()}
    keys: dict[str, Key] = {}
    for spec in pass_options(cls):
        if not spec.text or (section, spec.name) in CLI_SET:
            continue
        type_name, optional = key_type(spec.annotation)
        default = CLI_DEFAULTS.get((section, spec.name), spec.default)
        if isinstance(default, tuple):
            default = [list(v) if isinstance(v, tuple) else v for v in default]
        if default == {} and spec.annotation is Any:
            default, optional = None, True  # an empty config: none given
        check = CLI_CHECKS.get((section, spec.name)) or (lambda v, spec=spec: spec.problem(v))
        name = spelled.get(spec.name, spec.name)
        keys[name] = Key(type_name, default, CLI_DOCS.get((section, spec.name), spec.doc), check,
                         optional or spec.default is None, spec.annotation, spec.name)
        for (sec, extra), (after, key) in CLI_ONLY.items():
            if sec == section and after == spec.name:
                keys[extra] = key
    for (sec, extra), (after, key) in CLI_ONLY.items():  # the keys placed first
        if sec == section and after is None:
            keys = {extra: key, **keys}
    return keys


def build_schema() -> dict[str, dict[str, Key]]:
    """SCHEMA with the pass-derived sections worked out from the registry as it is now."""
    return {section: pass_section(section) if keys is None else keys for section, keys in _TABLES.items()}


def pass_options_of(section: str, values: Mapping[str, Any], schema: Mapping | None = None) -> dict[str, Any]:
    """The pass options (field name -> value of the field's type) a checked section gives."""
    from mase_passes.passes.options import coerce
    out = {}
    for key, spec in (schema or SCHEMA)[section].items():
        if spec.annotation is not None and key in values:
            out[spec.field or key] = coerce(values[key], spec.annotation)
    return out


SCHEMA: dict[str, dict[str, Key]] = build_schema()


@dataclass(frozen=True)
class RunConfig:
    """A checked run configuration: every section a dict with every key of SCHEMA."""

    path: Path | None
    model: dict
    dataset: dict
    quantize: dict
    search: dict
    sensitivity: dict
    allocate: dict
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


def load_run_config(path: str | Path | None, overrides: list[str] = (), check_paths: bool = True,
                    schema: Mapping[str, Mapping[str, Key]] | None = None, preset: str | None = None) -> RunConfig:
    """Read, override and check a run config; ``path`` None means all defaults. ``preset``: the
    name of a ``[presets.NAME]`` table of the file, merged over it before ``overrides``. Every
    unknown section or key and every bad value is reported in one RunConfigError, one line each."""
    schema = SCHEMA if schema is None else schema
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
    errors: list[str] = []
    presets = raw.pop(PRESETS, {})
    _check_presets(presets, schema, where, errors)
    if preset is not None and not errors:
        if preset not in presets:
            names = ", ".join(sorted(presets)) or "none"
            raise RunConfigError(f"{where}: no preset [{PRESETS}.{preset}] (presets of this file: {names}); add a "
                                 f"[{PRESETS}.{preset}] table of the keys it changes, e.g. "
                                 f"[{PRESETS}.{preset}.search] trials = 8, or run without --{preset}"
                                 if preset == "quick" else
                                 f"{where}: no preset [{PRESETS}.{preset}] (presets of this file: {names})")
        for section, keys in presets[preset].items():
            raw.setdefault(section, {})
            if isinstance(raw[section], Mapping):
                raw[section] = {**raw[section], **keys}
    for item in overrides:
        _override(raw, item)
    for section, value in raw.items():
        if section not in schema:
            errors.append(f"{where}: unknown section [{section}]{_did_you_mean(section, schema)}; "
                          f"sections: {', '.join('[' + s + ']' for s in schema)}")
        elif not isinstance(value, Mapping):
            errors.append(f"{where}: {section} must be a table [{section}], got {_show(value)}")
    sections = {}
    for section, keys in schema.items():
        given = raw.get(section, {})
        given = dict(given) if isinstance(given, Mapping) else {}
        for key in given:
            if key not in keys:
                errors.append(f"{where}: unknown key '{key}' in [{section}]"
                              f"{_did_you_mean(key, keys)}; keys of [{section}]: {', '.join(keys)}")
        out = {}
        for key, spec in keys.items():
            if key in given:
                try:
                    out[key] = _check(given[key], spec, f"{where}: [{section}] {key}")
                except RunConfigError as exc:
                    errors.append(str(exc))
            elif spec.default is REQUIRED:
                errors.append(f"{where}: [{section}] {key} is required: {spec.doc}")
            elif isinstance(spec.default, Computed):
                out[key] = spec.default.value()
            else:
                out[key] = list(spec.default) if isinstance(spec.default, list) else spec.default
        sections[section] = out
    if errors:
        raise RunConfigError("\n".join(errors))
    _resolve_paths(sections, base, where, check_paths, errors)
    _cross_checks(sections, where, errors)
    if errors:
        raise RunConfigError("\n".join(errors))
    return RunConfig(path, **sections)


# [presets.NAME.SECTION] tables: named sets of keys merged over the file (mase run --preset NAME; --quick = quick)
PRESETS = "presets"


def _check_presets(presets: Any, schema: Mapping, where: str, errors: list[str]) -> None:
    """Every preset of the file, checked like the file itself (sections, keys, types) whether
    selected or not, so ``mase check`` finds a broken preset before ``--quick`` runs it."""
    if not isinstance(presets, Mapping):
        errors.append(f"{where}: [{PRESETS}] must hold tables [{PRESETS}.NAME.SECTION], got {_show(presets)}")
        return
    for name, tables in presets.items():
        place = f"[{PRESETS}.{name}]"
        if not isinstance(tables, Mapping) or not all(isinstance(v, Mapping) for v in tables.values()):
            errors.append(f"{where}: {place} must hold section tables, e.g. [{PRESETS}.{name}.search] trials = 8")
            continue
        for section, keys in tables.items():
            if section not in schema:
                errors.append(f"{where}: unknown section {place[:-1]}.{section}]{_did_you_mean(section, schema)}; "
                              f"sections: {', '.join(schema)}")
                continue
            for key, value in keys.items():
                spec = schema[section].get(key)
                if spec is None:
                    errors.append(f"{where}: unknown key '{key}' in {place[:-1]}.{section}]"
                                  f"{_did_you_mean(key, schema[section])}; keys of [{section}]: "
                                  f"{', '.join(schema[section])}")
                    continue
                try:
                    _check(value, spec, f"{where}: {place[:-1]}.{section}] {key}")
                except RunConfigError as exc:
                    errors.append(str(exc))


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
    if spec.annotation is not None:
        return _check_option(value, spec, where)
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


def _check_option(value: Any, spec: Key, where: str) -> Any:
    """A key derived from a pass option: the option's type (coerce), then its checks. The
    value is kept as TOML gives it (lists stay lists; ints become floats for float keys)."""
    from mase_passes.passes.options import OptionError, coerce
    if value is None and spec.optional:
        return None
    try:
        converted = coerce(value, spec.annotation)
    except OptionError as exc:
        raise RunConfigError(f"{where}: {exc} ({spec.doc})") from None
    kept = value if isinstance(value, (list, Mapping)) else converted
    problem = spec.check(kept) if spec.check is not None else None
    if problem:
        raise RunConfigError(f"{where}: {problem}, got {_show(value)} ({spec.doc})")
    return kept


def _resolve_paths(s: dict, base: Path, where: str, check: bool, errors: list[str]) -> None:
    """Input paths made absolute (relative to the config file) and checked; problems into ``errors``."""
    if s["model"]["name"] not in BUILTIN_MODELS:
        p = (base / s["model"]["name"]).resolve()
        if check and not (p / "config.json").is_file():
            what = "does not exist" if not p.exists() else "has no config.json (not a Hugging Face checkpoint)"
            errors.append(f"{where}: [model] name: {p} {what}; give a checkpoint folder saved "
                          f"with save_pretrained() or a builtin model {list(BUILTIN_MODELS)}")
        s["model"]["name"] = str(p)
    if s["model"]["tokenizer"] is not None:
        p = (base / s["model"]["tokenizer"]).resolve()
        if check and not p.is_dir():
            errors.append(f"{where}: [model] tokenizer: folder {p} does not exist")
        s["model"]["tokenizer"] = str(p)
    if s["dataset"]["name"] not in BUILTIN_DATASETS:
        p = (base / s["dataset"]["name"]).resolve()
        if p.suffix not in DATASET_SUFFIXES:
            errors.append(f"{where}: [dataset] name: {p.name} must end in one of {list(DATASET_SUFFIXES)} "
                          f"or be a builtin dataset {list(BUILTIN_DATASETS)}")
        elif check and not p.is_file():
            errors.append(f"{where}: [dataset] name: file {p} does not exist")
        s["dataset"]["name"] = str(p)
    q = s["quantize"]["config"]
    if isinstance(q, str):
        p = (base / q).resolve()
        if check and not p.is_file():
            errors.append(f"{where}: [quantize] config: file {p} does not exist")
            return
        s["quantize"]["config"] = str(p)
    if q is not None:
        from mase_passes.config import ConfigError, load_config
        try:
            load_config(s["quantize"]["config"] if isinstance(q, str) else dict(q))
        except ConfigError as exc:
            errors.append(f"{where}: [quantize] config: {exc}")


def _cross_checks(s: dict, where: str, errors: list[str]) -> None:
    """Checks across keys; problems into ``errors``."""
    out = Path(s["output"]["dir"])
    if out.exists() and not out.is_dir():
        errors.append(f"{where}: [output] dir: {out} is a file, not a folder; give a folder path (or --out DIR)")
    model, data = s["model"]["name"], s["dataset"]["name"]
    if model in BUILTIN_MODELS and data != BUILTIN_PAIRS[model]:
        errors.append(f"{where}: [model] name = \"{model}\" was trained for the builtin dataset "
                      f"\"{BUILTIN_PAIRS[model]}\" only; set [dataset] name = \"{BUILTIN_PAIRS[model]}\" "
                      f"or give your own checkpoint in [model] name")
    if model not in BUILTIN_MODELS and data in BUILTIN_DATASETS:
        errors.append(f"{where}: [dataset] name: the builtin \"{data}\" goes with the builtin model; "
                      f"for a checkpoint give a .csv/.jsonl (classification) or .txt (causal LM) path")
    if s["search"]["trials"] == 0 and s["quantize"]["config"] is None:
        errors.append(f"{where}: [search] trials = 0 and no [quantize] config: nothing to choose; "
                      f"give [quantize] config or set trials >= 1")
    a, sr = s["allocate"], s["search"]
    if a["enabled"]:
        over = [b for b in (a["budget"], *a["extra_budgets"]) if sr["max_mantissa"] is not None and b > sr["max_mantissa"]]
        if over:
            errors.append(f"{where}: [allocate] budget / extra_budgets {over} exceed [search] max_mantissa = "
                          f"{sr['max_mantissa']:g}: those seed trials would be pruned unevaluated; lower them or "
                          f"raise max_mantissa")
        if sr["trials"] == 0:
            errors.append(f"{where}: [allocate] enabled seeds the search, but [search] trials = 0; set trials >= 1 "
                          f"or enabled = false")
    for key in ("k", "k_throughput", "k_area"):
        if s["search"][key] and s["search"]["objective"] == "multi" and key != "k":
            errors.append(f"{where}: [search] {key} only applies to objective = \"single\"")
    for key in ("k_throughput", "k_area"):
        if s["search"][key] and not s["hardware"]["parallelize"]:
            errors.append(f"{where}: [search] {key} = {s['search'][key]:g} needs [hardware] parallelize = true "
                          f"(each trial's area and throughput come from the parallelize pass); set it, "
                          f"or set {key} = 0")


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _show(value: Any) -> str:
    kind = {str: "string", bool: "boolean", int: "integer", float: "number", list: "list", dict: "table"}
    return f"{value!r} ({kind.get(type(value), type(value).__name__)})"
