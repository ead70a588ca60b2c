"""mase search CONFIG: the Optuna search of [search] on its own.

Runs (or resumes: same [search] storage and study_name) the study over per-tensor mantissa
widths, each trial a PTQ of the traced model scored on [search] samples of the validation data
(the builtin task's holdout glosses, a dataset's validation or train rows, the text windows that
are not evaluated; see cli/workload.py).
Writes OUT/search/: study.db (SQLite storage unless [search] storage is given),
best_config.toml, pareto.csv, pareto.png, history.png. Ctrl-C stops with exit status 130 and
keeps every finished trial; running the command again continues the study.
"""

from __future__ import annotations

from mase_passes.cli import stages as st
from mase_passes.cli.prepare import prepare
from mase_passes.cli.progress import Stages
from mase_passes.cli.schema import RunConfigError
from mase_passes.passes.evaluate import reference_logits

HELP = "run or resume the mixed-precision search (OUT/search)"


def add_arguments(p) -> None:
    from mase_passes.cli.main import add_config_arguments
    add_config_arguments(p)


def main(args, stages: Stages) -> int:
    from mase_passes.cli.prepare import check
    cfg, _ = check(args)
    if cfg.search["trials"] < 1:
        raise RunConfigError(f"{args.config}: [search] trials = 0; mase search needs trials >= 1")
    p = prepare(args, stages, profile=False)
    out = p.folder.claim("search")
    with stages.stage("search") as s:
        reference = reference_logits(p.graph, p.wl.search)
        _, info, _ = st.search(p.graph, p.wl, cfg.search, out, reference, stages, args.verbose, hw=cfg.hardware,
                               seeding=st.seeding(cfg))
        s.summary = (f"{info['trials']} trials, best trial {info['best_trial']}: {p.wl.metric} "
                     f"{info['best_search_metric']:.4f} at {info['best_search_bits']:.2f} bits")
    print(out / "best_config.toml")
    return 0
