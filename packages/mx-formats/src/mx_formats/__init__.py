"""mx_formats: fast, exact Microscaling (MX) number formats.

    import mx_formats as mxf
    fmt = mxf.MXInt((16, 2), 8, 7)          # or mxf.parse("MXInt((16,2),8,7)")
    y = mxf.fake_quantize(x, fmt)           # float32 on fmt's grid, fused
    q = mxf.quantize(x, fmt)                # packed MXArray: scales + element codes
    assert (mxf.dequantize(q) == y).all()

The exact math of every format is in the docstrings of the format classes (and
DESIGN.md §3). ``mx_formats.torch`` adds a torch autograd function; importing
``mx_formats`` itself never imports torch.
"""

from mx_formats.__about__ import __version__
from mx_formats.api import ROUNDING_MODES, dequantize, fake_quantize, quantize
from mx_formats.array import MXArray
from mx_formats.formats import (
    BL,
    BMF,
    F32,
    MXFP4_E2M1,
    MXFP6_E2M3,
    MXFP6_E3M2,
    MXFP8_E4M3,
    MXFP8_E5M2,
    M2XFP,
    M2XFP_EM,
    M2XFP_ES,
    MXINT8,
    NVFP4,
    OCP_FORMATS,
    BlockFormat,
    MetadataFormat,
    Fixed,
    Float32,
    Format,
    MiniFloat,
    MXInt,
    OCPFormat,
)
from mx_formats.parse import FormatParseError, parse

__all__ = [
    "__version__",
    "quantize",
    "dequantize",
    "fake_quantize",
    "parse",
    "FormatParseError",
    "MXArray",
    "ROUNDING_MODES",
    "Format",
    "BlockFormat",
    "MXInt",
    "BMF",
    "BL",
    "OCPFormat",
    "Fixed",
    "MiniFloat",
    "Float32",
    "F32",
    "MXFP8_E4M3",
    "MXFP8_E5M2",
    "MXFP6_E3M2",
    "MXFP6_E2M3",
    "MXFP4_E2M1",
    "MXINT8",
    "OCP_FORMATS",
    "MetadataFormat",
    "NVFP4",
    "M2XFP",
    "M2XFP_ES",
    "M2XFP_EM",
]
