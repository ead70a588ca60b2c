"""A full disk during a search (issue 18, item 7): the search stops with a message that says the
disk or database is full and that the finished trials are kept -- not Optuna's "invalid data in
the commit" -- and running it again after space is freed resumes the study.

The full disk is SQLite's own: ``PRAGMA max_page_count`` caps the study file, and a write past it
fails with SQLITE_FULL ("database or disk is full"), the error a full file system gives."""

import optuna
import pytest
import sqlalchemy

import mase_passes.passes.search as search_mod
from mase_passes.passes.search import Search
from mase_passes.storage import StorageError, open_storage, storage_failure


def _capped(pages_over: int):
    """open_storage whose connections cap the file at its size when first opened + pages_over."""
    def opener(url, options=None):
        storage = open_storage(url, options)
        with storage.engine.connect() as con:
            pages = con.exec_driver_sql("PRAGMA page_count").scalar()

        @sqlalchemy.event.listens_for(storage.engine, "connect")
        def _cap(dbapi_con, _record):
            dbapi_con.execute(f"PRAGMA max_page_count = {pages + pages_over}")

        storage.engine.dispose()  # drop pooled connections opened before the cap
        return storage
    return opener


def test_a_full_disk_stops_the_search_saying_so_and_a_rerun_resumes(mlp, task, tmp_path, monkeypatch):
    _, _, g = mlp
    monkeypatch.setattr(search_mod, "open_storage", _capped(4))
    with pytest.raises(StorageError) as err:
        Search(n_trials=40, out_dir=str(tmp_path), sampler="random").apply(g, task[:1])
    msg = str(err.value)
    assert "database or disk is full" in msg and str(tmp_path / "study.db") in msg
    assert "trials finished before are kept" in msg and "invalid data" not in msg
    assert isinstance(err.value.__cause__, Exception)  # the original error stays attached
    study = optuna.load_study(study_name="mase", storage=f"sqlite:///{tmp_path / 'study.db'}")
    kept = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert 0 < len(kept) < 40
    monkeypatch.setattr(search_mod, "open_storage", open_storage)  # space freed: the same search resumes
    res = Search(n_trials=len(kept) + 2, out_dir=str(tmp_path), sampler="random").apply(g, task[:1])
    assert res.finished_trials == len(kept) + 2


def test_other_storage_errors_are_left_alone():
    assert storage_failure(ValueError("Cannot tell a FAIL trial"), "sqlite:////x/study.db") is None
    import errno

    e = StorageError("commit failed")
    e.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    got = storage_failure(e, "postgresql://mase:secret@db/mase")
    assert got is not None and "secret" not in str(got) and "No space left on device" in str(got)
