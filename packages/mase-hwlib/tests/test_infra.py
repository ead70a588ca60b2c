"""Benches of the stream infrastructure against their golden models (random stalls both sides)."""

import numpy as np
import pytest

from mase_hwlib.testing import check_against_golden, lint


def _data(width, n, seed):
    """Seeded random beats plus the edge values 0 and all-ones."""
    rng = np.random.default_rng(seed)
    edge = np.array([0, (1 << width) - 1, 0, (1 << width) - 1])
    return np.concatenate([edge, rng.integers(0, 1 << width, n)])


CONFIGS = {
    "mase_skid_buffer": [
        dict(params={"DATA_WIDTH": 1}, idle=0.5, backpressure=0.2),
        dict(params={"DATA_WIDTH": 8}, idle=0.3, backpressure=0.6),
        dict(params={"DATA_WIDTH": 63}, idle=0.0, backpressure=0.3),
    ],
    "mase_fifo": [
        dict(params={"DATA_WIDTH": 8, "DEPTH": 2}, idle=0.3, backpressure=0.3),
        dict(params={"DATA_WIDTH": 16, "DEPTH": 5}, idle=0.1, backpressure=0.7),
        dict(params={"DATA_WIDTH": 33, "DEPTH": 16}, idle=0.6, backpressure=0.1),
    ],
    "mase_fork2": [
        dict(params={"DATA_WIDTH": 1}, idle=0.2, backpressure=0.5),
        dict(params={"DATA_WIDTH": 8}, idle=0.3, backpressure=0.3),
        dict(params={"DATA_WIDTH": 40}, idle=0.0, backpressure=0.7),
    ],
    "mase_join2": [
        dict(params={"DATA_WIDTH": 1}, idle=0.5, backpressure=0.2),
        dict(params={"DATA_WIDTH": 8}, idle=0.3, backpressure=0.3),
        dict(params={"DATA_WIDTH": 31}, idle=0.2, backpressure=0.6),
    ],
    "mase_transpose": [
        dict(params={"DATA_WIDTH": 8, "ROWS": 2, "COLS": 3}, idle=0.3, backpressure=0.3),
        dict(params={"DATA_WIDTH": 16, "ROWS": 4, "COLS": 1}, idle=0.1, backpressure=0.6),
        dict(params={"DATA_WIDTH": 12, "ROWS": 3, "COLS": 5}, idle=0.0, backpressure=0.0),
    ],
}

CASES = [(m, i) for m, cfgs in CONFIGS.items() for i in range(len(cfgs))]


def _inputs(module, cfg, seed):
    w = cfg["params"]["DATA_WIDTH"]
    if module == "mase_join2":
        return {"a": {"data": _data(w, 40, seed)}, "b": {"data": _data(w, 40, seed + 100)}}
    if module == "mase_transpose":
        frame = cfg["params"]["ROWS"] * cfg["params"]["COLS"]
        return {"x": {"data": _data(w, 4 * frame - 4, seed)}}  # 4 whole frames
    return {"x": {"data": _data(w, 60, seed)}}


@pytest.mark.parametrize("module,index", CASES, ids=[f"{m}-{i}" for m, i in CASES])
def test_matches_golden_under_random_stalls(module, index):
    cfg = CONFIGS[module][index]
    lint(module, cfg["params"])
    check_against_golden(
        module, cfg["params"], _inputs(module, cfg, seed=index), idle=cfg["idle"],
        backpressure=cfg["backpressure"], seed=index + 7,
    )


@pytest.mark.parametrize("module", ["mase_fifo", "mase_transpose"])
def test_full_throughput_without_stalls(module):
    """With no idle cycles and no back-pressure both move one beat per cycle."""
    cfg = {"params": {"DATA_WIDTH": 8, "ROWS": 2, "COLS": 2} if module == "mase_transpose" else {"DATA_WIDTH": 8}}
    r = check_against_golden(module, cfg["params"], {"x": {"data": _data(8, 28, 5)}}, idle=0, backpressure=0)
    assert r.cycles_per_block == 1.0
    if module == "mase_transpose":
        assert r.first_output_latency == 4 + 1  # one frame, then the registered read
