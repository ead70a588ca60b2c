"""``mase``: the co-design flow from the command line.

    mase run examples/minilm_wordnet.toml        # trace, profile, compare, search, choose, hardware, report
    mase check CONFIG                            # validate a config, do no work
    mase trace | quantize | search | emit CONFIG # one stage (and what it needs) on its own
    mase report OUT_DIR                          # re-render OUT_DIR/report from OUT_DIR/artifacts

Exit status (scripts can rely on it):

    0    success
    1    runtime failure (a stage failed, or a pass it needs is not installed)
    2    bad usage or configuration (nothing was run), or a config that no longer matches the
         stored study it would resume (nothing was added to the study)
    130  interrupted (Ctrl-C); finished search trials are kept and the next run resumes
    143  terminated (SIGTERM, what schedulers and containers send): handled like Ctrl-C
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import traceback

from mase_passes.cli import cmd_check, cmd_emit, cmd_quantize, cmd_report, cmd_run, cmd_search, cmd_trace
from mase_passes.cli.progress import Stages, setup_logging
from mase_passes.cli.schema import RunConfigError
from mase_passes.config import ConfigError
from mase_passes.fingerprint import StudyMismatchError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
COMMANDS = {"run": cmd_run, "check": cmd_check, "trace": cmd_trace, "quantize": cmd_quantize,
            "search": cmd_search, "emit": cmd_emit, "report": cmd_report}
EPILOG = """exit status: 0 ok, 1 runtime failure, 2 bad usage or config (nothing run), 130 interrupted
(Ctrl-C: finished search trials stay in the study storage; run the same command again to resume).
Config keys: examples/README.md in the repository, or `mase check --keys`."""

log = logging.getLogger("mase")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_mutually_exclusive_group()
    # SUPPRESS: a flag given before or after the subcommand is kept (the subparser's default
    # would otherwise overwrite the top-level value)
    g.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="only warnings and errors; no progress bars")
    g.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="debug detail, Optuna's per-trial log, tracebacks")
    parser = argparse.ArgumentParser(
        prog="mase", description="MASE: search mixed-precision Microscaling (MX) formats for a model and "
        "emit a dataflow accelerator for it.", epilog=EPILOG, parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    from mase_passes import __version__
    parser.add_argument("--version", action="version", version=f"mase (mase-passes) {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod in COMMANDS.items():
        p = sub.add_parser(name, help=mod.HELP, description=mod.__doc__, epilog=EPILOG, parents=[common],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
    return parser


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """CONFIG plus the overrides every config-driven subcommand takes."""
    p.add_argument("config", metavar="CONFIG", help="run config (TOML); see examples/README.md")
    p.add_argument("--out", metavar="DIR", help="output folder (overrides [output] dir)")
    p.add_argument("--set", metavar="SECTION.KEY=VALUE", action="append", default=[],
                   help="override one config key, value in TOML syntax (repeatable), e.g. --set search.trials=4")
    add_preset_arguments(p)


def add_preset_arguments(p: argparse.ArgumentParser) -> None:
    """--preset NAME and its shorthand --quick (the config file's [presets.NAME] tables)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--preset", metavar="NAME", help="merge the config's [presets.NAME] tables over it (before --set)")
    g.add_argument("--quick", dest="preset", action="store_const", const="quick",
                   help="= --preset quick: the config's short variant (examples/minilm_wordnet.toml: no "
                        "sensitivity, 8 trials, PTQ, about 1.5 min)")


def overrides(args) -> list[str]:
    return list(args.set) + ([f"output.dir={_toml_str(args.out)}"] if getattr(args, "out", None) else [])


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on bad usage
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args.quiet, args.verbose = getattr(args, "quiet", False), getattr(args, "verbose", False)
    if args.quiet and args.verbose:
        parser.error("--quiet and --verbose exclude each other")
    setup_logging(args.quiet, args.verbose)
    stages = Stages(quiet=args.quiet)
    try:
        return _run(args, stages)
    except (RunConfigError, ConfigError) as exc:
        log.error("mase %s: config error: %s", args.command, exc)
        return EXIT_USAGE
    except StudyMismatchError as exc:  # the config no longer matches the stored study: nothing was added to it
        log.error("mase %s: config error: %s", args.command, exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        log.error("mase %s: %s; finished search trials are kept in the study storage, "
                  "run the same command again to resume", args.command,
                  "terminated (SIGTERM)" if _terminated else "interrupted")
        return EXIT_TERMINATED if _terminated else EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - every failure becomes exit 1 with its message
        if args.verbose:
            traceback.print_exc()
        log.error("mase %s: error: %s: %s", args.command, type(exc).__name__, exc)
        return EXIT_FAILURE


_terminated = False


def _on_sigterm(signum, frame) -> None:
    """SIGTERM becomes SIGINT: the search holds it until a trial is stored (mase_passes.interrupts),
    the trial in hand is closed and the run exits 143 with the same message as Ctrl-C."""
    global _terminated
    _terminated = True
    signal.raise_signal(signal.SIGINT)


def _run(args, stages: Stages) -> int:
    from mase_passes.cli import runfolder
    global _terminated
    _terminated = False
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return COMMANDS[args.command].main(args, stages)
    finally:  # the output folder's lock (cli/runfolder.py); the kernel drops it too if we are killed
        runfolder.release_all()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
