"""Held-out accuracy: interpolation and extrapolation splits, per operator and target.

Split per module (seeded):

* **extrapolation** -- every point in the largest value of the module's size
  parameter (``BLOCK_0`` for elementwise operators, ``BLOCK_K`` for linear and
  matmul, ``BLOCK`` for gelu, softmax and layer_norm):
  the model never sees a block that wide, so this measures extrapolation along
  the axis that matters most for area -- unless that value holds more than a third
  of the module's points (the linear's BLOCK_K = 16 sweep of the paper's
  configurations): there the model is meant to be fitted, and all points are
  interpolation candidates;
* **interpolation** -- a random ``test_frac`` of the remaining points;
* the rest is the training set (model-family selection by CV happens inside it).

Metrics on each held-out set, for each target, with ``e_i = |y_hat_i - y_i|``:
``MAPE = mean(e_i / y_i) * 100`` over points with ``y_i > 0``,
``max_pct = max(e_i / y_i) * 100`` (same points), ``max_abs = max e_i``.
"""

from __future__ import annotations

import numpy as np

from mase_cost.model import FIT_TARGETS, CostModel

__all__ = ["SIZE_PARAM", "evaluate", "metrics", "split"]

#: The parameter whose largest value is held out for extrapolation.
SIZE_PARAM = {
    "mase_mxint_cast": "BLOCK_0",
    "mase_mxint_relu": "BLOCK_0",
    "mase_mxint_mul": "BLOCK_0",
    "mase_mxint_add": "BLOCK_0",
    "mase_mxint_linear": "BLOCK_K",
    "mase_mxint_matmul": "BLOCK_K",
    "mase_mxint_gelu": "BLOCK",
    "mase_mxint_softmax": "BLOCK",
    "mase_mxint_layer_norm": "BLOCK",
}


#: Below this many non-extrapolation points a module's interpolation error is measured by
#: k-fold cross-prediction instead of one 20% hold-out (a 20% hold-out of 12 points is 2 points).
KFOLD_BELOW = 20
#: ... and with fewer than this many there is no interpolation estimate at all.
KFOLD_MIN = 4


#: A widest size holding more than this share of a module's points is where the model is
#: fitted (e.g. the paper's BLOCK_K = 16 linear sweep), not an extrapolation to hold out.
EXTRAP_MAX_SHARE = 1 / 3


def _module_split(mrows, size):
    """``(rest, extrap)``: the widest value of the size parameter is the extrapolation set
    (when the module has enough points, more than one size, and the widest holds at most
    :data:`EXTRAP_MAX_SHARE` of them)."""
    sizes = {r["params"].get(size) for r in mrows} if size else set()
    if not size or len(mrows) < 8 or len(sizes) < 2:
        return list(mrows), []
    top = max(sizes, key=lambda v: -1 if v is None else v)
    rest = [r for r in mrows if r["params"].get(size) != top]
    wide = [r for r in mrows if r["params"].get(size) == top]
    if len(wide) > EXTRAP_MAX_SHARE * len(mrows):
        return list(mrows), []
    return rest, wide


def split(rows, seed: int = 0, test_frac: float = 0.2):
    """``(train, interp_test, extrap_test)`` row lists (the one-hold-out protocol; modules
    with fewer than :data:`KFOLD_BELOW` remaining points put all of them in ``train`` --
    :func:`evaluate` scores those by k-fold cross-prediction)."""
    import zlib

    train, interp, extrap = [], [], []
    for module in sorted({r["module"] for r in rows}):
        rest, top = _module_split([r for r in rows if r["module"] == module], SIZE_PARAM.get(module))
        extrap += top
        # one generator per module (seed, name): a module's split, and so its reported error, does
        # not move when another module gains rows (with one shared generator it did: mase-cost refit)
        idx = np.random.default_rng([seed, zlib.crc32(module.encode())]).permutation(len(rest))
        n_test = int(round(test_frac * len(rest))) if len(rest) >= KFOLD_BELOW else 0
        interp += [rest[i] for i in idx[:n_test]]
        train += [rest[i] for i in idx[n_test:]]
    return train, interp, extrap


def metrics(y_hat, y) -> dict:
    y, y_hat = np.asarray(y, float), np.asarray(y_hat, float)
    e = np.abs(y_hat - y)
    pos = y > 0
    rel = e[pos] / y[pos] * 100 if pos.any() else np.array([])
    return {
        "n": int(len(y)),
        "mape": float(rel.mean()) if rel.size else float("nan"),
        "max_pct": float(rel.max()) if rel.size else float("nan"),
        "max_abs": float(e.max()) if e.size else float("nan"),
    }


def _kfold_predictions(rows, seed, targets, folds=5):
    """Each row predicted by a model fitted (family choice included) on the other folds."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(rows))
    k = min(folds, len(rows))
    preds = [None] * len(rows)
    for f in range(k):
        test = [i for j, i in enumerate(order) if j % k == f]
        fit_rows = [rows[i] for j, i in enumerate(order) if j % k != f]
        model = CostModel.fit(fit_rows, seed=seed, targets=targets)
        for i in test:
            r = rows[i]
            preds[i] = model.predict(r["module"], r["params"], r["nodsp"], extrapolate=True)
    return preds


def evaluate(rows, seed: int = 0, targets=FIT_TARGETS, verbose=False):
    """Fit on the training split, score both held-out splits.

    Interpolation: a seeded 20% of the non-extrapolation points, or -- for a module
    with fewer than :data:`KFOLD_BELOW` of them -- 5-fold cross-prediction over all of
    them (every point predicted by a model that never saw it; ``interp_protocol``
    says which).  Extrapolation: the widest block, predicted by the model fitted on
    the training points.

    Returns ``(errors, predictions)``: ``errors[(module, target)]`` has
    ``interp_*`` and ``extrap_*`` metrics; ``predictions`` lists
    ``(module, target, split, y, y_hat)`` for the plots.
    """
    train, interp, extrap = split(rows, seed)
    model = CostModel.fit(train, seed=seed, targets=targets, verbose=verbose)
    errors, preds = {}, []
    for module in model.modules:
        mtrain = [r for r in train if r["module"] == module]
        kfold = len(mtrain) < KFOLD_BELOW
        parts = {"interp": [r for r in interp if r["module"] == module],
                 "extrap": [r for r in extrap if r["module"] == module]}
        ph = {name: [model.predict(module, r["params"], r["nodsp"], extrapolate=True) for r in prows]
              for name, prows in parts.items()}
        protocol = "holdout-20%"
        if kfold:
            protocol = "5-fold" if len(mtrain) >= KFOLD_MIN else f"none (< {KFOLD_MIN} points)"
        if kfold and len(mtrain) >= KFOLD_MIN:
            parts["interp"], ph["interp"] = mtrain, _kfold_predictions(mtrain, seed, targets)
        for name, prows in parts.items():
            for t in targets:
                y = [r[t] for r in prows]
                yh = [p[t] for p in ph[name]]
                m = metrics(yh, y)
                errors.setdefault((module, t), {
                    "family": model.families[(module, t)], "n_train": len(mtrain),
                    "interp_protocol": protocol,
                    "cv_scores": model.meta["cv_scores"].get((module, t), {})})
                errors[(module, t)].update({f"{name}_{k}": v for k, v in m.items()})
                preds += [(module, t, name, a, b) for a, b in zip(y, yh)]
    return errors, preds
