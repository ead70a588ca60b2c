"""``mase-cost`` console script: ``sweep`` (synthesize a grid), ``fit`` (the default model), ``refit`` (merge
a new sweep, fit on the installed RTL's rows, write the accuracy docs), ``report``
(held-out accuracy), ``timing`` (place and route for Fmax) and ``clock`` (the clock a module is quoted at)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]

#: where ``mase-cost sweep`` writes without --out: a file of the user's, never the packaged dataset
DEFAULT_SWEEP_OUT = "mase-cost-sweep.csv"


def _sweep(args) -> int:
    from mase_cost import grids
    from mase_cost.sweep import SweepInterrupted, sweep

    try:  # a bad module, grid, timeout or output path: the message, exit 2 (no traceback)
        pts = grids.points(grids.GRIDS[args.grid], modules=args.module or None, seed=args.seed,
                           nodsp=(False, True) if args.nodsp == "both" else (args.nodsp == "yes",),
                           balance=args.balance)
        if args.out.is_dir():
            raise ValueError(f"mase-cost sweep: --out {args.out} is a folder; give a CSV file path")
    except ValueError as e:
        print(f"mase-cost sweep: {e}" if not str(e).startswith("mase-cost") else e, file=sys.stderr)
        return 2
    if args.limit:
        pts = pts[: args.limit]
    try:
        counts = sweep(pts, args.out, workers=args.workers, timeout=args.timeout, dask=args.dask,
                       retry_failed=args.retry_failed, progress=not args.quiet, yosys=args.yosys, flow=args.flow)
    except ValueError as e:  # the packaged dataset as --out, a timeout that is no time limit, a bad parameter
        print(e, file=sys.stderr)
        return 2
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

    model = fit_default(args.dataset, args.out, verbose=True, yosys=args.yosys, rtl=args.rtl)
    print(f"mase-cost fit: {model.meta['n_rows']} points, {len(model.models)} models -> {args.out}")
    return 0


def _refit(args) -> int:
    from mase_cost.refit import refit, summary_table

    model, info = refit(args.merge or (), args.dataset, args.out, args.docs)
    if info["merged"]:
        m = info["merged"]
        print(f"mase-cost refit: merged {m['added']} new and {m['replaced']} re-synthesized rows into "
              f"{args.dataset} ({m['total']} rows)")
    print(summary_table(info["status"], model.errors))
    print(f"mase-cost refit: {model.meta['n_rows']} points, {len(model.models)} models -> {args.out}"
          f"{'' if args.docs is None else f', report -> {args.docs}'} ({info['seconds']:.0f} s)")
    return 0


def _parse_params(items) -> dict:
    params = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            params[name.strip()] = int(value)
        except ValueError:
            raise SystemExit(f"mase-cost: --param {item!r}: expected NAME=INTEGER, e.g. --param BLOCK_0=4") from None
    return params


def _timing(args) -> int:
    from mase_cost import grids, timing
    from mase_cost.sweep import SweepInterrupted

    if args.grid:
        pts = [(m, p) for m, p, _ in grids.points(grids.GRIDS[args.grid], modules=args.module or None,
                                                  nodsp=(False,), balance=True)]
        if args.limit:
            pts = pts[: args.limit]
    else:
        if not args.module or len(args.module) != 1:
            raise SystemExit("mase-cost timing: give one --module (with --param NAME=VALUE ...), or --grid")
        pts = [(args.module[0], _parse_params(args.param))]
    out = args.out or timing.DEFAULT_TIMING
    if not args.grid and args.out is None:
        rec = timing.place_and_route(pts[0][0], pts[0][1], args.device, args.seed, args.timeout, args.freq,
                                     args.rtl_dir)
        for k in timing.COLUMNS:
            print(f"{k}: {'' if rec.get(k) is None else rec.get(k)}")
        return 0 if rec["status"] == "ok" else 1
    try:
        counts = timing.timing_sweep(pts, out, args.device, args.seed, args.timeout, args.freq, args.rtl_dir,
                                     progress=not args.quiet, retry_failed=args.retry_failed)
    except SweepInterrupted as e:
        print(e, file=sys.stderr)
        return 128 + e.signum
    print(f"mase-cost timing: {counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} already in {out}")
    return 0


def _clock(args) -> int:
    from mase_cost.model import CostModel

    mhz, label = CostModel.default().clock_mhz(args.module, _parse_params(args.param), timing=args.timing)
    print(f"{mhz:g} MHz  ({label})")
    return 0


def grids_names():
    from mase_cost.grids import GRIDS

    return GRIDS


def main(argv=None) -> int:
    from mase_cost.dataset import DEFAULT_DATASET
    from mase_cost.synth import DEFAULT_YOSYS, FLOWS, YOSYS_TOOLS

    ap = argparse.ArgumentParser(prog="mase-cost", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sweep", help="synthesize hwlib operators over the parameter grid (resumable)")
    s.add_argument("--out", type=Path, default=Path(DEFAULT_SWEEP_OUT),
                   help=f"dataset CSV to add the points to, resumed when it exists (default ./{DEFAULT_SWEEP_OUT}; "
                        "the dataset shipped in the package is read-only: merge with `mase-cost refit --merge`)")
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
    s.add_argument("--yosys", default=DEFAULT_YOSYS,
                   help=f"yosys build: {' or '.join(YOSYS_TOOLS)} (PyPI's WebAssembly build), or a path "
                        f"(default {DEFAULT_YOSYS}; docs/synthesis-time.md compares them)")
    s.add_argument("--flow", choices=FLOWS, default="full",
                   help="synthesis script: synth_xilinx as is, or with 'share -fast' (see docs/synthesis-time.md)")
    s.set_defaults(func=_sweep)
    r = sub.add_parser("report", help="held-out accuracy table and predicted-vs-synthesized plots")
    r.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    r.add_argument("--out", type=Path, default=Path("mase-cost-report"), help="output folder")
    r.set_defaults(func=_report)
    f = sub.add_parser("fit", help="measure held-out error, refit on every point, save the default model")
    f.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    f.add_argument("--out", type=Path, default=None, help="model file (default: the shipped cost_model.npz)")
    f.add_argument("--yosys", default=None, metavar="PREFIX",
                   help="fit only on rows whose yosys_version starts with PREFIX, e.g. 'Yosys 0.70'")
    f.add_argument("--rtl", choices=("current", "all"), default="current",
                   help="per module, fit only the rows of the installed RTL (else its older rows, flagged stale), "
                        "or every row")
    f.set_defaults(func=_fit)
    rf = sub.add_parser("refit", help="merge new sweep CSVs into the dataset, fit the default model on the "
                                      "installed RTL's rows, write docs/accuracy")
    rf.add_argument("--merge", type=Path, action="append", help="sweep CSV to merge first (repeatable)")
    rf.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    rf.add_argument("--out", type=Path, default=None, help="model file (default: the shipped cost_model.npz)")
    rf.add_argument("--docs", type=Path, default=None, help="report folder (errors.md, data.md, PNGs); default none")
    rf.set_defaults(func=_refit)
    t = sub.add_parser("timing", help="synth_ecp5 + timing-driven nextpnr-ecp5 place and route: Fmax and post-route cells")
    t.add_argument("--module", action="append", help="module (one for a single point; with --grid: repeatable filter)")
    t.add_argument("--param", "-p", action="append", metavar="NAME=VALUE", help="parameter of the single point (repeatable)")
    t.add_argument("--grid", choices=sorted(grids_names()), default=None, help="place and route a named grid (resumable)")
    t.add_argument("--limit", type=int, default=0, help="only the first N points of the grid")
    t.add_argument("--out", type=Path, default=None,
                   help="timing CSV to add the point(s) to (default: print a single point; a grid goes to the shipped CSV)")
    t.add_argument("--device", choices=("25k", "45k", "85k"), default="85k", help="ECP5 part (LFE5U-<n>F)")
    t.add_argument("--seed", type=int, default=1, help="nextpnr placer seed")
    t.add_argument("--freq", type=float, default=None, help="nextpnr target MHz (default: its own, 12 MHz)")
    t.add_argument("--timeout", type=float, default=900.0, help="seconds per point, synthesis and place and route together")
    t.add_argument("--rtl-dir", type=Path, default=None, help="read the module's .sv files from this folder")
    t.add_argument("--retry-failed", action="store_true", help="re-run points recorded as failed")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=_timing)
    c = sub.add_parser("clock", help="the clock a module is quoted at, and where that number comes from")
    c.add_argument("--module", required=True)
    c.add_argument("--param", "-p", action="append", metavar="NAME=VALUE")
    c.add_argument("--timing", type=Path, default=None, help="timing CSV (default: the shipped timing_ecp5.csv)")
    c.set_defaults(func=_clock)
    args = ap.parse_args(argv)
    if args.cmd in ("fit", "refit") and args.out is None:
        from mase_cost.model import DEFAULT_MODEL

        args.out = DEFAULT_MODEL
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
