"""The report: one document rendered to Markdown and HTML with the same content, every number
labelled, written atomically (a failure leaves the previous report, and no temporary folder)."""

import json

import pytest

import mase_passes.report as report_mod
from mase_passes.report import render, write_report
from mase_passes.report.document import Document, to_html, to_markdown


def results(metric=0.81, chosen=0.795) -> dict:
    layers = [{"layer": "layer 0", "tensors": 3, "average_bits": 5.25, "min_bits": 4.25, "max_bits": 6.25}]
    return {
        "title": None, "created": "2026-01-01 00:00 UTC", "command": "mase run x.toml", "config_file": "x.toml",
        "workload": {"model": "m", "family": "f", "task": "t <b>", "dataset": "d.csv", "metric": "accuracy",
                     "eval_samples": 200, "batch_size": 50, "max_length": 32, "search_samples": 100,
                     "calibration_samples": 100},
        "graph": {"nodes": 5, "tensors": 3, "parameters": 1234, "trace_max_abs_diff": 0.0},
        "profile": {"variance_png": "variance.png", "activations": 2, "variance_min": 0.5, "variance_max": 2.0},
        "comparison": [{"name": "FP32", "format": "f32", "metric": metric, "agreement": 1.0, "average_bits": 32.0},
                       {"name": "MXInt8", "format": "MXInt((16,2),8,7)", "metric": 0.815, "agreement": 0.98,
                        "average_bits": 8.25},
                       {"name": "int8", "format": "Fixed(8, f)", "metric": 0.80, "agreement": 0.97, "average_bits": 8.0},
                       {"name": "BMF8", "format": "BMF((16,2),4,3,8)", "metric": 0.79, "agreement": 0.9,
                        "average_bits": 8.25}],
        "chosen": {"source": "search best trial 3", "mode": "ptq", "config_file": "chosen_config.toml",
                   "metric": chosen, "agreement": 0.9, "average_bits": 5.4567, "mean_mantissa": 4.2,
                   "formats": {"MXInt((16,2),8,4)": 3}, "layers": layers, "bitwidth_png": "bitwidths.png"},
        "search": {"trials": 4, "requested": 4, "resumed_from": 0, "sampler": "tpe", "objective": "single", "k": 0.5,
                   "mantissa": [2, 7], "storage": "sqlite:///s.db", "study_name": "s", "best_trial": 3,
                   "best_search_metric": 0.8, "best_search_bits": 5.4, "search_samples": 100, "failed_trials": 1,
                   "front": [{"trial": 3, "metric": 0.8, "average_bits": 5.4}], "history_png": "h.png",
                   "pareto_png": "p.png"},
        "hardware": {"status": "done", "scope": "head", "lines": ["Emitted design."], "design_dir": "/x/design",
                     "clock_mhz": 200.0,
                     "estimates": {"MXInt8": {"lut": 12345.4, "ff": 800.0, "dsp": 3, "bram": 0.0, "throughput": 1.5e5,
                                              "band_pct": {"lut": 4.14, "ff": 2.0, "dsp": 0.0, "bram": 0.0},
                                              "extrapolated": True, "clock_mhz": 253.0,
                                              "clock_source": "nextpnr-ecp5 Fmax"},
                                   "int8": {"lut": 6000.0, "ff": 500.0, "dsp": 0, "bram": 2.0, "throughput": 1.0e5,
                                            "band_pct": {"lut": 3.0, "ff": 1.0, "dsp": 0.0, "bram": None},
                                            "extrapolated": False},
                                   "BMF8": {"error": "cannot map node %x: no operator for BMF"},
                                   "chosen (mixed)": {"lut": None, "dsp": None, "unmodelled": ["mase_mxint_linear"]}}},
        "timings": {"load": 1.25}, "versions": {"torch": "2.13.0", "yosys": "Yosys 0.23"},
        "files": ["variance.png", "comparison.png"],
    }


def test_numbers_are_formatted_and_labelled_in_both_renderings():
    md, page = render(results())
    # area efficiency = (throughput / LUT) / (throughput_int8 / LUT_int8), by hand
    eff = (1.5e5 / 12345.4) / (1.0e5 / 6000.0)
    for text in ("81.0", "81.5", "79.5", "5.46", "4.20", "1.5e+05 at 253 MHz", "no cost model", "/x/design",
                 "search best trial 3", "1 failed or interrupted", "Yosys 0.23",
                 "12.3k ± 4.1%, extrapolated", "6.0k ± 3.0%", "2 (error band unmeasured)", f"{eff:.3f}x", "1.000x", "+0.5",
                 "cannot map node %x: no operator for BMF", "253 MHz: nextpnr-ecp5 Fmax",
                 "200 MHz: assumed clock", "relative to the int8 row", "comparison.png"):
        assert text in md, text
        assert text in page, text
    assert "6.0k ± 3.0%, extrapolated" not in md  # int8 does not extrapolate
    assert "accuracy % (measured)" in md and "LUT (estimated)" in md and "**measured**" in md
    assert "area efficiency vs int8 (estimated)" in md
    assert "t &lt;b&gt;" in page and "<b>" not in page.split("<body>")[1]  # text is escaped in HTML


def test_markdown_and_html_render_the_same_blocks():
    doc = Document("T")
    doc.heading("H")
    doc.para("a `code` and **bold**")
    doc.bullets(["x", "y"])
    doc.table(["a", "b"], [[1, None], ["p|q", "r"]])
    doc.image("f.png", "cap")
    doc.code("z = 1")
    md, page = to_markdown(doc), to_html(doc)
    assert md.splitlines()[:3] == ["# T", "", "## H"]
    assert "| a | b |" in md and "| 1 |  |" in md and "p\\|q" in md
    assert "<code>code</code>" in page and "<strong>bold</strong>" in page and "<li>y</li>" in page
    assert "<td>p|q</td>" in page and '<img src="f.png" alt="cap">' in page and "z = 1" in page


def _artifacts(tmp_path, res):
    art = tmp_path / "artifacts"
    art.mkdir()
    (art / "results.json").write_text(json.dumps(res))
    (art / "variance.png").write_bytes(b"png")
    return art


def test_report_folder_is_replaced_atomically(tmp_path, monkeypatch):
    art = _artifacts(tmp_path, results())
    out = write_report(art, tmp_path / "report")
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.md", "results.json", "variance.png"]
    first = (out / "report.md").read_text()
    assert "81.0" in first
    (art / "results.json").write_text(json.dumps(results(metric=0.5)))

    def broken(doc, figures=None):
        raise RuntimeError("disk full")
    monkeypatch.setattr(report_mod, "to_html", broken)
    with pytest.raises(RuntimeError):
        write_report(art, tmp_path / "report")
    assert (out / "report.md").read_text() == first  # the old report, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts", "report"]  # no temporary folder left
    monkeypatch.undo()
    write_report(art, tmp_path / "report")
    assert "50.0" in (out / "report.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts", "report"]


def test_report_command_needs_a_run(tmp_path, capsys):
    from mase_passes.cli.main import main
    assert main(["report", str(tmp_path)]) == 1
    assert "run `mase run` first" in capsys.readouterr().err
    _artifacts(tmp_path, results())
    # artefacts without the manifest `mase run` publishes are not known to be one run's
    assert main(["report", str(tmp_path)]) == 1
    assert "manifest.json not found" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "--no-verify"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "report" / "report.html")


def test_without_an_int8_estimate_the_reference_row_is_named_and_the_hardware_terms_are_compared():
    res = results()
    res["hardware"]["estimates"]["int8"] = {"error": "cannot map node %a: no fixed-point operator"}
    res["plain"] = {"name": "mixed, no hardware terms", "format": "search without hardware terms, best trial 2",
                    "metric": 0.80, "agreement": 0.9, "average_bits": 6.0}
    res["hardware"]["estimates"]["chosen (mixed)"] = {"lut": 10000.0, "throughput": 1.5e5, "band_pct": {}}
    res["hardware"]["estimates"]["mixed, no hardware terms"] = {"lut": 11100.0, "throughput": 1.5e5, "band_pct": {}}
    res["search"].update(k_area=0.5, k_throughput=0.0)
    md, page = render(res)
    assert "area efficiency vs MXInt8 (estimated)" in md
    assert ("relative to the MXInt8 row, because int8 has no estimate (cannot map node %a: no fixed-point "
            "operator)") in md
    gain = (1.5e5 / 10000.0) / (1.5e5 / 11100.0)  # = 1.11, by hand
    assert f"k_area = 0.5 chose a design with **{gain:.3f}x** the area efficiency" in md
    assert f"<strong>{gain:.3f}x</strong>" in page
    from mase_passes.report.content import comparison_rows
    rows, ref, _ = comparison_rows(res)
    assert ref == "MXInt8" and [r["name"] for r in rows][-2:] == ["chosen (mixed)", "mixed, no hardware terms"]
    assert rows[-1]["efficiency"] == pytest.approx((1.5e5 / 11100.0) / (1.5e5 / 12345.4))


def test_the_comparison_figure_has_a_bar_per_estimated_row(tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mase_passes.report import figures
    from mase_passes.report.content import comparison_rows

    rows, ref, _ = comparison_rows(results())
    seen = {}
    save = plt.Figure.savefig

    def grab(fig, *a, **kw):  # what is drawn, read back from the axes before the file is written
        seen["bars"] = [round(p.get_height(), 6) for p in fig.axes[0].patches]
        seen["line"] = list(fig.axes[1].lines[0].get_ydata())
        return save(fig, *a, **kw)
    monkeypatch.setattr(plt.Figure, "savefig", grab)
    figures.plot_comparison(rows, ref, "accuracy", tmp_path / "c.png")
    assert seen["bars"] == [round(r["efficiency"], 6) for r in rows if r["efficiency"] is not None]
    assert len(seen["bars"]) == 2  # MXInt8 and int8; FP32, BMF8 and the unmodelled chosen row have none
    assert seen["line"] == pytest.approx([r["delta"] for r in rows])
    assert (tmp_path / "c.png").stat().st_size > 1000
