"""Fast whole-design simulation of an emitted project with Verilator (C++ model + generated harness).

    from mase_passes.hardware import verilator
    vec = verilator.vectors_for(result, [{"x": x0}, {"x": x1}, {"x": x2}])  # 3 inputs back to back
    run = verilator.simulate(result.out_dir, vec, idle=0.0, backpressure=0.0)
    run.passed, run.measured_ii, run.estimated_ii

Icarus (through the emitted cocotb bench, ``run_sim.py``) stays the simulator of the per-operator
benches and the default of the emitted runner; this module is the fast path for whole designs
(``run_sim.py --simulator verilator`` or ``result.run_simulation(simulator="verilator")``).
It needs Debian's Verilator 5.006 and a C++ compiler, and no cocotb.

What it does:

1. **Build** (:func:`build`): ``verilator --cc --exe --build`` of the files in ``files.f`` and a
   C++ harness generated from the port list (:func:`harness_cpp`). The executable is cached
   under ``$MASE_VERILATOR_BUILD`` (default ``~/.cache/mase-passes/verilator``), keyed by the
   SHA-256 of the Verilator version, the flags, the harness text and every source file's name
   and text: a design is built once; a second emit of the same design (or a new set of test
   vectors) reuses it. ROM images are read at run time (``$readmemh``, relative to the design
   folder), so new weights with the same file names need no rebuild.
2. **Drive** (:func:`simulate`): the harness streams every input port's beats from a stimulus
   file and takes every output beat, with the emitted cocotb bench's exact discipline: reset
   for 3 rising edges; each cycle, an input not already showing a beat shows its next one unless
   an idle draw ``u < idle`` keeps ``valid`` low (a shown beat stays until taken), each output's
   ``ready`` drops when a back-pressure draw ``u < backpressure``; handshakes are sampled after
   the combinational settle, before the rising edge. The draws come from a Mersenne Twister
   seeded as Python's ``random.Random(seed)`` is, consumed in the bench's order, so at the same
   vectors and seed the Verilator run is cycle for cycle the Icarus run (the tests check both
   values and cycles).
3. **Collect**: every output beat with its cycle is compared with the expected beats bit for bit;
   ``sim_out/outputs.json`` gets the same form the cocotb bench writes (so the same decoders
   read it), plus the timing below.

Throughput, measured: with K inputs back to back (:func:`vectors_for` stacks the beats of K
sample inputs, each with its exact-emulation outputs), input k is *done* at the cycle its last
output beat is taken (the latest over output ports). The measured initiation interval is
``(done[K-1] - done[0]) / (K - 1)`` cycles per input, the mean of the intervals between
successive inputs (all reported); the first input's ``done`` is the measured latency including
pipeline fill. ``estimated_ii`` is ``design.json``'s ``cycles_per_input`` (the cost formulas),
reported beside it. With idle/back-pressure above 0 the measurement includes those stalls.

Speed (measured 2026-12-03 on a shared 2-core machine at load average ~8, so wall times are
loose; each pair below is one run, same vectors):

* One MiniLM-shaped linear (384 -> 384 on 32 rows, ``MXInt((16,2),8,7)``: a
  ``mase_mxint_linear`` and a reblock), one input, 73,782 cycles: Icarus through the cocotb
  bench 187.6 s wall; Verilator 0.84 s wall with its cached build, of which the simulation
  0.61 s (~220x; ~140k cycles per second). Same beats at the same cycles. The build took
  77.5 s once; two inputs back to back (147,510 cycles) ran in 1.06 s, measured II 73,728
  cycles per input, estimated 73,728.
* The small BERT encoder layer of ``examples.bert_layer(seq=4)`` (33 stages: six linears,
  attention, two layer norms, GELU), 4 inputs back to back, 2,643 cycles: Icarus 78.4 s wall;
  Verilator 0.19 s wall cached, of which the simulation 0.045 s; measured II 512, estimated
  512. Its build took 86.8 s once.
* The MXInt MLP of the tests (4 inputs, 174 cycles): Icarus 2.0 s, Verilator 0.21 s cached;
  its build 74 s wall (21 s of CPU).

So Verilator pays off from the second run of a design, or from one run long enough (Icarus
under cocotb spent 2.5 ms per cycle of the linear, ~30 ms per cycle of the BERT layer).
Reproduce with

    python3 -m hatch run python tools/bench_verilator.py --design bert --inputs 4
    python3 -m hatch run python tools/bench_verilator.py --design minilm_linear --inputs 1
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["SimRun", "VerilatorError", "build", "harness_cpp", "simulate", "stack", "vectors_for"]

# -Wno-fatal: lint is checked separately (verilator --lint-only -Wall in the emit tests); a style
# warning must not stop a simulation. --no-timing: the hwlib RTL is synchronous (no delays).
FLAGS = ("--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "--no-timing")


class VerilatorError(RuntimeError):
    """The Verilator build or run of an emitted design failed, or its inputs are malformed."""


# ---- port structure ---------------------------------------------------------------------------

def _fields(spec: dict) -> list[tuple[str, int, int, bool]]:
    """(field, lanes, bits per lane, signed) of one port of vectors.json, the emitted bench's rule:
    MXInt ports a ``mant`` field of lanes x (man_bits + 1) bits and the shared ``exp``;
    block-minifloat / block-logarithm ports unsigned element codes ``data`` and the shared
    ``bias``; fixed-point ports ``data`` lanes."""
    if "bias" in spec:
        return [("data", spec["lanes"], spec["el_width"], False), ("bias", 1, spec["bias_bits"], True)]
    if "data" in spec:
        return [("data", spec["lanes"], spec["width"], True)]
    return [("mant", spec["lanes"], spec["man_bits"] + 1, True), ("exp", 1, spec["exp_bits"], True)]


def _beats(spec: dict) -> int:
    return len(spec[_fields(spec)[0][0]])


def _pack(lanes, bits: int) -> int:
    """Lane i at bits [i*bits +: bits], two's complement (the emitted bench's packing)."""
    word = 0
    for i, v in enumerate(lanes):
        word |= (int(v) & ((1 << bits) - 1)) << (i * bits)
    return word


def _unpack(word: int, lanes: int, bits: int, signed: bool) -> list[int]:
    out = []
    for i in range(lanes):
        v = (word >> (i * bits)) & ((1 << bits) - 1)
        out.append(v - (1 << bits) if signed and v >> (bits - 1) else v)
    return out


def _lanes_of(spec: dict, field: str, i: int) -> list[int]:
    """Beat i of a field as a list of lanes (a shared exponent / bias is one number per beat)."""
    v = spec[field][i]
    return v if isinstance(v, list) else [v]


# ---- the C++ harness --------------------------------------------------------------------------

_PRELUDE = r'''// Verilator harness of an emitted mase top level (generated by mase_passes.hardware.verilator).
// usage: sim STIMULUS OUTPUT IDLE BACKPRESSURE SEED MAX_CYCLES   (run in the design folder: $readmemh)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>
#include "verilated.h"
#include "V{top}.h"

// Python's random.Random(seed) for 0 <= seed < 2^32: MT19937 seeded by init_by_array({{seed}}),
// random() = (a * 2^26 + b) / 2^53 from two draws a = x >> 5, b = y >> 6. Same draws, same order as
// the cocotb bench, so the idle / back-pressure pattern (and every cycle) is the Icarus run's.
class PyRandom {{
  public:
    explicit PyRandom(uint32_t seed) {{
        init(19650218u);
        uint32_t i = 1;
        for (uint32_t k = N; k; --k) {{  // key of length 1: {{seed}}
            mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + seed;
            if (++i >= N) {{ mt_[0] = mt_[N - 1]; i = 1; }}
        }}
        for (uint32_t k = N - 1; k; --k) {{
            mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - i;
            if (++i >= N) {{ mt_[0] = mt_[N - 1]; i = 1; }}
        }}
        mt_[0] = 0x80000000u;
    }}
    double random() {{
        uint32_t a = next() >> 5, b = next() >> 6;
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
    }}

  private:
    static constexpr uint32_t N = 624, M = 397;
    uint32_t mt_[N];
    uint32_t idx_ = N;
    void init(uint32_t s) {{
        mt_[0] = s;
        for (uint32_t i = 1; i < N; ++i) mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + i;
    }}
    uint32_t next() {{
        if (idx_ >= N) {{
            for (uint32_t k = 0; k < N; ++k) {{
                uint32_t y = (mt_[k] & 0x80000000u) | (mt_[(k + 1) % N] & 0x7fffffffu);
                mt_[k] = mt_[(k + M) % N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
            }}
            idx_ = 0;
        }}
        uint32_t y = mt_[idx_++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        return y ^ (y >> 18);
    }}
}};

using Words = std::vector<uint32_t>;  // a packed field, 32-bit words, least significant first

static Words from_hex(const std::string& s) {{
    Words w;
    for (size_t end = s.size(); end > 0; end = end > 8 ? end - 8 : 0) {{
        size_t start = end > 8 ? end - 8 : 0;
        w.push_back(static_cast<uint32_t>(std::strtoul(s.substr(start, end - start).c_str(), nullptr, 16)));
    }}
    return w;
}}

// Verilator keeps a port of <= 64 bits in an integer, a wider one in VlWide<words>.
template <typename T> static void put(T& port, const Words& w) {{
    uint64_t v = w.empty() ? 0 : w[0];
    if (w.size() > 1) v |= static_cast<uint64_t>(w[1]) << 32;
    port = static_cast<T>(v);
}}
template <std::size_t W> static void put(VlWide<W>& port, const Words& w) {{
    for (std::size_t i = 0; i < W; ++i) port[i] = i < w.size() ? w[i] : 0;
}}
template <typename T> static void hex(FILE* f, const T& port) {{
    std::fprintf(f, " %llx", static_cast<unsigned long long>(port));
}}
template <std::size_t W> static void hex(FILE* f, const VlWide<W>& port) {{
    std::fprintf(f, " ");
    for (std::size_t i = W; i-- > 0;) std::fprintf(f, i + 1 == W ? "%x" : "%08x", port[i]);
}}

struct InPort {{
    std::vector<std::vector<Words>> beats;  // beat -> field -> words
    size_t pos = 0;
    bool showing = false;
}};

int main(int argc, char** argv) {{
    if (argc != 7) {{
        std::fprintf(stderr, "usage: %s STIMULUS OUTPUT IDLE BACKPRESSURE SEED MAX_CYCLES\n", argv[0]);
        return 2;
    }}
    std::ifstream stim(argv[1]);
    FILE* out = std::fopen(argv[2], "w");
    if (!stim || !out) {{ std::fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]); return 2; }}
    const double idle = std::strtod(argv[3], nullptr), bp = std::strtod(argv[4], nullptr);
    PyRandom rng(static_cast<uint32_t>(std::strtoul(argv[5], nullptr, 10)));
    const long long limit = std::strtoll(argv[6], nullptr, 10);
    InPort in[{n_in}];
    const size_t in_fields[{n_in}] = {{{in_fields}}};
    for (int p = 0; p < {n_in}; ++p) {{
        size_t n = 0;
        stim >> n;
        in[p].beats.resize(n);
        for (auto& b : in[p].beats)
            for (size_t f = 0; f < in_fields[p]; ++f) {{ std::string s; stim >> s; b.push_back(from_hex(s)); }}
    }}
    size_t want[{n_out}], got[{n_out}] = {{}};
    for (int p = 0; p < {n_out}; ++p) stim >> want[p];
    if (!stim) {{ std::fprintf(stderr, "malformed stimulus file %s\n", argv[1]); return 2; }}

    auto ctx = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<V{top}>(ctx.get());
    auto tick = [&] {{ top->clk = 1; top->eval(); top->clk = 0; top->eval(); }};
    top->clk = 0;
    top->rst = 1;
{reset}    top->eval();
    for (int i = 0; i < 3; ++i) tick();
    top->rst = 0;
    long long cycle = 0;
    bool timeout = false;
    auto pending = [&] {{
        for (int p = 0; p < {n_out}; ++p) if (got[p] < want[p]) return true;
        return false;
    }};
    while (pending()) {{
        if (cycle >= limit) {{ timeout = true; break; }}
{drive}        top->eval();
{take}        tick();
        ++cycle;
    }}
    std::fprintf(out, "end %lld %d\n", cycle, timeout ? 1 : 0);
    top->final();
    std::fclose(out);
    return 0;
}}
'''


def harness_cpp(top: str, vectors: dict) -> str:
    """C++ source of the harness for the ports of ``vectors`` (names and fields; widths are the
    C++ types Verilator gives the ports, so the text depends only on the port list)."""
    ins, outs = list(vectors["inputs"].items()), list(vectors["outputs"].items())
    if not ins or not outs:
        raise VerilatorError("verilator harness: the vectors name no input or no output port")
    reset, drive, take = [], [], []
    for p, _ in ins:
        reset.append(f"    top->{p}_valid = 0;\n")
    for p, _ in outs:
        reset.append(f"    top->{p}_ready = 0;\n")
    for i, (p, s) in enumerate(ins):
        puts = " ".join(f"put(top->{p}_{f}, in[{i}].beats[in[{i}].pos][{k}]);" for k, (f, *_) in enumerate(_fields(s)))
        drive.append(
            f"        if (!in[{i}].showing) {{\n"
            f"            if (in[{i}].pos < in[{i}].beats.size() && rng.random() >= idle) {{\n"
            f"                {puts}\n"
            f"                top->{p}_valid = 1;\n"
            f"                in[{i}].showing = true;\n"
            f"            }} else {{\n"
            f"                top->{p}_valid = 0;\n"
            f"            }}\n"
            f"        }}\n")
    for i, (p, _) in enumerate(outs):
        drive.append(f"        top->{p}_ready = (got[{i}] < want[{i}] && rng.random() >= bp) ? 1 : 0;\n")
    for i, (p, _) in enumerate(ins):
        take.append(f"        if (in[{i}].showing && top->{p}_ready) {{\n"
                    f"            std::fprintf(out, \"i {i} %lld\\n\", cycle);\n"
                    f"            ++in[{i}].pos;\n"
                    f"            in[{i}].showing = false;\n"
                    f"        }}\n")
    for i, (p, s) in enumerate(outs):
        hexes = " ".join(f"hex(out, top->{p}_{f});" for f, *_ in _fields(s))
        take.append(f"        if (top->{p}_ready && top->{p}_valid) {{\n"
                    f"            std::fprintf(out, \"o {i} %lld\", cycle); {hexes} std::fprintf(out, \"\\n\");\n"
                    f"            ++got[{i}];\n"
                    f"        }}\n")
    return _PRELUDE.format(top=top, n_in=len(ins), n_out=len(outs),
                           in_fields=", ".join(str(len(_fields(s))) for _, s in ins),
                           reset="".join(reset), drive="".join(drive), take="".join(take))


# ---- build (cached) ---------------------------------------------------------------------------

def _cache_root() -> Path:
    root = os.environ.get("MASE_VERILATOR_BUILD")
    return Path(root) if root else Path.home() / ".cache" / "mase-passes" / "verilator"


def _sources(design_dir: Path) -> list[str]:
    return [line.strip() for line in (design_dir / "files.f").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def _verilator() -> str:
    exe = shutil.which("verilator")
    if exe is None:
        raise VerilatorError("verilator not found on PATH (Debian: apt-get install verilator)")
    return exe


def build(design_dir, vectors: dict, top: str | None = None, timeout: float = 1800.0) -> Path:
    """The harness executable of the emitted design in ``design_dir`` (built on first use, then
    cached by content; concurrent callers wait on a lock). Returns its path."""
    design_dir = Path(design_dir)
    top = top or json.loads((design_dir / "design.json").read_text())["top"]
    cpp = harness_cpp(top, vectors)
    exe = _verilator()
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    h = hashlib.sha256("\0".join([version, top, " ".join(FLAGS), cpp]).encode())
    sources = _sources(design_dir)
    for rel in sources:
        h.update(rel.encode() + b"\0" + (design_dir / rel).read_bytes())
    final = _cache_root() / f"{top}-{h.hexdigest()[:20]}" / f"V{top}_sim"
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if final.is_file():
            return final
        work = Path(tempfile.mkdtemp(prefix="build-", dir=final.parent))
        try:
            (work / "harness.cpp").write_text(cpp)
            cmd = [exe, *FLAGS, "--top-module", top, "-Mdir", str(work / "obj"), "-o", final.name,
                   *[str((design_dir / rel).resolve()) for rel in sources], str(work / "harness.cpp")]
            p = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout, check=False)
            if p.returncode != 0:
                raise VerilatorError(f"verilator build of {design_dir / 'top.sv'} failed (exit {p.returncode}):\n"
                                     + (p.stdout + p.stderr)[-3000:])
            os.replace(work / "obj" / final.name, final)  # atomic: a half-written binary is never cached
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


# ---- vectors ----------------------------------------------------------------------------------

def stack(vector_sets: list[dict]) -> dict:
    """One vectors dict streaming several inputs back to back: every port's beats concatenated in
    order, ``inputs_count`` = how many (so per-input boundaries can be found in the outputs)."""
    if not vector_sets:
        raise VerilatorError("stack: no vector sets given")
    first = vector_sets[0]
    out = {"inputs": {}, "outputs": {}, "extra_cycles": sum(v.get("extra_cycles", 0) for v in vector_sets),
           "inputs_count": sum(v.get("inputs_count", 1) for v in vector_sets)}
    for side in ("inputs", "outputs"):
        for port, spec in first[side].items():
            for k, v in enumerate(vector_sets):
                if port not in v[side]:
                    raise VerilatorError(f"stack: vector set {k} has no {side[:-1]} port {port!r}")
            names = [f for f, *_ in _fields(spec)]
            merged = {key: val for key, val in spec.items() if key not in names}
            for f in names:
                merged[f] = [beat for v in vector_sets for beat in v[side][port][f]]
            out[side][port] = merged
    return out


def vectors_for(result, inputs: list[dict]) -> dict:
    """Stacked vectors of an emit result for several sample inputs (each a dict like emit's
    ``sample_inputs``): input beats and the exact emulation's output beats, input after input."""
    # _port_beats: emit's own definition of a port's beats, so these vectors are what emit writes
    from mase_passes.hardware import emulate, topgen
    from mase_passes.passes.emit import _port_beats

    design = result.design
    ports = topgen.port_names(design)
    # the bench's time-out slack, emit's rule for vectors.json
    extra = int(2 * result.estimate.cycles_per_input + sum(s.latency for s in result.estimate.stages))
    sets = []
    for x in inputs:
        hw_in, ex = emulate.hardware_inputs(design, x), emulate.exact(design, x)
        sets.append({"inputs": {ports[v.name]: _port_beats(hw_in[v.name], v) for v in design.inputs},
                     "outputs": {ports[v.name]: _port_beats(ex[v.name], v) for v in design.outputs},
                     "extra_cycles": extra})
    return stack(sets)


# ---- run --------------------------------------------------------------------------------------

@dataclasses.dataclass
class SimRun:
    """One Verilator run. Cycles are measured (simulated clock cycles after reset)."""

    passed: bool
    errors: list[str]
    outputs: dict            # port -> {field: beats, "cycle": cycles}: what the design produced
    accepted: dict           # input port -> cycle of each accepted beat
    cycles: int              # cycles until the last output beat was taken
    inputs_count: int
    done: list[int]          # per input: cycle its last output beat was taken (measured)
    measured_ii: float | None  # mean cycles between successive inputs' done (measured; None for 1 input)
    estimated_ii: float | None  # design.json cycles_per_input (estimated by the cost formulas)
    build_s: float           # wall seconds to get the executable (0-ish when cached)
    run_s: float             # wall seconds of the simulation itself

    def summary(self) -> str:
        ii = "n/a (one input)" if self.measured_ii is None else f"{self.measured_ii:,.1f}"
        est = "n/a" if self.estimated_ii is None else f"{self.estimated_ii:,.1f}"
        return (f"Verilator: {'bit-exact' if self.passed else 'FAILED'} over {self.inputs_count} input(s), "
                f"{self.cycles:,} cycles (measured); initiation interval {ii} cycles/input measured, {est} "
                f"estimated; latency of the first input {self.done[0] if self.done else 'n/a'} cycles (measured); "
                f"build {self.build_s:.1f} s, run {self.run_s:.2f} s (wall)")


def _stimulus(vectors: dict) -> str:
    lines = []
    for spec in vectors["inputs"].values():
        lines.append(str(_beats(spec)))
        for i in range(_beats(spec)):
            lines.append(" ".join(f"{_pack(_lanes_of(spec, f, i), bits):x}" for f, _, bits, _ in _fields(spec)))
    lines.append(" ".join(str(_beats(s)) for s in vectors["outputs"].values()))
    return "\n".join(lines) + "\n"


def _check_vectors(vectors: dict, meta: dict, where: str) -> None:
    """The vectors name the design's ports (design.json) and every beat has its port's lanes."""
    for side in ("inputs", "outputs"):
        if not isinstance(vectors.get(side), dict):
            raise VerilatorError(f"{where}: the vectors have no {side!r} table")
        want, got = {p["port"] for p in meta[side]}, set(vectors[side])
        if want != got:
            raise VerilatorError(f"{where}: the vectors' {side[:-1]} ports {sorted(got)} are not the design's "
                                 f"{sorted(want)}")
        for port, spec in vectors[side].items():
            for f, lanes, *_ in _fields(spec):
                bad = [i for i in range(_beats(spec)) if len(_lanes_of(spec, f, i)) != lanes]
                if bad:
                    raise VerilatorError(f"{where}: {side[:-1]} port {port!r} field {f!r} beat {bad[0]} has "
                                         f"{len(_lanes_of(spec, f, bad[0]))} lanes, the port has {lanes}")


def simulate(design_dir, vectors: dict | str | Path | None = None, idle: float = 0.0, backpressure: float = 0.0,
             seed: int = 0, out_dir=None, timeout: float = 3600.0) -> SimRun:
    """Build (cached) and run the emitted design on ``vectors`` (a dict, a path, or None for the
    folder's ``vectors.json``); writes ``out_dir`` (default ``design_dir/sim_out``)/outputs.json."""
    design_dir = Path(design_dir)
    if not 0.0 <= idle < 1.0 or not 0.0 <= backpressure < 1.0:
        raise VerilatorError(f"verilator simulate: idle and backpressure must be in [0, 1), got {idle}, {backpressure}")
    if not 0 <= seed < 2 ** 32:
        raise VerilatorError(f"verilator simulate: seed must be in [0, 2^32), got {seed}")
    if vectors is None or isinstance(vectors, (str, Path)):
        path = Path(vectors) if vectors is not None else design_dir / "vectors.json"
        if not path.is_file():
            raise VerilatorError(f"verilator simulate: no test vectors at {path} (emit with sample_inputs)")
        vectors = json.loads(path.read_text())
    meta = json.loads((design_dir / "design.json").read_text())
    _check_vectors(vectors, meta, f"verilator simulate({design_dir})")
    t0 = time.perf_counter()
    exe = build(design_dir, vectors, meta["top"])
    t1 = time.perf_counter()
    ins, outs = vectors["inputs"], vectors["outputs"]
    limit = 400 + 40 * sum(_beats(s) for s in list(ins.values()) + list(outs.values())) + vectors.get("extra_cycles", 0)
    out_dir = Path(out_dir or design_dir / "sim_out")
    out_dir.mkdir(parents=True, exist_ok=True)
    stim, trace = out_dir / "verilator_stimulus.txt", out_dir / "verilator_trace.txt"
    stim.write_text(_stimulus(vectors))
    p = subprocess.run([str(exe), str(stim.resolve()), str(trace.resolve()), repr(float(idle)),
                        repr(float(backpressure)), str(seed), str(limit)],
                       cwd=design_dir, capture_output=True, text=True, timeout=timeout, check=False)
    run_s = time.perf_counter() - t1
    if p.returncode != 0:
        raise VerilatorError(f"verilator simulation of {design_dir} failed (exit {p.returncode}): "
                             + (p.stdout + p.stderr)[-2000:])
    run = _collect(trace.read_text(), vectors, limit)
    count = vectors.get("inputs_count", 1)
    done = _done(run["outputs"], outs, count)
    est = meta.get("cycles_per_input")
    result = SimRun(passed=not run["errors"], errors=run["errors"], outputs=run["outputs"], accepted=run["accepted"],
                    cycles=run["cycles"], inputs_count=count, done=done,
                    measured_ii=(done[-1] - done[0]) / (count - 1) if count > 1 and len(done) == count else None,
                    estimated_ii=float(est) if est is not None else None, build_s=t1 - t0, run_s=run_s)
    (out_dir / "outputs.json").write_text(json.dumps({
        "outputs": result.outputs, "cycles": result.cycles, "errors": result.errors, "idle": idle,
        "backpressure": backpressure, "simulator": "verilator", "inputs_count": count, "done": done,
        "intervals": [b - a for a, b in itertools.pairwise(done)],
        "measured_ii": result.measured_ii, "estimated_ii": result.estimated_ii,
        "build_s": result.build_s, "run_s": result.run_s}))
    return result


def _collect(trace: str, vectors: dict, limit: int) -> dict:
    """Decode the harness trace and compare every output beat with the expected one (the cocotb
    bench's messages, so callers read either simulator's errors alike)."""
    ins, outs = list(vectors["inputs"].items()), list(vectors["outputs"].items())
    got = {p: {**{f: [] for f, *_ in _fields(s)}, "cycle": []} for p, s in outs}
    accepted = {p: [] for p, _ in ins}
    errors, cycles, timeout = [], 0, False
    for line in trace.splitlines():
        tok = line.split()
        if tok[0] == "i":
            accepted[ins[int(tok[1])][0]].append(int(tok[2]))
        elif tok[0] == "o":
            port, spec = outs[int(tok[1])]
            cycle, i = int(tok[2]), len(got[port]["cycle"])
            beat = {}
            for (f, lanes, bits, signed), word in zip(_fields(spec), tok[3:]):
                vals = _unpack(int(word, 16), lanes, bits, signed)
                beat[f] = vals if isinstance(spec[f][0], list) else vals[0]
            want = {f: (spec[f][i]) for f in beat}
            if beat != want:
                errors.append(f"{port} beat {i} (cycle {cycle}): got {beat}, expected {want}")
            for f, v in beat.items():
                got[port][f].append(v)
            got[port]["cycle"].append(cycle)
        elif tok[0] == "end":
            cycles, timeout = int(tok[1]), tok[2] == "1"
    if timeout:
        errors.append(f"timeout after {cycles} cycles (limit {limit}): inputs accepted "
                      f"{ {p: len(c) for p, c in accepted.items()} }, outputs taken "
                      f"{ {p: len(g['cycle']) for p, g in got.items()} }")
    return {"outputs": got, "accepted": accepted, "errors": errors, "cycles": cycles}


def _done(got: dict, outs: dict, count: int) -> list[int]:
    """Per input, the cycle its last output beat was taken (latest over ports); only inputs whose
    every output beat came out."""
    done = []
    for k in range(count):
        last = []
        for p, spec in outs.items():
            per = _beats(spec) // count
            if len(got[p]["cycle"]) < (k + 1) * per:
                return done
            last.append(got[p]["cycle"][(k + 1) * per - 1])
        done.append(max(last))
    return done
