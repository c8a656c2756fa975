"""The process serving the deployments: the effects executor plus Prefect's runner for the jobs."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from flows.core.errors import FlowError
from flows.orchestration import dispatch
from flows.orchestration.case_flows import effect_deployments
from flows.orchestration.executor import executor_for_existing, register_effects
from flows.orchestration.job_flows import job_deployments
from flows.orchestration.runtime import get_service


def wait_for_api(timeout: float = 60.0) -> None:
    from flows.orchestration.prefect_home import await_api

    problem = await_api(os.environ.get("PREFECT_API_URL", ""), timeout, interval=0.2)
    if problem:
        raise FlowError(problem)


def serve_all(data: str | Path | None = None, threads: int = 4, poll_s: float = 0.25,
              executor_only: bool = False) -> None:
    """The process serving the deployments: the effects executor plus Prefect's runner for the jobs.
    With `executor_only`: just the executor, for deployments a work pool holds. Blocks until SIGTERM/SIGINT."""
    from prefect import serve

    from flows.service.config import DATA_DIR_ENV, data_dir

    os.environ[DATA_DIR_ENV] = str(data_dir(data).resolve())  # the served subprocess runs read it
    # load the data and build the deployments while the server is still starting (the stack starts both at once)
    svc = get_service()
    for line in svc.config.warning_lines():  # a broken workflow file is skipped; the others are served
        print(line, file=sys.stderr, flush=True)
    served_jobs = [] if executor_only else job_deployments()
    effects = [] if executor_only else effect_deployments(svc)
    wait_for_api()
    if executor_only:
        executor = executor_for_existing(svc, threads=threads, poll_s=poll_s).start()
    else:
        executor = register_effects(svc, threads=threads, poll_s=poll_s, deployments=effects).start()

    def stop(signum, frame):  # turn SIGTERM into an orderly shutdown
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        if executor_only:
            while True:
                time.sleep(3600)
        serve(*served_jobs, pause_on_shutdown=False, print_starting_message=False)
    except KeyboardInterrupt:
        pass
    finally:
        executor.stop()
        dispatch.flush(svc)
