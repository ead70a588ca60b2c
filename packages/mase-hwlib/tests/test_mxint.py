"""Benches of the MXInt operators: RTL bit for bit against the golden models.

One dict per configuration feeds the build (its ``params``), the golden model
and the stimulus; random idle cycles on the inputs and back-pressure on the
output in every run. Each configuration is one build and one simulation.
"""

import numpy as np
import pytest

from mase_hwlib.testing import check_against_golden, lint, mxint_blocks

UNARY = [
    dict(params=dict(BLOCK_0=4, BLOCK_1=1, IN_MAN=7, IN_EXP=8, OUT_MAN=7, OUT_EXP=8), idle=0.3, backpressure=0.3),
    dict(params=dict(BLOCK_0=8, BLOCK_1=2, IN_MAN=7, IN_EXP=8, OUT_MAN=3, OUT_EXP=4), idle=0.1, backpressure=0.6),
    dict(params=dict(BLOCK_0=2, BLOCK_1=3, IN_MAN=4, IN_EXP=5, OUT_MAN=10, OUT_EXP=6), idle=0.5, backpressure=0.1),
    dict(params=dict(BLOCK_0=16, BLOCK_1=1, IN_MAN=1, IN_EXP=2, OUT_MAN=2, OUT_EXP=1), idle=0.2, backpressure=0.2),
]


def _blocks(n, lanes, man, exp, out_exp, rng, **kw):
    """Mostly blocks whose exponent the output format can hold (so rounding is exercised),
    then a few over the whole input range (saturation and flush to zero)."""
    near = (1 << (out_exp - 1)) + 1
    a = mxint_blocks(n, lanes, man, exp, rng, exp_range=(-near, near), **kw)
    b = mxint_blocks(8, lanes, man, exp, rng, edge=False)
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def _ids(cfgs):
    return ["-".join(f"{k}{v}" for k, v in c["params"].items()) for c in cfgs]


@pytest.mark.parametrize("module", ["mase_mxint_cast", "mase_mxint_relu"])
@pytest.mark.parametrize("cfg", UNARY, ids=_ids(UNARY))
def test_unary_matches_golden(module, cfg):
    p = cfg["params"]
    lint(module, p)
    rng = np.random.default_rng(11)
    x = _blocks(40, p["BLOCK_0"] * p["BLOCK_1"], p["IN_MAN"], p["IN_EXP"], p["OUT_EXP"], rng)
    check_against_golden(module, p, {"x": x}, idle=cfg["idle"], backpressure=cfg["backpressure"], seed=2)


BINARY = [
    dict(params=dict(BLOCK_0=4, BLOCK_1=1, A_MAN=7, A_EXP=8, B_MAN=7, B_EXP=8, OUT_MAN=7, OUT_EXP=8),
         idle=0.3, backpressure=0.3),
    dict(params=dict(BLOCK_0=4, BLOCK_1=2, A_MAN=3, A_EXP=5, B_MAN=6, B_EXP=4, OUT_MAN=5, OUT_EXP=6),
         idle=0.1, backpressure=0.6),
    dict(params=dict(BLOCK_0=3, BLOCK_1=1, A_MAN=10, A_EXP=6, B_MAN=2, B_EXP=3, OUT_MAN=12, OUT_EXP=3),
         idle=0.5, backpressure=0.1),
]


@pytest.mark.parametrize("module", ["mase_mxint_mul", "mase_mxint_add"])
@pytest.mark.parametrize("cfg", BINARY, ids=_ids(BINARY))
def test_binary_matches_golden(module, cfg):
    p = cfg["params"]
    lint(module, p)
    rng = np.random.default_rng(12)
    lanes = p["BLOCK_0"] * p["BLOCK_1"]
    a = _blocks(40, lanes, p["A_MAN"], p["A_EXP"], p["OUT_EXP"], rng)
    b = _blocks(40, lanes, p["B_MAN"], p["B_EXP"], p["OUT_EXP"], rng)
    # mixed exponents: a few pairs at the opposite ends of both ranges
    a["exp"][-4:] = [[(1 << (p["A_EXP"] - 1)) - 1], [1 - (1 << (p["A_EXP"] - 1))]] * 2
    b["exp"][-4:] = [[1 - (1 << (p["B_EXP"] - 1))], [(1 << (p["B_EXP"] - 1)) - 1]] * 2
    check_against_golden(module, p, {"a": a, "b": b}, idle=cfg["idle"], backpressure=cfg["backpressure"], seed=3)
