"""Prefect runs the workflows: the effects of actions, the timers and the periodic work.

Flows
  case-<workflow>          one flow per workflow kind, built from its config (`case_flow(name)`; also
                           reachable as the module attribute `case_<name>` for workers' entrypoints).
                           A run carries out the effects one action caused — documents with their
                           发文字号, linked cases, register rows, notifications — each as a task with
                           retries. Runs are named "case id｜action｜actor" and tagged case:/action:/actor:.
  deadline-sweep           every few minutes: fire or escalate every passed deadline (idempotent), and
                           submit again effects left pending with no run carrying them.
  annual-drill-plan        2 January (and on demand): the year's drill plan from the plan register,
                           as the Word table of `annual_drill_plan.docx`.
  drill-plan-publish       on demand: each row of the year's plan becomes a drill case (once).
  plan-reassessment        daily: a published plan due for its 3-yearly assessment gets a
                           `plan_revision` case (once per due date).
  accident-statistics      daily: the latest complete month, quarter and year that have no report yet
                           (on demand: any period, regenerated) — Word report + Excel workbook.
  prefect-retention        daily: delete Prefect's own finished flow runs older than N days.

Time is a parameter (`now`, ISO text) everywhere, so tests move it instead of sleeping.

How effects reach a flow run fast: the acting process commits and creates a flow run of the
workflow's `effects` deployment (`flows.dispatch`); in the serving process an `EffectExecutor`
polls those deployments every ~0.25 s, claims a scheduled run (Pending, which Prefect grants to one
claimant only) and runs it in-process on a thread with the flow heartbeat off — no subprocess, so a
document is there within about a second. The scheduled jobs are served by Prefect's own runner
(`serve`), each run in its own subprocess. Past one machine the same deployments go to a `process`
work pool and workers on other hosts run them (see deploy/).
"""
from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.flows import Flow
from prefect.states import Failed

from flows import dispatch, drill_plan, reports, statistics
from flows.effects import MAX_ATTEMPTS, EffectFailed
from flows.errors import FlowError, InvalidForm
from flows.org import SYSTEM
from flows.service import Service

log = logging.getLogger("flows.orchestration")

TIMEZONE = "Asia/Shanghai"
SWEEP_SECONDS = int(os.environ.get("WORKFLOW_SWEEP_SECONDS", "300"))
RETENTION_DAYS = float(os.environ.get("WORKFLOW_PREFECT_RETENTION_DAYS", "30"))
RESUBMIT_AFTER_S = 120          # a pending effect older than this with no run carrying it is submitted again
STUCK_RUN_S = 600               # a Running effects run older than this no longer counts as carrying it
EFFECT_RETRY_DELAYS = [1, 4]    # seconds between the attempts (MAX_ATTEMPTS in all)

# ------------------------------------------------------------------ the service the flows use

_override: Service | None = None


def use_service(svc: Service | None) -> None:
    """Make the flows of this process use `svc` (tests, the bench); None restores the default."""
    global _override
    _override = svc


def get_service() -> Service:
    """The data directory comes from WORKFLOW_DATA_DIR: a worker on another host sets its own."""
    return _override or dispatch.service_for()


def _moment(now: str | datetime | None, svc: Service) -> datetime:
    if now is None:
        return svc.clock()
    return now if isinstance(now, datetime) else datetime.fromisoformat(now)


def _flush(svc: Service) -> None:
    submitter = getattr(svc, "submitter", None)
    if submitter is not None:
        submitter.flush()


def _logger():
    try:
        return get_run_logger()
    except Exception:  # noqa: BLE001 - called outside a run (.fn() in tests)
        return log


# ------------------------------------------------------------------ effects

def _keep_retrying(task_obj, task_run, state) -> bool:
    """Stop early when the effect was marked failed (its attempts are counted on the case)."""
    exc = state.result(raise_on_failure=False)
    return not (isinstance(exc, EffectFailed) and exc.effect.get("status") == "failed")


@task(name="effect", retries=MAX_ATTEMPTS - 1, retry_delay_seconds=EFFECT_RETRY_DELAYS,
      retry_condition_fn=_keep_retrying)
def run_effect(case_id: str, effect_id: str) -> dict:
    """One effect; EffectRunner records each attempt on the case and marks it failed after the last."""
    return get_service().effects.run(case_id, effect_id)


def effect_label(svc: Service, effect: dict) -> str:
    kind = effect["type"]
    if kind == "document":
        title = re.sub(r"\{[^}]*\}", "", svc.effects.settings.spec(effect["template"]).title)
        return f"出具文书：{title or effect['template']}"
    if kind == "start_case":
        wf = svc.config.workflows.get(effect["workflow"])
        return f"发起关联案件：{wf.title if wf else effect['workflow']}"
    if kind == "register":
        return f"登记台账：{effect['table']}"
    if kind == "notify":
        return "待办提醒" if effect.get("kind") == "task" else f"催办通知：{'、'.join(effect.get('roles', []))}"
    return kind


def carry_out(case_id: str, effect_ids: list[str] | None = None, action: str = "", actor: str = ""):
    """The body of every case flow: run the case's pending effects (those named, or all), in order."""
    svc = get_service()
    case = svc.case(case_id)
    todo = [e for e in case.get("effects", [])
            if e["status"] == "pending" and (effect_ids is None or e["id"] in effect_ids)]
    results: dict[str, str] = {}
    for effect in todo:
        state = run_effect.with_options(task_run_name=effect_label(svc, effect))(
            case_id, effect["id"], return_state=True)
        results[effect["id"]] = "done" if state.is_completed() else "failed"
    _flush(svc)  # effects of linked cases this run started
    failed = [eid for eid, status in results.items() if status == "failed"]
    if failed:
        reasons = [e.get("error") for e in svc.case(case_id).get("effects", []) if e["id"] in failed]
        return Failed(message=f"{len(failed)} 项处理失败：{'；'.join(r or '' for r in reasons)}", data=results)
    return results


_case_flows: dict[str, Flow] = {}
_case_flows_lock = threading.Lock()


def case_flow(workflow: str, svc: Service | None = None) -> Flow:
    """The Prefect flow of one workflow kind, built from its definition (name, title, version)."""
    with _case_flows_lock:
        made = _case_flows.get(workflow)
        if made is not None:
            return made
        svc = svc or get_service()
        wf = svc.definition(workflow)

        def body(case_id: str, effect_ids: list[str] | None = None, action: str = "", actor: str = ""):
            return carry_out(case_id, effect_ids, action, actor)

        body.__name__ = body.__qualname__ = f"case_{workflow}"
        body.__module__ = __name__
        made = Flow(fn=body, name=dispatch.case_flow_name(workflow), version=str(wf.version),
                    description=f"{wf.title}：执行案件操作引起的处理（出具文书、发起关联案件、登记台账、催办通知）",
                    validate_parameters=True)
        _case_flows[workflow] = made
        return made


def __getattr__(name: str) -> Any:
    """`flows.orchestration.case_<workflow>`: the entrypoint workers load for a case flow."""
    if name.startswith("case_") and not name.startswith("case_flow"):
        try:
            return case_flow(name[len("case_"):])
        except FlowError as exc:
            raise AttributeError(name) from exc
    raise AttributeError(name)


# ------------------------------------------------------------------ deadline sweep

def _carried_cases(case_ids: list[str], now_utc: datetime) -> set[str] | None:
    """Which of these cases have an effects run scheduled, pending or (recently) running; None when
    Prefect cannot be asked (then nothing is resubmitted: better late than twice)."""
    try:
        from prefect import get_client
        from prefect.client.schemas.filters import (DeploymentFilter, DeploymentFilterName, FlowRunFilter,
                                                    FlowRunFilterState, FlowRunFilterStateType, FlowRunFilterTags)
        from prefect.client.schemas.objects import StateType

        runs = []
        with get_client(sync_client=True) as client:
            for i in range(0, len(case_ids), 100):
                tags = [f"case:{cid}" for cid in case_ids[i:i + 100]]
                runs += client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        tags=FlowRunFilterTags(any_=tags),
                        state=FlowRunFilterState(type=FlowRunFilterStateType(
                            any_=[StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]))),
                    deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[dispatch.EFFECTS_DEPLOYMENT])))
    except Exception as exc:  # noqa: BLE001
        _logger().warning("无法查询 Prefect 中的处理运行（%s），本次不补交", exc)
        return None
    carried = set()
    for run in runs:
        if run.state_type == StateType.RUNNING and run.start_time and \
                (now_utc - run.start_time).total_seconds() > STUCK_RUN_S:
            continue  # its process died (no heartbeat in the fast executor): do not wait for it forever
        carried |= {t[5:] for t in run.tags if t.startswith("case:")}
    return carried


def resubmit_stale(svc: Service, moment: datetime, after_s: float = RESUBMIT_AFTER_S) -> list[str]:
    """Submit again pending effects older than `after_s` that no run is carrying (the outbox's redelivery)."""
    if not isinstance(svc, dispatch.OrchestratedService):
        return []
    cutoff = (moment - timedelta(seconds=after_s)).isoformat(timespec="seconds")
    stale = {}
    for case in svc.store.open_cases():
        ids = [e["id"] for e in case.get("effects", []) if e["status"] == "pending" and e.get("created_at", "") <= cutoff]
        if ids:
            stale[case["id"]] = (case, ids)
    if not stale:
        return []
    carried = _carried_cases(sorted(stale), datetime.now(timezone.utc))
    if carried is None:
        return []
    out = []
    for case_id, (case, ids) in sorted(stale.items()):
        if case_id in carried:
            continue
        svc.submit(case, ids, {"type": "resubmit", "label": "补交处理", "actor": {"id": "system", "name": "系统"}})
        out.append(case_id)
    return out


def sweep_all(svc: Service, moment: datetime, rounds: int = 10) -> list[dict]:
    """Sweep until nothing more is due. A fired deadline can enter a state whose own deadline has
    passed already (公示期满 → 已列入, whose term ran from the decision date): the next round acts on it,
    so one sweep leaves nothing due and a second one changes nothing."""
    done: list[dict] = []
    for _ in range(rounds):
        acted = svc.sweep(moment)
        if not acted:
            break
        done += acted
    return done


@flow(name="deadline-sweep", description="期限巡查：到期的期限自动流转或催办（幂等），并补交未被执行的处理")
def deadline_sweep(now: str | None = None, resubmit_after_s: float = RESUBMIT_AFTER_S) -> dict:
    svc = get_service()
    moment = _moment(now, svc)
    t0 = time.perf_counter()
    done = sweep_all(svc, moment)
    resubmitted = resubmit_stale(svc, moment, resubmit_after_s)
    _flush(svc)
    summary = {"now": moment.isoformat(timespec="seconds"), "acted": done, "resubmitted": resubmitted,
               "seconds": round(time.perf_counter() - t0, 3)}
    _logger().info("期限巡查：处理 %d 个到期期限，补交 %d 个案件的处理", len(done), len(resubmitted))
    return summary


# ------------------------------------------------------------------ annual drill plan

def _enterprises(svc: Service) -> list[str]:
    return sorted(u.name for u in svc.config.org.units if u.kind == "enterprise")


@flow(name="annual-drill-plan", description="年度应急演练计划：按预案台账和演练频次生成（1月2日及按需）")
def annual_drill_plan(year: int | None = None, now: str | None = None) -> dict:
    """The year's plan as a Word table, its rows kept with the report for publishing. A plan already
    published is left as it is: its drills are cases now."""
    svc = get_service()
    moment = _moment(now, svc)
    year = year or moment.year
    existing = reports.get_report(svc, drill_plan_key(year))
    if existing is not None and existing.get("published_at"):
        _logger().info("%d 年度应急演练计划已于 %s 发布，不再重新生成", year, existing["published_at"][:10])
        return {"key": existing["key"], "number": existing["number"], "rows": existing.get("rows", 0),
                "files": [f["file"] for f in existing["files"]], "published_at": existing["published_at"]}
    plans = [r for r in svc.register("plans") if r.get("published")]
    rules = drill_plan.load_rules(svc.config.root / "drill_rules.yaml")
    rows = drill_plan.generate(year, plans, _enterprises(svc), rules, svc.config.calendar)
    record = reports.issue(svc, key=drill_plan_key(year), kind="drill_plan", template="annual_drill_plan",
                           title_values={"year": year}, rows=rows, extra={"year": year}, moment=moment,
                           meta={"year": year, "rows": len(rows), "plan_rows": rows})
    _logger().info("%d 年度应急演练计划：%d 项", year, len(rows))
    return {"key": record["key"], "number": record["number"], "rows": len(rows),
            "files": [f["file"] for f in record["files"]]}


def drill_plan_key(year: int) -> str:
    return f"drill-plan-{year}"


DRILL_CLAIMS = "drill_plan_cases"
DRILL_FIELDS = ("drill_name", "plan_name", "plan_kind", "drill_kind", "scenario", "planned_date", "owner_unit",
                "period")


@flow(name="drill-plan-publish", description="发布年度应急演练计划：为计划中的每项演练发起演练案件（可重复执行，不重复发起）")
def publish_drill_plan(year: int, now: str | None = None) -> dict:
    """Each row of the year's plan becomes a drill case (计划 state, chased when its date passes).
    A row whose case cannot start (e.g. a plan without a 场景类别) is reported with the reason and
    tried again by the next run; rows that have their case are never started twice."""
    svc = get_service()
    moment = _moment(now, svc)
    key = drill_plan_key(year)
    record = reports.get_report(svc, key)
    if record is None or "plan_rows" not in record:
        raise FlowError(f"{year} 年度应急演练计划尚未生成，请先生成计划")
    started, failed, already = [], [], 0
    # a case started by a run that died before noting it on its claim is adopted, not started again
    existing = {(c["data"].get("drill_name"), c["data"].get("period")): c["id"] for c in svc.cases(workflow="drill")}
    for row in record["plan_rows"]:
        claim_key = f"{key}#{row['seq']}"
        claim = svc.store.get(DRILL_CLAIMS, claim_key)
        if claim is not None and claim.get("case_id"):
            already += 1
            continue
        stale = (moment - timedelta(hours=1)).isoformat(timespec="seconds")
        if claim is not None and not claim.get("error") and claim.get("claimed_at", "") > stale:
            continue  # claimed moments ago by a run that may still be starting the case
        if not _claim(svc, claim_key, {"year": year, "seq": row["seq"],
                                       "claimed_at": moment.isoformat(timespec="seconds")},
                      table=DRILL_CLAIMS, expected_version=claim["_version"] if claim else 0):
            continue  # another run claimed it just now
        data = {k: row[k] for k in DRILL_FIELDS if row.get(k) not in (None, "")}
        unit = row.get("owner_unit") if row.get("owner_unit") in svc.config.org.unit_names else None
        try:
            adopted = existing.get((row["drill_name"], row.get("period")))
            case = svc.case(adopted) if adopted else svc.start("drill", SYSTEM.id, data, unit=unit, now=moment)
        except FlowError as exc:
            reason = _form_reason(svc, "drill", exc)
            svc.store.put(DRILL_CLAIMS, claim_key, {**_plain(svc.store.get(DRILL_CLAIMS, claim_key)),
                                                    "error": reason})
            failed.append({"seq": row["seq"], "drill_name": row["drill_name"], "error": reason})
            continue
        svc.store.put(DRILL_CLAIMS, claim_key, {**_plain(svc.store.get(DRILL_CLAIMS, claim_key)),
                                                "case_id": case["id"], "error": None})
        started.append({"seq": row["seq"], "drill_name": row["drill_name"], "case_id": case["id"]})
    latest = _plain(reports.get_report(svc, key))
    svc.store.put(reports.TABLE, key, {**latest, "published_at": latest.get("published_at")
                                       or moment.isoformat(timespec="seconds"),
                                       "published_cases": already + len(started)})
    _flush(svc)
    _logger().info("发布 %d 年度应急演练计划：发起 %d 个演练案件，%d 项未能发起", year, len(started), len(failed))
    return {"year": year, "started": started, "failed": failed, "already": already}


def drill_coverage(svc: Service, year: int) -> list[dict]:
    """Per plan and period of the year's plan: drills due, and drills carried out (for leaders)."""
    record = reports.get_report(svc, drill_plan_key(year)) or {}
    return drill_plan.coverage(record.get("plan_rows", []), svc.cases(workflow="drill"))


def _form_reason(svc: Service, workflow: str, exc: FlowError) -> str:
    """A refusal of a start form, with the fields' labels (场景类别：必填) rather than their names."""
    if not isinstance(exc, InvalidForm):
        return str(exc)
    wf = svc.definition(workflow)
    form = wf.forms.get(wf.start_form or "")
    labels = {f.name: f.label for f in form.fields} if form else {}
    return "；".join(f"{labels.get(path.split('.')[0], path)}：{msg}" for path, msg in exc.errors.items())


def _plain(doc: dict | None) -> dict:
    """A stored record without the store's own fields (_key, _version)."""
    return {k: v for k, v in (doc or {}).items() if not k.startswith("_")}


# ------------------------------------------------------------------ 3-year reassessment

CLAIMS = "reassessments"


def _claim(svc: Service, key: str, doc: dict, table: str = CLAIMS, expected_version: int = 0) -> bool:
    """Take `key` for this run: a versioned write, so of two runs at once only one gets it."""
    from storage import ConflictError

    try:
        svc.store.put(table, key, doc, expected_version=expected_version)
        return True
    except ConflictError:
        return False


@flow(name="plan-reassessment", description="应急预案定期评估：印发满3年的预案自动发起修订案件（每个到期日一次）")
def plan_reassessment(now: str | None = None) -> list[dict]:
    svc = get_service()
    moment = _moment(now, svc)
    today = moment.date().isoformat()
    started = []
    open_revisions = {c["data"].get("plan_name"): c["id"] for c in svc.store.cases(workflow="plan_revision",
                                                                                     status="open")}
    for row in sorted(svc.register("plans"), key=lambda r: r.get("next_assessment") or ""):
        due = str(row.get("next_assessment") or "")[:10]
        if not due or not row.get("published") or due > today:
            continue
        key = f"{row['key']}@{due}"
        claim = svc.store.get(CLAIMS, key)
        if claim is not None and claim.get("case_id"):
            continue
        if claim is None:
            existing = open_revisions.get(row.get("name"))
            if not _claim(svc, key, {"plan": row["key"], "due": due, "case_id": existing,
                                     "claimed_at": moment.isoformat(timespec="seconds")}):
                continue  # another run claimed it just now
            if existing:  # a revision of this plan is already under way: that one is the assessment
                continue
        elif claim.get("claimed_at", "") > (moment - timedelta(hours=1)).isoformat(timespec="seconds"):
            continue  # claimed moments ago by a run that may still be starting the case
        data = {"plan_name": row.get("name") or row["key"], "plan_kind": row.get("kind"),
                "owner_unit": row.get("owner_unit"), "plan_version": row.get("version"),
                "revision_reason": "定期评估",
                "reason_detail": f"该预案于{row.get('published')}印发，按规定至少每3年评估一次，{due}到期。"}
        if row.get("scenario"):
            data["scenario"] = row["scenario"]
        case = svc.start("plan_revision", SYSTEM.id, {k: v for k, v in data.items() if v is not None},
                         unit=row.get("owner_unit"), now=moment)
        svc.store.put(CLAIMS, key, {**(svc.store.get(CLAIMS, key) or {}), "case_id": case["id"]})
        started.append({"plan": row["key"], "due": due, "case_id": case["id"]})
    _flush(svc)
    _logger().info("预案定期评估：发起 %d 个修订案件", len(started))
    return started


# ------------------------------------------------------------------ accident statistics

@flow(name="accident-statistics",
      description="事故统计：按月汇总、按季度统计、按年度分析（Word 报告 + Excel 工作簿）")
def accident_statistics(period: str | None = None, now: str | None = None) -> list[dict]:
    """With `period` (2025-03, 2025-Q1, 2025): that report, regenerated. Without: the latest
    complete month, quarter and year that have no report yet (a missed day catches up the next)."""
    svc = get_service()
    moment = _moment(now, svc)
    try:
        periods = [statistics.Period.parse(period)] if period else statistics.due_periods(moment.date())
    except ValueError as exc:
        raise FlowError(str(exc)) from None
    cases = None
    made = []
    for p in periods:
        key = f"accident-statistics-{p.key}"
        if period is None and reports.get_report(svc, key) is not None:
            continue
        if cases is None:
            cases = list(svc.store.cases(workflow="accident"))
        rep = statistics.report(cases, p)
        xlsx = statistics.workbook(rep)
        record = reports.issue(
            svc, key=key, kind="accident_statistics", template="accident_statistics",
            title_values={"period": p.label}, rows=rep["rows"],
            extra={"period": p.label, "totals": rep["totals"], "analysis": rep["analysis"]}, moment=moment,
            attachments={f"{p.label}事故统计.xlsx": xlsx},
            meta={"period": p.key, "period_kind": p.kind, "accidents": len(rep["accidents"])})
        made.append({"key": key, "period": p.key, "accidents": len(rep["accidents"]),
                     "files": [f["file"] for f in record["files"]]})
    _logger().info("事故统计：生成 %d 份报告", len(made))
    return made


# ------------------------------------------------------------------ retention of Prefect's records

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")


@flow(name="prefect-retention", description="清理 Prefect 自身的运行记录（案件历史才是长期记录）")
def trim_prefect_runs(older_than_days: float = RETENTION_DAYS, now: str | None = None, batch: int = 50) -> int:
    """Delete finished flow runs (with their task runs and logs) that ended more than N days ago."""
    from prefect import get_client
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterEndTime, FlowRunFilterState,
                                                FlowRunFilterStateType)

    moment = datetime.fromisoformat(now) if now else datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.astimezone()
    cutoff = moment - timedelta(days=older_than_days)
    filt = FlowRunFilter(end_time=FlowRunFilterEndTime(before_=cutoff),
                         state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(TERMINAL))))
    deleted = 0
    with get_client(sync_client=True) as client:
        for _ in range(100_000):
            response = client.request("POST", "/flow_runs/bulk_delete",
                                      json={"flow_runs": filt.model_dump(mode="json", exclude_none=True),
                                            "limit": batch})
            response.raise_for_status()
            ids = response.json().get("deleted", [])
            deleted += len(ids)
            if not ids:  # a batch may come back short while more remain: stop only on an empty one
                break
    _logger().info("清理 Prefect 运行记录：删除 %d 个早于 %s 结束的运行", deleted, cutoff.isoformat(timespec="seconds"))
    return deleted


# ------------------------------------------------------------------ deployments

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


def job_deployments(work_pool: str | None = None, job_variables: dict | None = None) -> list:
    from prefect.types.entrypoint import EntrypointType

    out = []
    for f, name, kw in jobs().values():
        out.append(f.to_deployment(name=name, tags=["定时任务"], work_pool_name=work_pool, job_variables=job_variables,
                                   entrypoint_type=EntrypointType.MODULE_PATH, **kw))
    return out


def effect_deployments(svc: Service, work_pool: str | None = None, job_variables: dict | None = None) -> list:
    from prefect.types.entrypoint import EntrypointType

    return [case_flow(name, svc).to_deployment(name=dispatch.EFFECTS_DEPLOYMENT, tags=["案件处理", name],
                                               work_pool_name=work_pool, job_variables=job_variables,
                                               entrypoint_type=EntrypointType.MODULE_PATH)
            for name in sorted(svc.config.workflows)]


# ------------------------------------------------------------------ the fast in-process executor

class EffectExecutor:
    """Runs the effects deployments' runs in this process as soon as they are scheduled.

    Prefect's runner starts a subprocess per run (~4 s here); effects must be done within ~2 s of
    the click, so this executor claims each scheduled run (proposing Pending: the server grants it
    to one claimant, so workers or other executors polling the same deployments never double-run
    it) and runs the flow on a thread with the flow heartbeat off.
    """

    def __init__(self, flows_by_deployment: dict[UUID, Flow], threads: int = 4, poll_s: float = 0.25):
        self.flows = dict(flows_by_deployment)
        self.threads = threads
        self.poll_s = poll_s
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="effects")
        self._busy = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ran = 0
        self.last_poll: float | None = None
        self.mark_ready_s = 10.0

    def start(self) -> "EffectExecutor":
        self._thread = threading.Thread(target=self._loop, name="effect-executor", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _loop(self) -> None:
        from prefect.client.schemas.objects import FlowRun

        api = None
        failures = 0
        while not self._stop.is_set():
            try:
                if api is None:
                    api = dispatch.PrefectAPI()
                with self._lock:
                    free = self.threads - self._busy
                if free > 0:
                    if self.last_poll is None or time.time() - self.last_poll > self.mark_ready_s:
                        self._mark_ready()
                    now = datetime.now(timezone.utc).isoformat()
                    runs = dispatch.retrying(lambda: api.scheduled_runs(list(self.flows), now, free))
                    for data in runs:
                        if not dispatch.retrying(lambda: api.claim(data["id"])):
                            continue  # someone else claimed it
                        with self._lock:
                            self._busy += 1
                        self._pool.submit(self._run, FlowRun.model_validate(data))
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the server restarting: reconnect, wait a little
                failures += 1
                log.warning("处理执行器轮询失败：%s", exc)
                if api is not None:
                    api.close()
                api = None
                self._stop.wait(min(2 * failures, 10))
            self._stop.wait(self.poll_s)
        if api is not None:
            api.close()

    def _mark_ready(self) -> None:
        """The "scheduled runs" endpoint marks the deployments as polled (READY in the UI, and the
        stack's health check). It also writes, so it is called every `mark_ready_s`, not each poll."""
        from prefect import get_client

        self.last_poll = time.time()
        with get_client(sync_client=True) as client:
            client.get_scheduled_flow_runs_for_deployments(
                list(self.flows), limit=1, scheduled_before=datetime.now(timezone.utc) - timedelta(days=3650))

    def _run(self, run) -> None:
        from prefect.flow_engine import run_flow
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        try:
            with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
                run_flow(self.flows[run.deployment_id], flow_run=run, return_type="state")
            self.ran += 1
        except BaseException as exc:  # noqa: BLE001 - recorded by the engine; keep the executor alive
            log.warning("处理运行 %s 异常结束：%s", run.name, exc)
        finally:
            with self._lock:
                self._busy -= 1


def register_effects(svc: Service, threads: int = 4, poll_s: float = 0.25,
                     deployments: list | None = None) -> EffectExecutor:
    """Create (or update) the effects deployments and return an executor for them (not started)."""
    flows_by_id = {}
    for deployment in deployments if deployments is not None else effect_deployments(svc):
        flows_by_id[deployment.apply()] = case_flow(deployment.flow_name.removeprefix("case-"), svc)
    return EffectExecutor(flows_by_id, threads=threads, poll_s=poll_s)


def executor_for_existing(svc: Service, threads: int = 4, poll_s: float = 0.25) -> EffectExecutor:
    """An executor for effects deployments registered elsewhere (e.g. in a work pool by `flows deploy`),
    left as they are: it only claims their scheduled runs, ahead of the pool's workers."""
    api = dispatch.PrefectAPI()
    try:
        flows_by_id = {UUID(api.deployment_id(dispatch.effects_deployment(name))): case_flow(name, svc)
                       for name in sorted(svc.config.workflows)}
    finally:
        api.close()
    return EffectExecutor(flows_by_id, threads=threads, poll_s=poll_s)


# ------------------------------------------------------------------ the serving process

def wait_for_api(timeout: float = 60.0) -> None:
    from flows.stack import await_api

    problem = await_api(os.environ.get("PREFECT_API_URL", ""), timeout, interval=0.2)
    if problem:
        raise FlowError(problem)


def serve_all(data: str | Path | None = None, threads: int = 4, poll_s: float = 0.25,
              executor_only: bool = False) -> None:
    """The process serving the deployments: the effects executor plus Prefect's runner for the jobs.
    With `executor_only`: just the executor, for deployments a work pool holds. Blocks until SIGTERM/SIGINT."""
    from prefect import serve

    from flows.service import DATA_DIR_ENV, data_dir

    os.environ[DATA_DIR_ENV] = str(data_dir(data).resolve())  # the served subprocess runs read it
    # load the data and build the deployments while the server is still starting (the stack starts both at once)
    svc = get_service()
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
        _flush(svc)
