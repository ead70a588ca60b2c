"""The ``mase`` command (console script ``mase = mase_passes.cli.main:main``).

One module per subcommand (``cmd_*.py``), the run config schema and its validation
(``schema.py``), the workload built from a config (``workload.py``), the stages shared by the
subcommands (``stages.py``, ``hardware.py``) and console output (``progress.py``).
"""
