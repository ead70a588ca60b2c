"""The report's own figure: bitwidth distribution per layer of the chosen configuration (paper
Fig. 1b). The variance profile (Fig. 1a), search history and Pareto front come from the
profile and search passes."""

from __future__ import annotations

from pathlib import Path


def plot_bitwidths(dist: dict, path: str | Path, title: str = "chosen configuration") -> Path:
    """Top: bits per element of every tensor in graph order, marker by role (activation,
    weight, bias, other parameter). Bottom: element-weighted average bits per layer (eq. 1
    within the layer) with the per-layer min-max range."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tensors, layers = dist["tensors"], dist["layers"]
    if not tensors:
        raise ValueError("plot_bitwidths: no tensors")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6))
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
    xs = range(len(layers))
    avg = [layer["average_bits"] for layer in layers]
    lo = [a - layer["min_bits"] for a, layer in zip(avg, layers)]
    hi = [layer["max_bits"] - a for a, layer in zip(avg, layers)]
    bottom.bar(xs, avg, color="C0", yerr=[lo, hi], capsize=3)
    bottom.set_xticks(list(xs), [layer["layer"] for layer in layers], rotation=30, fontsize=7, ha="right")
    bottom.set_ylabel("average bits (eq. 1)")
    bottom.set_title("per layer: element-weighted average, bars = min..max tensor")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
