"""Progress bars draw only on a terminal: a log file or pipe gets no ``\\r`` frames (issue 22, item 6)."""

import io
import sys

from mase_passes.cli.progress import Stages, is_terminal


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _draw(monkeypatch, stream, quiet=False):
    monkeypatch.setattr(sys, "stderr", stream)
    bar = Stages(quiet=quiet).bar(5, "profile")
    for _ in range(5):
        bar.update(1)
    bar.close()
    return stream.getvalue()


def test_no_bar_frames_when_stderr_is_a_file(monkeypatch):
    assert _draw(monkeypatch, io.StringIO()) == ""


def test_a_bar_is_drawn_when_stderr_is_a_terminal(monkeypatch):
    out = _draw(monkeypatch, _Terminal())
    assert "\r" in out and "profile:" in out and "/5 [" in out  # tqdm redraws at most every 0.1 s


def test_quiet_hides_the_bar_on_a_terminal_too(monkeypatch):
    assert _draw(monkeypatch, _Terminal(), quiet=True) == ""


def test_a_closed_or_odd_stream_is_not_a_terminal():
    closed = io.StringIO()
    closed.close()
    assert not is_terminal(closed) and not is_terminal(object()) and is_terminal(_Terminal())
