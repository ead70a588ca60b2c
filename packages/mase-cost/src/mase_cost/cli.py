"""``mase-cost`` console script: ``sweep`` (synthesize a grid), ``fit`` (the default model) and ``report`` (held-out accuracy)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _sweep(args) -> int:
    from mase_cost import grids
    from mase_cost.sweep import SweepInterrupted, sweep

    pts = grids.points(grids.GRIDS[args.grid], modules=args.module or None, seed=args.seed,
                       nodsp=(False, True) if args.nodsp == "both" else (args.nodsp == "yes",), balance=args.balance)
    if args.limit:
        pts = pts[: args.limit]
    try:
        counts = sweep(pts, args.out, workers=args.workers, timeout=args.timeout, dask=args.dask,
                       retry_failed=args.retry_failed, progress=not args.quiet, yosys=args.yosys, flow=args.flow)
    except SweepInterrupted as e:
        print(e, file=sys.stderr)
        return 128 + e.signum  # the shell convention for "killed by signal N"
    print(f"mase-cost sweep: {counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} already in {args.out}")
    return 0


def _report(args) -> int:
    from mase_cost.report import write_report

    table = write_report(args.dataset, args.out)
    print(table)
    return 0


def _fit(args) -> int:
    from mase_cost.model import fit_default

    model = fit_default(args.dataset, args.out, verbose=True)
    print(f"mase-cost fit: {model.meta['n_rows']} points, {len(model.models)} models -> {args.out}")
    return 0


def grids_names():
    from mase_cost.grids import GRIDS

    return GRIDS


def main(argv=None) -> int:
    from mase_cost.dataset import DEFAULT_DATASET
    from mase_cost.synth import FLOWS

    ap = argparse.ArgumentParser(prog="mase-cost", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sweep", help="synthesize hwlib operators over the parameter grid (resumable)")
    s.add_argument("--out", type=Path, default=DEFAULT_DATASET, help="dataset CSV (default: the shipped one)")
    s.add_argument("--grid", choices=sorted(grids_names()), default="default", help="named parameter grid")
    s.add_argument("--module", action="append", help="only this module (repeatable)")
    s.add_argument("--workers", type=int, default=None, help="parallel yosys runs (default: local cores)")
    s.add_argument("--dask", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    s.add_argument("--timeout", type=float, default=600.0, help="seconds per synthesis before it counts as timed out")
    s.add_argument("--nodsp", choices=("both", "yes", "no"), default="both", help="synthesize with -nodsp, without, or both")
    s.add_argument("--limit", type=int, default=0, help="only the first N points of the shuffled grid")
    s.add_argument("--seed", type=int, default=0, help="grid shuffle seed")
    s.add_argument("--balance", action="store_true",
                   help="take the modules in turn, so a --limit or a stopped sweep covers each about equally")
    s.add_argument("--retry-failed", action="store_true", help="re-run points recorded as failed")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--yosys", default="yosys", help="yosys executable")
    s.add_argument("--flow", choices=FLOWS, default="full",
                   help="synthesis script: synth_xilinx as is, or with 'share -fast' (see docs/synthesis-time.md)")
    s.set_defaults(func=_sweep)
    r = sub.add_parser("report", help="held-out accuracy table and predicted-vs-synthesized plots")
    r.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    r.add_argument("--out", type=Path, default=Path("mase-cost-report"), help="output folder")
    r.set_defaults(func=_report)
    f = sub.add_parser("fit", help="measure held-out error, refit on every point, save the default model")
    f.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    f.add_argument("--out", type=Path, default=None, help="model file (default: the shipped cost_model.pkl)")
    f.set_defaults(func=_fit)
    args = ap.parse_args(argv)
    if args.cmd == "fit" and args.out is None:
        from mase_cost.model import DEFAULT_MODEL

        args.out = DEFAULT_MODEL
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
