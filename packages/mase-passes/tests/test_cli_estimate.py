"""What a comparison row says about its hardware (mase_passes.cli.hardware.describe): the cost
model's error band of a total, the extrapolated flag and the clock with its source.

Oracles: hand-built two-stage estimates; the band is the area-weighted mean of the stages'
MAPEs worked out by hand; the clock is the slowest stage's."""

import pytest

from mase_passes.cli.hardware import describe, design_clock, error_band
from mase_passes.hardware.estimate import DesignEstimate, StageEstimate

HW = {"clock_mhz": 150.0}


def design():
    lin = StageEstimate("lin", "mase_mxint_linear", {"X_MAN": 3}, 400.0, 10.0,
                        {"lut": 3000.0, "ff": 100.0, "dsp": 4.0, "bram": 0.0}, "estimated (cost model, extrapolated)")
    add = StageEstimate("add", "mase_mxint_add", {}, 100.0, 2.0, {"lut": 1000.0, "ff": 50.0, "dsp": 0.0, "bram": 0.0},
                        "estimated (cost model)")
    rb = StageEstimate("rb", "mase_mxint_reblock", {}, 50.0, 1.0, None, "no cost model for mase_mxint_reblock")
    return DesignEstimate([lin, add, rb], 150.0)


class Model:
    errors = {("mase_mxint_linear", "lut"): {"family": "linear", "interp_mape": 4.0, "extrap_mape": 12.0},
              ("mase_mxint_add", "lut"): {"family": "linear", "interp_mape": 8.0, "extrap_mape": 20.0},
              ("mase_mxint_linear", "dsp"): {"family": "constant", "interp_mape": float("nan")},
              ("mase_mxint_add", "ff"): {"family": "forest", "interp_mape": float("nan")}}


def test_error_band_is_the_area_weighted_mape_with_extrapolation_where_it_applies():
    e = design()
    # linear extrapolates: its extrapolation MAPE (12%) weighs 3000 LUT, the add's 8% 1000 LUT
    assert error_band(e, Model(), "lut") == pytest.approx((12.0 * 3000 + 8.0 * 1000) / 4000)
    assert error_band(e, Model(), "dsp") == 0.0  # a constant target: every synthesized point equal
    assert error_band(e, Model(), "bram") == 0.0  # nothing to be wrong about
    assert error_band(e, Model(), "ff") is None  # no stage of the FF total has a measured error
    d = describe(e, HW, Model())
    assert d["extrapolated"] and d["extrapolated_modules"] == ["mase_mxint_linear"]
    assert d["lut"] == 4000.0 and d["unmodelled"] == ["mase_mxint_reblock"]


def test_the_clock_is_the_slowest_operators_and_says_where_it_comes_from():
    e = design()
    mhz, source = design_clock(e, 150.0, object())  # a cost model without clocks
    assert (mhz, source) == (150.0, "assumed clock ([hardware] clock_mhz = 150)")
    d = describe(e, HW, object())
    assert d["throughput"] == pytest.approx(150e6 / 400.0)  # clock / bottleneck cycles

    class Clocked(Model):
        def clock_mhz(self, module, params, fallback_mhz=None):
            if module == "mase_mxint_reblock":
                raise KeyError(module)
            return {"mase_mxint_linear": 253.0, "mase_mxint_add": 180.0}[module], f"nextpnr Fmax of {module}"

    mhz, source = design_clock(e, 150.0, Clocked())
    assert mhz == 180.0
    assert source == "mase_mxint_add: nextpnr Fmax of mase_mxint_add; no clock estimate for mase_mxint_reblock"
    assert describe(e, HW, Clocked())["throughput"] == pytest.approx(180e6 / 400.0)

    seen = []

    class Fallback(Model):  # the configured clock is the cost model's fallback
        def clock_mhz(self, module, params, fallback_mhz=None):
            seen.append(fallback_mhz)
            return fallback_mhz, f"{fallback_mhz:g} MHz assumed: no place-and-route data for {module}"

    assert design_clock(e, 150.0, Fallback())[0] == 150.0 and set(seen) == {150.0}
