"""Resumable, parallel synthesis sweeps into a CSV dataset.

``sweep(points, path)`` synthesizes every point not yet in ``path`` (matched
by :func:`mase_cost.synth.point_key`), locally on ``workers`` threads (each
drives its own yosys process) or on a Dask cluster, and rewrites the CSV
atomically (temp file + rename) after every finished point, so a killed sweep
loses at most the points in flight and the next run picks up where it stopped.
A failed or timed-out point is recorded with the tool's message and is not
retried unless ``retry_failed=True``.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from mase_cost.synth import TARGETS, point_key, synthesize

__all__ = ["COLUMNS", "read_records", "sweep", "write_records"]

COLUMNS = (
    "key", "module", "params", "nodsp", "status", "error", *TARGETS,
    "synth_seconds", "yosys_version", "rtl_version", "mase_cost_version",
)


def read_records(path) -> list[dict]:
    """Rows of a dataset CSV as dicts of strings (empty list when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_records(path, records) -> None:
    """Write ``records`` to ``path`` atomically: a temp file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            w.writeheader()
            for r in records:
                w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Progress:
    """tqdm when it is installed, else one line per finished point on stderr."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        self.done, self.total, self.enabled = 0, total, enabled
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="pt", desc="synth")
            except ImportError:
                pass

    def step(self, record: dict):
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.enabled:
            print(f"[{self.done}/{self.total}] {record['key']} {record['status']}", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def sweep(
    points,
    path,
    workers: int | None = None,
    timeout: float = 600.0,
    dask: str | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    yosys: str = "yosys",
) -> dict:
    """Synthesize the ``(module, params, nodsp)`` points missing from the CSV at ``path``.

    Returns ``{"skipped": n, "ok": n, "failed": n}`` for this run.  ``workers``
    defaults to the number of local cores; ``dask`` is a scheduler address
    (``tcp://host:8786``) or a ``distributed.Client``.
    """
    records = read_records(path)
    by_key = {r["key"]: r for r in records}
    todo, skipped, seen = [], 0, set()
    for module, params, nodsp in points:
        key = point_key(module, params, nodsp)
        if key in seen:
            continue
        seen.add(key)
        old = by_key.get(key)
        if old is not None and (old["status"] == "ok" or not retry_failed):
            skipped += 1
            continue
        todo.append((module, params, nodsp))
    counts = {"skipped": skipped, "ok": 0, "failed": 0}
    bar = _Progress(len(todo), progress)

    def finish(record):
        by_key[record["key"]] = record
        write_records(path, list(by_key.values()))
        counts["ok" if record["status"] == "ok" else "failed"] += 1
        bar.step(record)

    try:
        if dask is not None:
            _run_dask(todo, dask, timeout, yosys, finish)
        else:
            _run_local(todo, workers or os.cpu_count() or 1, timeout, yosys, finish)
    finally:
        bar.close()
    return counts


def _run_local(todo, workers, timeout, yosys, finish):
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = {pool.submit(synthesize, m, p, n, timeout, yosys) for m, p, n in todo}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                finish(fut.result())


def _run_dask(todo, address, timeout, yosys, finish):
    try:
        from distributed import Client, as_completed
    except ImportError as e:
        raise RuntimeError("mase-cost: --dask needs the 'dask' extra: pip install 'mase-cost[dask]'") from e
    client = address if isinstance(address, Client) else Client(address)
    try:
        futures = [client.submit(synthesize, m, p, n, timeout, yosys, pure=False) for m, p, n in todo]
        for fut in as_completed(futures):
            finish(fut.result())
    finally:
        if client is not address:
            client.close()
