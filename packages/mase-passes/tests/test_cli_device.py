"""`[model] device` (issue 19, part 3): validated before any work, defaulting to the GPU when torch
sees one, and wired so that the model, the traced graph and every batch move to it while the
hardware stages read CPU copies.

There is no GPU here: availability is monkeypatched, the move helper is checked on the "meta"
device (a real device other than the CPU), and the wiring is checked by spying on the one move
helper (cli/device.py) and then on what the stages actually hold."""

import argparse
import sys
from pathlib import Path

import mase_ir
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # the tests run with --import-mode=importlib
from cli_models import bert_checkpoint, csv_dataset, write_config  # noqa: E402

from mase_passes.cli import device as dev  # noqa: E402
from mase_passes.cli.main import main  # noqa: E402
from mase_passes.cli.schema import SCHEMA, RunConfigError, load_run_config  # noqa: E402


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return bert_checkpoint(tmp_path_factory.mktemp("bert") / "ckpt")


def gpus(monkeypatch, available: bool, count: int = 0):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


# --- the key: default and validation --------------------------------------------------------
@pytest.mark.parametrize("available, expected", [(True, "cuda"), (False, "cpu")])
def test_default_is_cuda_when_available_else_cpu(monkeypatch, available, expected):
    gpus(monkeypatch, available, 1 if available else 0)
    assert load_run_config(None).model["device"] == expected


def test_keys_listing_says_the_computed_default(capsys):
    assert main(["check", "--keys"]) == 0
    out = capsys.readouterr().out
    assert 'device (str, default "cuda" when torch.cuda.is_available(), else "cpu")' in out
    assert "device" in SCHEMA["model"]


@pytest.mark.parametrize("value", ["cpu", "cuda", "cuda:0", "cuda:1"])
def test_cpu_and_existing_gpus_are_accepted(monkeypatch, value):
    gpus(monkeypatch, True, 2)
    assert load_run_config(None, [f'model.device="{value}"']).model["device"] == value


def test_cpu_is_accepted_without_a_gpu(monkeypatch):
    gpus(monkeypatch, False)
    assert load_run_config(None, ['model.device="cpu"']).model["device"] == "cpu"


@pytest.mark.parametrize("value", ["cuda", "cuda:0"])
def test_a_gpu_where_none_exists_is_a_config_error_naming_the_key(monkeypatch, tmp_path, capsys, value):
    gpus(monkeypatch, False)
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'[model]\ndevice = "{value}"\n[output]\ndir = "{tmp_path / "out"}"\n')
    with pytest.raises(RunConfigError) as exc:
        load_run_config(cfg)
    msg = str(exc.value)
    assert f"{cfg}: [model] device:" in msg and "torch.cuda.is_available() is False" in msg
    assert 'set device = "cpu"' in msg and repr(value) in msg
    # mase check and mase run both stop with exit 2 before any work
    for command in ("check", "run"):
        assert main([command, str(cfg)]) == 2
        err = capsys.readouterr().err
        assert "config error" in err and "[model] device" in err and "is_available() is False" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["gpu", "CUDA", "cuda:", "cuda:-1", "cuda:x", "cuda0", "mps", "meta", " cpu", ""])
def test_unknown_device_strings_are_refused(monkeypatch, value):
    gpus(monkeypatch, True, 1)
    with pytest.raises(RunConfigError) as exc:
        load_run_config(None, [f'model.device="{value}"'])
    assert '[model] device: must be "cpu", "cuda" or "cuda:N"' in str(exc.value)


def test_a_device_that_is_not_a_string_is_refused():
    with pytest.raises(RunConfigError) as exc:
        load_run_config(None, ["model.device=0"])
    assert "[model] device: expected a string" in str(exc.value)


def test_a_gpu_index_beyond_the_count_names_the_gpus_there(monkeypatch):
    gpus(monkeypatch, True, 2)
    with pytest.raises(RunConfigError) as exc:
        load_run_config(None, ['model.device="cuda:2"'])
    assert "[model] device: GPU 2 does not exist: torch sees 2 GPU(s) (cuda:0 .. cuda:1)" in str(exc.value)


# --- the move helper --------------------------------------------------------------------------
def test_to_device_moves_graph_weights_batches_and_modules(mlp, task):
    model, x, g = mlp
    g.weights["tied"] = g.weights["fc1.weight"]  # two paths, one tensor
    g.weights["const"] = torch.arange(3.0)
    moved = dev.to_device(g, "meta")
    assert moved is not g
    for path, w in moved.weights.items():
        assert w.device.type == "meta", path
        assert isinstance(w, torch.nn.Parameter) == isinstance(g.weights[path], torch.nn.Parameter), path
        assert w.requires_grad == g.weights[path].requires_grad, path
    assert moved.weights["tied"] is moved.weights["fc1.weight"]
    assert all(w.device.type == "cpu" for w in g.weights.values())  # the source graph is not changed
    assert moved.to_text() == g.to_text()
    batches = dev.to_device(task, "meta")
    assert len(batches) == len(task)
    for (inputs, target), (inputs0, _) in zip(batches, task):
        assert set(inputs) == set(inputs0) and inputs["x"].device.type == "meta" and target.device.type == "meta"
    assert dev.to_device(model, "meta") is model
    assert all(p.device.type == "meta" for p in model.parameters())


def test_to_device_on_the_same_device_shares_the_weights(mlp, task):
    # device = "cpu" costs no copy: the graph holds the very tensors it held, as clone() does
    _, x, g = mlp
    same = dev.to_device(g, "cpu")
    assert all(same.weights[k] is v for k, v in g.weights.items())
    batches = dev.to_device(task, "cpu")
    assert all(b[0]["x"] is t[0]["x"] for b, t in zip(batches, task))
    assert torch.equal(same(x=x), g(x=x))


# --- the wiring ---------------------------------------------------------------------------------
def _spy(monkeypatch, as_cuda: str = "cpu"):
    """Record every (object, device) the stages ask to move; "cuda" is served by ``as_cuda``."""
    calls = []
    real = dev.to_device

    def spy(x, device):
        out = real(x, as_cuda if device == "cuda" else device)
        calls.append((x, device, out))
        return out
    monkeypatch.setattr(dev, "to_device", spy)
    return calls


def _config(tmp_path, bert, **sections):
    data = csv_dataset(tmp_path / "d.csv", n_test=24)
    quant = tmp_path / "quant.toml"
    quant.write_text('default = "MXInt((16,2),8,5)"\n')
    return write_config(tmp_path / "run.toml", str(bert), str(data), str(tmp_path / "out"),
                        dataset={"text_column": "sentence"}, quantize={"config": str(quant)}, **sections)


@pytest.mark.slow
def test_prepare_moves_model_graph_and_every_batch_to_the_configured_device(monkeypatch, tmp_path, bert):
    from mase_passes.cli.prepare import prepare
    from mase_passes.cli.progress import Stages

    gpus(monkeypatch, True, 1)
    cfg = _config(tmp_path, bert, model={"device": "cuda"})
    calls = _spy(monkeypatch)
    args = argparse.Namespace(config=str(cfg), set=[], out=None, command="quantize")
    p = prepare(args, Stages(quiet=True), profile=True)
    p.folder.release()
    to_cuda = [(x, out) for x, device, out in calls if device == "cuda"]
    # one move each of the model, the three batch lists and the graph, all to [model] device
    assert [type(x).__name__ for x, _ in to_cuda] == ["Logits", "list", "list", "list", "MaseGraph"]
    assert all(device == "cuda" for _, device, _ in calls)
    model, cal, ev, se, graph = (out for _, out in to_cuda)
    # and the stages hold what was moved, not the objects loaded on the CPU
    assert p.wl.model is model and p.graph is graph
    assert p.wl.calibration is cal and p.wl.evaluation is ev and p.wl.search is se
    assert p.results["graph"]["device"] == "cuda"
    # the profile ran on the moved graph: its statistics are on the graph the stages hold
    assert any("variance" in n.sw.statistics for n in p.graph.nodes)


@pytest.mark.slow
def test_device_cpu_runs_as_today(monkeypatch, tmp_path, bert, capsys):
    gpus(monkeypatch, False)
    cfg = _config(tmp_path, bert)
    assert main(["quantize", str(cfg), "-q"]) == 0
    default_line = capsys.readouterr().out.splitlines()[0]
    calls = _spy(monkeypatch)
    assert main(["quantize", str(cfg), "-q", "--set", 'model.device="cpu"', "--out", str(tmp_path / "o2")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == default_line
    assert {device for _, device, _ in calls} == {"cpu"}
    g = mase_ir.load(tmp_path / "o2" / "quantized")  # saved from the host and loadable
    assert g.summary().nodes > 10


def test_hardware_stages_read_cpu_copies(monkeypatch, tmp_path, bert, capsys):
    """With the software half on the (spied) GPU, emit gets a CPU sub-graph and CPU sample inputs."""
    gpus(monkeypatch, True, 1)
    cfg = _config(tmp_path, bert, model={"device": "cuda"}, search={"trials": 0},
                  hardware={"parallelize": True, "emit": True, "simulate": False,
                            "scope": "model.bert.encoder.layer.1.output.dense"})
    calls = _spy(monkeypatch)
    from mase_passes.passes import emit as emit_pass
    seen = {}
    real_apply = emit_pass.Emit.apply

    def apply(self, graph, out_dir, sample_inputs=None, **kw):
        seen["graph"], seen["inputs"] = graph, sample_inputs
        return real_apply(self, graph, out_dir, sample_inputs=sample_inputs, **kw)
    monkeypatch.setattr(emit_pass.Emit, "apply", apply)
    assert main(["emit", str(cfg), "-q"]) == 0
    assert (tmp_path / "out" / "design" / "top.sv").is_file()
    software = [type(x).__name__ for x, device, _ in calls if device == "cuda"]
    assert software == ["Logits", "list", "list", "list", "MaseGraph"]
    to_cpu = [out for x, device, out in calls if device == "cpu"]
    graphs = [g for g in to_cpu if isinstance(g, mase_ir.MaseGraph)]
    inputs = [d for d in to_cpu if isinstance(d, dict)]
    assert len(graphs) == 1 and len(inputs) == 1, "the sub-graph and its sample inputs, each moved once"
    # emit was given the CPU copies: the parallelized sub-graph holds the moved weights (parallelize
    # changes formats and blocks, not weights), and the sample inputs are the moved tensors
    moved = {id(w) for w in graphs[0].weights.values()}
    assert seen["graph"].weights and all(id(w) in moved for w in seen["graph"].weights.values())
    assert seen["inputs"] is not None and seen["inputs"] is inputs[0]
