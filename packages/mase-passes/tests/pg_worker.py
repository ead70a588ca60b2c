"""One search worker on a shared storage, run as its own process by test_postgres.py.

    python pg_worker.py URL OUT_DIR N_TRIALS SEED

After tracing, the worker writes OUT_DIR/ready and waits for OUT_DIR/../go, so the test can
start every worker's search at the same moment however long each took to import torch.

The tiny MLP evaluates in milliseconds; a slow ``area_fn`` (0.6 s, standing in for a cost
model or a synthesis run) makes each trial last long enough for the test to kill the worker
while a trial is RUNNING. The area term has weight 0, so it does not change the objective.
"""

import sys
import time
from pathlib import Path

import mase_ir
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from conftest import TinyMLP  # noqa: E402

from mase_passes.passes.search import Search  # noqa: E402


def slow_area(conf: dict) -> float:
    time.sleep(0.6)
    return float(len(conf["node"]))


if __name__ == "__main__":
    url, out, n_trials, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.manual_seed(0)
    model = TinyMLP().eval()
    x = torch.randn(16, 32)
    g = mase_ir.trace(model, {"x": x})
    with torch.no_grad():
        y = model(x).argmax(-1)
    (Path(out) / "ready").touch()
    go = Path(out).parent / "go"
    deadline = time.time() + 300
    while not go.exists() and time.time() < deadline:
        time.sleep(0.05)
    Search(n_trials=n_trials, storage=url, study_name="pg", out_dir=out, sampler="random",
           seed=seed, area_fn=slow_area,
           heartbeat_interval=1, grace_period=2).apply(g, [({"x": x}, y)])
