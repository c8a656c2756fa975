"""The command line hands effects to a stack running on its data directory, like the app does
(flows.orchestration.handoff): each case's runs are in that stack's Prefect UI.

The stack here is the test process itself, on the session's Prefect server: the `served` fixture's
in-process effects executor is its serving process, and the test holds <data>/stack.lock and writes
<data>/stack.json as `python -m flows up` does (no second Prefect server is started). The CLI runs
in subprocesses with no PREFECT_* variable at all: it finds the stack by the marker alone.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from orch_helpers import BLACKLIST, INVESTIGATION, ROOT, flow_name, flow_runs, wait_for

from flows.orchestration.dispatch import flush

ACCIDENT = {"occurred_at": "2025-03-01T08:30", "place": "X354线", "accident_type": "道路运输", "deaths": 0,
            "serious_injuries": 1, "direct_loss": 12, "description": "追尾"}


def cli(data: Path, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "WORKFLOW_DATA_DIR"}
    out = subprocess.run([sys.executable, "-m", "flows", *args, "--data-dir", str(data)], cwd=ROOT,
                         env={**clean, **(env or {})}, capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in out.stderr, out.stderr
    return out


def ok(out: subprocess.CompletedProcess) -> dict:
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@contextlib.contextmanager
def marker(data: Path, prefect_url: str, *, locked: bool = True, serve_pid: int | None = None):
    """<data>/stack.json as `flows up` writes it, and (`locked`) its flock held for the 'stack's' life."""
    data.mkdir(parents=True, exist_ok=True)
    lock = open(data / "stack.lock", "a+")
    if locked:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    (data / "stack.json").write_text(json.dumps({
        "pid": os.getpid(), "app_url": "http://127.0.0.1:1", "prefect_url": prefect_url,
        "api_url": f"{prefect_url}/api", "api_auth": False, "data_dir": str(data),
        "children": {"serve": serve_pid or os.getpid()}, "started": time.time()}))
    try:
        yield
    finally:
        (data / "stack.json").unlink(missing_ok=True)
        lock.close()


@contextlib.contextmanager
def trap():
    """A port that listens and never answers: (its URL, whether anything connected to it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        s.setblocking(False)

        def contacted() -> bool:
            try:
                conn, _ = s.accept()
            except BlockingIOError:
                return False
            conn.close()
            return True

        yield f"http://127.0.0.1:{s.getsockname()[1]}", contacted


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def stack(served, prefect_server):
    """The `served` service's data directory with a live stack's marker on it."""
    with marker(served.store.dir, prefect_server.removesuffix("/api")):
        yield served


def _of(case: dict, transition: str) -> list[dict]:
    return [e for e in case["effects"] if e.get("transition") == transition]


@pytest.mark.prefect
def test_start_and_act_hand_their_effects_to_the_running_stack(stack, prefect_server):
    svc = stack
    data = svc.store.dir
    prefect_url = prefect_server.removesuffix("/api")
    since = time.time()
    started = cli(data, "start", "blacklist", "--as", "awb_zhang", "--data", json.dumps(BLACKLIST, ensure_ascii=False))
    case = ok(started)
    cid = case["id"]
    assert case["version"] == 1 and [e["status"] for e in case["effects"]] == ["pending"]  # not run by the CLI
    assert "处理已交给" in started.stderr and f"{prefect_url}/runs/flow-run/" in started.stderr
    ok(cli(data, "act", cid, "verify", "--as", "awb_zhang"))
    acted = cli(data, "act", cid, "notify", "--as", "awb_zhang", "--data", json.dumps(INVESTIGATION, ensure_ascii=False))
    case = ok(acted)
    assert [(e["type"], e["status"]) for e in _of(case, "notify")] == [("document", "pending"), ("notify", "pending")]
    assert case["active"] == ["notified"] and case["documents"] == []   # committed; the document is the stack's

    def all_done():
        now = svc.case(cid)
        return all(e["status"] == "done" for e in now["effects"]) and now

    case = wait_for(all_done, timeout=90, what="the stack to carry out every effect")
    (doc,) = case["documents"]
    assert svc.document_file(doc["file"]).stat().st_size > 5000
    owner = f":{os.getpid()}"                  # run by the stack's serving process (here: this process)
    assert all(e["claim"]["owner"].endswith(owner) for e in case["effects"] if e.get("claim"))
    runs = wait_for(lambda: (r := flow_runs(prefect_server, f"case:{cid}", since)) and len(r) == 3 and
                    all(x["state_type"] == "COMPLETED" for x in r) and r, timeout=60, what="three completed runs")
    notify = next(r for r in runs if "action:notify" in r["tags"])
    assert notify["name"] == f"{cid}｜送达事先告知书｜张伟" and notify["parameters"]["case_id"] == cid
    assert flow_name(prefect_server, notify["flow_id"]) == "case-blacklist"
    assert f"{prefect_url}/runs/flow-run/{notify['id']}" in acted.stderr     # the line says where to look


@pytest.mark.prefect
def test_inline_runs_the_effects_here_though_a_stack_is_running(stack, prefect_server):
    svc = stack
    cid = svc.start("blacklist", "awb_zhang", BLACKLIST)["id"]
    svc.act(cid, "verify", "awb_zhang")
    flush(svc)
    since = time.time()
    out = cli(svc.store.dir, "act", cid, "notify", "--as", "awb_zhang", "--inline",
              "--data", json.dumps(INVESTIGATION, ensure_ascii=False))
    case = ok(out)
    assert [(e["type"], e["status"]) for e in _of(case, "notify")] == [("document", "done"), ("notify", "done")]
    assert case["documents"] and "处理已交给" not in out.stderr and out.stderr.strip() == ""
    time.sleep(0.5)
    assert flow_runs(prefect_server, f"case:{cid}", since) == []


def test_no_stack_runs_inline_and_contacts_no_prefect(tmp_path, configs_root):
    """No marker: today's way, and no Prefect is asked anything, even one PREFECT_API_URL names."""
    with trap() as (url, contacted):
        out = cli(tmp_path / "data", "start", "accident", "--as", "awb_zhang", "--data",
                  json.dumps(ACCIDENT, ensure_ascii=False), env={"PREFECT_API_URL": f"{url}/api"})
        case = ok(out)
        assert case["version"] == 1 and [(e["type"], e["status"]) for e in case["effects"]] == [("notify", "done")]
        assert out.stderr.strip() == "" and not contacted()


@pytest.mark.parametrize("stale", ["crashed", "serving-process-gone"])
def test_a_stale_marker_is_ignored_with_a_note(tmp_path, configs_root, stale):
    """A stack that was killed left its marker (nobody holds the lock), or its serving process died:
    the effects run here, the note says why, and the address the marker names is never contacted."""
    data = tmp_path / "data"
    with trap() as (url, contacted), marker(data, url, locked=stale != "crashed",
                                            serve_pid=_dead_pid() if stale == "serving-process-gone" else None):
        out = cli(data, "start", "accident", "--as", "awb_zhang", "--data", json.dumps(ACCIDENT, ensure_ascii=False))
        case = ok(out)
        assert [(e["type"], e["status"]) for e in case["effects"]] == [("notify", "done")]
        assert "已过期，忽略" in out.stderr and "处理在本进程内执行" in out.stderr
        assert ("未持有 stack.lock" if stale == "crashed" else "流程服务进程") in out.stderr
        assert not contacted()


def test_a_stack_whose_prefect_does_not_answer_is_not_waited_for(tmp_path, configs_root):
    """Lock held, processes alive, but the API does not answer /health: inline after a short wait."""
    data = tmp_path / "data"
    with trap() as (url, contacted), marker(data, url):
        t0 = time.monotonic()
        out = cli(data, "start", "accident", "--as", "awb_zhang", "--data", json.dumps(ACCIDENT, ensure_ascii=False))
        took = time.monotonic() - t0
        case = ok(out)
        assert [(e["type"], e["status"]) for e in case["effects"]] == [("notify", "done")]
        assert "没有响应" in out.stderr and "处理在本进程内执行" in out.stderr and contacted()
        assert took < 60


@pytest.mark.prefect
@pytest.mark.slow
def test_demo_hands_its_cases_effects_to_the_running_stack(stack, prefect_server):
    svc = stack
    data = svc.store.dir
    since = time.time()
    out = cli(data, "demo")
    summary = ok(out)
    assert "处理已交给" in summary["effects"] and "处理已交给" in out.stderr
    assert all(wf["unreached"] == [] for wf in summary["workflows"].values())
    cases = [cid for wf in summary["workflows"].values() for cid in wf["cases"].values()]
    with_effects = [cid for cid in cases if svc.case(cid)["effects"]]
    assert len(with_effects) > 20
    def left() -> list[str]:
        return [f"{cid} {e['type']} {e['status']} {e.get('error') or ''}" for cid in with_effects
                for e in svc.case(cid)["effects"] if e["status"] != "done"]

    try:
        wait_for(lambda: not left(), timeout=float(os.environ.get("DEMO_WAIT", 400)), interval=1.0,
                 what="the stack to carry out the demo's effects")
    except AssertionError:
        raise AssertionError(f"not done: {left()}") from None
    for cid in with_effects[:: max(1, len(with_effects) // 8)]:   # a sample of the demo's cases: their runs
        assert flow_runs(prefect_server, f"case:{cid}", since), cid


@contextlib.contextmanager
def guarded_api(secret: str):
    """A stand-in Prefect API whose /api/health answers only with the stack's secret (`up --host`)."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    expected = "Basic " + base64.b64encode(secret.encode()).decode()

    class Health(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            code = 200 if self.path == "/api/health" and self.headers.get("Authorization") == expected else 401
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"true" if code == 200 else b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_stack_with_a_protected_api_is_found_with_its_secret(tmp_path):
    from flows.orchestration.handoff import find_stack

    data = tmp_path / "data"
    (data / "prefect").mkdir(parents=True)
    (data / "prefect" / "api-auth.secret").write_text("flows:s3cret\n")
    with guarded_api("flows:s3cret") as url, marker(data, url):
        info = json.loads((data / "stack.json").read_text())
        (data / "stack.json").write_text(json.dumps({**info, "api_auth": True}))
        stack, note = find_stack(data)
        assert note is None and stack.auth == "flows:s3cret" and stack.api_url == f"{url}/api"
        assert stack.run_url("abc") == f"{url}/runs/flow-run/abc"
        (data / "prefect" / "api-auth.secret").write_text("flows:wrong")
        stack, note = find_stack(data)
        assert stack is None and "HTTP 401" in note
