"""`flows up` with the Prefect API protected: unauthenticated calls are refused, ours still work.

Binding beyond loopback requires the protection (`up --host 0.0.0.0` turns it on and cannot turn it
off); the real stack here protects its API on 127.0.0.1 (`--api-auth`), since tests listen on loopback only.
"""
from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import threading

import httpx
import pytest
from orch_helpers import ROOT, free_port, processes_mentioning, wait_for

from flows.core.errors import FlowError
from flows.orchestration.prefect_home import AUTH_FILE
from flows.orchestration.stack import Stack
from flows.service import open_service

pytestmark = [pytest.mark.slow, pytest.mark.prefect]

CLICK = """
import sys
sys.path.insert(0, "tests/orchestration")
from orch_helpers import notify_blacklist
from flows.orchestration.dispatch import Submitter, orchestrated_service
svc = orchestrated_service(sys.argv[1], submitter=Submitter(background=False))
print(notify_blacklist(svc))
"""


def test_listening_beyond_this_machine_requires_the_api_protected(tmp_path):
    assert Stack(tmp_path, host="0.0.0.0").api_auth is True
    assert Stack(tmp_path).api_auth is False                       # loopback: only this machine reaches it
    with pytest.raises(FlowError, match="必须保护 Prefect 接口"):
        Stack(tmp_path, host="0.0.0.0", api_auth=False)
    assert Stack(tmp_path, host="0.0.0.0").api_url == f"http://127.0.0.1:{Stack(tmp_path).prefect_port}/api"


def test_a_protected_stack_refuses_an_unauthenticated_post_and_works_for_its_own_processes(tmp_path, configs_root):
    data = tmp_path / "data"
    app_port, prefect_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "flows", "up", "--data-dir", str(data), "--app-port", str(app_port),
                             "--prefect-port", str(prefect_port), "--api-auth"], cwd=str(ROOT), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    api = f"http://127.0.0.1:{prefect_port}/api"
    try:
        # ready means: the serving process registered every deployment and polls them, through the protected API
        wait_for(lambda: any("已就绪" in line for line in lines) or proc.poll() is not None, timeout=240,
                 interval=0.2, what="the protected stack to be ready")
        assert proc.poll() is None, "".join(lines)
        assert "接口需认证" in "".join(lines)
        secret_file = data / "prefect" / AUTH_FILE
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        refused = httpx.post(f"{api}/deployments/filter", json={})
        assert refused.status_code == 401
        assert httpx.post(f"{api}/flow_runs/filter", json={}, auth=("flows", "guess")).status_code == 401
        header = {"Authorization": "Basic " + base64.b64encode(secret_file.read_text().strip().encode()).decode()}
        deployments = httpx.post(f"{api}/deployments/filter", json={}, headers=header)
        assert deployments.status_code == 200
        assert any(d["name"] == "effects" for d in deployments.json())
        assert httpx.get(f"{api}/health").status_code == 200           # health stays open for probes
        assert httpx.get(f"http://127.0.0.1:{app_port}/_stcore/health").text == "ok"
        # a click in another process: its effects reach Prefect through the protected API and come back done
        click = subprocess.run([sys.executable, "-c", CLICK, str(data)], cwd=str(ROOT), check=False, text=True,
                               capture_output=True, timeout=120,
                               env={**env, "PREFECT_API_URL": api, "PREFECT_API_AUTH_STRING": secret_file.read_text()})
        assert click.returncode == 0, click.stderr
        cid = click.stdout.strip().splitlines()[-1]
        office = open_service(data)
        try:
            wait_for(lambda: office.case(cid)["documents"], timeout=60, what="the notice issued through Prefect")
        finally:
            office.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert processes_mentioning(str(data)) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        info = data / "stack.json"
        for pid in (json.loads(info.read_text())["children"].values() if info.exists() else []):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
