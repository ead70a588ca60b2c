"""Mixed-precision MXInt search on MiniLM / WordNet glosses, tuned on train, scored on test.

    nice -n 10 python3 packages/mase-passes/benchmarks/minilm_search.py --out minilm_search \
        --budget 4.0 --trials 64 --qat-steps 160 --qat-seeds 3 --extra-budgets 4.25 4.5 --holdout

1. Search space: one mantissa width per tensor *kind*, shared by the six layers
   (``group_by``), in [2, 7]; tensors that are a negligible share of the elements (biases,
   layer-norm parameters, position and token-type tables, pooling and head) fixed at 7 bits,
   which costs < 0.01 bit of the mean.
2. Sensitivity of every dimension (mase_passes.sensitivity): the output KL to FP32 with that
   dimension at the probe width and all others at 7, on a validation subset of the TRAIN split.
3. Seeds: the Lagrangian allocation of the budget by that profile, and the same at a few
   tighter budgets; the search space is narrowed around the allocation.
4. TPE with the mean-mantissa budget as a constraint (over-budget trials are not evaluated),
   eq. 4 objective q + k/b on the validation subset, q = -KL to the FP32 outputs by default
   (``--quality``; accuracy on glosses the head was fitted on saturates near 97% and cannot
   rank the trials).
5. QAT of the best trial's configuration: ``--qat-steps`` Adam steps at ``--qat-lr`` (decaying
   linearly), distilling the FP32 model (no labels; mase_passes.passes.quantize): its logits and
   the output of each of the six encoder layers (``--hidden-weight``), on the TRAIN glosses and
   the 6000 unlabeled glosses of the other noun classes, shuffled (``--qat-seeds`` runs, one
   per data order, to show the spread of the recipe).
6. The best trials by validation objective (PTQ, and the QAT models), the allocation seed and
   the allocations at ``--extra-budgets`` and uniform widths (``--uniform``) are then scored on the 1000 TEST glosses (never seen
   before this step) and, with ``--holdout``, on the 10000 holdout glosses (1000 per class,
   disjoint from train and test; used by nothing else), which resolve differences to FP32 of
   about half a point instead of 1.5.

``--reorder`` first applies the reorder_channels pass (exact: each FFN's hidden channels sorted
by calibration range so that a 16-channel block holds channels of similar range).

Everything lands in --out: sensitivity.json (reused if present), the study (resumable),
report.json and the printed table.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path

import mx_formats as mxf
import optuna
import torch

from mase_passes.passes.evaluate import Evaluate, reference_logits
from mase_passes.passes.quantize import Quantize
from mase_passes.passes.reorder_channels import ReorderChannels
from mase_passes.passes.search import Search
from mase_passes.search_space import SearchSpace
from mase_passes.sensitivity import allocate, sensitivity
from mase_passes.workloads import minilm

GROUP_BY = r"(?<=layer\.)\d+"
# small tensors: not worth a search dimension (fixed wide, they are ~0.2% of the elements)
FIXED = ((r"LayerNorm:layer_norm\.(weight|bias)$", (7, 7)),
         (r"\.bias$", (7, 7)),
         (r"(position|token_type)_embeddings:embedding\.weight$", (7, 7)),
         (r"^(model|head):", (7, 7)))


def fmt(m: int) -> mxf.Format:
    return mxf.MXInt((16, 2), 8, m)


def group_regex(name: str) -> str:
    """A regex matching the labels of a group dimension (its '*' stands for a layer index)."""
    return "^" + re.escape(name).replace(r"\*", r"\d+") + "$"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("minilm_search"))
    ap.add_argument("--budget", type=float, default=4.0, help="max element-weighted mean mantissa")
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--k", type=float, default=0.0, help="eq. 4 weight of 1/bits (the budget already bounds them)")
    ap.add_argument("--quality", choices=("metric", "agreement", "kl"), default="kl",
                    help="eq. 4 quality term of a trial on the validation glosses")
    ap.add_argument("--qat-steps", type=int, default=160, help="distillation QAT steps for the best trial (0 = none)")
    ap.add_argument("--qat-lr", type=float, default=1e-5)
    ap.add_argument("--qat-seeds", type=int, default=1,
                    help="repeat the QAT with this many data orders (seed, seed+1, ...) to show its spread")
    ap.add_argument("--hidden-weight", type=float, default=1.0,
                    help="weight of the layer-output term of the distillation loss (0 = logits only)")
    ap.add_argument("--val", type=int, default=300, help="train glosses scoring each trial")
    ap.add_argument("--sens-val", type=int, default=200, help="train glosses for the sensitivity profile")
    ap.add_argument("--probe", type=int, nargs="+", default=[3])
    ap.add_argument("--top", type=int, default=3, help="best trials scored on the test split")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--holdout", action="store_true",
                    help="also score the final configurations on the 10000 holdout glosses (~2 min each)")
    ap.add_argument("--reorder", action="store_true",
                    help="sort each FFN's hidden channels by range first (reorder_channels pass; exact)")
    ap.add_argument("--extra-budgets", type=float, nargs="*", default=[],
                    help="also score the allocation (no search) at these budgets on the test split")
    ap.add_argument("--uniform", type=int, nargs="*", default=[4, 5],
                    help="also score uniform MXInt((16,2),8,m) at these m (the searched tensors; fixed ones stay at 7)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    report: dict = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}

    train, test, classes = minilm.load_dataset()
    model, tok = minilm.load_model(len(classes), train)
    graph = minilm.trace(model, tok)
    # validation = train glosses (the head saw them, but it never saw quantization noise);
    # test glosses are used only in step 5
    val = minilm.batches(tok, train, limit=args.val)
    sens_val = minilm.batches(tok, train, limit=args.sens_val)
    test_batches = minilm.batches(tok, test)
    if args.reorder:
        graph, reordered = ReorderChannels(block=16).apply(graph, sens_val)
        print(reordered, flush=True)
        report["reorder"] = [vars(grp) for grp in reordered.groups]
    space = SearchSpace.build(graph, (2, 7), FIXED, GROUP_BY)
    print(f"{len(space.dims)} dimensions, {len(space.fixed)} fixed tensors, "
          f"min mean mantissa {space.min_mean_mantissa():.3f}", flush=True)

    # 2. sensitivity
    sens_file = args.out / "sensitivity.json"
    if sens_file.is_file():
        sens = {k: {int(m): v for m, v in d.items()} for k, d in json.loads(sens_file.read_text())["damage"].items()}
    else:
        t = time.perf_counter()
        sens = sensitivity(graph, sens_val, space, fmt, probe=tuple(args.probe),
                           progress=lambda n, m, v: print(f"  sens {n} m={m}: {v:.5f}", flush=True))
        sens_s = time.perf_counter() - t
        share = {d.name: d.numel / sum(space.numel.values()) for d in space.dims}
        sens_file.write_text(json.dumps({"probe": args.probe, "glosses": args.sens_val, "seconds": sens_s,
                                         "share": share, "damage": sens}, indent=1))
    # 3. allocation seeds and the narrowed space
    budgets = [args.budget, args.budget - 0.15, args.budget - 0.3]
    allocs = [allocate(space, sens, b) for b in budgets]
    a0 = allocs[0]
    ranges = FIXED + tuple((group_regex(d.name), (max(2, a0[d.name] - 1), min(7, a0[d.name] + 2)))
                           for d in space.dims)
    report["allocation"] = {"budget": args.budget, "widths": a0,
                            "mean_mantissa": space.mean_mantissa(space.widths(a0))}
    print("allocation:", json.dumps(a0, indent=1), flush=True)

    # 4. the search
    ref_val = reference_logits(graph, val)
    search = Search(n_trials=args.trials, sampler="tpe", seed=args.seed, k=args.k, quality=args.quality, mantissa=(2, 7),
                    ranges=ranges, group_by=GROUP_BY, max_mantissa=args.budget,
                    seeds=tuple(allocs), startup_trials=len(allocs) + 4,
                    out_dir=str(args.out / "search"), study_name="minilm_wordnet_budget")
    t = time.perf_counter()
    res = search.apply(graph, val, reference=ref_val)
    search_s = time.perf_counter() - t
    done = [tr for tr in res.study.trials if tr.state == optuna.trial.TrialState.COMPLETE]
    pruned = [tr for tr in res.study.trials if tr.state == optuna.trial.TrialState.PRUNED]
    dur = [(tr.datetime_complete - tr.datetime_start).total_seconds() for tr in done]
    report["search"] = {"evaluated_trials": len(done), "pruned_over_budget": len(pruned), "seconds": search_s,
                        "trial_s_mean": sum(dur) / len(dur), "trial_s_min": min(dur), "trial_s_max": max(dur)}
    print(json.dumps(report["search"]), flush=True)

    # 6. test split: best trials by validation objective, the seed, uniform references
    evaluate = Evaluate()
    ref_test = reference_logits(graph, test_batches)
    rows = []
    if args.holdout:
        hold_batches = minilm.batches(tok, minilm.load_holdout(classes))
        ref_hold = reference_logits(graph, hold_batches)
        right = sum(int((z.argmax(-1) == y).sum()) for z, (_, y) in zip(ref_hold, hold_batches))
        rows.append({"name": "FP32", "holdout_accuracy": right / sum(len(y) for _, y in hold_batches)})
    space_s = search.space(graph)

    def score(name, widths, q=None):
        t0 = time.perf_counter()
        if q is None:
            q = Quantize(config=space.config(widths, fmt)).apply(graph)
        t1 = time.perf_counter()
        r = evaluate.apply(q, test_batches, reference=ref_test)
        t2 = time.perf_counter()
        row = {"name": name, "test_accuracy": r.value, "agreement": r.agreement, "kl": r.kl,
               "average_bits": r.average_bits, "mean_mantissa": space.mean_mantissa(widths), "quantize_s": t1 - t0, "evaluate_s": t2 - t1}
        if args.holdout:
            h = evaluate.apply(q, hold_batches, reference=ref_hold)
            row.update(holdout_accuracy=h.value, holdout_agreement=h.agreement, holdout_kl=h.kl)
        rows.append(row)
        print(json.dumps(row), flush=True)

    best = sorted(done, key=lambda tr: tr.value, reverse=True)[:args.top]
    scored = []
    for tr in best:
        scored.append(space_s.widths(tr.params))
        score(f"TPE trial {tr.number} (val acc {tr.user_attrs['metric']:.3f}, KL {tr.user_attrs['kl']:.4f})",
              scored[-1])
    layers = tuple(n.name for n in graph.nodes if re.search(r"layer\.\d+\.output\.LayerNorm$", n.module or ""))
    report["qat"] = []
    qat_text = minilm.batches(tok, train) + minilm.batches(tok, minilm.load_unlabeled()) if args.qat_steps else []
    for qat_seed in range(args.seed, args.seed + args.qat_seeds) if args.qat_steps else ():
        # 5. distillation QAT of the best trial (one run per data order)
        t = time.perf_counter()
        text = list(qat_text)
        random.Random(qat_seed).shuffle(text)
        qat = Quantize(config=space.config(scored[0], fmt), mode="qat", loss="distill", lr=args.qat_lr,
                       steps=args.qat_steps, distill_values=layers if args.hidden_weight else (),
                       distill_weight=args.hidden_weight).apply(graph, text)
        report["qat"].append({"trial": best[0].number, "steps": args.qat_steps, "lr": args.qat_lr,
                              "data_order_seed": qat_seed, "hidden_weight": args.hidden_weight,
                              "hidden_values": list(layers), "seconds": time.perf_counter() - t})
        print(json.dumps(report["qat"][-1]), flush=True)
        score(f"TPE trial {best[0].number} + {args.qat_steps} QAT steps (distillation, data order {qat_seed})",
              scored[0], qat)
    if space.widths(a0) not in scored:  # the seed is often the best trial itself
        score("allocation seed", space.widths(a0))
    for b in args.extra_budgets:
        score(f"allocation at budget {b} (no search)", space.widths(allocate(space, sens, b)))
    for m in args.uniform:
        score(f"uniform m = {m} (fixed tensors at 7)", space.widths({d.name: m for d in space.dims}))
    report["test"] = rows
    report["best_widths"] = {d.name: best[0].params[d.name] for d in space_s.dims}
    (args.out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
