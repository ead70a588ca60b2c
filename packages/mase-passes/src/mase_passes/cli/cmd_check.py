"""mase check [CONFIG]: find what would make ``mase run`` fail, before it does any heavy work.

Checks every key (type, allowed values, did-you-mean for unknown keys), the model checkpoint
(family from its config.json, tokenizer files), the dataset (columns, enough samples for
one batch), the optional Python modules the run will import (naming the extra to install),
and then -- after loading and tracing the model, as the run's first seconds do -- that the
``[hardware] scope`` maps onto mase_hwlib and fits the budget by the cost model's estimate
(cli/feasibility.py says which designs are estimated). ``--config-only`` stops before the
model is loaded. Problems are listed together, exit status 2; warnings do not fail.
With --keys, lists every config key with its default and meaning.
"""

from __future__ import annotations

import logging
import sys

from mase_passes.cli.progress import Stages
from mase_passes.cli.schema import REQUIRED, SCHEMA

HELP = "find what would make `mase run` fail (config, files, extras, hardware fit); --keys lists every key"
log = logging.getLogger("mase")


def add_arguments(p) -> None:
    p.add_argument("config", metavar="CONFIG", nargs="?", help="run config (TOML)")
    p.add_argument("--out", metavar="DIR", help="output folder (overrides [output] dir)")
    p.add_argument("--set", metavar="SECTION.KEY=VALUE", action="append", default=[],
                   help="override one config key (repeatable)")
    from mase_passes.cli.main import add_preset_arguments
    add_preset_arguments(p)
    p.add_argument("--keys", action="store_true", help="print every config key with its default and meaning")
    p.add_argument("--config-only", action="store_true",
                   help="check the config, its files and the extras only (no model load, no hardware estimate)")


def main(args, stages: Stages) -> int:
    if args.keys:
        for section, keys in SCHEMA.items():
            print(f"[{section}]")
            for name, k in keys.items():
                default = "required" if k.default is REQUIRED else repr(k.default)
                print(f"  {name} ({k.type}, default {default}): {k.doc}")
        return 0
    if args.config is None:
        print("mase check: give a CONFIG or --keys", file=sys.stderr)
        return 2
    from mase_passes.cli.feasibility import Findings, hardware_problems, missing_extras
    from mase_passes.cli.prepare import check
    cfg, family = check(args)
    found = Findings(errors=missing_extras(cfg, family))
    if not found.errors and not args.config_only:  # the model cannot load without its extras
        with stages.stage("check hardware") as s:
            hw = hardware_problems(cfg, family)
            s.summary = f"{len(hw.errors)} problems, {len(hw.warnings)} warnings"
        found.errors += hw.errors
        found.warnings += hw.warnings
    for w in found.warnings:
        log.warning("warning: %s", w)
    if found.errors:
        for e in found.errors:
            print(f"mase check: {e}", file=sys.stderr)
        return 2
    print(f"{args.config}: ok (model {cfg.model['name']}, family {family}, dataset {cfg.dataset['name']}, "
          f"device {cfg.model['device']}, output {cfg.out_dir})")
    return 0
