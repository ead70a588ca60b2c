"""Mixed-precision MXInt search on MiniLM / WordNet glosses, tuned on train, scored on test.

    nice -n 10 python3 packages/mase-passes/benchmarks/minilm_search.py --out minilm_search \
        --budget 4.0 --trials 64 --qat-steps 160 --qat-seeds 3 --extra-budgets 4.25 4.5 --holdout

The flow is the pipeline in ``minilm_search.toml`` (mase_passes.pipeline), run on the TRAIN
glosses; this script sets its budget, trial count, seed, k and quality from the arguments, runs
it, and reports:

1. Search space: one mantissa width per tensor *kind*, shared by the six layers
   (``group_by``), in [2, 7]; tensors that are a negligible share of the elements (biases,
   layer-norm parameters, position and token-type tables, pooling and head) fixed at 7 bits,
   which costs < 0.01 bit of the mean.
2. ``sensitivity``: the output KL to FP32 of every dimension at the probe width and all others
   at 7, on ``--sens-val`` TRAIN glosses.
3. ``allocate``: the Lagrangian allocation of the budget by that profile, and the same at two
   tighter budgets (budget - 0.15, - 0.3), are the seeds; the space is narrowed to [m - 1, m + 2]
   around the allocation.
4. ``search``: TPE with the mean-mantissa budget as a constraint (over-budget trials are not
   evaluated), eq. 4 objective q + k/b on ``--val`` TRAIN glosses, q = -KL to the FP32 outputs
   by default (``--quality``; accuracy on glosses the head was fitted on saturates near 97% and
   cannot rank the trials).
5. QAT of the best trial's configuration, a one-pass pipeline ``quantize{mode=qat,loss=distill}``:
   ``--qat-steps`` Adam steps at ``--qat-lr`` (decaying linearly), distilling the FP32 model (no
   labels): its logits and the output of each of the six encoder layers (``--hidden-weight``),
   on the TRAIN glosses and the 6000 unlabeled glosses of the other noun classes, shuffled
   (``--qat-seeds`` runs, one per data order, to show the spread of the recipe).
6. Reporting: the best trials by validation objective (PTQ, and the QAT models), the allocation
   seed and the allocations at ``--extra-budgets`` and uniform widths (``--uniform``) are scored
   on the 1000 TEST glosses (never seen before this step) and, with ``--holdout``, on the 10000
   holdout glosses (1000 per class, disjoint from train and test; used by nothing else), which
   resolve differences to FP32 of about half a point instead of 1.5.

``--reorder`` first applies the reorder_channels pass (exact: each FFN's hidden channels sorted
by calibration range so that a 16-channel block holds channels of similar range).

Everything lands in --out: sensitivity.json, the study (search/, resumable), report.json (with
each pipeline stage's wall-clock seconds, measured) and the printed table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import time
from pathlib import Path

import optuna
import torch

from mase_passes.passes.evaluate import Evaluate, reference_logits
from mase_passes.passes.quantize import Quantize
from mase_passes.passes.reorder_channels import ReorderChannels
from mase_passes.pipeline import Context, Pipeline, sensitivity_seeded_search
from mase_passes.sensitivity import allocate
from mase_passes.workloads import minilm

PIPELINE = Path(__file__).with_name("minilm_search.toml")


def flow(args) -> Pipeline:
    """minilm_search.toml with the arguments' budget, trials, seed, k and quality, built by the
    builder ``mase run`` uses (sensitivity_seeded_search: the sensitivity pass gets the search's space)."""
    passes = {p.name: p for p in Pipeline.from_toml(PIPELINE).passes}
    allocate = dataclasses.replace(passes["allocate"], budget=args.budget,
                                   extra_budgets=(args.budget - 0.15, args.budget - 0.3))
    search = dataclasses.replace(passes["search"], n_trials=args.trials, seed=args.seed, k=args.k,
                                 quality=args.quality, max_mantissa=args.budget)
    sensitivity = dataclasses.replace(passes["sensitivity"], probe=tuple(args.probe))
    return sensitivity_seeded_search(search, sensitivity, allocate,
                                     before=[ReorderChannels(block=16)] if args.reorder else [])


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
    ap.add_argument("--print-pipeline", action="store_true", help="print the pipeline string and exit")
    args = ap.parse_args(argv)
    if args.print_pipeline:
        print(flow(args))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    report: dict = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}

    train, test, classes = minilm.load_dataset()
    model, tok = minilm.load_model(len(classes), train)
    graph = minilm.trace(model, tok)
    # validation = train glosses (the head saw them, but it never saw quantization noise);
    # test glosses are used only in step 6
    val = minilm.batches(tok, train, limit=args.val)
    sens_val = minilm.batches(tok, train, limit=args.sens_val)
    test_batches = minilm.batches(tok, test)

    # 1-4. the pipeline: [reorder_channels,] sensitivity, allocate, search
    pipeline = flow(args)
    print(pipeline, flush=True)
    ctx = Context(calibration=sens_val, search=val, out_dir=args.out)
    graph, records = pipeline.run(graph, ctx, on_stage=lambda r: print(f"[{r.label}] {r.seconds:.1f} s", flush=True))
    report["pipeline"] = str(pipeline)
    report["stage_seconds"] = {r.label: r.seconds for r in records}
    if args.reorder:
        report["reorder"] = [vars(grp) for grp in ctx.reports["reorder_channels"].groups]
    sens = ctx.reports["sensitivity"]
    space, fmt = sens.space, sens.fmt
    share = {d.name: d.numel / sum(space.numel.values()) for d in space.dims}
    (args.out / "sensitivity.json").write_text(json.dumps({"probe": args.probe, "glosses": args.sens_val,
                                                           "seconds": sens.seconds, "share": share,
                                                           "damage": sens.damage}, indent=1))
    alloc = ctx.reports["allocate"]
    a0 = alloc.widths
    report["allocation"] = {"budget": args.budget, "widths": a0, "mean_mantissa": alloc.mean_mantissa}
    print("allocation:", json.dumps(a0, indent=1), flush=True)
    res = ctx.reports["search"]
    done = [tr for tr in res.study.trials if tr.state == optuna.trial.TrialState.COMPLETE]
    pruned = [tr for tr in res.study.trials if tr.state == optuna.trial.TrialState.PRUNED]
    dur = [(tr.datetime_complete - tr.datetime_start).total_seconds() for tr in done]
    report["search"] = {"evaluated_trials": len(done), "pruned_over_budget": len(pruned),
                        "seconds": report["stage_seconds"]["search"],
                        "trial_s_mean": sum(dur) / len(dur), "trial_s_min": min(dur), "trial_s_max": max(dur)}
    print(json.dumps(report["search"]), flush=True)
    # the space the search ran on: its own ranges, then the ones allocate narrowed
    searched = next(p for p in pipeline.passes if p.name == "search")
    space_s = dataclasses.replace(searched, ranges=searched.ranges + ctx.ranges).space(graph)

    # 6. test split: best trials by validation objective, the seed, uniform references
    evaluate = Evaluate()
    ref_test = reference_logits(graph, test_batches)
    rows = []
    if args.holdout:
        hold_batches = minilm.batches(tok, minilm.load_holdout(classes))
        ref_hold = reference_logits(graph, hold_batches)
        right = sum(int((z.argmax(-1) == y).sum()) for z, (_, y) in zip(ref_hold, hold_batches))
        rows.append({"name": "FP32", "holdout_accuracy": right / sum(len(y) for _, y in hold_batches)})

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
        qat_pass = Quantize(mode="qat", loss="distill", lr=args.qat_lr, steps=args.qat_steps,
                            distill_values=layers if args.hidden_weight else (), distill_weight=args.hidden_weight)
        qat, _ = Pipeline([qat_pass]).run(graph, Context(calibration=text, config=space.config(scored[0], fmt)))
        report["qat"].append({"trial": best[0].number, "steps": args.qat_steps, "lr": args.qat_lr,
                              "data_order_seed": qat_seed, "hidden_weight": args.hidden_weight,
                              "hidden_values": list(layers), "seconds": time.perf_counter() - t})
        print(json.dumps(report["qat"][-1]), flush=True)
        score(f"TPE trial {best[0].number} + {args.qat_steps} QAT steps (distillation, data order {qat_seed})",
              scored[0], qat)
    if space.widths(a0) not in scored:  # the seed is often the best trial itself
        score("allocation seed", space.widths(a0))
    for b in args.extra_budgets:
        score(f"allocation at budget {b} (no search)", space.widths(allocate(space, sens.damage, b)))
    for m in args.uniform:
        score(f"uniform m = {m} (fixed tensors at 7)", space.widths({d.name: m for d in space.dims}))
    report["test"] = rows
    report["best_widths"] = {d.name: best[0].params[d.name] for d in space_s.dims}
    (args.out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
