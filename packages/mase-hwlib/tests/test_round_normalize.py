"""Benches of the rounding core itself: mase_mxint_round_lane and mase_mxint_normalize.

Every MXInt operator rounds through these two modules, so they get their own benches on top of the
operators' ones: each is simulated (Icarus) over vector files of random and edge-case inputs, at
several parameter sets, and compared with an independent oracle --

* round_lane: the rational value |A| * 2^-SH rounded half to even (``fractions.Fraction``),
  saturated to OUT_MAN bits, the sign put back;
* normalize: ``mx_formats.quantize(A * 2^L, MXInt((LANES,), OUT_EXP, OUT_MAN), "nearest_even")``
  on the exact float64 values (mantissas and shared exponent), with PIPELINE = 0 (combinational)
  and PIPELINE = 1 (the block scale registered on ``en``; the bench holds ``en`` low on random
  cycles in between, which must not disturb the held block).
"""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction

import mx_formats as mxf
import numpy as np
import pytest
from mase_hwlib.catalog import rtl_path

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog not installed")


def _hexwords(values, width: int) -> str:
    return "\n".join(f"{int(v) & ((1 << width) - 1):x}" for v in values) + "\n"


def _run(tmp_path, sources, tb: str) -> list[int]:
    (tmp_path / "tb.sv").write_text(tb)
    exe = tmp_path / "sim.vvp"
    build = subprocess.run(["iverilog", "-g2012", "-o", str(exe), *map(str, sources), str(tmp_path / "tb.sv")],
                           cwd=tmp_path, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run(["vvp", "-n", str(exe)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return [int(t, 16) for t in (tmp_path / "out.hex").read_text().split()]


def _signed(word: int, width: int) -> int:
    return word - (1 << width) if word >> (width - 1) else word


# ---- round_lane ---------------------------------------------------------------------------------

def round_lane_oracle(mag: int, neg: bool, sh: int, out_man: int) -> int:
    """min(round_half_even(mag * 2^-sh), 2^out_man - 1), negated when neg."""
    v = Fraction(mag) / Fraction(2) ** sh
    q = int(v)  # floor (v >= 0)
    rem = v - q
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and q % 2 == 1):
        q += 1
    q = min(q, (1 << out_man) - 1)
    return -q if neg else q


def _round_lane_vectors(in_width: int, shift_width: int, out_man: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    smin, smax = -(1 << (shift_width - 1)), (1 << (shift_width - 1)) - 1
    cases = []
    # edges: ties at every shift (..x1 1000 / ..x0 1000), all-ones, zero, shifts around the limits
    for sh in range(max(smin, -out_man - 2), min(smax, in_width + 3) + 1):
        for mag in (0, 1, (1 << in_width) - 1, 1 << (in_width - 1)):
            cases.append((mag, 0, sh))
        if 0 < sh <= in_width:
            half = 1 << (sh - 1)
            for kept in (0, 1, 2, 3):
                mag = (kept << sh) | half
                if mag < 1 << in_width:
                    cases += [(mag, 0, sh), (mag, 1, sh), (mag + 1, 0, sh) if mag + 1 < 1 << in_width else (mag, 0, sh)]
    for _ in range(n):
        cases.append((int(rng.integers(0, 1 << in_width)), int(rng.integers(0, 2)),
                      int(rng.integers(max(smin, -out_man - 3), min(smax, in_width + 4) + 1))))
    return cases


@pytest.mark.parametrize("in_width,shift_width,out_man", [(16, 12, 7), (9, 6, 3), (24, 8, 1), (5, 5, 8)])
def test_round_lane_matches_rational_rounding(tmp_path, in_width, shift_width, out_man):
    cases = _round_lane_vectors(in_width, shift_width, out_man, 3000, seed=in_width * 31 + out_man)
    n = len(cases)
    (tmp_path / "mag.hex").write_text(_hexwords([c[0] for c in cases], in_width))
    (tmp_path / "neg.hex").write_text(_hexwords([c[1] for c in cases], 1))
    (tmp_path / "sh.hex").write_text(_hexwords([c[2] for c in cases], shift_width))
    tb = f"""`timescale 1ns/1ps
module tb;
    reg [{in_width - 1}:0] mags [{n}];
    reg negs [{n}];
    reg [{shift_width - 1}:0] shs [{n}];
    reg [{in_width - 1}:0] mag;
    reg neg;
    reg signed [{shift_width - 1}:0] sh;
    wire [{out_man}:0] mant;
    integer i, f;
    mase_mxint_round_lane #(.IN_WIDTH({in_width}), .SHIFT_WIDTH({shift_width}), .OUT_MAN({out_man}))
        dut (.mag(mag), .neg(neg), .sh(sh), .mant(mant));
    initial begin
        $readmemh("mag.hex", mags); $readmemh("neg.hex", negs); $readmemh("sh.hex", shs);
        f = $fopen("out.hex", "w");
        for (i = 0; i < {n}; i = i + 1) begin
            mag = mags[i]; neg = negs[i]; sh = shs[i];
            #1 $fwrite(f, "%h\\n", mant);
        end
        $fclose(f);
        $finish;
    end
endmodule
"""
    got = [_signed(w, out_man + 1) for w in _run(tmp_path, [rtl_path("mase_mxint_round_lane.sv")], tb)]
    want = [round_lane_oracle(m, bool(ng), _signed(s & ((1 << shift_width) - 1), shift_width), out_man)
            for m, ng, s in cases]
    bad = [(cases[i], got[i], want[i]) for i in range(n) if got[i] != want[i]]
    assert not bad, f"{len(bad)} of {n} differ; first (mag, neg, sh), rtl, oracle: {bad[:3]}"


# ---- normalize ----------------------------------------------------------------------------------

def _normalize_blocks(lanes: int, in_width: int, lsb_width: int, out_exp: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    lo, hi = -(1 << (in_width - 1)), (1 << (in_width - 1)) - 1
    emax = (1 << (out_exp - 1)) - 1
    lmin, lmax = max(-(1 << (lsb_width - 1)), -emax - in_width - 3), min((1 << (lsb_width - 1)) - 1, emax + 3)
    blocks = [(np.zeros(lanes, np.int64), 0), (np.full(lanes, lo, np.int64), 0), (np.full(lanes, hi, np.int64), 0),
              (np.array([lo] + [0] * (lanes - 1), np.int64), lmax), (np.array([1] * lanes, np.int64), lmin)]
    for _ in range(n):
        # magnitudes spread over the whole width: a random top bit per block, then smaller lanes
        top = int(rng.integers(0, in_width))
        a = rng.integers(-(1 << top), (1 << top), lanes).astype(np.int64).clip(lo, hi)
        if rng.random() < 0.2:  # ties: a lane exactly half an output LSB above a kept value
            a[0] = (int(rng.integers(0, 8)) << max(top - 3, 1)) | (1 << max(top - 4, 0))
            a[0] = min(a[0], hi)
        blocks.append((a, int(rng.integers(lmin, lmax + 1))))
    return blocks


def normalize_oracle(a: np.ndarray, lsb: int, out_man: int, out_exp: int):
    """mx_formats.quantize of the exact values a * 2^lsb into one MXInt block (the module's spec)."""
    q = mxf.quantize(np.ldexp(a.astype(np.float64), lsb)[None, :], mxf.MXInt((len(a),), out_exp, out_man),
                     axes=(-1,), rounding="nearest_even")
    return q.mantissas().reshape(-1).tolist(), int(np.asarray(q.scales).reshape(-1)[0])


@pytest.mark.parametrize("lanes,in_width,lsb_width,out_man,out_exp,pipeline", [
    (4, 16, 10, 7, 8, 0), (4, 16, 10, 7, 8, 1), (1, 9, 6, 3, 4, 0), (8, 20, 9, 2, 5, 1), (2, 6, 7, 8, 3, 0)])
def test_normalize_matches_mx_formats_quantize(tmp_path, lanes, in_width, lsb_width, out_man, out_exp, pipeline):
    blocks = _normalize_blocks(lanes, in_width, lsb_width, out_exp, 1500, seed=lanes * 7 + in_width + pipeline)
    n = len(blocks)
    words = [sum((int(v) & ((1 << in_width) - 1)) << (j * in_width) for j, v in enumerate(a)) for a, _ in blocks]
    (tmp_path / "in.hex").write_text(_hexwords(words, lanes * in_width))
    (tmp_path / "lsb.hex").write_text(_hexwords([l for _, l in blocks], lsb_width))
    ow = out_man + 1
    # PIPELINE = 1: present a block, pulse en (on a random later cycle, idle en-low cycles between:
    # the held block must not change), read the output after the edge that registered it
    tb = f"""`timescale 1ns/1ps
module tb;
    reg [{lanes * in_width - 1}:0] ins [{n}];
    reg [{lsb_width - 1}:0] lsbs [{n}];
    reg [{lanes * in_width - 1}:0] in_int;
    reg signed [{lsb_width - 1}:0] in_lsb;
    reg clk = 0, en = 0;
    wire [{lanes * ow - 1}:0] out_mant;
    wire [{out_exp - 1}:0] out_exp;
    integer i, f, k;
    mase_mxint_normalize #(.LANES({lanes}), .IN_WIDTH({in_width}), .LSB_WIDTH({lsb_width}), .OUT_MAN({out_man}),
        .OUT_EXP({out_exp}), .PIPELINE({pipeline}))
        dut (.in_int(in_int), .in_lsb(in_lsb), .out_mant(out_mant), .out_exp(out_exp), .clk(clk), .en(en));
    initial begin
        $readmemh("in.hex", ins); $readmemh("lsb.hex", lsbs);
        f = $fopen("out.hex", "w");
        for (i = 0; i < {n}; i = i + 1) begin
            in_int = ins[i]; in_lsb = lsbs[i];
            if ({pipeline}) begin
                en = 1; #1 clk = 1; #1 clk = 0; en = 0;
                in_int = ~ins[i]; in_lsb = ~lsbs[i];  // the inputs move on; the registered block must not
                for (k = 0; k < (i % 3); k = k + 1) begin #1 clk = 1; #1 clk = 0; end
            end
            #1 $fwrite(f, "%h %h\\n", out_mant, out_exp);
        end
        $fclose(f);
        $finish;
    end
endmodule
"""
    srcs = [rtl_path("mase_mxint_round_lane.sv"), rtl_path("mase_mxint_normalize.sv")]
    words_out = _run(tmp_path, srcs, tb)
    bad = []
    for i, (a, lsb) in enumerate(blocks):
        mword, eword = words_out[2 * i], words_out[2 * i + 1]
        got = ([_signed((mword >> (j * ow)) & ((1 << ow) - 1), ow) for j in range(lanes)], _signed(eword, out_exp))
        want = normalize_oracle(a, lsb, out_man, out_exp)
        if got != want:
            bad.append((a.tolist(), lsb, got, want))
    assert not bad, f"{len(bad)} of {n} blocks differ; first (A, L, rtl, oracle): {bad[:2]}"
