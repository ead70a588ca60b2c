"""Resume, failure recording and atomic writes of a sweep, on a tiny grid and a fake yosys."""

import json

from mase_cost import grids
from mase_cost.sweep import read_records, sweep


def _fake_yosys(tmp_path, log):
    """Fails on BLOCK_0=3, else writes a stat whose LUT count is 10 * BLOCK_0; logs every run."""
    script = tmp_path / "fake-yosys"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = -V ]; then echo "Yosys fake"; exit 0; fi\n'
        f'echo run >> "{log}"\n'
        'if grep -q "BLOCK_0 3 " "$3"; then echo "ERROR: synthetic failure" >&2; exit 1; fi\n'
        'B=$(sed -n "s/.*BLOCK_0 \\([0-9]*\\) .*/\\1/p" "$3")\n'
        'L=$((10 * B))\n'
        'echo "{\\"design\\": {\\"num_cells\\": $L, \\"num_cells_by_type\\": {\\"LUT4\\": $L}}}" > stat.json\n'
    )
    script.chmod(0o755)
    return str(script)


GRID = {"mase_mxint_relu": ({"BLOCK_0": (1, 2, 3, 4)}, {})}


def test_sweep_records_failures_and_resumes_without_rerunning(tmp_path):
    log, out = tmp_path / "runs.log", tmp_path / "ds.csv"
    yosys = _fake_yosys(tmp_path, log)
    pts = grids.points(GRID, nodsp=(False,))
    first = sweep(pts[:2], out, workers=2, progress=False, yosys=yosys)
    assert first["skipped"] == 0 and first["ok"] + first["failed"] == 2
    second = sweep(pts, out, workers=2, progress=False, yosys=yosys)
    assert second == {"skipped": 2, "ok": 3 - first["ok"], "failed": 1 - first["failed"]}
    assert len(log.read_text().split()) == 4  # each point synthesized once
    rows = {json.loads(r["params"])["BLOCK_0"]: r for r in read_records(out)}
    assert rows[3]["status"] == "failed" and "synthetic failure" in rows[3]["error"]
    assert [int(rows[b]["lut"]) for b in (1, 2, 4)] == [10, 20, 40]
    assert not list(tmp_path.glob("ds.csv.*.tmp"))  # atomic write leaves no temp file
    # a failed point is skipped unless asked to retry it
    assert sweep(pts, out, progress=False, yosys=yosys)["skipped"] == 4
    assert sweep(pts, out, progress=False, yosys=yosys, retry_failed=True) == {"skipped": 3, "ok": 0, "failed": 1}


def test_grid_points_are_shuffled_and_ties_applied():
    pts = grids.points(seed=0)
    assert len(pts) == len({(m, json.dumps(p, sort_keys=True), n) for m, p, n in pts})
    assert all(p["A_MAN"] == p["B_MAN"] for m, p, n in pts if m == "mase_mxint_mul")
    assert pts != grids.points(seed=1)
    assert pts[:50] == grids.points(seed=0)[:50]  # the order is reproducible


def test_dask_local_cluster_runs_the_same_sweep(tmp_path):
    """The --dask path on an in-process LocalCluster gives the same records as the local path."""
    import pytest

    distributed = pytest.importorskip("distributed")
    log = tmp_path / "runs.log"
    yosys = _fake_yosys(tmp_path, log)
    pts = grids.points(GRID, nodsp=(False,))
    with distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            counts = sweep(pts, tmp_path / "dask.csv", dask=client, progress=False, yosys=yosys)
    assert counts == {"skipped": 0, "ok": 3, "failed": 1}
    sweep(pts, tmp_path / "local.csv", workers=1, progress=False, yosys=yosys)

    def table(path):
        return sorted((r["key"], r["status"], r["lut"]) for r in read_records(path))

    assert table(tmp_path / "dask.csv") == table(tmp_path / "local.csv")


def test_console_script_sweeps_a_limited_grid(tmp_path, capsys):
    from mase_cost.cli import main

    yosys = _fake_yosys(tmp_path, tmp_path / "runs.log")
    out = tmp_path / "cli.csv"
    args = ["sweep", "--out", str(out), "--grid", "small", "--module", "mase_mxint_cast", "--limit", "3",
            "--workers", "1", "--quiet", "--yosys", yosys]
    assert main(args) == 0
    assert "3 ok, 0 failed, 0 already" in capsys.readouterr().out
    assert main(args) == 0
    assert "0 ok, 0 failed, 3 already" in capsys.readouterr().out
    assert {r["module"] for r in read_records(out)} == {"mase_mxint_cast"}
