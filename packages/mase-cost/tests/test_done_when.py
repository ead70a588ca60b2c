"""Issue 15, part 4 done-when, on the shipped default model: the 384x384 linear of the main command
at the default mapping's tiles, -nodsp (the flow's default mapping)."""

import os
import sys
from pathlib import Path

import pytest

from mase_cost import CostModel, dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fresh_linear import KEY_TILES  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return CostModel.default()


def _linear(m, out_man):
    return dict(KEY_TILES, X_MAN=m, W_MAN=m, BIAS_MAN=m, OUT_MAN=out_man)


def test_fewer_mantissa_bits_cost_fewer_luts_and_none_is_extrapolated(model):
    # predict() without extrapolate=True raises outside the fitted range: none of these may
    lut = {m: model.predict("mase_mxint_linear", _linear(m, m), nodsp=True)["lut"] for m in (3, 5, 7)}
    assert lut[3] < lut[5] < lut[7], lut
    assert model.rtl_status("mase_mxint_linear") is None  # fitted on the installed RTL


def test_predictions_follow_the_synthesized_key_points(model):
    """Oracle: the synthesized key points in the dataset (the model's ranking must be theirs)."""
    rows = [r for r in dataset.load() if r["module"] == "mase_mxint_linear" and r["nodsp"]
            and r["rtl_version"] == model.meta["rtl_status"]["mase_mxint_linear"]["installed"]
            and all(r["params"].get(k) == v for k, v in KEY_TILES.items())
            and r["params"]["OUT_MAN"] == r["params"]["X_MAN"]]
    got = {r["params"]["X_MAN"]: r["lut"] for r in rows}
    assert {3, 5, 7} <= set(got), sorted(got)
    assert got[3] < got[5] < got[7], got


def test_int8_fixed_linear_has_an_estimate_at_the_same_tiles(model):
    params = {k: v for k, v in KEY_TILES.items() if not k.endswith("_EXP")}
    est = model.predict("mase_fixed_linear", dict(params, X_WIDTH=8, W_WIDTH=8, B_WIDTH=8, OUT_WIDTH=8), nodsp=True)
    assert est["lut"] > 0 and est["dsp"] == 0
    assert model.rtl_status("mase_fixed_linear") is None


@pytest.mark.skipif(os.environ.get("MASE_COST_FRESH") != "1",
                    reason="a fresh key-tile synthesis takes minutes here: MASE_COST_FRESH=1 (benchmarks/fresh_linear.py)")
def test_fresh_key_tile_synthesis_is_within_the_reported_band(model):
    from fresh_linear import LIMIT_S, check

    res = check(model)
    assert res["status"] == "ok", res
    assert res["wall_s"] < LIMIT_S, res
    assert res["within_band"], res
