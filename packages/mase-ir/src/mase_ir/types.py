"""Tensor types of the IR: a static shape and an element type.

The element type of a floating-point tensor is an ``mx_formats`` format
(``f32`` before quantization, e.g. ``MXInt((16,2),8,7)`` after). Tensors that
are not real numbers in the model's arithmetic (token ids, masks, indices) carry
a plain storage dtype instead (``i64``, ``bool``, ...), which is never quantized.

Text form: ``<element>[d0,d1,...]``, e.g. ``MXInt((16,2),8,7)[1,784]``,
``f32[2,8,384]``, ``i64[2,8]``, ``f32[]`` for a scalar.
"""

from __future__ import annotations

from dataclasses import dataclass

import mx_formats as mxf
import torch


@dataclass(frozen=True)
class DType:
    """A storage dtype that is not quantizable (integers, booleans, other floats)."""

    name: str

    def __post_init__(self):
        if self.name not in _DTYPE_TO_TORCH:
            raise ValueError(f"unknown dtype {self.name!r}; known: {sorted(_DTYPE_TO_TORCH)}")

    def __str__(self) -> str:
        return self.name

    @property
    def torch_dtype(self) -> torch.dtype:
        return _DTYPE_TO_TORCH[self.name]


_DTYPE_TO_TORCH: dict[str, torch.dtype] = {
    "f64": torch.float64,
    "f16": torch.float16,
    "bf16": torch.bfloat16,
    "i64": torch.int64,
    "i32": torch.int32,
    "i16": torch.int16,
    "i8": torch.int8,
    "u8": torch.uint8,
    "bool": torch.bool,
}
_TORCH_TO_DTYPE = {v: k for k, v in _DTYPE_TO_TORCH.items()}

ElementType = mxf.Format | DType


def element_type_of(dtype: torch.dtype) -> ElementType:
    """The element type of an unquantized torch tensor of ``dtype``."""
    if dtype == torch.float32:
        return mxf.F32
    if dtype not in _TORCH_TO_DTYPE:
        raise ValueError(f"torch dtype {dtype} has no IR element type")
    return DType(_TORCH_TO_DTYPE[dtype])


def parse_element(text: str) -> ElementType:
    """Parse an element type; raises ``ValueError`` (``FormatParseError`` for bad formats)."""
    if text in _DTYPE_TO_TORCH:
        return DType(text)
    return mxf.parse(text)


def dtype_name(dtype: torch.dtype) -> str:
    """The IR spelling of a torch dtype (``f32`` for float32)."""
    return "f32" if dtype == torch.float32 else str(element_type_of(dtype))


def torch_dtype_of(name: str) -> torch.dtype:
    return torch.float32 if name == "f32" else _DTYPE_TO_TORCH[name]


@dataclass(frozen=True)
class TensorType:
    """Static shape plus element type of one SSA value or parameter."""

    shape: tuple[int, ...]
    element: ElementType

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    def __str__(self) -> str:
        return f"{self.element}[{','.join(str(d) for d in self.shape)}]"

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def is_float(self) -> bool:
        """True when the element is an mx_formats format (i.e. real-valued float32 storage)."""
        return isinstance(self.element, mxf.Format)

    @property
    def is_quantized(self) -> bool:
        return self.is_float and self.element != mxf.F32

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float32 if isinstance(self.element, mxf.Format) else self.element.torch_dtype

    def with_format(self, fmt: mxf.Format) -> TensorType:
        if not self.is_float:
            raise ValueError(f"cannot give format {fmt} to a {self.element} tensor")
        return TensorType(self.shape, fmt)

    @staticmethod
    def of(t: torch.Tensor) -> TensorType:
        return TensorType(tuple(t.shape), element_type_of(t.dtype))
