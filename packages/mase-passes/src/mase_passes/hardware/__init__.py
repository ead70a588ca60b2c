"""From a quantized mase_ir graph to hardware: mapping onto mase_hwlib modules, exact
emulation, resource budgets, and the generators of the emitted project (top level, testbench,
Yosys script)."""

from mase_passes.hardware.mapping import HwDesign, MappingError, Stage, StreamValue, map_graph

__all__ = ["HwDesign", "MappingError", "Stage", "StreamValue", "map_graph"]
