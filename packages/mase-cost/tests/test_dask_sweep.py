"""The --dask path on a LocalCluster of several worker processes, running real yosys, gives
the same dataset rows as the local sweep of the same points (the oracle: the local path,
run here, so the test holds while the RTL changes and the shipped rows go stale)."""

import shutil

import pytest

from mase_cost.sweep import read_records, sweep
from mase_cost.synth import TARGETS

distributed = pytest.importorskip("distributed")

#: Two cheap points (a few seconds each with Debian's yosys).
POINTS = [("mase_mxint_relu", {"BLOCK_0": 1, "BLOCK_1": 1, "IN_MAN": 3, "OUT_MAN": 3}, True),
          ("mase_mxint_mul", {"BLOCK_0": 1, "BLOCK_1": 1, "A_MAN": 3, "B_MAN": 3, "OUT_MAN": 3}, True)]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")
def test_dask_local_cluster_reproduces_the_local_sweep(tmp_path):
    local, remote = tmp_path / "local.csv", tmp_path / "dask.csv"
    assert sweep(POINTS, local, workers=1, progress=False, timeout=300, yosys="yosys")["ok"] == 2
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert len(cluster.workers) == 2
        # the scheduler address, as `mase-cost sweep --dask tcp://...` passes it
        assert cluster.scheduler_address.startswith("tcp://")
        counts = sweep(POINTS, remote, dask=cluster.scheduler_address, progress=False, timeout=300, yosys="yosys")
    assert counts == {"skipped": 0, "ok": 2, "failed": 0}
    want = {r["key"]: r for r in read_records(local)}
    got = {r["key"]: r for r in read_records(remote)}
    assert set(got) == set(want)
    for key, r in want.items():
        assert {t: int(got[key][t]) for t in TARGETS} == {t: int(r[t]) for t in TARGETS}, key
        assert int(r["lut"]) > 0
        for col in ("rtl_version", "yosys_version", "params"):
            assert got[key][col] == r[col]
