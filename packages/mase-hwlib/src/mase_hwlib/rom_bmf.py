"""ROM images of block-minifloat / block-logarithm tiles for $readmemh: one tile per line,
``{bias, data}`` in hex, packed as the stream ports pack them (element code ``i`` at bits
``[i*EL +: EL]``, the shared bias, two's complement, above them).

The same file format as :mod:`mase_hwlib.rom` (an MXInt word is ``{exp, mant}``), so
``mase_linear_sequencer`` loads either unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mase_hwlib.rom import write_mx_rom
from mase_hwlib.streams import unpack_lanes

__all__ = ["write_bmf_rom", "read_bmf_rom"]


def write_bmf_rom(path, beats, el_width: int, bias_bits: int) -> Path:
    """Write tiles ``{"data": (n, lanes) codes, "bias": (n, 1)}`` as a $readmemh image."""
    data = np.asarray(beats["data"], dtype=np.int64)
    bias = np.asarray(beats["bias"], dtype=np.int64).reshape(-1, 1)
    return write_mx_rom(path, {"mant": data, "exp": bias}, el_width - 1, bias_bits)


def read_bmf_rom(path, lanes: int, el_width: int, bias_bits: int) -> dict:
    """Read an image written by :func:`write_bmf_rom` back into ``{"data", "bias"}`` beats."""
    words = [int(t, 16) for t in Path(path).read_text().split() if not t.startswith("//")]
    dw = lanes * el_width
    data = [unpack_lanes(w & ((1 << dw) - 1), lanes, el_width, False) for w in words]
    bias = [unpack_lanes(w >> dw, 1, bias_bits, True) for w in words]
    return {"data": np.array(data, dtype=np.int64).reshape(-1, lanes),
            "bias": np.array(bias, dtype=np.int64).reshape(-1, 1)}
