"""emit: the project folder's contents checked against independent sources (mx_formats for ROMs and
vectors, the catalog for sources), refusal before writing, and writes confined to the folder.
(Simulation of the emitted design is in the root integration tests, tests/test_emit_*.py.)"""

import json
import os

import mx_formats as mxf
import numpy as np
import pytest
import torch
from mase_hwlib import catalog, streams
from mase_hwlib.rom import read_mx_rom

from mase_passes.hardware import MappingError, examples
from mase_passes.passes import get_pass
from mase_passes.passes.emit import Emit, EmitError, _Writer


def _tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_emitted_folder_is_complete_and_consistent(tmp_path):
    _, x, q = examples.toy()
    out = tmp_path / "toy"
    r = get_pass("emit")().apply(q, out, sample_inputs={"x": x})
    assert r.out_dir == out.resolve()
    files = _tree(out)
    for f in ("top.sv", "files.f", "synth.ys", "elaborate.ys", "run_sim.py", "tb/test_top.py", "vectors.json",
              "design.json", "README.md", "mem/linear_weight.hex", "mem/linear_bias.hex"):
        assert f in files
    assert sorted(files) == sorted(r.files)
    # file list: every source the catalog names for the modules used, then top.sv; copies identical
    listed = (out / "files.f").read_text().split()
    needed = {p.name: p for m in ("mase_mxint_linear", "mase_mxint_relu", "mase_skid_buffer")
              for p in catalog.get(m).source_paths()}
    assert set(listed) == {f"rtl/{n}" for n in needed} | {"top.sv"} and listed[-1] == "top.sv"
    for n, p in needed.items():
        assert (out / "rtl" / n).read_bytes() == p.read_bytes()
    # ROM image = the weight quantized by mx_formats in mase_mxint_linear's tile order
    w = q.weights["fc.weight"].detach().double().numpy()
    qw = mxf.quantize(w, mxf.MXInt((4, 4), 8, 3), axes=(-1, -2))
    rom = read_mx_rom(out / "mem/linear_weight.hex", lanes=16, man=3, exp=8)
    ref = streams.mx_to_beats(qw)
    np.testing.assert_array_equal(rom["mant"], ref["mant"])
    np.testing.assert_array_equal(rom["exp"].reshape(-1), ref["exp"].reshape(-1))
    # top level: the instance parameters and ports
    top = (out / "top.sv").read_text()
    assert "mase_mxint_linear #(.BLOCK_K(4), .X_ROWS(2), .OUT_TILE(4), .IN_TILES(8), .OUT_TILES(2)" in top
    assert '.WEIGHT_FILE("mem/linear_weight.hex")' in top
    assert "input  wire [47:0] in_flatten_mant" in top and "output wire [47:0] out_relu_mant" in top
    # vectors: expected output beats decode to the exact emulation; inputs to the quantized flatten
    vec = json.loads((out / "vectors.json").read_text())
    o = vec["outputs"]["out_relu"]
    y = streams.beats_to_mx({"mant": np.array(o["mant"]), "exp": np.array(o["exp"]).reshape(-1, 1)},
                            mxf.MXInt((4, 2), 8, 5), (4, 8), (-1, -2))
    np.testing.assert_array_equal(mxf.dequantize(y), mxf.dequantize(r.expected["out_relu"]))
    i = vec["inputs"]["in_flatten"]
    xin = mxf.dequantize(mxf.quantize(x.double().numpy(), mxf.MXInt((4, 2), 8, 5), axes=(-1, -2))).reshape(4, 32)
    xq = streams.mx_to_beats(mxf.quantize(xin, mxf.MXInt((4, 2), 8, 5), axes=(-1, -2)))
    assert i["mant"] == xq["mant"].tolist() and i["exp"] == xq["exp"].reshape(-1).tolist()
    # README and design.json carry labelled estimates
    readme = (out / "README.md").read_text()
    assert "in_flatten_*" in readme and "MXInt((4,2),8,5)" in readme and "bottleneck" in readme
    d = json.loads((out / "design.json").read_text())
    assert d["bottleneck"] == "linear" and d["cycles_per_input"] == 32
    assert all(s["area_label"].startswith(("estimated", "no cost model for")) for s in d["stages"])


def test_unmappable_graph_writes_nothing(tmp_path):
    _, x, q = examples.toy()
    q.set_format("linear", mxf.BMF((4, 2), 4, 3, 8))
    with pytest.raises(MappingError, match="%linear"):
        Emit().apply(q, tmp_path / "bad", sample_inputs={"x": x})
    assert list(tmp_path.iterdir()) == []


def test_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    _, x, q = examples.toy()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("mase_passes.passes.emit.synth.synth_script", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        Emit().apply(q, tmp_path / "half")
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_is_refused_unless_overwrite(tmp_path):
    _, _, q = examples.toy()
    out = tmp_path / "d"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(EmitError, match="exists and is not an empty folder"):
        Emit().apply(q, out)
    assert (out / "keep.txt").read_text() == "mine"
    Emit(overwrite=True).apply(q, out)
    assert not (out / "keep.txt").exists() and (out / "top.sv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no temporary folders left
    with pytest.raises(EmitError, match="parent .* does not exist"):
        Emit().apply(q, tmp_path / "no" / "such")


def test_writes_stay_inside_the_folder(tmp_path):
    """Every file emit writes is inside out_dir, and the writer refuses paths that escape."""
    _, x, q = examples.toy()
    before = set(os.listdir(tmp_path))
    out = tmp_path / "inside"
    r = Emit().apply(q, out, sample_inputs={"x": x})
    assert set(os.listdir(tmp_path)) - before == {"inside"}
    for f in r.files:
        assert (out / f).resolve().is_relative_to(out.resolve())
    w = _Writer(tmp_path / "inside")
    for bad in ("../escape.txt", "/etc/passwd", "mem/../../x"):
        with pytest.raises(EmitError, match="outside"):
            w.text(bad, "x")
    (out / "link").symlink_to(tmp_path)
    with pytest.raises(EmitError, match="outside"):
        w.text("link/evil.txt", "x")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_bad_top_name_is_refused(tmp_path):
    _, _, q = examples.toy()
    with pytest.raises(EmitError, match="not a SystemVerilog identifier"):
        Emit(top="my top").apply(q, tmp_path / "t")
    assert list(tmp_path.iterdir()) == []


def test_registry_has_the_hardware_passes():
    from mase_passes.passes import list_passes

    assert {"parallelize", "emit"} <= set(list_passes())
