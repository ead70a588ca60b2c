"""SQLite storage has one writer (issue 18, item 4): a second search on the same file is refused
at once, naming the first and pointing to PostgreSQL, instead of failing the first one's live
trial; the table-creation race of a new database file is retried."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from mase_passes.passes.search import Search
from mase_passes.storage import StorageBusy, open_storage, sqlite_path

HERE = Path(__file__).parent


def _complete(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("select count(*) from trials where state = 'COMPLETE'").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_a_second_search_on_a_sqlite_study_is_refused_and_the_first_goes_on(mlp, task, tmp_path):
    db = tmp_path / "study.db"
    proc = subprocess.Popen([sys.executable, str(HERE / "search_worker.py"), str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        while _complete(db) < 2 and time.time() < deadline:
            time.sleep(0.2)
        assert _complete(db) >= 2, "the worker did not finish 2 trials in 90 s"
        _, _, g = mlp
        t = time.perf_counter()
        with pytest.raises(StorageBusy) as err:
            Search(n_trials=3, out_dir=str(tmp_path), sampler="random").apply(g, task[:1])
        assert time.perf_counter() - t < 5
        msg = str(err.value)
        assert f"pid {proc.pid}" in msg and str(db) in msg and "postgresql://" in msg and "one writer" in msg
        before = _complete(db)
        while _complete(db) < before + 1 and time.time() < deadline + 30:
            time.sleep(0.2)
        assert proc.poll() is None  # the first search is still running ...
        study = optuna.load_study(study_name="mase", storage=f"sqlite:///{db}")
        assert not [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]  # ... none of its trials failed
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_the_table_creation_race_is_retried_for_sqlite(tmp_path, monkeypatch):
    import sqlalchemy.exc

    real, calls = optuna.storages.RDBStorage, {"n": 0}

    def racing(url, **kw):
        calls["n"] += 1
        if calls["n"] == 1:  # what the loser of two processes creating the tables sees
            raise sqlalchemy.exc.IntegrityError("INSERT INTO alembic_version", {},
                                                Exception("UNIQUE constraint failed: alembic_version.version_num"))
        return real(url, **kw)
    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    storage = open_storage(f"sqlite:///{tmp_path / 'new.db'}")
    assert calls["n"] == 2 and storage.get_all_studies() == []


@pytest.mark.parametrize("url, path", [
    ("sqlite:////abs/study.db", "/abs/study.db"), ("sqlite:///rel.db", "rel.db"),
    ("sqlite:///:memory:", None), ("sqlite://", None), ("postgresql://u@h/db", None),
    ("sqlite:////abs/x.db?timeout=5", "/abs/x.db"),
])
def test_the_lock_file_is_beside_the_database(url, path):
    assert sqlite_path(url) == path


def test_a_study_file_that_is_not_a_database_is_named(mlp, task, tmp_path):
    from mase_passes.storage import StorageError
    (tmp_path / "study.db").write_bytes(b"this is not sqlite" * 100)
    _, _, g = mlp
    with pytest.raises(StorageError, match=f"{tmp_path / 'study.db'} is not a SQLite database"):
        Search(n_trials=1, out_dir=str(tmp_path)).apply(g, task[:1])


def test_search_outputs_get_ordinary_file_modes(mlp, task, tmp_path):
    _, _, g = mlp
    old = os.umask(0o022)
    try:
        Search(n_trials=1, out_dir=str(tmp_path), sampler="random").apply(g, task[:1])
    finally:
        os.umask(old)
    for name in ("best_config.toml", "pareto.csv", "pareto.png", "history.png"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name  # before: mkstemp's 0600
