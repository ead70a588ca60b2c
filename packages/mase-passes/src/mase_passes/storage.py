"""Open the Optuna storage a search runs on, from a URL.

    storage = open_storage("postgresql://mase@db.lab:5432/mase")   # N workers, N machines
    storage = open_storage("sqlite:////tmp/run/study.db")          # the default: one machine

* ``sqlite:///path`` — an ``RDBStorage`` on a local file (the default of ``mase search``).
  No heartbeats: a single worker owns the study, and a resumed search marks the trials a
  killed run left RUNNING as FAIL itself (``passes.search``). SQLite's file lock lets a
  few workers on one machine share the file; we give it a 60 s busy timeout so they wait
  instead of failing with "database is locked".
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

Errors name the URL with its password hidden, and what to do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import optuna

__all__ = ["StorageError", "StorageOptions", "open_storage", "redact", "uses_heartbeat"]

SERVER_SCHEMES = ("postgresql", "mysql")
SCHEMES = ("sqlite",) + SERVER_SCHEMES


class StorageError(RuntimeError):
    """The storage URL is malformed, its driver is missing, or the database cannot be reached."""


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
    """True if ``storage`` fails and retries the trials of dead workers itself."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return is_heartbeat_enabled(storage)


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
    attempts = opts.connect_attempts if scheme in SERVER_SCHEMES else 1
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
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError,
                sqlalchemy.exc.ProgrammingError) as exc:
            last = exc
            if attempt + 1 < attempts:
                time.sleep(2**attempt)
    reason = str(getattr(last, "orig", None) or last).strip().splitlines()[0]
    raise StorageError(f"storage: cannot open {redact(url)!r} after {attempts} attempt(s): {reason}")


class _quiet_experimental:
    """Optuna flags heartbeat_interval as experimental; the feature is what we rely on."""

    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)
