"""The headline numbers of `mase run`: the paired accuracy interval of [report] confirm_samples and
the element-weighted mean mantissa of the chosen configuration (oracles: sums by hand and the
statistics module; labels and predictions counted directly on the eager model)."""

import math
import statistics

import pytest
import torch

from mase_passes.cli import stages as st
from mase_passes.passes.quantize import Quantize


def test_paired_interval_is_mean_and_normal_interval_of_the_differences():
    diffs = [1, 0, 0, -1, 1, 1, 0, 0]
    r = st.paired_interval(diffs)
    # by hand: mean 2/8; squared deviations 3 * 0.75^2 + 4 * 0.25^2 + 1.25^2 = 3.5, / 7 = 0.5
    assert r["difference"] == pytest.approx(0.25)
    assert r["standard_error"] == pytest.approx(math.sqrt(0.5) / math.sqrt(8))
    assert r["standard_error"] == pytest.approx(statistics.stdev(diffs) / math.sqrt(len(diffs)))
    assert (r["low"], r["high"]) == pytest.approx((0.25 - 1.959964 * 0.25, 0.25 + 1.959964 * 0.25), abs=1e-6)
    assert (r["samples"], r["better"], r["worse"]) == (8, 3, 1)
    with pytest.raises(ValueError, match="at least two"):
        st.paired_interval([1])


def test_confirm_counts_right_answers_of_both_models_on_the_same_samples(mlp, task):
    model, _, g = mlp
    q = Quantize(config={"default": "MXInt((16,2),8,1)"}).apply(g)  # coarse enough to flip some answers
    torch.manual_seed(3)
    batches = [(inp, torch.randint(0, 4, y.shape)) for inp, y in task]  # labels the FP32 model often misses
    c = st.confirm(g, q, batches)
    fp = ch = 0
    diffs = []
    for inp, y in batches:
        with torch.no_grad():
            f = (model(**inp).argmax(-1) == y).long()
            k = (q(**inp).argmax(-1) == y).long()
        fp, ch = fp + int(f.sum()), ch + int(k.sum())
        diffs += (k - f).tolist()
    n = sum(len(y) for _, y in batches)
    assert c["fp32"] == pytest.approx(fp / n) and c["chosen"] == pytest.approx(ch / n)
    assert c["difference"] == pytest.approx(c["chosen"] - c["fp32"])
    assert c["difference"] == pytest.approx(statistics.mean(diffs))
    assert c["low"] <= c["difference"] <= c["high"]


def test_chosen_mean_mantissa_is_weighted_by_elements(mlp):
    _, _, g = mlp
    q = Quantize(config={"default": "MXInt((16,2),8,7)",
                         "node": {"linear": {"weight": "MXInt((16,2),8,3)"}}}).apply(g)
    d = st.bit_distribution(q)
    # by hand: fc1.weight (64 x 32 = 2048 elements) at 3, everything else at 7
    others = sum(t["numel"] for t in d["tensors"]) - 2048
    assert d["element_mean_mantissa"] == pytest.approx((3 * 2048 + 7 * others) / (2048 + others))
    assert d["mean_mantissa"] == pytest.approx((3 + 7 * (len(d["tensors"]) - 1)) / len(d["tensors"]))
