"""MXArray: a quantized tensor in packed form, and its byte serialization."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

from mx_formats.formats import BL, BMF, BlockFormat, Fixed, Format, MetadataFormat, MXInt, OCPFormat
from mx_formats.layout import make_layout

__all__ = ["MXArray"]

_MAGIC = b"MXA1"


def code_dtype(bits: int) -> np.dtype:
    """Smallest unsigned dtype that holds a ``bits``-wide code."""
    return np.dtype(np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32)


def pack_bits(codes: np.ndarray, width: int) -> bytes:
    """Little-endian bit stream: code i occupies bits [i*width, (i+1)*width)."""
    flat = np.ascontiguousarray(codes).reshape(-1)
    if width in (8, 16, 32) and flat.dtype.itemsize * 8 == width:
        return flat.astype(flat.dtype.newbyteorder("<"), copy=False).tobytes()
    wide = flat.astype(np.uint32)
    bits = ((wide[:, None] >> np.arange(width, dtype=np.uint32)) & 1).astype(np.uint8)
    return np.packbits(bits.reshape(-1), bitorder="little").tobytes()


def unpack_bits(buf: bytes, width: int, count: int, dtype: np.dtype) -> np.ndarray:
    if len(buf) != packed_size(count, width):
        raise ValueError(f"packed codes: expected {packed_size(count, width)} bytes for {count} codes "
                         f"of {width} bits, got {len(buf)}")
    if width in (8, 16, 32) and dtype.itemsize * 8 == width:
        return np.frombuffer(buf, dtype=dtype.newbyteorder("<"), count=count).astype(dtype)
    bits = np.unpackbits(np.frombuffer(buf, np.uint8), bitorder="little", count=count * width)
    weights = np.left_shift(np.uint32(1), np.arange(width, dtype=np.uint32))
    return (bits.reshape(count, width).astype(np.uint32) * weights).sum(axis=1, dtype=np.uint32).astype(dtype)


def packed_size(count: int, width: int) -> int:
    return (count * width + 7) // 8


@dataclass(frozen=True, eq=False)
class MXArray:
    """A tensor quantized to ``fmt``.

    ``elements`` holds unsigned element codes in the layout with the blocked axes
    moved last (see ``layout.py``); ``scales`` the signed shared scale of each
    block (the shared exponent for MXInt/OCP, the bias for BMF/BL; ``fmt.scale_nan``
    marks a NaN block), or an empty array for scalar formats. ``shape`` and
    ``axes`` are the original tensor's.

    Metadata formats (``MetadataFormat``): M2XFP has ``meta``, the 2-bit code of
    each subgroup (uint8, the layout of ``scales`` with ``subgroup`` in place of
    the block); NVFP4 has ``tensor_scale`` (a float32) and ``scales`` holding the
    unsigned E4M3 code of each block (0x7F = NaN block).
    """

    fmt: Format
    shape: tuple[int, ...]
    axes: tuple[int, ...]
    scales: np.ndarray
    elements: np.ndarray
    meta: np.ndarray | None = None
    tensor_scale: np.float32 | None = None

    @property
    def size(self) -> int:
        return int(self.elements.size)

    @property
    def nbytes(self) -> int:
        """True packed size in bytes: scales and elements at their bit widths."""
        size = packed_size(self.elements.size, self.fmt.element_bits)
        if isinstance(self.fmt, BlockFormat):
            size += packed_size(self.scales.size, self.fmt.scale_bits)
        if isinstance(self.fmt, MetadataFormat):
            if self.fmt.meta_bits:
                assert self.meta is not None  # set by quantize for every format with meta bits
                size += packed_size(self.meta.size, self.fmt.meta_bits)
            size += self.fmt.tensor_scale_bits // 8
        return size

    def mantissas(self) -> np.ndarray:
        """Signed element integers ``q`` (int32) of an integer-grid format.

        MXInt and MXINT8: value = q * 2^(s - m + 1) with s the block's scale;
        Fixed: value = q * 2^-frac. Same layout as ``elements``.
        """
        if not (isinstance(self.fmt, (MXInt, Fixed)) or (isinstance(self.fmt, OCPFormat) and self.fmt.is_int)):
            raise TypeError(f"mantissas() is for MXInt, MXINT8 and Fixed, not {self.fmt}")
        width = self.fmt.element_bits
        q = self.elements.astype(np.int32)
        return np.where(q >= 1 << (width - 1), q - (1 << width), q).astype(np.int32)

    def max_magnitude(self) -> np.ndarray:
        """Largest magnitude each element's block can hold (float64, original shape).

        MXInt: (2^m - 1) * 2^(s-m+1); OCP: elem_max * 2^s; BMF: 2^(2^E-1-beta) *
        (2 - 2^-M); BL: 2^(2^E-1-beta); Fixed: (2^(w-1) - 1) * 2^-frac; MiniFloat:
        its maximum. A NaN block gives NaN. An element whose |x| exceeds this was
        saturated (clamped) rather than rounded.
        """
        fmt = self.fmt
        if isinstance(fmt, MetadataFormat):
            raise TypeError(f"max_magnitude() is not defined for {fmt} (its scale varies within a block)")
        layout = make_layout(fmt, self.shape, self.axes if isinstance(fmt, BlockFormat) else None)
        if not isinstance(fmt, BlockFormat):
            if isinstance(fmt, Fixed):
                limit = ((1 << (fmt.width - 1)) - 1) * 2.0**-fmt.frac
            else:
                limit = getattr(fmt, "max_value", np.inf)
            return np.full(self.shape, limit, np.float64)
        s = self.scales.astype(np.float64)
        nan = self.scales == fmt.scale_nan
        top: np.ndarray
        if isinstance(fmt, MXInt):
            top = ((1 << fmt.man_bits) - 1) * np.exp2(s - fmt.man_bits + 1)
        elif isinstance(fmt, OCPFormat):
            top = fmt.elem_max * np.exp2(s)
        elif isinstance(fmt, BMF):
            top = np.exp2(fmt.exp_code_max - s) * (2.0 - 2.0**-fmt.man_bits)
        else:
            assert isinstance(fmt, BL)  # the last block format without metadata
            top = np.exp2(fmt.exp_code_max - s)
        top = np.where(nan, np.nan, top)
        # Expand each block's value over its elements (moved layout), crop, move back.
        moved = layout.moved_shape
        top = np.repeat(top, layout.b_col, axis=-1)[..., : moved[-1]]
        if len(layout.axes) == 2:
            top = np.repeat(top, layout.b_row, axis=-2)[..., : moved[-2], :]
        return layout.from_view(np.ascontiguousarray(top))

    # ----------------------------------------------------------------- bytes
    def scale_codes(self) -> np.ndarray:
        """Unsigned scale codes as stored: biased exponent (all ones = NaN) or two's-complement bias."""
        fmt = self.fmt
        if not isinstance(fmt, BlockFormat):
            raise TypeError(f"scale_codes() is for block formats, not {fmt}")
        mask = (1 << fmt.scale_bits) - 1
        s = self.scales.astype(np.int32)
        if isinstance(fmt, (MXInt, OCPFormat)) or fmt.family == "m2xfp":
            s = s + fmt.scale_max
        return (s & mask).astype(np.uint8 if fmt.scale_bits <= 8 else np.uint16)

    def to_bytes(self) -> bytes:
        """Header (format, shape, axes) followed by the bit-packed scales and elements."""
        header = json.dumps({"format": str(self.fmt), "shape": list(self.shape), "axes": list(self.axes)}).encode()
        parts = [_MAGIC, struct.pack("<I", len(header)), header]
        if isinstance(self.fmt, BlockFormat):
            parts.append(pack_bits(self.scale_codes(), self.fmt.scale_bits))
        if isinstance(self.fmt, MetadataFormat):
            if self.fmt.meta_bits:
                assert self.meta is not None  # set by quantize for every format with meta bits
                parts.append(pack_bits(self.meta, self.fmt.meta_bits))
            if self.fmt.tensor_scale_bits:
                assert self.tensor_scale is not None  # likewise for a tensor scale
                parts.append(struct.pack("<f", float(self.tensor_scale)))
        parts.append(pack_bits(self.elements, self.fmt.element_bits))
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> "MXArray":
        from mx_formats.parse import parse

        data = bytes(data)
        if len(data) < 8 or data[:4] != _MAGIC:
            raise ValueError("MXArray.from_bytes: not an MXArray byte string (bad magic)")
        (hlen,) = struct.unpack("<I", data[4:8])
        try:
            header = json.loads(data[8 : 8 + hlen].decode())
            fmt = parse(header["format"])
            shape = tuple(int(d) for d in header["shape"])
            axes = tuple(int(a) for a in header["axes"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ValueError(f"MXArray.from_bytes: corrupt header: {exc}") from None
        layout = make_layout(fmt, shape, axes if axes else None)
        body = data[8 + hlen :]
        count = int(np.prod(layout.moved_shape, dtype=np.int64))
        scales = np.zeros((0,), np.int16)
        if isinstance(fmt, MetadataFormat):
            return cls._from_body(fmt, shape, layout, body, count)
        if isinstance(fmt, BlockFormat):
            nscales = int(np.prod(layout.scales_shape, dtype=np.int64))
            ssize = packed_size(nscales, fmt.scale_bits)
            codes = unpack_bits(body[:ssize], fmt.scale_bits, nscales, np.dtype(np.uint16)).astype(np.int32)
            if isinstance(fmt, (MXInt, OCPFormat)):
                codes = codes - fmt.scale_max
            else:
                codes = np.where(codes >= 1 << (fmt.scale_bits - 1), codes - (1 << fmt.scale_bits), codes)
            scales = codes.astype(np.int16).reshape(layout.scales_shape)
            body = body[ssize:]
        elements = unpack_bits(body, fmt.element_bits, count, code_dtype(fmt.element_bits))
        return cls(fmt, shape, layout.axes if isinstance(fmt, BlockFormat) else (), scales,
                   elements.reshape(layout.moved_shape))

    @classmethod
    def _from_body(cls, fmt, shape, layout, body: bytes, count: int) -> "MXArray":
        """The payload of a metadata format: scale codes, meta codes or the tensor scale, elements."""
        from mx_formats.metadata import meta_shape

        nscales = int(np.prod(layout.scales_shape, dtype=np.int64))
        ssize = packed_size(nscales, fmt.scale_bits)
        codes = unpack_bits(body[:ssize], fmt.scale_bits, nscales, np.dtype(np.uint16)).astype(np.int32)
        if fmt.family == "m2xfp":
            codes = codes - fmt.scale_max
        scales = codes.astype(np.int16).reshape(layout.scales_shape)
        body = body[ssize:]
        meta = tensor_scale = None
        if fmt.meta_bits:
            mshape = meta_shape(fmt, layout)
            nmeta = int(np.prod(mshape, dtype=np.int64))
            msize = packed_size(nmeta, fmt.meta_bits)
            meta = unpack_bits(body[:msize], fmt.meta_bits, nmeta, np.dtype(np.uint8)).reshape(mshape)
            body = body[msize:]
        if fmt.tensor_scale_bits:
            if len(body) < 4:
                raise ValueError("MXArray.from_bytes: truncated tensor scale")
            tensor_scale = np.float32(struct.unpack("<f", body[:4])[0])
            body = body[4:]
        elements = unpack_bits(body, fmt.element_bits, count, code_dtype(fmt.element_bits))
        return cls(fmt, shape, layout.axes, scales, elements.reshape(layout.moved_shape), meta, tensor_scale)

    def __repr__(self) -> str:
        return f"MXArray({self.fmt}, shape={self.shape}, axes={self.axes}, nbytes={self.nbytes})"
