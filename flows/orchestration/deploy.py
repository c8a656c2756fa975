"""Register every deployment in a Prefect `process` work pool, for workers on other hosts.

    PREFECT_API_URL=http://prefect-host:4200/api python -m flows deploy --pool safety-process \
        --data-dir /srv/safety/data [--working-dir /srv/safety/app]

Creates the work pool if missing (type `process`), then creates or updates, in that pool:
  case-<workflow>/effects   one per workflow in configs/flows (entrypoint flows.orchestration.case_flows.case_<name>)
  the scheduled jobs        deadline sweep, annual drill plan, plan reassessment, accident statistics,
                            Prefect retention — with their schedules.
Each run's process gets WORKFLOW_DATA_DIR / WORKFLOW_CONFIGS_DIR / PYTHONPATH through the
deployment's job variables, and starts in `working_dir` (this checkout on every worker host).

Why a script and not prefect.yaml: the case flows are built from the workflow configs at run time
(an admin adds a workflow in the browser; it gets its flow without code), and `prefect deploy`
finds flows by reading the source for a function definition, which a config-built flow has not.
"""
from __future__ import annotations

import os
from pathlib import Path

from flows.service.config import ROOT, configs_dir


def ensure_pool(pool: str) -> bool:
    """Create the process work pool when it does not exist; True when it was created."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
            return False
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(
                name=pool, type="process", description="县交通运输局安全生产流程平台：案件处理与定时任务",
                base_job_template=ProcessWorker.get_default_base_job_template()))
            return True


def deploy_all(pool: str = "safety-process", data_dir: str | Path | None = None,
               working_dir: str | Path | None = None) -> dict:
    from flows.orchestration.case_flows import effect_deployments
    from flows.orchestration.dispatch import service_for
    from flows.orchestration.job_flows import job_deployments
    from flows.service.config import data_dir as resolve

    data = str(resolve(data_dir).resolve())
    workdir = str(Path(working_dir or ROOT).resolve())
    env = {"WORKFLOW_DATA_DIR": data, "WORKFLOW_CONFIGS_DIR": str(configs_dir().resolve()),
           "PYTHONPATH": workdir}
    for key in ("WORKFLOW_SWEEP_SECONDS", "WORKFLOW_PREFECT_RETENTION_DAYS"):
        if key in os.environ:
            env[key] = os.environ[key]
    job_variables = {"working_dir": workdir, "env": env}
    created = ensure_pool(pool)
    svc = service_for(data, orchestrated=True)
    deployments = effect_deployments(svc, work_pool=pool, job_variables=job_variables) + \
        job_deployments(work_pool=pool, job_variables=job_variables)
    names = []
    for deployment in deployments:
        deployment.apply(work_pool_name=pool)
        names.append(f"{deployment.flow_name}/{deployment.name}")
    return {"work_pool": pool, "pool_created": created, "deployments": names, "data_dir": data,
            "working_dir": workdir}
