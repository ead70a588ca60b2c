"""Held-out accuracy: interpolation and extrapolation splits, per operator and target.

Split per module (seeded):

* **extrapolation** -- every point in the largest value of the module's size
  parameter (``BLOCK_0`` for elementwise operators, ``BLOCK_K`` for linear and
  matmul, ``BLOCK`` for gelu, softmax and layer_norm):
  the model never sees a block that wide, so this measures extrapolation along
  the axis that matters most for area;
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


def split(rows, seed: int = 0, test_frac: float = 0.2):
    """``(train, interp_test, extrap_test)`` row lists."""
    rng = np.random.default_rng(seed)
    train, interp, extrap = [], [], []
    for module in sorted({r["module"] for r in rows}):
        mrows = [r for r in rows if r["module"] == module]
        size = SIZE_PARAM.get(module)
        top = max(r["params"].get(size, 0) for r in mrows) if size else None
        rest = []
        for r in mrows:
            (extrap if size and r["params"].get(size) == top and len(mrows) > 10 else rest).append(r)
        idx = rng.permutation(len(rest))
        n_test = int(round(test_frac * len(rest))) if len(rest) >= 10 else 0
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


def evaluate(rows, seed: int = 0, targets=FIT_TARGETS, verbose=False):
    """Fit on the training split, score both held-out splits.

    Returns ``(errors, predictions)``: ``errors[(module, target)]`` has
    ``interp_*`` and ``extrap_*`` metrics; ``predictions`` lists
    ``(module, target, split, y, y_hat)`` for the plots.
    """
    train, interp, extrap = split(rows, seed)
    model = CostModel.fit(train, seed=seed, targets=targets, verbose=verbose)
    errors, preds = {}, []
    for module in model.modules:
        for name, part in (("interp", interp), ("extrap", extrap)):
            prows = [r for r in part if r["module"] == module]
            ph = [model.predict(module, r["params"], r["nodsp"], extrapolate=True) for r in prows]
            for t in targets:
                y = [r[t] for r in prows]
                yh = [p[t] for p in ph]
                m = metrics(yh, y)
                errors.setdefault((module, t), {"family": model.families[(module, t)], "n_train": sum(
                    r["module"] == module for r in train)})
                errors[(module, t)].update({f"{name}_{k}": v for k, v in m.items()})
                preds += [(module, t, name, a, b) for a, b in zip(y, yh)]
    return errors, preds
