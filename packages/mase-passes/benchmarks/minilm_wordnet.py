"""The default workload end to end: FP32 head, uniform-format table, timed PTQ trial, TPE search.

    python3 packages/mase-passes/benchmarks/minilm_wordnet.py --out /tmp/minilm_run \
        --trials 64 --search-limit 300

Prints a Markdown table (accuracy on the 1000 test glosses, agreement with FP32, average bits
per paper eq. 1) and the search's best trial; writes the variance plot, search outputs and a
JSON of every number to --out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from mase_passes.baselines import fixed_point_config
from mase_passes.passes import get_pass
from mase_passes.passes.evaluate import reference_logits
from mase_passes.passes.profile import plot_variance
from mase_passes.workloads import minilm

UNIFORM = [
    ("MXInt8", "MXInt((16,2),8,7)"),
    ("MXInt6", "MXInt((16,2),8,5)"),
    ("MXInt4", "MXInt((16,2),8,3)"),
    ("BMF8", "BMF((16,2),4,3,8)"),
    ("BL8", "BL((16,2),7,8)"),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("minilm_run"))
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--search-limit", type=int, default=300, help="test glosses per search trial")
    ap.add_argument("--k", type=float, default=0.0, help="eq. 4 weight of 1/bits in the search objective")
    ap.add_argument("--start-uniform", type=int, nargs="*", default=[],
                    help="mantissa widths tried first as uniform trials")
    ap.add_argument("--skip-table", action="store_true")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    report: dict = {}

    t = time.perf_counter()
    train, test, classes = minilm.load_dataset()
    model, tok = minilm.load_model(len(classes), train)
    report["load_s"] = time.perf_counter() - t
    test_batches = minilm.batches(tok, test)
    with torch.no_grad():
        eager_acc = sum(int((model(**i).argmax(-1) == y).sum()) for i, y in test_batches) / 1000
    report["fp32_eager_accuracy"] = eager_acc
    print(f"FP32 eager accuracy on {len(test.texts)} test glosses: {eager_acc:.4f}")

    t = time.perf_counter()
    graph = minilm.trace(model, tok)
    report["trace_s"] = time.perf_counter() - t
    t = time.perf_counter()
    get_pass("profile")(max_batches=4).apply(graph, minilm.batches(tok, train, limit=200))
    report["profile_s"] = time.perf_counter() - t
    plot_variance(graph, args.out / "variance.png", "MiniLM + head on WordNet glosses: activation variance")

    evaluate = get_pass("evaluate")()
    quantize = get_pass("quantize")
    rows = []
    if not args.skip_table:
        ref = reference_logits(graph, test_batches)
        r = evaluate.apply(graph, test_batches, reference=ref)
        rows.append(("FP32 (graph)", "f32", r.value, r.agreement, r.average_bits, 0.0, 0.0))
        configs = [(n, {"default": f}) for n, f in UNIFORM] + [("int8 fixed", fixed_point_config(graph))]
        for name, conf in configs:
            t0 = time.perf_counter()
            q = quantize(config=conf).apply(graph)
            t1 = time.perf_counter()
            r = evaluate.apply(q, test_batches, reference=ref)
            t2 = time.perf_counter()
            fmt = conf.get("default", "Fixed(8, per tensor)")
            rows.append((name, str(fmt), r.value, r.agreement, r.average_bits, t1 - t0, t2 - t1))
            print(rows[-1], flush=True)
        report["table"] = rows

    # one search trial, timed by stage (quantize + evaluate, PTQ) on the search subset
    search_batches = minilm.batches(tok, test, limit=args.search_limit)
    ref_s = reference_logits(graph, search_batches)
    t0 = time.perf_counter()
    q = quantize(config={"default": "MXInt((16,2),8,4)"}).apply(graph)
    t1 = time.perf_counter()
    r = evaluate.apply(q, search_batches, reference=ref_s)
    t2 = time.perf_counter()
    report["trial"] = {"quantize_s": t1 - t0, "evaluate_s": t2 - t1, "glosses": args.search_limit,
                       "accuracy": r.value}
    print(f"one trial: quantize {t1 - t0:.2f} s, evaluate {t2 - t1:.2f} s on {args.search_limit} glosses")

    t = time.perf_counter()
    search = get_pass("search")(n_trials=args.trials, sampler="tpe", mantissa=(2, 7), k=args.k,
                                start_uniform=tuple(args.start_uniform),
                                out_dir=str(args.out / "search"), study_name="minilm_wordnet")
    res = search.apply(graph, search_batches, reference=ref_s)
    report["search_s"] = time.perf_counter() - t
    best = res.study.best_trial
    bq = quantize(config=res.best_config).apply(graph)
    rb = evaluate.apply(bq, test_batches, reference=reference_logits(graph, test_batches))
    mean_m = sum(best.params.values()) / len(best.params)
    report["search"] = {"trials": res.finished_trials, "best_trial": best.number,
                        "search_subset_accuracy": best.user_attrs["metric"],
                        "test_accuracy": rb.value, "agreement": rb.agreement,
                        "average_bits": rb.average_bits, "mean_mantissa_bits": mean_m}
    print(json.dumps(report["search"], indent=1))
    (args.out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    print("\n| config | format | accuracy | agreement with FP32 | average bits (eq. 1) |")
    print("|---|---|---|---|---|")
    for name, fmt, acc, agr, bits, *_ in rows:
        print(f"| {name} | `{fmt}` | {acc * 100:.1f} | {'' if agr is None else f'{agr * 100:.1f}'} | {bits:.2f} |")
    print(f"| TPE search best (trial {best.number}) | mixed MXInt, mean mantissa {mean_m:.2f} | "
          f"{rb.value * 100:.1f} | {rb.agreement * 100:.1f} | {rb.average_bits:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
