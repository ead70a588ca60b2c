"""quantize, dequantize and fake_quantize: argument checks, layout, kernel dispatch."""

from __future__ import annotations

import numpy as np

from mx_formats import kernels as K
from mx_formats.array import MXArray, code_dtype
from mx_formats.formats import BL, BMF, Fixed, Float32, Format, MetadataFormat, MiniFloat, MXInt, OCPFormat
from mx_formats.layout import Layout, make_layout

__all__ = ["quantize", "dequantize", "fake_quantize", "ROUNDING_MODES"]

ROUNDING_MODES = tuple(K.ROUNDING_MODES)
_NONFINITE = ("nan", "error")
_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _check_format(fmt) -> Format:
    if isinstance(fmt, str):
        from mx_formats.parse import parse

        return parse(fmt)
    if not isinstance(fmt, Format):
        raise TypeError(f"fmt must be a format object or a format string, got {type(fmt).__name__}")
    return fmt


_FLT_MAX = float(np.finfo(np.float32).max)


def _as_float_array(x, caller: str) -> np.ndarray:
    """float32 or float64 array of ``x``. Results are float32, so float64 values
    beyond float32's range are clipped to +-FLT_MAX first (NaN and Inf kept)."""
    x = np.asarray(x)
    if x.dtype == np.float64 and x.size and np.nanmax(np.abs(np.where(np.isinf(x), 0.0, x)), initial=0.0) > _FLT_MAX:
        return np.where(np.isfinite(x), np.clip(x, -_FLT_MAX, _FLT_MAX), x)
    if x.dtype in _KERNEL_DTYPES:
        return x
    if x.dtype == np.float16 or x.dtype.name == "bfloat16":
        return x.astype(np.float32)  # exact: both are subsets of float32
    raise TypeError(f"{caller}: x must be a floating-point array (float16, bfloat16, float32 or float64), "
                    f"got dtype {x.dtype}")


def _check_options(rounding, seed, nonfinite, caller: str) -> int:
    if rounding not in K.ROUNDING_MODES:
        raise ValueError(f"{caller}: unknown rounding {rounding!r}; choose one of {', '.join(ROUNDING_MODES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"{caller}: seed must be an int in [0, 2^63), got {seed!r}")
    if nonfinite not in _NONFINITE:
        raise ValueError(f"{caller}: nonfinite must be 'nan' or 'error', got {nonfinite!r}")
    return K.ROUNDING_MODES[rounding]


def _refuse_nonfinite(x: np.ndarray, caller: str, why: str):
    bad = ~np.isfinite(x)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{caller}: x[{', '.join(map(str, index))}] = {x[index]} is not finite ({why})")


def _encode(fmt: Format, layout: Layout, view: np.ndarray, rmode: int, seed: int, out, codes, scales,
            want_values: bool, want_codes: bool):
    """Run the encode kernel of ``fmt``'s family on the working view."""
    P, R, C = layout.view_shape
    view = view.reshape(P * R, C)
    out, codes = out.reshape(view.shape) if want_values else out, codes.reshape(view.shape) if want_codes else codes
    int_view, mant_bits, exp_bias, mag_mask, inf_bits = K.float_constants(view.dtype)
    head = (view, view.view(int_view), mant_bits, exp_bias, mag_mask, inf_bits, R)
    b_row, b_col = layout.b_row, layout.b_col
    flags = (rmode, seed, out, codes, scales, want_values, want_codes)
    # The minifloat and power-of-two hot paths write float32 results as bit patterns
    # through an integer view of ``out``.
    bit_flags = (rmode, seed, out, out.view(np.int32), codes, scales, want_values, want_codes)
    args: tuple  # each family's kernel takes its own argument list
    if isinstance(fmt, MXInt) or (isinstance(fmt, OCPFormat) and fmt.is_int):
        m = fmt.man_bits if isinstance(fmt, MXInt) else fmt.elem_man_bits
        qmax = float((1 << m) - 1)
        name, args = "encode_int", (b_row, b_col, 0, m - 1, fmt.scale_max, -qmax, qmax, m + 1, *flags)
    elif isinstance(fmt, Fixed):
        qmax = float((1 << (fmt.width - 1)) - 1)
        name, args = "encode_int", (1, 1, 1, fmt.frac, 0, -qmax - 1.0, qmax, fmt.width, *flags)
    elif isinstance(fmt, OCPFormat):
        name, args = "encode_float", (b_row, b_col, 0, fmt.emax_elem, fmt.elem_emin, float(fmt.elem_max),
                                      fmt.scale_max, fmt.elem_exp_bits, fmt.elem_man_bits, *bit_flags)
    elif isinstance(fmt, BMF):
        name, args = "encode_float", (b_row, b_col, 1, fmt.exp_code_max, 0, 0.0, fmt.scale_max, fmt.exp_bits,
                                      fmt.man_bits, *bit_flags)
    elif isinstance(fmt, MiniFloat):
        name, args = "encode_float", (1, 1, 2, (1 << fmt.exp_bits) - 1 - fmt.bias, 1 - fmt.bias, fmt.max_value, 0,
                                      fmt.exp_bits, fmt.man_bits, *bit_flags)
    elif isinstance(fmt, BL):
        name, args = "encode_log", (b_row, b_col, fmt.exp_code_max, fmt.scale_max, fmt.exp_bits, *bit_flags)
    else:  # pragma: no cover - every format class is handled above
        raise TypeError(f"no kernel for {fmt}")
    K.kernel(name, view.size)(*head, *args)


def _prepare(x, fmt, axes, rounding, seed, nonfinite, caller):
    fmt = _check_format(fmt)
    x = _as_float_array(x, caller)
    rmode = _check_options(rounding, seed, nonfinite, caller)
    layout = make_layout(fmt, x.shape, axes)
    if isinstance(fmt, MetadataFormat):
        from mx_formats.metadata import check_rounding

        check_rounding(fmt, rounding, caller)
    if nonfinite == "error":
        _refuse_nonfinite(x, caller, "nonfinite='error'")
    return fmt, x, rmode, layout


def _scales_2d(layout: Layout) -> tuple[int, int]:
    """Shape of the kernels' scales: (row groups of all planes, column blocks)."""
    P, R, C = layout.view_shape
    return P * -(-R // layout.b_row), -(-C // layout.b_col)


_NO_CODES = np.zeros((1, 1), np.uint8)
_NO_SCALES = np.zeros((1, 1), np.int16)
_NO_VALUES = np.zeros((1, 1), np.float32)


def fake_quantize(x, fmt, axes=None, rounding: str = "nearest_even", *, seed: int = 0,
                  nonfinite: str = "nan", out: np.ndarray | None = None) -> np.ndarray:
    """Round ``x`` onto ``fmt``'s grid and return float32 values, fused in one pass.

    Equal bit for bit to ``dequantize(quantize(x, fmt, axes, rounding, seed=seed))``.
    ``axes``: the blocked axes (default ``(-1,)`` for a 1-D block, ``(-1, -2)`` for
    a 2-D one; ``block[0]`` runs along ``axes[0]``). ``rounding``: one of
    ``nearest_even``, ``nearest_away``, ``toward_zero``, ``floor``, ``stochastic``
    (counter-based with ``seed``, reproducible). A block holding NaN or Inf comes
    out all NaN unless ``nonfinite="error"``, which raises ``ValueError`` naming the
    first non-finite element. ``out``: an optional C-contiguous float32 array of
    ``x``'s shape to write into (used for zero-copy torch tensors).
    """
    fmt, x, rmode, layout = _prepare(x, fmt, axes, rounding, seed, nonfinite, "fake_quantize")
    if out is not None and (out.dtype != np.float32 or out.shape != x.shape or not out.flags.c_contiguous):
        raise ValueError(f"fake_quantize: out must be a C-contiguous float32 array of shape {x.shape}")
    if isinstance(fmt, Float32):
        result = x.astype(np.float32)
    elif x.size == 0:
        result = np.empty(x.shape, np.float32)
    elif isinstance(fmt, MetadataFormat):
        from mx_formats import metadata

        values = metadata.encode(fmt, layout, layout.to_view(x), True, False)[0]
        result = layout.from_view(values)
    else:
        view = layout.to_view(x)
        if out is not None and not layout.needs_move:  # the kernel writes into the caller's array
            _encode(fmt, layout, view, rmode, seed, out.reshape(layout.view_shape), _NO_CODES, _NO_SCALES, True, False)
            return out
        values = np.empty(layout.view_shape, np.float32)
        _encode(fmt, layout, view, rmode, seed, values, _NO_CODES, _NO_SCALES, True, False)
        result = layout.from_view(values)
    if out is not None:
        np.copyto(out, result)
        return out
    return result


def quantize(x, fmt, axes=None, rounding: str = "nearest_even", *, seed: int = 0,
             nonfinite: str = "nan") -> MXArray:
    """Quantize ``x`` to ``fmt`` in packed form (integer scale and element codes).

    Arguments as :func:`fake_quantize`. Scalar formats (Fixed, MiniFloat) have no
    NaN code, so they refuse non-finite input with a ``ValueError``.
    """
    fmt, x, rmode, layout = _prepare(x, fmt, axes, rounding, seed, nonfinite, "quantize")
    if isinstance(fmt, Float32):
        return MXArray(fmt, x.shape, (), np.zeros((0,), np.int16), x.astype(np.float32).view(np.uint32).copy())
    if not fmt.is_block:
        _refuse_nonfinite(x, "quantize", f"{fmt} has no code for NaN or Inf")
    if isinstance(fmt, MetadataFormat):
        return _quantize_metadata(fmt, x, layout)
    codes = np.empty(layout.view_shape, code_dtype(fmt.element_bits))
    scales = np.empty(_scales_2d(layout), np.int16) if fmt.is_block else _NO_SCALES
    if x.size:
        _encode(fmt, layout, layout.to_view(x), rmode, seed, _NO_VALUES, codes, scales, False, True)
    return MXArray(
        fmt,
        tuple(x.shape),
        layout.axes,
        scales.reshape(layout.scales_shape) if fmt.is_block else np.zeros((0,), np.int16),
        codes.reshape(layout.moved_shape),
    )


def _quantize_metadata(fmt: MetadataFormat, x: np.ndarray, layout: Layout) -> MXArray:
    from mx_formats import metadata

    mshape = metadata.meta_shape(fmt, layout)
    if x.size == 0:
        codes = np.empty(layout.moved_shape, np.uint8)
        scales = np.empty(layout.scales_shape, np.int16)
        meta = np.empty(mshape, np.uint8) if fmt.meta_bits else None
        return MXArray(fmt, tuple(x.shape), layout.axes, scales, codes, meta,
                       np.float32(0) if fmt.tensor_scale_bits else None)
    _, codes, scales, meta, tensor_scale = metadata.encode(fmt, layout, layout.to_view(x), False, True)
    return MXArray(fmt, tuple(x.shape), layout.axes, scales.reshape(layout.scales_shape),
                   codes.reshape(layout.moved_shape), meta.reshape(mshape) if meta is not None else None,
                   np.float32(tensor_scale) if tensor_scale is not None else None)


def dequantize(q: MXArray) -> np.ndarray:
    """Float32 values of a packed tensor, in its original shape."""
    if not isinstance(q, MXArray):
        raise TypeError(f"dequantize takes an MXArray, got {type(q).__name__}")
    fmt = q.fmt
    if isinstance(fmt, Float32):
        return q.elements.view(np.float32).reshape(q.shape).copy()
    layout = make_layout(fmt, q.shape, q.axes if fmt.is_block else None)
    if q.elements.shape != layout.moved_shape:
        raise ValueError(f"dequantize: elements have shape {q.elements.shape}, expected {layout.moved_shape}")
    out = np.empty(layout.view_shape, np.float32)
    if q.size == 0:
        return layout.from_view(out)
    if isinstance(fmt, MetadataFormat):
        from mx_formats import metadata

        return layout.from_view(metadata.decode(fmt, layout, q.elements, q.scales, q.meta, q.tensor_scale))
    P, R, C = layout.view_shape
    size = P * R * C
    codes = np.ascontiguousarray(q.elements).reshape(P * R, C)
    flat = out.reshape(P * R, C)  # a view: the kernel fills ``out``
    scales = np.ascontiguousarray(q.scales, dtype=np.int16).reshape(_scales_2d(layout)) if fmt.is_block else _NO_SCALES
    b_row, b_col = layout.b_row, layout.b_col
    args: tuple  # each family's kernel takes its own argument list
    if isinstance(fmt, MXInt) or (isinstance(fmt, OCPFormat) and fmt.is_int):
        m = fmt.man_bits if isinstance(fmt, MXInt) else fmt.elem_man_bits
        name, args = "decode_int", (b_row, b_col, 0, m - 1, fmt.scale_max, m + 1)
    elif isinstance(fmt, Fixed):
        name, args = "decode_int", (1, 1, 1, fmt.frac, 0, fmt.width)
    elif isinstance(fmt, OCPFormat):
        name, args = "decode_float", (b_row, b_col, 0, fmt.elem_emin, fmt.scale_max, fmt.elem_exp_bits,
                                      fmt.elem_man_bits)
    elif isinstance(fmt, BMF):
        name, args = "decode_float", (b_row, b_col, 1, 0, fmt.scale_max, fmt.exp_bits, fmt.man_bits)
    elif isinstance(fmt, MiniFloat):
        name, args = "decode_float", (1, 1, 2, 1 - fmt.bias, 0, fmt.exp_bits, fmt.man_bits)
    elif isinstance(fmt, BL):
        name, args = "decode_log", (b_row, b_col, fmt.scale_max, fmt.exp_bits)
    else:  # pragma: no cover
        raise TypeError(f"no decoder for {fmt}")
    K.kernel(name, size)(codes, scales, R, *args, flat)
    return layout.from_view(out)
