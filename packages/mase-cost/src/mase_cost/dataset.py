"""The shipped dataset: where it lives and how its rows become typed records."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from mase_cost.synth import TARGETS

__all__ = ["DEFAULT_DATASET", "load"]

#: Shipped sweep results (package data), regenerated / extended by ``mase-cost sweep``.
DEFAULT_DATASET = Path(str(resources.files("mase_cost").joinpath("data", "synth_xc7.csv")))


#: Operators that gained a bounded accumulator (ACC_WIDTH, ACC_ROUND) in mase-hwlib; before,
#: their datapath was the exact (Kulisch) one, which ACC_WIDTH = 0 selects now.
BOUNDED_SINCE_ACC_WIDTH = frozenset({"mase_mxint_add", "mase_mxint_linear", "mase_mxint_matmul"})


def _before_bounded(module: str, params: dict) -> dict:
    """A record of a bounded operator without ``ACC_WIDTH`` predates the parameter (since it
    exists every record stores it: :func:`mase_cost.synth.recorded_params`), so it measured the
    exact datapath: ``ACC_WIDTH = 0``."""
    if module in BOUNDED_SINCE_ACC_WIDTH and "ACC_WIDTH" not in params:
        return {**params, "ACC_WIDTH": 0}
    return params


def load(path=None, ok_only: bool = True, yosys: str | None = None) -> list[dict]:
    """Dataset rows with ``params`` decoded and the numeric columns as numbers.

    ``yosys``: keep only the rows whose ``yosys_version`` starts with it (``"Yosys 0.70"``):
    two Yosys releases give different counts for the same RTL (docs/synthesis-time.md), so
    a model is fitted on one of them."""
    from mase_cost.sweep import read_records

    rows = []
    for r in read_records(path or DEFAULT_DATASET):
        if ok_only and r["status"] != "ok":
            continue
        if yosys is not None and not r.get("yosys_version", "").startswith(yosys):
            continue
        r = dict(r)
        r["params"] = _before_bounded(r["module"], json.loads(r["params"]))
        r["nodsp"] = int(r["nodsp"])
        for t in (*TARGETS, "synth_seconds"):
            r[t] = float(r[t]) if r[t] not in ("", None) else None
        rows.append(r)
    return rows
