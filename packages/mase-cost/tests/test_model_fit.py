"""CostModel.fit on rows whose resources follow a known law (the oracle), and the input checks."""

import numpy as np
import pytest

from mase_cost.model import FAMILIES, CostModel


def _law(p, nodsp):
    """A made-up but hardware-shaped law: a w_a*w_b soft multiplier per lane when the
    product stays in LUTs (-nodsp, or narrower than the 9 bits that earn a DSP48),
    plus registers."""
    lanes = p["BLOCK_0"] * p["BLOCK_1"]
    wa, wb = p["A_MAN"] + 1, p["B_MAN"] + 1
    soft = 1 if nodsp or wa + wb < 9 else 0
    return 3 * lanes * wa * wb * soft + 2 * lanes * (p["OUT_MAN"] + 1) + 17


def _rows():
    rows = []
    for b0 in (1, 2, 4, 8):
        for b1 in (1, 2):
            for m in (3, 5, 7, 9):
                for om in (3, 7):
                    for nodsp in (0, 1):
                        p = {"BLOCK_0": b0, "BLOCK_1": b1, "A_MAN": m, "B_MAN": m, "OUT_MAN": om}
                        y = _law(p, nodsp)
                        rows.append({"module": "mase_mxint_mul", "params": p, "nodsp": nodsp,
                                     **{t: y for t in ("lut", "ff", "carry", "cells", "muxf")},
                                     "dsp": 0, "bram": 0, "lutram": 0})
    return rows


@pytest.fixture(scope="module")
def model():
    return CostModel.fit(_rows(), families=("linear", "powerlaw", "forest"), targets=("lut", "dsp"))


def test_fit_recovers_a_linear_law_at_an_unseen_interior_point(model):
    p = {"BLOCK_0": 4, "BLOCK_1": 2, "A_MAN": 6, "B_MAN": 6, "OUT_MAN": 5}  # A_MAN=6, OUT_MAN=5 never seen
    got = model.predict("mase_mxint_mul", p, nodsp=True)["lut"]
    assert got == pytest.approx(_law(p, 1), rel=0.02)
    assert model.families[("mase_mxint_mul", "lut")] == "linear"  # the exact family wins the CV
    # the DSPs of the mul are counted from its lanes (features.structural_dsp), not fitted
    assert model.families[("mase_mxint_mul", "dsp")] == "structural"


def test_unknown_module_is_refused(model):
    with pytest.raises(KeyError, match="no cost model for module 'mase_nope'"):
        model.predict("mase_nope", {})


def test_illegal_parameter_is_refused_by_the_catalog_range(model):
    with pytest.raises(ValueError, match="A_MAN=40 outside its legal range"):
        model.predict("mase_mxint_mul", {"A_MAN": 40})


def test_parameter_outside_the_fitted_range_is_refused_unless_asked(model):
    p = {"BLOCK_0": 16, "BLOCK_1": 1, "A_MAN": 5, "B_MAN": 5, "OUT_MAN": 3}
    with pytest.raises(ValueError, match=r"BLOCK_0=16 is outside the fitted range \[1, 8\]"):
        model.predict("mase_mxint_mul", p)
    assert model.predict("mase_mxint_mul", p, extrapolate=True)["lut"] > 0


def test_save_load_round_trip_predicts_the_same(model, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    p = {"BLOCK_0": 2, "BLOCK_1": 2, "A_MAN": 5, "B_MAN": 5, "OUT_MAN": 7}
    assert CostModel.load(path).predict("mase_mxint_mul", p) == model.predict("mase_mxint_mul", p)


def test_throughput_refuses_a_bad_clock(model):
    with pytest.raises(ValueError, match="clock_mhz must be positive"):
        model.throughput("mase_mxint_mul", {}, 0)


def test_every_family_fits():
    from mase_cost.model import _make

    x = np.arange(1, 41, dtype=float).reshape(20, 2)
    y = 3 * x[:, 0] + 5
    for fam in FAMILIES:
        assert _make(fam, 0).fit(x, y).predict(x[:1]).shape == (1,)


@pytest.mark.parametrize("family", FAMILIES)
def test_compact_predictor_equals_scikit_learn(family):
    """The stored numpy form predicts what the fitted scikit-learn estimator predicts."""
    from mase_cost.compact import compact
    from mase_cost.model import _make

    rng = np.random.default_rng(3)
    x = rng.uniform(1, 50, size=(60, 3))
    y = 2 * x[:, 0] * x[:, 1] + 7 * x[:, 2] + rng.normal(0, 5, 60) + 300
    est = _make(family, 0).fit(x, y)
    x_new = rng.uniform(0, 60, size=(25, 3))
    np.testing.assert_allclose(compact(family, est).predict(x_new), est.predict(x_new), rtol=1e-9, atol=1e-6)
