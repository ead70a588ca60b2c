"""Verilator 5.006 --lint-only -Wall is clean on every module (at its default parameters)."""

import shutil

import pytest

from mase_hwlib import catalog
from mase_hwlib.testing import lint, rtl_ports

pytestmark = pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")


@pytest.mark.parametrize("module", catalog.names())
def test_lint_clean_at_defaults(module):
    lint(module)


@pytest.mark.parametrize("module", catalog.names())
def test_catalog_ports_match_the_elaborated_rtl(module):
    """The catalog's port list (from its streams and derived widths) is what Verilator elaborates."""
    rtl = rtl_ports(module)
    assert rtl[:2] == [("clk", "input", 1), ("rst", "input", 1)]
    assert sorted(rtl) == sorted(catalog.get(module).ports())


@pytest.mark.parametrize("module,params", [
    ("mase_mxint_linear", dict(BLOCK_K=3, X_ROWS=2, OUT_TILE=5, X_MAN=4, W_MAN=2, BIAS_MAN=9, BIAS_EXP=5, OUT_MAN=11)),
    ("mase_mxint_matmul", dict(BLOCK_K=5, A_ROWS=3, B_COLS=2, A_MAN=2, B_EXP=3, OUT_MAN=9, OUT_EXP=4)),
    ("mase_join2", dict(DATA_WIDTH=13)),
    ("mase_fixed_to_mxint", dict(BLOCK_0=5, BLOCK_1=3, ROW_BEATS=2, IN_WIDTH=11, IN_SIGNED=0, OUT_MAN=4, OUT_EXP=5)),
    ("mase_mxint_reblock", dict(ROWS=4, COLS=6, IN_B0=3, IN_B1=2, OUT_B0=2, OUT_B1=4, OUT_COL_MAJOR=1, IN_MAN=5,
                                OUT_MAN=3, OUT_EXP=4, BANKS=2)),
    ("mase_mxint_replay", dict(LANES=6, MAN=4, EXP=5, FRAME_ROWS=3, FRAME_COLS=4, GROUPS=2, COL_MAJOR=1,
                               REPEAT_INNER=3, REPEAT_OUTER=2, TRANSPOSE_LANES=1, TILE_COLS=3)),
    ("mase_mxint_rom_source", dict(LANES=3, MAN=2, EXP=3, DEPTH=5, HOLD=2, REPEAT=3)),
])
def test_catalog_ports_match_the_rtl_away_from_defaults(module, params):
    assert sorted(rtl_ports(module, params)) == sorted(catalog.get(module).ports(params))


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")
@pytest.mark.parametrize("module", catalog.names())
def test_yosys_reads_and_elaborates(module):
    """Yosys 0.23 (the synthesis front end of mase-cost) parses and elaborates the RTL."""
    import subprocess

    spec = catalog.get(module)
    files = " ".join(str(p) for p in spec.source_paths())
    proc = subprocess.run(["yosys", "-q", "-p", f"read_verilog -sv {files}; hierarchy -check -top {module}; proc"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr or proc.stdout


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")
def test_yosys_elaborates_the_stream_bridges_away_from_defaults(tmp_path):
    """Two-bank reblock with transposed lanes, and a ROM source that really loads its $readmemh image."""
    import subprocess

    rom = tmp_path / "rom.hex"
    rom.write_text("".join(f"{w:03x}\n" for w in (0x123, 0x0ff, 0x700)))  # 3 words of 3*3+3 = 12 bits
    for module, params in (
        ("mase_mxint_reblock", dict(ROWS=4, COLS=6, IN_B0=3, IN_B1=2, OUT_B0=2, OUT_B1=4, OUT_COL_MAJOR=1, BANKS=2)),
        ("mase_mxint_rom_source", dict(LANES=3, MAN=2, EXP=3, DEPTH=3, HOLD=2, REPEAT=0, ROM_FILE=str(rom))),
    ):
        spec = catalog.get(module)
        files = " ".join(str(p) for p in spec.source_paths())
        sets = " ".join(f'-set {k} "{v}"' if isinstance(v, str) else f"-set {k} {v}"
                        for k, v in spec.verilog_params(params).items() if v != "")
        proc = subprocess.run(["yosys", "-q", "-p", f"read_verilog -sv {files}; chparam {sets} {module}; "
                               f"hierarchy -check -top {module}; proc"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr or proc.stdout


def test_no_unary_minus_before_a_size_cast():
    """Yosys (0.23 and 0.70) reads ``-N'(x)`` as a cast to size -N: on a constant it silently
    gives the wrong value (``-SW'(EMAX)`` became +EMAX, so every synthesized MXInt normaliser
    clamped its exponent to +EMAX), while Icarus and Verilator read it as the standard says.
    Write ``N'(-x)`` or ``-(N'(x))`` instead."""
    import re

    from mase_hwlib.catalog import rtl_path

    pattern = re.compile(r"-\s*[A-Za-z0-9_]+'\(")
    found = []
    for path in sorted(rtl_path("mase_fifo.sv").parent.glob("*.sv")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("//", 1)[0]
            for hit in pattern.finditer(code):
                before = code[:hit.start()].rstrip()
                # a binary minus follows an operand (Yosys reads `a - N'(x)` correctly)
                if not before or not (before[-1].isalnum() or before[-1] in "_)]"):
                    found.append(f"{path.name}:{number}: {line.strip()}")
    assert not found, "unary minus before a size cast (Yosys misreads it):\n" + "\n".join(found)


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")
def test_yosys_evaluates_the_normaliser_as_the_golden_model():
    """What synthesis sees, not only what simulators see: Yosys's own evaluation of the
    elaborated mase_mxint_normalize equals golden.mxint.normalize_block, including the
    all-zero block (exponent -EMAX) and a negative LSB exponent."""
    import subprocess

    import numpy as np

    from mase_hwlib.catalog import rtl_path
    from mase_hwlib.golden.mxint import normalize_block

    lanes, width, lsb_width, man, exp = 3, 9, 8, 3, 8
    rng = np.random.default_rng(7)
    cases = [([0, 0, 0], 0), ([5, -3, 0], -3), ([255, -256, 17], 4)]
    cases += [(list(rng.integers(-256, 256, lanes)), int(rng.integers(-20, 20))) for _ in range(5)]
    script = [f"read_verilog -sv {rtl_path('mase_mxint_round_lane.sv')} {rtl_path('mase_mxint_normalize.sv')}",
              f"chparam -set LANES {lanes} -set IN_WIDTH {width} -set LSB_WIDTH {lsb_width} "
              f"-set OUT_MAN {man} -set OUT_EXP {exp} mase_mxint_normalize",
              "prep -top mase_mxint_normalize", "flatten"]
    for ints, lsb in cases:
        word = sum((v & ((1 << width) - 1)) << (j * width) for j, v in enumerate(ints))
        script.append(f"eval -set in_int {lanes * width}'d{word} -set in_lsb {lsb_width}'d{lsb & 0xff} -set en 1'd0 "
                      "-show out_exp -show out_mant")
    proc = subprocess.run(["yosys", "-p", "; ".join(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr or proc.stdout
    shown = [line.split("=")[1].strip().rstrip(".") for line in proc.stdout.splitlines()
             if line.startswith("Eval result:")]
    assert len(shown) == 2 * len(cases)

    def signed(bits: str) -> int:
        size, digits = bits.split("'")
        v = int(digits, 2)
        return v - (1 << int(size)) if v >> (int(size) - 1) else v

    for (ints, lsb), exp_bits, mant_bits in zip(cases, shown[0::2], shown[1::2]):
        want_mant, want_exp = normalize_block(ints, lsb, man, exp)
        mant = mant_bits.split("'")[1]
        got_mant = [signed(f"{man + 1}'{mant[len(mant) - (j + 1) * (man + 1):len(mant) - j * (man + 1)]}")
                    for j in range(lanes)]
        assert (signed(exp_bits), got_mant) == (want_exp, want_mant), (ints, lsb)
