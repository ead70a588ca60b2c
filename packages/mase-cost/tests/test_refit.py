"""mase-cost refit: merging a sweep CSV and fitting each module on the installed RTL's rows only."""

import json

import pytest

from mase_cost import CostModel, dataset
from mase_cost.refit import merge, select_current
from mase_cost.sweep import read_records, write_records
from mase_cost.synth import rtl_version


def _row(module, key, rtl, yosys="Yosys 0.70 (x)", lut=100):
    return {"key": key, "module": module, "params": json.dumps({}), "nodsp": "1", "status": "ok", "error": "",
            "lut": str(lut), "rtl_version": rtl, "yosys_version": yosys}


def test_select_current_keeps_the_installed_rtl_and_flags_modules_without_it():
    rows = [_row("a", "a1", "new"), _row("a", "a2", "old", "Yosys 0.23 (y)"), _row("a", "a3", "new"),
            _row("a", "a4", "new", "Yosys 0.23 (y)"),  # current RTL, minority build: left out
            _row("b", "b1", "old"), _row("b", "b2", "older")]
    keep, st = select_current(rows, installed={"a": "new", "b": "new"})
    assert sorted(r["key"] for r in keep) == ["a1", "a3", "b1", "b2"]
    assert st["a"] == {"rtl": "current", "rtl_version": "new", "installed": "new", "yosys": "Yosys 0.70",
                       "n": 2, "n_other": 2, "synth_s": None}
    assert st["b"]["rtl"] == "stale" and st["b"]["n"] == 2 and st["b"]["n_other"] == 0
    assert st["b"]["rtl_version"] == "old, older"


def test_merge_adds_new_rows_and_replaces_resynthesized_ones(tmp_path):
    from mase_cost.sweep import COLUMNS

    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    write_records(old, [_row("a", "k1", "old", lut=1), _row("a", "k2", "old", lut=2)], COLUMNS)
    write_records(new, [_row("a", "k2", "new", lut=20), _row("a", "k3", "new", lut=30)], COLUMNS)
    assert merge([new], old) == {"old": 2, "added": 1, "replaced": 1, "total": 3}
    got = {r["key"]: (r["rtl_version"], r["lut"]) for r in read_records(old)}
    assert got == {"k1": ("old", "1"), "k2": ("new", "20"), "k3": ("new", "30")}
    with pytest.raises(FileNotFoundError, match="no such file"):
        merge([tmp_path / "missing.csv"], old)


def test_default_model_is_fitted_on_the_installed_rtl_where_the_dataset_has_it():
    """Oracle: the shipped dataset itself, grouped by module and rtl_version."""
    model = CostModel.default()
    rows = dataset.load()
    status = model.meta["rtl_status"]
    for module in model.modules:
        mine = [r for r in rows if r["module"] == module]
        current = [r for r in mine if r["rtl_version"] == rtl_version(module)]
        if current:
            assert status[module]["rtl"] == "current", module
            assert model.rtl_status(module) is None
            builds = {" ".join(r["yosys_version"].split()[:2]) for r in current}
            assert status[module]["n"] == max(sum(1 for r in current if r["yosys_version"].startswith(b))
                                              for b in builds)
        else:
            assert status[module]["rtl"] == "stale", module
            assert model.rtl_status(module).startswith("stale RTL: fitted on mase-hwlib"), module
            assert status[module]["n"] == len(mine)
