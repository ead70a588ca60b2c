"""The output folder is mase's (issue 18, items 2-3): one command at a time (a lock naming its
holder), nothing mase did not create is replaced or deleted, no folder is replaced through a
symbolic link, and a run is published whole with a manifest that `mase report` checks, so a
report never shows parts of two runs."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the tests run with --import-mode=importlib
from cli_models import bert_checkpoint, csv_dataset, write_config  # noqa: E402
from test_cli_report import results as report_results  # noqa: E402

from mase_passes.cli import runfolder  # noqa: E402
from mase_passes.cli.main import main  # noqa: E402
from mase_passes.cli.runfolder import RunFolder, RunFolderBusy, RunFolderError  # noqa: E402

HOLD = """
import sys, time
from mase_passes.cli.runfolder import RunFolder
RunFolder(sys.argv[1]).acquire("run")
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return bert_checkpoint(tmp_path_factory.mktemp("bert") / "ckpt")


def _results(tmp: Path) -> dict:
    return dict(report_results(), files=[])


def test_a_second_command_on_a_locked_folder_is_refused_at_once_naming_the_holder(tmp_path, bert, capsys):
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "run.toml", str(bert), str(csv_dataset(tmp_path / "d.csv")), str(out),
                       dataset={"text_column": "sentence"})
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t = time.perf_counter()
        assert main(["run", str(cfg)]) == 1
        assert time.perf_counter() - t < 10  # refused before the model is loaded
        err = capsys.readouterr().err
        assert f"pid {holder.pid}" in err and "is in use by mase run" in err and "--out" in err
        assert not (out / "artifacts").exists() and not (out / "report").exists()
    finally:
        holder.kill()
        holder.wait()
    # the kernel dropped the dead holder's lock: the folder is free again
    RunFolder(out).acquire("run").release()


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    first = RunFolder(tmp_path).acquire("run")
    with pytest.raises(RunFolderBusy, match=f"pid {os.getpid()}"):
        RunFolder(tmp_path).acquire("search")
    first.release()
    RunFolder(tmp_path).acquire("search").release()


def test_a_users_own_report_folder_is_not_replaced(tmp_path, capsys):
    """`mase report OUT` (the report stage of `mase run` too) used to replace OUT/report whatever it held."""
    art = tmp_path / "artifacts"
    art.mkdir()
    (art / "results.json").write_text(json.dumps(_results(tmp_path)))
    mine = tmp_path / "report"
    mine.mkdir()
    (mine / "notes.txt").write_text("my own notes")
    assert main(["report", str(tmp_path), "--no-verify"]) == 1
    err = capsys.readouterr().err
    assert f"{mine} exists and was not created by mase" in err and "move it away" in err
    assert (mine / "notes.txt").read_text() == "my own notes" and sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("entry", ["design", "report", "artifacts"])
def test_entries_mase_did_not_create_are_refused_and_those_it_did_are_replaced(tmp_path, entry):
    folder = RunFolder(tmp_path).acquire("run")
    try:
        (tmp_path / entry).mkdir()
        (tmp_path / entry / "mine.txt").write_text("x")
        with pytest.raises(RunFolderError, match="not created by mase"):
            folder.claim(entry)
        (tmp_path / entry / "mine.txt").unlink()
        (tmp_path / entry).rmdir()
        folder.claim(entry)  # now recorded in the marker
        (tmp_path / entry).mkdir()
        folder.check_replaceable(entry)
        assert entry in json.loads((tmp_path / runfolder.MARKER).read_text())["owned"]
    finally:
        folder.release()


def test_a_folder_written_by_an_older_mase_is_adopted_by_its_contents(tmp_path):
    (tmp_path / "report").mkdir()
    for name in ("report.html", "results.json"):
        (tmp_path / "report" / name).write_text("{}")
    folder = RunFolder(tmp_path).acquire("report")
    try:
        folder.claim("report")
    finally:
        folder.release()


def test_a_design_link_is_never_followed(tmp_path):
    """OUT/design -> elsewhere: emit used to resolve the link and replace the folder it points to."""
    from mase_passes.hardware import examples
    from mase_passes.passes.emit import Emit, EmitError

    _, _, q = examples.toy()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("keep")
    out = tmp_path / "out"
    out.mkdir()
    (out / "design").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(EmitError, match="symbolic link"):
        Emit(overwrite=True).apply(q, out / "design")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["precious.txt"]
    folder = RunFolder(out).acquire("emit")
    try:
        with pytest.raises(RunFolderError, match="symbolic link"):
            folder.claim("design")
    finally:
        folder.release()
    assert (out / "design").is_symlink() and (elsewhere / "precious.txt").read_text() == "keep"


def test_a_report_link_is_never_followed(tmp_path):
    from mase_passes.report import write_report
    art = tmp_path / "artifacts"
    art.mkdir()
    (art / "results.json").write_text(json.dumps(_results(tmp_path)))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("keep")
    (tmp_path / "report").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(OSError, match="symbolic link"):
        write_report(art, tmp_path / "report")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["precious.txt"]


@pytest.mark.parametrize("name", ["../../etc/os-release", "/etc/os-release", "..", "sub/x.png"])
def test_results_json_files_entries_stay_inside_the_artifacts(tmp_path, name):
    from mase_passes.report import write_report
    art = tmp_path / "run" / "artifacts"
    art.mkdir(parents=True)
    (art / "results.json").write_text(json.dumps(dict(_results(tmp_path), files=[name])))
    with pytest.raises(ValueError, match="not a file name inside"):
        write_report(art, tmp_path / "run" / "report")
    assert not (tmp_path / "run" / "report").exists()


def _stage(folder: RunFolder, tag: str) -> None:
    art = folder.staging("artifacts")
    (art / "results.json").write_text(json.dumps(dict(_results(folder.out), title=tag)))
    (art / "chosen_config.toml").write_text(f"# {tag}\n")
    design = folder.out / runfolder.STAGING / "design"
    design.mkdir()
    (design / "top.sv").write_text(f"// {tag}\n")


def test_a_run_stopped_while_publishing_is_refused_by_report(tmp_path, monkeypatch, capsys):
    folder = RunFolder(tmp_path).acquire("run")
    _stage(folder, "run 1")
    folder.publish({"k": 1}, {"mase": "x"})
    assert runfolder.verify(tmp_path)["config_sha256"] == runfolder.config_digest({"k": 1})
    assert (tmp_path / "design" / "top.sv").read_text() == "// run 1\n"
    assert not (tmp_path / runfolder.STAGING).exists()

    # run 2 dies after its design is swapped in, before its artefacts are
    _stage(folder, "run 2")
    real = runfolder._swap

    def killed(new, target):
        if target.name == "artifacts":
            raise KeyboardInterrupt  # stands for kill -9 at this point
        return real(new, target)
    monkeypatch.setattr(runfolder, "_swap", killed)
    with pytest.raises(KeyboardInterrupt):
        folder.publish({"k": 2}, {"mase": "x"})
    folder.release()
    monkeypatch.undo()
    with pytest.raises(RunFolderError, match=r"changed: design/top.sv.*parts of different runs"):
        runfolder.verify(tmp_path)
    assert main(["report", str(tmp_path)]) == 1
    assert "parts of different runs" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()
    # a file changed by hand after publishing is caught the same way
    (tmp_path / "design" / "top.sv").write_text("// run 1\n")
    runfolder.verify(tmp_path)
    (tmp_path / "artifacts" / "chosen_config.toml").write_text("# edited\n")
    with pytest.raises(RunFolderError, match="changed: artifacts/chosen_config.toml"):
        runfolder.verify(tmp_path)


def test_the_next_command_removes_a_killed_runs_staging_and_temporary_folders(tmp_path):
    (tmp_path / runfolder.STAGING / "artifacts").mkdir(parents=True)
    (tmp_path / ".report.tmp-abc123").mkdir()
    (tmp_path / ".design.old-xyz").mkdir()
    (tmp_path / ".my-own-hidden").mkdir()
    RunFolder(tmp_path).acquire("run").release()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mase-run.lock", ".my-own-hidden"]


def test_mase_run_publishes_a_manifest_that_mase_report_checks(tmp_path, bert, capsys):
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "run.toml", str(bert), str(csv_dataset(tmp_path / "d.csv")), str(out),
                       dataset={"text_column": "sentence"}, search={"trials": 1}, report={"compare": ["MXInt8"]},
                       hardware={"emit": True, "parallelize": True, "simulate": False,
                                 "scope": "model.bert.encoder.layer.1.output.dense"})
    assert main(["run", str(cfg), "-q"]) == 0
    manifest = json.loads((out / "artifacts" / "manifest.json").read_text())
    assert {"artifacts/results.json", "artifacts/chosen_config.toml", "design/top.sv"} <= set(manifest["files"])
    results = json.loads((out / "artifacts" / "results.json").read_text())
    assert results["hardware"]["design_dir"] == str(out.absolute() / "design")  # the published folder, not staging
    assert (out / "design" / "top.sv").is_file()
    owned = set(json.loads((out / runfolder.MARKER).read_text())["owned"])
    assert {"artifacts", "design", "report", "search"} <= owned
    assert manifest["versions"] and manifest["config_sha256"]
    assert not (out / runfolder.STAGING).exists()
    assert main(["report", str(out)]) == 0
    # a single-stage command that rewrites a published artefact: the report would mix two runs
    (out / "artifacts" / "chosen_config.toml").write_text("# another run's config\n")
    capsys.readouterr()
    assert main(["report", str(out)]) == 1
    assert "artifacts/chosen_config.toml" in capsys.readouterr().err
