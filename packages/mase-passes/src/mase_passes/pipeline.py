"""The pipeline runner: a list of passes applied in order, the IR verified after each.

A pipeline is written in one of three ways, all giving the same list of pass instances:

    Pipeline.parse("profile,reorder_channels,search{trials=64,quality=kl},quantize{mode=qat}")
    Pipeline.from_toml("flow.toml")        # [[pass]] tables: name = "search", trials = 64, ...
    Pipeline([Profile(), Search(n_trials=64)])

In the string form a pass is its registry name, optionally followed by ``{option=value, ...}``;
a value is TOML (``64``, ``1e-5``, ``[2, 7]``, ``"a,b"``, ``true``) or else a bare word taken as
a string (``mode=qat``). Option names are the pass's dataclass fields or their aliases
(``trials`` for the search's ``n_trials``). Every problem of a pipeline text (an unknown pass,
an unknown option, a value of the wrong type or out of range) is collected and raised at once
as a :class:`PipelineError`, each with its place and a did-you-mean.

``run`` applies each pass through its ``run(graph, context)`` method (the one contract: it
returns an :class:`Outcome`, the graph after the pass and its typed report), calls
``graph.verify()`` on the result (a failure stops the pipeline naming the stage, the pass and
the node at fault), times the stage (wall clock, measured) and keeps the report in
``context.reports`` under the stage's label (``search``, or ``quantize#2`` for a second
quantize), where later passes and the report find them.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from mase_ir import MaseGraph, VerifyError

from mase_passes.passes import REGISTRY, get_pass
from mase_passes.passes.options import OptionError, coerce, pass_options


class PipelineError(ValueError):
    """A pipeline that cannot be built (every problem listed) or whose pass output fails verify."""


@dataclass
class Context:
    """What the passes of a pipeline share besides the graph.

    ``calibration``: ``(inputs, target)`` batches for profile, reorder_channels, sensitivity and
    QAT; ``evaluation``: scored by evaluate; ``search``: scored per search trial (default:
    ``evaluation``); ``reference``: the FP32 graph (default: the graph the pipeline starts from);
    ``metric``: the task metric evaluate and search use (None: each pass's own option);
    ``loss_fn``: QAT task loss (None: cross-entropy); ``cost_model``: for parallelize / emit;
    ``callbacks``: Optuna callbacks of the search (progress); ``progress``: ``(done, total)``
    called by passes with many steps (sensitivity), for a progress bar. Passes fill in: ``config`` (the
    quantization config chosen so far: search, allocate; a quantize without a config applies
    it), ``seeds`` (search seed trials proposed by allocate), ``ranges`` (search ranges allocate
    narrowed around its allocation, matched after the search's own), ``sensitivity`` (its report),
    ``parent`` (the graph an extract was taken from, for transplant) and ``reports``."""

    calibration: list = field(default_factory=list)
    evaluation: list = field(default_factory=list)
    search: list | None = None
    reference: MaseGraph | None = None
    out_dir: Path = Path("mase_pipeline")
    metric: str | None = None
    loss_fn: Callable | None = None
    cost_model: Any = None
    callbacks: tuple = ()
    progress: Callable[[int, int], None] | None = None
    config: Any = None
    seeds: tuple = ()
    ranges: tuple = ()
    sensitivity: Any = None
    parent: MaseGraph | None = None
    reports: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What a pass's ``run`` returns: the graph after it (the same object for an analysis, a
    new graph for a transform) and its typed report."""

    graph: MaseGraph
    report: Any = None


@dataclass(frozen=True)
class StageRecord:
    """One executed stage: its label, the pass, wall-clock seconds (measured) and report."""

    label: str
    pass_: Any
    seconds: float
    report: Any


class Pipeline:
    """An ordered list of pass instances (see the module docstring)."""

    def __init__(self, passes: Sequence[Any]):
        for i, p in enumerate(passes):
            if not callable(getattr(p, "run", None)) or getattr(p, "name", None) not in REGISTRY:
                raise PipelineError(f"pipeline stage {i + 1}: {p!r} is not a registered pass instance")
        self.passes = list(passes)

    # --- building -----------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, where: str = "pipeline") -> "Pipeline":
        """From ``"name{opt=value,...},name,..."``; every error at once (PipelineError)."""
        stages, errors = [], []
        for i, item in enumerate(_split(text, ",", where)):
            item = item.strip()
            if not item:
                errors.append((i + 1, f"{where}: stage {i + 1} is empty (two commas in a row?)"))
                continue
            name, _, rest = item.partition("{")
            if rest and not rest.endswith("}"):
                errors.append((i + 1, f"{where}: stage {i + 1} {item!r}: options must end with '}}'"))
                continue
            opts = {}
            for pair in _split(rest[:-1], ",", where) if rest else []:
                if not pair.strip():
                    continue
                if "=" not in pair:
                    errors.append((i + 1, f"{where}: stage {i + 1} {name.strip()}: {pair.strip()!r} "
                                          "is not option=value"))
                    continue
                key, value = pair.split("=", 1)
                opts[key.strip()] = _value(value.strip())
            stages.append((i + 1, name.strip(), opts))
        return cls._build(stages, where, errors)

    @classmethod
    def from_toml(cls, path: str | Path) -> "Pipeline":
        """From a TOML file of ``[[pass]]`` tables (``name`` plus options), or ``pipeline = "..."``."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PipelineError(f"{path}: cannot read a pipeline: {exc}") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict, where: str = "pipeline") -> "Pipeline":
        if isinstance(data.get("pipeline"), str):
            return cls.parse(data["pipeline"], where)
        tables = data.get("pass")
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise PipelineError(f"{where}: expected [[pass]] tables (each with a name) or pipeline = \"a,b{{k=v}}\"")
        errors, stages = [], []
        for i, t in enumerate(tables):
            if not isinstance(t.get("name"), str):
                errors.append((i + 1, f"{where}: [[pass]] {i + 1} has no name = \"...\""))
                continue
            stages.append((i + 1, t["name"], {k: v for k, v in t.items() if k != "name"}))
        return cls._build(stages, where, errors)

    @classmethod
    def _build(cls, stages: list[tuple[int, str, dict]], where: str, errors: list[tuple[int, str]]) -> "Pipeline":
        """Pass instances from (stage number, name, options); ``errors`` so far plus every new one."""
        passes = []
        for number, name, opts in stages:
            place = f"{where}: stage {number} {name}"
            if name not in REGISTRY:
                errors.append((number, f"{where}: stage {number}: no pass named {name!r}"
                                       f"{did_you_mean(name, REGISTRY)}; registered passes: {', '.join(sorted(REGISTRY))}"))
                continue
            try:
                passes.append(build_pass(name, opts, place))
            except PipelineError as exc:
                errors.append((number, str(exc)))
        if errors:  # in stage order, whichever step found them
            raise PipelineError("\n".join(msg for _, msg in sorted(errors, key=lambda e: e[0])))
        return cls(passes)

    def __str__(self) -> str:
        return ",".join(to_text(p) for p in self.passes)

    # --- running ------------------------------------------------------------------------
    def run(self, graph: MaseGraph, context: Context | None = None,
            on_stage: Callable[[StageRecord], None] | None = None) -> tuple[MaseGraph, list[StageRecord]]:
        """Apply every pass in order; returns (final graph, stage records). The input graph is
        verified first, and every pass's output after it; ``on_stage`` is called after each."""
        ctx = context if context is not None else Context()
        if ctx.reference is None:
            ctx.reference = graph
        _verify(graph, "the pipeline's input graph")
        records = []
        for i, p in enumerate(self.passes):
            label = p.name if sum(q.name == p.name for q in self.passes[:i]) == 0 else \
                f"{p.name}#{sum(q.name == p.name for q in self.passes[:i]) + 1}"
            start = time.perf_counter()
            outcome = p.run(graph, ctx)
            if not isinstance(outcome, Outcome):
                raise PipelineError(f"stage {i + 1} {label}: {type(p).__name__}.run returned "
                                    f"{type(outcome).__name__}, not an Outcome")
            _verify(outcome.graph, f"the output of stage {i + 1} ({label}, pass {to_text(p)})")
            seconds = time.perf_counter() - start
            graph = outcome.graph
            ctx.reports[label] = outcome.report
            records.append(StageRecord(label, p, seconds, outcome.report))
            if on_stage is not None:
                on_stage(records[-1])
        return graph, records


# The fields that say which space a search runs on; the sensitivity pass of a seeded search gets the same
SPACE_FIELDS = ("mantissa", "ranges", "group_by")


def sensitivity_seeded_search(search: Any, sensitivity: Any = None, allocate: Any = None,
                              before: Sequence[Any] = ()) -> Pipeline:
    """The budgeted mixed-precision search of the package README's headline result, as one
    pipeline: ``[before...,] sensitivity, allocate, search`` (or ``[before...,] search`` when
    ``allocate`` is None). ``mase run`` ([allocate] enabled) and benchmarks/minilm_search.py
    both build it here.

    The sensitivity pass measures the search's own space: its ``mantissa``, ``ranges`` and
    ``group_by``, and the search's first family, block and exponent, are copied from
    ``search`` (so the allocation's widths are widths of the dimensions the search suggests).
    The allocation at ``allocate.budget`` and at each ``extra_budgets`` become the search's
    first trials; an allocation over the search's ``max_mantissa`` would be pruned unevaluated,
    so that is refused here (PipelineError naming both)."""
    passes = list(before)
    if allocate is not None:
        if sensitivity is None:
            sensitivity = get_pass("sensitivity")()
        over = [b for b in (allocate.budget, *allocate.extra_budgets)
                if search.max_mantissa is not None and b > search.max_mantissa + 1e-9]
        if over:
            raise PipelineError(f"allocate budget(s) {over} exceed the search's max_mantissa = {search.max_mantissa:g}: "
                                f"those seed trials would be pruned without an evaluation; lower the budgets or "
                                f"raise max_mantissa")
        space = {f: getattr(search, f) for f in SPACE_FIELDS}
        sensitivity = dataclasses.replace(sensitivity, **space, family=search.families[0],
                                          block=tuple(search.blocks[0]), exponent=search.exponents[0])
        passes += [sensitivity, allocate]
    return Pipeline(passes + [search])


def run_pass(p: Any, graph: MaseGraph, context: Context) -> Outcome:
    """One pass under the pipeline's rules (verified output, report kept in ``context``)."""
    out, records = Pipeline([p]).run(graph, context)
    return Outcome(out, records[0].report)


def build_pass(name: str, options: dict, where: str = "pipeline") -> Any:
    """An instance of pass ``name`` from text-level options (converted to the fields' types);
    every unknown option and bad value listed in one PipelineError."""
    cls = get_pass(name)
    specs = {s.name: s for s in pass_options(cls)}
    aliases = dict(getattr(cls, "aliases", {}))
    errors, kwargs = [], {}
    for key, raw in options.items():
        field_name = aliases.get(key, key)
        spec = specs.get(field_name)
        if spec is None or not spec.text:
            settable = [k for k, s in specs.items() if s.text] + list(aliases)
            errors.append(f"{where}: unknown option {key!r}{did_you_mean(key, settable)}; "
                          f"options of {name}: {', '.join(settable)}")
            continue
        try:
            value = coerce(raw, spec.annotation)
        except OptionError as exc:
            errors.append(f"{where}: option {key}: {exc}{' (' + spec.doc + ')' if spec.doc else ''}")
            continue
        problem = spec.problem(value)
        if problem:
            errors.append(f"{where}: option {key}: {problem}, got {value!r}")
            continue
        kwargs[field_name] = value
    if errors:
        raise PipelineError("\n".join(errors))
    try:
        return cls(**kwargs)
    except ValueError as exc:  # a check across options (the pass's __post_init__)
        raise PipelineError(f"{where}: {exc}") from None


def to_text(p: Any) -> str:
    """The pipeline-string form of a pass instance: its name and the options that differ from
    the defaults (text-settable ones only)."""
    opts = []
    for s in pass_options(type(p)):
        v = getattr(p, s.name)
        if s.text and v != s.default and v is not None:
            opts.append(f"{s.name}={_literal(v)}")
    return p.name + ("{" + ",".join(opts) + "}" if opts else "")


def did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _verify(graph: MaseGraph, what: str) -> None:
    try:
        graph.verify()
    except VerifyError as exc:
        where = f"node %{exc.node}" if exc.node else "the graph"
        raise PipelineError(f"{what} fails verify at {where}: {exc}") from exc


def _split(text: str, sep: str, where: str) -> list[str]:
    """``text`` split at ``sep`` outside brackets, braces and quotes."""
    parts, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
            if depth < 0:
                raise PipelineError(f"{where}: unbalanced {ch!r} in {text!r}")
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if depth or quote:
        raise PipelineError(f"{where}: unclosed bracket or quote in {text!r}")
    parts.append("".join(cur))
    return parts


def _value(text: str) -> Any:
    """A TOML value, or the bare text as a string (``mode=qat``)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _literal(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v if v.isidentifier() else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_literal(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_literal(x)}" for k, x in v.items()) + "}"
    return repr(v)


