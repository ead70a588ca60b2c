"""The int8 fixed-point baseline: fraction bits from the profiled range, checked by hand."""

import math

import pytest
import torch

from mase_passes.baselines import fixed_point_config
from mase_passes.passes import get_pass


def _frac_by_hand(amax: float, width: int) -> int:
    """The largest f with amax < 2^(width-1-f), i.e. the integer part fits in width-1 bits."""
    f = 60
    while amax >= 2.0 ** (width - 1 - f):
        f -= 1
    return f


def test_fraction_bits_fit_the_profiled_and_weight_ranges(mlp, task):
    _, _, g = mlp
    with pytest.raises(ValueError, match="no profiled statistics; run profile first"):
        fixed_point_config(g, 8)
    get_pass("profile")().apply(g, [b for b, _ in task])
    conf = fixed_point_config(g, 8)["node"]
    for n in g.nodes:
        if not n.result.is_float:
            continue
        st = n.sw.statistics
        amax = max(abs(st["min"]), abs(st["max"]))
        assert conf[n.name]["data_out"] == f"Fixed(8,{_frac_by_hand(amax, 8)})"
        for role, p in n.params.items():
            wmax = float(g.weights[p.path].detach().abs().max())
            assert conf[n.name][role] == f"Fixed(8,{_frac_by_hand(wmax, 8)})"
            # the largest weight is representable without saturating (the point of the rule)
            frac = _frac_by_hand(wmax, 8)
            assert wmax * 2 ** frac < 2 ** 7 and math.isfinite(wmax)
