"""`mase check` finds what `mase run` would fail on, before the heavy work (issue 22, item 2): a
missing optional module (named with its extra), a budget no design the run can build fits (by the
cost model's estimate), and formats the hardware cannot map."""

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the tests run with --import-mode=importlib
from cli_models import bert_checkpoint, csv_dataset, write_config  # noqa: E402

from mase_passes.cli.main import main  # noqa: E402

SCOPE = "model.bert.encoder.layer.0.attention.output.dense"  # a 32 -> 32 linear of the tiny BERT


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return bert_checkpoint(tmp_path_factory.mktemp("bert") / "ckpt")


def _cfg(tmp_path, bert, hardware=None, **sections):
    hw = {"parallelize": True, "emit": True, "simulate": False, "scope": SCOPE, **(hardware or {})}
    return write_config(tmp_path / "run.toml", str(bert), str(csv_dataset(tmp_path / "d.csv")),
                        str(tmp_path / "out"), dataset={"text_column": "sentence"}, hardware=hw, **sections)


def _luts(err: str) -> dict[int, float]:
    """mantissa -> estimated LUTs, read from check's messages ('uniform mantissa m ... lut N > L')."""
    found = re.findall(r"uniform mantissa (\d+)\)?[^\n]*?lut (\d+(?:\.\d+)?) > ", err)
    return {int(m): float(v) for m, v in found}


@pytest.mark.slow
def test_a_fitting_config_is_ok_after_the_hardware_estimate(tmp_path, bert, capsys):
    assert main(["check", str(_cfg(tmp_path, bert))]) == 0
    io = capsys.readouterr()
    assert ": ok (model" in io.out and "[check hardware] 0 problems" in io.err


@pytest.mark.slow
def test_a_budget_nothing_fits_is_refused_naming_the_estimate(tmp_path, bert, capsys):
    assert main(["check", str(_cfg(tmp_path, bert, {"lut": 1}))]) == 2
    err = capsys.readouterr().err
    assert "even the smallest design the search can choose (uniform mantissa 3) cannot be built" in err
    assert "estimated by the cost model" in err and "lut 1" in err and "Traceback" not in err
    assert set(_luts(err)) == {3}  # without hardware terms the top of the range is not an error on its own


@pytest.mark.slow
def test_a_budget_between_the_smallest_and_largest_design_warns_or_fails_with_hardware_terms(tmp_path, bert,
                                                                                          capsys):
    # both ends' estimates, from the messages of a budget neither fits (k_area needs both)
    assert main(["check", str(_cfg(tmp_path, bert, {"lut": 1}, search={"k_area": 0.1}))]) == 2
    luts = _luts(capsys.readouterr().err)
    assert set(luts) == {3, 6} and luts[3] < luts[6]  # the cost model is monotone in the mantissa
    middle = int((luts[3] + luts[6]) / 2)
    assert main(["check", str(_cfg(tmp_path, bert, {"lut": middle}))]) == 0  # the search may still choose small
    err = capsys.readouterr().err
    assert "the design at uniform mantissa 6 cannot be built" in err and "warning" in err
    assert main(["check", str(_cfg(tmp_path, bert, {"lut": middle}, search={"k_area": 0.1}))]) == 2
    assert "k_area / k_throughput need an estimate of it" in capsys.readouterr().err


@pytest.mark.slow
def test_formats_the_hardware_cannot_map_are_refused(tmp_path, bert, capsys):
    (tmp_path / "q.toml").write_text('default = "MXFP4_E2M1"\n')
    cfg = _cfg(tmp_path, bert, search={"trials": 0}, quantize={"config": str(tmp_path / "q.toml")})
    assert main(["check", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "the [quantize] config cannot be built" in err and "MXFP4_E2M1" in err


def test_a_missing_extra_is_named_with_its_pip_line(tmp_path, bert, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "cocotb_tools", None)  # find_spec then reports it absent
    cfg = _cfg(tmp_path, bert, {"simulate": True})
    assert main(["check", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "[hardware] simulate = true needs the Python module cocotb_tools, not installed: " \
           "pip install 'mase-passes[hw]'" in err
    assert "[check hardware]" not in err  # reported before the model is loaded


def test_config_only_skips_the_model_and_the_estimate(tmp_path, bert, capsys):
    assert main(["check", str(_cfg(tmp_path, bert, {"lut": 1})), "--config-only"]) == 0
    assert "[check hardware]" not in capsys.readouterr().err
