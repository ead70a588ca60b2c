"""The shipped dataset: where it lives and how its rows become typed records."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from mase_cost.synth import TARGETS

__all__ = ["DEFAULT_DATASET", "load"]

#: Shipped sweep results (package data), regenerated / extended by ``mase-cost sweep``.
DEFAULT_DATASET = Path(str(resources.files("mase_cost").joinpath("data", "synth_xc7.csv")))


def load(path=None, ok_only: bool = True) -> list[dict]:
    """Dataset rows with ``params`` decoded and the numeric columns as numbers."""
    from mase_cost.sweep import read_records

    rows = []
    for r in read_records(path or DEFAULT_DATASET):
        if ok_only and r["status"] != "ok":
            continue
        r = dict(r)
        r["params"] = json.loads(r["params"])
        r["nodsp"] = int(r["nodsp"])
        for t in (*TARGETS, "synth_seconds"):
            r[t] = float(r[t]) if r[t] not in ("", None) else None
        rows.append(r)
    return rows
