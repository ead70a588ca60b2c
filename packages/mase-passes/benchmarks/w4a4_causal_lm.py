"""W4A4 on the builtin causal LM ``llama-debtext``: FP32, MXFP4, NVFP4, M2XFP, MXInt (issue 20).

    python3 packages/mase-passes/benchmarks/w4a4_causal_lm.py --out w4a4_lm.json [--windows 256]

The same W4A4 as ``w4a4_minilm.py``: every linear layer's weight and input activation
(``data_in``) in the format, every other tensor f32 (M2XFP: weights M2XFP_ES, activations
M2XFP_EM), weights rounded once (``freeze_weights``). Perplexity: exp of the mean next-token
cross-entropy over ``--windows`` evenly spaced test windows of 128 tokens. The paper's measure of
the gain is the loss reduction ``1 - loss_M2XFP / loss_other`` with ``loss`` the perplexity
increase over FP32 (here in log-perplexity, i.e. the mean cross-entropy, so that it adds over
tokens); its 95% interval is a bootstrap over the windows (2000 resamples).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from w4a4_minilm import CONFIGS  # one list of W4A4 configurations for both workloads

MAX_LENGTH = 128


def window_nll(graph, batches) -> np.ndarray:
    """Mean next-token cross-entropy of every window (nats), weights frozen."""
    from mase_passes.graphs import freeze_weights

    run = freeze_weights(graph)
    out = []
    with torch.no_grad():
        for inputs, target in batches:
            logits = run(**inputs)[:, :-1].float()
            nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target[:, 1:].reshape(-1),
                                                    reduction="none").view(target.shape[0], -1)
            out.append(nll.mean(1).numpy())
    return np.concatenate(out)


def main(argv=None) -> int:
    import mase_ir
    import mx_formats as mxf

    from mase_passes.passes import get_pass
    from mase_passes.workloads import llama_debtext, textdata

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("w4a4_causal_lm.json"))
    ap.add_argument("--windows", type=int, default=256, help="test windows scored (evenly spaced)")
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    model, tok = llama_debtext.load_model()
    test = llama_debtext.windows(tok, "test", MAX_LENGTH)
    idx = textdata.evenly_spaced(test.shape[0], args.windows)
    batches = textdata.lm_batches(test, args.batch, idx)
    graph = mase_ir.trace(model, dict(batches[0][0]))
    quantize = get_pass("quantize")
    rows = {}
    t = time.perf_counter()
    rows["FP32"] = dict(weight="f32", data_in="f32", nll=window_nll(graph, batches), bits=32.0)
    print(f"FP32: ppl {math.exp(rows['FP32']['nll'].mean()):.3f} ({time.perf_counter() - t:.0f} s)", flush=True)
    for name, w, a in CONFIGS:
        t = time.perf_counter()
        q = quantize(config={"default": "f32", "op": {"linear": {"weight": w, "data_in": a}}}).apply(graph)
        bits = (mxf.parse(w).bits_per_element + mxf.parse(a).bits_per_element) / 2
        rows[name] = dict(weight=w, data_in=a, nll=window_nll(q, batches), bits=bits)
        print(f"{name}: ppl {math.exp(rows[name]['nll'].mean()):.3f} ({time.perf_counter() - t:.0f} s)", flush=True)

    n = rows["FP32"]["nll"].size
    base = rows["FP32"]["nll"]
    boot = np.random.default_rng(0).integers(0, n, (2000, n))
    report = {"model": "llama-debtext", "split": "test", "windows": int(n), "window_tokens": MAX_LENGTH,
              "measured": True, "rows": {}}
    print(f"\nW4A4 on llama-debtext, test split, {n} windows of {MAX_LENGTH} tokens\n")
    print("| config | weight / activation | perplexity (measured) | loss vs FP32, nats/token (95% CI) | bits per element |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        d = r["nll"] - base
        half = 1.96 * d.std(ddof=1) / math.sqrt(n) if name != "FP32" else 0.0
        report["rows"][name] = dict(weight=r["weight"], data_in=r["data_in"], perplexity=math.exp(r["nll"].mean()),
                                    loss=d.mean(), loss_ci=[d.mean() - half, d.mean() + half], bits=r["bits"])
        loss = "—" if name == "FP32" else f"{d.mean():.4f} ({d.mean() - half:.4f}, {d.mean() + half:.4f})"
        print(f"| {name} | `{r['weight']}` / `{r['data_in']}` | {math.exp(r['nll'].mean()):.3f} | {loss} | "
              f"{r['bits']:.2f} |")
    m2 = rows["M2XFP"]["nll"] - base
    print()
    for other in ("MXFP4", "NVFP4"):
        lo = rows[other]["nll"] - base
        red = 1 - m2.mean() / lo.mean() if lo.mean() != 0 else float("nan")
        bm, bo = m2[boot].mean(1), lo[boot].mean(1)
        ok = bo != 0
        ci = np.percentile(1 - bm[ok] / bo[ok], [2.5, 97.5]) if ok.any() else [float("nan")] * 2
        report[f"loss_reduction_vs_{other}"] = dict(value=red, ci=list(map(float, ci)))
        print(f"loss reduction of M2XFP vs {other}: 1 - {m2.mean():.4f} / {lo.mean():.4f} = {100 * red:.1f}% "
              f"(bootstrap 95% CI {100 * ci[0]:.1f}% .. {100 * ci[1]:.1f}%)")
    args.out.write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
