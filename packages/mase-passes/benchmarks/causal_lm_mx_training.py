"""Train llama-debtext from scratch in FP32, MXFP8, MXFP6 and MXFP4-weights/MXFP6-activations (issue 21).

    # on a GPU: every recipe (and seed) at once, one process each, same recipe and steps
    python3 packages/mase-passes/benchmarks/causal_lm_mx_training.py run --corpus build/debtext \\
        --tokenizer build/debtext-tok --out build/mx_training --seeds 0 1
    # anywhere: curves and the table from the logs
    python3 packages/mase-passes/benchmarks/causal_lm_mx_training.py plot build/mx_training/*/log.json \\
        --png packages/mase-passes/docs/causal_lm_mx_training.png \\
        --json packages/mase-passes/benchmarks/results/causal_lm_mx_training.json

``run`` starts ``tools/train_causal_lm.py --recipe R --seed S`` for every recipe and seed (its
docstring has the recipe: model, optimizer, schedule, batches; the formats per recipe are
mx_formats.training specs applied by mx_formats.nn.MXLinear to all 42 decoder linears). A seed
fixes both the initial weights and the batch order, so two recipes at one seed differ only in
their GEMM formats. ``plot`` draws the validation loss (64 fixed validation windows of 256
tokens, every 100 steps) of each run and prints the final perplexities (whole validation and
test splits, windows of 128 tokens; an MX-trained model is scored with its MX forward GEMMs).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

RECIPES = ("fp32", "mxfp8", "mxfp6", "mxfp4w6a")
LABELS = {"fp32": "FP32", "mxfp8": "MXFP8 (E4M3 fwd, E5M2 grads)", "mxfp6": "MXFP6 (E3M2 fwd and bwd)",
          "mxfp4w6a": "MXFP4 weights, MXFP6 E3M2 activations and grads"}
ROOT = Path(__file__).resolve().parents[3]


def run(args) -> int:
    procs = []
    for seed in args.seeds:
        for recipe in args.recipes:
            out = args.out / f"{recipe}-s{seed}"
            out.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, str(ROOT / "tools" / "train_causal_lm.py"), "--corpus", str(args.corpus),
                   "--tokenizer", str(args.tokenizer), "--out", str(out), "--recipe", recipe, "--seed", str(seed),
                   "--steps", str(args.steps)] + (["--mx-attention"] if args.mx_attention else [])
            procs.append((out, subprocess.Popen(cmd, stdout=open(out / "train.log", "w"), stderr=subprocess.STDOUT)))
    failed = [str(out) for out, p in procs if p.wait() != 0]
    if failed:
        print(f"failed: {failed} (see their train.log)", file=sys.stderr)
    return 1 if failed else 0


def plot(args) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = [json.loads(Path(p).read_text()) for p in args.logs]
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    colors = dict(zip(RECIPES, ("black", "tab:blue", "tab:green", "tab:red")))
    rows = []
    for log in sorted(logs, key=lambda g: (RECIPES.index(g["recipe"]), int(g["args"]["seed"]))):
        seed = int(log["args"]["seed"])
        steps, losses = zip(*log["validation"])
        ax.plot(steps, losses, color=colors[log["recipe"]], linestyle="-" if seed == 0 else "--", linewidth=1.2,
                label=f"{LABELS[log['recipe']]}, seed {seed}")
        p = log.get("perplexity", {})
        rows.append({"recipe": log["recipe"], "seed": seed, "spec": log["spec"], "steps": int(log["args"]["steps"]),
                     "final_validation_loss_probe": losses[-1], "validation_perplexity": p.get("validation"),
                     "test_perplexity": p.get("test"), "train_seconds": log.get("train_seconds"),
                     "device": log["device"], "diverged_at": log.get("diverged_at"),
                     "validation_curve": log["validation"], "measured": True})
    ax.set_xlabel("step (batches of 32 x 256 tokens)")
    ax.set_ylabel("validation loss (nats / token, 64 windows)")
    ax.set_ylim(3.2, 4.2)
    ax.set_title("llama-debtext (5.9M) trained from scratch: FP32 vs MX GEMMs (measured)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.png, dpi=120)
    args.json.write_text(json.dumps({"runs": rows}, indent=1) + "\n")
    print("| recipe | seed | validation ppl | test ppl | train s |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {LABELS[r['recipe']]} | {r['seed']} | {r['validation_perplexity']:.3f} | {r['test_perplexity']:.3f} "
              f"| {r['train_seconds']:.0f} |")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--corpus", type=Path, required=True)
    r.add_argument("--tokenizer", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--seeds", type=int, nargs="+", default=[0])
    r.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    r.add_argument("--steps", type=int, default=2000)
    r.add_argument("--mx-attention", action="store_true", help="attention's matmuls in MX too (mx_matmul)")
    p = sub.add_parser("plot")
    p.add_argument("logs", nargs="+", type=Path)
    p.add_argument("--png", type=Path, required=True)
    p.add_argument("--json", type=Path, required=True)
    args = ap.parse_args(argv)
    return run(args) if args.command == "run" else plot(args)


if __name__ == "__main__":
    raise SystemExit(main())
