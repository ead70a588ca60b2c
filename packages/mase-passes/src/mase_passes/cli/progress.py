"""Console output of the ``mase`` command: log levels, one summary line per stage, progress bars.

Everything goes to stderr (stdout carries only the final result line, so scripts can read
it). ``--quiet`` keeps warnings and errors only and hides progress bars; ``--verbose`` adds
debug detail and Optuna's per-trial log. Progress bars are drawn only when stderr is a
terminal: in a log file or a pipe their ``\r`` frames would be noise, and the stage lines
already say what finished. Each stage ends with one line

    [stage] <summary> (<seconds> s)

and its wall time is kept in ``Stages.timings`` for the report.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager

log = logging.getLogger("mase")


def setup_logging(quiet: bool, verbose: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False
    try:  # transformers prints load reports and warnings at INFO/WARNING; keep them for --verbose
        from transformers.utils import logging as hf_logging
        (hf_logging.set_verbosity_info if verbose else hf_logging.set_verbosity_error)()
        if not verbose:
            hf_logging.disable_progress_bar()
    except ImportError:
        pass


class Stages:
    """Stage bookkeeping: ``with stages.stage("trace") as s: ...; s.summary = "113 nodes"``."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        rec = _Stage(name)
        log.debug("[%s] start", name)
        t = time.perf_counter()
        yield rec
        dt = time.perf_counter() - t
        self.timings[name] = self.timings.get(name, 0.0) + dt
        log.info("[%s] %s (%.1f s)", name, rec.summary or "done", dt)

    def bar(self, total: int, desc: str, initial: int = 0):
        """A tqdm bar on stderr (hidden with --quiet, and when stderr is not a terminal)."""
        from tqdm.auto import tqdm
        return tqdm(total=total, initial=initial, desc=desc, disable=self.quiet or not is_terminal(sys.stderr),
                    file=sys.stderr, leave=False, dynamic_ncols=True)


def is_terminal(stream) -> bool:
    """Whether ``stream`` is an interactive terminal (False for files, pipes, closed or odd streams)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty(), or isatty() on a closed file
        return False


class _Stage:
    def __init__(self, name: str):
        self.name = name
        self.summary = ""
