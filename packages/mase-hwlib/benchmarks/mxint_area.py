"""Yosys (synth_xilinx -family xc7) cell counts of the infra and MXInt modules.

    python packages/mase-hwlib/benchmarks/mxint_area.py

A snapshot for docs/mxint-operators.md (mase-cost does the real sweeps); it shows
what exactness costs: the accumulator / aligner width grows with the exponent
range, so EXP=8 operands cost several times EXP=4 ones.
"""

from __future__ import annotations

import re
import subprocess

from mase_hwlib import catalog

CASES = [
    ("mase_skid_buffer", {"DATA_WIDTH": 32}),
    ("mase_fifo", {"DATA_WIDTH": 32, "DEPTH": 8}),
    ("mase_transpose", {"DATA_WIDTH": 32, "ROWS": 4, "COLS": 4}),
    ("mase_mxint_cast", {"BLOCK_0": 4, "OUT_MAN": 3}),
    ("mase_mxint_relu", {"BLOCK_0": 4}),
    ("mase_mxint_mul", {"BLOCK_0": 4}),
    ("mase_mxint_add", {"BLOCK_0": 4, "A_EXP": 4, "B_EXP": 4}),
    ("mase_mxint_add", {"BLOCK_0": 4}),
    ("mase_mxint_matmul", {"BLOCK_K": 4, "K_TILES": 4, "A_EXP": 4, "B_EXP": 4}),
    # ("mase_mxint_matmul", {"BLOCK_K": 4, "K_TILES": 4}) with EXP=8 (a ~530-bit accumulator
    # per lane) did not finish synth_xilinx within 15 minutes on the shared 2-core machine.
]


def synth(module: str, params: dict) -> dict:
    spec = catalog.get(module)
    vparams = spec.verilog_params(params)
    files = " ".join(str(p) for p in spec.source_paths())
    sets = " ".join(f"-set {k} {v}" for k, v in vparams.items() if not isinstance(v, str))
    script = f"read_verilog -sv {files}; chparam {sets} {module}; hierarchy -top {module}; " \
             "synth_xilinx -family xc7 -noiopad; stat"
    out = subprocess.run(["yosys", "-p", script], capture_output=True, text=True, check=True).stdout
    stat = out[out.rindex("Printing statistics"):]
    cells = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(\w+)\s+(\d+)\s*$", stat, re.M)}
    luts = sum(v for k, v in cells.items() if k.startswith("LUT"))
    return {"LUT": luts, "FF": sum(v for k, v in cells.items() if k.startswith("FD")),
            "CARRY4": cells.get("CARRY4", 0), "DSP": cells.get("DSP48E1", 0),
            "LUTRAM": sum(v for k, v in cells.items() if k.startswith("RAM"))}


def main() -> None:
    print(f"{'module':18s} {'LUT':>6s} {'FF':>5s} {'CARRY4':>6s} {'DSP':>4s} {'LUTRAM':>6s}  params (others default)")
    for module, params in CASES:
        r = synth(module, params)
        print(f"{module:18s} {r['LUT']:6d} {r['FF']:5d} {r['CARRY4']:6d} {r['DSP']:4d} {r['LUTRAM']:6d}  "
              + ", ".join(f"{k}={v}" for k, v in params.items()))


if __name__ == "__main__":
    main()
