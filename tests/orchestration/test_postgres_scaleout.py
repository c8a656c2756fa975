"""Past one machine: Prefect's server on PostgreSQL, a `process` work pool, a worker running our deployments.

Installs PostgreSQL from Debian's packages when it is missing (apt-get; needs root), runs it on
127.0.0.1 from a temporary directory as the unprivileged `postgres` user, points a Prefect server at
it (asyncpg), registers the deployments in a process work pool (`python -m flows deploy`), starts a
worker, and runs a case's effects and a deadline sweep through that worker.
Select it with `pytest -m postgres`.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from orch_helpers import ROOT, free_port, notify_blacklist, start_prefect_server, stop_group, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

POOL = "safety-test-pool"


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _ensure_postgres() -> Path:
    bindir = _pg_bin()
    if bindir is not None:
        return bindir
    if os.geteuid() != 0:
        pytest.fail("PostgreSQL 未安装，且非 root 无法用 apt-get 安装：请以 root 运行 make test-packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"], check=True, env=env,
                   timeout=1200)
    bindir = _pg_bin()
    assert bindir is not None, "postgresql installed but initdb not found"
    return bindir


def _as_postgres(args: list[str]) -> list[str]:
    """Run as the unprivileged `postgres` user when we are root (postgres refuses to run as root)."""
    return ["runuser", "-u", "postgres", "--"] + args if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def postgres():
    bindir = _ensure_postgres()
    base = Path(tempfile.mkdtemp(prefix="pg-test-", dir="/tmp"))
    os.chmod(base, 0o755)
    datadir = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    port = free_port()
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust",
                                 "-E", "UTF8", "--locale=C.UTF-8"]), check=True, capture_output=True, timeout=300)
    log = open(base / "postgres.log", "ab")
    proc = subprocess.Popen(_as_postgres([str(bindir / "postgres"), "-D", str(datadir), "-k", str(base),
                                          "-h", "127.0.0.1", "-p", str(port)]),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: subprocess.run([str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                                        check=False, capture_output=True).returncode == 0, timeout=60, interval=0.2,
                 what="postgres to accept connections")
        subprocess.run([str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c",
                        "CREATE DATABASE prefect"], check=True, capture_output=True, timeout=60)
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/prefect"
    finally:
        stop_group(proc, grace=30)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def test_effects_and_sweep_run_on_a_process_worker_against_postgres(postgres, tmp_path, configs_root, orch_config):
    import asyncpg  # noqa: F401  - installed with prefect: the driver of the connection URL

    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    server = start_prefect_server(tmp_path / "prefect-home", port, tmp_path / "server.log",
                                  extra_env={"PREFECT_API_DATABASE_CONNECTION_URL": postgres})
    worker = None
    data = tmp_path / "data"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
           "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "client-home"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "1",
           "PREFECT_WORKER_PREFETCH_SECONDS": "2", "WORKFLOW_CONFIGS_DIR": str(configs_root),
           "PYTHONPATH": str(ROOT)}
    try:
        assert httpx.get(f"{api}/health").json() is True
        done = subprocess.run([sys.executable, "-m", "flows", "deploy", "--pool", POOL, "--data-dir", str(data)],
                              cwd=str(ROOT), env=env, check=False, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "case-blacklist/effects" in done.stdout and "deadline-sweep/every-few-minutes" in done.stdout
        pool = httpx.get(f"{api}/work_pools/{POOL}").json()
        assert pool["type"] == "process"

        with open(tmp_path / "worker.log", "ab") as log:
            worker = subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL,
                                       "--type", "process", "--install-policy", "never"],
                                      cwd=str(tmp_path), env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

        from flows.orchestration.dispatch import PrefectAPI, Submitter, orchestrated_service

        submitter = Submitter(background=False, api_url=api)
        svc = orchestrated_service(data, config=orch_config, submitter=submitter)
        try:
            cid = notify_blacklist(svc)
            case = wait_for(lambda: (c := svc.case(cid))["documents"] and c, timeout=180, interval=0.5,
                            what=f"the worker to issue the document (log: {tmp_path / 'worker.log'})")
            assert case["documents"][0]["template"] == "blacklist_prior_notice"
            runs = httpx.post(f"{api}/flow_runs/filter",
                              json={"flow_runs": {"tags": {"all_": [f"case:{cid}"]}}}).json()
            assert runs and runs[0]["work_pool_name"] == POOL

            # the sweep, as a run of its deployment on the worker, with "now" a month on
            due = (svc.clock() + timedelta(days=30)).isoformat(timespec="seconds")
            sweep_id = PrefectAPI(api).deployment_id("deadline-sweep/every-few-minutes")
            run = PrefectAPI(api).create_flow_run(sweep_id, parameters={"now": due}, name="sweep-test",
                                                  tags=["test"])
            state = wait_for(lambda: (r := httpx.get(f"{api}/flow_runs/{run['id']}").json())["state_type"]
                             in ("COMPLETED", "FAILED", "CRASHED") and r["state_type"], timeout=180, interval=0.5,
                             what="the sweep run")
            assert state == "COMPLETED"
            case = svc.case(cid)
            assert case["active"] == ["deciding"]
            assert [e["type"] for e in svc.history(cid)].count("timer") == 1
        finally:
            svc.close()
    finally:
        stop_group(worker)
        stop_group(server)
