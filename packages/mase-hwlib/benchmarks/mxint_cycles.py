"""Cycle counts of the infrastructure and MXInt operators from simulation.

    python packages/mase-hwlib/benchmarks/mxint_cycles.py

For each module at a representative parameter set: first-output latency,
cycles per output block and total cycles, with no stalls (the module's own
throughput) — the numbers quoted in docs/mxint-operators.md.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import mase_hwlib
from mase_hwlib import catalog
from mase_hwlib.rom import write_mx_rom
from mase_hwlib.testing import mxint_blocks


def _mx(n, lanes, man, exp, rng):
    return mxint_blocks(n, lanes, man, exp, rng, edge=False, exp_range=(-3, 3))


def main() -> None:
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp())
    rows = []

    def run(name, params, make_inputs):
        spec = catalog.get(name)
        p = spec.resolve(params)
        r = mase_hwlib.simulate(name, params, make_inputs(p))
        rows.append((name, ", ".join(f"{k}={v}" for k, v in params.items() if not str(k).endswith("FILE")),
                     r.first_output_latency, r.cycles_per_block, r.total_cycles))

    for name in ("mase_skid_buffer", "mase_fifo"):
        run(name, {"DATA_WIDTH": 16}, lambda p: {"x": {"data": rng.integers(0, 1 << 16, 64)}})
    run("mase_transpose", {"DATA_WIDTH": 16, "ROWS": 4, "COLS": 4},
        lambda p: {"x": {"data": rng.integers(0, 1 << 16, 64)}})
    for name in ("mase_mxint_cast", "mase_mxint_relu"):
        run(name, dict(BLOCK_0=16, BLOCK_1=2, OUT_MAN=5), lambda p: {"x": _mx(32, 32, 7, 8, rng)})
    for name in ("mase_mxint_add", "mase_mxint_mul"):
        run(name, dict(BLOCK_0=16, BLOCK_1=2), lambda p: {"a": _mx(32, 32, 7, 8, rng), "b": _mx(32, 32, 7, 8, rng)})
    run("mase_mxint_matmul", dict(BLOCK_K=16, A_ROWS=2, B_COLS=2, K_TILES=4),
        lambda p: {"a": _mx(64, 32, 7, 8, rng), "b": _mx(64, 32, 7, 8, rng)})
    lin = dict(BLOCK_K=16, X_ROWS=1, OUT_TILE=2, IN_TILES=4, OUT_TILES=4)
    run("mase_mxint_linear", lin,
        lambda p: {"x": _mx(32, 16, 7, 8, rng), "w": _mx(8 * 16, 32, 7, 8, rng)})
    wfile = write_mx_rom(tmp / "w.hex", _mx(16, 32, 7, 8, rng), 7, 8)
    run("mase_mxint_linear", dict(lin, WEIGHTS_IN_ROM=1, WEIGHT_FILE=str(wfile)),
        lambda p: {"x": _mx(32, 16, 7, 8, rng)})

    print(f"{'module':20s} {'latency':>7s} {'cyc/blk':>7s} {'total':>6s}  params")
    for name, params, lat, cpb, tot in rows:
        print(f"{name:20s} {lat:7d} {cpb:7.2f} {tot:6d}  {params}")


if __name__ == "__main__":
    main()
