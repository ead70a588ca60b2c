"""Sweeps lose no rows and leave nothing behind (issue 18, item 5): two sweeps on one CSV keep
both sets of rows (a lock and a merge under it), the packaged dataset is read-only input, the
tools die with the sweep and always have a time limit, temporary folders of killed sweeps are
removed, model saves are whole or absent with ordinary file modes, and CLI mistakes are one line."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mase_cost import grids
import mase_cost.sweep  # noqa: E402,F401  (the package exports a function of the same name)
sweep_module = sys.modules["mase_cost.sweep"]
from mase_cost.sweep import read_records, sweep  # noqa: E402

GRID = {"mase_mxint_relu": ({"BLOCK_0": (1, 2, 4, 8), "BLOCK_1": (1, 2)}, {})}


def _slow_fake_yosys(tmp_path):
    """A yosys that takes 0.1 s and reports 7 LUTs: long enough for two sweeps to interleave."""
    script = tmp_path / "fake-yosys"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = -V ]; then echo "Yosys fake"; exit 0; fi\n'
        "sleep 0.1\n"
        'echo "{\\"design\\": {\\"num_cells\\": 7, \\"num_cells_by_type\\": {\\"LUT4\\": 7}}}" > stat.json\n')
    script.chmod(0o755)
    return str(script)


def test_two_sweeps_on_one_csv_keep_every_row(tmp_path):
    yosys, out = _slow_fake_yosys(tmp_path), tmp_path / "shared.csv"
    pts = grids.points(GRID, nodsp=(False, True))
    assert len(pts) == 16
    halves, counts = (pts[0::2], pts[1::2]), []

    def run(half):
        counts.append(sweep(half, out, workers=2, progress=False, yosys=yosys))
    threads = [threading.Thread(target=run, args=(h,)) for h in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [c["ok"] for c in counts] == [8, 8]
    rows = read_records(out)
    assert len(rows) == 16 and len({r["key"] for r in rows}) == 16  # before: about half of them lost


def test_the_packaged_dataset_is_read_only_input(tmp_path, monkeypatch):
    import mase_cost.dataset

    packaged = tmp_path / "installed" / "synth_xc7.csv"
    packaged.parent.mkdir()
    packaged.write_text("key,module\n")
    monkeypatch.setattr(mase_cost.dataset, "DEFAULT_DATASET", packaged)
    with pytest.raises(ValueError, match="shipped inside the installed package.*refit --merge"):
        sweep(grids.points(GRID, nodsp=(False,))[:1], packaged, progress=False, yosys=_slow_fake_yosys(tmp_path))
    assert packaged.read_text() == "key,module\n"


def test_the_sweep_command_writes_a_file_of_the_users_by_default(tmp_path, monkeypatch):
    from mase_cost import cli
    from mase_cost.dataset import DEFAULT_DATASET

    seen = {}

    def fake_sweep(points, path, **kw):
        seen["path"] = path
        return {"ok": 0, "failed": 0, "skipped": len(points)}
    monkeypatch.setattr(sweep_module, "sweep", fake_sweep)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sweep", "--module", "mase_mxint_relu", "--limit", "1", "--quiet"]) == 0
    assert Path(seen["path"]) == Path("mase-cost-sweep.csv") and Path(seen["path"]).resolve() != DEFAULT_DATASET


def test_a_module_without_a_grid_is_one_line_and_exit_2(capsys):
    from mase_cost import cli
    assert cli.main(["sweep", "--module", "mase_nope", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no grid for module(s) ['mase_nope']" in err and "Traceback" not in err


CHILD = """
import sys, threading, time
from mase_cost import synth
t = threading.Thread(target=synth.run_group, args=(["sleep", "300"], sys.argv[1], 600), daemon=True)
t.start()
while not synth._live:
    time.sleep(0.01)
print(next(iter(synth._live)).pid, flush=True)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG) is Linux's")
def test_a_tool_dies_with_a_sweep_killed_with_sigkill(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    tool = int(parent.stdout.readline())
    try:
        assert _alive(tool)
        parent.kill()
        parent.wait()
        deadline = time.time() + 5
        while _alive(tool) and time.time() < deadline:
            time.sleep(0.05)
        assert not _alive(tool), "the tool outlived its sweep (before: it ran on with no time limit)"
    finally:
        if _alive(tool):
            os.kill(tool, 9)


def test_a_tool_always_has_a_cpu_time_limit(tmp_path):
    from mase_cost.synth import run_group
    rc, out, _, _ = run_group([sys.executable, "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_CPU))"],
                              str(tmp_path), 5)
    assert rc == 0 and out.strip() == "(35, 65)"  # the timeout + 30 s soft, + 60 s hard


@pytest.mark.parametrize("timeout", [0, -1, None, float("inf"), float("nan")])
def test_a_synthesis_without_a_time_limit_is_refused(tmp_path, timeout):
    from mase_cost.synth import run_group, synthesize
    with pytest.raises(ValueError, match="time limit"):
        synthesize("mase_mxint_relu", {"BLOCK_0": 1}, timeout=timeout, yosys=_slow_fake_yosys(tmp_path))
    with pytest.raises(ValueError, match="time limit"):
        run_group(["true"], str(tmp_path), timeout)


def test_temporary_folders_of_dead_sweeps_are_removed(tmp_path):
    from mase_cost.synth import clean_stale_tmp
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f"mase-cost-{dead.pid}-abc").mkdir()
    (tmp_path / f"mase-cost-{dead.pid}-abc" / "synth.ys").write_text("x")
    (tmp_path / f"mase-cost-{os.getppid()}-live").mkdir()  # a live process's
    (tmp_path / "mase-cost-notapid").mkdir()
    (tmp_path / "someone-else").mkdir()
    assert clean_stale_tmp(str(tmp_path)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"mase-cost-{os.getppid()}-live", "mase-cost-notapid", "someone-else"])


def test_a_synthesis_names_its_temporary_folder_after_the_sweep(tmp_path, monkeypatch):
    import tempfile

    from mase_cost.synth import synthesize
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen = []
    real = tempfile.TemporaryDirectory

    def spy(*a, **kw):
        seen.append(kw.get("prefix"))
        return real(*a, **kw)
    monkeypatch.setattr(tempfile, "TemporaryDirectory", spy)
    rec = synthesize("mase_mxint_relu", {"BLOCK_0": 1}, timeout=30, yosys=_slow_fake_yosys(tmp_path))
    assert rec["status"] == "ok" and seen == [f"mase-cost-{os.getpid()}-"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("mase-cost-")]


def test_a_model_save_that_fails_leaves_the_old_model_and_ordinary_modes(tmp_path, monkeypatch):
    from mase_cost import model as model_module
    from mase_cost.model import CostModel

    m = CostModel(models={}, families={}, feature_names={}, ranges={}, errors={}, meta={"n_rows": 1})
    path = tmp_path / "cost_model.npz"
    old_umask = os.umask(0o022)
    try:
        m.save(path)
    finally:
        os.umask(old_umask)
    assert (path.stat().st_mode & 0o777) == 0o644  # before: mkstemp's 0600 was kept
    before = path.read_bytes()

    def disk_full(*a, **kw):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(model_module.model_io, "dumps", disk_full)
    with pytest.raises(OSError, match="No space"):
        CostModel(models={"x": 1}, families={}, feature_names={}, ranges={}, errors={}, meta={}).save(path)
    assert path.read_bytes() == before and CostModel.load(path).meta == {"n_rows": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cost_model.npz"]


def test_dataset_rows_are_written_with_ordinary_modes(tmp_path):
    from mase_cost.sweep import write_records
    old_umask = os.umask(0o022)
    try:
        write_records(tmp_path / "d.csv", [{"key": "a"}])
    finally:
        os.umask(old_umask)
    assert (tmp_path / "d.csv").stat().st_mode & 0o777 == 0o644
    assert json.dumps(read_records(tmp_path / "d.csv")[0]["key"]) == '"a"'
