"""mase report OUT: re-render OUT/report (report.md, report.html, PNGs) from OUT/artifacts.

``mase run`` writes OUT/artifacts/results.json and the files the report shows; this command
renders them again (e.g. after an upgrade of the report layout) without re-running anything.
The report folder is replaced atomically.
"""

from __future__ import annotations

from pathlib import Path

from mase_passes.cli.progress import Stages

HELP = "re-render the report of a finished run from OUT/artifacts"


def add_arguments(p) -> None:
    p.add_argument("out", metavar="OUT", help="the output folder of a `mase run`")


def main(args, stages: Stages) -> int:
    from mase_passes.report import write_report
    out = Path(args.out)
    with stages.stage("report") as s:
        report = write_report(out / "artifacts", out / "report")
        s.summary = str(report)
    print(report / "report.html")
    return 0
