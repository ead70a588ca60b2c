"""ROM images for $readmemh: one MXInt tile per line, ``{exp, mant}`` in hex.

A word packs the tile's lanes as the stream ports do (lane ``i`` at bits
``[i*(m+1) +: m+1]``, two's complement) with the shared exponent (two's
complement, ``e`` bits) above them; it is written as one hex number of
``ceil((lanes*(m+1) + e) / 4)`` digits. Line ``i`` is ROM word ``i``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mase_hwlib.streams import pack_lanes, unpack_lanes

__all__ = ["write_mx_rom", "read_mx_rom", "read_linear_roms"]


def write_mx_rom(path, beats, man: int, exp: int) -> Path:
    """Write MXInt beats ``{"mant": (n, lanes), "exp": (n, 1)}`` as a $readmemh image."""
    mant = np.asarray(beats["mant"])
    exps = np.asarray(beats["exp"]).reshape(-1)
    lanes = mant.shape[1]
    width = lanes * (man + 1) + exp
    digits = (width + 3) // 4
    lines = []
    for row, e in zip(mant.tolist(), exps.tolist()):
        word = pack_lanes(row, man + 1) | ((int(e) & ((1 << exp) - 1)) << (lanes * (man + 1)))
        lines.append(f"{word:0{digits}x}")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def read_mx_rom(path, lanes: int, man: int, exp: int) -> dict:
    """Read a $readmemh image written by :func:`write_mx_rom` back into beats."""
    text = Path(path).read_text().split()
    words = [int(t, 16) for t in text if not t.startswith("//")]
    mw = lanes * (man + 1)
    mant = [unpack_lanes(w & ((1 << mw) - 1), lanes, man + 1, True) for w in words]
    exps = [unpack_lanes(w >> mw, 1, exp, True) for w in words]
    return {"mant": np.array(mant, dtype=np.int64).reshape(-1, lanes), "exp": np.array(exps, dtype=np.int64)}


def read_linear_roms(module: str, params, read_weights, read_bias, count=len):
    """The weight and bias tiles a linear with ``WEIGHTS_IN_ROM = 1`` loads, ``(weights, bias)``
    (bias None without HAS_BIAS): ``read_weights(path)`` / ``read_bias(path)`` read one image in
    the module's tile format, ``count(tiles)`` is its tile count, which must be
    ``OUT_TILES*IN_TILES`` (weights) and ``OUT_TILES`` (bias); a missing file or another count
    raises ValueError naming ``module``."""
    if not params["WEIGHT_FILE"]:
        raise ValueError(f"{module}: WEIGHTS_IN_ROM=1 needs WEIGHT_FILE")
    weights = read_weights(params["WEIGHT_FILE"])
    if count(weights) != params["OUT_TILES"] * params["IN_TILES"]:
        raise ValueError(f"{module}: {params['WEIGHT_FILE']} holds {count(weights)} tiles, expected "
                         f"OUT_TILES*IN_TILES = {params['OUT_TILES'] * params['IN_TILES']}")
    bias = None
    if params["HAS_BIAS"]:
        if not params["BIAS_FILE"]:
            raise ValueError(f"{module}: WEIGHTS_IN_ROM=1 with HAS_BIAS=1 needs BIAS_FILE")
        bias = read_bias(params["BIAS_FILE"])
        if count(bias) != params["OUT_TILES"]:
            raise ValueError(f"{module}: {params['BIAS_FILE']} holds {count(bias)} tiles, expected "
                             f"OUT_TILES = {params['OUT_TILES']}")
    return weights, bias
