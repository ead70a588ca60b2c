"""Error of the integer non-linear operators against float math.

Runs the exact golden models (bit-identical to the RTL, see tests/test_nonlinear.py)
and prints the markdown tables of docs/nonlinear.md:

* algorithm error: the integer operator on fixed-point inputs versus the float
  operator on the *same* inputs (what the approximation costs);
* end to end: float inputs quantized to MXInt((16,),8,7) by mx_formats, through
  the integer operator, versus the float operator on the original floats (what
  a user sees; includes the input quantization and the output grid).

    python packages/mase-hwlib/benchmarks/nonlinear_error.py
"""

from __future__ import annotations

import math

import numpy as np

import mx_formats as mxf
from mase_hwlib import streams
from mase_hwlib.golden import nonlinear as nl

SEED = 0
FMT = mxf.MXInt((16,), 8, 7)


def erf_gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def float_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def float_layer_norm(x, eps=0.0):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)


def to_fixed_via_mxint(x, x_width, x_frac):
    beats = streams.mx_to_beats(mxf.quantize(x.astype(np.float32), FMT))
    fixed = nl.mxint_to_fixed(beats["mant"], beats["exp"], man_bits=FMT.man_bits, x_width=x_width, x_frac=x_frac)
    return fixed.reshape(x.shape)


def dequantized(x):
    """The float op's input after MXInt quantization alone (float64)."""
    return mxf.fake_quantize(x.astype(np.float32), FMT).astype(np.float64)


def stats(err):
    err = np.abs(err)
    return f"{err.max():.2e} | {err.mean():.2e}"


def main():
    rng = np.random.default_rng(SEED)
    print(
        "| operator | setting | algorithm max abs | algorithm mean abs | end-to-end max abs | end-to-end mean abs "
        "| input quantization alone, max abs | mean abs |"
    )
    print("|---|---|---|---|---|---|---|---|")

    for x_width, x_frac in ((16, 8), (20, 12)):
        grid = np.arange(-(8 << x_frac), 8 << x_frac)
        alg = nl.gelu_fixed(grid, x_frac=x_frac) / 2.0**x_frac - erf_gelu(grid / 2.0**x_frac)
        x = (rng.standard_normal((256, 64)) * 2).astype(np.float32)
        y = nl.gelu_fixed(to_fixed_via_mxint(x, x_width, x_frac), x_frac=x_frac) / 2.0**x_frac
        e2e = y - erf_gelu(x.astype(np.float64))
        q_only = erf_gelu(dequantized(x)) - erf_gelu(x.astype(np.float64))
        print(
            f"| gelu | X={x_width}/{x_frac}, x in [-8,8) grid; e2e x~N(0,2) | {stats(alg)} | {stats(e2e)} "
            f"| {stats(q_only)} |"
        )

    for n, sigma, out_frac in ((64, 1.0, 12), (64, 3.0, 12), (384, 3.0, 16)):
        x_width, x_frac = 16, 8
        x = (rng.standard_normal((200, n)) * sigma).astype(np.float32)
        fixed = to_fixed_via_mxint(x, x_width, x_frac)
        y = nl.softmax_fixed(fixed, x_frac=x_frac, out_frac=out_frac) / 2.0**out_frac
        alg = y - float_softmax(fixed / 2.0**x_frac)
        e2e = y - float_softmax(x.astype(np.float64))
        q_only = float_softmax(dequantized(x)) - float_softmax(x.astype(np.float64))
        print(
            f"| softmax | N={n}, x~N(0,{sigma:g}), X=16/8, OUT_FRAC={out_frac} | {stats(alg)} | {stats(e2e)} "
            f"| {stats(q_only)} |"
        )

    for n, sigma, eps in ((64, 1.0, 0.0), (384, 2.0, 1e-5)):
        x_width, x_frac, out_width, out_frac = 16, 8, 16, 12
        eps_fx = round(eps * 2 ** (2 * x_frac))
        x = (rng.standard_normal((200, n)) * sigma + 0.3).astype(np.float32)
        fixed = to_fixed_via_mxint(x, x_width, x_frac)
        y = nl.layer_norm_fixed(fixed, out_width=out_width, out_frac=out_frac, eps_fx=eps_fx) / 2.0**out_frac
        alg = y - float_layer_norm(fixed / 2.0**x_frac, eps_fx / 2.0 ** (2 * x_frac))
        e2e = y - float_layer_norm(x.astype(np.float64), eps)
        q_only = float_layer_norm(dequantized(x), eps) - float_layer_norm(x.astype(np.float64), eps)
        print(
            f"| layer_norm | N={n}, x~N(0.3,{sigma:g}), eps={eps:g}, X=16/8, OUT=16/12 | {stats(alg)} "
            f"| {stats(e2e)} | {stats(q_only)} |"
        )


if __name__ == "__main__":
    main()
