"""Area models: scikit-learn regressors per (operator, resource), fitted on synthesis records.

For every operator and target (LUT, FF, DSP, CARRY, ...) :meth:`CostModel.fit`
compares four model families on the engineered features of
:mod:`mase_cost.features` by 5-fold cross-validation and keeps the best:

* ``linear``    -- non-negative least squares, ``y = c0 + sum_i c_i f_i`` with
  ``c_i >= 0`` (each structure adds area; none removes it);
* ``powerlaw``  -- ridge regression in log space, ``log(1+y) = b0 + sum_i b_i log(1+f_i)``,
  i.e. ``y ~ prod f_i^b_i``, with ``b_i >= 0``;
* ``boosting``  -- gradient-boosted trees on the features (histogram boosting);
* ``forest``    -- a random forest on the features.

Monotone by construction (``monotone=True``, the default of :meth:`CostModel.fit`): the
two regressions have non-negative weights, and the tree ensembles are fitted with a
non-decreasing constraint on every feature except the DSP indicators
(:data:`mase_cost.features.UNCONSTRAINED`).  Every other feature is non-decreasing in
every mantissa / width / exponent parameter (:mod:`mase_cost.features`), so every
prediction is too, at a fixed -nodsp and DSP mapping (``tests/test_monotone.py`` sweeps
them).  A product that crosses the DSP48 threshold (9 bits) does lose its LUTs: that
step is real hardware and stays in the model.

The selection score is the mean relative error ``|y_hat - y| / max(y, 1)``
(the ``max`` keeps the zero-DSP points from dominating).  A target that is
constant on the data is a ``constant`` model.

Predictions are refused, with an error naming the module and parameter, for a
module without a model, a parameter outside the catalog's legal range, or a
parameter outside the range the model was fitted on (unless the caller passes
``extrapolate=True``: tree models are flat outside their data).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np
from mase_hwlib import catalog

from mase_cost import model_io
from mase_cost.compact import Constant, compact
from mase_cost.features import FEATURES, STRUCTURAL_DSP, features, structural_dsp
from mase_cost.synth import TARGETS

__all__ = ["CostModel", "DEFAULT_MODEL", "FAMILIES", "FIT_TARGETS", "fit_default", "relative_errors"]

#: Targets a CostModel predicts (every resource count of a record).
FIT_TARGETS = TARGETS
#: Model families compared per target.
FAMILIES = ("linear", "powerlaw", "boosting", "forest")
#: The fitted default model (package data, written by ``mase-cost fit`` / ``refit``; the
#: pickle-free form of :mod:`mase_cost.model_io`).
DEFAULT_MODEL = Path(str(resources.files("mase_cost").joinpath("data", "cost_model.npz")))


def _make(family: str, seed: int, monotone=None):
    """The estimator of ``family``; ``monotone`` = per-feature constraints (1 non-decreasing,
    0 free) for a monotone fit, or None for the unconstrained families of mase-cost 0.1."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    if family == "linear":
        return LinearRegression(positive=True)
    if family == "powerlaw":
        return TransformedTargetRegressor(
            regressor=make_pipeline(FunctionTransformer(np.log1p), Ridge(alpha=1e-3, positive=monotone is not None)),
            func=np.log1p, inverse_func=np.expm1,
        )
    if family == "boosting":
        if monotone is None:
            return GradientBoostingRegressor(n_estimators=300, max_depth=3, learning_rate=0.05, random_state=seed)
        # sklearn's GradientBoostingRegressor has no monotonic constraints; the histogram one does
        return HistGradientBoostingRegressor(max_iter=300, max_depth=3, learning_rate=0.05, min_samples_leaf=2,
                                             max_bins=255, early_stopping=False, monotonic_cst=list(monotone),
                                             random_state=seed)
    if family == "forest":
        return RandomForestRegressor(n_estimators=200, min_samples_leaf=1, random_state=seed,
                                     monotonic_cst=None if monotone is None else list(monotone))
    raise ValueError(f"mase_cost: unknown model family {family!r}; families: {FAMILIES}")


def relative_errors(y_hat, y) -> np.ndarray:
    """``|y_hat - y| / max(y, 1)`` per point."""
    y = np.asarray(y, float)
    return np.abs(np.asarray(y_hat, float) - y) / np.maximum(y, 1.0)


def monotone_constraints(feature_names) -> list[int]:
    """1 (non-decreasing) for every feature, 0 for :data:`mase_cost.features.UNCONSTRAINED`."""
    from mase_cost.features import UNCONSTRAINED

    return [0 if n in UNCONSTRAINED else 1 for n in feature_names]


def _cv_score(family: str, x, y, seed: int, folds: int = 5, monotone=None) -> float:
    from sklearn.model_selection import KFold

    errs = []
    for tr, te in KFold(n_splits=min(folds, len(y)), shuffle=True, random_state=seed).split(x):
        m = _make(family, seed, monotone).fit(x[tr], y[tr])
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
    def fit(cls, dataset=None, seed: int = 0, families=FAMILIES, targets=FIT_TARGETS, verbose=False,
            monotone: bool = True) -> "CostModel":
        """Fit on ``dataset`` (a CSV path, or rows from :func:`mase_cost.dataset.load`;
        default: the shipped one).  Picks the best family per (module, target) by CV.

        ``monotone``: constrain every family to predictions non-decreasing in the features
        (module docstring); False reproduces the unconstrained fits of mase-cost 0.1.
        Modules without a feature function or a catalog entry, and rows the installed
        catalog refuses (a parameter since removed or re-ranged), are skipped; what was
        skipped and why is in ``meta["skipped"]`` (and printed with ``verbose``)."""
        from mase_cost import dataset as ds
        from threadpoolctl import threadpool_limits

        rows = ds.load(dataset) if dataset is None or isinstance(dataset, (str, Path)) else list(dataset)
        # one OpenMP thread: histogram boosting on a few dozen points with the default thread pool
        # spins on a loaded machine (18 s instead of 0.5 s per fit measured on the shared 2 cores)
        with threadpool_limits(1):
            return cls._fit(rows, seed, families, targets, verbose, monotone)

    @classmethod
    def _fit(cls, rows, seed, families, targets, verbose, monotone) -> "CostModel":
        from mase_cost.features import available

        models, fams, names, ranges, cv, mixed = {}, {}, {}, {}, {}, {}
        usable, skipped = available(sorted({r["module"] for r in rows}))
        for module in usable:
            mrows, refused = _usable_rows(module, [r for r in rows if r["module"] == module])
            if refused:
                skipped[f"{module} ({len(refused)} rows)"] = refused[0]
            if not mrows:
                continue
            builds = sorted({" ".join(str(r.get("yosys_version", "")).split()[:2]) for r in mrows} - {""})
            if len(builds) > 1:
                mixed[module] = builds
            x, fnames = _matrix(module, mrows)
            names[module], ranges[module] = fnames, _swept_params(module, mrows)
            cst = monotone_constraints(fnames) if monotone else None
            for t in targets:
                y = np.array([r[t] for r in mrows], float)
                if np.ptp(y) == 0 or len(y) < 3:
                    models[(module, t)], fams[(module, t)] = Constant(np.mean(y)), "constant"
                    continue
                cands = list(families) if len(y) >= 10 else ["linear"]
                scores = {f: _cv_score(f, x, y, seed, monotone=cst) for f in cands} if len(cands) > 1 \
                    else {cands[0]: 0.0}
                best = min(scores, key=scores.get)
                cv[(module, t)] = scores
                if verbose:
                    print(module, t, {k: round(v, 4) for k, v in scores.items()}, "->", best)
                # stored as numpy arithmetic: loading must not import scikit-learn (seconds)
                models[(module, t)], fams[(module, t)] = compact(best, _make(best, seed, cst).fit(x, y)), best
            if module in STRUCTURAL_DSP and "dsp" in targets:
                # predict() counts these DSPs from the multipliers (features.structural_dsp); the
                # fitted model is only the fallback for products wider than one DSP48E1
                fams[(module, "dsp")] = "structural"
        import sklearn

        if verbose:
            for what, why in skipped.items():
                print(f"mase-cost fit: skipped {what}: {why}")
            for module, builds in mixed.items():
                print(f"mase-cost fit: WARNING {module} mixes rows of {', '.join(builds)} (their counts differ; "
                      "fit on one: dataset.load(yosys=...) / mase-cost fit --yosys)")
        meta = {"n_rows": len(rows), "sklearn": sklearn.__version__, "cv_scores": cv, "monotone": monotone,
                "skipped": skipped, "mixed_yosys": mixed}
        return cls(models, fams, names, ranges, meta=meta)

    @classmethod
    def default(cls) -> "CostModel":
        """The model fitted on the shipped dataset (``data/cost_model.npz``)."""
        return cls.load(DEFAULT_MODEL)

    @classmethod
    def load(cls, path) -> "CostModel":
        """A model saved by :meth:`save`; the file holds numbers and text only
        (:mod:`mase_cost.model_io`), so loading one from elsewhere runs no code from it."""
        return cls(**model_io.load(path))

    def save(self, path) -> None:
        """Write the model to ``path`` (an ``.npz`` file, :mod:`mase_cost.model_io`), atomically."""
        state = dict(models=self.models, families=self.families, feature_names=self.feature_names,
                     ranges=self.ranges, errors=self.errors, meta=self.meta)
        # atomically (temp file + rename): a reader never sees half a model
        import os
        import tempfile

        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(model_io.dumps(state))
                f.flush()
                os.fsync(f.fileno())  # on disk before the rename: a crash leaves the old model or the new
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 -> an ordinary file
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ---- queries ----------------------------------------------------------------------------
    def rtl_status(self, module: str) -> str | None:
        """``None`` when ``module`` was fitted on records of the installed RTL, else the reason:
        ``"stale RTL: fitted on mase-hwlib ...+<hash> (Yosys 0.23), installed ...+<hash>"``
        (:mod:`mase_cost.refit`; a model fitted with ``rtl="all"`` knows neither: None)."""
        st = self.meta.get("rtl_status", {}).get(module)
        if not st or st.get("rtl") == "current":
            return None
        return f"stale RTL: fitted on {st['rtl_version']} ({st['yosys']}), installed {st['installed']}"

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
        out = {t: float(max(self.models[(module, t)].predict(x)[0], 0.0))
               for (m, t) in self.models if m == module}
        dsp = structural_dsp(module, resolved, nodsp)
        if dsp is not None and "dsp" in out:  # counted from the RTL's multipliers: exact
            out["dsp"] = float(dsp)
        return out

    def throughput(self, module: str, params: Mapping[str, int], clock_mhz: float) -> dict:
        """Cycle counts and rates at ``clock_mhz`` (see :mod:`mase_cost.cycles`)."""
        from mase_cost.cycles import throughput

        if clock_mhz <= 0:
            raise ValueError(f"mase_cost: clock_mhz must be positive, got {clock_mhz}")
        resolved = self.check(module, params, extrapolate=True)
        return throughput(module, resolved, clock_mhz)


    def clock_mhz(self, module: str, params: Mapping[str, int] | None = None, timing=None,
                  fallback_mhz: float | None = None) -> tuple[float, str]:
        """``(mhz, label)``: the clock ``module`` at ``params`` is quoted at, from timing-driven
        place and route (:func:`mase_cost.timing.clock_estimate`: the point's own Fmax, else the
        slowest measured point of the module, else ``fallback_mhz`` -- 200 MHz -- labelled as
        assumed).  ``timing``: a timing CSV or its rows (default: the shipped ``timing_ecp5.csv``)."""
        from mase_cost import timing as tm

        rows = _timing_rows(timing)
        fb = tm.FALLBACK_MHZ if fallback_mhz is None else fallback_mhz
        return tm.clock_estimate(rows, module, params, fb)

    def design_clock_mhz(self, operators, timing=None, fallback_mhz: float | None = None) -> tuple[float, str]:
        """The clock of a design made of ``operators`` (``(module, params)`` pairs): the lowest
        :meth:`clock_mhz` of them, labelled ``"<module>: <its label>"`` (the operator that limits it)."""
        quotes = [(self.clock_mhz(m, p, timing, fallback_mhz), m) for m, p in operators]
        if not quotes:
            raise ValueError("mase_cost: design_clock_mhz needs at least one (module, params) operator")
        (mhz, label), module = min(quotes, key=lambda q: q[0][0])
        return mhz, f"{module}: {label}"


_TIMING_CACHE: dict = {}


def _timing_rows(timing):
    """Timing records from a CSV path (cached by path and modification time) or given rows."""
    from mase_cost import timing as tm

    if timing is not None and not isinstance(timing, (str, Path)):
        return list(timing)
    path = Path(timing) if timing is not None else tm.DEFAULT_TIMING
    stamp = (str(path), path.stat().st_mtime_ns if path.exists() else None)
    if stamp not in _TIMING_CACHE:
        _TIMING_CACHE.clear()
        _TIMING_CACHE[stamp] = tm.load_timing(path) if path.exists() else []
    return _TIMING_CACHE[stamp]


def fit_default(dataset=None, out=None, seed: int = 0, verbose: bool = False, evaluated=None,
                yosys: str | None = None, rtl: str = "current", rtl_status=None, dataset_path=None) -> CostModel:
    """Measure held-out error on ``dataset`` (:func:`mase_cost.evaluate.evaluate`, or reuse
    ``evaluated``), refit on every point, attach the measured errors to the model and save it
    (atomically) to ``out``.

    ``dataset``: a CSV path (default: the shipped one) or rows already selected (then
    ``rtl_status`` says how: :func:`mase_cost.refit.select_current`).  From a CSV, ``rtl="current"``
    fits each module on its rows of the installed RTL only, or -- where it has none -- on its
    older rows, flagged ``"stale"`` in ``meta["rtl_status"]`` (:mod:`mase_cost.refit`);
    ``rtl="all"`` fits every row (mase-cost 0.1).  ``yosys``: only the rows of that build
    (``"Yosys 0.70"``; :func:`mase_cost.dataset.load`)."""
    from mase_cost import dataset as ds
    from mase_cost.evaluate import evaluate
    from mase_cost.refit import select_current

    if rtl not in ("current", "all"):
        raise ValueError(f"mase_cost.fit_default: rtl={rtl!r}; expected 'current' or 'all'")
    if dataset is None or isinstance(dataset, (str, Path)):
        dataset_path = dataset_path or dataset or ds.DEFAULT_DATASET
        rows = ds.load(dataset, yosys=yosys)
        if rtl == "current":
            rows, rtl_status = select_current(rows)
    else:
        rows = list(dataset)
    errors, _ = evaluated if evaluated is not None else evaluate(rows, seed)
    model = CostModel.fit(rows, seed=seed, verbose=verbose)
    model.errors = errors
    model.meta["dataset"] = str(dataset_path or "rows")
    model.meta["rtl_status"] = rtl_status or {}
    model.save(out or DEFAULT_MODEL)
    return model


def _usable_rows(module: str, rows) -> tuple[list, list[str]]:
    """The rows whose parameters the installed catalog accepts, and a message per refused row."""
    spec = catalog.get(module)
    ok, refused = [], []
    for r in rows:
        try:
            spec.resolve(r["params"])
        except ValueError as e:
            refused.append(f"parameters refused by the catalog: {e}")
            continue
        ok.append(r)
    return ok, refused


def _matrix(module: str, rows) -> tuple[np.ndarray, list[str]]:
    spec = catalog.get(module)
    feats = [features(module, spec.resolve(r["params"]), r["nodsp"]) for r in rows]
    names = list(feats[0])
    return np.array([[f[n] for n in names] for f in feats], float), names
