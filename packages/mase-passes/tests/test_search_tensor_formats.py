"""Search(tensor_formats=...): every searched tensor chooses its format family too (issue 20): a
width of MXInt((16,2),8,m) or one of the fixed 4-bit formats (MXFP4, NVFP4, M2XFP)."""

import math

import mx_formats as mxf
import optuna
import pytest

from mase_passes.config import load_config
from mase_passes.passes.evaluate import Evaluate
from mase_passes.passes.quantize import Quantize
from mase_passes.passes.search import Search

FIXED = ("MXFP4", "NVFP4", "M2XFP_ES")


def test_each_tensor_takes_the_format_its_trial_chose(mlp, task, tmp_path):
    _, _, g = mlp
    s = Search(n_trials=6, mantissa=(2, 4), tensor_formats=FIXED, out_dir=str(tmp_path), k=0.5)
    res = s.apply(g, task[:1], reference=g)
    seen = set()
    for t in res.study.trials:
        conf = load_config(s.config_of(s.space(g), optuna.trial.FixedTrial(t.params)))
        for key, choice in t.params.items():
            node, role = key.rsplit(".", 1)
            fmt = conf["node"][node][role]
            want = mxf.parse(choice) if isinstance(choice, str) else mxf.MXInt((16, 2), 8, choice)
            assert fmt == want, (key, choice, fmt)
            seen.add(type(fmt).__name__)
    assert len(seen) >= 2  # the trials mixed families
    # the best config reproduces its trial's score through the ordinary quantize + evaluate
    best = res.study.best_trial
    r = Evaluate(k=0.5).apply(Quantize(config=tmp_path / "best_config.toml").apply(g), task[:1], reference=g)
    assert r.objective == pytest.approx(best.value)


def test_mean_mantissa_counts_a_fixed_format_at_its_bits_per_element(mlp):
    _, _, g = mlp
    s = Search(mantissa=(2, 6), tensor_formats=FIXED)
    space = s.space(g)
    params = {d.name: ("MXFP4" if i % 2 else 5) for i, d in enumerate(space.dims)}
    overhead = 1 + 8 / 32  # sign + the shared 8-bit exponent over a 16x2 block
    want = sum((mxf.MXFP4_E2M1.bits_per_element - overhead if i % 2 else 5) * d.numel
               for i, d in enumerate(space.dims)) + sum(space.fixed[k] * space.numel[k] for k in space.fixed)
    assert math.isclose(s.mean_mantissa(space, params), want / sum(space.numel.values()))
    assert math.isclose(mxf.MXFP4_E2M1.bits_per_element - overhead, 3.0)  # MXFP4 ~ MXInt m = 3
    plain = Search(mantissa=(2, 6))
    ints = {d.name: 4 for d in space.dims}
    assert plain.mean_mantissa(space, ints) == space.mean_mantissa(space.widths(ints))


def test_an_unknown_tensor_format_is_refused_when_the_pass_is_made():
    with pytest.raises(ValueError, match="tensor_formats entry 'MXFP5' is not a format"):
        Search(tensor_formats=("MXFP4", "MXFP5"))
