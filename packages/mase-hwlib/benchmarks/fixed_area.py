"""Area and synthesis time of ``mase_fixed_linear`` over lane widths (a snapshot for
docs/fixed-point.md; mase-cost owns the real sweeps and models).

Each point: 32 multiply-adds per cycle (BLOCK_K 16, X_ROWS 1, OUT_TILE 2), IN_TILES 4,
OUT_TILES 4, streamed weights, no bias, x / W / output all ``Fixed(W, W // 2)``. Yosys
``synth_xilinx -family xc7 -noiopad -flatten`` with DSPs (as mase-cost synthesizes) and with
``-nodsp`` (all arithmetic in LUTs, so widths compare like for like).

    python packages/mase-hwlib/benchmarks/fixed_area.py            # markdown table (about a minute)
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

from mase_hwlib import catalog

WIDTHS = (4, 8, 12, 16)
COMMON = {"BLOCK_K": 16, "X_ROWS": 1, "OUT_TILE": 2, "IN_TILES": 4, "OUT_TILES": 4}


def synthesize(params: dict, nodsp: bool) -> dict:
    spec = catalog.get("mase_fixed_linear")
    vparams = {k: v for k, v in spec.verilog_params(params).items() if not isinstance(v, str)}
    chparam = " ".join(f"-set {k} {v}" for k, v in vparams.items())
    files = " ".join(str(p) for p in spec.source_paths())
    with tempfile.TemporaryDirectory() as tmp:
        stat = Path(tmp) / "stat.txt"
        script = (f"read_verilog -sv {files}; chparam {chparam} mase_fixed_linear; "
                  f"synth_xilinx -family xc7 -noiopad -flatten {'-nodsp ' if nodsp else ''}-top mase_fixed_linear; "
                  f"tee -q -o {stat} stat")
        t0 = time.time()
        subprocess.run(["yosys", "-q", "-p", script], check=True, capture_output=True)
        seconds = time.time() - t0
        text = stat.read_text()
    count = lambda pat: sum(int(n) for n in re.findall(rf"^\s+{pat}\s+(\d+)$", text, re.M))  # noqa: E731
    return {"lut": count(r"LUT\d"), "ff": count(r"FD\w+"), "dsp": count("DSP48E1"), "carry": count("CARRY4"),
            "lutram": count(r"RAM\w+"), "seconds": seconds}


def main() -> None:
    print("| width | DSP mode: LUT | FF | DSP | CARRY4 | LUTRAM | s | -nodsp: LUT | CARRY4 | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for w in WIDTHS:
        p = {**COMMON, **{f"{x}_WIDTH": w for x in ("X", "W", "OUT")},
             **{f"{x}_FRAC": w // 2 for x in ("X", "W", "OUT")}}
        a, b = synthesize(p, False), synthesize(p, True)
        print(f"| {w} | {a['lut']} | {a['ff']} | {a['dsp']} | {a['carry']} | {a['lutram']} | {a['seconds']:.1f} "
              f"| {b['lut']} | {b['carry']} | {b['seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
