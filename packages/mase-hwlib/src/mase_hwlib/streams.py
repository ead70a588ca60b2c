"""Beat arrays: how stream data is held in Python.

A stream's data is a dict ``{field_suffix: array}`` where each array has shape
``(n_beats, lanes)`` (int64, signed fields as signed values, unsigned fields as
non-negative values).  A whole module's inputs or outputs are
``{stream_name: {field_suffix: array}}``.  Golden models and
:func:`mase_hwlib.simulate` both speak this form, so comparing them is
``np.array_equal`` per field.

An MXInt stream (fields ``mant`` and ``exp``) carries one block per beat:
``mant`` lanes are the block's signed element integers ``q`` in the
"blocked axes last" order of ``mx_formats`` (lane ``r*B0 + c`` is row ``r``,
column ``c`` of the block tile), ``exp`` is the shared exponent ``s``; the
value of lane ``j`` is ``q_j * 2**(s - m + 1)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["normalize", "pack_lanes", "unpack_lanes", "mx_to_beats", "beats_to_mx", "beats_to_blocks"]


def pack_lanes(values, width: int) -> int:
    """Pack lane integers (lane 0 in the low bits) into one unsigned port value."""
    mask = (1 << width) - 1
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (i * width)
    return word


def unpack_lanes(word: int, lanes: int, width: int, signed: bool) -> list[int]:
    """Inverse of :func:`pack_lanes` (sign-extends each lane when ``signed``)."""
    mask = (1 << width) - 1
    out = []
    for i in range(lanes):
        v = (word >> (i * width)) & mask
        if signed and v >> (width - 1):
            v -= 1 << width
        out.append(v)
    return out


def normalize(spec, resolved: Mapping[str, int], data: Mapping, direction: str = "in") -> dict:
    """Check and convert user data for ``spec``'s streams of ``direction`` to beat arrays.

    Accepts per stream either ``{field: array}`` (shape ``(n,)`` allowed for one
    lane) or an ``mx_formats.MXArray`` for a stream with ``mant``/``exp``
    fields.  Raises ``ValueError`` naming the stream and field on a bad shape,
    a value that does not fit its width, or streams of unequal beat count
    inside one stream.
    """
    streams = spec.inputs_for(resolved) if direction == "in" else spec.outputs_for(resolved)
    names = {s.name for s in streams}
    extra = sorted(set(data) - names)
    if extra:
        raise ValueError(f"{spec.name}: unknown {direction}put stream(s) {extra}; expected {sorted(names)}")
    out = {}
    for s in streams:
        if s.name not in data:
            raise ValueError(f"{spec.name}: {direction}put stream {s.name!r} missing")
        value = data[s.name]
        if not isinstance(value, Mapping):
            value = mx_to_beats(value)
        fields = {}
        n_beats = None
        for f in s.fields:
            lanes, width = f.resolve(resolved)
            if f.suffix not in value:
                raise ValueError(f"{spec.name}: stream {s.name} misses field {f.suffix!r}")
            arr = np.asarray(value[f.suffix])
            if arr.ndim == 1 and lanes == 1:
                arr = arr[:, None]
            if arr.ndim != 2 or arr.shape[1] != lanes:
                raise ValueError(
                    f"{spec.name}: {s.name}_{f.suffix} must have shape (n_beats, {lanes}), got {arr.shape}"
                )
            if not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"{spec.name}: {s.name}_{f.suffix} must hold integers, got {arr.dtype}")
            arr = arr.astype(np.int64)
            lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if f.signed else (0, (1 << width) - 1)
            if arr.size and (arr.min() < lo or arr.max() > hi):
                raise ValueError(
                    f"{spec.name}: {s.name}_{f.suffix} values must fit {width} "
                    f"{'signed' if f.signed else 'unsigned'} bits [{lo}, {hi}], "
                    f"got range [{arr.min()}, {arr.max()}]"
                )
            if n_beats is not None and arr.shape[0] != n_beats:
                raise ValueError(f"{spec.name}: fields of stream {s.name} have different beat counts")
            n_beats = arr.shape[0]
            fields[f.suffix] = arr
        out[s.name] = fields
    return out


def mx_to_beats(q) -> dict:
    """An ``mx_formats.MXArray`` of an MXInt format as beats, one block per beat.

    Blocks are taken in row-major order over the block grid of ``q.elements``
    (blocked axes last); inside a block, lanes are row-major over the
    ``(B1, B0)`` tile.  The tensor must be a whole number of blocks.
    """
    fmt = q.fmt
    mant = np.asarray(q.mantissas())
    scales = np.asarray(q.scales)
    block = tuple(fmt.block)
    b0 = block[0]
    b1 = block[1] if len(block) > 1 else 1
    if len(block) == 1:
        mant = mant[..., None, :]
        scales = scales[..., None]
    *lead, rows, cols = mant.shape
    if rows % b1 or cols % b0:
        raise ValueError(f"mx_to_beats: shape {q.shape} is not a whole number of {block} blocks")
    tiles = mant.reshape(*lead, rows // b1, b1, cols // b0, b0)
    tiles = np.moveaxis(tiles, -3, -2)  # (..., R, C, b1, b0)
    return {
        "mant": tiles.reshape(-1, b1 * b0).astype(np.int64),
        "exp": scales.reshape(-1, 1).astype(np.int64),
    }


def beats_to_mx(beats: Mapping, fmt, shape, axes=None):
    """MXInt beats (one block per beat, order as :func:`mx_to_beats`) as an ``mx_formats.MXArray``.

    ``shape`` and ``axes`` are the tensor's (as for ``mx_formats.quantize``);
    the tensor must be a whole number of ``fmt.block`` blocks. Inverse of
    :func:`mx_to_beats`.
    """
    import mx_formats as mxf
    from mx_formats.array import code_dtype

    if not isinstance(fmt, mxf.MXInt):
        raise TypeError(f"beats_to_mx: only MXInt formats, got {fmt}")
    shape = tuple(int(n) for n in shape)
    block = tuple(fmt.block)
    if axes is None:
        axes = (-1,) if len(block) == 1 else (-1, -2)
    axes = tuple(a % len(shape) for a in axes)
    if len(axes) != len(block):
        raise ValueError(f"beats_to_mx: {len(block)}-D block {block} needs {len(block)} axes, got {axes}")
    dummy = np.broadcast_to(np.int8(0), shape)
    if len(axes) == 1:
        moved = np.moveaxis(dummy, axes[0], -1).shape
        b0, b1 = block[0], 1
        moved2 = (*moved[:-1], 1, moved[-1])
    else:
        moved = np.moveaxis(dummy, (axes[1], axes[0]), (-2, -1)).shape
        b0, b1 = block
        moved2 = moved
    *lead, rows, cols = moved2
    if rows % b1 or cols % b0:
        raise ValueError(f"beats_to_mx: shape {shape} is not a whole number of {block} blocks along {axes}")
    mant = np.asarray(beats["mant"], dtype=np.int64)
    n_blocks = int(np.prod(lead, dtype=np.int64)) * (rows // b1) * (cols // b0)
    if mant.shape != (n_blocks, b0 * b1):
        raise ValueError(f"beats_to_mx: expected {n_blocks} beats of {b0 * b1} lanes, got {mant.shape}")
    tiles = mant.reshape(*lead, rows // b1, cols // b0, b1, b0)
    elems = np.moveaxis(tiles, -2, -3).reshape(moved)
    width = fmt.man_bits + 1
    codes = (elems & ((1 << width) - 1)).astype(code_dtype(width))
    scales = np.asarray(beats["exp"], dtype=np.int16).reshape(*lead, *([rows // b1] if len(axes) == 2 else []),
                                                               cols // b0)
    return mxf.MXArray(fmt=fmt, shape=shape, axes=axes, scales=scales, elements=codes)


def beats_to_blocks(beats: Mapping, b1: int, b0: int) -> tuple[np.ndarray, np.ndarray]:
    """MXInt beats as ``(mant[n, b1, b0], exp[n])`` for inspection."""
    mant = np.asarray(beats["mant"]).reshape(-1, b1, b0)
    return mant, np.asarray(beats["exp"]).reshape(-1)
