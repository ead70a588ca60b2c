"""mase report OUT: re-render OUT/report (report.md, report.html, PNGs) from OUT/artifacts.

``mase run`` writes OUT/artifacts/results.json and the files the report shows; this command
renders them again (e.g. after an upgrade of the report layout) without re-running anything.
The report folder is replaced atomically. First the run's manifest (OUT/artifacts/manifest.json,
written when `mase run` publishes a run) is checked against the files of OUT/artifacts and
OUT/design: a folder that holds parts of two runs is refused, naming the files that differ
(--no-verify renders it anyway, e.g. a run from before manifests).
"""

from __future__ import annotations

from pathlib import Path

from mase_passes.cli.progress import Stages

HELP = "re-render the report of a finished run from OUT/artifacts"


def add_arguments(p) -> None:
    p.add_argument("out", metavar="OUT", help="the output folder of a `mase run`")
    p.add_argument("--no-verify", action="store_true",
                   help="render even if OUT/artifacts has no manifest or does not match it")


def main(args, stages: Stages) -> int:
    from mase_passes.cli import runfolder
    from mase_passes.report import write_report
    out = Path(args.out)
    if not (out / "artifacts" / "results.json").is_file():
        raise FileNotFoundError(f"{out / 'artifacts' / 'results.json'} not found: run `mase run` first (it writes "
                                "the results the report is made from)")
    folder = runfolder.RunFolder(out).acquire("report")
    if not args.no_verify:
        runfolder.verify(out)
    with stages.stage("report") as s:
        report = write_report(out / "artifacts", folder.claim("report"))
        s.summary = str(report)
    print(report / "report.html")
    return 0
