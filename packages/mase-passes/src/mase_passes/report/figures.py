"""The report's own figures: bitwidth distribution per layer of the chosen configuration (paper
Fig. 1b) and the comparison of configurations (area efficiency vs int8 and accuracy vs FP32, after
the paper's Fig. 7). The variance profile (Fig. 1a), search history and Pareto front come from the
profile and search passes."""

from __future__ import annotations

from pathlib import Path


def plot_bitwidths(dist: dict, path: str | Path, title: str = "chosen configuration") -> Path:
    """Top: bits per element of every tensor in graph order, marker by role (activation,
    weight, bias, other parameter). Bottom (paper Fig. 1b): per layer, the share of the layer's
    elements held in each bits-per-element value (stacked bars, one colour per value), with the
    element-weighted average (eq. 1 within the layer) written above each bar; a mixed
    configuration shows several colours per layer, a uniform one a single colour."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tensors, layers = dist["tensors"], dist["layers"]
    if not tensors:
        raise ValueError("plot_bitwidths: no tensors")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5))
    groups = {"activation": lambda t: t["role"] == "data_out", "weight": lambda t: t["role"] == "weight",
              "bias": lambda t: t["role"] == "bias"}
    groups["other parameter"] = lambda t: t["role"] not in ("data_out", "weight", "bias")
    for (label, pick), marker in zip(groups.items(), "o^sd"):
        xs = [i for i, t in enumerate(tensors) if pick(t)]
        if xs:
            top.scatter(xs, [tensors[i]["bits"] for i in xs], s=14, marker=marker, label=label)
    top.set_xlabel("tensor (graph order)")
    top.set_ylabel("bits per element")
    top.set_title(f"{title}: bitwidth per tensor")
    top.legend(fontsize=7, ncol=4)
    names = [layer["layer"] for layer in layers]
    values = sorted({round(t["bits"], 4) for t in tensors})
    share = {v: [] for v in values}
    for name in names:
        inside = [t for t in tensors if t["layer"] == name]
        total = sum(t["numel"] for t in inside) or 1
        for v in values:
            share[v].append(sum(t["numel"] for t in inside if round(t["bits"], 4) == v) / total)
    xs = list(range(len(names)))
    cmap = plt.get_cmap("viridis", max(len(values), 2))
    bottom_of = [0.0] * len(names)
    for i, v in enumerate(values):
        bottom.bar(xs, share[v], bottom=bottom_of, color=cmap(i), label=f"{v:g} bits")
        bottom_of = [b + h for b, h in zip(bottom_of, share[v])]
    for x, layer in zip(xs, layers):
        bottom.text(x, 1.01, f"{layer['average_bits']:.2f}", ha="center", va="bottom", fontsize=7)
    bottom.set_xticks(xs, names, rotation=30, fontsize=7, ha="right")
    bottom.set_ylim(0, 1.12)
    bottom.set_ylabel("share of the layer's elements")
    bottom.set_title("per layer (paper Fig. 1b): elements at each bitwidth; number = element-weighted average bits")
    bottom.legend(fontsize=7, ncol=min(len(values), 8), loc="lower center", bbox_to_anchor=(0.5, -0.55),
                  frameon=False)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_comparison(rows: list[dict], reference: str | None, metric: str, path: str | Path) -> Path:
    """After the paper's Fig. 7: bars = area efficiency (throughput per LUT) relative to the
    ``reference`` row, one per configuration (estimated; a row without a hardware estimate gets
    no bar and the label "no hardware", or "no area estimate" when it maps but its operator has no
    cost model); line = metric difference vs FP32 (accuracy in percentage
    points; measured). ``rows`` are :func:`mase_passes.report.content.comparison_rows` dicts."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("plot_comparison: no rows")
    xs = list(range(len(rows)))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(rows) + 2), 4))
    effs = [r["efficiency"] for r in rows]
    ax.bar([x for x, e in zip(xs, effs) if e is not None], [e for e in effs if e is not None], color="C0",
           label=f"area efficiency vs {reference} (estimated)")
    top = max([e for e in effs if e is not None] or [1.0])
    for x, e, r in zip(xs, effs, rows):
        if e is None:
            why = ("not built" if r["name"] == "FP32" else
                   "no area estimate" if str(r.get("error") or "").startswith("no area estimate") else "no hardware")
            ax.text(x, 0.02 * top, why, rotation=90,
                    ha="center", va="bottom", fontsize=7, color="0.4")
        else:
            ax.text(x, e, f"{e:.2f}x", ha="center", va="bottom", fontsize=7)
    if reference is not None:
        ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
    ax.set_ylabel(f"area efficiency vs {reference or '(none)'}")
    ax.set_xticks(xs, [r["name"] for r in rows], rotation=25, ha="right", fontsize=8)
    ax2 = ax.twinx()
    ds = [r["delta"] for r in rows]
    ax2.plot([x for x, d in zip(xs, ds) if d is not None], [d for d in ds if d is not None], "o-", color="C3",
             label=f"{metric} difference vs FP32 (measured)")
    ax2.axhline(0.0, color="C3", lw=0.6, ls=":")
    ax2.set_ylabel("accuracy difference vs FP32 (points)" if metric == "accuracy"
                   else "perplexity difference vs FP32")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.set_ylim(0, 1.2 * top)
    fig.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower center", ncol=2, frameon=False)
    ax.set_title("configurations: area efficiency and accuracy (paper Fig. 7 style)", fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
