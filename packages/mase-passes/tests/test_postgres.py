"""Several search workers on one PostgreSQL study; one is killed with SIGKILL mid-trial.

A real server is started on loopback in a temporary directory (initdb + pg_ctl from the
Debian ``postgresql`` package; as root, the server runs as the ``postgres`` system user
because PostgreSQL refuses to run as root). The test is skipped, saying why, only where
the server binaries or the psycopg driver are missing; CI installs both.
"""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import optuna
import pytest

from mase_passes.storage import StorageError, StorageOptions, open_storage, redact, uses_heartbeat

HERE = Path(__file__).parent
N_TRIALS = 12


# --- the server ------------------------------------------------------------------------
def _pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("pg_ctl")
    return Path(which).parent if which else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    pytest.importorskip("psycopg", reason="psycopg 3 missing: pip install 'mase-passes[postgres]'")
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries missing (Debian package 'postgresql'; tools/bootstrap installs it)")
    as_user: list[str] = []
    root = tempfile.mkdtemp(prefix="mase-pg-")
    if os.geteuid() == 0:  # postgres refuses to run as root: use its system user
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    os.chmod(root, 0o755)
    data, log, port = f"{root}/data", f"{root}/server.log", _free_port()

    def run(*cmd):
        r = subprocess.run(as_user + [str(bindir / cmd[0]), *cmd[1:]], capture_output=True, text=True, timeout=120)
        if r.returncode:
            tail = Path(log).read_text()[-2000:] if Path(log).exists() else ""
            raise RuntimeError(f"{cmd[0]} failed: {r.stdout}{r.stderr}{tail}")

    # C locale: a CI image may name a locale in LANG that is not installed, and initdb refuses it.
    run("initdb", "-D", data, "-A", "trust", "-U", "mase", "--no-sync", "-E", "UTF8", "--locale=C")
    # small memory, shared memory in files (containers often have a tiny /dev/shm), no fsync
    run("pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "start",
        "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB "
              f"-c dynamic_shared_memory_type=mmap -c max_connections=30")
    try:
        yield f"postgresql://mase@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", data, "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def _trials(url: str) -> list[dict]:
    """Every trial of the 'pg' study straight from the tables: number, state, worker, values."""
    import psycopg

    con = psycopg.connect(url)
    try:
        cur = con.cursor()
        cur.execute("select to_regclass('trials')")
        if cur.fetchone()[0] is None:
            return []
        cur.execute("""
            select t.number, t.state, a.value_json,
                   (select count(*) from trial_params p where p.trial_id = t.trial_id)
            from trials t join studies s on s.study_id = t.study_id
            left join trial_user_attributes a on a.trial_id = t.trial_id and a.key = 'worker'
            where s.study_name = 'pg' order by t.number""")
        return [{"number": n, "state": st, "worker": json.loads(w) if w else None, "params": k}
                for n, st, w, k in cur.fetchall()]
    finally:
        con.close()


def _worker(url, out: Path, seed):
    out.mkdir()
    p = subprocess.Popen([sys.executable, str(HERE / "pg_worker.py"), url, str(out), str(N_TRIALS), str(seed)],
                         stdout=subprocess.DEVNULL, stderr=open(out / "stderr.txt", "w"))
    p.log = out / "stderr.txt"
    return p


def _tail(p) -> str:
    return f"worker {p.pid} exited with {p.returncode}:\n" + p.log.read_text()[-3000:]


# --- the multi-worker run ----------------------------------------------------------------
@pytest.mark.slow
def test_two_workers_one_killed_mid_trial_leave_a_complete_consistent_study(postgres_url, tmp_path):
    a = _worker(postgres_url, tmp_path / "a", 1)
    b = _worker(postgres_url, tmp_path / "b", 2)
    killed = None
    try:
        deadline = time.time() + 180  # both import torch and trace first: start them together
        while not ((tmp_path / "a" / "ready").exists() and (tmp_path / "b" / "ready").exists()):
            assert a.poll() is None and b.poll() is None, _tail(a if a.poll() is not None else b)
            assert time.time() < deadline, "the workers were not ready within 180 s"
            time.sleep(0.05)
        (tmp_path / "go").touch()
        deadline = time.time() + 120
        while killed is None and time.time() < deadline:
            assert a.poll() is None and b.poll() is None, _tail(a if a.poll() is not None else b)
            rows = _trials(postgres_url)
            mine = [r for r in rows if r["worker"] and r["worker"].endswith(f":{a.pid}")]
            done = [r for r in mine if r["state"] == "COMPLETE"]
            # a trial with all its formats drawn is in its (0.6 s) evaluation: kill it there
            running = [r for r in mine if r["state"] == "RUNNING" and done and r["params"] == done[0]["params"]]
            if running:
                os.kill(a.pid, signal.SIGKILL)  # mid-trial: its heartbeat thread dies with it
                killed = running[-1]["number"]
                break
            time.sleep(0.05)
        assert killed is not None, "worker A never completed a trial and started the next within 120 s"
        a.wait()
        before = {r["number"]: r["state"] for r in _trials(postgres_url)}
        b.wait(timeout=120)
        assert b.returncode == 0, _tail(b)
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
                p.wait()

    study = optuna.load_study(study_name="pg", storage=postgres_url)
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    states = [t.state for t in trials.values()]
    assert optuna.trial.TrialState.RUNNING not in states  # nothing RUNNING for good
    assert states.count(optuna.trial.TrialState.COMPLETE) >= N_TRIALS  # the study finished its budget
    # no completed trial lost: everything complete when A died is still complete
    for n, st in before.items():
        if st == "COMPLETE":
            assert trials[n].state == optuna.trial.TrialState.COMPLETE, n
    # the killed trial was failed by B's heartbeat check and re-run with the same parameters
    assert trials[killed].state == optuna.trial.TrialState.FAIL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retries = [t for t in trials.values()
                   if optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == killed]
    assert len(retries) == 1 and retries[0].state == optuna.trial.TrialState.COMPLETE
    assert retries[0].params == trials[killed].params
    assert retries[0].user_attrs["worker"].endswith(f":{b.pid}")
    # both workers' trials are in one study, and the survivor wrote the outputs
    workers = {t.user_attrs["worker"].rsplit(":", 1)[1] for t in trials.values() if "worker" in t.user_attrs}
    assert workers == {str(a.pid), str(b.pid)}
    assert (tmp_path / "b" / "best_config.toml").is_file() and (tmp_path / "b" / "pareto.csv").is_file()


def test_a_storage_on_the_server_has_heartbeats_and_a_sqlite_one_does_not(postgres_url, tmp_path):
    assert uses_heartbeat(open_storage(postgres_url))
    assert not uses_heartbeat(open_storage(f"sqlite:///{tmp_path / 's.db'}"))


# --- errors (no server needed) ------------------------------------------------------------
def test_a_running_trial_whose_worker_died_before_its_first_heartbeat_is_failed_and_retried(postgres_url,
                                                                                              monkeypatch):
    """Optuna's stale-trial check skips a RUNNING trial with no heartbeat row (its worker died between
    taking the trial and the first beat), so it stayed RUNNING for good (found by the soak benchmark,
    benchmarks/soak_postgres.py). Such a trial older than grace + NO_HEARTBEAT_MARGIN is failed and
    retried like one whose heartbeat stopped."""
    from mase_passes.passes import search as search_module

    storage = open_storage(postgres_url, StorageOptions(heartbeat_interval=1, grace_period=2))
    study = optuna.create_study(study_name="silent", storage=storage)
    trial = study.ask({"m": optuna.distributions.IntDistribution(2, 8)})  # RUNNING, never a heartbeat
    search_module._fail_dead_workers(study, storage, grace_period=2)
    assert study.get_trials()[0].state == optuna.trial.TrialState.RUNNING  # young: its worker may be starting
    monkeypatch.setattr(search_module, "NO_HEARTBEAT_MARGIN", -5)  # as if the margin had passed
    search_module._fail_dead_workers(study, storage, grace_period=2)
    states = [t.state for t in study.get_trials()]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.WAITING]  # failed, and a retry queued
    assert study.get_trials()[1].params == {"m": trial.params["m"]}  # the same configuration again


def test_an_unreachable_server_is_a_clear_error_without_the_password():
    url = f"postgresql://mase:s3cret@127.0.0.1:{_free_port()}/db"
    pytest.importorskip("psycopg")
    with pytest.raises(StorageError, match=r"cannot open 'postgresql\+psycopg://mase:\*\*\*@127\.0\.0\.1.*after 1 attempt") as e:
        open_storage(url, StorageOptions(connect_attempts=1))
    assert "s3cret" not in str(e.value)


@pytest.mark.parametrize("url, match", [
    ("study.db", "not a database URL"),
    ("redis://localhost/0", "unsupported URL scheme 'redis'"),
])
def test_bad_urls_are_named(url, match):
    with pytest.raises(StorageError, match=match):
        open_storage(url)


def test_heartbeat_settings_are_checked():
    with pytest.raises(ValueError, match="grace_period .* at least twice heartbeat_interval"):
        StorageOptions(heartbeat_interval=10, grace_period=15)
    with pytest.raises(ValueError, match="heartbeat_interval must be a positive integer"):
        StorageOptions(heartbeat_interval=0)


def test_redact_hides_only_the_password():
    assert redact("postgresql://u:pw@h:5/d") == "postgresql://u:***@h:5/d"
    assert redact("postgresql://u@h/d") == "postgresql://u@h/d"
