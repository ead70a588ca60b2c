"""Ctrl-C (SIGINT) during `mase run`'s search: exit status 130, the Optuna storage consistent
(finished trials kept, none left RUNNING), and a second `mase run` resumes to the full budget."""

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the tests run with --import-mode=importlib
from cli_models import bert_checkpoint, csv_dataset, write_config  # noqa: E402


def complete_trials(db: Path) -> int:
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("select count(*) from trials where state = 'COMPLETE'").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet, or locked for a moment
        return 0


@pytest.mark.slow
def test_sigint_keeps_the_study_and_run_resumes(tmp_path):
    ckpt = bert_checkpoint(tmp_path / "bert")
    data = csv_dataset(tmp_path / "d.csv")
    out = tmp_path / "out"
    budget = 400  # far more than finish before the interrupt
    cfg = write_config(tmp_path / "run.toml", str(ckpt), str(data), str(out),
                       dataset={"text_column": "sentence"}, search={"trials": budget},
                       report={"compare": ["MXInt8"]})
    db = out / "search" / "study.db"
    cmd = [sys.executable, "-m", "mase_passes.cli.main", "run", str(cfg), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while complete_trials(db) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "resume" in err
    assert not (out / "report").exists()  # no report of an unfinished run

    study = optuna.load_study(study_name="mase", storage=f"sqlite:///{db}")
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.RUNNING not in states  # the interrupted trial was closed
    kept = {t.number: t.values for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE}
    assert len(kept) >= 3

    # resume with a budget of finished + 2: only 2 new trials run, the finished ones are untouched
    target = len(kept) + 2
    done = subprocess.run(cmd + ["--set", f"search.trials={target}"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name="mase", storage=f"sqlite:///{db}")
    complete = {t.number: t.values for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE}
    assert len(complete) == target
    assert all(complete[n] == v for n, v in kept.items())
    res = json.loads((out / "report" / "results.json").read_text())
    assert res["search"]["resumed_from"] == len(kept) and res["search"]["trials"] == target
    assert "resumed with" in (out / "report" / "report.md").read_text()


@pytest.mark.slow
def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    """What schedulers and containers send: exit 143 (not death by signal, -15), the trial in hand
    closed (none left RUNNING), the finished ones kept, the folder's lock released."""
    ckpt = bert_checkpoint(tmp_path / "bert")
    data = csv_dataset(tmp_path / "d.csv")
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "run.toml", str(ckpt), str(data), str(out),
                       dataset={"text_column": "sentence"}, search={"trials": 400}, report={"compare": ["MXInt8"]})
    db = out / "search" / "study.db"
    proc = subprocess.Popen([sys.executable, "-m", "mase_passes.cli.main", "run", str(cfg), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while complete_trials(db) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "terminated (SIGTERM)" in err and "resume" in err
    study = optuna.load_study(study_name="mase", storage=f"sqlite:///{db}")
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.RUNNING not in states
    assert states.count(optuna.trial.TrialState.COMPLETE) >= 2
    from mase_passes.cli.runfolder import RunFolder
    RunFolder(out).acquire("run").release()  # free again
