"""`mase run` / single-stage subcommands on user checkpoints and datasets given by path.

Oracles: the FP32 row must equal what transformers computes on the same samples (accuracy of
the eager model; perplexity = exp of transformers' own mean loss), the uniform rows' bits are
the formats' eq. 1 values by hand, and the report must show the numbers of results.json."""

import json
import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # the tests run with --import-mode=importlib
from cli_models import LABELS, bert_checkpoint, csv_dataset, jsonl_dataset, llama_checkpoint, text_dataset, write_config  # noqa: E402,E501

from mase_passes.cli.main import main  # noqa: E402
from mase_passes.report.document import data_uri  # noqa: E402
from mase_passes.workloads.textdata import evenly_spaced  # noqa: E402


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return bert_checkpoint(tmp_path_factory.mktemp("bert") / "ckpt")


def eager_accuracy(ckpt, texts, labels, max_length):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(ckpt)
    model = AutoModelForSequenceClassification.from_pretrained(ckpt).eval()
    enc = tok(texts, padding="max_length", max_length=max_length, truncation=True, return_tensors="pt")
    with torch.no_grad():
        pred = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.argmax(-1)
    return float((pred == torch.tensor([LABELS.index(y) for y in labels])).float().mean())


@pytest.mark.slow
def test_run_bert_classifier_from_csv(tmp_path, bert, capsys):
    data = csv_dataset(tmp_path / "d.csv", n_test=24)
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "run.toml", str(bert), str(data), str(out),
                       dataset={"text_column": "sentence"}, report={"compare": ["MXInt8", "MXInt4", "int8"]})
    assert main(["run", str(cfg)]) == 0
    assert capsys.readouterr().out.strip() == str(out / "report" / "report.html")
    res = json.loads((out / "report" / "results.json").read_text())
    # the 16 evaluated samples: evenly spaced over the 24 test rows
    import csv
    rows = [r for r in csv.DictReader(line for line in open(data) if not line.startswith("#")) if r["split"] == "test"]
    idx = evenly_spaced(len(rows), 16)
    expected = eager_accuracy(bert, [rows[i]["sentence"] for i in idx], [rows[i]["label"] for i in idx], 8)
    comp = {r["name"]: r for r in res["comparison"]}
    assert comp["FP32"]["metric"] == pytest.approx(expected)
    assert comp["FP32"]["agreement"] == 1.0
    assert comp["MXInt8"]["average_bits"] == pytest.approx(8 / 32 + 7 + 1)
    assert comp["MXInt4"]["average_bits"] == pytest.approx(8 / 32 + 3 + 1)
    assert comp["int8"]["average_bits"] == pytest.approx(8.0)
    assert res["workload"]["label_mapping"] == "checkpoint label2id"
    assert res["search"]["trials"] == 2 and res["search"]["search_source"] == "train split"
    assert "search trials scored on 8 (train split)" in (out / "report" / "report.md").read_text()
    md = (out / "report" / "report.md").read_text()
    html = (out / "report" / "report.html").read_text()
    fp32_text = f"{expected * 100:.1f}"
    assert f"| FP32 | `f32` | {fp32_text} |" in md and f"<td>{fp32_text}</td>" in html
    for png in ("variance.png", "bitwidths.png", "search_history.png", "search_pareto.png"):
        # report.md links the PNG beside it; report.html embeds the same bytes (self-contained)
        assert (out / "report" / png).stat().st_size > 1000 and png in md
        assert f'src="{data_uri(png, (out / "report" / png).read_bytes())}"' in html
    # the chosen config file reproduces the chosen row with `mase quantize`
    assert main(["quantize", str(cfg), "--quant", str(out / "report" / "chosen_config.toml"),
                 "--out", str(tmp_path / "q")]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert f"quantized accuracy {res['chosen']['metric']:.4f}" in line
    assert f"average bits {res['chosen']['average_bits']:.3f}" in line


@pytest.mark.slow
def test_jsonl_without_split_and_single_stages(tmp_path, bert, capsys):
    data = jsonl_dataset(tmp_path / "d.jsonl", n=24)
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "run.toml", str(bert), str(data), str(out), search={"trials": 1})
    assert main(["trace", str(cfg)]) == 0
    import mase_ir
    g = mase_ir.load(out / "graph")
    assert g.summary().nodes > 10
    assert main(["search", str(cfg), "-q"]) == 0
    assert (out / "search" / "best_config.toml").is_file()
    assert "best trial" in (out / "search" / "best_config.toml").read_text()
    capsys.readouterr()
    # emit with the hardware stages off: nothing to do, exit 0
    assert main(["emit", str(cfg)]) == 0
    # the whole BertForSequenceClassification does not map yet: the embeddings are a host boundary now,
    # but its sdpa reads the expanded mask directly (hardware reads a mask only through the masked
    # softmax of an attention pattern): exit 1 naming the node, the op and the source module
    on = ["--set", "hardware.emit=true", "--set", "hardware.parallelize=true", "--set", "hardware.simulate=false"]
    assert main(["emit", str(cfg)] + on) == 1
    err = capsys.readouterr().err
    assert "cannot map node %scaled_dot_product_attention" in err
    assert "module 'model.bert.encoder.layer.0.attention.self'" in err
    # one linear of the last layer maps: the design folder is written from the searched config
    assert main(["emit", str(cfg)] + on + ["--set", 'hardware.scope="model.bert.encoder.layer.1.output.dense"']) == 0
    design = capsys.readouterr().out.strip()
    assert design == str((out / "design").resolve())
    top = (out / "design" / "top.sv").read_text()
    assert "mase_mxint_linear" in top
    meta = json.loads((out / "design" / "design.json").read_text())
    assert {s["module"] for s in meta["stages"]} <= {"mase_mxint_linear", "mase_mxint_reblock"}
    (stage,) = [s for s in meta["stages"] if s["module"] == "mase_mxint_linear"]
    # the design implements the searched widths: the linear's weight mantissa from best_config.toml
    from mase_passes.config import load_config
    best = load_config(str(out / "search" / "best_config.toml"))
    assert stage["params"]["BLOCK_K"] == 16
    assert stage["params"]["W_MAN"] == best["node"][stage["node"]]["weight"].man_bits


@pytest.mark.slow
def test_run_llama_perplexity_from_text(tmp_path):
    ckpt = llama_checkpoint(tmp_path / "llama")
    text = text_dataset(tmp_path / "t.txt")
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "run.toml", str(ckpt), str(text), str(out),
                       dataset={"batch_size": 4, "eval_samples": 8, "calibration_samples": 4, "max_length": 8},
                       report={"compare": ["MXInt8"]}, search={"trials": 0},
                       quantize={"config": str(tmp_path / "q.toml")})
    (tmp_path / "q.toml").write_text('default = "MXInt((16,2),8,6)"\n[op.rms_norm]\ndata_out = "f32"\n')
    assert main(["run", str(cfg), "-q"]) == 0
    res = json.loads((out / "artifacts" / "results.json").read_text())
    # oracle: transformers' own loss on the same windows (ids[:, 1:] predicted from ids[:, :-1])
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(ckpt)
    model = AutoModelForCausalLM.from_pretrained(ckpt).eval()
    ids = tok(text.read_text(), add_special_tokens=False, return_tensors="pt")["input_ids"][0]
    windows = ids[: ids.numel() // 8 * 8].reshape(-1, 8)
    sel = windows[evenly_spaced(windows.shape[0], 8)]
    with torch.no_grad():
        losses = [float(model(input_ids=sel[i:i + 4], labels=sel[i:i + 4], use_cache=False).loss) for i in (0, 4)]
    assert res["comparison"][0]["metric"] == pytest.approx(math.exp(sum(losses) / 2), rel=1e-5)
    assert res["workload"]["metric"] == "perplexity"
    assert res["chosen"]["source"].startswith("[quantize] config")
    assert res["search"]["skipped"]
    assert res["chosen"]["formats"].get("f32", 0) >= 1  # the rms_norm outputs stayed f32
    assert "perplexity (measured)" in (out / "report" / "report.md").read_text()
