"""Re-synthesize, at the installed RTL and the default Yosys, every shipped point of a stale module.

After an RTL change the shipped dataset's rows of the changed modules describe hardware that no
longer exists (``CostModel.rtl_status``; ``mase-cost refit`` fits such a module on them only as a
flagged fallback). This re-runs exactly those points -- same module, parameters and ``-nodsp`` --
into a sweep CSV of your own, so old and new areas compare point for point and the refit has a
current dataset of the same coverage. ``--first`` puts points of tools/sweep_paper.py's order
(the main command's linear first) ahead, interleaved one to ``--cheap`` stale points, so both
kinds progress with two workers. Resumable like every sweep. ``--timing CSV`` does the same for
the shipped place-and-route points (mase_cost.timing), quickest first, one at a time.

    python3 -m hatch run python tools/resweep_stale.py --out sweep.csv --workers 2 --first 21
    python3 -m hatch run mase-cost refit --merge sweep.csv --docs packages/mase-cost/docs/accuracy
    python3 -m hatch run python tools/resweep_stale.py --timing timing.csv --timeout 900
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from mase_cost import dataset
from mase_cost.refit import select_current
from mase_cost.sweep import sweep
from mase_cost.synth import point_key, recorded_params


def stale_points(rows) -> list:
    """(module, params, nodsp) of every ok row whose module has no row of the installed RTL,
    cheapest recorded synthesis first."""
    _, status = select_current(rows)
    stale = {m for m, st in status.items() if st["rtl"] == "stale"}
    picked = sorted((r for r in rows if r["module"] in stale and r["status"] == "ok"),
                    key=lambda r: float(r.get("synth_seconds") or 0))
    return [(r["module"], dict(r["params"]), bool(r["nodsp"])) for r in picked]


def stale_timing_points() -> list:
    """(module, params) of every shipped place-and-route row whose RTL changed, quickest first."""
    from mase_cost import timing

    out = []
    for r in sorted(timing.load_timing(ok_only=False), key=lambda r: float(r.get("seconds") or 0)):
        paths = timing._sources(r["module"], None)
        if r.get("rtl_version") != timing._rtl_version(paths):
            out.append((r["module"], dict(r["params"])))
    return out


def paper_order() -> list:
    spec = importlib.util.spec_from_file_location("sweep_paper", Path(__file__).with_name("sweep_paper.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.order()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="sweep CSV (resumed when it exists)")
    ap.add_argument("--timing", help="place-and-route CSV: re-run the stale timing points instead")
    ap.add_argument("--workers", type=int, default=None, help="parallel yosys runs (default: local cores)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per synthesis")
    ap.add_argument("--first", type=int, default=0, help="points of tools/sweep_paper.py's order to interleave")
    ap.add_argument("--cheap", type=int, default=3, help="stale points after each of those")
    args = ap.parse_args()
    if args.timing:
        from mase_cost.timing import timing_sweep

        pts = stale_timing_points()
        print(f"{len(pts)} stale place-and-route points")
        print(timing_sweep(pts, args.timing, timeout=args.timeout))
        return
    if not args.out:
        ap.error("give --out (synthesis) or --timing (place and route)")
    rows = dataset.load(ok_only=False)
    stale = stale_points(rows)
    first = paper_order()[:args.first]
    points = []
    for i, pt in enumerate(first):
        points += [pt, *stale[i * args.cheap:(i + 1) * args.cheap]]
    points += stale[len(first) * args.cheap:]
    seen, unique = set(), []
    for module, params, nodsp in points:  # a paper point may also be a stale one
        key = point_key(module, recorded_params(module, params), nodsp)
        if key not in seen:
            seen.add(key)
            unique.append((module, params, nodsp))
    points = unique
    print(f"{len(stale)} stale points, {len(first)} of the paper order first")
    print(sweep(points, args.out, workers=args.workers, timeout=args.timeout))


if __name__ == "__main__":
    main()
