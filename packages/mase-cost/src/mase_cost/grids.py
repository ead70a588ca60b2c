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

__all__ = ["DEFAULT_GRID", "GRIDS", "SMALL_GRID", "points"]

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

#: Grids by name (the ``--grid`` option of ``mase-cost sweep``).
GRIDS = {"default": DEFAULT_GRID, "small": SMALL_GRID}


def points(grid=None, modules=None, seed: int = 0, nodsp=(False, True)) -> list[tuple[str, dict, bool]]:
    """All ``(module, params, nodsp)`` points of ``grid``, shuffled with ``seed``."""
    grid = DEFAULT_GRID if grid is None else grid
    unknown = sorted(set(modules or ()) - set(grid))
    if unknown:
        raise ValueError(f"grid: no grid for module(s) {unknown}; grids exist for {sorted(grid)}")
    out = []
    for module, (axes, ties) in grid.items():
        if modules and module not in modules:
            continue
        names = list(axes)
        for values in itertools.product(*(axes[n] for n in names)):
            params = dict(zip(names, values))
            for src, dsts in ties.items():
                for d in dsts:
                    params[d] = params[src]
            for flag in nodsp:
                out.append((module, params, bool(flag)))
    random.Random(seed).shuffle(out)
    return out
