import math

import mase_ir
import numpy as np
import pytest
import torch

from mase_passes.passes.profile import Profile, plot_variance


def _activations(model, xs):
    """The three activations of TinyMLP computed eagerly (the oracle, not through the IR)."""
    with torch.no_grad():
        h = torch.cat([model.fc1(x) for x in xs])
        r = torch.relu(h)
        o = model.fc2(r)
    return {"linear": h.numpy().ravel(), "relu": r.numpy().ravel(), "linear_1": o.numpy().ravel()}


def test_statistics_match_numpy_over_all_calibration_batches(mlp):
    model, x, g = mlp
    torch.manual_seed(3)
    xs = [torch.randn(16, 32) for _ in range(3)]
    Profile(percentiles=(50.0, 99.0)).apply(g, [{"x": t} for t in xs])
    for name, v in _activations(model, xs).items():
        st = g.node(name).sw.statistics
        v64 = v.astype(np.float64)
        assert st["min"] == v.min() and st["max"] == v.max()
        assert st["mean"] == pytest.approx(v64.mean(), rel=1e-9, abs=1e-12)
        assert st["variance"] == pytest.approx(v64.var(), rel=1e-9)
        assert st["absmax_p99"] == pytest.approx(np.percentile(np.abs(v), 99), rel=1e-6)
        assert st["absmax_p50"] == pytest.approx(np.percentile(np.abs(v), 50), rel=1e-6)
        assert st["zero_fraction"] == pytest.approx((v == 0).mean())
        nz = np.abs(v[v != 0]).astype(np.float64)
        exps, counts = np.unique(np.floor(np.log2(nz)).astype(int), return_counts=True)
        hist = {f"exp_{e}": c / nz.size for e, c in zip(exps, counts)}
        got = {k: val for k, val in st.items() if k.startswith("exp_")}
        assert got == pytest.approx(hist)


def test_statistics_survive_the_text_form(mlp):
    _, x, g = mlp
    Profile().apply(g, [{"x": x}])
    g2 = mase_ir.parse(g.to_text())
    assert g2.node("relu").sw.statistics == g.node("relu").sw.statistics


def test_variance_plot_is_a_png(mlp, tmp_path):
    _, x, g = mlp
    with pytest.raises(ValueError, match="run the profile pass first"):
        plot_variance(g, tmp_path / "v.png")
    Profile().apply(g, [({"x": x}, None)])
    path = plot_variance(g, tmp_path / "v.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_batches_is_an_error(mlp):
    _, _, g = mlp
    with pytest.raises(ValueError, match="no calibration batches"):
        Profile().apply(g, [])
    with pytest.raises(ValueError, match="percentile 101"):
        Profile(percentiles=(101,)).apply(g, [])
