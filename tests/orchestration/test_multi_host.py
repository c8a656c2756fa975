"""Several hosts on one PostgreSQL: two app hosts and a Prefect `process` worker, sharing no directory.

The session's PostgreSQL (`pg_server`, tests/pg_server.py) holds two databases: Prefect's (its server runs
on it) and the case data's (`pg_url`: the store's schema, what WORKFLOW_DATABASE_URL names). Three
"hosts" run as separate processes, each with its own working directory (WORKFLOW_DATA_DIR) and its own
PREFECT_HOME, and nothing else in common but the two URLs and the seal key file:

* host A and host B: `app_host.py`, the service opened as the app opens it (`service_for`, orchestrated:
  effects committed pending and handed to the effects deployments, never run in the app process);
* the worker: `prefect worker start --type process` on the pool `python -m flows deploy` registered, whose
  runs get the worker's WORKFLOW_DATA_DIR from the deployment and WORKFLOW_DATABASE_URL from its environment.

What it shows: a case started on A is acted on from B; the document that act causes is issued by a
worker run and downloaded on A from the database (the worker's copy removed first; A never had one); a
deadline sweep, as a run of its deployment on the worker, fires a passed deadline; A and B race one
transition on the same cases (exactly one wins each) and then hammer the same cases with comments,
retrying on conflicts: every acknowledged commit is in the history, once, at the version it was
acknowledged with, the versions contiguous; `python -m flows verify` on the database is clean. The
conflicts, lost updates (0) and durations are printed (`pytest -s`).
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from orch_helpers import (
    BLACKLIST,
    INVESTIGATION,
    ROOT,
    free_port,
    processes_mentioning,
    start_prefect_server,
    stop_group,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

POOL = "safety-multi-host"
HOST_SCRIPT = Path(__file__).with_name("app_host.py")
HAMMER_CASES = 3
HAMMER_PER_HOST = 150  # comments per host, round-robin over the hammered cases


@pytest.fixture(scope="module")
def prefect_db(pg_server):
    """Prefect's own database on the session's PostgreSQL (asyncpg, as the scheduling host uses it)."""
    pg_server.create_database("prefect_multi_host")
    yield f"postgresql+asyncpg://postgres@127.0.0.1:{pg_server.port}/prefect_multi_host"
    pg_server.drop_database("prefect_multi_host")


class Host:
    """A child process speaking JSON lines (app_host.py); stopped by its pid's group."""

    def __init__(self, name: str, workdir: Path, env: dict, log: Path):
        self.name = name
        self.workdir = workdir
        workdir.mkdir(parents=True)
        self._log = open(log, "ab")
        self.proc = subprocess.Popen([sys.executable, str(HOST_SCRIPT)], cwd=str(workdir), env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     text=True, encoding="utf-8", start_new_session=True)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name=f"{name}-stdout").start()
        self.info: dict = {}

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def ready(self, timeout: float = 120) -> dict:
        self.info = self.receive(timeout)
        assert self.info.get("ready"), self.info
        return self.info

    def send(self, op: str, **kw) -> None:
        self.proc.stdin.write(json.dumps({"op": op, **kw}, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float = 120) -> dict:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"host {self.name} gave no answer in {timeout}s") from None
        if line is None:
            raise AssertionError(f"host {self.name} exited (code {self.proc.poll()})")
        value = json.loads(line)
        assert "error" not in value, f"host {self.name}: {value['error']}\n{value.get('trace', '')}"
        return value

    def call(self, op: str, timeout: float = 120, **kw) -> dict:
        self.send(op, **kw)
        return self.receive(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(15)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                pass
        stop_group(self.proc)
        self._log.close()


def _run_state(api: str, run_id: str) -> str | None:
    state = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()["state_type"]
    return state if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None


def _runs_of(api: str, cid: str, *tags: str) -> list[dict]:
    return httpx.post(f"{api}/flow_runs/filter", json={"flow_runs": {"tags": {"all_": [f"case:{cid}", *tags]}}},
                      timeout=10).json()


def _settled(host: Host, cid: str) -> dict | None:
    """The case once every effect it has is carried out (done), else None."""
    case = host.call("case", case=cid)["case"]
    return case if all(e["status"] == "done" for e in case.get("effects", [])) else None


def test_two_app_hosts_and_a_worker_share_one_postgres(pg_server, pg_url, prefect_db, tmp_path, configs_root):
    import psycopg

    from flows.orchestration.dispatch import PrefectAPI

    times: dict[str, float] = {}
    t_all = time.perf_counter()
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    base = {**{k: v for k, v in os.environ.items()
               if not k.startswith(("PREFECT_", "WORKFLOW_DATA_DIR", "WORKFLOW_DATABASE_URL"))},
            "PREFECT_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "WORKFLOW_CONFIGS_DIR": str(configs_root), "WORKFLOW_DATABASE_URL": pg_url, "PYTHONPATH": str(ROOT)}
    assert os.environ.get("WORKFLOW_SEAL_KEY_FILE"), "every host must seal with the one key (tests/conftest.py)"

    def host_env(name: str) -> dict:
        return {**base, "WORKFLOW_DATA_DIR": str(tmp_path / name / "work"),
                "PREFECT_HOME": str(tmp_path / name / "prefect-home")}

    server = worker = None
    hosts: list[Host] = []
    try:
        # the app hosts start (import, open the database) while Prefect's server migrates its database
        t0 = time.perf_counter()
        a = Host("A", tmp_path / "host-a" / "work", host_env("host-a"), tmp_path / "host-a.log")
        hosts.append(a)
        b = Host("B", tmp_path / "host-b" / "work", host_env("host-b"), tmp_path / "host-b.log")
        hosts.append(b)
        server = start_prefect_server(tmp_path / "prefect-server-home", port, tmp_path / "server.log",
                                      extra_env={"PREFECT_API_DATABASE_CONNECTION_URL": prefect_db})
        times["prefect_server_up_s"] = time.perf_counter() - t0
        for host in (a, b):
            info = host.ready()
            assert info["store"] == "PgStore" and info["orchestrated"], info
            assert Path(info["data_dir"]) == host.workdir
        assert not a.workdir.is_relative_to(b.workdir) and not b.workdir.is_relative_to(a.workdir)

        wenv = {**host_env("worker"), "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "2",
                "WORKFLOW_SWEEP_SECONDS": "3600"}  # the scheduled sweep stays out of the way; this test runs its own
        worker_dir = Path(wenv["WORKFLOW_DATA_DIR"])
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "flows", "deploy", "--pool", POOL, "--data-dir", str(worker_dir)],
                              cwd=str(ROOT), env=wenv, check=False, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["data_dir"] == str(worker_dir)
        times["deploy_s"] = time.perf_counter() - t0
        with open(tmp_path / "worker.log", "ab") as log:
            worker = subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL,
                                       "--type", "process", "--install-policy", "never"],
                                      cwd=str(worker_dir), env=wenv, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)

        # ---- a case started on A, acted on from B; its document issued by the worker ---------------
        cid = a.call("start", workflow="blacklist", user="awb_zhang", data=BLACKLIST)["case"]["id"]
        assert b.call("act", case=cid, action="verify", user="awb_head")["case"]["active"] == ["investigating"]
        clicked = time.perf_counter()
        moved = b.call("act", case=cid, action="notify", user="awb_head", data=INVESTIGATION)["case"]
        assert moved["active"] == ["notified"] and not moved["documents"]  # handed over, not issued in B
        assert [e["status"] for e in moved["effects"] if e["type"] == "document"] == ["pending"]
        # the cases both hosts will act on, started on A now
        hammered = [a.call("start", workflow="blacklist", user="awb_zhang",
                           data={**BLACKLIST, "facts": f"并发测试 {i}"})["case"]["id"] for i in range(HAMMER_CASES)]

        # ---- both hosts race one transition on the same cases: one wins each ----------
        # (now, so that the worker's runs of these acts overlap the document's: 2 cores)
        at = time.time() + 1.0
        a.send("race", cases=hammered, action="verify", user="awb_zhang", at=at)
        b.send("race", cases=hammered, action="verify", user="awb_head", at=at)
        raced_a, raced_b = a.receive(), b.receive()
        raced = {"A": raced_a["results"], "B": raced_b["results"]}
        for h in hammered:
            outcomes = [raced["A"][h], raced["B"][h]]
            assert outcomes.count("won") == 1 and sum(o.startswith("refused") for o in outcomes) == 1, (h, outcomes)
        race_conflicts = raced_a["conflicts"] + raced_b["conflicts"]
        race_refused = sum(o.startswith("refused") for r in raced.values() for o in r.values())

        case = wait_for(lambda: (c := a.call("case", case=cid)["case"])["documents"] and c, timeout=180, interval=0.3,
                        what=f"the worker to issue the document (log: {tmp_path / 'worker.log'})")
        times["worker_start_to_document_s"] = time.perf_counter() - clicked
        doc = case["documents"][0]
        assert doc["template"] == "blacklist_prior_notice"
        effect = next(e for e in case["effects"] if e["type"] == "document")
        assert effect["status"] == "done"
        # the run that issued it: of the notify action, in the pool, completed (it finishes after the commit)
        notify_run = wait_for(lambda: _run_state(api, _runs_of(api, cid, "action:notify")[0]["id"]), timeout=60,
                              interval=0.3, what="the notify run to finish")
        assert notify_run == "COMPLETED"
        assert {r["work_pool_name"] for r in _runs_of(api, cid)} == {POOL}
        owner_pid = int((effect.get("claim") or {}).get("owner", "x:0").rpartition(":")[2] or 0)
        assert owner_pid not in (0, a.info["pid"], b.info["pid"], os.getpid()), effect  # a worker run issued it

        # downloadable on A: from the database. The worker wrote its own copy; it is removed first, and
        # B (which committed the act) never had one: there is no directory the hosts share.
        with psycopg.connect(pg_url) as conn:
            row = conn.execute("SELECT sha256, size FROM safety.files WHERE path = %s", (doc["file"],)).fetchone()
        assert row is not None, "the document is not in the database"
        worker_copy = worker_dir / "files" / doc["file"]
        assert worker_copy.is_file()
        worker_copy.unlink()
        assert not (b.workdir / "files" / doc["file"]).exists()
        got = a.call("download", case=cid)
        assert got["existed_before"] is False and got["path"].startswith(str(a.workdir))
        assert (got["sha256"], got["size"]) == (row[0], row[1])
        with zipfile.ZipFile(got["path"]) as docx:
            assert "word/document.xml" in docx.namelist()
        assert hashlib.sha256(Path(got["path"]).read_bytes()).hexdigest() == row[0]
        times["click_to_downloadable_on_other_host_s"] = time.perf_counter() - clicked

        # ---- the sweep, a run of its deployment on the worker, with "now" a month on -----------------
        t0 = time.perf_counter()
        due = (datetime.now() + timedelta(days=30)).isoformat(timespec="seconds")
        prefect = PrefectAPI(api)
        try:
            run = prefect.create_flow_run(prefect.deployment_id("deadline-sweep/every-few-minutes"),
                                          parameters={"now": due}, name="sweep-multi-host", tags=["test"])
        finally:
            prefect.close()
        state = wait_for(lambda: _run_state(api, run["id"]), timeout=180, interval=0.5, what="the sweep run")
        assert state == "COMPLETED", httpx.get(f"{api}/flow_runs/{run['id']}", timeout=10).json()["state"]
        assert httpx.get(f"{api}/flow_runs/{run['id']}", timeout=10).json()["work_pool_name"] == POOL
        times["sweep_run_s"] = time.perf_counter() - t0
        swept = b.call("case", case=cid)
        assert swept["case"]["active"] == ["deciding"]
        assert [e["type"] for e in swept["history"]].count("timer") == 1
        assert all(b.call("case", case=h)["case"]["active"] == ["investigating"] for h in hammered)  # no deadline

        # ---- then comments from both on the same cases, retried on conflicts ------------------------
        # quiet first (their 待办提醒 carried out by the worker), so only the comments write these cases
        before = {h: wait_for(lambda h=h: _settled(b, h), timeout=180, interval=0.5,
                              what=f"the effects of {h} to be carried out") for h in hammered}
        v0 = {h: c["version"] for h, c in before.items()}
        at = time.time() + 1.0
        a.send("hammer", cases=hammered, n=HAMMER_PER_HOST, user="awb_zhang", at=at, tag="A")
        b.send("hammer", cases=list(reversed(hammered)), n=HAMMER_PER_HOST, user="awb_head", at=at, tag="B")
        hammer = {"A": a.receive(300), "B": b.receive(300)}
        acked = hammer["A"]["acked"] + hammer["B"]["acked"]
        conflicts = hammer["A"]["conflicts"] + hammer["B"]["conflicts"]
        assert not hammer["A"]["gave_up"] and not hammer["B"]["gave_up"]
        assert len(acked) == 2 * HAMMER_PER_HOST

        lost = duplicated = 0
        for h in hammered:
            shown = a.call("case", case=h)
            history, version = shown["history"], shown["case"]["version"]
            mine = [x for x in acked if x["case"] == h]
            comments = {e["comment"]: e for e in history if e["type"] == "comment"}
            # every acknowledged comment is in the history at the version its commit returned
            lost += sum(1 for x in mine if comments.get(x["text"], {}).get("case_version") != x["version"])
            duplicated += sum(1 for e in history if e["type"] == "comment") - len(comments)
            # one version per acknowledged commit: contiguous from where the case stood, nothing else
            assert sorted(x["version"] for x in mine) == list(range(v0[h] + 1, v0[h] + len(mine) + 1)), h
            assert version == v0[h] + len(mine), (h, version, v0[h], len(mine))
            assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
            assert len(comments) == len(mine)
            assert [e.get("transition") for e in history if e["type"] == "transition"] == ["verify"]  # the race's one
        assert (lost, duplicated) == (0, 0)

        # ---- everything carried out, then the database verified from a host of its own --------------
        for c in [cid, *hammered]:
            wait_for(lambda c=c: _settled(a, c), timeout=180, interval=0.5, what=f"the effects of {c}")
        t0 = time.perf_counter()
        vdir = tmp_path / "verifier" / "work"
        checked = subprocess.run([sys.executable, "-m", "flows", "verify", "--data-dir", str(vdir)], cwd=str(ROOT),
                                 env=host_env("verifier"), check=False, capture_output=True, text=True, timeout=300)
        assert checked.returncode == 0, checked.stderr
        assert "数据完整（数据库" in checked.stdout, checked.stdout
        times["verify_s"] = time.perf_counter() - t0
    finally:
        for host in hosts:
            host.stop()
        stop_group(worker)
        stop_group(server)
    assert not processes_mentioning(str(tmp_path)), processes_mentioning(str(tmp_path))
    times["total_s"] = time.perf_counter() - t_all

    print(f"\nmulti-host on PostgreSQL: race on {HAMMER_CASES} cases: {race_conflicts} conflicts, "
          f"{race_refused} refused after the other host won, {HAMMER_CASES} won")
    print(f"comments: 2 hosts x {HAMMER_PER_HOST} on {HAMMER_CASES} cases, {len(acked)} acknowledged, "
          f"conflicts {conflicts} (A {hammer['A']['conflicts']}, B {hammer['B']['conflicts']}), "
          f"most attempts for one comment {max(hammer['A']['attempts_max'], hammer['B']['attempts_max'])}, "
          f"lost updates {lost}, duplicated {duplicated}; A {hammer['A']['seconds']} s, B {hammer['B']['seconds']} s")
    print("durations: " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
