"""mase trace CONFIG: load the model of [model], trace it into a mase_ir graph, save it.

Writes OUT/graph/ (the graph's text form and weights, mase_ir.load reads it back) and prints
the graph summary (nodes, op histogram, parameters). With --profile, also runs the profile
pass on the calibration samples and writes OUT/artifacts/variance.png.
"""

from __future__ import annotations

from mase_passes.cli import device as dev
from mase_passes.cli.prepare import prepare
from mase_passes.cli.progress import Stages

HELP = "trace the model into a mase_ir graph (OUT/graph) and print its summary"


def add_arguments(p) -> None:
    from mase_passes.cli.main import add_config_arguments
    add_config_arguments(p)
    p.add_argument("--profile", action="store_true", help="also profile activations (variance plot)")


def main(args, stages: Stages) -> int:
    p = prepare(args, stages, profile=args.profile)
    out = p.folder.claim("graph")
    with stages.stage("save") as s:
        dev.to_device(p.graph, dev.CPU).save(out)  # weights saved from the host
        s.summary = str(out)
    print(p.graph.summary())
    print(out)
    return 0
