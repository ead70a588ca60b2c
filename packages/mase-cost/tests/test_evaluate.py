"""The held-out protocol: disjoint splits, the extrapolation region, the metrics' arithmetic."""

import math

import pytest

from mase_cost.evaluate import metrics, split


def _rows(mans=(3, 5, 7, 9, 11)):
    return [
        {"module": "mase_mxint_cast", "params": {"BLOCK_0": b, "IN_MAN": m}, "nodsp": n, "id": (b, m, n)}
        for b in (1, 2, 4, 8) for m in mans for n in (0, 1)
    ]


def test_split_holds_out_the_widest_block_and_a_disjoint_interpolation_set():
    train, interp, extrap = split(_rows(), seed=0)
    ids = [r["id"] for r in train + interp + extrap]
    assert len(ids) == len(set(ids)) == 40
    assert {r["params"]["BLOCK_0"] for r in extrap} == {8} and len(extrap) == 10
    assert all(r["params"]["BLOCK_0"] < 8 for r in train + interp)
    assert len(interp) == round(0.2 * 30)


def test_small_module_keeps_every_non_extrapolation_point_for_kfold():
    """18 non-extrapolation points (< KFOLD_BELOW): no 20% hold-out, evaluate() cross-predicts them."""
    train, interp, extrap = split(_rows(mans=(3, 5, 7)), seed=0)
    assert len(train) == 18 and interp == [] and len(extrap) == 6


def test_metrics_by_hand():
    m = metrics([110, 90, 5], [100, 100, 0])
    assert m["n"] == 3
    assert m["mape"] == pytest.approx(10.0)  # the zero-count point is left out of the percentages
    assert m["max_pct"] == pytest.approx(10.0)
    assert m["max_abs"] == 10.0
    assert math.isnan(metrics([1.0], [0.0])["mape"])


def _mul_rows(blocks, mans):
    """Rows following a law that is exact in the mul features (soft multiplier + registers)."""
    rows = []
    for b in blocks:
        for m in mans:
            for nodsp in (0, 1):
                wa = m + 1
                soft = 1 if nodsp or 2 * wa < 9 else 0
                y = 3 * soft * b * wa * wa + 2 * b * 8 + 17
                rows.append({"module": "mase_mxint_mul", "params": {"BLOCK_0": b, "A_MAN": m, "B_MAN": m},
                             "nodsp": nodsp, **{t: 0.0 for t in ("ff", "dsp", "carry", "bram", "lutram", "muxf",
                                                                 "cells")}, "lut": float(y)})
    return rows


@pytest.mark.slow
def test_small_module_interpolation_is_kfold_cross_prediction_and_tiny_ones_have_none():
    from mase_cost.evaluate import evaluate

    errors, preds = evaluate(_mul_rows((1, 2, 4), (3, 5)), targets=("lut",))
    e = errors[("mase_mxint_mul", "lut")]
    assert e["interp_protocol"] == "5-fold" and e["interp_n"] == 8 and e["extrap_n"] == 4
    assert e["interp_mape"] < 5 and e["extrap_mape"] < 5  # the law is in the features' span
    assert sum(1 for p in preds if p[2] == "interp") == 8  # every non-extrapolation point predicted once
    tiny = evaluate(_mul_rows((1,), (3,)), targets=("lut",))[0][("mase_mxint_mul", "lut")]
    assert tiny["interp_protocol"].startswith("none") and tiny["interp_n"] == 0
