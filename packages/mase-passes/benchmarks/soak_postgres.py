"""Soak benchmark (not in CI): N search workers on one PostgreSQL study, one killed with SIGKILL
every ~20 s and restarted, until the study holds the trials asked for. Reports what a lost,
duplicated or stuck trial would show (issue 18, "Done when"):

    python3 -m hatch run python packages/mase-passes/benchmarks/soak_postgres.py [--workers 4] [--trials 200]

* lost: a trial seen COMPLETE during the run that is not COMPLETE with the same values at the end;
* duplicated: two COMPLETE trials with the same parameters (the random sampler over 7 widths of
  2..8 draws a repeat with probability ~1e-4 per pair, so a repeat is a re-run of one trial: a
  killed trial retried twice, or a retry that ran beside its original);
* stuck RUNNING: trials still RUNNING once every worker has exited and the stale ones are failed.

A server is started on loopback in a temporary folder (initdb + pg_ctl; as root, as the postgres
user), and removed at the end. Each worker is the tiny MLP with a 0.6 s area term (weight 0, so
the objective is unchanged), long enough that most kills land mid-trial. Heartbeat 1 s, grace 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"

WORKER = r"""
import sys, time
sys.path.insert(0, sys.argv[5])
import mase_ir, torch
from conftest import TinyMLP
from mase_passes.passes.search import Search

def slow_area(conf):
    time.sleep(0.6)
    return float(len(conf["node"]))

url, out, n_trials, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)
torch.manual_seed(0)
model = TinyMLP().eval()
x = torch.randn(16, 32)
g = mase_ir.trace(model, {"x": x})
with torch.no_grad():
    y = model(x).argmax(-1)
Search(n_trials=n_trials, storage=url, study_name="soak", out_dir=out, sampler="random", seed=seed,
       area_fn=slow_area, heartbeat_interval=1, grace_period=2).apply(g, [({"x": x}, y)])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: str) -> tuple[str, callable]:
    bindir = Path(shutil.which("pg_ctl") or "").parent
    import glob
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        bindir = Path(found[-1]).parent
    as_user = []
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    os.chmod(root, 0o755)
    data, log, port = f"{root}/data", f"{root}/server.log", _free_port()

    def run(*cmd):
        r = subprocess.run(as_user + [str(bindir / cmd[0]), *cmd[1:]], capture_output=True, text=True, timeout=120)
        if r.returncode:
            raise RuntimeError(f"{cmd[0]} failed: {r.stdout}{r.stderr}")
    run("initdb", "-D", data, "-A", "trust", "-U", "mase", "--no-sync", "-E", "UTF8", "--locale=C")
    run("pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "start",
        "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB "
              f"-c dynamic_shared_memory_type=mmap -c max_connections=40")
    return f"postgresql://mase@127.0.0.1:{port}/postgres", lambda: run("pg_ctl", "-D", data, "-m", "fast", "stop")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--kill-every", type=float, default=20.0, help="mean seconds between kills (uniform 0.5x..1.5x)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=float, default=1800.0, help="give up after this many seconds")
    args = ap.parse_args()

    import optuna
    from mase_passes.passes.search import _fail_dead_workers
    from mase_passes.storage import StorageOptions, open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = random.Random(args.seed)
    root = tempfile.mkdtemp(prefix="mase-soak-")
    url, stop_server = start_server(root)
    procs: dict[int, subprocess.Popen] = {}
    next_seed = [0]

    def spawn(slot: int) -> None:
        out = Path(root) / f"w{slot}"
        out.mkdir(exist_ok=True)
        procs[slot] = subprocess.Popen([sys.executable, "-c", WORKER, url, str(out), str(args.trials),
                                        str(1000 * next_seed[0]), str(TESTS)],
                                       stdout=subprocess.DEVNULL, stderr=open(out / "stderr.log", "a"))
        next_seed[0] += 1

    seen: dict[int, tuple] = {}
    kills = killed_running = 0
    start = time.time()
    try:
        for slot in range(args.workers):
            spawn(slot)
        storage = None
        next_kill = time.time() + rng.uniform(0.5, 1.5) * args.kill_every
        while time.time() - start < args.limit:
            time.sleep(0.5)
            try:
                storage = storage or open_storage(url)
                study = optuna.load_study(study_name="soak", storage=storage)
                trials = study.get_trials(deepcopy=False)
            except Exception:  # noqa: BLE001 - the study is not created yet, or the server is busy
                trials = []
            done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
            for t in done:
                seen.setdefault(t.number, tuple(t.values))
            if len(done) >= args.trials:
                break
            if time.time() >= next_kill:
                slot = rng.randrange(args.workers)
                p = procs[slot]
                if p.poll() is None:
                    running = sum(t.state == optuna.trial.TrialState.RUNNING for t in trials)
                    killed_running += running > 0
                    p.send_signal(signal.SIGKILL)
                    p.wait()
                    kills += 1
                    print(f"[{time.time() - start:6.1f} s] killed worker {slot} (pid {p.pid}); "
                          f"{len(done)} complete, {running} running", flush=True)
                spawn(slot)
                next_kill = time.time() + rng.uniform(0.5, 1.5) * args.kill_every
        for p in procs.values():  # the workers stop once the study holds --trials complete trials
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        time.sleep(3)  # past the grace period: a trial of a killed worker is stale now
        # the workers' own heartbeat settings: what their next start would do
        final_storage = open_storage(url, StorageOptions(heartbeat_interval=1, grace_period=2))
        study = optuna.load_study(study_name="soak", storage=final_storage)
        _fail_dead_workers(study, final_storage, grace_period=2)
        trials = study.get_trials(deepcopy=False)
        final = {t.number: t for t in trials}
        lost = [n for n, v in seen.items()
                if final[n].state != optuna.trial.TrialState.COMPLETE or tuple(final[n].values) != v]
        complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        params = [json.dumps(t.params, sort_keys=True) for t in complete]
        duplicated = len(params) - len(set(params))
        stuck_trials = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
        stuck = len(stuck_trials)
        for t in stuck_trials:
            print(f"stuck: trial {t.number}, started {t.datetime_start}, worker {t.user_attrs.get('worker')}")
        failed = sum(t.state == optuna.trial.TrialState.FAIL for t in trials)
        report = {"workers": args.workers, "trials_asked": args.trials, "complete": len(complete),
                  "failed (killed, then retried)": failed, "kills": kills, "kills_with_a_trial_running": killed_running,
                  "seconds": round(time.time() - start, 1), "trials_lost": len(lost), "duplicated": duplicated,
                  "stuck_running": stuck}
        print(json.dumps(report, indent=1))
        ok = not lost and not duplicated and not stuck and len(complete) >= args.trials
        return 0 if ok else 1
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        try:
            stop_server()
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
