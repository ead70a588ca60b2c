"""The --dask path on a LocalCluster of several worker processes, running real yosys, gives
the same dataset rows as the local sweep that produced the shipped dataset."""

import shutil

import pytest

from mase_cost import dataset
from mase_cost.sweep import read_records, sweep
from mase_cost.synth import TARGETS, rtl_version, yosys_version

distributed = pytest.importorskip("distributed")


def _cheapest_shipped_points(n):
    """The n fastest full-flow points of the shipped dataset whose RTL is still the current RTL."""
    rows = [r for r in dataset.load() if r.get("flow", "full") in ("full", "")
            and r["rtl_version"] == rtl_version(r["module"])]
    return sorted(rows, key=lambda r: r["synth_seconds"])[:n]


@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")
def test_dask_local_cluster_reproduces_the_shipped_rows(tmp_path):
    expected = _cheapest_shipped_points(2)
    assert len(expected) == 2, "the shipped dataset has no current full-flow points to compare with"
    assert all(r["yosys_version"] == yosys_version() for r in expected)
    pts = [(r["module"], r["params"], bool(r["nodsp"])) for r in expected]
    out = tmp_path / "dask.csv"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert len(cluster.workers) == 2
        # the scheduler address, as `mase-cost sweep --dask tcp://...` passes it
        assert cluster.scheduler_address.startswith("tcp://")
        counts = sweep(pts, out, dask=cluster.scheduler_address, progress=False, timeout=300)
    assert counts == {"skipped": 0, "ok": 2, "failed": 0}
    got = {r["key"]: r for r in read_records(out)}
    for r in expected:
        row = got[r["key"]]
        assert {t: int(row[t]) for t in TARGETS} == {t: int(r[t]) for t in TARGETS}, r["key"]
        assert row["rtl_version"] == r["rtl_version"] and row["yosys_version"] == r["yosys_version"]
