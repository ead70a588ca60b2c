"""Measured error of the bounded accumulator of the BMF and BL dot products against their
exact datapath (``ACC_WIDTH = 0``); minifloat and fixed point are exact by construction.

Both sides are the golden models (bit-exact statements of the RTL) on the same beats, built
by :func:`mase_hwlib.dot_layout.linear_beats` from ``mx_formats`` tensors: ``y = x @ w.T``
with ``x`` (32, K), ``w`` (16, K), ``K = 16 * NUM_BLOCKS``. :func:`measure` returns, over the
512 outputs,

* ``differing``: outputs whose value differs from the exact one;
* ``max_lsb``: the largest ``|bounded - exact|`` in units of ``2^Lmax``, the LSB of the
  dot product's largest term (``Lmax = max_b L_b``, the exponent the error bound
  ``(N-1) 2^(Lmax-F)`` / ``(N-1) 2^(Lmax-F-1)`` of :mod:`mase_hwlib.golden.accumulate`
  is stated in), a Fraction; ``bound_lsb`` is that bound in the same unit;
* ``max_rel``: the largest relative error ``|bounded - exact| / |exact|`` (exact != 0), a float.

Input kinds (:data:`INPUT_KINDS`, seeded):

* ``random``: Gaussian x and w (w scaled by 1/sqrt(K)), per-row scales 2^[-4, 4];
* ``cancel``: blocks 0 and 1 along K cancel exactly (x block 1 = x block 0, w block 1 =
  -w block 0), the rest of x is 2^-16 smaller: the result is far below the largest term,
  where the accumulator keeps only F bits below that term's LSB;
* ``huge``: x block 1 is 2^16 larger than the others, which are rounded onto its grid.

The table in docs/dot-products.md is ``python packages/mase-hwlib/benchmarks/dot_area.py
--error``; tests/test_dot.py pins it.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

import mx_formats as mxf

from mase_hwlib import catalog, dot_layout

__all__ = ["INPUT_KINDS", "FORMATS", "SETTINGS", "operands", "compare", "measure"]

INPUT_KINDS = ("random", "cancel", "huge")

#: accumulator settings of the table: label -> (ACC_WIDTH, ACC_ROUND); "min" is the
#: narrowest legal width (F = 0), -1 the derived default (F = clog2(N) + 2)
SETTINGS = {"min, truncate": ("min", 0), "min, nearest": ("min", 1),
            "default, truncate": (-1, 0), "default, nearest": (-1, 1)}

#: the formats of the table: the paper's BMF8 and BL8, and BL with a 3-bit element
#: exponent (a narrow per-block range, where alignment really drops bits)
FORMATS = {
    "BMF(16,4,3,8)": mxf.BMF((16,), 4, 3, 8),
    "BL(16,7,8)": mxf.BL((16,), 7, 8),
    "BL(16,3,8)": mxf.BL((16,), 3, 8),
}


def operands(kind: str, num_blocks: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded float operands ``x`` (32, K), ``w`` (16, K) of input ``kind``, ``K = 16 * num_blocks``."""
    if kind not in INPUT_KINDS:
        raise ValueError(f"dot_error: unknown input kind {kind!r}; kinds: {INPUT_KINDS}")
    if num_blocks < 3:
        raise ValueError(f"dot_error: num_blocks={num_blocks}; the adversarial kinds need at least 3 blocks")
    rng = np.random.default_rng(seed)
    k, bk = 16 * num_blocks, 16
    x = rng.standard_normal((32, k)) * np.exp2(rng.integers(-4, 5, (32, 1)))
    w = rng.standard_normal((16, k)) / np.sqrt(k)
    if kind == "cancel":
        x[:, bk:2 * bk] = x[:, :bk]
        w[:, bk:2 * bk] = -w[:, :bk]
        x[:, 2 * bk:] *= 2.0 ** -16
    elif kind == "huge":
        x[:, bk:2 * bk] *= 2.0 ** 16
    return x.astype(np.float32), w.astype(np.float32)


def _beats(fmt, kind: str, num_blocks: int, seed: int):
    x, w = operands(kind, num_blocks, seed)
    return dot_layout.linear_beats(mxf.quantize(x, fmt), mxf.quantize(w, fmt))


def _values(module: str, params: dict, beats: dict) -> tuple[np.ndarray, np.ndarray]:
    """(acc, exp) per output lane of ``module`` at ``params`` on ``beats`` (golden model)."""
    from mase_hwlib.golden import dot

    spec = catalog.get(module)
    full = spec.resolve(params)
    y = spec.golden(full, beats)["y"]
    acc = dot.from_chunks(y["data"], full["ACC_CHUNKS"])
    return acc, np.broadcast_to(y["exp"], acc.shape)


def _lmax(params: dict, beats: dict) -> np.ndarray:
    """Largest term LSB exponent ``max_b (2 - bx - bw - 2M)`` of every tile."""
    nb, m = params["NUM_BLOCKS"], params.get("MAN_BITS", 0)
    lsb = 2 - np.asarray(beats["x"]["bias"]) - np.asarray(beats["w"]["bias"]) - 2 * m
    return lsb.reshape(-1, nb).max(axis=1)


def compare(module: str, params: dict, beats: dict) -> dict:
    """``module`` at ``params`` vs ``ACC_WIDTH = 0`` on the same ``beats`` (see module doc)."""
    from mase_hwlib.golden import accumulate

    bounded, b_exp = _values(module, params, beats)
    exact, e_exp = _values(module, {**params, "ACC_WIDTH": 0}, beats)
    lmax = _lmax(params, beats)
    differing, max_lsb, max_rel = 0, Fraction(0), 0.0
    for t in range(bounded.shape[0]):
        for b, e, sb, se in zip(bounded[t], exact[t], b_exp[t], e_exp[t]):
            lo = min(int(sb), int(se))  # both on one integer grid 2^lo
            vb, ve = int(b) << (int(sb) - lo), int(e) << (int(se) - lo)
            if vb == ve:
                continue
            differing += 1
            err = Fraction(abs(vb - ve)) * Fraction(2) ** (lo - int(lmax[t]))
            max_lsb = max(max_lsb, err)
            if ve:
                max_rel = max(max_rel, abs(vb - ve) / abs(ve))
    full = catalog.get(module).resolve(params)
    bound = accumulate.error_bound(full["ACC_TERMS"], 0, full["ACC_FRAC"], accumulate.ROUNDINGS[full["ACC_ROUND"]])
    return {"elements": int(bounded.size), "differing": differing, "max_lsb": max_lsb, "bound_lsb": bound,
            "max_rel": max_rel, "ACC_WIDTH": full["ACC_BITS"], "F": full["ACC_FRAC"]}


def measure(fmt: str, kind: str, acc_width: int | str = -1, acc_round: int = 1, num_blocks: int = 8,
            seed: int = 0) -> dict:
    """:func:`compare` for format ``fmt`` (a key of :data:`FORMATS`) on the operands of ``kind``;
    ``acc_width`` -1 (default), ``"min"`` (the narrowest legal width) or a width."""
    from mase_hwlib.golden.accumulate import min_acc_width

    if fmt not in FORMATS:
        raise ValueError(f"dot_error: no format {fmt!r}; formats: {sorted(FORMATS)}")
    module = dot_layout.module_for(FORMATS[fmt])
    params, beats = _beats(FORMATS[fmt], kind, num_blocks, seed)
    if acc_width == "min":
        full = catalog.get(module).resolve(params)
        acc_width = min_acc_width(full["ACC_TERM_WIDTH"], full["ACC_TERMS"])
    return compare(module, {**params, "ACC_WIDTH": acc_width, "ACC_ROUND": acc_round}, beats)
