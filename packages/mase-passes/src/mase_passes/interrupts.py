"""Ctrl-C during an Optuna study, delivered only where the study can take it.

Python raises KeyboardInterrupt wherever the main thread happens to be when SIGINT arrives. In
the middle of Optuna's bookkeeping that loses the trial: a KeyboardInterrupt inside
``_tell_with_warning`` (a BaseException, not caught there) reaches a ``finally`` that reads a
variable never assigned, so the run dies with UnboundLocalError instead of the interrupt, and
the trial may stay RUNNING. :class:`DeferredInterrupt` raises at once only inside the windows
its owner marks (the trial's computation, where Optuna records the trial as FAIL and re-raises);
a SIGINT anywhere else is held and raised at the next safe point: the next window, the
callback after a trial's result is stored, or the end of the study.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class DeferredInterrupt:
    """Context manager around ``study.optimize``; a no-op off the main thread or when someone
    else has installed their own SIGINT handler (theirs stays in charge)."""

    def __init__(self):
        self.pending = False
        self._inside = False
        self._previous = None

    def __enter__(self) -> "DeferredInterrupt":
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        if self.pending and exc_type is None:  # arrived while the last result was being stored
            raise KeyboardInterrupt

    def _handle(self, signum, frame) -> None:
        if self._inside:
            raise KeyboardInterrupt
        self.pending = True

    def raise_pending(self, *_) -> None:
        """Raise a held interrupt; usable as an Optuna callback (study, trial)."""
        if self.pending:
            raise KeyboardInterrupt

    @contextmanager
    def interruptible(self):
        """The window where an interrupt is raised at once (a held one is raised on entry)."""
        self.raise_pending()
        self._inside = True
        try:
            yield
        finally:
            self._inside = False
