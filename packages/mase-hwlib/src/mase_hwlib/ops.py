"""MXInt operators on whole tensors: MXArray in, MXArray out, through the golden
model or the RTL.

    y = mase_hwlib.ops.linear(qx, qw, qb, out_fmt)                 # exact golden model
    y = mase_hwlib.ops.linear(qx, qw, qb, out_fmt, backend="rtl")  # Icarus simulation

The module parameters (tile shape, formats) are read off the operands'
formats; the tensors are cut into tiles in the streaming order each module
expects (see docs/mxint-operators.md) and the output tiles are put back
together. Both backends give the same bits; the golden one is fast.

Format rules (the hardware's blocking):

* linear: x ``[N, IN]`` in ``MXInt((BK, XR))`` along (-1, -2) (or ``(BK,)``:
  XR = 1); W ``[OUT, IN]`` in ``MXInt((BK, OT))`` along (-1, -2) (or ``(BK,)``:
  OT = 1); bias ``[OUT]`` in ``MXInt((OT,))``; output format block ``(OT, XR)``
  (or ``(OT,)`` when XR = 1) along (-1, -2) of y ``[N, OUT]``.
* matmul: A ``[M, K]`` in ``MXInt((BK, AR))`` along (-1, -2); B ``[K, N]`` in
  ``MXInt((BK, BC))`` along (-2, -1); output block ``(BC, AR)`` along (-1, -2).
* mul / add / cast / relu: operands and output share one block shape and axes.
* fixed_to_mxint: integer values ``v`` ``[rows, cols]`` (value ``v * 2^-frac``)
  -> ``out_fmt`` blocked ``(B0,)`` along -1 or ``(B0, B1)`` along (-1, -2).
* reblock: ``q`` ``[rows, cols]`` in any MXInt block along (-1,) / (-1, -2) -> ``out_fmt``
  (another block shape, mantissa and exponent width) along the same axes.
"""

from __future__ import annotations

import hashlib

import numpy as np

from mase_hwlib import catalog, streams

__all__ = ["linear", "matmul", "mul", "add", "cast", "relu", "fixed_to_mxint", "reblock"]


def _run(module: str, params: dict, inputs: dict, backend: str, sim_kw: dict) -> dict:
    if backend == "golden":
        spec = catalog.get(module)
        resolved = spec.resolve(params)
        return spec.golden(resolved, streams.normalize(spec, resolved, inputs, "in"))["y"]
    if backend == "rtl":
        from mase_hwlib.simulate import simulate

        return simulate(module, params, inputs, **sim_kw).outputs["y"]
    raise ValueError(f"backend must be 'golden' or 'rtl', got {backend!r}")


def _mxint(q, what: str):
    import mx_formats as mxf

    if not isinstance(q.fmt, mxf.MXInt):
        raise TypeError(f"{what}: expected an MXInt MXArray, got {q.fmt}")
    return q.fmt


def _tile(fmt, axes, want_axes_2d, what: str) -> tuple[int, int]:
    """(extent along the first blocked axis, extent along the second) of an operand's block."""
    block = tuple(fmt.block)
    if len(block) == 1:
        return block[0], 1
    if tuple(axes) != want_axes_2d:
        raise ValueError(f"{what}: a 2-D block must run along axes {want_axes_2d}, got {tuple(axes)}")
    return block


def _norm_axes(axes, ndim):
    return tuple(a % ndim for a in axes)


def linear(qx, qw, qb, out_fmt, *, backend: str = "golden", weights_in_rom: bool = False, **sim_kw):
    """y = x W^T (+ b) as ``mase_mxint_linear`` computes it (exact sum, one rounding)."""
    fx, fw = _mxint(qx, "linear x"), _mxint(qw, "linear W")
    if len(qx.shape) != 2 or len(qw.shape) != 2:
        raise ValueError(f"linear: x and W must be 2-D, got {qx.shape} and {qw.shape}")
    bk, xr = _tile(fx, _norm_axes(qx.axes, 2), (1, 0), "linear x")
    bkw, ot = _tile(fw, _norm_axes(qw.axes, 2), (1, 0), "linear W")
    (n, fin), (fout, fin_w) = qx.shape, qw.shape
    if bk != bkw or fin != fin_w:
        raise ValueError(f"linear: x block {fx.block} / shape {qx.shape} and W block {fw.block} / shape "
                         f"{qw.shape} must agree on in_features and its block")
    if fin % bk or n % xr or fout % ot:
        raise ValueError(f"linear: shapes x {qx.shape}, W {qw.shape} are not whole tiles of {bk}x{xr} / {bk}x{ot}")
    want_block = (ot, xr) if xr > 1 else (ot,)
    if tuple(out_fmt.block) != want_block:
        raise ValueError(f"linear: the output format's block must be {want_block} (OUT_TILE, X_ROWS), got {out_fmt.block}")
    groups, in_tiles, out_tiles = n // xr, fin // bk, fout // ot
    params = dict(BLOCK_K=bk, X_ROWS=xr, OUT_TILE=ot, IN_TILES=in_tiles, OUT_TILES=out_tiles,
                  X_MAN=fx.man_bits, X_EXP=fx.exp_bits, W_MAN=fw.man_bits, W_EXP=fw.exp_bits,
                  OUT_MAN=out_fmt.man_bits, OUT_EXP=out_fmt.exp_bits, HAS_BIAS=int(qb is not None))
    wb = streams.mx_to_beats(qw)
    inputs = {"x": streams.mx_to_beats(qx)}
    bb = None
    if qb is not None:
        fb = _mxint(qb, "linear bias")
        if tuple(fb.block) != (ot,) or tuple(qb.shape) != (fout,):
            raise ValueError(f"linear: bias must be [{fout}] in an MXInt(({ot},), ...) format, got {qb.shape} {fb}")
        params.update(BIAS_MAN=fb.man_bits, BIAS_EXP=fb.exp_bits)
        bb = streams.mx_to_beats(qb)
    if weights_in_rom:
        from mase_hwlib.rom import write_mx_rom
        from mase_hwlib.simulate import _cache_root

        roms = _cache_root() / "roms"
        roms.mkdir(parents=True, exist_ok=True)
        for key, beats, man, exp in (("WEIGHT_FILE", wb, fw.man_bits, fw.exp_bits),
                                     ("BIAS_FILE", bb, params.get("BIAS_MAN"), params.get("BIAS_EXP"))):
            if beats is None:
                continue
            digest = hashlib.sha256(repr((man, exp, beats["mant"].tolist(), beats["exp"].tolist())).encode())
            path = roms / f"{digest.hexdigest()[:16]}.hex"
            if not path.is_file():
                write_mx_rom(path, beats, man, exp)
            params[key] = str(path)
        params["WEIGHTS_IN_ROM"] = 1
    else:
        inputs["w"] = {k: np.tile(v, (groups, 1)) for k, v in wb.items()}
        if bb is not None:
            inputs["b"] = {k: np.tile(v, (groups, 1)) for k, v in bb.items()}
    y = _run("mase_mxint_linear", params, inputs, backend, sim_kw)
    return streams.beats_to_mx(y, out_fmt, (n, fout), (-1, -2) if xr > 1 else (-1,))


def matmul(qa, qb, out_fmt, *, backend: str = "golden", **sim_kw):
    """C = A @ B as ``mase_mxint_matmul`` computes it, every output tile from its row and column tiles."""
    fa, fb = _mxint(qa, "matmul A"), _mxint(qb, "matmul B")
    if len(qa.shape) != 2 or len(qb.shape) != 2:
        raise ValueError(f"matmul: A and B must be 2-D, got {qa.shape} and {qb.shape}")
    if len(fa.block) == 1 and _norm_axes(qa.axes, 2) != (1,):
        raise ValueError("matmul: A must be blocked along its last axis (K)")
    if len(fb.block) == 1 and _norm_axes(qb.axes, 2) != (0,):
        raise ValueError("matmul: B must be blocked along its first axis (K): axes=(-2,)")
    bk, ar = _tile(fa, _norm_axes(qa.axes, 2), (1, 0), "matmul A")
    bkb, bc = _tile(fb, _norm_axes(qb.axes, 2), (0, 1), "matmul B")
    (m, k), (kb, n) = qa.shape, qb.shape
    if bk != bkb or k != kb or k % bk or m % ar or n % bc:
        raise ValueError(f"matmul: A {qa.shape} block {fa.block} and B {qb.shape} block {fb.block} do not tile")
    want_block = (bc, ar)
    if tuple(out_fmt.block) != want_block:
        raise ValueError(f"matmul: the output format's block must be {want_block} (B_COLS, A_ROWS), got {out_fmt.block}")
    kt = k // bk
    params = dict(BLOCK_K=bk, A_ROWS=ar, B_COLS=bc, K_TILES=kt, A_MAN=fa.man_bits, A_EXP=fa.exp_bits,
                  B_MAN=fb.man_bits, B_EXP=fb.exp_bits, OUT_MAN=out_fmt.man_bits, OUT_EXP=out_fmt.exp_bits)
    ab, bb = streams.mx_to_beats(qa), streams.mx_to_beats(qb)  # grids (M/AR, K/BK) and (N/BC, K/BK)
    rows, cols = m // ar, n // bc
    a_seq = {f: np.concatenate([v.reshape(rows, kt, -1)[i] for i in range(rows) for _ in range(cols)])
             for f, v in ab.items()}
    b_seq = {f: np.concatenate([v.reshape(cols, kt, -1)[j] for _ in range(rows) for j in range(cols)])
             for f, v in bb.items()}
    y = _run("mase_mxint_matmul", params, {"a": a_seq, "b": b_seq}, backend, sim_kw)
    return streams.beats_to_mx(y, out_fmt, (m, n), (-1, -2))


def _same_blocking(out_fmt, *qs):
    block = tuple(qs[0].fmt.block)
    for q in qs:
        _mxint(q, "elementwise operand")
        if tuple(q.fmt.block) != block or tuple(q.axes) != tuple(qs[0].axes) or q.shape != qs[0].shape:
            raise ValueError("elementwise: operands need one shape, block and axes")
    if tuple(out_fmt.block) != block:
        raise ValueError(f"elementwise: the output block must be the operands' {block}, got {out_fmt.block}")
    return block


def _elementwise(module, prefixes, qs, out_fmt, backend, sim_kw):
    block = _same_blocking(out_fmt, *qs)
    params = dict(BLOCK_0=block[0], BLOCK_1=block[1] if len(block) > 1 else 1,
                  OUT_MAN=out_fmt.man_bits, OUT_EXP=out_fmt.exp_bits)
    for prefix, q in zip(prefixes, qs):
        params.update({f"{prefix}_MAN": q.fmt.man_bits, f"{prefix}_EXP": q.fmt.exp_bits})
    names = ["x"] if len(qs) == 1 else ["a", "b"]
    y = _run(module, params, {nm: streams.mx_to_beats(q) for nm, q in zip(names, qs)}, backend, sim_kw)
    return streams.beats_to_mx(y, out_fmt, qs[0].shape, qs[0].axes)


def mul(qa, qb, out_fmt, *, backend: str = "golden", **sim_kw):
    """Elementwise a*b (``mase_mxint_mul``)."""
    return _elementwise("mase_mxint_mul", ("A", "B"), (qa, qb), out_fmt, backend, sim_kw)


def add(qa, qb, out_fmt, *, backend: str = "golden", **sim_kw):
    """Elementwise a+b with exact alignment (``mase_mxint_add``)."""
    return _elementwise("mase_mxint_add", ("A", "B"), (qa, qb), out_fmt, backend, sim_kw)


def cast(q, out_fmt, *, backend: str = "golden", **sim_kw):
    """Re-round and re-normalise into ``out_fmt`` (``mase_mxint_cast``)."""
    return _elementwise("mase_mxint_cast", ("IN",), (q,), out_fmt, backend, sim_kw)


def relu(q, out_fmt, *, backend: str = "golden", **sim_kw):
    """max(x, 0), re-normalised into ``out_fmt`` (``mase_mxint_relu``)."""
    return _elementwise("mase_mxint_relu", ("IN",), (q,), out_fmt, backend, sim_kw)


def fixed_to_mxint(values, out_fmt, *, width: int, frac: int, signed: bool = True, backend: str = "golden",
                   **sim_kw):
    """Fixed-point integers ``values`` ``[rows, cols]`` (value ``v * 2^-frac``, ``width``-bit lanes)
    as ``out_fmt`` through ``mase_fixed_to_mxint``: equals ``mx_formats.quantize(values * 2^-frac,
    out_fmt)`` blocked along (-1,) or (-1, -2). Beats of ``B0`` lanes, rows of ``cols / B0`` beats."""
    import mx_formats as mxf

    if not isinstance(out_fmt, mxf.MXInt):
        raise TypeError(f"fixed_to_mxint: out_fmt must be an MXInt format, got {out_fmt}")
    v = np.asarray(values)
    if v.ndim != 2 or not np.issubdtype(v.dtype, np.integer):
        raise ValueError(f"fixed_to_mxint: values must be a 2-D integer array, got {v.dtype} {v.shape}")
    block = tuple(out_fmt.block)
    b0, b1 = block[0], (block[1] if len(block) > 1 else 1)
    rows, cols = v.shape
    if cols % b0 or rows % b1:
        raise ValueError(f"fixed_to_mxint: shape {v.shape} is not a whole number of {block} blocks")
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    if v.size and (v.min() < lo or v.max() > hi):
        raise ValueError(f"fixed_to_mxint: values must fit {width} {'signed' if signed else 'unsigned'} bits, "
                         f"got range [{v.min()}, {v.max()}]")
    params = dict(BLOCK_0=b0, BLOCK_1=b1, ROW_BEATS=cols // b0, IN_WIDTH=width, IN_FRAC=frac,
                  IN_SIGNED=int(signed), OUT_MAN=out_fmt.man_bits, OUT_EXP=out_fmt.exp_bits)
    codes = v.astype(np.int64).reshape(-1, b0) & ((1 << width) - 1)
    y = _run("mase_fixed_to_mxint", params, {"x": {"data": codes}}, backend, sim_kw)
    return streams.beats_to_mx(y, out_fmt, v.shape, (-1, -2) if len(block) > 1 else (-1,))


def reblock(q, out_fmt, *, backend: str = "golden", **sim_kw):
    """``q`` ``[rows, cols]`` re-blocked into ``out_fmt`` through ``mase_mxint_reblock``
    (bands of lcm(B1_in, B1_out) rows x cols): equals ``mx_formats.quantize(dequantize(q), out_fmt)``."""
    import math

    fin = _mxint(q, "reblock input")
    if len(q.shape) != 2:
        raise ValueError(f"reblock: the tensor must be 2-D, got {q.shape}")
    ib0, ib1 = _tile(fin, _norm_axes(q.axes, 2), (1, 0), "reblock input")
    if len(fin.block) == 1 and _norm_axes(q.axes, 2) != (1,):
        raise ValueError("reblock: a 1-D block must run along the last axis")
    ob = tuple(out_fmt.block)
    ob0, ob1 = ob[0], (ob[1] if len(ob) > 1 else 1)
    rows, cols = q.shape
    band = math.lcm(ib1, ob1)
    if rows % band or cols % math.lcm(ib0, ob0):
        raise ValueError(f"reblock: shape {q.shape} is not whole bands of {band} rows and "
                         f"{math.lcm(ib0, ob0)}-column multiples for blocks {fin.block} -> {ob}")
    params = dict(ROWS=band, COLS=cols, IN_B0=ib0, IN_B1=ib1, OUT_B0=ob0, OUT_B1=ob1,
                  IN_MAN=fin.man_bits, IN_EXP=fin.exp_bits, OUT_MAN=out_fmt.man_bits, OUT_EXP=out_fmt.exp_bits)
    y = _run("mase_mxint_reblock", params, {"x": streams.mx_to_beats(q)}, backend, sim_kw)
    return streams.beats_to_mx(y, out_fmt, q.shape, (-1, -2) if len(ob) > 1 else (-1,))
