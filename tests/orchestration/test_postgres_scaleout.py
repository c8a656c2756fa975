"""Past one machine: Prefect's server on PostgreSQL, a `process` work pool, a worker running our deployments.

PostgreSQL is the session's (`pg_server`, tests/pg_server.py: installed from Debian's packages when
missing, run on 127.0.0.1 from a temporary directory as the unprivileged `postgres` user). The test points
a Prefect server at a database of it (asyncpg), registers the deployments in a process work pool
(`python -m flows deploy`), starts a worker, and runs a case's effects and a deadline sweep through it.
Select it with `pytest -m postgres`.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest
from orch_helpers import ROOT, free_port, notify_blacklist, start_prefect_server, stop_group, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

POOL = "safety-test-pool"


@pytest.fixture(scope="module")
def postgres(pg_server):
    """Prefect's database on the session's PostgreSQL server (tests/pg_server.py)."""
    pg_server.create_database("prefect")
    yield f"postgresql+asyncpg://postgres@127.0.0.1:{pg_server.port}/prefect"
    pg_server.drop_database("prefect")


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
