"""The parameter grids the shipped dataset is swept over.

A grid is ``{module: {param: values}}`` (a Cartesian product per module) with
``tie`` rules that force several parameters equal (e.g. ``A_MAN = B_MAN``) to
keep the product small.  :func:`points` expands it and shuffles the points
with a fixed seed, so that any prefix of a sweep -- a sweep stopped early --
is an even sample of the whole grid rather than one corner of it.
"""

from __future__ import annotations

import itertools
import random

__all__ = ["BOUNDED_GRID", "DEFAULT_GRID", "FIXED_GRID", "GRIDS", "OPERATOR_GRID", "PARALLEL_GRID", "SMALL_GRID",
           "TIMING_GRID", "points"]

_MAN = (3, 5, 7, 11)
_OUT_MAN = (3, 5, 7)

#: module -> (axes, ties): axes are swept, ties copy one axis into other params.
DEFAULT_GRID: dict[str, tuple[dict[str, tuple[int, ...]], dict[str, tuple[str, ...]]]] = {
    "mase_mxint_cast": (
        {"BLOCK_0": (1, 2, 4, 8, 16), "BLOCK_1": (1, 2), "IN_MAN": _MAN, "OUT_MAN": _OUT_MAN, "IN_EXP": (4, 8)},
        {"IN_EXP": ("OUT_EXP",)},
    ),
    "mase_mxint_relu": (
        {"BLOCK_0": (1, 2, 4, 8, 16), "BLOCK_1": (1, 2), "IN_MAN": _MAN, "OUT_MAN": _OUT_MAN},
        {},
    ),
    "mase_mxint_mul": (
        {"BLOCK_0": (1, 2, 4, 8, 16), "BLOCK_1": (1, 2), "A_MAN": _MAN, "OUT_MAN": _OUT_MAN},
        {"A_MAN": ("B_MAN",)},
    ),
    "mase_mxint_add": (
        {"BLOCK_0": (1, 2, 4, 8, 16), "BLOCK_1": (1, 2), "A_MAN": _MAN, "OUT_MAN": _OUT_MAN},
        {"A_MAN": ("B_MAN",)},
    ),
    "mase_mxint_linear": (
        {
            "BLOCK_K": (2, 4, 8),
            "X_ROWS": (1, 2),
            "OUT_TILE": (1, 2),
            "IN_TILES": (2, 4),
            "X_MAN": (3, 5, 7),
            "OUT_MAN": (5, 7),
        },
        {"X_MAN": ("W_MAN",)},
    ),
}


#: The cheap corner of the default grid (blocks up to 8x2 lanes), swept first so that a
#: short sweep on a shared machine still covers every axis.  Same parameter values as
#: DEFAULT_GRID, so its points are DEFAULT_GRID points (resume skips them later).
SMALL_GRID = {
    "mase_mxint_cast": (
        {"BLOCK_0": (1, 2, 4, 8), "BLOCK_1": (1, 2), "IN_MAN": (3, 5, 7), "OUT_MAN": _OUT_MAN, "IN_EXP": (4, 8)},
        {"IN_EXP": ("OUT_EXP",)},
    ),
    "mase_mxint_mul": (
        {"BLOCK_0": (1, 2, 4, 8), "BLOCK_1": (1, 2), "A_MAN": (3, 5, 7), "OUT_MAN": _OUT_MAN},
        {"A_MAN": ("B_MAN",)},
    ),
}

#: The operators the parallelize pass sizes (linear, matmul, add, relu) and the nonlinear
#: ones, at grid points that synthesize in minutes on one core.  Exponent widths are an
#: axis here and kept small for the exact-alignment operators: mase_mxint_add aligns onto
#: a ~2^(EXP+1)-bit sum and linear/matmul keep a Kulisch accumulator of ~2^(EXP+1) bits,
#: so at EXP=8 (~270 / ~530 bits) one point takes longer than the 10-minute timeout
#: (docs/synthesis-time.md); the features carry the 2^EXP terms, so the exponent is a
#: modelled axis, not a hidden constant.
OPERATOR_GRID = {
    "mase_mxint_linear": (
        {"BLOCK_K": (2, 4, 8), "X_ROWS": (1, 2), "OUT_TILE": (1, 2), "IN_TILES": (2, 4),
         "X_MAN": (3, 5, 7), "OUT_MAN": (3, 7), "X_EXP": (3, 4)},
        {"X_MAN": ("W_MAN",), "X_EXP": ("W_EXP",)},
    ),
    "mase_mxint_matmul": (
        {"BLOCK_K": (2, 4, 8), "A_ROWS": (1, 2), "B_COLS": (1, 2), "K_TILES": (2, 4),
         "A_MAN": (3, 5, 7), "OUT_MAN": (3, 7), "A_EXP": (3, 4)},
        {"A_MAN": ("B_MAN",), "A_EXP": ("B_EXP",)},
    ),
    "mase_mxint_add": (
        {"BLOCK_0": (1, 2, 4, 8), "BLOCK_1": (1, 2), "A_MAN": (3, 5, 7), "OUT_MAN": _OUT_MAN, "A_EXP": (3, 4, 5)},
        {"A_MAN": ("B_MAN",), "A_EXP": ("B_EXP",)},
    ),
    "mase_mxint_relu": DEFAULT_GRID["mase_mxint_relu"],
    # softmax and layer_norm have a combinational divider per element: ~7k LUTs per
    # lane and minutes of synthesis each, so their grid stops at 4-element blocks
    "mase_mxint_gelu": (
        {"BLOCK": (1, 2, 4, 8), "MAN_BITS": (3, 5, 7), "EXP_BITS": (4, 8), "X_WIDTH": (12, 16), "X_FRAC": (6, 8)},
        {},
    ),
    "mase_mxint_softmax": (
        {"BLOCK": (1, 2, 4), "ROW_BLOCKS": (2, 4), "MAN_BITS": (3, 7), "X_WIDTH": (12, 16), "OUT_FRAC": (8, 12)},
        {},
    ),
    "mase_mxint_layer_norm": (
        {"BLOCK": (1, 2, 4), "ROW_BLOCKS": (2, 4), "MAN_BITS": (3, 7), "X_WIDTH": (12, 16), "OUT_WIDTH": (8, 16)},
        {},
    ),
}

#: Mantissa bits of the paper's MXInt formats (MXInt((16,2), 8, m), m = 1..8).
_PAPER_MAN = (1, 2, 3, 4, 5, 6, 7, 8)

#: Issue 15 part 4, bounded MXInt: the paper's EXP = 8 and (16, 2) blocks, mantissa 1..8,
#: and a parallelism grid (:data:`PARALLEL_GRID`).  ``ACC_WIDTH`` -1 is the catalog's derived
#: default and 24 / 32 explicit widths around it (16 for add); 0, the exact (Kulisch)
#: datapath, is left out: ~530 bits per lane at EXP = 8, it does not synthesize in minutes.
#: ``ACC_ROUND`` 0 truncate, 1 nearest-even.  Explicit widths below the catalog's minimum
#: for a point's mantissas are refused by the catalog: :func:`points` drops those
#: (``drop_illegal``) and says how many.  Sizes per -nodsp setting: linear 384 (368 legal),
#: matmul 384 (368), add 128; ``--limit`` with ``--balance`` takes an even sample.
BOUNDED_GRID = {
    "mase_mxint_linear": (
        {"X_MAN": _PAPER_MAN, "BLOCK_K": (16,), "X_ROWS": (2,), "OUT_TILE": (1, 2), "IN_TILES": (2, 4),
         "OUT_MAN": (3, 7), "ACC_WIDTH": (-1, 24, 32), "ACC_ROUND": (0, 1), "X_EXP": (8,), "OUT_TILES": (2,)},
        {"X_MAN": ("W_MAN",), "X_EXP": ("W_EXP",)},
    ),
    "mase_mxint_matmul": (
        {"A_MAN": _PAPER_MAN, "BLOCK_K": (16,), "A_ROWS": (2,), "B_COLS": (1, 2), "K_TILES": (2, 4),
         "OUT_MAN": (3, 7), "ACC_WIDTH": (-1, 24, 32), "ACC_ROUND": (0, 1), "A_EXP": (8,)},
        {"A_MAN": ("B_MAN",), "A_EXP": ("B_EXP",)},
    ),
    "mase_mxint_add": (
        {"A_MAN": _PAPER_MAN, "BLOCK_0": (16,), "BLOCK_1": (2,), "OUT_MAN": (3, 5, 7, 8),
         "ACC_WIDTH": (-1, 16), "ACC_ROUND": (0, 1), "A_EXP": (8,)},
        {"A_MAN": ("B_MAN",), "A_EXP": ("B_EXP",)},
    ),
}

#: The parallelism axis of the bounded operators (the tile extents the parallelize pass
#: chooses): BLOCK_K x X_ROWS x OUT_TILE for linear, BLOCK_K x A_ROWS x B_COLS for matmul,
#: BLOCK_0 x BLOCK_1 for add, at the paper's formats (mantissa 3, 5, 7; default ACC_WIDTH).
PARALLEL_GRID = {
    "mase_mxint_linear": (
        {"BLOCK_K": (4, 8, 16), "X_ROWS": (1, 2, 4), "OUT_TILE": (1, 2, 4, 8), "IN_TILES": (2, 4),
         "X_MAN": (3, 5, 7), "OUT_MAN": (7,), "X_EXP": (8,)},
        {"X_MAN": ("W_MAN",), "X_EXP": ("W_EXP",)},
    ),
    "mase_mxint_matmul": (
        {"BLOCK_K": (4, 8, 16), "A_ROWS": (1, 2, 4), "B_COLS": (1, 2, 4, 8), "K_TILES": (2, 4),
         "A_MAN": (3, 5, 7), "OUT_MAN": (7,), "A_EXP": (8,)},
        {"A_MAN": ("B_MAN",), "A_EXP": ("B_EXP",)},
    ),
    "mase_mxint_add": (
        {"BLOCK_0": (1, 2, 4, 8, 16, 32), "BLOCK_1": (1, 2, 4), "A_MAN": (3, 5, 7), "OUT_MAN": (7,), "A_EXP": (8,)},
        {"A_MAN": ("B_MAN",), "A_EXP": ("B_EXP",)},
    ),
}

_FIXED_W = (4, 6, 8, 10, 12, 16)

#: Issue 15 part 4, fixed point (int8 and "MP int"): widths 4..16 bits, fraction bits at half
#: the width (the tie rules copy the width into the other operands), and a parallelism axis.
FIXED_GRID = {
    "mase_fixed_linear": (
        {"X_WIDTH": _FIXED_W, "BLOCK_K": (4, 8, 16), "X_ROWS": (1, 2), "OUT_TILE": (1, 2, 4), "IN_TILES": (2, 4),
         "OUT_WIDTH": (8, 16), "HAS_BIAS": (0, 1)},
        {"X_WIDTH": ("W_WIDTH", "B_WIDTH")},
    ),
    "mase_fixed_matmul": (
        {"A_WIDTH": _FIXED_W, "BLOCK_K": (4, 8, 16), "A_ROWS": (1, 2), "B_COLS": (1, 2, 4), "K_TILES": (2, 4),
         "OUT_WIDTH": (8, 16)},
        {"A_WIDTH": ("B_WIDTH",)},
    ),
    "mase_fixed_add": (
        {"A_WIDTH": _FIXED_W, "BLOCK": (1, 4, 16, 32), "OUT_WIDTH": (4, 8, 16)},
        {"A_WIDTH": ("B_WIDTH",)},
    ),
    "mase_fixed_relu": (
        {"IN_WIDTH": _FIXED_W, "BLOCK": (1, 4, 16, 32), "OUT_WIDTH": (4, 8, 16)},
        {},
    ),
}

#: Place-and-route points for Fmax (``mase-cost timing --grid timing``): the key operators at
#: small sizes, where nextpnr-ecp5 takes seconds to a minute per point.
TIMING_GRID = {
    "mase_mxint_mul": ({"BLOCK_0": (2, 4), "BLOCK_1": (1, 2), "A_MAN": (3, 7), "OUT_MAN": (7,)}, {"A_MAN": ("B_MAN",)}),
    "mase_mxint_add": ({"BLOCK_0": (1, 2, 4), "A_MAN": (3, 7), "OUT_MAN": (7,)}, {"A_MAN": ("B_MAN",)}),
    "mase_mxint_linear": (
        {"BLOCK_K": (2, 4), "OUT_TILE": (1, 2), "IN_TILES": (2,), "X_MAN": (3, 7), "OUT_MAN": (7,)},
        {"X_MAN": ("W_MAN",)},
    ),
}

#: Grids by name (the ``--grid`` option of ``mase-cost sweep`` and ``mase-cost timing``).
GRIDS = {"default": DEFAULT_GRID, "small": SMALL_GRID, "operators": OPERATOR_GRID, "bounded": BOUNDED_GRID,
         "parallel": PARALLEL_GRID, "fixed": FIXED_GRID, "timing": TIMING_GRID}


def points(grid=None, modules=None, seed: int = 0, nodsp=(False, True), balance: bool = False,
           drop_illegal: bool = True) -> list[tuple[str, dict, bool]]:
    """All ``(module, params, nodsp)`` points of ``grid``, shuffled with ``seed``.

    ``balance=True`` deals the shuffled points of each module out in turn, so
    that any prefix holds about as many points of every module (a stopped sweep
    then has something to fit for each, not mostly the module with the biggest grid).

    A module the installed mase-hwlib catalog does not have is skipped with a message on
    stderr (its grid may be written before its RTL lands); with ``drop_illegal`` so are
    the points the catalog refuses (e.g. an ACC_WIDTH below the minimum for the point's
    mantissas), with a count per module.
    """
    import sys

    from mase_hwlib import catalog

    grid = DEFAULT_GRID if grid is None else grid
    unknown = sorted(set(modules or ()) - set(grid))
    if unknown:
        raise ValueError(f"grid: no grid for module(s) {unknown}; grids exist for {sorted(grid)}")
    out = []
    for module, (axes, ties) in grid.items():
        if modules and module not in modules:
            continue
        try:
            spec = catalog.get(module)
        except KeyError:
            print(f"grid: skipping {module}: not in the installed mase-hwlib catalog", file=sys.stderr)
            continue
        dropped = 0
        names = list(axes)
        for values in itertools.product(*(axes[n] for n in names)):
            params = dict(zip(names, values))
            for src, dsts in ties.items():
                for d in dsts:
                    params[d] = params[src]
            if drop_illegal:
                try:
                    spec.resolve(params)
                except ValueError:
                    dropped += 1
                    continue
            for flag in nodsp:
                out.append((module, params, bool(flag)))
        if dropped:
            print(f"grid: {module}: {dropped} parameter combinations refused by the catalog, skipped", file=sys.stderr)
    random.Random(seed).shuffle(out)
    if not balance:
        return out
    queues = [[pt for pt in out if pt[0] == m] for m in dict.fromkeys(pt[0] for pt in out)]
    dealt = []
    for i in range(max((len(q) for q in queues), default=0)):
        dealt += [q[i] for q in queues if i < len(q)]
    return dealt
