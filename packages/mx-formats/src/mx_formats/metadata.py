"""Glue between ``api.py`` and the metadata kernels (NVFP4, M2XFP): views, shapes, dispatch."""

from __future__ import annotations

import numpy as np

from mx_formats import metadata_kernels as MK
from mx_formats.formats import M2XFP, NVFP4, MetadataFormat
from mx_formats.layout import Layout

_NO_CODES = np.zeros((1, 1), np.uint8)
_NO_SMALL = np.zeros((1, 1), np.int16)
_NO_META = np.zeros((1, 1), np.uint8)
_NO_VALUES = np.zeros((1, 1), np.float32)


def meta_shape(fmt: MetadataFormat, layout: Layout) -> tuple[int, ...]:
    """Shape of ``MXArray.meta``: the moved layout with the blocked axis counted in subgroups."""
    s = layout.moved_shape
    return (*s[:-1], -(-s[-1] // fmt.subgroup_size))


def check_rounding(fmt: MetadataFormat, rounding: str, caller: str):
    if rounding != "nearest_even":
        raise ValueError(f"{caller}: {fmt} is defined for rounding='nearest_even' only, got {rounding!r}")


def as_float32(x: np.ndarray) -> np.ndarray:
    """The kernels read float32: float64 input is rounded to float32 once (documented)."""
    return np.ascontiguousarray(x, dtype=np.float32)


def encode(fmt: MetadataFormat, layout: Layout, view: np.ndarray, want_values: bool, want_codes: bool,
           tensor_scale=None):
    """Run the encoder on the working view; returns (values, codes, scales, meta, tensor_scale) (None where unwanted)."""
    P, R, C = layout.view_shape
    x = as_float32(view).reshape(P * R, C)
    xb = x.view(np.int32)
    rows = P * R
    out = np.empty((rows, C), np.float32) if want_values else _NO_VALUES
    codes = np.empty((rows, C), np.uint8) if want_codes else _NO_CODES
    scales = np.empty((rows, -(-C // fmt.block_size)), np.int16) if want_codes else _NO_SMALL
    if isinstance(fmt, NVFP4):
        if tensor_scale is None:
            tensor_scale = MK.nvfp4_tensor_scale(x)
        MK.kernel("encode_nvfp4", x.size)(x, xb, np.float32(tensor_scale), out, codes, scales, want_values, want_codes)
        meta = None
    elif isinstance(fmt, M2XFP):
        meta = np.empty((rows, -(-C // fmt.subgroup)), np.uint8) if want_codes else _NO_META
        name = "encode_m2xfp_es" if fmt.variant == "ES" else "encode_m2xfp_em"
        MK.kernel(name, x.size)(x, xb, fmt.block_size, fmt.subgroup, out, codes, scales, meta, want_values,
                                want_codes)
        meta = meta if want_codes else None
    else:  # pragma: no cover
        raise TypeError(f"no metadata kernel for {fmt}")
    return (out if want_values else None, codes if want_codes else None, scales if want_codes else None, meta,
            tensor_scale)


def decode(fmt: MetadataFormat, layout: Layout, codes: np.ndarray, scales: np.ndarray, meta, tensor_scale) -> np.ndarray:
    """float32 values in the working view (rows, C) of packed codes."""
    P, R, C = layout.view_shape
    codes = np.ascontiguousarray(codes).reshape(P * R, C)
    scales = np.ascontiguousarray(scales, dtype=np.int16).reshape(P * R, -1)
    out = np.empty((P * R, C), np.float32)
    if isinstance(fmt, NVFP4):
        if tensor_scale is None:
            raise ValueError("dequantize: an NVFP4 MXArray needs its tensor_scale")
        MK.kernel("decode_nvfp4", out.size)(codes, scales, np.float32(tensor_scale), out)
    else:
        if meta is None:
            raise ValueError(f"dequantize: an {fmt} MXArray needs its meta codes")
        assert isinstance(fmt, M2XFP)  # the metadata formats are NVFP4 and M2XFP
        meta = np.ascontiguousarray(meta, dtype=np.uint8).reshape(P * R, -1)
        name = "decode_m2xfp_es" if fmt.variant == "ES" else "decode_m2xfp_em"
        MK.kernel(name, out.size)(codes, scales, meta, fmt.block_size, fmt.subgroup, out)
    return out
