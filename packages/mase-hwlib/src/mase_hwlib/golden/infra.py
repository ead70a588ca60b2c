"""Golden models of the stream infrastructure (register slices, FIFOs, fork/join, reorder).

Each model is ``golden(params, inputs) -> outputs`` on beat arrays: it says which
beats leave on which output stream, in which order; timing is not modelled.
"""

from __future__ import annotations

import numpy as np


def passthrough(params, inputs):
    """Skid buffer / FIFO: the output carries the input beats unchanged, in order."""
    return {"y": {"data": inputs["x"]["data"].copy()}}


def fork2(params, inputs):
    """Fork: each of the two outputs carries every input beat, in order."""
    d = inputs["x"]["data"]
    return {"a": {"data": d.copy()}, "b": {"data": d.copy()}}


def join2(params, inputs):
    """Join: beat i of the output is (a_i, b_i) as two lanes (a in lane 0)."""
    a, b = inputs["a"]["data"], inputs["b"]["data"]
    if len(a) != len(b):
        raise ValueError(f"mase_join2: streams a and b need the same beat count, got {len(a)} and {len(b)}")
    return {"y": {"data": np.concatenate([a, b], axis=1)}}


def transpose(params, inputs):
    """Reorder buffer: each frame of ROWS x COLS beats arrives row-major and leaves column-major.

    Beat ``r*COLS + c`` of a frame becomes beat ``c*ROWS + r``.  The input must
    be a whole number of frames.
    """
    rows, cols = params["ROWS"], params["COLS"]
    d = inputs["x"]["data"]
    if len(d) % (rows * cols):
        raise ValueError(f"mase_transpose: {len(d)} beats is not a whole number of {rows}x{cols} frames")
    frames = d.reshape(-1, rows, cols, d.shape[1])
    return {"y": {"data": frames.transpose(0, 2, 1, 3).reshape(-1, d.shape[1])}}
