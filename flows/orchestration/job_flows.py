"""The scheduled jobs of `flows.jobs` as Prefect flows, with their deployments and schedules.

  deadline-sweep        every few minutes: fire or escalate every passed deadline (idempotent), and
                        submit again effects left pending with no run carrying them.
  annual-drill-plan     2 January (and on demand): the year's drill plan from the plan register.
  drill-plan-publish    on demand: each row of the year's plan becomes a drill case (once).
  plan-reassessment     daily: a published plan due for its 3-yearly assessment gets a revision case.
  accident-statistics   daily: the latest complete month, quarter and year that have no report yet
                        (on demand: any period, regenerated) — Word report + Excel workbook.
  prefect-retention     daily: delete Prefect's own finished flow runs older than N days.

Time is a parameter (`now`, ISO text) everywhere, so tests move it instead of sleeping.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import timedelta

from prefect import flow
from prefect.flows import Flow

from flows.jobs import drill_plan, drill_publish, reassessment, statistics, sweep
from flows.orchestration import dispatch
from flows.orchestration.redelivery import RESUBMIT_AFTER_S, resubmit_stale
from flows.orchestration.retention import RETENTION_DAYS, trim_prefect_runs
from flows.orchestration.runtime import get_service, moment, run_logger

TIMEZONE = "Asia/Shanghai"
SWEEP_SECONDS = int(os.environ.get("WORKFLOW_SWEEP_SECONDS", "300"))


@flow(name="deadline-sweep", description="期限巡查：到期的期限自动流转或催办（幂等），并补交未被执行的处理")
def deadline_sweep(now: str | None = None, resubmit_after_s: float = RESUBMIT_AFTER_S) -> dict:
    svc = get_service()
    at = moment(now, svc)
    t0 = time.perf_counter()
    done = sweep.sweep_all(svc, at)
    resubmitted = resubmit_stale(svc, at, resubmit_after_s)
    dispatch.flush(svc)
    summary = {"now": at.isoformat(timespec="seconds"), "acted": done, "resubmitted": resubmitted,
               "seconds": round(time.perf_counter() - t0, 3)}
    run_logger().info("期限巡查：处理 %d 个到期期限，补交 %d 个案件的处理", len(done), len(resubmitted))
    return summary


@flow(name="annual-drill-plan", description="年度应急演练计划：按预案台账和演练频次生成（1月2日及按需）")
def annual_drill_plan(year: int | None = None, now: str | None = None) -> dict:
    svc = get_service()
    result = drill_plan.annual_plan(svc, moment(now, svc), year)
    run_logger().info("年度应急演练计划 %s：%d 项", result["key"], result["rows"])
    return result


@flow(name="drill-plan-publish", description="发布年度应急演练计划：为计划中的每项演练发起演练案件（可重复执行，不重复发起）")
def publish_drill_plan(year: int, now: str | None = None) -> dict:
    svc = get_service()
    result = drill_publish.publish(svc, moment(now, svc), year)
    dispatch.flush(svc)
    run_logger().info("发布 %d 年度应急演练计划：发起 %d 个演练案件，%d 项未能发起", year, len(result["started"]),
                      len(result["failed"]))
    return result


@flow(name="plan-reassessment", description="应急预案定期评估：印发满3年的预案自动发起修订案件（每个到期日一次）")
def plan_reassessment(now: str | None = None) -> list[dict]:
    svc = get_service()
    started = reassessment.plan_reassessment(svc, moment(now, svc))
    dispatch.flush(svc)
    run_logger().info("预案定期评估：发起 %d 个修订案件", len(started))
    return started


@flow(name="accident-statistics",
      description="事故统计：按月汇总、按季度统计、按年度分析（Word 报告 + Excel 工作簿）")
def accident_statistics(period: str | None = None, now: str | None = None) -> list[dict]:
    svc = get_service()
    made = statistics.accident_statistics(svc, moment(now, svc), period)
    run_logger().info("事故统计：生成 %d 份报告", len(made))
    return made


def jobs() -> dict[str, tuple[Flow, str, dict]]:
    """The scheduled jobs: key → (flow, deployment name, to_deployment keywords)."""
    from prefect.schedules import Cron, Interval

    return {
        "sweep": (deadline_sweep, "every-few-minutes", {"schedule": Interval(timedelta(seconds=SWEEP_SECONDS))}),
        "drill-plan": (annual_drill_plan, "2-january", {"schedule": Cron("0 6 2 1 *", timezone=TIMEZONE)}),
        "drill-publish": (publish_drill_plan, "on-demand", {}),
        "reassessment": (plan_reassessment, "daily", {"schedule": Cron("30 6 * * *", timezone=TIMEZONE)}),
        "statistics": (accident_statistics, "daily", {"schedule": Cron("0 7 * * *", timezone=TIMEZONE)}),
        "retention": (trim_prefect_runs, "daily", {"schedule": Cron("0 3 * * *", timezone=TIMEZONE),
                                                   "parameters": {"older_than_days": RETENTION_DAYS}}),
    }


def job_deployment(key: str) -> str:
    f, name, _ = jobs()[key]
    return f"{f.name}/{name}"


def submit_job(key: str, parameters: dict | None = None) -> str:
    """Run a scheduled job now through Prefect, without waiting (UI buttons, CLI). Returns the run id."""
    from prefect.deployments import run_deployment

    run = run_deployment(job_deployment(key), parameters=parameters or {}, timeout=0)
    return str(run.id)


@dataclass(frozen=True)
class JobState:
    """What became of a job handed to Prefect, in the office's words."""

    label: str             # 排队中 / 运行中 / 已完成 / 失败 / 已取消
    finished: bool
    failed: bool
    message: str = ""      # why it failed, as Prefect recorded it


_STATE_LABELS = {"SCHEDULED": "排队中", "PENDING": "排队中", "RUNNING": "运行中", "PAUSED": "已暂停",
                 "COMPLETED": "已完成", "FAILED": "失败", "CRASHED": "失败", "CANCELLED": "已取消",
                 "CANCELLING": "正在取消"}


def job_state(run_id: str) -> JobState:
    """The state of a job's flow run (`submit_job`'s id), read from the Prefect API."""
    from uuid import UUID

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(run_id)).state
    kind = state.type.value if state is not None else "PENDING"
    failed = kind in ("FAILED", "CRASHED", "CANCELLED")
    message = (state.message or "") if state is not None and failed else ""
    return JobState(_STATE_LABELS.get(kind, kind), finished=kind in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"),
                    failed=failed, message=message)


def job_deployments(work_pool: str | None = None, job_variables: dict | None = None) -> list:
    from prefect.types.entrypoint import EntrypointType

    out = []
    for f, name, kw in jobs().values():
        out.append(f.to_deployment(name=name, tags=["定时任务"], work_pool_name=work_pool, job_variables=job_variables,
                                   entrypoint_type=EntrypointType.MODULE_PATH, **kw))
    return out


INPUT_CHECKS = {"drill-plan": drill_plan.check_params, "drill-publish": drill_publish.check_params}


def run_or_submit(svc, key: str, parameters: dict | None = None) -> tuple[str, object]:
    """A job asked for from a page or the CLI: handed to Prefect when the service's effects go there
    (("submitted", flow run id), without waiting), else run in this process (("done", its result))."""
    from flows.orchestration.runtime import use_service

    check = INPUT_CHECKS.get(key)
    if check is not None:  # a wrong input is refused here, in Chinese, not inside Prefect
        parameters = check(svc, parameters)
    if dispatch.is_orchestrated(svc):
        return "submitted", submit_job(key, parameters)
    use_service(svc)
    try:
        return "done", jobs()[key][0].fn(**(parameters or {}))
    finally:
        use_service(None)
