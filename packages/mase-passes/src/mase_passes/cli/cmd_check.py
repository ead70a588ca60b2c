"""mase check [CONFIG]: validate a run config and its files without doing any work.

Checks every key (type, allowed values, did-you-mean for unknown keys), the model checkpoint
(family from its config.json, tokenizer files), and the dataset (columns, enough samples for
one batch). With --keys, lists every config key with its default and meaning.
"""

from __future__ import annotations

import sys

from mase_passes.cli.progress import Stages
from mase_passes.cli.schema import REQUIRED, SCHEMA

HELP = "validate a config (no work); --keys lists every key"


def add_arguments(p) -> None:
    p.add_argument("config", metavar="CONFIG", nargs="?", help="run config (TOML)")
    p.add_argument("--out", metavar="DIR", help="output folder (overrides [output] dir)")
    p.add_argument("--set", metavar="SECTION.KEY=VALUE", action="append", default=[],
                   help="override one config key (repeatable)")
    p.add_argument("--keys", action="store_true", help="print every config key with its default and meaning")


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
    from mase_passes.cli.prepare import check
    cfg, family = check(args)
    print(f"{args.config}: ok (model {cfg.model['name']}, family {family}, dataset {cfg.dataset['name']}, "
          f"device {cfg.model['device']}, output {cfg.out_dir})")
    return 0
