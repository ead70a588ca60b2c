"""``mase-cost report``: the held-out error table (Markdown + CSV) and predicted-vs-synthesized PNGs."""

from __future__ import annotations

import csv
from pathlib import Path

from mase_cost import dataset as ds
from mase_cost.evaluate import evaluate

__all__ = ["format_table", "write_report"]

_COLS = ("interp_n", "interp_mape", "interp_max_pct", "extrap_n", "extrap_mape", "extrap_max_pct", "extrap_max_abs")


def format_table(errors) -> str:
    """Markdown table, one row per (module, target)."""
    head = "| module | target | family | n_train | interp protocol | " + " | ".join(_COLS) + " |"
    lines = [head, "|" + "---|" * (5 + len(_COLS))]
    for (module, t), e in sorted(errors.items()):
        cells = [f"{e.get(c, float('nan')):.1f}" if "n" != c[-1:] else str(e.get(c, 0)) for c in _COLS]
        lines.append(f"| {module} | {t} | {e['family']} | {e['n_train']} | {e.get('interp_protocol', '')} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_families(errors) -> str:
    """Markdown table of the family comparison: 5-fold CV mean relative error (%) of every
    family on the training split, per (module, target); the chosen one is the minimum."""
    fams = sorted({f for e in errors.values() for f in e.get("cv_scores", {})})
    lines = ["| module | target | " + " | ".join(fams) + " | chosen |", "|" + "---|" * (3 + len(fams))]
    for (module, t), e in sorted(errors.items()):
        sc = e.get("cv_scores", {})
        if len(sc) < 2:
            continue
        cells = [f"{100 * sc[f]:.1f}" if f in sc else "" for f in fams]
        lines.append(f"| {module} | {t} | " + " | ".join(cells) + f" | {e['family']} |")
    return "\n".join(lines)


def _plots(preds, out: Path, builds=None) -> list[Path]:
    builds = builds or {}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for module in sorted({p[0] for p in preds}):
        targets = [t for t in ("lut", "ff", "dsp", "carry") if any(p[0] == module and p[1] == t for p in preds)]
        fig, axes = plt.subplots(1, len(targets), figsize=(4 * len(targets), 4), squeeze=False)
        for ax, t in zip(axes[0], targets):
            for split, colour in (("interp", "tab:blue"), ("extrap", "tab:red")):
                pts = [(y, yh) for m, tt, s, y, yh in preds if m == module and tt == t and s == split]
                if pts:
                    ys, yhs = zip(*pts)
                    ax.scatter(ys, yhs, s=14, c=colour, label=split)
            lim = max([max(y, yh) for m, tt, s, y, yh in preds if m == module and tt == t] + [1])
            ax.plot([0, lim], [0, lim], "k--", lw=0.8)
            ax.set(title=f"{t}", xlabel="synthesized", ylabel="predicted")
            ax.legend(fontsize=8)
        fig.suptitle(f"{module}: held-out predicted vs synthesized (xc7{builds.get(module, '')})")
        fig.tight_layout()
        path = out / f"{module}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(dataset=None, out="mase-cost-report", seed: int = 0, evaluated=None) -> str:
    """Evaluate on ``dataset`` (a CSV path or rows) and write ``errors.md``, ``errors.csv`` and one PNG per module into ``out``
    (``evaluated``: an ``evaluate(rows, seed)`` result to reuse instead of fitting again)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = ds.load(dataset) if dataset is None or isinstance(dataset, (str, Path)) else list(dataset)
    if not rows:
        raise ValueError(f"mase-cost report: no successful records in {dataset or ds.DEFAULT_DATASET}")
    errors, preds = evaluated if evaluated is not None else evaluate(rows, seed)
    table = format_table(errors)
    (out / "errors.md").write_text(
        f"Held-out error on {len(rows)} synthesized points (seed {seed}).\n\n{table}\n\n"
        "Model families compared per target (5-fold CV mean relative error in %, on the training "
        "split; modules with fewer than 10 training points fit the linear family only):\n\n"
        f"{format_families(errors)}\n")
    with (out / "errors.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["module", "target", "family", "n_train", "interp_protocol", *_COLS])
        for (m, t), e in sorted(errors.items()):
            w.writerow([m, t, e["family"], e["n_train"], e.get("interp_protocol", ""), *[e.get(c) for c in _COLS]])
    builds = {}
    for r in rows:
        builds.setdefault(r["module"], set()).add(" ".join(str(r.get("yosys_version", "")).split()[:2]))
    _plots(preds, out, {m: ", " + " / ".join(sorted(b)).lower() for m, b in builds.items()})
    return table
