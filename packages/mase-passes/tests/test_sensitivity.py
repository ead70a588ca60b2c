import itertools

import mx_formats as mxf
import pytest
import torch

from mase_passes.passes.quantize import Quantize
from mase_passes.search_space import Dimension, SearchSpace
from mase_passes.sensitivity import allocate, damage_curve, output_kl, sensitivity


def test_damage_curve_interpolates_geometrically_and_extrapolates_4x_per_bit():
    c = damage_curve({2: 0.16, 4: 0.01}, 1, 7)
    assert c[2] == pytest.approx(0.16) and c[4] == pytest.approx(0.01)
    assert c[3] == pytest.approx(0.04)               # sqrt(0.16 * 0.01)
    assert c[1] == pytest.approx(0.64)               # 4x the damage one bit below the lowest probe
    assert c[6] == pytest.approx(0.01 / 16)          # 4x less per bit above the highest
    assert damage_curve({}, 2, 4) == {2: 0.0, 3: 0.0, 4: 0.0}
    noisy = damage_curve({2: 0.01, 3: 0.05}, 2, 3)   # more bits never predicted worse
    assert noisy[3] <= noisy[2]


def _toy_space(numels, ranges):
    dims = tuple(Dimension(f"d{i}", (f"d{i}",), lo, hi, n) for i, (n, (lo, hi)) in enumerate(zip(numels, ranges)))
    numel = {d.name: d.numel for d in dims}
    return SearchSpace(dims, {}, numel, {k: k for k in numel}, {k: (k, "data_out") for k in numel})


def test_allocation_is_feasible_and_pareto_optimal_against_brute_force():
    space = _toy_space([100, 400, 50, 250], [(2, 7), (2, 6), (3, 7), (2, 7)])
    damage = {"d0": {3: 0.02}, "d1": {3: 0.001}, "d2": {3: 0.5}, "d3": {2: 0.04, 3: 0.01}}
    curves = {d.name: damage_curve(damage[d.name], d.lo, d.hi) for d in space.dims}
    every = []
    for ms in itertools.product(*[range(d.lo, d.hi + 1) for d in space.dims]):
        p = dict(zip((d.name for d in space.dims), ms))
        every.append((sum(curves[k][m] for k, m in p.items()), space.mean_mantissa(space.widths(p)), p))
    for budget in (2.6, 3.0, 3.7, 4.5, 6.0):
        a = allocate(space, damage, budget)
        cost = sum(curves[k][m] for k, m in a.items())
        bits = space.mean_mantissa(space.widths(a))
        assert bits <= budget + 1e-9
        # nothing is both cheaper and smaller (ties allowed) ...
        assert not any(c < cost - 1e-12 and b <= bits + 1e-12 for c, b, _ in every)
        # ... and the exact optimum under the budget is at most modestly better
        best = min(c for c, b, _ in every if b <= budget + 1e-9)
        assert cost <= best + 0.05 * max(c for c, _, _ in every)
    # the insensitive, large dimension goes low first; the sensitive one stays wide
    a = allocate(space, damage, 3.5)
    assert a["d1"] == 2 and a["d2"] >= 5


def test_allocation_refuses_a_budget_below_the_space():
    space = _toy_space([10, 10], [(3, 7), (2, 7)])
    with pytest.raises(ValueError, match="below the smallest mean mantissa"):
        allocate(space, {}, 2.4)


def test_sensitivity_is_output_kl_of_the_single_quantized_dimension(mlp, task):
    _, _, g = mlp
    space = SearchSpace.build(g, (2, 8))
    fmt = lambda m: mxf.MXInt((16, 2), 8, m)  # noqa: E731
    ref = [g(**inp).detach() for inp, _ in task]
    d = sensitivity(g, task, space, fmt, probe=(2, 4), reference=ref)
    assert set(d) == {s.name for s in space.dims} and all(set(v) == {2, 4} for v in d.values())

    def kl_by_hand(conf):  # an independent path: a default-level config and torch.distributions
        q = Quantize(config=conf).apply(g)
        tot = n = 0
        for (inp, _), r in zip(task, ref):
            kl = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=r),
                                                   torch.distributions.Categorical(logits=q(**inp).detach()))
            tot += float(kl.sum())
            n += kl.numel()
        return tot / n

    # every node result and parameter at m = 8 (the search space never quantizes graph inputs)
    wide = {"regex": {".": {r: "MXInt((16,2),8,8)" for r in ("data_out", "weight", "bias")}}}
    base = kl_by_hand(wide)
    one = kl_by_hand({**wide, "node": {"linear": {"weight": "MXInt((16,2),8,2)"}}})
    assert d["linear.weight"][2] == pytest.approx(max(one - base, 0.0), rel=1e-4, abs=1e-7)
    # two more mantissa bits cut the damage about 16x (4x per bit); measured 14.0 and 14.2 here
    assert d["linear.weight"][4] > 0 and 8 < d["linear.weight"][2] / d["linear.weight"][4] < 32
    q = Quantize(config=wide).apply(g)
    assert output_kl(q, task, ref) == pytest.approx(base, rel=1e-3, abs=1e-7)  # float32 sums


def test_sensitivity_against_fp32_quantizes_one_dimension_alone(mlp, task):
    """base="fp32": D_d(m) is the output KL of the graph with only d's tensors at m, every other
    tensor unquantized (oracle: a node-level config naming only that tensor, KL by
    torch.distributions), and the floor is 0."""
    _, _, g = mlp
    space = SearchSpace.build(g, (2, 8))
    fmt = lambda m: mxf.MXInt((16, 2), 8, m)  # noqa: E731
    ref = [g(**inp).detach() for inp, _ in task]
    d = sensitivity(g, task, space, fmt, probe=(2, 4), reference=ref, base="fp32")
    q = Quantize(config={"node": {"linear": {"weight": "MXInt((16,2),8,2)"}}}).apply(g)
    tot = n = 0
    for (inp, _), r in zip(task, ref):
        kl = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=r),
                                               torch.distributions.Categorical(logits=q(**inp).detach()))
        tot, n = tot + float(kl.sum()), n + kl.numel()
    assert d["linear.weight"][2] == pytest.approx(tot / n, rel=1e-4, abs=1e-7)
    # two more mantissa bits cut the damage about 16x (4x per bit); measured 14.0 and 14.2 here
    assert d["linear.weight"][4] > 0 and 8 < d["linear.weight"][2] / d["linear.weight"][4] < 32
    with pytest.raises(ValueError, match="base must be"):
        sensitivity(g, task, space, fmt, base="fp16")
