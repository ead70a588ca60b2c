"""Resumable, parallel synthesis sweeps into a CSV dataset.

``sweep(points, path)`` synthesizes every point not yet in ``path`` (matched
by :func:`mase_cost.synth.point_key`), locally on ``workers`` threads (each
drives its own yosys process) or on a Dask cluster, and rewrites the CSV
atomically (temp file + rename) after every finished point, so a killed sweep
loses at most the points in flight and the next run picks up where it stopped.
A failed or timed-out point is recorded with the tool's message and is not
retried unless ``retry_failed=True``.

Several sweeps may share one CSV: every write holds an exclusive lock on ``<csv>.lock``
(``flock``; the kernel drops it when a holder dies), re-reads the file under it and merges this
sweep's new rows into what is there, so no sweep's rows are lost (before, each sweep rewrote
the file from the snapshot it had read at its start, and two sweeps on one CSV lost half of the
new rows while both reported success). The dataset shipped inside the package
(:data:`mase_cost.dataset.DEFAULT_DATASET`) is read-only input: a sweep into it is refused;
sweep into a file of your own and merge it with ``mase-cost refit --merge``.

Cancel path: SIGINT or SIGTERM (when ``sweep`` runs in the main thread) sets a
flag and kills every running yosys process group (:func:`mase_cost.synth.cancel_all`);
points not started are dropped, points in flight come back as
:class:`~mase_cost.synth.SynthesisCancelled` and are recorded as nothing (not
``failed``: they were not synthesized), the CSV keeps every finished point
(each write is atomic, so a signal never leaves half a file), and ``sweep``
raises :class:`SweepInterrupted` naming the signal.  On Dask the same
``cancel_all`` runs on every worker (``client.run``).
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from mase_cost.synth import (
    DEFAULT_YOSYS, TARGETS, SynthesisCancelled, cancel_all, check_timeout, clean_stale_tmp, point_key,
    recorded_params, reset_cancel, synthesize,
)

__all__ = ["COLUMNS", "SweepInterrupted", "dataset_lock", "merge_records", "read_records", "sweep", "write_records"]

COLUMNS = (
    "key", "module", "params", "nodsp", "status", "error", *TARGETS,
    "synth_seconds", "yosys_version", "rtl_version", "mase_cost_version", "flow",
)


class SweepInterrupted(Exception):
    """A sweep stopped by SIGINT/SIGTERM; the CSV holds every point finished before it."""

    def __init__(self, signum: int, counts: dict):
        self.signum, self.counts = signum, counts
        super().__init__(f"mase-cost sweep: interrupted by {signal.Signals(signum).name}; "
                         f"{counts['ok']} ok and {counts['failed']} failed points recorded this run, "
                         "points in flight discarded")


@contextlib.contextmanager
def _signals_cancel(state: dict):
    """While the sweep runs, SIGINT/SIGTERM cancel it (main thread only: Python's rule)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        state.setdefault("signum", signum)
        cancel_all()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


@contextlib.contextmanager
def dataset_lock(path):
    """Exclusive lock of the dataset CSV ``path`` (``<path>.lock``): held around each
    read-merge-write, waited for (writes are short), dropped by the kernel if the holder dies."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def merge_records(path, new: dict) -> None:
    """Under the dataset lock: the rows now in ``path`` with ``new`` ({key: record}) put over
    them, written atomically. Rows other sweeps added since this one started are kept."""
    with dataset_lock(path):
        by_key = {r["key"]: r for r in read_records(path)}
        by_key.update(new)
        write_records(path, list(by_key.values()))


def _refuse_packaged(path) -> None:
    from mase_cost.dataset import DEFAULT_DATASET

    try:
        same = Path(path).resolve() == DEFAULT_DATASET.resolve()
    except OSError:
        same = False
    if same:
        raise ValueError(f"mase-cost sweep: {path} is the dataset shipped inside the installed package, read-only "
                         "input; sweep into a file of your own (--out sweep.csv) and merge it with "
                         "`mase-cost refit --merge sweep.csv`")


def read_records(path) -> list[dict]:
    """Rows of a dataset CSV as dicts of strings (empty list when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_records(path, records, columns=COLUMNS) -> None:
    """Write ``records`` (their ``columns``) to ``path`` atomically: a temp file in the same
    folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            w.writeheader()
            for r in records:
                w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
            f.flush()
            os.fsync(f.fileno())
        _umask_mode(tmp)  # mkstemp makes it 0600; a dataset is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask_mode(path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


class _Progress:
    """A tqdm bar when stderr is a terminal and tqdm is installed, else one line per finished
    point on stderr (a log file gets readable lines, not a bar's ``\r`` frames)."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        self.done, self.total, self.enabled = 0, total, enabled
        if enabled and _is_terminal(sys.stderr):
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


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty(), or isatty() on a closed file
        return False


def sweep(
    points,
    path,
    workers: int | None = None,
    timeout: float = 600.0,
    dask: str | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    yosys: str = DEFAULT_YOSYS,
    flow: str = "full",
) -> dict:
    """Synthesize the ``(module, params, nodsp)`` points missing from the CSV at ``path``.

    Returns ``{"skipped": n, "ok": n, "failed": n}`` for this run.  ``workers``
    defaults to the number of local cores; ``dask`` is a scheduler address
    (``tcp://host:8786``) or a ``distributed.Client``; ``flow`` is the synthesis
    script (:data:`mase_cost.synth.FLOWS`), ``yosys`` the build
    (:data:`mase_cost.synth.YOSYS_TOOLS`, or a path).  Raises :class:`SweepInterrupted` on
    SIGINT/SIGTERM (module docstring).
    """
    _refuse_packaged(path)
    check_timeout(timeout)
    clean_stale_tmp()  # the temporary folders of sweeps killed with -9
    records = read_records(path)
    by_key = {r["key"]: r for r in records}
    todo, skipped, seen = [], 0, set()
    for module, params, nodsp in points:
        key = point_key(module, recorded_params(module, params), nodsp)
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

    finished: dict = {}

    def finish(record):
        by_key[record["key"]] = record
        finished[record["key"]] = record
        merge_records(path, finished)  # under the lock, over what other sweeps wrote meanwhile
        counts["ok" if record["status"] == "ok" else "failed"] += 1
        bar.step(record)

    state: dict = {}
    reset_cancel()
    try:
        with _signals_cancel(state):
            if dask is not None:
                _run_dask(todo, dask, timeout, yosys, flow, finish, state)
            else:
                _run_local(todo, workers or os.cpu_count() or 1, timeout, yosys, flow, finish, state)
    finally:
        bar.close()
    if "signum" in state:
        raise SweepInterrupted(state["signum"], counts)
    return counts


def _run_local(todo, workers, timeout, yosys, flow, finish, state):
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        pending = {pool.submit(synthesize, m, p, n, timeout, yosys, flow) for m, p, n in todo}
        while pending:
            # a timeout so the main thread returns to Python often enough to run a signal handler
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                if fut.cancelled():
                    continue
                try:
                    record = fut.result()
                except SynthesisCancelled:
                    continue
                finish(record)
            if "signum" in state:
                for fut in pending:
                    fut.cancel()  # not started yet: never runs
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(todo, address, timeout, yosys, flow, finish, state):
    try:
        from distributed import Client
    except ImportError as e:
        raise RuntimeError("mase-cost: --dask needs the 'dask' extra: pip install 'mase-cost[dask]'") from e
    client = address if isinstance(address, Client) else Client(address)
    try:
        # reset the cancel flag in every worker process (a previous interrupted sweep set it there)
        client.run(reset_cancel)
        pending = [client.submit(synthesize, m, p, n, timeout, yosys, flow, pure=False) for m, p, n in todo]
        while pending and "signum" not in state:
            # poll, so the main thread's signal handler runs within half a second
            finished = [f.done() for f in pending]
            done = [f for f, d in zip(pending, finished) if d]
            pending = [f for f, d in zip(pending, finished) if not d]
            for fut in done:
                try:
                    record = fut.result()
                except SynthesisCancelled:
                    continue
                finish(record)
            if not done:
                time.sleep(0.2)
        if "signum" in state:
            client.cancel(pending)
            client.run(cancel_all)  # kill the yosys groups the workers are running
    finally:
        if client is not address:
            client.close()
