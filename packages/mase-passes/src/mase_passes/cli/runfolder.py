"""The output folder of a run, which mase owns: a marker, an exclusive lock, staging, a manifest.

Before (issue 18, items 2-3): ``mase run --out DIR`` replaced ``DIR/design`` and ``DIR/report``
whatever they were (a user's own folders were deleted; a ``DIR/design`` symlink had the folder
it points to replaced), two runs on one folder wrote over each other, and a run killed between
stages left artefacts of two runs side by side, which ``mase report`` rendered as one.

Now:

* **Marker** ``DIR/.mase-run.json`` lists the entries of DIR that mase created (``artifacts``,
  ``search``, ``design``, ``report``, ...). mase replaces or deletes only those; anything else
  in DIR, including a user's own ``design/`` or ``report/``, is refused with the path and the fix.
  A folder from before the marker is adopted by content: an entry counts as mase's when it
  holds what mase writes there (``report/report.html`` + ``report/results.json``,
  ``design/design.json`` + ``design/top.sv``, ``artifacts/results.json``, ``search/study.db``).
* **Lock** ``DIR/.mase-run.lock``: an exclusive ``flock`` held for the whole command, with the
  holder (host, pid, command, start time) written inside; a second command on the same folder
  is refused at once and names the holder. The kernel drops the lock when its process dies
  (kill -9 included), so a stale lock file never blocks a later run.
* **Links**: an entry that is a symbolic link is never replaced or deleted (mase would change
  the folder it points to, outside DIR).
* **Staging**: ``mase run`` writes its artefacts and design into ``DIR/.mase-staging/`` and,
  when every stage is done, publishes them: ``manifest.json`` (every file of ``artifacts/`` and
  ``design/`` with its sha256, the config's fingerprint, the tool versions) is written into the
  staged artefacts, the design and then the artefacts are swapped in by renames, and the
  report is rendered from the published artefacts. A kill leaves either the previous run
  whole or a folder whose manifest names the part that differs; ``mase report`` verifies the
  manifest first (:func:`verify`), so a report never mixes two runs. A staging folder left by a
  killed run is removed by the next command that takes the lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from mase_passes.atomic import write_atomic

MARKER = ".mase-run.json"
LOCK = ".mase-run.lock"
STAGING = ".mase-staging"
MANIFEST = "manifest.json"
PUBLISHED = ("design", "artifacts")  # published in this order: the manifest (in artifacts) comes last

# what mase writes into an entry: a folder from before the marker is adopted on this evidence
_SIGNATURES = {
    "artifacts": ("results.json",), "report": ("report.html", "results.json"),
    "design": ("design.json", "top.sv"), "search": ("study.db",), "search_no_hw_terms": ("study.db",),
    "graph": ("graph.mase",), "quantized": ("graph.mase",),
}

_held: list["RunFolder"] = []


class RunFolderError(RuntimeError):
    """An output folder mase may not write: in use by another command, an entry mase did not
    create, a symbolic link, or published parts that belong to different runs."""


class RunFolderBusy(RunFolderError):
    """Another mase command holds the folder's lock."""


class RunFolder:
    """The lock and the marker of one output folder (see the module docstring)."""

    def __init__(self, out: Path):
        self.out = Path(os.path.abspath(Path(out).expanduser()))
        self._fd: int | None = None

    # --- lock ------------------------------------------------------------------------------
    def acquire(self, command: str) -> "RunFolder":
        import fcntl

        if self.out.exists() and not self.out.is_dir():
            raise RunFolderError(f"{self.out} is a file, not a folder: give [output] dir (or --out) a folder path")
        self.out.mkdir(parents=True, exist_ok=True)
        lock = self.out / LOCK
        if lock.is_symlink():
            raise RunFolderError(f"{lock} is a symbolic link; remove it (mase keeps its lock file in the folder)")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_text(lock).strip() or "another process"
            os.close(fd)
            raise RunFolderBusy(f"{self.out} is in use by {holder}; wait for it to finish (or stop it), or give "
                                "this run another output folder (--out DIR)") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv[1:]) or command,
                "since": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (f"mase {command} (pid {info['pid']} on {info['host']}, since {info['since']})\n"
                       + json.dumps(info) + "\n").encode(), 0)
        self._fd = fd
        _held.append(self)
        self._clean_stale()
        return self

    def release(self) -> None:
        import fcntl

        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
        if self in _held:
            _held.remove(self)

    def _clean_stale(self) -> None:
        """Staging and temporary folders of a killed run (we hold the lock: nobody uses them)."""
        staging = self.out / STAGING
        if staging.is_dir() and not staging.is_symlink():
            shutil.rmtree(staging, ignore_errors=True)
        for p in self.out.iterdir():
            n = p.name
            if (p.is_dir() and not p.is_symlink() and n.startswith(".")
                    and any(n.startswith(f".{e}.tmp-") or n.startswith(f".{e}.old-") for e in _SIGNATURES)):
                shutil.rmtree(p, ignore_errors=True)

    # --- marker ----------------------------------------------------------------------------
    def owned(self) -> set[str]:
        data = _read_json(self.out / MARKER) or {}
        return set(data.get("owned", []))

    def claim(self, name: str) -> Path:
        """Record ``name`` as mase's (before creating it) and return its path. An entry that
        exists and is not mase's is refused (``check_replaceable``)."""
        path = self.out / name
        self.check_replaceable(name)
        owned = self.owned()
        if name not in owned:
            from mase_passes import __version__
            owned.add(name)
            write_atomic(self.out / MARKER, json.dumps(
                {"created_by": "mase", "mase_version": __version__, "owned": sorted(owned),
                 "note": "mase replaces or deletes only the entries listed here"}, indent=1) + "\n")
        return path

    def check_replaceable(self, name: str) -> None:
        """Refuse to write over ``DIR/name`` when it is a link, or exists and mase did not make it."""
        path = self.out / name
        if path.is_symlink():
            raise RunFolderError(f"{path} is a symbolic link (to {os.readlink(path)}); mase does not replace a "
                                 "folder through a link, which would change the folder it points to: remove the "
                                 "link, or give another output folder (--out DIR)")
        if not path.exists() or name in self.owned():
            return
        sig = _SIGNATURES.get(name)
        if sig and path.is_dir() and all((path / f).is_file() for f in sig):
            return  # written by a mase from before the marker
        raise RunFolderError(f"{path} exists and was not created by mase (it is not listed in {self.out / MARKER}); "
                             "mase does not delete or replace it: move it away, or give another output folder "
                             "(--out DIR)")

    # --- staging and publishing ------------------------------------------------------------
    def staging(self, name: str) -> Path:
        """``DIR/.mase-staging/name``, created empty."""
        root = self.out / STAGING
        root.mkdir(exist_ok=True)
        path = root / name
        if path.exists():
            shutil.rmtree(path)
        path.mkdir()
        return path

    def publish(self, config: dict, versions: dict) -> Path:
        """Write the manifest into the staged artefacts, then swap the staged design (or none:
        an old design of another run is removed) and artefacts in. Returns DIR/artifacts."""
        root = self.out / STAGING
        for name in PUBLISHED:
            self.check_replaceable(name)
        files = {}
        for name in PUBLISHED:
            staged = root / name
            if staged.is_dir():
                files.update({f"{name}/{rel}": digest for rel, digest in _hashes(staged).items()})
        manifest = {"version": 1, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "config_sha256": config_digest(config), "versions": versions, "files": files}
        write_atomic(root / "artifacts" / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        for name in PUBLISHED:
            self.claim(name)
            _swap(root / name if (root / name).is_dir() else None, self.out / name)
        with contextlib.suppress(OSError):
            root.rmdir()
        return self.out / "artifacts"


def config_digest(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def verify(out: Path) -> dict:
    """Check ``out/artifacts/manifest.json`` against the files of ``artifacts/`` and ``design/``;
    returns the manifest. RunFolderError names the first files that differ, are missing or
    were added (the folder holds parts of two runs) and what to do."""
    out = Path(out)
    path = out / "artifacts" / MANIFEST
    manifest = _read_json(path)
    if manifest is None:
        raise RunFolderError(f"{path} not found or not readable: these artefacts were not published by `mase run` "
                             "(or by a mase from before manifests), so nothing shows that they belong to one run; "
                             "run `mase run` again, or pass --no-verify to render them anyway")
    listed = manifest.get("files", {})
    actual = {}
    for name in PUBLISHED:
        folder = out / name
        if folder.is_dir() and not folder.is_symlink():
            actual.update({f"{name}/{rel}": d for rel, d in _hashes(folder).items()})
    actual.pop(f"artifacts/{MANIFEST}", None)
    changed = sorted(k for k in listed if k in actual and actual[k] != listed[k])
    missing = sorted(k for k in listed if k not in actual)
    added = sorted(k for k in actual if k not in listed)
    if changed or missing or added:
        parts = [f"{what}: {', '.join(v[:4])}{', ...' if len(v) > 4 else ''}"
                 for what, v in (("changed", changed), ("missing", missing), ("not in the manifest", added)) if v]
        raise RunFolderError(f"{out} does not match the manifest of its last published run ({path}): "
                             + "; ".join(parts) + ". The folder holds parts of different runs (a run stopped "
                             "while publishing, or a single-stage command such as `mase quantize` wrote into it); "
                             "run `mase run` again to publish one whole run")
    return manifest


def release_all() -> None:
    for rf in list(_held):
        rf.release()


def _swap(new: Path | None, target: Path) -> None:
    """Rename ``target`` aside, ``new`` in (if any), delete the old one."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rename(target, old / "d")
    if new is not None:
        os.rename(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _hashes(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            out[p.relative_to(folder).as_posix()] = h.hexdigest()
    return out


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return ""


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
