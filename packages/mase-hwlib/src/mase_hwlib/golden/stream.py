"""Exact golden models of the stream bridges: fixed point -> MXInt, constant ROM
sources, the block-stream reorder buffer and the re-blocking buffer.

Each is ``golden(params, inputs) -> outputs`` on beat arrays (see
:mod:`mase_hwlib.streams`) and mirrors its RTL module bit for bit; the block
rounding is :func:`mase_hwlib.golden.mxint.normalize_block`, so an output block
equals ``mx_formats.quantize`` of the exact input values (round half to even,
exponent clamped to ``[-emax, emax]``, mantissas saturated).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mase_hwlib.golden.mxint import _check_block, _out, normalize_block

__all__ = ["fixed_codes_to_values", "fixed_to_mxint", "rom_source_beats", "rom_source", "reblock", "replay_order", "replay"]


def fixed_codes_to_values(codes, width: int, signed: bool) -> np.ndarray:
    """Port codes (``width``-bit, as on the wire) as integers: two's complement when ``signed``."""
    codes = np.asarray(codes, dtype=np.int64) & ((1 << width) - 1)
    if signed:
        codes = np.where(codes >> (width - 1), codes - (1 << width), codes)
    return codes


def fixed_to_mxint(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_fixed_to_mxint``.

    ``x_data`` lanes are the ``IN_WIDTH``-bit port codes of ``v``, value
    ``v * 2^-IN_FRAC``. With ``BLOCK_1 = 1`` beat i is block i; with
    ``BLOCK_1 > 1`` the beats are rows of ``ROW_BEATS`` beats and block
    ``(g, c)`` gathers beat c of rows ``g*BLOCK_1 .. g*BLOCK_1 + BLOCK_1 - 1``
    (lane ``r*BLOCK_0 + j``), blocks in order (g, c). Each block is
    ``normalize_block(v, -IN_FRAC, OUT_MAN, OUT_EXP)``.
    """
    b0, b1, row_beats = params["BLOCK_0"], params["BLOCK_1"], params["ROW_BEATS"]
    v = fixed_codes_to_values(inputs["x"]["data"], params["IN_WIDTH"], bool(params["IN_SIGNED"]))
    n = len(v)
    if b1 > 1:
        frame = b1 * row_beats
        if n % frame:
            raise ValueError(
                f"mase_fixed_to_mxint: {n} beats is not a whole number of block rows "
                f"(BLOCK_1={b1} rows x ROW_BEATS={row_beats} beats)"
            )
        v = v.reshape(-1, b1, row_beats, b0).transpose(0, 2, 1, 3)
    blocks = v.reshape(-1, b1 * b0).tolist()
    mants, exps = [], []
    for block in blocks:
        m, e = normalize_block(block, -params["IN_FRAC"], params["OUT_MAN"], params["OUT_EXP"])
        mants.append(m)
        exps.append([e])
    return _out(mants, exps, b0 * b1)


def rom_source_beats(params: Mapping, n_beats: int | None = None) -> dict:
    """The beats ``mase_mxint_rom_source`` sends: ``REPEAT`` passes (or, for a free-running
    source with ``REPEAT = 0``, the first ``n_beats``) over the ROM words, each word ``HOLD``
    times in a row. The words are read from ``ROM_FILE`` as the RTL's ``$readmemh`` does."""
    from mase_hwlib.rom import read_mx_rom

    if not params["ROM_FILE"]:
        raise ValueError("mase_mxint_rom_source: ROM_FILE is empty (write one with mase_hwlib.rom.write_mx_rom)")
    words = read_mx_rom(params["ROM_FILE"], params["LANES"], params["MAN"], params["EXP"])
    if len(words["mant"]) != params["DEPTH"]:
        raise ValueError(f"mase_mxint_rom_source: {params['ROM_FILE']} holds {len(words['mant'])} words, "
                         f"DEPTH={params['DEPTH']}")
    _check_block("rom", words["mant"], words["exp"], params["MAN"], params["EXP"])
    period = {k: np.repeat(v, params["HOLD"], axis=0) for k, v in words.items()}
    if n_beats is None:
        if params["REPEAT"] == 0:
            raise ValueError("mase_mxint_rom_source: REPEAT=0 runs forever; say how many beats "
                             "(rom_source_beats(params, n_beats), simulate(..., expected_beats=))")
        n_beats = params["REPEAT"] * len(period["mant"])
    reps = -(-n_beats // len(period["mant"]))
    return {k: np.tile(v, (reps, 1))[:n_beats] for k, v in period.items()}


def rom_source(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_mxint_rom_source`` (no inputs; ``REPEAT`` passes)."""
    return {"y": rom_source_beats(params)}


def reblock(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_mxint_reblock``: per band of ROWS x COLS elements, the
    IN_B1 x IN_B0 input blocks (row-major over the band) become OUT_B1 x OUT_B0 output
    blocks (row-major over the band; lanes column-major when OUT_COL_MAJOR), each the
    exact values rounded once: ``normalize_block`` of the block aligned to its smallest LSB."""
    rows, cols = params["ROWS"], params["COLS"]
    ib0, ib1, ob0, ob1 = params["IN_B0"], params["IN_B1"], params["OUT_B0"], params["OUT_B1"]
    x = inputs["x"]
    _check_block("x", x["mant"], x["exp"], params["IN_MAN"], params["IN_EXP"])
    per_band = (rows // ib1) * (cols // ib0)
    n = len(x["mant"])
    if n % per_band:
        raise ValueError(f"mase_mxint_reblock: {n} blocks is not a whole number of bands "
                         f"({per_band} blocks of {ib1}x{ib0} per {rows}x{cols} band)")
    # element grid per band: integer q and its LSB exponent s - IN_MAN + 1
    q = x["mant"].reshape(-1, rows // ib1, cols // ib0, ib1, ib0).transpose(0, 1, 3, 2, 4).reshape(-1, rows, cols)
    lsb = np.broadcast_to((x["exp"].reshape(-1, rows // ib1, cols // ib0) - (params["IN_MAN"] - 1))
                          [:, :, None, :, None], (len(q), rows // ib1, ib1, cols // ib0, ib0)).reshape(-1, rows, cols)
    mants, exps = [], []
    for b in range(len(q)):
        for r0 in range(0, rows, ob1):
            for c0 in range(0, cols, ob0):
                tq, tl = q[b, r0:r0 + ob1, c0:c0 + ob0], lsb[b, r0:r0 + ob1, c0:c0 + ob0]
                if params["OUT_COL_MAJOR"]:
                    tq, tl = tq.T, tl.T
                ints, lsbs = [int(v) for v in tq.ravel()], [int(v) for v in tl.ravel()]
                low = min(lsbs)
                m, e = normalize_block([v << (l - low) for v, l in zip(ints, lsbs)], low,
                                       params["OUT_MAN"], params["OUT_EXP"])
                mants.append(m)
                exps.append([e])
    return _out(mants, exps, ob0 * ob1)


def replay_order(params: Mapping) -> list[int]:
    """Frame beat indices (row-major ``r*FRAME_COLS + c``) in the order ``mase_mxint_replay`` sends them."""
    fr, fc, groups = params["FRAME_ROWS"], params["FRAME_COLS"], params["GROUPS"]
    gc = fc // groups
    order = []
    for _ in range(params["REPEAT_OUTER"]):
        for g in range(groups):
            for _ in range(params["REPEAT_INNER"]):
                if params["COL_MAJOR"]:
                    order += [r * fc + g * gc + c for c in range(gc) for r in range(fr)]
                else:
                    order += [r * fc + g * gc + c for r in range(fr) for c in range(gc)]
    return order


def replay(params: Mapping, inputs: Mapping) -> dict:
    """Golden model of ``mase_mxint_replay``: every frame of FRAME_ROWS x FRAME_COLS blocks
    leaves in :func:`replay_order`; with TRANSPOSE_LANES each block's TILE_ROWS x TILE_COLS
    lanes leave transposed. The block values are not touched."""
    x = inputs["x"]
    frame = params["FRAME_ROWS"] * params["FRAME_COLS"]
    n = len(x["mant"])
    if n % frame:
        raise ValueError(f"mase_mxint_replay: {n} blocks is not a whole number of "
                         f"{params['FRAME_ROWS']}x{params['FRAME_COLS']} frames")
    order = np.asarray(replay_order(params))
    idx = (np.arange(n // frame)[:, None] * frame + order[None, :]).ravel()
    mant, exp = x["mant"][idx], x["exp"][idx]
    if params["TRANSPOSE_LANES"]:
        tc = params["TILE_COLS"]
        mant = mant.reshape(len(mant), -1, tc).transpose(0, 2, 1).reshape(len(mant), -1)
    return {"y": {"mant": mant.copy(), "exp": exp.copy()}}
