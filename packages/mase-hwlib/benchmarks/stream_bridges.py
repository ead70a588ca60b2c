"""Cycles (simulation, no stalls) and Yosys area of the stream bridges at BERT-like
parameters: (16, 2) blocks, 7-bit mantissas, 8-bit exponents.

    python packages/mase-hwlib/benchmarks/stream_bridges.py [--no-area]

The numbers quoted in docs/attention.md. Area: Yosys 0.23 synth_xilinx -family xc7
(the same flow as benchmarks/mxint_area.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import mase_hwlib
from mase_hwlib import catalog
from mase_hwlib.rom import write_mx_rom
from mase_hwlib.testing import mxint_blocks



def synth(module: str, params: dict) -> dict:
    """synth_xilinx cell counts (as benchmarks/mxint_area.py, string parameters such as a ROM file too)."""
    spec = catalog.get(module)
    vparams = spec.verilog_params(params)
    files = " ".join(str(p) for p in spec.source_paths())
    sets = " ".join(f'-set {k} "{v}"' if isinstance(v, str) else f"-set {k} {v}" for k, v in vparams.items()
                    if v != "")
    script = f"read_verilog -sv {files}; chparam {sets} {module}; hierarchy -top {module}; " \
             "synth_xilinx -family xc7 -noiopad; stat"
    out = subprocess.run(["yosys", "-p", script], capture_output=True, text=True, check=True).stdout
    stat = out[out.rindex("Printing statistics"):]
    cells = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(\w+)\s+(\d+)\s*$", stat, re.M)}
    return {"LUT": sum(v for k, v in cells.items() if k.startswith("LUT")),
            "FF": sum(v for k, v in cells.items() if k.startswith("FD")),
            "CARRY4": cells.get("CARRY4", 0),
            "LUTRAM": sum(v for k, v in cells.items() if k.startswith("RAM"))}


def cases(tmp: Path):
    rng = np.random.default_rng(0)
    rom = write_mx_rom(tmp / "gamma.hex", mxint_blocks(2, 32, 7, 8, rng, edge=False, exp_range=(-3, 3)), 7, 8)
    return [
        # layer_norm output rows (16 lanes, 16 bits) -> (16, 2) blocks, rows of 2 beats (D = 32)
        ("mase_fixed_to_mxint", dict(BLOCK_0=16, BLOCK_1=2, ROW_BEATS=2, IN_WIDTH=16, IN_FRAC=12),
         lambda p: {"x": {"data": rng.integers(0, 1 << 16, (32, 16))}}),
        # gamma of D = 32 in (16, 2) blocks, 16 passes
        ("mase_mxint_rom_source", dict(LANES=32, DEPTH=2, REPEAT=16, ROM_FILE=str(rom)), lambda p: {}),
        # a linear's 2x2 output tiles -> (16, 2) blocks over bands of 2 rows x 32
        ("mase_mxint_reblock", dict(ROWS=2, COLS=32, IN_B0=2, IN_B1=2, OUT_B0=16, OUT_B1=2),
         lambda p: {"x": mxint_blocks(16 * 8, 4, 7, 8, rng, edge=False, exp_range=(-3, 3))}),
        # all of K (S = 8, D = 32 in 2x2 tiles), 2 heads, replayed for 4 query tiles
        ("mase_mxint_replay", dict(LANES=4, FRAME_ROWS=4, FRAME_COLS=16, GROUPS=2, REPEAT_OUTER=4),
         lambda p: {"x": mxint_blocks(128, 4, 7, 8, rng, edge=False, exp_range=(-3, 3))}),
    ]


def main() -> None:
    area = "--no-area" not in sys.argv
    tmp = Path(tempfile.mkdtemp())
    print(f"{'module':22s} {'lat':>4s} {'cyc/blk':>7s} {'total':>6s} {'in':>4s} {'out':>4s}"
          + (f" {'LUT':>6s} {'FF':>6s} {'CARRY4':>6s} {'LUTRAM':>6s}" if area else "") + "  params")
    for name, params, make in cases(tmp):
        spec = catalog.get(name)
        inputs = make(spec.resolve(params))
        r = mase_hwlib.simulate(name, params, inputs)
        n_in = sum(len(next(iter(v.values()))) for v in inputs.values())
        n_out = len(r.outputs["y"]["exp"])
        line = f"{name:22s} {r.first_output_latency:4d} {r.cycles_per_block:7.2f} {r.total_cycles:6d} {n_in:4d} {n_out:4d}"
        if area:
            a = synth(name, params)
            line += f" {a['LUT']:6d} {a['FF']:6d} {a['CARRY4']:6d} {a['LUTRAM']:6d}"
        print(line + "  " + ", ".join(f"{k}={v}" for k, v in params.items() if k != "ROM_FILE"), flush=True)


if __name__ == "__main__":
    main()
