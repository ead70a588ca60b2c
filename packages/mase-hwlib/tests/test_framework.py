"""The catalog, the beat format and simulate() itself (on the skid buffer)."""

import numpy as np
import pytest

import mase_hwlib
from mase_hwlib import catalog, streams


def test_every_catalog_entry_is_consistent():
    for name in catalog.names():
        spec = catalog.get(name)
        assert spec.name == name and spec.sources[-1] == f"{name}.sv"
        for path in spec.source_paths():
            text = path.read_text()
            assert "`default_nettype none" in text, path
        # the top file declares exactly this module, with clk and rst first
        top = spec.source_paths()[-1].read_text()
        assert f"module {name} #(" in top or f"module {name} (" in top
        header = top[top.index(f"module {name}") :]
        ports = header[header.index(") (") :] if " #(" in header[: len(name) + 10] else header
        assert ports.index("clk") < ports.index("rst") < min(ports.index(f"{s.name}_valid") for s in spec.streams)
        full = spec.resolve()  # defaults are legal
        for s in spec.streams:
            for f in s.fields:
                lanes, width = f.resolve(full)
                assert lanes >= 1 and width >= 1


def test_resolve_rejects_bad_parameters_by_name():
    spec = catalog.get("mase_skid_buffer")
    with pytest.raises(ValueError, match="DATA_WIDTH=0 outside its legal range"):
        spec.resolve({"DATA_WIDTH": 0})
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['WIDTH'\]"):
        spec.resolve({"WIDTH": 8})
    with pytest.raises(KeyError, match="no module 'mase_nothing'"):
        catalog.get("mase_nothing")


def test_normalize_rejects_values_that_do_not_fit_the_port():
    spec = catalog.get("mase_skid_buffer")
    full = spec.resolve({"DATA_WIDTH": 4})
    with pytest.raises(ValueError, match=r"x_data values must fit 4 unsigned bits \[0, 15\]"):
        streams.normalize(spec, full, {"x": {"data": np.array([3, 16])}})
    with pytest.raises(ValueError, match="input stream 'x' missing"):
        streams.normalize(spec, full, {})


def test_pack_unpack_round_trip_with_sign():
    vals = [-3, 5, -8, 7]
    assert streams.unpack_lanes(streams.pack_lanes(vals, 4), 4, 4, True) == vals


def test_simulate_skid_buffer_cycle_counts():
    """Unstalled, a skid buffer is a one-cycle register moving one beat per cycle."""
    data = np.arange(16)
    r = mase_hwlib.simulate("mase_skid_buffer", {"DATA_WIDTH": 8}, {"x": {"data": data}})
    assert r.outputs["y"]["data"][:, 0].tolist() == data.tolist()
    assert r.first_output_latency == 1
    assert r.cycles_per_block == 1.0
    assert r.total_cycles == 17


def test_simulate_with_stalls_keeps_every_beat_in_order():
    data = np.random.default_rng(3).integers(0, 1 << 12, 60)
    r = mase_hwlib.simulate(
        "mase_skid_buffer", {"DATA_WIDTH": 12}, {"x": {"data": data}}, idle=0.4, backpressure=0.5, seed=9
    )
    assert r.outputs["y"]["data"][:, 0].tolist() == data.tolist()
    assert r.cycles_per_block > 1.0  # the stalls did slow it down


def test_simulate_reports_a_timeout_with_the_missing_beats():
    # ask for more output beats than the RTL can ever produce
    with pytest.raises(RuntimeError, match=r"timeout after 50 cycles.*'y': '3/4'"):
        mase_hwlib.simulate(
            "mase_skid_buffer", {}, {"x": {"data": np.arange(3)}}, expected_beats={"y": 4}, max_cycles=50
        )
