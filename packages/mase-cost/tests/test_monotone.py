"""Predictions never fall when a mantissa / width / exponent parameter grows (issue 15, part 4).

The oracle is the sweep itself (mase_cost.monotone): consecutive legal widths of every
width parameter, the other parameters held, at equal DSP mapping.  Checked on the
features (the construction's premise), on every model family fitted to the shipped
dataset, and on synthetic data for the bounded and fixed-point operators (not yet
synthesized), where the unconstrained families of mase-cost 0.1 do fall -- so the sweep can fail.
"""

import random

import numpy as np
import pytest

from mase_cost import dataset, grids
from mase_cost.features import FEATURES, available, features
from mase_cost.model import FAMILIES, CostModel
from mase_cost.monotone import feature_violations, prediction_violations, width_params


def _bases(module, n=3, seed=0):
    """The catalog defaults plus a few points of the module's grids."""
    pts = [p for g in grids.GRIDS.values() if module in g
           for m, p, _ in grids.points(g, modules=[module], nodsp=(False,))]
    random.Random(seed).shuffle(pts)
    return [{}] + pts[:n]


@pytest.mark.parametrize("module", available()[0])
def test_features_are_monotone_in_every_width_parameter(module):
    assert width_params(module), module
    bad = [v for base in _bases(module) for nodsp in (False, True) for v in feature_violations(module, base, nodsp)]
    assert bad == []


@pytest.fixture(scope="module")
def shipped_rows():
    return dataset.load()


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_fitted_on_the_shipped_dataset_is_monotone(shipped_rows, family):
    # histogram boosting fits 300 trees per target: LUT only keeps it to a few tens of seconds
    targets = ("lut",) if family == "boosting" else ("lut", "ff", "carry")
    model = CostModel.fit(shipped_rows, families=(family,), targets=targets)
    assert set(model.modules) >= {"mase_mxint_mul", "mase_mxint_add", "mase_mxint_linear", "mase_mxint_relu"}
    bad = []
    for module in model.modules:
        rows = [r for r in shipped_rows if r["module"] == module][:3]
        for r in rows:
            # the shipped add / linear / matmul rows are exact-mode (ACC_WIDTH = 0, not swept):
            # sweep them at the default bounded accumulator too
            bounded = {k: v for k, v in r["params"].items() if k != "ACC_WIDTH"}
            for base in (r["params"], bounded):
                bad += prediction_violations(model, module, base, bool(r["nodsp"]))
    assert bad == [], bad[:5]


def _synthetic(module, grid, n, seed):
    """Rows whose 'LUT' count is a positive mix of the module's features times 1 +- 30 % noise:
    a monotone truth that noise makes locally non-monotone in the samples."""
    from mase_hwlib import catalog

    rng = np.random.default_rng(seed)
    pts = grids.points(grid, modules=[module], nodsp=(False, True), seed=seed)[:n]
    spec = catalog.get(module)
    names = list(features(module, spec.resolve(pts[0][1]), False))
    w = rng.uniform(0.2, 2.0, len(names))
    rows = []
    for _, params, nodsp in pts:
        f = features(module, spec.resolve(params), nodsp)
        y = float(np.dot(w, [f[k] for k in names])) * rng.uniform(0.7, 1.3)
        rows.append({"module": module, "params": params, "nodsp": int(nodsp), "lut": y})
    return rows


SYNTHETIC = [("mase_mxint_linear", grids.BOUNDED_GRID), ("mase_fixed_linear", grids.FIXED_GRID),
             ("mase_fixed_add", grids.FIXED_GRID), ("mase_mxint_add", grids.BOUNDED_GRID)]


@pytest.mark.slow
@pytest.mark.parametrize("module,grid", SYNTHETIC, ids=[s[0] for s in SYNTHETIC])
def test_monotone_fit_of_noisy_data_never_falls_and_the_unconstrained_one_does(module, grid):
    rows = _synthetic(module, grid, 60, seed=1)
    bases = [r["params"] for r in rows[:4]]
    for family in ("boosting", "forest", "powerlaw", "linear"):
        model = CostModel.fit(rows, families=(family,), targets=("lut",))
        bad = [v for b in bases for nodsp in (False, True) for v in prediction_violations(model, module, b, nodsp)]
        assert bad == [], (family, bad[:3])
    # the same sweep finds falls in the unconstrained tree families of mase-cost 0.1 on this data
    loose = CostModel.fit(rows, families=("forest",), targets=("lut",), monotone=False)
    falls = [v for b in bases for nodsp in (False, True) for v in prediction_violations(loose, module, b, nodsp)]
    assert falls, "the noisy data should make an unconstrained forest fall somewhere"


def test_every_feature_function_module_is_covered_or_reported():
    usable, skipped = available()
    assert set(usable) | set(skipped) == set(FEATURES)
    assert all("catalog" in why for why in skipped.values())
    _, skipped = available(["mase_no_such_op"])
    assert skipped == {"mase_no_such_op": "no feature function in mase_cost.features"}


def test_fit_skips_modules_and_rows_the_catalog_does_not_know(capsys):
    rows = _synthetic("mase_fixed_add", grids.FIXED_GRID, 12, seed=2)
    rows.append({"module": "mase_not_in_catalog", "params": {}, "nodsp": 0, "lut": 5.0})
    rows.append({"module": "mase_fixed_add", "params": {"BLOCK": 99999}, "nodsp": 0, "lut": 5.0})
    model = CostModel.fit(rows, families=("linear",), targets=("lut",), verbose=True)
    assert model.modules == ["mase_fixed_add"]
    out = capsys.readouterr().out
    assert "skipped mase_not_in_catalog: no feature function" in out
    assert "skipped mase_fixed_add (1 rows): parameters refused by the catalog: mase_fixed_add: parameter BLOCK=99999" in out


def test_the_default_model_never_falls_at_fixed_nodsp():
    """The shipped default model (``mase-cost refit``), every modelled module, every target:
    swept over every mantissa / width parameter's legal range around fitted points, -nodsp and not."""
    from mase_cost.refit import select_current

    model = CostModel.default()
    rows, _ = select_current(dataset.load())
    bad = []
    for module in model.modules:
        mine = [r for r in rows if r["module"] == module]
        for r in random.Random(0).sample(mine, min(3, len(mine))):
            for nodsp in (True, False):
                bad += prediction_violations(model, module, r["params"], nodsp)
    assert bad == [], bad[:5]
