"""Generic cocotb 2 driver used by :func:`mase_hwlib.simulate` (runs inside vvp).

It reads ``spec.json`` and ``inputs.npz`` from ``$MASE_HWLIB_IO``, drives every
input stream and takes every output stream at once, and writes
``outputs.npz`` plus ``outputs.json`` (handshake cycles, or an error).

Timing discipline: all writes happen just after the falling clock edge, then
the driver waits for ``ReadOnly`` of that time step — every combinational path
(including ready that depends on valid) has settled and nothing changes until
the next rising edge — and records a handshake where valid and ready are both 1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from mase_hwlib.streams import pack_lanes, unpack_lanes


@cocotb.test()
async def run_streams(dut):
    io = Path(os.environ["MASE_HWLIB_IO"])
    spec = json.loads((io / "spec.json").read_text())
    data = np.load(io / "inputs.npz")
    rng = np.random.default_rng(spec["seed"])
    idle, bp = spec["idle"], spec["backpressure"]
    cycles = {s["name"]: [] for s in spec["inputs"] + spec["outputs"]}
    captured = {s["name"]: {f["suffix"]: [] for f in s["fields"]} for s in spec["outputs"]}
    error = None

    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    for s in spec["inputs"]:
        getattr(dut, f"{s['name']}_valid").value = 0
    for s in spec["outputs"]:
        getattr(dut, f"{s['name']}_ready").value = 0
    for name in spec.get("quiet_inputs", []):
        getattr(dut, f"{name}_valid").value = 0
    for name in spec.get("quiet_outputs", []):
        getattr(dut, f"{name}_ready").value = 0
    for _ in range(3):
        await FallingEdge(dut.clk)
    dut.rst.value = 0

    pos = {s["name"]: 0 for s in spec["inputs"]}
    presenting = {s["name"]: False for s in spec["inputs"]}
    got = {s["name"]: 0 for s in spec["outputs"]}
    cycle = 0
    while True:
        if all(got[s["name"]] >= s["beats"] for s in spec["outputs"]) and all(
            pos[s["name"]] >= s["beats"] for s in spec["inputs"]
        ):
            break
        if cycle >= spec["max_cycles"]:
            accepted = {s["name"]: f"{pos[s['name']]}/{s['beats']}" for s in spec["inputs"]}
            taken = {s["name"]: f"{got[s['name']]}/{s['beats']}" for s in spec["outputs"]}
            error = f"timeout after {cycle} cycles: inputs accepted {accepted}, outputs taken {taken}"
            break
        # -- drive (just after the falling edge) --
        for s in spec["inputs"]:
            name = s["name"]
            valid = getattr(dut, f"{name}_valid")
            if not presenting[name]:
                if pos[name] < s["beats"] and not (idle and rng.random() < idle):
                    i = pos[name]
                    for f in s["fields"]:
                        lanes = data[f"{name}.{f['suffix']}"][i]
                        getattr(dut, f"{name}_{f['suffix']}").value = pack_lanes(lanes, f["width"])
                    valid.value = 1
                    presenting[name] = True
                else:
                    valid.value = 0
        for s in spec["outputs"]:
            take = got[s["name"]] < s["beats"] and not (bp and rng.random() < bp)
            getattr(dut, f"{s['name']}_ready").value = int(take)
        await ReadOnly()
        # -- sample (values now hold until the next rising edge) --
        for s in spec["inputs"]:
            name = s["name"]
            if presenting[name] and _bit(dut, f"{name}_ready"):
                cycles[name].append(cycle)
                pos[name] += 1
                presenting[name] = False
        for s in spec["outputs"]:
            name = s["name"]
            if got[name] < s["beats"] and _bit(dut, f"{name}_ready") and _bit(dut, f"{name}_valid"):
                for f in s["fields"]:
                    handle = getattr(dut, f"{name}_{f['suffix']}")
                    if not handle.value.is_resolvable:
                        error = f"{name}_{f['suffix']} holds X/Z at output beat {got[name]} (cycle {cycle})"
                        break
                    word = _word(handle.value)
                    captured[name][f["suffix"]].append(unpack_lanes(word, f["lanes"], f["width"], f["signed"]))
                cycles[name].append(cycle)
                got[name] += 1
        if error:
            break
        await FallingEdge(dut.clk)
        cycle += 1

    arrays = {}
    for s in spec["outputs"]:
        for f in s["fields"]:
            rows = captured[s["name"]][f["suffix"]]
            arrays[f"{s['name']}.{f['suffix']}"] = np.array(rows, dtype=np.int64).reshape(len(rows), f["lanes"])
    np.savez(io / "outputs.npz", **arrays)
    (io / "outputs.json").write_text(json.dumps({"cycles": cycles, "error": error}))
    assert error is None, error


def _bit(dut, name: str) -> bool:
    v = getattr(dut, name).value
    if not v.is_resolvable:
        raise AssertionError(f"{name} is X/Z after reset")
    return bool(int(v))


def _word(value) -> int:
    """Unsigned integer of a port value (a 1-bit port reads as a Logic, wider ones as a LogicArray)."""
    return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)
