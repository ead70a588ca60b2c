"""Open the Optuna storage a search runs on, from a URL.

    storage = open_storage("postgresql://mase@db.lab:5432/mase")   # N workers, N machines
    storage = open_storage("sqlite:////tmp/run/study.db")          # the default: one machine

* ``sqlite:///path`` — an ``RDBStorage`` on a local file (the default of ``mase search``).
  **One writer**: a search holds an exclusive lock on ``path.lock`` (:func:`sqlite_writer_lock`)
  while it runs, and a second search on the same file is refused at once, naming the holder
  and pointing to PostgreSQL. Several workers on one SQLite file do not work: without
  heartbeats, a starting worker must mark the trials left RUNNING as FAIL (a killed run's,
  ``passes.search``) and cannot tell them from a live worker's, which it would fail under it
  (that worker then dies with "Cannot tell a FAIL trial"); two workers creating a new file
  race on Optuna's tables. Use a PostgreSQL URL for several workers (docs/scale-out.md).
  Readers (``optuna.load_study``, a dashboard) need no lock; the 60 s busy timeout lets them
  wait for the writer's transactions instead of failing with "database is locked".
* ``postgresql://...`` and ``mysql://...`` — a server database shared by any number of workers. Each running trial gets a heartbeat
  thread that stamps the database every ``heartbeat_interval`` seconds. Before each new
  trial, a worker marks FAIL every RUNNING trial whose last heartbeat is older than
  ``grace_period`` (its worker died: SIGKILL, power loss, a lost network) and the
  ``RetryHeartbeatStaleTrialCallback`` enqueues a copy with the same parameters, so the trial is
  re-run by whichever worker asks next — up to ``max_retry`` times. A trial is therefore
  RUNNING for good only if no worker is left at all; the next worker to start cleans it up.

Choosing the two times: a live worker must never look dead, so ``grace_period`` must
exceed ``heartbeat_interval`` plus the longest stall of a worker's heartbeat thread (GIL
held by a long native call, a loaded machine); we require ``grace_period >= 2 *
heartbeat_interval`` and default to 10 s / 60 s. Smaller values find dead workers sooner
at the cost of one UPDATE per interval per worker.

Engine options for many workers: a worker uses two connections (the trial loop and the
heartbeat thread), so its pool is small — ``pool_size=2``, ``max_overflow=2``, four at
most, so 25 workers always fit PostgreSQL's default ``max_connections = 100`` (raise it
for more; docs/scale-out.md). ``pool_pre_ping`` replaces connections that a server
restart or a firewall timeout closed, instead of failing a trial.

Driver: a bare ``postgresql://`` is opened with psycopg 3 (``postgresql+psycopg://``; the
``postgres`` extra of mase-passes installs ``psycopg[binary]``) — SQLAlchemy 2.0 would pick
psycopg2 and 2.1 psycopg 3, and we want the same driver everywhere. Name another driver
explicitly (``postgresql+psycopg2://``) if that is what a cluster has. Only PostgreSQL is tested (test_postgres.py against a real server);
MySQL goes through the same Optuna code but has not been run here.

Table creation: the first connections to a new database create Optuna's tables, and two
processes doing it at once fail with a unique-constraint error on ``alembic_version`` (or
"table already exists"); ``open_storage`` retries that on every backend (servers
``connect_attempts`` times with back-off, SQLite three times), by which time the other process
has created them.

Errors name the URL with its password hidden, and what to do. A write that fails because the
disk (or the database's quota) is full reaches Optuna as "An exception is raised during the
commit. This typically happens due to invalid data in the commit"; :func:`storage_failure`
finds the real cause in the exception chain and says it (the search re-raises that).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import optuna

__all__ = ["StorageBusy", "StorageError", "StorageOptions", "open_storage", "redact", "sqlite_writer_lock",
           "uses_heartbeat", "storage_failure"]

SERVER_SCHEMES = ("postgresql", "mysql")
SCHEMES = ("sqlite",) + SERVER_SCHEMES


class StorageError(RuntimeError):
    """The storage URL is malformed, its driver is missing, or the database cannot be reached."""


class StorageBusy(StorageError):
    """Another search is writing the SQLite study file (SQLite storage has one writer)."""


@dataclass(frozen=True)
class StorageOptions:
    """Heartbeat and connection settings of a server storage (ignored for SQLite)."""

    heartbeat_interval: int = 10
    grace_period: int = 60
    max_retry: int = 3
    pool_size: int = 2
    max_overflow: int = 2
    connect_timeout: int = 10
    connect_attempts: int = 5

    def __post_init__(self):
        for name in ("heartbeat_interval", "grace_period", "pool_size", "connect_timeout", "connect_attempts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"storage: {name} must be a positive integer (seconds or a count), got {value!r}")
        if self.grace_period < 2 * self.heartbeat_interval:
            raise ValueError(
                f"storage: grace_period ({self.grace_period} s) must be at least twice heartbeat_interval "
                f"({self.heartbeat_interval} s), or a live but busy worker's trials would be failed")
        if self.max_retry < 0 or self.max_overflow < 0:
            raise ValueError(f"storage: max_retry and max_overflow must be >= 0, got {self.max_retry}, "
                             f"{self.max_overflow}")


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _scheme(url: str) -> str:
    if not isinstance(url, str) or "://" not in url:
        raise StorageError(f"storage: {redact(str(url))!r} is not a database URL; expected e.g. "
                           "'sqlite:///study.db' or 'postgresql://user@host:5432/db'")
    base = url.split("://", 1)[0].split("+", 1)[0].lower()
    if base not in SCHEMES:
        raise StorageError(f"storage: unsupported URL scheme {base!r} in {redact(url)!r}; "
                           f"supported: {', '.join(SCHEMES)}")
    return base


def uses_heartbeat(storage) -> bool:
    """True if ``storage`` fails and retries the trials of dead workers itself: an ``RDBStorage``
    opened with a heartbeat interval (public API: ``RDBStorage.get_heartbeat_interval()``, None
    without heartbeats; what Optuna's private ``is_heartbeat_enabled`` checks). The other
    storages we open (none: open_storage returns RDBStorage only) never have heartbeats here."""
    return isinstance(storage, optuna.storages.RDBStorage) and storage.get_heartbeat_interval() is not None


def _engine_kwargs(scheme: str, opts: StorageOptions) -> dict:
    if scheme == "sqlite":
        # wait for another local worker's write lock instead of raising "database is locked"
        return {"connect_args": {"timeout": 60}}
    kw = {"pool_size": opts.pool_size, "max_overflow": opts.max_overflow, "pool_pre_ping": True,
          "pool_recycle": 1800}
    if scheme == "postgresql":
        kw["connect_args"] = {"connect_timeout": opts.connect_timeout, "application_name": "mase-search"}
    else:
        kw["connect_args"] = {"connect_timeout": opts.connect_timeout}
    return kw


def open_storage(url: str, options: StorageOptions | None = None) -> optuna.storages.RDBStorage:
    """An ``optuna.storages.RDBStorage`` for ``url`` (see the module docstring).

    Server databases are retried ``connect_attempts`` times with 1, 2, 4, ... s pauses: workers
    started together race to create Optuna's tables, and a database that is still starting
    refuses connections for a moment.
    """
    import sqlalchemy.exc

    opts = options or StorageOptions()
    scheme = _scheme(url)
    if url.lower().startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs = {"engine_kwargs": _engine_kwargs(scheme, opts)}
    if scheme in SERVER_SCHEMES:
        with _quiet_experimental():
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=opts.max_retry)
        kwargs.update(heartbeat_interval=opts.heartbeat_interval, grace_period=opts.grace_period,
                      heartbeat_stale_trial_callback=retry)
    attempts = opts.connect_attempts if scheme in SERVER_SCHEMES else 3
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            with _quiet_experimental():
                return optuna.storages.RDBStorage(url, **kwargs)
        except ImportError as exc:
            extra = "postgres" if scheme == "postgresql" else scheme
            raise StorageError(f"storage: no database driver for {redact(url)!r} ({exc}); "
                               f"install it with: pip install 'mase-passes[{extra}]'") from None
        except sqlalchemy.exc.ArgumentError as exc:
            raise StorageError(f"storage: malformed URL {redact(url)!r}: {exc}") from None
        except sqlalchemy.exc.DatabaseError as exc:
            if scheme == "sqlite" and "not a database" in str(exc):  # a file that is not SQLite: no retry helps
                path = sqlite_path(url)
                raise StorageError(f"storage: {path} is not a SQLite database (not an Optuna study file); move it "
                                   f"away, or give [search] storage another file") from None
            last = exc
            if attempt + 1 < attempts:  # the table-creation race: the other process is finishing them
                time.sleep(2**attempt if scheme in SERVER_SCHEMES else 0.2 * (attempt + 1))
    reason = str(getattr(last, "orig", None) or last).strip().splitlines()[0]
    raise StorageError(f"storage: cannot open {redact(url)!r} after {attempts} attempt(s): {reason}")


#: Messages of a write refused for lack of space, per driver: SQLite's SQLITE_FULL, PostgreSQL's
#: disk_full (SQLSTATE 53100, "could not extend file"), MySQL's table-full, and the OS's ENOSPC.
_FULL = ("database or disk is full", "no space left on device", "could not extend file", "disk full",
         "is full")


def _chain(exc: BaseException):
    """``exc`` and every exception behind it (``__cause__``, ``__context__``, a driver's ``orig``)."""
    seen, todo = set(), [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__, getattr(e, "orig", None)]


def storage_failure(exc: BaseException, url: str) -> StorageError | None:
    """A :class:`StorageError` that says why a write to the study failed, when the cause is a full
    disk or database (else None: the caller re-raises ``exc``). The trials stored before are kept."""
    import errno

    for e in _chain(exc):
        text = str(e).lower()
        if (isinstance(e, OSError) and e.errno == errno.ENOSPC) or any(m in text for m in _FULL):
            where = sqlite_path(url) or redact(url)
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            return StorageError(
                f"storage: cannot write the study to {where}: the disk or database is full ({reason}). The "
                "trials finished before are kept; free some space (or give [search] storage a place that has "
                "it) and run the same command again to resume the study")
    return None


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///path`` URL (None for other schemes and in-memory databases)."""
    if not isinstance(url, str) or not url.lower().startswith("sqlite:"):
        return None
    rest = url.split("://", 1)[1] if "://" in url else ""
    path = rest[1:] if rest.startswith("/") else rest
    path = path.split("?", 1)[0]
    return None if path in ("", ":memory:") else path


class sqlite_writer_lock:
    """Context manager: the exclusive writer lock of a SQLite study file (``<file>.lock``, a
    ``flock`` the kernel drops if the holder dies); a no-op for server URLs. A second holder is
    refused at once with :class:`StorageBusy` naming the first and the way to run several
    workers (PostgreSQL)."""

    def __init__(self, url: str, what: str = "search"):
        self.url, self.what, self._fd = url, what, None

    def __enter__(self) -> "sqlite_writer_lock":
        import fcntl
        import os
        import socket
        import sys
        from pathlib import Path

        path = sqlite_path(self.url)
        if path is None:
            return self
        lock = Path(path + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = lock.read_text(errors="replace").strip() or "another process"
            except OSError:
                holder = "another process"
            os.close(fd)
            raise StorageBusy(
                f"storage: the SQLite study file {path} is being written by {holder}. SQLite storage takes one "
                f"writer (a second would fail the first one's running trial): wait for it to finish, or run "
                f"several workers on a PostgreSQL database (storage = 'postgresql://user@host/db'; see "
                f"docs/scale-out.md)") from None
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        text = f"{self.what} (pid {os.getpid()} on {socket.gethostname()}, since {since}: {' '.join(sys.argv)})"
        os.ftruncate(fd, 0)
        os.pwrite(fd, text[:500].encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        import fcntl
        import os

        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


class _quiet_experimental:
    """Optuna flags heartbeat_interval as experimental; the feature is what we rely on."""

    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)
