"""The first stages every config-driven subcommand shares: check, load, trace (and profile)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from mase_passes.cli import stages as st
from mase_passes.cli.progress import Stages
from mase_passes.cli.schema import RunConfig, load_run_config
from mase_passes.cli.workload import Workload, load, preflight

log = logging.getLogger("mase")


@dataclass
class Prepared:
    cfg: RunConfig
    wl: Workload
    graph: object
    artifacts: Path
    results: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)   # compare: FP32 and the uniform configurations
    chosen: object = None                      # the chosen quantized graph
    plain: object = None                       # the chosen graph of the search without hardware terms
    folder: object = None                      # the locked output folder (cli/runfolder.py)
    design_dir: Path | None = None             # where the hardware stage emits (staged for mase run)


def check(args) -> tuple[RunConfig, str]:
    """Config, overrides and files checked: raises RunConfigError before any work."""
    from mase_passes.cli.main import overrides
    cfg = load_run_config(args.config, overrides(args), preset=getattr(args, "preset", None))
    return cfg, preflight(cfg)


def prepare(args, stages: Stages, profile: bool = True, staged: bool = False) -> Prepared:
    """Check, lock the output folder (a second command on it is refused, naming the holder),
    load, trace, move model, graph and batches to ``[model] device`` (cli/device.py) (and
    profile). ``staged`` (mase run): artefacts and design go to the folder's
    staging area and are published at the end (cli/runfolder.py)."""
    from mase_passes.cli.runfolder import RunFolder
    cfg, family = check(args)
    folder = RunFolder(cfg.out_dir).acquire(getattr(args, "command", "run"))
    if staged:
        artifacts = folder.staging("artifacts")
    else:
        artifacts = folder.claim("artifacts")
        artifacts.mkdir(parents=True, exist_ok=True)
    threads = os.environ.get("MASE_THREADS")
    if threads:  # torch picks all cores; a shared machine may want fewer
        import torch
        torch.set_num_threads(int(threads))
    with stages.stage("load") as s:
        wl = load(cfg, family)
        s.summary = f"{wl.info['model'].split(' (')[0]}; {wl.info['eval_samples']} evaluation samples"
    with stages.stage("trace") as s:
        graph = st.trace(wl)  # on the CPU, where the model was loaded
        device = cfg.model["device"]
        wl, graph = st.place(wl, graph, device)  # everything after runs on [model] device
        info = st.graph_info(graph, wl)
        info["device"] = device
        s.summary = (f"{info['nodes']} nodes, {info['tensors']} quantizable tensors, "
                     f"traced vs eager max |diff| {info['trace_max_abs_diff']:.2g}, on {device}")
    p = Prepared(cfg, wl, graph, artifacts, {"graph": info, "workload": wl.info}, folder=folder,
                 design_dir=artifacts.parent / "design" if staged else None)
    if profile:
        with stages.stage("profile") as s:
            p.results["profile"] = st.profile(graph, wl, artifacts, stages)
            s.summary = f"{p.results['profile']['activations']} activations -> {artifacts / 'variance.png'}"
    return p
