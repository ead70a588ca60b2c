"""Yosys (synth_xilinx -family xc7) cell counts of the infra and MXInt modules.

    python packages/mase-hwlib/benchmarks/mxint_area.py

A snapshot for docs/mxint-operators.md and docs/bounded-accumulation.md (mase-cost
does the real sweeps); it shows what exactness costs: the exact (ACC_WIDTH=0)
accumulator / aligner width grows with the exponent range, so EXP=8 operands
cost several times EXP=4 ones, while the bounded default (ACC_WIDTH=-1) does not
depend on the exponent width. Each row also gives the synthesis wall time.
"""

from __future__ import annotations

import re
import subprocess
import time

from mase_hwlib import catalog

CASES = [
    ("mase_skid_buffer", {"DATA_WIDTH": 32}),
    ("mase_fifo", {"DATA_WIDTH": 32, "DEPTH": 8}),
    ("mase_transpose", {"DATA_WIDTH": 32, "ROWS": 4, "COLS": 4}),
    ("mase_mxint_cast", {"BLOCK_0": 4, "OUT_MAN": 3}),
    ("mase_mxint_relu", {"BLOCK_0": 4}),
    ("mase_mxint_mul", {"BLOCK_0": 4}),
    ("mase_mxint_add", {"BLOCK_0": 4, "A_EXP": 4, "B_EXP": 4, "ACC_WIDTH": 0}),
    ("mase_mxint_add", {"BLOCK_0": 4, "A_EXP": 4, "B_EXP": 4}),
    ("mase_mxint_add", {"BLOCK_0": 4, "ACC_WIDTH": 0}),
    ("mase_mxint_add", {"BLOCK_0": 4}),
    ("mase_mxint_matmul", {"BLOCK_K": 4, "K_TILES": 4, "A_EXP": 4, "B_EXP": 4, "ACC_WIDTH": 0}),
    ("mase_mxint_matmul", {"BLOCK_K": 4, "K_TILES": 4, "A_EXP": 4, "B_EXP": 4}),
    ("mase_mxint_matmul", {"BLOCK_K": 4, "K_TILES": 4}),
    # ("mase_mxint_matmul", {"BLOCK_K": 4, "K_TILES": 4, "ACC_WIDTH": 0}) with EXP=8 (a ~530-bit
    # accumulator per lane) did not finish synth_xilinx within 15 minutes on the shared 2-core machine.
    ("mase_mxint_linear", {"BLOCK_K": 16, "X_ROWS": 2, "OUT_TILE": 2, "IN_TILES": 24, "OUT_TILES": 192}),
]


def synth(module: str, params: dict) -> dict:
    spec = catalog.get(module)
    vparams = spec.verilog_params(params)
    files = " ".join(str(p) for p in spec.source_paths())
    sets = " ".join(f"-set {k} {v}" for k, v in vparams.items() if not isinstance(v, str))
    script = f"read_verilog -sv {files}; chparam {sets} {module}; hierarchy -top {module}; " \
             "synth_xilinx -family xc7 -noiopad; stat"
    start = time.perf_counter()
    out = subprocess.run(["yosys", "-p", script], capture_output=True, text=True, check=True).stdout
    seconds = time.perf_counter() - start
    stat = out[out.rindex("Printing statistics"):]
    cells = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(\w+)\s+(\d+)\s*$", stat, re.M)}
    luts = sum(v for k, v in cells.items() if k.startswith("LUT"))
    return {"LUT": luts, "FF": sum(v for k, v in cells.items() if k.startswith("FD")),
            "CARRY4": cells.get("CARRY4", 0), "DSP": cells.get("DSP48E1", 0),
            "LUTRAM": sum(v for k, v in cells.items() if k.startswith("RAM")), "seconds": seconds,
            "ACC_WIDTH": spec.resolve(params).get("ACC_BITS")}


def main() -> None:
    print(f"{'module':18s} {'LUT':>6s} {'FF':>5s} {'CARRY4':>6s} {'DSP':>4s} {'LUTRAM':>6s} {'acc':>4s} "
          f"{'synth_s':>7s}  params (others default)")
    for module, params in CASES:
        r = synth(module, params)
        acc = "-" if r["ACC_WIDTH"] is None else str(r["ACC_WIDTH"])
        print(f"{module:18s} {r['LUT']:6d} {r['FF']:5d} {r['CARRY4']:6d} {r['DSP']:4d} {r['LUTRAM']:6d} {acc:>4s} "
              f"{r['seconds']:7.1f}  " + ", ".join(f"{k}={v}" for k, v in params.items()), flush=True)


if __name__ == "__main__":
    main()
