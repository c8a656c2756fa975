"""Orchestration figures for bench/run.py (issue 4). Each returns (name, value, unit) tuples.

  click_commit_p50_ms       a person's action committed, its effects handed to Prefect in the background  ≤ 50 ms
  click_plain_commit_p50_ms baseline: the same action on a service that hands its effects to no one
  click_vs_plain_ratio      click_commit_p50_ms / the baseline: ≈ 1 when the click does not wait on Prefect
  effects_done_p95_s        commit → the document is in the case, through the real serving process       ≤ 2 s
  effects_done_p50_s
  effects_done_burst3_p95_s the same for three clicks at one moment (three people pressing 送达 at once)
  prefect_db_kb_per_action  growth of Prefect's SQLite per action that has effects (one flow run each)
  sweep_s_100k              deadline sweep over 100,000 stored cases (10,000 open), nothing due          ≤ 2 s
  sweep_acting_s_100k       the same sweep when deadlines are due (it commits each), with the count acted
  sweep_repeat_s_100k       the sweep run again at the same time: acts on nothing
  stack_cold_start_s        `python -m flows up` on a new data directory → all healthy                    ≤ 20 s
  stack_warm_start_s        the same on a data directory that ran before
"""
from __future__ import annotations

import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

BLACKLIST = {"enterprise": {"name": "江海港务有限公司", "credit_code": "91320600MA1NY7QH42"},
             "reason": "重大隐患整改不力", "facts": "逾期未整改"}
STACK_PATIENCE_S = 600  # a 2-core machine under load may take minutes; the bench says when it gave up and why
INVESTIGATION = {"investigation_findings": "属实", "legal_basis": "安全生产法"}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def sweep_figures(store, config) -> list[tuple[str, float, str]]:
    """Service.sweep over the bench's 100k store: a regular sweep (nothing due) and an acting one."""
    from flows.jobs.sweep import sweep_all
    from flows.service import open_service

    svc = open_service(config=config, store=store)
    t0 = time.perf_counter()
    quiet = sweep_all(svc, datetime(2023, 1, 1))      # before every deadline of the cloned cases
    quiet_s = time.perf_counter() - t0
    assert quiet == []
    t0 = time.perf_counter()
    acted = sweep_all(svc, datetime(2030, 1, 1))      # every pending deadline has passed
    acting_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = sweep_all(svc, datetime(2030, 1, 1))      # idempotent: nothing left to do
    again_s = time.perf_counter() - t0
    return [("sweep_s_100k", quiet_s, "s"), ("sweep_acting_s_100k", acting_s, "s"),
            ("sweep_acting_deadlines_100k", len(acted), "deadlines"), ("sweep_repeat_s_100k", again_s, "s"),
            ("sweep_repeat_acted_100k", len(again), "deadlines")]


def _env(prefect_home: Path, api_url: str, data: Path) -> dict:
    from flows.orchestration.prefect_home import prefect_env

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(prefect_env(prefect_home, api_url))
    env["WORKFLOW_DATA_DIR"] = str(data)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _db_used_bytes(db: Path) -> int:
    con = sqlite3.connect(db, timeout=30)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = con.execute("PRAGMA page_size").fetchone()[0]
        count = con.execute("PRAGMA page_count").fetchone()[0]
        free = con.execute("PRAGMA freelist_count").fetchone()[0]
        return (count - free) * page
    finally:
        con.close()


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def effects_figures(config, actions: int = 30) -> list[tuple[str, float, str]]:
    """A real Prefect server and the real serving process (`python -m flows serve`); clicks in this process."""
    from flows.orchestration.dispatch import Submitter, orchestrated_service
    from flows.orchestration.prefect_home import seed_prefect_home

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        home, data = tmp / "prefect", tmp / "data"
        seed_prefect_home(home)
        port = _free_port()
        api = f"http://127.0.0.1:{port}/api"
        env = _env(home, api, data)
        logs = open(tmp / "procs.log", "ab")
        server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                   "--port", str(port)], env=env, stdout=logs, stderr=subprocess.STDOUT,
                                  start_new_session=True, cwd=str(ROOT))
        serve = subprocess.Popen([sys.executable, "-m", "flows", "serve", "--data-dir", str(data)], env=env,
                                 stdout=logs, stderr=subprocess.STDOUT, start_new_session=True, cwd=str(ROOT))
        try:
            _wait_ready(api, len(config.workflows), {"Prefect server": server, "serving process": serve},
                        tmp / "procs.log")
            submitter = Submitter(background=True, api_url=api)
            svc = orchestrated_service(data, config=config, submitter=submitter)
            # warm-up: first imports, first connections
            cid = svc.start("blacklist", "awb_zhang", BLACKLIST)["id"]
            svc.act(cid, "verify", "awb_zhang")
            svc.act(cid, "notify", "awb_zhang", INVESTIGATION)
            while not svc.case(cid)["documents"]:
                time.sleep(0.01)
            time.sleep(2)
            before = _db_used_bytes(home / "prefect.db")
            clicks, done = [], []
            for _ in range(actions):
                cid = svc.start("blacklist", "awb_zhang", BLACKLIST)["id"]
                svc.act(cid, "verify", "awb_zhang")
                t0 = time.perf_counter()
                svc.act(cid, "notify", "awb_zhang", INVESTIGATION)
                t1 = time.perf_counter()
                clicks.append(t1 - t0)
                while not svc.case(cid)["documents"]:
                    if time.perf_counter() - t1 > 60:
                        raise RuntimeError("document not issued within 60 s")
                    time.sleep(0.005)
                done.append(time.perf_counter() - t1)
                time.sleep(0.3)  # people do not click in lockstep
            burst = _bursts(svc, rounds=10)
            time.sleep(5)  # let the runs' last states, logs and events land
            after = _db_used_bytes(home / "prefect.db")
            svc.close()
            plain = _plain_clicks(config, tmp / "plain", actions)
        finally:
            _stop(serve)
            _stop(server)
            logs.close()
    return [("click_commit_p50_ms", statistics.median(clicks) * 1000, "ms"),
            ("click_plain_commit_p50_ms", statistics.median(plain) * 1000, "ms"),
            ("click_vs_plain_ratio", statistics.median(clicks) / statistics.median(plain), "x"),
            ("effects_done_p50_s", statistics.median(done), "s"),
            ("effects_done_p95_s", _p95(done), "s"),
            ("effects_done_burst3_p50_s", statistics.median(burst), "s"),
            ("effects_done_burst3_p95_s", _p95(burst), "s"),
            # each loop has three actions with effects (发起 and 核实: a 待办提醒; 送达: the 告知书 and a 待办提醒),
            # one flow run each; so does each of the bursts' cases
            ("prefect_db_kb_per_action", (after - before) / (3 * (actions + 3 * 10)) / 1024, "KB")]


def _wait_ready(api: str, workflows: int, procs: dict[str, subprocess.Popen], log: Path,
                patience: float = 600) -> None:
    """Until the server answers and every workflow's effects deployment is READY. Patient (a loaded 2-core
    machine may take minutes) and plain about giving up: a process that exited, or what was still
    missing when `patience` ran out."""
    t0, seen = time.monotonic(), "nothing asked yet"
    while True:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"gave up after {time.monotonic() - t0:.0f} s: the {name} exited with code "
                                   f"{proc.returncode}; see {log}")
        try:
            deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=5).json()
            effects = [d for d in deployments if d["name"] == "effects"]
            ready = [d for d in effects if d["status"] == "READY"]
            if len(effects) == workflows and all(d["status"] == "READY" for d in deployments):
                return
            seen = f"the server answers, {len(ready)} of {workflows} effects deployments READY"
        except (httpx.HTTPError, ValueError, TypeError, KeyError) as exc:
            seen = f"the server did not answer ({type(exc).__name__}: {exc})"
        if time.monotonic() - t0 > patience:
            raise RuntimeError(f"gave up after {patience:.0f} s: {seen}; see {log}")
        time.sleep(0.25)


def _bursts(svc, rounds: int) -> list[float]:
    """Three people press 送达 at the same moment (three threads), `rounds` times: each click's commit →
    its document in the case."""
    done: list[float] = []
    for n in range(1, rounds + 1):
        cids = []
        for _ in range(3):
            cid = svc.start("blacklist", "awb_zhang", BLACKLIST)["id"]
            svc.act(cid, "verify", "awb_zhang")
            cids.append(cid)
        time.sleep(1)  # the reminders of the set-up are out of the way
        gate = threading.Barrier(3)
        threads = [threading.Thread(target=_click_and_wait, args=(svc, cid, gate, done)) for cid in cids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if len(done) != 3 * n:
            raise RuntimeError("a burst's click failed (see the traceback above)")
        time.sleep(0.5)
    return done


def _click_and_wait(svc, cid: str, gate, done: list[float]) -> None:
    gate.wait()
    svc.act(cid, "notify", "awb_zhang", INVESTIGATION)
    t1 = time.perf_counter()
    while not svc.case(cid)["documents"]:
        if time.perf_counter() - t1 > 60:
            raise RuntimeError("document not issued within 60 s")
        time.sleep(0.005)
    done.append(time.perf_counter() - t1)


def _plain_clicks(config, data: Path, actions: int) -> list[float]:
    """The click of effects_figures on a service whose effects stay pending (no Prefect, no runner)."""
    from flows.service import open_service

    svc = open_service(data, config=config, inline_effects=False)
    clicks = []
    try:
        for _ in range(actions + 1):  # the first is a warm-up
            cid = svc.start("blacklist", "awb_zhang", BLACKLIST)["id"]
            svc.act(cid, "verify", "awb_zhang")
            t0 = time.perf_counter()
            svc.act(cid, "notify", "awb_zhang", INVESTIGATION)
            clicks.append(time.perf_counter() - t0)
    finally:
        svc.close()
    return clicks[1:]


def stack_figures() -> list[tuple[str, float, str]]:
    """`python -m flows up` on a new data directory, then again on the same one."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        for name in ("stack_cold_start_s", "stack_warm_start_s"):
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "flows", "up", "--data-dir", str(data), "--app-port",
                                     str(_free_port()), "--prefect-port", str(_free_port())], cwd=str(ROOT), env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)
            # patient on a loaded machine, and plain about giving up: the stack's exit code and last lines
            timer = threading.Timer(STACK_PATIENCE_S, os.killpg, (proc.pid, signal.SIGTERM))
            timer.start()
            try:
                said: list[str] = []
                for line in proc.stdout:
                    if "已就绪" in line:
                        out.append((name, time.perf_counter() - t0, "s"))
                        break
                    said = (said + [line.rstrip()])[-15:]
                else:
                    proc.wait(60)
                    why = (f"not ready after {STACK_PATIENCE_S:.0f} s" if not timer.is_alive()
                           else f"it exited with code {proc.returncode}")
                    raise RuntimeError(f"gave up on `flows up` ({name}): {why}; its last lines:\n" + "\n".join(said))
            finally:
                timer.cancel()
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    return out
