"""The fingerprint of a search study: what its trials' scores depend on besides their parameters.

``Search.fingerprint`` builds it (the space, the objective, a digest of the search samples);
``check_fingerprint`` stores it in a new Optuna study (a study user attribute) and refuses to
resume a study whose stored fingerprint differs, naming what changed. Without it, a run with a
new mantissa range or eq. 4 weight resumed the old study and picked an old trial, scored under
the old settings, while its report stated the new ones (issue 18, item 1).

Kept free of optuna / torch imports at module level: the ``mase`` command imports the error class.
"""

from __future__ import annotations

FINGERPRINT_VERSION = 1
FINGERPRINT_ATTR = "mase_fingerprint"


class StudyMismatchError(ValueError):
    """A stored study was made with other search settings than the resuming run's; its trials
    were scored under those, so resuming would mix two searches."""


def batches_digest(batches: list) -> str:
    """sha256 over the search samples (inputs and labels, in order): a resumed study must be
    scored on the same samples. Tensors are hashed by dtype, shape and bytes."""
    import hashlib

    import torch

    h = hashlib.sha256()

    def feed(x):
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(x, dict):
            for k in sorted(x):
                h.update(f"K{k!r}".encode())
                feed(x[k])
        elif isinstance(x, (list, tuple)):
            h.update(f"L{len(x)}".encode())
            for v in x:
                feed(v)
        else:
            h.update(f"V{x!r}".encode())
    feed(list(batches))
    return h.hexdigest()


def check_fingerprint(study, fingerprint: dict, url: str) -> None:
    """Store ``fingerprint`` in a new study; refuse a stored study made with other settings
    (StudyMismatchError saying what changed and how to start a new study). A study from before
    fingerprints (trials, no fingerprint) is adopted with a warning."""
    import json
    import logging

    from mase_passes.storage import redact

    fingerprint = json.loads(json.dumps(fingerprint))  # what the storage gives back (lists, str keys)
    stored = study.user_attrs.get(FINGERPRINT_ATTR)
    if stored is None:
        if study.trials:
            logging.getLogger("mase").warning(
                "search: study %r in %s has %d trial(s) but no record of its search settings (made before "
                "fingerprints); resuming it as if they were the current ones", study.study_name, redact(url),
                len(study.trials))
        study.set_user_attr(FINGERPRINT_ATTR, fingerprint)
        return
    changes = fingerprint_changes(stored, fingerprint)
    if not changes:
        return
    raise StudyMismatchError(
        f"search: study {study.study_name!r} in {redact(url)} was made with other search settings; its "
        f"{len(study.trials)} trial(s) were scored under them, so it cannot be resumed with these. Changed: "
        + "; ".join(changes) + ". To start a new study, give it a new name (mase: [search] study_name, e.g. "
        f"--set search.study_name='\"{study.study_name}_2\"'; Search(study_name=...)) or another storage / "
        "output folder; to resume this one, restore its settings.")


def fingerprint_changes(old: dict, new: dict, shown: int = 3) -> list[str]:
    """Human-readable differences between two fingerprints (at most ``shown`` examples per part)."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if key == "space" and isinstance(a, dict) and isinstance(b, dict):
            out += _dict_changes("searched tensors", a, b, shown, lambda v: "{}..{}".format(*v["range"])
                                 if isinstance(v, dict) and "range" in v else repr(v))
        elif key == "fixed" and isinstance(a, dict) and isinstance(b, dict):
            out += _dict_changes("fixed widths", a, b, shown, repr)
        elif key == "samples":
            out.append("the search samples (inputs or labels) differ")
        else:
            out.append(f"{key} {a!r} -> {b!r}")
    return out


def _dict_changes(what: str, a: dict, b: dict, shown: int, fmt) -> list[str]:
    changed = [k for k in a if k in b and a[k] != b[k]]
    gone = [k for k in a if k not in b]
    added = [k for k in b if k not in a]
    out = []
    if changed:
        ex = ", ".join(f"{k} {fmt(a[k])} -> {fmt(b[k])}" for k in changed[:shown])
        out.append(f"{what}: {len(changed)} changed ({ex}{', ...' if len(changed) > shown else ''})")
    if gone:
        out.append(f"{what}: {len(gone)} no longer there ({', '.join(gone[:shown])}"
                   f"{', ...' if len(gone) > shown else ''})")
    if added:
        out.append(f"{what}: {len(added)} new ({', '.join(added[:shown])}{', ...' if len(added) > shown else ''})")
    return out
