"""Stream a linear layer ``y = x @ w.T`` through the tile dot products.

``linear_beats(qx, qw)`` turns two quantized tensors from ``mx_formats``
(``x`` of shape ``(M, K)``, ``w`` of shape ``(N, K)``, both blocked along K,
the reduction axis) into the parameters and input beats of ``mase_bmf_dot``,
``mase_bl_dot``, ``mase_minifloat_dot`` or ``mase_fixed_dot``; ``linear_result``
turns the output beats back into the ``(M, N)`` matrices of accumulators and their
LSB exponents (the value of output ``(i, j)`` is ``acc[i, j] * 2**exp[i, j]``).

Stream order: output tiles row-major over ``(M / X_ROWS, N / W_ROWS)``; for each
tile the ``NUM_BLOCKS = K / BLOCK_K`` blocks along K in order. A 2-D block
``(B0, B1)`` covers ``B0`` elements along K and ``B1`` rows, so ``X_ROWS`` and
``W_ROWS`` are the second block extents of x and w (1 for a 1-D block). The
weights are re-streamed for every row tile of x (the "weights streamed"
variant of a linear layer).

    params, inputs = linear_beats(mxf.quantize(x, fmt), mxf.quantize(w, fmt))
    r = mase_hwlib.simulate(module_for(fmt), params, inputs)
    acc, exp = linear_result(r.outputs, module_for(fmt), params, M, N, lsb_exp=out_lsb_exp(fmt, fmt))
    # y = acc * 2**exp: exact for the scalar formats and for BMF / BL with ACC_WIDTH = 0,
    # within golden.accumulate.error_bound of it with a bounded accumulator

The block formats carry their LSB exponent per output tile (``y_exp``), so
``lsb_exp`` only matters for minifloat and fixed point (``out_lsb_exp`` is 0 for BMF
and BL).
"""

from __future__ import annotations

import numpy as np

import mx_formats as mxf
from mase_hwlib.golden import dot

__all__ = ["module_for", "linear_beats", "linear_result", "out_lsb_exp"]


def module_for(fmt) -> str:
    """The dot-product module of a format."""
    if isinstance(fmt, mxf.BMF):
        return "mase_bmf_dot"
    if isinstance(fmt, mxf.BL):
        return "mase_bl_dot"
    if isinstance(fmt, mxf.MiniFloat):
        return "mase_minifloat_dot"
    if isinstance(fmt, mxf.Fixed):
        return "mase_fixed_dot"
    raise TypeError(f"no tile dot product for format {fmt} (BMF, BL, MiniFloat and Fixed are supported)")


def out_lsb_exp(fmt_x, fmt_w) -> int:
    """Exponent of the accumulator LSB of the scalar formats (the real result is
    ``acc * 2**out_lsb_exp``); 0 for BMF and BL, whose LSB exponent is the ``y_exp`` field."""
    if isinstance(fmt_x, (mxf.BMF, mxf.BL)):
        return 0
    if isinstance(fmt_x, mxf.MiniFloat):
        if fmt_x.bias != fmt_w.bias:
            raise ValueError(f"x and w minifloats need one bias, got {fmt_x} and {fmt_w}")
        return dot.minifloat_out_lsb_exp(fmt_x.man_bits, fmt_x.bias)
    return dot.fixed_out_lsb_exp(fmt_x.frac, fmt_w.frac)


def _format_params(fx, fw) -> dict:
    if isinstance(fx, mxf.Fixed):
        return {"X_WIDTH": fx.width, "W_WIDTH": fw.width}
    if type(fx) is not type(fw) or (fx.exp_bits, getattr(fx, "man_bits", 0)) != (fw.exp_bits, getattr(fw, "man_bits", 0)):
        raise ValueError(f"x and w need the same element format, got {fx} and {fw}")
    p = {"EXP_BITS": fx.exp_bits}
    if not isinstance(fx, mxf.BL):
        p["MAN_BITS"] = fx.man_bits
    if isinstance(fx, (mxf.BMF, mxf.BL)):
        if fx.bias_bits != fw.bias_bits:
            raise ValueError(f"x and w need the same bias width, got {fx} and {fw}")
        p["BIAS_BITS"] = fx.bias_bits
    return p


def _rows_of(q) -> int:
    fmt = q.fmt
    if not fmt.is_block:
        return 1
    if q.axes[0] != len(q.shape) - 1:
        raise ValueError(f"{fmt}: the block must run along the last axis (K), got axes {q.axes}")
    return fmt.block[1] if len(fmt.block) > 1 else 1


def linear_beats(qx, qw, block_k: int = 16, **acc) -> tuple[dict, dict]:
    """Parameters and input beats for ``x @ w.T`` (``block_k`` is used for the
    scalar formats only; block formats take it from the block). ``acc``: accumulator
    parameters passed through (``ACC_WIDTH=...``, ``ACC_ROUND=...``)."""
    fx, fw = qx.fmt, qw.fmt
    if len(qx.shape) != 2 or len(qw.shape) != 2 or qx.shape[1] != qw.shape[1]:
        raise ValueError(f"linear_beats: need x (M, K) and w (N, K), got {qx.shape} and {qw.shape}")
    (m, k), n = qx.shape, qw.shape[0]
    if fx.is_block:
        if fx.block[0] != fw.block[0]:
            raise ValueError(f"x and w need one block extent along K, got {fx} and {fw}")
        block_k = fx.block[0]
    xr, wr = _rows_of(qx), _rows_of(qw)
    for name, size, step in (("K", k, block_k), ("M", m, xr), ("N", n, wr)):
        if size % step:
            raise ValueError(f"linear_beats: {name}={size} is not a multiple of the tile extent {step}")
    nb = k // block_k
    signed = isinstance(fx, mxf.Fixed)
    x_el = np.asarray(qx.mantissas() if signed else qx.elements, dtype=np.int64)
    w_el = np.asarray(qw.mantissas() if signed else qw.elements, dtype=np.int64)
    # (tiles, rows, blocks, block_k) -> per output tile the NB beats of each operand
    x_t = x_el.reshape(m // xr, xr, nb, block_k).transpose(0, 2, 1, 3)  # (MT, NB, XR, BK)
    w_t = w_el.reshape(n // wr, wr, nb, block_k).transpose(0, 2, 1, 3)  # (NT, NB, WR, BK)
    mt, nt = m // xr, n // wr
    x_beats = np.repeat(x_t[:, None], nt, axis=1).reshape(mt * nt * nb, xr * block_k)
    w_beats = np.repeat(w_t[None], mt, axis=0).reshape(mt * nt * nb, wr * block_k)
    inputs = {"x": {"data": x_beats}, "w": {"data": w_beats}}
    if fx.is_block:
        # scales: one per (row tile, block) — rows of a 1-D block are their own tiles
        xs = np.asarray(qx.scales, dtype=np.int64).reshape(mt, nb)
        ws = np.asarray(qw.scales, dtype=np.int64).reshape(nt, nb)
        inputs["x"]["bias"] = np.repeat(xs[:, None], nt, axis=1).reshape(-1, 1)
        inputs["w"]["bias"] = np.repeat(ws[None], mt, axis=0).reshape(-1, 1)
    params = {"BLOCK_K": block_k, "X_ROWS": xr, "W_ROWS": wr, "NUM_BLOCKS": nb, **_format_params(fx, fw), **acc}
    return params, inputs


def linear_result(outputs: dict, module: str, params: dict, m: int, n: int,
                  lsb_exp: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(acc, exp)``: the ``(M, N)`` accumulators (Python ints) from the output beats and
    their LSB exponents, output ``(i, j)`` being ``acc[i, j] * 2**exp[i, j]``: the tile's
    ``y_exp`` for BMF / BL, ``lsb_exp`` (:func:`out_lsb_exp`) for the scalar formats."""
    from mase_hwlib import catalog

    full = catalog.get(module).resolve(params)
    acc = dot.from_chunks(outputs["y"]["data"], full["ACC_CHUNKS"])  # (MT*NT, XR*WR)
    xr, wr = params["X_ROWS"], params["W_ROWS"]
    if "exp" in outputs["y"]:
        tile_exp = np.asarray(outputs["y"]["exp"], dtype=np.int64).reshape(-1, 1) + lsb_exp
    else:
        tile_exp = np.full((acc.shape[0], 1), lsb_exp, dtype=np.int64)
    exp = np.broadcast_to(tile_exp, acc.shape)

    def matrix(a):
        return a.reshape(m // xr, n // wr, xr, wr).transpose(0, 2, 1, 3).reshape(m, n)

    return matrix(acc), matrix(np.array(exp))

