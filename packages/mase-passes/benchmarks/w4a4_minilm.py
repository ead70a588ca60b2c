"""W4A4 on the default workload (MiniLM + head on WordNet glosses): FP32, MXFP4, NVFP4, M2XFP, MXInt.

    python3 packages/mase-passes/benchmarks/w4a4_minilm.py --out w4a4.json [--split holdout|test]

W4A4 here: every linear layer's weight and input activation (``data_in``) in the format, every
other tensor f32 (M2XFP: weights M2XFP_ES, activations M2XFP_EM). Weights are rounded once
(``freeze_weights``). Prints a Markdown table: accuracy with a 95% Wilson interval, accuracy loss vs
FP32 with a paired 95% interval, bits per element of the quantized tensors, and the paper's loss
reduction of M2XFP, 1 - loss_M2XFP / loss_other, with a paired bootstrap 95% interval (2000
resamples of the glosses). This is a benchmark script of the flow, not part of mx_formats.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

CONFIGS = [
    ("MXFP4", "MXFP4_E2M1", "MXFP4_E2M1"),
    ("NVFP4", "NVFP4", "NVFP4"),
    ("M2XFP", "M2XFP_ES", "M2XFP_EM"),
    ("MXInt((32,),8,3)", "MXInt((32,),8,3)", "MXInt((32,),8,3)"),
]


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def main(argv=None) -> int:
    from mase_passes.graphs import freeze_weights
    from mase_passes.passes import get_pass
    from mase_passes.workloads import minilm

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("w4a4_minilm.json"))
    ap.add_argument("--split", choices=("holdout", "test"), default="holdout")
    ap.add_argument("--limit", type=int, default=None, help="first N glosses only (a quick look)")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    train, test, classes = minilm.load_dataset()
    model, tok = minilm.load_model(len(classes), train)
    split = minilm.load_holdout(classes) if args.split == "holdout" else test
    batches = minilm.batches(tok, split, limit=args.limit)
    labels = torch.cat([y for _, y in batches]).numpy()
    graph = minilm.trace(model, tok)
    quantize = get_pass("quantize")

    def correct(g) -> np.ndarray:
        run = freeze_weights(g)
        with torch.no_grad():
            pred = torch.cat([run(**inputs).argmax(-1) for inputs, _ in batches]).numpy()
        return pred == labels

    rows = {}
    t = time.perf_counter()
    rows["FP32"] = dict(weight="f32", data_in="f32", correct=correct(graph), bits=32.0)
    print(f"FP32: {rows['FP32']['correct'].mean():.4f} ({time.perf_counter() - t:.0f} s)", flush=True)
    import mx_formats as mxf

    for name, w, a in CONFIGS:
        t = time.perf_counter()
        q = quantize(config={"default": "f32", "op": {"linear": {"weight": w, "data_in": a}}}).apply(graph)
        bits = (mxf.parse(w).bits_per_element + mxf.parse(a).bits_per_element) / 2
        rows[name] = dict(weight=w, data_in=a, correct=correct(q), bits=bits)
        print(f"{name}: {rows[name]['correct'].mean():.4f} ({time.perf_counter() - t:.0f} s)", flush=True)

    n = labels.size
    base = rows["FP32"]["correct"].astype(np.float64)
    rng = np.random.default_rng(0)
    boot = rng.integers(0, n, (2000, n))
    report = {"split": args.split, "glosses": int(n), "rows": {}}
    print(f"\nW4A4 on MiniLM/WordNet, {args.split} split, {n} glosses\n")
    print("| config | weight / activation | accuracy % (95% CI) | loss vs FP32, points (95% CI) | bits per element |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        c = r["correct"].astype(np.float64)
        lo, hi = wilson(int(c.sum()), n)
        d = base - c
        half = 1.96 * d.std(ddof=1) / math.sqrt(n) if name != "FP32" else 0.0
        report["rows"][name] = dict(weight=r["weight"], data_in=r["data_in"], accuracy=c.mean(), ci=[lo, hi],
                                    loss=d.mean(), loss_ci=[d.mean() - half, d.mean() + half], bits=r["bits"])
        loss = "—" if name == "FP32" else f"{100 * d.mean():.2f} ({100 * (d.mean() - half):.2f}, {100 * (d.mean() + half):.2f})"
        print(f"| {name} | `{r['weight']}` / `{r['data_in']}` | {100 * c.mean():.2f} ({100 * lo:.2f}, {100 * hi:.2f}) | "
              f"{loss} | {r['bits']:.2f} |")
    m2 = base - rows["M2XFP"]["correct"]
    print()
    for other in ("MXFP4", "NVFP4"):
        lo_other = base - rows[other]["correct"]
        loss_m2, loss_o = m2.mean(), lo_other.mean()
        red = 1 - loss_m2 / loss_o if loss_o != 0 else float("nan")
        bm, bo = m2[boot].mean(1), lo_other[boot].mean(1)
        ok = bo != 0
        samples = 1 - bm[ok] / bo[ok]
        ci = np.percentile(samples, [2.5, 97.5]) if ok.any() else [float("nan")] * 2
        report[f"loss_reduction_vs_{other}"] = dict(value=red, ci=list(map(float, ci)))
        print(f"loss reduction of M2XFP vs {other}: 1 - {100 * loss_m2:.2f} / {100 * loss_o:.2f} = {100 * red:.1f}% "
              f"(bootstrap 95% CI {100 * ci[0]:.1f}% .. {100 * ci[1]:.1f}%)")
    args.out.write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
