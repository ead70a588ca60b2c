"""mase emit CONFIG: quantize with the chosen configuration and run the hardware stages.

The configuration is OUT/search/best_config.toml when a search has run there, else
[quantize] config. Then parallelize (per-operator parallelism under the [hardware] budget,
estimated area and throughput), emit (SystemVerilog project folder in OUT/design),
simulate and synthesize as [hardware] asks.
"""

from __future__ import annotations

from mase_passes.cli import hardware
from mase_passes.cli import stages as st
from mase_passes.cli.prepare import prepare
from mase_passes.cli.progress import Stages
from mase_passes.cli.schema import RunConfigError

HELP = "quantize with the chosen config and emit the hardware design (OUT/design)"


def add_arguments(p) -> None:
    from mase_passes.cli.main import add_config_arguments
    add_config_arguments(p)


def main(args, stages: Stages) -> int:
    from mase_passes.cli.prepare import check
    cfg, _ = check(args)
    best = cfg.out_dir / "search" / "best_config.toml"
    conf = str(best) if best.is_file() else cfg.quantize["config"]
    if conf is None:
        raise RunConfigError(f"{args.config}: no configuration to emit: run `mase search` first "
                             f"({best} does not exist) or give [quantize] config")
    hardware.warn_unavailable(cfg.hardware)
    p = prepare(args, stages, profile=False)
    p.chosen = st.quantize_chosen(p.graph, p.wl, conf, cfg.quantize, stages)
    with stages.stage("hardware") as s:
        info = hardware.run(p, {}, stages)
        s.summary = hardware.summary(info)
    if info.get("design_dir"):
        print(info["design_dir"])
    return 0 if info.get("status") in ("done", "skipped") else 1
