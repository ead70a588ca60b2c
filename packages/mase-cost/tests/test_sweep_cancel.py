"""SIGINT / SIGTERM of a running ``mase-cost sweep``: yosys and its children die, finished
points stay in the CSV, the interrupted point is not recorded at all, the file is intact."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mase_cost.sweep import read_records


def _fake_yosys(tmp_path: Path) -> str:
    """The first two runs finish at once; while the file ``hang`` exists, the third forks a
    child (as yosys forks abc), writes both pids, and hangs until killed."""
    script = tmp_path / "fake-yosys"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = -V ]; then echo "Yosys fake"; exit 0; fi\n'
        f'echo run >> "{tmp_path}/runs.log"\n'
        f'N=$(wc -l < "{tmp_path}/runs.log")\n'
        f'if [ "$N" -ge 3 ] && [ -e "{tmp_path}/hang" ]; then\n'
        "  sleep 300 &\n"
        f'  echo "$$ $!" > "{tmp_path}/hung.pids"\n'
        "  wait\n"
        "fi\n"
        'echo "{\\"design\\": {\\"num_cells\\": 9, \\"num_cells_by_type\\": {\\"LUT4\\": 9}}}" > stat.json\n'
    )
    script.chmod(0o755)
    return str(script)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _wait_for(cond, seconds: float, what: str):
    end = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_the_sweep_kills_yosys_and_records_only_finished_points(tmp_path, sig):
    yosys, out = _fake_yosys(tmp_path), tmp_path / "ds.csv"
    (tmp_path / "hang").touch()
    cmd = [sys.executable, "-m", "mase_cost.cli", "sweep", "--out", str(out), "--grid", "small",
           "--module", "mase_mxint_cast", "--limit", "5", "--workers", "1", "--quiet", "--yosys", yosys]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pids = tmp_path / "hung.pids"
        _wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 2, 60, "the third synthesis to start")
        yosys_pid, child_pid = map(int, pids.read_text().split())
        assert len(read_records(out)) == 2  # the two finished points are already on disk
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, (proc.returncode, stderr)
    assert f"interrupted by {sig.name}" in stderr
    _wait_for(lambda: not _alive(yosys_pid) and not _alive(child_pid), 5, "yosys and its child to die")
    rows = read_records(out)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"ok"}  # nothing for the killed point
    assert len((tmp_path / "runs.log").read_text().split()) == 3  # points 4 and 5 never started
    assert not list(tmp_path.glob("ds.csv.*.tmp"))
    # the next run resumes: the two recorded points are skipped, the rest synthesized
    (tmp_path / "hang").unlink()
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert "3 ok, 0 failed, 2 already" in rerun.stdout
    assert len(read_records(out)) == 5


def test_timeout_kills_the_whole_process_group(tmp_path):
    """A timed-out yosys's children (abc) must not outlive it."""
    from mase_cost.synth import synthesize

    script = tmp_path / "fake-yosys"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = -V ]; then echo "Yosys fake"; exit 0; fi\n'
        f'sleep 300 & echo "$$ $!" > "{tmp_path}/pids"; wait\n'
    )
    script.chmod(0o755)
    r = synthesize("mase_mxint_relu", {"BLOCK_0": 2}, timeout=1.0, yosys=str(script))
    assert r["status"] == "timeout"
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    _wait_for(lambda: not any(_alive(p) for p in pids), 5, "the timed-out group to die")
    assert os.path.exists(tmp_path / "pids")
