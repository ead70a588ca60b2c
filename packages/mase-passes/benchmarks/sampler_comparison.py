"""The paper's Fig. 4: random, NSGA-II, QMC and TPE searches on one objective, best-so-far curves.

    nice -n 10 python3 packages/mase-passes/benchmarks/sampler_comparison.py --out sampler_cmp \
        --trials 64 --seeds 0 1 2

Every study is the search pass (mase_passes.passes.search.Search) with the same options but the
sampler: MiniLM / WordNet glosses, the grouped space of examples/minilm_wordnet.toml (one
mantissa width per tensor kind shared by the six layers, m in [2, 7], the tensors that are 0.2%
of the elements fixed at 7: 29 dimensions), no seed trials and no budget constraint (a pruned
proposal is a different thing to each sampler), objective paper eq. 4 with quality -KL to the
FP32 outputs: ``-KL + k / bits`` on ``--samples`` holdout glosses. ``--k`` 2.0 puts the optimum
near a mean mantissa of 4 (KL falls about 4x per mantissa bit, so d(KL)/dm = d(k/b)/dm there).
The objective is deterministic (fixed glosses, round-to-nearest), so the curves compare the
samplers, not noise in the scoring; configurations proposed twice (in any study) are scored once.

Shared start-up. Optuna's TPE draws its first ``startup_trials`` from a RandomSampler seeded like
itself, and NSGA-II its first generation (``population``) likewise, so with one seed random,
TPE and NSGA-II propose the same first trials and their curves coincide until TPE's model (trial
``startup_trials``) or NSGA-II's second generation takes over. This benchmark gives every sampler
its own seed stream (``1000 * sampler index + seed``) and reports, from a dry run of the samplers
on a cheap stand-in objective, the first trial at which each one's proposals differ from random's
under one shared seed (what ``[search] seed`` gives every sampler in ``mase run``) and under the
benchmark's seeds. TPE: ``--startup`` random trials (Optuna's default 10); NSGA-II:
``--population`` 16 (Optuna's 50 would leave one generation in 64 trials).

Two objectives (``--objective``), both the same for every sampler:

* ``measured`` (the search pass itself): each trial quantizes MiniLM and scores ``-KL + k / bits``
  on the holdout glosses, about 2 s per trial on a quiet 2-core machine and 5-45 s while the
  machine is shared (768 trials: hours there);
* ``model`` (default): the same eq. 4 with the KL *predicted* by the sensitivity model the allocate
  pass uses (mase_passes.sensitivity: sum over dimensions of D_d(m_d), D_d measured at m = 3 on
  200 train glosses, ``docs/minilm_sensitivity.json``, 4x per bit beyond it) and the exact eq. 1
  bits of the space: microseconds per trial, so 4 samplers x 3 seeds x 64 trials run in seconds. It
  is additive over dimensions (no interactions), which favours samplers that model dimensions
  independently; ``measured`` is the real thing.

Writes in --out: one SQLite study per (sampler, seed) (resumable), results.json (every trial's
objective, the best-so-far curves, the divergence table, wall times, all measured) and
best_so_far.png (mean over seeds, band = min..max over seeds).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import optuna

from mase_passes.passes.evaluate import reference_logits
from mase_passes.passes.search import Search
from mase_passes.workloads import minilm

SAMPLERS = ("random", "nsga2", "qmc", "tpe")
LABELS = {"random": "random", "nsga2": "NSGA-II", "qmc": "QMC (scrambled Sobol)", "tpe": "TPE"}
# the space of examples/minilm_wordnet.toml (and benchmarks/minilm_search.toml)
GROUP_BY = r"(?<=layer\.)\d+"
RANGES = ((r"LayerNorm:layer_norm\.(weight|bias)$", (7, 7)), (r"\.bias$", (7, 7)),
          (r"(position|token_type)_embeddings:embedding\.weight$", (7, 7)), (r"^(model|head):", (7, 7)))


def search_pass(args, sampler: str, seed: int, out: Path, evaluations: dict | None = None) -> Search:
    return Search(n_trials=args.trials, sampler=sampler, seed=seed, objective="single", quality="kl", k=args.k,
                  mantissa=(2, 7), group_by=GROUP_BY, ranges=RANGES, startup_trials=args.startup,
                  population=args.population, study_name=f"{sampler}_seed{seed}", out_dir=str(out),
                  evaluations=evaluations)


SENSITIVITY = Path(__file__).resolve().parents[1] / "docs" / "minilm_sensitivity.json"


def model_objective(space, k: float, profile: Path = SENSITIVITY):
    """params -> -(predicted KL) + k / bits: the sensitivity model of the allocate pass on a
    measured profile, bits = element-weighted mean mantissa + 1 sign bit + 8/32 shared exponent."""
    from mase_passes.sensitivity import damage_curve
    damage = json.loads(profile.read_text())["damage"]
    missing = [d.name for d in space.dims if d.name not in damage]
    if missing:
        raise SystemExit(f"{profile}: no sensitivity for dimensions {missing[:3]}...; measure it again "
                         "(benchmarks/minilm_search.py writes sensitivity.json)")
    curves = {d.name: damage_curve({int(m): v for m, v in damage[d.name].items()}, d.lo, d.hi) for d in space.dims}

    def value(params: dict) -> tuple[float, float, float]:
        kl = sum(curves[name][m] for name, m in params.items())
        bits = space.mean_mantissa(space.widths(params)) + 1 + 8 / 32
        return -kl + k / bits, kl, bits
    return value


def allocation_reference(space, k: float, profile: Path = SENSITIVITY) -> dict:
    """The best model objective of the Lagrangian allocations (the allocate pass, no search) over
    budgets from the space's smallest mean mantissa to 7 in steps of 0.05: the value the
    sensitivity-seeded search starts from in ``mase run``."""
    from mase_passes.sensitivity import allocate
    damage = {d: {int(m): v for m, v in probes.items()}
              for d, probes in json.loads(profile.read_text())["damage"].items()}
    value = model_objective(space, k, profile)
    best = None
    b = space.min_mean_mantissa()
    while b <= 7.0:
        v, kl, bits = value(allocate(space, damage, b))
        if best is None or v > best["value"]:
            best = {"value": v, "budget": round(b, 3), "kl": kl, "average_bits": bits}
        b += 0.05
    return best


def run_model_study(args, graph, sampler: str, seed: int) -> list[dict]:
    """One study on the model objective, in memory, through the search pass's sampler and space."""
    s = search_pass(args, sampler, seed, Path("."))
    space = s.space(graph)
    value = model_objective(space, args.k)
    study = optuna.create_study(direction="maximize", sampler=s.make_sampler(seed))
    rows = []

    def objective(trial):
        params = {d.name: trial.suggest_int(d.name, d.lo, d.hi) for d in space.dims}
        v, kl, bits = value(params)
        trial.set_user_attr("kl", kl)
        trial.set_user_attr("average_bits", bits)
        trial.set_user_attr("mean_mantissa", bits - 1.25)
        return v
    study.optimize(objective, n_trials=args.trials)
    for t in sorted(study.trials, key=lambda t: t.number):
        rows.append({"value": t.value, **t.user_attrs})
    return rows


def own_seed(sampler: str, seed: int) -> int:
    """Each sampler's own seed stream, so no two share their random start-up."""
    return 1000 * SAMPLERS.index(sampler) + seed


def divergence(args, graph, seeds) -> dict:
    """{"shared": {sampler: [first trial differing from random's, per seed]}, "own": ...}: the
    samplers run on a cheap stand-in objective (the sum of the widths; start-up proposals do not
    depend on it) over the benchmark's space, in memory."""
    space = search_pass(args, "random", 0, Path(".")).space(graph)
    dists = {d.name: optuna.distributions.IntDistribution(d.lo, d.hi) for d in space.dims}

    def proposals(sampler: str, seed: int) -> list[dict]:
        s = search_pass(args, sampler, seed, Path(".")).make_sampler(seed)
        study = optuna.create_study(direction="maximize", sampler=s)
        for _ in range(args.trials):
            t = study.ask(dists)
            study.tell(t, -sum(t.params.values()))
        return [t.params for t in study.trials]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out: dict = {"shared": {}, "own": {}}
    for mode in ("shared", "own"):
        for seed in seeds:
            ref = proposals("random", own_seed("random", seed) if mode == "own" else seed)
            for sampler in SAMPLERS[1:]:
                mine = proposals(sampler, own_seed(sampler, seed) if mode == "own" else seed)
                first = next((i for i, (a, b) in enumerate(zip(ref, mine)) if a != b), len(ref))
                out[mode].setdefault(sampler, []).append(first)
    return out


def best_so_far(values: list[float]) -> list[float]:
    best, out = float("-inf"), []
    for v in values:
        best = max(best, v)
        out.append(best)
    return out


def plot(curves: dict, path: Path, trials: int, k: float, objective: str, reference: dict | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, sampler in enumerate(SAMPLERS):
        runs = [c for c in curves.get(sampler, {}).values() if c]
        if not runs:
            continue
        n = min(len(c) for c in runs)
        xs = list(range(1, n + 1))
        mean = [sum(c[j] for c in runs) / len(runs) for j in range(n)]
        ax.plot(xs, mean, color=f"C{i}", label=f"{LABELS[sampler]} (mean of {len(runs)} seeds)")
        ax.fill_between(xs, [min(c[j] for c in runs) for j in range(n)], [max(c[j] for c in runs) for j in range(n)],
                        color=f"C{i}", alpha=0.15)
    if reference is not None:
        ax.axhline(reference["value"], color="0.3", ls="--", lw=0.9,
                   label=f"allocation alone, best budget ({reference['budget']:g})")
    ax.set_xlabel("trial (evaluated)")
    ax.set_ylabel(f"best eq. 4 objective so far: -KL + {k:g} / bits")
    ax.set_title(f"samplers on one objective (paper Fig. 4): MiniLM / WordNet, {objective} KL\n"
                 f"{trials} trials per study, own seed stream per sampler; band = min..max over seeds", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("sampler_comparison"))
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=SAMPLERS)
    ap.add_argument("--samples", type=int, default=25, help="holdout glosses scoring each trial (one batch)")
    ap.add_argument("--k", type=float, default=2.0, help="eq. 4 weight of 1/bits")
    ap.add_argument("--startup", type=int, default=10, help="TPE's random start-up trials")
    ap.add_argument("--population", type=int, default=16, help="NSGA-II population size")
    ap.add_argument("--objective", choices=("model", "measured"), default="model",
                    help="model: eq. 4 on the sensitivity model's predicted KL (fast); measured: on the glosses")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    train, _, classes = minilm.load_dataset()
    model, tok = minilm.load_model(len(classes), train)
    graph = minilm.trace(model, tok, batch_size=args.samples)
    if args.objective == "measured":
        batches = minilm.batches(tok, minilm.load_holdout(classes), batch_size=args.samples, limit=args.samples)
        reference = reference_logits(graph, batches)
        what = f"-KL(FP32 || quantized) + {args.k:g} / average bits on {args.samples} holdout glosses (measured)"
    else:
        what = (f"-(KL predicted by the sensitivity model, {SENSITIVITY.name}) + {args.k:g} / average bits "
                "(eq. 1, exact)")
    report: dict = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                    "objective": what,
                    "space": "examples/minilm_wordnet.toml's grouped space: 29 dimensions, m in [2, 7]"}
    t = time.perf_counter()
    report["divergence"] = divergence(args, graph, args.seeds)
    report["divergence_seconds"] = time.perf_counter() - t
    print("first trial differing from random's:", json.dumps(report["divergence"]), flush=True)

    evaluations: dict = {}  # configurations scored once across every study
    curves: dict = {}
    report["studies"] = []
    for seed in args.seeds:
        for sampler in args.samplers:
            t = time.perf_counter()
            if args.objective == "measured":
                s = search_pass(args, sampler, own_seed(sampler, seed), args.out / f"{sampler}_seed{seed}",
                                evaluations)
                res = s.apply(graph, batches, reference=reference)
                done = [{"value": tr.value, "number": tr.number, **tr.user_attrs} for tr in
                        sorted((tr for tr in res.study.trials if tr.state == optuna.trial.TrialState.COMPLETE),
                               key=lambda tr: tr.number)[:args.trials]]
            else:
                done = [dict(r, number=i) for i, r in enumerate(run_model_study(args, graph, sampler,
                                                                                own_seed(sampler, seed)))]
            values = [tr["value"] for tr in done]
            curves.setdefault(sampler, {})[seed] = best_so_far(values)
            best = max(done, key=lambda tr: tr["value"])
            row = {"sampler": sampler, "seed": seed, "sampler_seed": own_seed(sampler, seed), "trials": len(done),
                   "seconds": time.perf_counter() - t, "values": values, "best_so_far": curves[sampler][seed],
                   "best": best["value"], "best_trial": best["number"], "best_kl": best.get("kl"),
                   "best_average_bits": best.get("average_bits"), "best_mean_mantissa": best.get("mean_mantissa")}
            report["studies"].append(row)
            print(json.dumps({k: v for k, v in row.items() if k not in ("values", "best_so_far")}), flush=True)
            (args.out / "results.json").write_text(json.dumps(report, indent=1))
    summary = {}
    for sampler in args.samplers:
        runs = list(curves.get(sampler, {}).values())
        marks = {}
        for n in (16, 32, args.trials):
            at = [c[min(n, len(c)) - 1] for c in runs if c]
            marks[str(n)] = {"mean": sum(at) / len(at), "min": min(at), "max": max(at)} if at else None
        summary[sampler] = marks
    report["summary_best_so_far"] = summary
    report["distinct_evaluations"] = len(evaluations)
    (args.out / "results.json").write_text(json.dumps(report, indent=1))
    if args.objective == "model":
        report["allocation_reference"] = allocation_reference(search_pass(args, "tpe", 0, Path(".")).space(graph),
                                                              args.k)
        (args.out / "results.json").write_text(json.dumps(report, indent=1))
    plot(curves, args.out / "best_so_far.png", args.trials, args.k,
         "predicted" if args.objective == "model" else "measured", report.get("allocation_reference"))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
