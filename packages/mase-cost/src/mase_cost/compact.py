"""Fitted scikit-learn regressors turned into plain numpy predictors.

Unpickling a scikit-learn estimator imports scikit-learn and SciPy, which takes
seconds; the default model must load in well under one.  So the saved model
holds these small classes instead, with exactly the arithmetic of the fitted
estimators (the tests compare them with scikit-learn's own ``predict``):

* linear:   ``y = x . c + c0``
* powerlaw: ``y = expm1(log1p(x) . b + b0)``
* boosting: ``y = y0 + lr * sum_t tree_t(x)``   (``y0`` the training mean; histogram
  boosting: ``y = baseline + sum_t tree_t(x)``, the rate folded into its leaves)
* forest:   ``y = mean_t tree_t(x)``

A tree is its node arrays (left, right, feature, threshold, value); a sample
goes left when ``x[feature] <= threshold``, as in scikit-learn.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Constant", "Linear", "PowerLaw", "Trees", "compact"]


class Constant:
    def __init__(self, value: float):
        self.value = float(value)

    def predict(self, x):
        return np.full(len(x), self.value)


class Linear:
    def __init__(self, coef, intercept):
        self.coef, self.intercept = np.asarray(coef, float), float(intercept)

    def predict(self, x):
        return np.asarray(x, float) @ self.coef + self.intercept


class PowerLaw(Linear):
    def predict(self, x):
        return np.expm1(np.log1p(np.asarray(x, float)) @ self.coef + self.intercept)


class Trees:
    def __init__(self, trees, base: float, scale: float, mean: bool):
        self.trees = trees  # list of (left, right, feature, threshold, value) arrays
        self.base, self.scale, self.mean = float(base), float(scale), mean

    @staticmethod
    def _one(tree, row) -> float:
        left, right, feature, threshold, value = tree
        node = 0
        while left[node] != -1:  # -1 marks a leaf
            node = left[node] if row[feature[node]] <= threshold[node] else right[node]
        return value[node]

    def predict(self, x):
        x = np.asarray(x, float)
        total = np.array([[self._one(t, row) for t in self.trees] for row in x]).sum(axis=1)
        if self.mean:
            total = total / len(self.trees)
        return self.base + self.scale * total


def _tree_arrays(est):
    t = est.tree_
    return (t.children_left.copy(), t.children_right.copy(), t.feature.copy(), t.threshold.copy(),
            t.value[:, 0, 0].copy())


def _hist_tree_arrays(nodes):
    """A histogram-boosting tree (its ``nodes`` record array) in the same five arrays.

    Its split sends ``x <= num_threshold`` left, as scikit-learn's trees do; the leaf
    values already include the learning rate.  (Missing values never occur here.)"""
    leaf = nodes["is_leaf"].astype(bool)
    left = np.where(leaf, -1, nodes["left"].astype(np.int64))  # uint32 there: -1 must not wrap
    right = np.where(leaf, -1, nodes["right"].astype(np.int64))
    return (left, right, nodes["feature_idx"].astype(np.int64), nodes["num_threshold"].astype(float),
            nodes["value"].astype(float))


def compact(family: str, est):
    """The numpy predictor equivalent to the fitted estimator ``est`` of ``family``."""
    if family == "constant":
        return Constant(est.value)
    if family == "linear":
        return Linear(est.coef_, est.intercept_)
    if family == "powerlaw":
        ridge = est.regressor_[-1]
        return PowerLaw(ridge.coef_, ridge.intercept_)
    if family == "boosting" and hasattr(est, "_predictors"):  # HistGradientBoostingRegressor
        return Trees([_hist_tree_arrays(p[0].nodes) for p in est._predictors],
                     float(np.asarray(est._baseline_prediction).ravel()[0]), 1.0, mean=False)
    if family == "boosting":
        base = float(np.asarray(est.init_.constant_).ravel()[0])
        return Trees([_tree_arrays(e) for e in est.estimators_[:, 0]], base, est.learning_rate, mean=False)
    if family == "forest":
        return Trees([_tree_arrays(e) for e in est.estimators_], 0.0, 1.0, mean=True)
    raise ValueError(f"mase_cost: cannot compact model family {family!r}")
