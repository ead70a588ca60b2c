"""Area of the four tile dot products after Yosys synthesis (a snapshot of the
paper's Fig. 5 / Fig. 7 comparison; mase-cost owns the real sweeps and models), and
the measured error of the BMF / BL bounded accumulators against their exact mode.

Every area configuration multiplies 16-element blocks, one block pair per cycle,
accumulating 4 blocks (BMF / BL: the derived default ACC_WIDTH and, for comparison,
the exact mode ACC_WIDTH=0). Yosys ``synth_xilinx -family xc7 -noiopad -flatten
-nodsp`` (all arithmetic in LUTs, so formats compare like for like).

    python packages/mase-hwlib/benchmarks/dot_area.py            # area table (markdown, minutes)
    python packages/mase-hwlib/benchmarks/dot_area.py --error    # error table (seconds)
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from mase_hwlib import catalog

CONFIGS = [
    ("int8 x int8", "mase_fixed_dot", {"X_WIDTH": 8, "W_WIDTH": 8}),
    ("FP8 MiniFloat(4,3,7)", "mase_minifloat_dot", {"EXP_BITS": 4, "MAN_BITS": 3}),
    ("BMF(16,4,3,8)", "mase_bmf_dot", {"EXP_BITS": 4, "MAN_BITS": 3, "BIAS_BITS": 8}),
    ("BMF(16,4,3,8) exact", "mase_bmf_dot", {"EXP_BITS": 4, "MAN_BITS": 3, "BIAS_BITS": 8, "ACC_WIDTH": 0}),
    ("BMF(16,4,3,4)", "mase_bmf_dot", {"EXP_BITS": 4, "MAN_BITS": 3, "BIAS_BITS": 4}),
    ("BL(16,3,8)", "mase_bl_dot", {"EXP_BITS": 3, "BIAS_BITS": 8}),
    ("BL(16,3,8) exact", "mase_bl_dot", {"EXP_BITS": 3, "BIAS_BITS": 8, "ACC_WIDTH": 0}),
    ("BL(16,3,4)", "mase_bl_dot", {"EXP_BITS": 3, "BIAS_BITS": 4}),
]
COMMON = {"BLOCK_K": 16, "NUM_BLOCKS": 4}


def synthesize(module: str, params: dict) -> dict[str, int]:
    spec = catalog.get(module)
    vparams = spec.verilog_params({**COMMON, **params})
    chparam = " ".join(f"-set {k} {v}" for k, v in vparams.items())
    sources = " ".join(str(p) for p in spec.source_paths())
    script = (
        f"read_verilog -sv {sources}\n"
        f"chparam {chparam} {module}\n"
        f"synth_xilinx -family xc7 -noiopad -flatten -nodsp -top {module}\n"
        "stat\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        ys = Path(tmp) / "run.ys"
        ys.write_text(script)
        log = Path(tmp) / "yosys.log"
        subprocess.run(["yosys", "-q", "-l", str(log), str(ys)], check=True, capture_output=True)
        text = log.read_text()
    stat = text[text.rindex("Number of cells") :]
    counts: dict[str, int] = {}
    for cell, n in re.findall(r"^\s+(\w+)\s+(\d+)$", stat, flags=re.M):
        counts[cell] = counts.get(cell, 0) + int(n)
    return {
        "LUT": sum(n for c, n in counts.items() if c.startswith("LUT")),
        "FF": sum(n for c, n in counts.items() if c.startswith("FD")),
        "CARRY4": counts.get("CARRY4", 0),
        "MUXF": sum(n for c, n in counts.items() if c.startswith("MUXF")),
        "ACC_BITS": catalog.get(module).resolve({**COMMON, **params})["ACC_BITS"],
    }


def error_rows():
    """Rows of the error table: (format, kind, setting, measure dict) (mase_hwlib.dot_error)."""
    from mase_hwlib import dot_error

    for fmt in dot_error.FORMATS:
        for kind in dot_error.INPUT_KINDS:
            for label, (width, rnd) in dot_error.SETTINGS.items():
                yield fmt, kind, label, dot_error.measure(fmt, kind, width, rnd)


def error_main() -> None:
    print("Measured (golden models, bit-exact with the RTL): y = x @ w.T, x (32, 128), w (16, 128), "
          "8 blocks per dot product, 512 outputs; bounded vs ACC_WIDTH=0 (exact)\n")
    print("| format | inputs | ACC_WIDTH | F | differing / 512 | max err (LSB of largest term) | bound | "
          "max rel. err |")
    print("|---|---|---|---|---|---|---|---|")
    for fmt, kind, label, m in error_rows():
        print(f"| {fmt} | {kind} | {m['ACC_WIDTH']} ({label}) | {m['F']} | {m['differing']} | "
              f"{float(m['max_lsb']):.4g} | {float(m['bound_lsb']):.4g} | {m['max_rel']:.3g} |")
        sys.stdout.flush()


def main() -> None:
    if "--error" in sys.argv[1:]:
        error_main()
        return
    version = subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout.strip()
    print(f"{version}; BLOCK_K=16, NUM_BLOCKS=4, 1x1 tile, synth_xilinx -family xc7 -flatten -nodsp\n")
    print("| format | module | ACC_BITS | LUT | FF | CARRY4 | MUXF7/8 |")
    print("|---|---|---|---|---|---|---|")
    for label, module, params in CONFIGS:
        r = synthesize(module, params)
        print(f"| {label} | {module} | {r['ACC_BITS']} | {r['LUT']} | {r['FF']} | {r['CARRY4']} | {r['MUXF']} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
