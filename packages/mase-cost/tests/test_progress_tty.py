"""A sweep draws a tqdm bar only on a terminal; in a log it writes one line per finished point
(issue 22, item 6)."""

import io
import sys

from mase_cost.sweep import _Progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _run(monkeypatch, stream, enabled=True):
    monkeypatch.setattr(sys, "stderr", stream)
    p = _Progress(2, enabled)
    p.step({"key": "mase_mxint_cast/a", "status": "ok"})
    p.step({"key": "mase_mxint_cast/b", "status": "failed"})
    p.close()
    return stream.getvalue()


def test_a_log_gets_one_line_per_point_and_no_bar_frames(monkeypatch):
    out = _run(monkeypatch, io.StringIO())
    assert out.splitlines() == ["[1/2] mase_mxint_cast/a ok", "[2/2] mase_mxint_cast/b failed"]
    assert "\r" not in out


def test_a_terminal_gets_the_bar(monkeypatch):
    out = _run(monkeypatch, _Terminal())
    assert "\r" in out and "2/2" in out and "synth" in out


def test_progress_off_writes_nothing(monkeypatch):
    assert _run(monkeypatch, _Terminal(), enabled=False) == ""
