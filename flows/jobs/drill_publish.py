"""Publishing the year's drill plan: each row becomes a drill case, once; and what was due and done.

A row whose case cannot start (e.g. a plan without a 场景类别) is reported with the reason and tried
again by the next run; rows that have their case are never started twice (a claim per row).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flows.core.errors import FlowError, InvalidForm
from flows.core.org import SYSTEM
from flows.jobs import drill_plan
from flows.jobs.claims import claim, plain
from flows.service import Service, reports
from flows.service.case_sets import workflow_cases

CLAIMS = "drill_plan_cases"
FIELDS = ("drill_name", "plan_name", "plan_kind", "drill_kind", "scenario", "planned_date", "owner_unit", "period")


def check_params(svc: Service, params: dict | None) -> dict:
    """The parameters of drill-publish, checked before they are handed to Prefect: a year, whose plan
    is generated and has rows."""
    params = dict(params or {})
    if params.get("year") is None:
        raise FlowError("请指定要发布的年度")
    params["year"] = year = drill_plan.check_year(params["year"])
    _plan(svc, year)
    return params


def _plan(svc: Service, year: int) -> dict:
    record = reports.get_report(svc, drill_plan.plan_key(year))
    if record is None or "plan_rows" not in record:
        raise FlowError(f"{year} 年度应急演练计划尚未生成，请先生成计划")
    if not record["plan_rows"]:
        raise FlowError(f"{year} 年度应急演练计划没有演练项（预案台账中没有已发布的预案），无需发布")
    return record


def row_status(svc: Service, year: int) -> dict[int, dict]:
    """Per row (seq) of the year's plan: the case it started, or why it could not start one."""
    prefix = f"{drill_plan.plan_key(year)}#"
    out = {}
    for held in svc.store.all(CLAIMS):
        if str(held.get("_key", "")).startswith(prefix):
            out[int(held["seq"])] = {"case_id": held.get("case_id"), "error": held.get("error")}
    return out


def publish(svc: Service, now: datetime, year: int) -> dict:
    year = drill_plan.check_year(year)
    key = drill_plan.plan_key(year)
    record = _plan(svc, year)
    started, failed, already = [], [], 0
    # a case started by a run that died before noting it on its claim is adopted, not started again
    existing = {(c["data"].get("drill_name"), c["data"].get("period")): c["id"] for c in svc.cases(workflow="drill")}
    for row in record["plan_rows"]:
        claim_key = f"{key}#{row['seq']}"
        held = svc.store.get(CLAIMS, claim_key)
        if held is not None and held.get("case_id"):
            already += 1
            continue
        stale = (now - timedelta(hours=1)).isoformat(timespec="seconds")
        if held is not None and not held.get("error") and held.get("claimed_at", "") > stale:
            continue  # claimed moments ago by a run that may still be starting the case
        if not claim(svc, CLAIMS, claim_key, {"year": year, "seq": row["seq"],
                                              "claimed_at": now.isoformat(timespec="seconds")},
                     expected_version=held["_version"] if held else 0):
            continue  # another run claimed it just now
        data = {k: row[k] for k in FIELDS if row.get(k) not in (None, "")}
        unit = row.get("owner_unit") if row.get("owner_unit") in svc.config.org.unit_names else None
        try:
            adopted = existing.get((row["drill_name"], row.get("period")))
            case = svc.case(adopted) if adopted else svc.start("drill", SYSTEM.id, data, unit=unit, now=now)
        except FlowError as exc:
            reason = form_reason(svc, "drill", exc)
            svc.store.put(CLAIMS, claim_key, {**plain(svc.store.get(CLAIMS, claim_key)), "error": reason})
            failed.append({"seq": row["seq"], "drill_name": row["drill_name"], "error": reason})
            continue
        svc.store.put(CLAIMS, claim_key, {**plain(svc.store.get(CLAIMS, claim_key)), "case_id": case["id"],
                                          "error": None})
        started.append({"seq": row["seq"], "drill_name": row["drill_name"], "case_id": case["id"]})
    latest = plain(reports.get_report(svc, key))
    svc.store.put(reports.TABLE, key, {**latest, "published_at": latest.get("published_at")
                                       or now.isoformat(timespec="seconds"),
                                       "published_cases": already + len(started)})
    return {"year": year, "started": started, "failed": failed, "already": already}


def coverage(svc: Service, year: int) -> list[dict]:
    """Per plan and period of the year's plan: drills due, and drills carried out (for leaders)."""
    record = reports.get_report(svc, drill_plan.plan_key(year)) or {}
    return drill_plan.coverage(record.get("plan_rows", []), workflow_cases(svc, "drill"))


def form_reason(svc: Service, workflow: str, exc: FlowError) -> str:
    """A refusal of a start form, with the fields' labels (场景类别：必填) rather than their names."""
    if not isinstance(exc, InvalidForm):
        return str(exc)
    wf = svc.definition(workflow)
    form = wf.forms.get(wf.start_form or "")
    labels = {f.name: f.label for f in form.fields} if form else {}
    return "；".join(f"{labels.get(path.split('.')[0], path)}：{msg}" for path, msg in exc.errors.items())
