"""The MASE intermediate representation: graphs traced from torch.export, with typed
software and hardware metadata and a text form that parses back.

    g = mase_ir.trace(model, {"input_ids": ids, "attention_mask": mask})
    print(g.to_text()); g.save("out"); g2 = mase_ir.load("out")
    y = g(input_ids=ids, attention_mask=mask)
"""

from mase_ir.__about__ import __version__
from mase_ir.graph import MaseGraph, Node, Operand, Param, Summary, VerifyError
from mase_ir.io import load, save
from mase_ir.metadata import HardwareMeta, SoftwareMeta
from mase_ir.ops import OPS, supported_ops
from mase_ir.parser import ParseError, parse
from mase_ir.trace import TraceError, UnsupportedOpError, trace
from mase_ir.types import DType, TensorType

__all__ = [
    "__version__", "trace", "parse", "load", "save", "MaseGraph", "Node", "Operand", "Param",
    "Summary", "VerifyError", "ParseError", "TraceError", "UnsupportedOpError", "SoftwareMeta",
    "HardwareMeta", "TensorType", "DType", "OPS", "supported_ops",
]
