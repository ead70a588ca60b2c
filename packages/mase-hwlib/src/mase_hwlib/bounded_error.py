"""Measured error of the bounded accumulator against the exact (Kulisch) datapath, per operator.

The operators that sum (``mase_mxint_add``, ``mase_mxint_matmul``, ``mase_mxint_linear``) are
run through their golden models (bit-exact statements of the RTL) twice on the same beats:
once as built (``ACC_WIDTH`` bits, ``ACC_ROUND``) and once with ``ACC_WIDTH = 0`` (exact sum,
one rounding). :func:`compare` counts the output elements that differ and the largest
difference in units of the exact output's LSB ``2^(s - OUT_MAN + 1)``; :func:`cases` builds the
seeded inputs of the table in docs/bounded-accumulation.md (printed by
``benchmarks/bounded_error.py``, pinned by ``tests/test_bounded_accumulation.py``):

* ``random``: Gaussian tensors quantized by ``mx_formats`` (typical tile exponent spread);
* ``cancel``: dot products: two tiles whose products cancel exactly, the rest of the sum
  2^-16 smaller — the result is far below the largest term, where the accumulator keeps only
  F bits below that term's LSB; add: b = -a (1 - 2^-5) with every a block's maximum at 1.0,
  so b's exponent is one lower and five leading bits cancel;
* ``huge``: dot products: one tile 2^16 larger than the others, which the accumulator then
  rounds onto the large tile's grid; add: b 2^16 smaller than a.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from mase_hwlib import catalog, streams

__all__ = ["compare", "cases", "measure", "INPUT_KINDS"]

INPUT_KINDS = ("random", "cancel", "huge")


def compare(module: str, params: dict, beats: dict) -> dict:
    """Outputs of ``module`` as built by ``params`` vs the exact datapath on the same ``beats``.

    Returns ``elements``, ``differing`` (elements whose value differs), ``blocks_exp_differ``
    (blocks whose shared exponent differs) and ``max_lsb`` (largest |bounded - exact| in LSBs
    of the exact output block, a Fraction)."""
    spec = catalog.get(module)
    bounded = spec.golden(spec.resolve(params), beats)["y"]
    exact = spec.golden(spec.resolve({**params, "ACC_WIDTH": 0}), beats)["y"]
    m = spec.resolve(params)["OUT_MAN"]
    diff = bounded["mant"] != exact["mant"]
    worst = Fraction(0)
    for b in np.argwhere(diff.any(axis=1) | (bounded["exp"][:, 0] != exact["exp"][:, 0]))[:, 0]:
        sb, se = int(bounded["exp"][b, 0]), int(exact["exp"][b, 0])
        for qb, qe in zip(bounded["mant"][b].tolist(), exact["mant"][b].tolist()):
            worst = max(worst, abs(Fraction(qb) * Fraction(2) ** (sb - se) - qe))
    vb = bounded["mant"] * np.exp2(bounded["exp"].astype(float))
    ve = exact["mant"] * np.exp2(exact["exp"].astype(float))
    return {"elements": int(diff.size), "differing": int((vb != ve).sum()),
            "blocks_exp_differ": int((bounded["exp"] != exact["exp"]).sum()), "max_lsb": worst}


def _q(x, fmt, axes=(-1, -2)):
    import mx_formats as mxf

    return streams.mx_to_beats(mxf.quantize(x, fmt, axes=axes))


def _shape_kind(kind: str, a: np.ndarray, b: np.ndarray, k_axis_b: int, bk: int):
    """Apply an input kind to operands ``a`` [.., K] and ``b`` (K along ``k_axis_b``)."""
    if kind == "cancel":  # tiles 0 and 1 along K cancel exactly; the rest 2^-16 smaller
        a[:, bk:2 * bk] = a[:, :bk]
        bb = np.moveaxis(b, k_axis_b, 0)
        bb[bk:2 * bk] = -bb[:bk]
        a[:, 2 * bk:] *= 2.0 ** -16
    elif kind == "huge":  # one tile along K 2^16 larger
        a[:, bk:2 * bk] *= 2.0 ** 16
    return a, b


def _linear_case(kind, rng, fmt_x, fmt_w, fmt_b, params):
    import mx_formats as mxf

    bk, xr, ot = params["BLOCK_K"], params["X_ROWS"], params["OUT_TILE"]
    fin, fout, n = bk * params["IN_TILES"], ot * params["OUT_TILES"], 8 * xr
    x, w = rng.standard_normal((n, fin)), rng.standard_normal((fout, fin)) / np.sqrt(fin)
    x, w = _shape_kind(kind, x, w, 1, bk)
    bias = rng.standard_normal(fout) * (2.0 ** -16 if kind == "cancel" else 1.0)
    groups = n // xr
    wb, bb = _q(w, fmt_w), streams.mx_to_beats(mxf.quantize(bias, fmt_b))
    return {"x": _q(x, fmt_x), "w": {k: np.tile(v, (groups, 1)) for k, v in wb.items()},
            "b": {k: np.tile(v, (groups, 1)) for k, v in bb.items()}}


def _matmul_case(kind, rng, fmt, params):
    bk, ar, bc, kt = params["BLOCK_K"], params["A_ROWS"], params["B_COLS"], params["K_TILES"]
    m, k, n = 8 * ar, bk * kt, 8 * bc
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    a, b = _shape_kind(kind, a, b, 0, bk)
    ab, bb = _q(a, fmt), _q(b, fmt, axes=(-2, -1))  # grids (row tile i, k) and (col tile j, k)
    ti, tj = m // ar, n // bc
    a_seq = {f: np.concatenate([v.reshape(ti, kt, -1)[i] for i in range(ti) for _ in range(tj)]) for f, v in ab.items()}
    b_seq = {f: np.concatenate([v.reshape(tj, kt, -1)[j] for _ in range(ti) for j in range(tj)]) for f, v in bb.items()}
    return {"a": a_seq, "b": b_seq}


def _add_case(kind, rng, fmt):
    a, b = rng.standard_normal((16, 64)), rng.standard_normal((16, 64))
    if kind == "cancel":  # every a block's maximum is 1.0 and b = -a (1 - 2^-5): b's exponent is
        a = rng.uniform(-1, 1, (16, 64))  # one lower, a + b is 2^-5 of a (5 bits cancel)
        a[::2, ::16] = 1.0
        b = -a * (1 - 2.0 ** -5)
    elif kind == "huge":  # b 2^16 smaller: mostly shifted out
        b *= 2.0 ** -16
    return {"a": _q(a, fmt), "b": _q(b, fmt)}


#: (module, params without ACC_WIDTH / ACC_ROUND) of the table: the paper's MXInt((16,2),8,7)
CONFIGS = {
    "mase_mxint_linear": dict(BLOCK_K=16, X_ROWS=2, OUT_TILE=2, IN_TILES=24, OUT_TILES=8, HAS_BIAS=1),
    "mase_mxint_matmul": dict(BLOCK_K=16, A_ROWS=2, B_COLS=2, K_TILES=8),
    "mase_mxint_add": dict(BLOCK_0=16, BLOCK_1=2),
}


def cases(module: str, kind: str, seed: int = 0) -> dict:
    """Seeded input beats of ``module`` (``CONFIGS``) for input ``kind`` (:data:`INPUT_KINDS`)."""
    import mx_formats as mxf

    if kind not in INPUT_KINDS:
        raise ValueError(f"bounded_error: unknown input kind {kind!r}; kinds: {INPUT_KINDS}")
    rng = np.random.default_rng(seed)
    p = catalog.get(module).resolve(CONFIGS[module])
    if module == "mase_mxint_linear":
        f2 = mxf.MXInt((p["BLOCK_K"], 2), 8, 7)
        return _linear_case(kind, rng, f2, f2, mxf.MXInt((p["OUT_TILE"],), 8, 7), p)
    if module == "mase_mxint_matmul":
        return _matmul_case(kind, rng, mxf.MXInt((p["BLOCK_K"], 2), 8, 7), p)
    if module == "mase_mxint_add":
        return _add_case(kind, rng, mxf.MXInt((16, 2), 8, 7))
    raise ValueError(f"bounded_error: no cases for {module}; modules: {sorted(CONFIGS)}")


def measure(module: str, kind: str, acc_width: int = -1, acc_round: int = 1, seed: int = 0,
            **overrides) -> dict:
    """:func:`compare` on :func:`cases` at one accumulator setting (``acc_width``: -1 default,
    ``"min"`` the narrowest legal width); also returns the resolved ACC_WIDTH and F."""
    spec = catalog.get(module)
    params = {**CONFIGS[module], **overrides, "ACC_ROUND": acc_round}
    if acc_width == "min":
        r = spec.resolve(params)
        from mase_hwlib.golden.accumulate import min_acc_width

        acc_width = min_acc_width(r["ACC_TERM_WIDTH"], r["ACC_TERMS"])
    params["ACC_WIDTH"] = acc_width
    r = spec.resolve(params)
    out = compare(module, params, cases(module, kind, seed))
    return {**out, "ACC_WIDTH": r["ACC_WIDTH"], "F": r["ACC_FRAC"]}
