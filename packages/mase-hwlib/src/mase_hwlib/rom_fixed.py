"""ROM images of fixed-point tiles for $readmemh: one tile per line, its lanes packed as the
``<s>_data`` port packs them (lane ``i`` at bits ``[i*W +: W]``, two's complement), in hex.

The same file format as :mod:`mase_hwlib.rom` with no exponent field.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mase_hwlib.rom import write_mx_rom
from mase_hwlib.streams import unpack_lanes

__all__ = ["write_fixed_rom", "read_fixed_rom"]


def write_fixed_rom(path, data, width: int) -> Path:
    """Write fixed-point tiles ``data`` (``(n, lanes)`` integers) as a $readmemh image."""
    data = np.asarray(data, dtype=np.int64)
    return write_mx_rom(path, {"mant": data, "exp": np.zeros((len(data), 1), np.int64)}, width - 1, 0)


def read_fixed_rom(path, lanes: int, width: int) -> np.ndarray:
    """Read an image written by :func:`write_fixed_rom` back into ``(n, lanes)`` integers."""
    words = [int(t, 16) for t in Path(path).read_text().split() if not t.startswith("//")]
    return np.array([unpack_lanes(w, lanes, width, True) for w in words], dtype=np.int64).reshape(-1, lanes)
