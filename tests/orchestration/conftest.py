"""Fixtures of the orchestration tests.

`configs_root`: the shipped configs, with the Word templates built into a temporary copy when
configs/templates does not hold them yet. `prefect_server`: one real local Prefect server for the
session (temporary PREFECT_HOME, a free port), stopped by its process group at the end; the test
process points at it through PREFECT_API_URL. `served`: an orchestrated service on a fresh data
directory with the effects executor running in this process against that server.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from orch_helpers import free_port, start_prefect_server, stop_group  # noqa: E402


@pytest.fixture
def plain_service(tmp_path, orch_config, clock):
    """A service that runs effects inline (no Prefect): for the jobs' logic through .fn()."""
    from flows.orchestration import runtime
    from flows.service import open_service

    svc = open_service(tmp_path / "data", config=orch_config, clock=clock)
    runtime.use_service(svc)
    yield svc
    runtime.use_service(None)
    svc.close()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory, configs_root):
    """A real local Prefect server for the whole session; the test process talks to it."""
    from prefect.context import refresh_global_settings_context

    from flows.orchestration.prefect_home import prefect_env

    base = tmp_path_factory.mktemp("prefect")
    port = free_port()
    proc = start_prefect_server(base / "home", port, base / "server.log")
    url = f"http://127.0.0.1:{port}/api"
    saved = {k: os.environ.get(k) for k in prefect_env(base / "home", url)}
    os.environ.update(prefect_env(base / "home", url))
    refresh_global_settings_context()
    try:
        yield url
    finally:
        try:
            from prefect.logging.handlers import APILogHandler

            APILogHandler.flush()  # send the last run logs while the server is still there
        except Exception:  # noqa: BLE001
            pass
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        refresh_global_settings_context()
        stop_group(proc)


@pytest.fixture
def served(prefect_server, orch_config, tmp_path, clock):
    from flows.orchestration import runtime
    from flows.orchestration.dispatch import Submitter, orchestrated_service
    from flows.orchestration.executor import register_effects

    svc = orchestrated_service(tmp_path / "data", config=orch_config, clock=clock, submitter=Submitter())
    runtime.use_service(svc)
    executor = register_effects(svc, poll_s=0.1).start()
    svc.executor = executor
    yield svc
    svc.effects.submitter.flush()
    executor.stop()
    runtime.use_service(None)
    svc.close()
    _drop_unfinished_runs()


def _drop_unfinished_runs() -> None:
    """The server is the session's, the case numbers are each test's own (HMD-2025-00001 in every
    fresh data directory): a run a test left scheduled (a delayed reminder its executor never took)
    would tell the next test's redelivery that its same-numbered case is being carried."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    unfinished = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
        any_=[StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING])))
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_run_filter=unfinished):
            client.delete_flow_run(run.id)
