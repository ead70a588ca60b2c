"""Refit the default model on the rows of the installed RTL (``mase-cost refit``).

A synthesis record measured the RTL its ``rtl_version`` names (``mase-hwlib <version>+<hash of
the module's sources>``, :func:`mase_cost.synth.rtl_version`).  When mase-hwlib changes a
module's sources its old records measured other hardware (8a819f1: every MXInt / fixed-point
count before it was of RTL that Yosys mis-read), so the default fit takes, **per module**:

* ``current``: only the rows whose ``rtl_version`` equals the installed one, of one Yosys build
  (the build with the most such rows: two builds' counts differ, docs/synthesis-time.md);
* ``stale``: when the module has no such row, all its rows, and the model records
  ``"stale RTL"`` for it (``CostModel.rtl_status(module)``, ``meta["rtl_status"]``) -- its
  numbers are of older hardware than the installed one.

Stale and current rows are never fitted together.  :func:`merge` adds the rows of new sweep CSVs
to the shipped dataset (a row of a new CSV replaces the shipped row with the same key: the same
point re-synthesized); old rows stay in the CSV, told apart by ``rtl_version`` /
``yosys_version``.  :func:`refit` is the whole reproducible step: merge, select, measure the
held-out error, fit on every selected point, save the model atomically, write ``docs/accuracy``.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

__all__ = ["merge", "refit", "select_current", "summary_table"]


def merge(new_csvs, dataset=None, out=None) -> dict:
    """Rows of ``dataset`` (default: the shipped CSV) plus those of every CSV in ``new_csvs``,
    written atomically to ``out`` (default: ``dataset``).  A new row replaces an old one with the
    same ``key``; the order is the old rows, then the new ones.  Returns counts."""
    from mase_cost.dataset import DEFAULT_DATASET
    from mase_cost.sweep import COLUMNS, read_records, write_records

    dataset = Path(dataset or DEFAULT_DATASET)
    out = Path(out or dataset)
    rows = {r["key"]: r for r in read_records(dataset)}
    n_old = len(rows)
    added = replaced = 0
    for path in new_csvs:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"mase-cost refit: --merge {path}: no such file")
        new = read_records(path)
        missing = [c for c in ("key", "module", "params", "status", "rtl_version") if new and c not in new[0]]
        if missing:
            raise ValueError(f"mase-cost refit: --merge {path}: not a sweep CSV (no column {', '.join(missing)})")
        for r in new:
            if r["key"] in rows:
                replaced += 1
            else:
                added += 1
            rows[r["key"]] = r
    write_records(out, list(rows.values()), COLUMNS)
    return {"old": n_old, "added": added, "replaced": replaced, "total": len(rows)}


def _build(row) -> str:
    """``"Yosys 0.70"`` from a record's ``yosys_version``."""
    return " ".join(str(row.get("yosys_version", "")).split()[:2])


def select_current(rows, installed=None) -> tuple[list[dict], dict]:
    """``(rows to fit, status per module)``, by the rule of the module docstring.

    ``installed``: ``{module: rtl_version}`` (default: :func:`mase_cost.synth.rtl_version` of
    each module; a module the catalog no longer has keeps all its rows, status ``"stale"``).
    ``status[module]`` = ``{"rtl": "current" | "stale", "rtl_version", "installed", "yosys",
    "n": rows kept, "n_other": rows of the module left out, "synth_s": (min, median, max) synthesis
    seconds of the kept rows}``."""
    from mase_cost.synth import rtl_version

    keep, status = [], {}
    for module in sorted({r["module"] for r in rows}):
        mrows = [r for r in rows if r["module"] == module]
        try:
            inst = (installed or {}).get(module) or rtl_version(module)
        except (KeyError, OSError):
            inst = None
        cur = [r for r in mrows if inst is not None and r.get("rtl_version") == inst]
        if cur:
            build = Counter(_build(r) for r in cur).most_common(1)[0][0]
            chosen = [r for r in cur if _build(r) == build]
            st = {"rtl": "current", "rtl_version": inst}
        else:
            chosen = mrows
            build = ", ".join(sorted({_build(r) for r in mrows}))
            st = {"rtl": "stale", "rtl_version": ", ".join(sorted({str(r.get("rtl_version")) for r in mrows}))}
        secs = sorted(r["synth_seconds"] for r in chosen if isinstance(r.get("synth_seconds"), (int, float)))
        st.update(installed=inst, yosys=build, n=len(chosen), n_other=len(mrows) - len(chosen),
                  synth_s=(secs[0], secs[len(secs) // 2], secs[-1]) if secs else None)
        status[module] = st
        keep += chosen
    return keep, status


def summary_table(status, errors=None) -> str:
    """Markdown: per module, which rows the default model was fitted on (and its LUT error)."""
    lines = ["| module | RTL of the fitted rows | Yosys | points fitted | rows left out | LUT interp MAPE % (n) "
             "| synthesis s min / median / max |", "|---|---|---|---|---|---|---|"]
    for module, st in sorted(status.items()):
        e = (errors or {}).get((module, "lut"), {})
        err = f"{e['interp_mape']:.1f} ({e['interp_n']})" if e.get("interp_n") else "-"
        rtl = "current" if st["rtl"] == "current" else f"**stale RTL** ({st['rtl_version']})"
        secs = " / ".join(f"{v:.0f}" for v in st["synth_s"]) if st.get("synth_s") else "-"
        lines.append(f"| {module} | {rtl} | {st['yosys']} | {st['n']} | {st['n_other']} | {err} | {secs} |")
    return "\n".join(lines)


def refit(new_csvs=(), dataset=None, model_out=None, docs_out=None, seed: int = 0, verbose: bool = False):
    """Merge ``new_csvs`` into ``dataset``, fit the default model on the current-RTL rows
    (:func:`select_current`), save it atomically to ``model_out`` and write the accuracy report
    (errors.md, errors.csv, data.md, one PNG per module) into ``docs_out`` (None: no report).
    Returns ``(model, info)``; ``info`` has the merge counts, the status table and the seconds."""
    from mase_cost import dataset as ds
    from mase_cost.evaluate import evaluate
    from mase_cost.model import DEFAULT_MODEL, fit_default

    t0 = time.perf_counter()
    dataset = Path(dataset or ds.DEFAULT_DATASET)
    merged = merge(new_csvs, dataset) if new_csvs else None
    rows, status = select_current(ds.load(dataset))
    evaluated = evaluate(rows, seed)
    model = fit_default(rows, model_out or DEFAULT_MODEL, seed=seed, verbose=verbose, evaluated=evaluated,
                        rtl_status=status, dataset_path=dataset)
    info = {"merged": merged, "status": status, "fit_seconds": time.perf_counter() - t0}
    if docs_out is not None:
        from mase_cost.report import write_report

        write_report(rows, docs_out, seed=seed, evaluated=evaluated)
        Path(docs_out, "data.md").write_text(
            f"Rows the default model is fitted on (`mase-cost refit`; dataset {dataset.name}, "
            f"{sum(s['n'] for s in status.values())} of {sum(s['n'] + s['n_other'] for s in status.values())} "
            "successful rows).\n\n" + summary_table(status, model.errors) + "\n")
    info["seconds"] = time.perf_counter() - t0
    return model, info
