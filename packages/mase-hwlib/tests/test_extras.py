"""A missing optional dependency names the extra that installs it (issue 22, item 2)."""

import sys

import pytest

from mase_hwlib.simulate import build
from mase_hwlib.extras import MissingExtra, missing, require


def test_simulating_without_cocotb_names_the_sim_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cocotb_tools", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "cocotb_tools.runner", None)
    with pytest.raises(MissingExtra, match=r"mase_hwlib.simulate needs cocotb_tools \(not installed\): "
                                           r"pip install 'mase-hwlib\[sim\]'") as info:
        build("mase_mxint_cast", {})
    assert isinstance(info.value, ModuleNotFoundError)  # `except ImportError` callers still catch it


def test_an_installed_module_is_returned():
    import json

    assert require("json", "x[y]", "z") is json and not missing("json")
    assert missing("mase_no_such_module")


def test_a_broken_import_inside_the_optional_module_is_not_blamed_on_the_extra(tmp_path, monkeypatch):
    (tmp_path / "mase_optional_probe.py").write_text("import mase_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="mase_no_such_dependency") as info:
        require("mase_optional_probe", "x[y]", "z")
    assert not isinstance(info.value, MissingExtra)
