"""The run report: ``report.md`` and ``report.html`` with the same content, plus PNGs.

    from mase_passes.report import write_report
    write_report(artifacts_dir, report_dir)   # renders artifacts_dir/results.json

The report is rendered from ``results.json`` (written by ``mase run``) and the files it names
(PNGs, the chosen config) in the same folder; ``mase report`` re-renders it. report.html embeds
its figures (data: URIs), so it is complete on its own; the PNGs are also copied beside it
for report.md. The folder is
written atomically: everything goes to a temporary sibling folder which then replaces the
old report by rename, so a reader never sees a half-written report.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from mase_passes.report.content import build
from mase_passes.report.document import to_html, to_markdown

__all__ = ["write_report", "render"]

FIGURE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg")  # embedded in report.html (document.data_uri)


def render(results: dict, figures: dict[str, bytes] | None = None) -> tuple[str, str]:
    """(Markdown, HTML) of one results dict; ``figures`` (file name -> bytes) are embedded in the HTML."""
    doc = build(results)
    return to_markdown(doc), to_html(doc, figures)


def write_report(artifacts: str | Path, report_dir: str | Path) -> Path:
    """Render ``artifacts/results.json`` into ``report_dir`` (replaced atomically); returns it."""
    artifacts, report_dir = Path(artifacts), Path(report_dir)
    results_file = artifacts / "results.json"
    if not results_file.is_file():
        raise FileNotFoundError(f"{results_file} not found: run `mase run` first (it writes the results "
                                f"the report is made from)")
    results = json.loads(results_file.read_text())
    sources = [_inside(artifacts, name, results_file) for name in results.get("files", [])]
    figures = {src.name: src.read_bytes() for src in sources if src.suffix.lower() in FIGURE_SUFFIXES
               and src.is_file()}
    md, html = render(results, figures)
    report_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{report_dir.name}.tmp-", dir=report_dir.parent))
    try:
        for src in sources:
            if src.is_file():
                shutil.copy2(src, tmp / src.name)
        shutil.copy2(results_file, tmp / "results.json")
        (tmp / "report.md").write_text(md, encoding="utf-8")
        (tmp / "report.html").write_text(html, encoding="utf-8")
        _readable(tmp)
        _replace(tmp, report_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report_dir


def _inside(artifacts: Path, name, results_file: Path) -> Path:
    """``artifacts / name`` for a plain file name of the artefacts folder; anything else (a path
    with a separator or '..', an absolute path, a link) is refused: results.json names only the
    run's own files, and a report must not copy ``../../etc/os-release`` into itself."""
    text = str(name)
    if not text or "/" in text or "\\" in text or text in (".", "..") or text.startswith("."):
        raise ValueError(f"{results_file}: 'files' entry {text!r} is not a file name inside {artifacts}; "
                         "results.json lists only the run's own artefacts (re-run `mase run` to write a clean one)")
    src = artifacts / text
    if src.is_symlink():
        raise ValueError(f"{results_file}: 'files' entry {text!r} is a symbolic link in {artifacts}; "
                         "the report copies only the run's own files")
    return src


def _readable(folder: Path) -> None:
    """mkdtemp makes a private (0700) folder; a report is for reading: the umask's usual modes."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for f in folder.iterdir():
        os.chmod(f, 0o666 & ~umask)


def _replace(new: Path, target: Path) -> None:
    """Swap ``new`` in at ``target``: rename the old folder aside, rename the new one in, delete
    the old. Each rename is atomic; a reader sees the old or the new complete report."""
    old = None
    if target.is_symlink():
        raise OSError(f"report: {target} is a symbolic link (to {os.readlink(target)}); the report is not written "
                      "through a link (that would replace the folder it points to): remove the link")
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rmdir(old)
        os.rename(target, old)
    os.rename(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
