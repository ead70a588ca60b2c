"""Area models: scikit-learn regressors per (operator, resource), fitted on synthesis records.

For every operator and target (LUT, FF, DSP, CARRY, ...) :meth:`CostModel.fit`
compares four model families on the engineered features of
:mod:`mase_cost.features` by 5-fold cross-validation and keeps the best:

* ``linear``    -- non-negative least squares, ``y = c0 + sum_i c_i f_i`` with
  ``c_i >= 0`` (each structure adds area; none removes it);
* ``powerlaw``  -- ridge regression in log space, ``log(1+y) = b0 + sum_i b_i log(1+f_i)``,
  i.e. ``y ~ prod f_i^b_i``;
* ``boosting``  -- gradient-boosted trees on the features;
* ``forest``    -- a random forest on the features.

The selection score is the mean relative error ``|y_hat - y| / max(y, 1)``
(the ``max`` keeps the zero-DSP points from dominating).  A target that is
constant on the data is a ``constant`` model.

Predictions are refused, with an error naming the module and parameter, for a
module without a model, a parameter outside the catalog's legal range, or a
parameter outside the range the model was fitted on (unless the caller passes
``extrapolate=True``: tree models are flat outside their data).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np
from mase_hwlib import catalog

from mase_cost.compact import Constant, compact
from mase_cost.features import FEATURES, features
from mase_cost.synth import TARGETS

__all__ = ["CostModel", "DEFAULT_MODEL", "FAMILIES", "FIT_TARGETS", "fit_default", "relative_errors"]

#: Targets a CostModel predicts (every resource count of a record).
FIT_TARGETS = TARGETS
#: Model families compared per target.
FAMILIES = ("linear", "powerlaw", "boosting", "forest")
#: The fitted default model (package data, written by ``mase-cost fit``).
DEFAULT_MODEL = Path(str(resources.files("mase_cost").joinpath("data", "cost_model.pkl")))


def _make(family: str, seed: int):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    if family == "linear":
        return LinearRegression(positive=True)
    if family == "powerlaw":
        return TransformedTargetRegressor(
            regressor=make_pipeline(FunctionTransformer(np.log1p), Ridge(alpha=1e-3)),
            func=np.log1p, inverse_func=np.expm1,
        )
    if family == "boosting":
        return GradientBoostingRegressor(n_estimators=300, max_depth=3, learning_rate=0.05, random_state=seed)
    if family == "forest":
        return RandomForestRegressor(n_estimators=200, min_samples_leaf=1, random_state=seed)
    raise ValueError(f"mase_cost: unknown model family {family!r}; families: {FAMILIES}")


def relative_errors(y_hat, y) -> np.ndarray:
    """``|y_hat - y| / max(y, 1)`` per point."""
    y = np.asarray(y, float)
    return np.abs(np.asarray(y_hat, float) - y) / np.maximum(y, 1.0)


def _cv_score(family: str, x, y, seed: int, folds: int = 5) -> float:
    from sklearn.model_selection import KFold

    errs = []
    for tr, te in KFold(n_splits=min(folds, len(y)), shuffle=True, random_state=seed).split(x):
        m = _make(family, seed).fit(x[tr], y[tr])
        errs.append(relative_errors(np.maximum(m.predict(x[te]), 0), y[te]))
    return float(np.mean(np.concatenate(errs)))


def _swept_params(module: str, rows) -> dict[str, tuple[int, int]]:
    """Range of every integer Verilog parameter over the training rows (defaults filled in)."""
    spec = catalog.get(module)
    vals: dict[str, list[int]] = {}
    for r in rows:
        for k, v in spec.verilog_params(r["params"]).items():
            if not isinstance(v, str):
                vals.setdefault(k, []).append(int(v))
    return {k: (min(v), max(v)) for k, v in vals.items()}


class CostModel:
    """Per-(module, target) regressors plus their fitted ranges and measured errors."""

    def __init__(self, models, families, feature_names, ranges, errors=None, meta=None):
        self.models = models  # {(module, target): estimator}
        self.families = families  # {(module, target): family name}
        self.feature_names = feature_names  # {module: [feature, ...]}
        self.ranges = ranges  # {module: {param: (lo, hi)}}
        self.errors = errors or {}  # {(module, target): {"interp_mape": ..., ...}}
        self.meta = meta or {}

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def fit(cls, dataset=None, seed: int = 0, families=FAMILIES, targets=FIT_TARGETS, verbose=False) -> "CostModel":
        """Fit on ``dataset`` (a CSV path, or rows from :func:`mase_cost.dataset.load`;
        default: the shipped one).  Picks the best family per (module, target) by CV."""
        from mase_cost import dataset as ds

        rows = ds.load(dataset) if dataset is None or isinstance(dataset, (str, Path)) else list(dataset)
        models, fams, names, ranges, cv = {}, {}, {}, {}, {}
        for module in sorted({r["module"] for r in rows} & set(FEATURES)):
            mrows = [r for r in rows if r["module"] == module]
            x, fnames = _matrix(module, mrows)
            names[module], ranges[module] = fnames, _swept_params(module, mrows)
            for t in targets:
                y = np.array([r[t] for r in mrows], float)
                if np.ptp(y) == 0 or len(y) < 3:
                    models[(module, t)], fams[(module, t)] = Constant(np.mean(y)), "constant"
                    continue
                cands = list(families) if len(y) >= 10 else ["linear"]
                scores = {f: _cv_score(f, x, y, seed) for f in cands} if len(cands) > 1 else {cands[0]: 0.0}
                best = min(scores, key=scores.get)
                cv[(module, t)] = scores
                if verbose:
                    print(module, t, {k: round(v, 4) for k, v in scores.items()}, "->", best)
                # stored as numpy arithmetic: loading must not import scikit-learn (seconds)
                models[(module, t)], fams[(module, t)] = compact(best, _make(best, seed).fit(x, y)), best
        import sklearn

        meta = {"n_rows": len(rows), "sklearn": sklearn.__version__, "cv_scores": cv}
        return cls(models, fams, names, ranges, meta=meta)

    @classmethod
    def default(cls) -> "CostModel":
        """The model fitted on the shipped dataset (``data/cost_model.pkl``)."""
        return cls.load(DEFAULT_MODEL)

    @classmethod
    def load(cls, path) -> "CostModel":
        with Path(path).open("rb") as f:
            state = pickle.load(f)
        return cls(**state)

    def save(self, path) -> None:
        state = dict(models=self.models, families=self.families, feature_names=self.feature_names,
                     ranges=self.ranges, errors=self.errors, meta=self.meta)
        Path(path).write_bytes(pickle.dumps(state))

    # ---- queries ----------------------------------------------------------------------------
    @property
    def modules(self) -> list[str]:
        return sorted(self.feature_names)

    def check(self, module: str, params: Mapping[str, int], extrapolate: bool = False) -> dict:
        """Resolved parameters, or a ValueError / KeyError naming what is wrong."""
        if module not in self.feature_names:
            raise KeyError(f"mase_cost: no cost model for module {module!r}; modelled: {self.modules}")
        resolved = catalog.get(module).resolve(params)  # legal range (catalog) check
        if not extrapolate:
            for k, (lo, hi) in self.ranges[module].items():
                v = resolved[k]
                if not lo <= v <= hi:
                    raise ValueError(
                        f"mase_cost: {module} parameter {k}={v} is outside the fitted range [{lo}, {hi}]; "
                        "pass extrapolate=True to predict anyway (error unmeasured there)"
                    )
        return resolved

    def predict(self, module: str, params: Mapping[str, int], nodsp: bool = False, extrapolate: bool = False) -> dict:
        """Predicted resources ``{"lut": ..., "ff": ..., "dsp": ..., "carry": ..., ...}`` (floats >= 0)."""
        resolved = self.check(module, params, extrapolate)
        f = features(module, resolved, nodsp)
        x = np.array([[f[n] for n in self.feature_names[module]]])
        return {t: float(max(self.models[(module, t)].predict(x)[0], 0.0))
                for (m, t) in self.models if m == module}

    def throughput(self, module: str, params: Mapping[str, int], clock_mhz: float) -> dict:
        """Cycle counts and rates at ``clock_mhz`` (see :mod:`mase_cost.cycles`)."""
        from mase_cost.cycles import throughput

        if clock_mhz <= 0:
            raise ValueError(f"mase_cost: clock_mhz must be positive, got {clock_mhz}")
        resolved = self.check(module, params, extrapolate=True)
        return throughput(module, resolved, clock_mhz)


def fit_default(dataset=None, out=None, seed: int = 0, verbose: bool = False, evaluated=None) -> CostModel:
    """Measure held-out error on ``dataset`` (:func:`mase_cost.evaluate.evaluate`, or reuse
    ``evaluated``), refit on every point, attach the measured errors to the model and save it to ``out``."""
    from mase_cost import dataset as ds
    from mase_cost.evaluate import evaluate

    rows = ds.load(dataset)
    errors, _ = evaluated if evaluated is not None else evaluate(rows, seed)
    model = CostModel.fit(rows, seed=seed, verbose=verbose)
    model.errors = errors
    model.meta["dataset"] = str(dataset or ds.DEFAULT_DATASET)
    model.save(out or DEFAULT_MODEL)
    return model


def _matrix(module: str, rows) -> tuple[np.ndarray, list[str]]:
    spec = catalog.get(module)
    feats = [features(module, spec.resolve(r["params"]), r["nodsp"]) for r in rows]
    names = list(feats[0])
    return np.array([[f[n] for n in names] for f in feats], float), names
