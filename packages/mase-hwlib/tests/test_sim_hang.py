"""Designs that hang: simulate() stops them and says which module and which stream.

Two broken designs, written here (not shipped in the catalog) and registered for the
duration of one test:

* ``mase_test_never_valid`` accepts its input but never raises ``y_valid``: simulated
  time runs on, so the cycle limit (``max_cycles``) stops the bench;
* ``mase_test_spin`` starts a zero-delay combinational loop after reset: Icarus keeps
  evaluating one time step forever, the cycle limit is never reached, and only the
  wall-clock ``timeout`` (a watchdog that kills the simulator) ends the run.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import mase_hwlib
from mase_hwlib import catalog
from mase_hwlib.simulate import SimTimeout

HEADER = "`timescale 1ns/1ps\n`default_nettype none\n"

NEVER_VALID = HEADER + """
module mase_test_never_valid #(
    parameter integer DATA_WIDTH = 8  // bits per beat
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire                  x_valid,
    output wire                  x_ready,
    input  wire [DATA_WIDTH-1:0] x_data,
    output wire                  y_valid,
    input  wire                  y_ready,
    output wire [DATA_WIDTH-1:0] y_data
);
  assign x_ready = 1'b1;     // swallows every input beat
  assign y_valid = 1'b0;     // the bug: never offers an output
  assign y_data  = x_data;
endmodule
"""

SPIN = HEADER + """
module mase_test_spin #(
    parameter integer DATA_WIDTH = 8  // bits per beat
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire                  x_valid,
    output wire                  x_ready,
    input  wire [DATA_WIDTH-1:0] x_data,
    output wire                  y_valid,
    input  wire                  y_ready,
    output wire [DATA_WIDTH-1:0] y_data
);
  wire a, b;
  assign a = x_valid ? ~b : 1'b0;  // the bug: an inverter loop with no delay
  assign b = a;
  assign x_ready = 1'b1;
  assign y_valid = b;
  assign y_data  = x_data;
endmodule
"""


@dataclass(frozen=True)
class _LocalSpec(catalog.ModuleSpec):
    """A catalog entry whose source is a file outside the package (tests only)."""

    path: str = ""

    def source_paths(self):
        return [Path(self.path)]


def _register(monkeypatch, tmp_path, name, text):
    src = tmp_path / f"{name}.sv"
    src.write_text(text)
    w = catalog.Field("data", 1, "DATA_WIDTH")
    spec = _LocalSpec(
        name=name, family="test", doc="a broken design", params=(catalog.Param("DATA_WIDTH", 8, "bits", 1, 32),),
        streams=(catalog.Stream("x", "in", (w,)), catalog.Stream("y", "out", (w,))),
        golden=lambda params, beats: {"y": {"data": beats["x"]["data"]}}, sources=(f"{name}.sv",), path=str(src))
    catalog.names()  # load the real catalog first, then add ours for this test only
    monkeypatch.setitem(catalog._REGISTRY, name, spec)
    monkeypatch.setenv("MASE_HWLIB_BUILD", str(tmp_path / "build"))


def test_a_design_that_never_asserts_valid_stops_at_the_cycle_limit_naming_the_stream(monkeypatch, tmp_path):
    _register(monkeypatch, tmp_path, "mase_test_never_valid", NEVER_VALID)
    with pytest.raises(SimTimeout) as info:
        mase_hwlib.simulate("mase_test_never_valid", {}, {"x": {"data": np.arange(4)}}, max_cycles=60)
    msg = str(info.value)
    assert msg.startswith("simulate(mase_test_never_valid): timeout after 60 cycles")
    assert ("output stream 'y' delivered 0 of 4 beats "
            "(y_valid never rose while the bench held y_ready high)") in msg
    assert "input stream 'x'" not in msg  # every input beat went in: x is not the culprit


def test_a_design_whose_time_stops_is_killed_by_the_wall_clock_timeout(monkeypatch, tmp_path):
    _register(monkeypatch, tmp_path, "mase_test_spin", SPIN)
    t0 = time.monotonic()
    with pytest.raises(SimTimeout, match=r"simulate\(mase_test_spin\): no result after 4 s of wall-clock time; "
                                         r"the simulator was killed\. Simulated time stopped advancing"):
        mase_hwlib.simulate("mase_test_spin", {}, {"x": {"data": np.arange(4)}}, timeout=4)
    elapsed = time.monotonic() - t0
    assert elapsed < 60, f"the watchdog took {elapsed:.0f} s to stop a 4 s timeout"


def test_a_healthy_run_is_not_touched_by_the_watchdog():
    data = np.arange(8)
    r = mase_hwlib.simulate("mase_skid_buffer", {"DATA_WIDTH": 8}, {"x": {"data": data}}, timeout=120)
    assert r.outputs["y"]["data"][:, 0].tolist() == data.tolist()


def test_timeout_must_be_positive():
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds, got 0"):
        mase_hwlib.simulate("mase_skid_buffer", {}, {"x": {"data": np.arange(2)}}, timeout=0)
