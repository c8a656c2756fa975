"""The flows' logic through .fn(), on a plain service (effects inline, no Prefect server); time is moved."""
from __future__ import annotations

import io
from datetime import datetime

import pytest
from docx import Document
from openpyxl import load_workbook
from orch_helpers import BLACKLIST, INVESTIGATION

from flows.core.errors import FlowError
from flows.jobs import drill_publish
from flows.orchestration import case_flows, job_flows
from flows.service import reports


def _notified(svc, when: datetime) -> str:
    cid = svc.start("blacklist", "awb_zhang", BLACKLIST, now=when)["id"]
    svc.act(cid, "verify", "awb_zhang", now=when)
    svc.act(cid, "notify", "awb_zhang", INVESTIGATION, now=when)
    return cid


def _deadline(svc, cid, timer):
    (d,) = [d for d in svc.case(cid)["deadlines"] if d["timer"] == timer]
    return d


def _events(svc, cid, kind):
    return [e for e in svc.history(cid) if e["type"] == kind]


def test_sweep_working_days_across_national_day_and_makeup_sundays(plain_service):
    """陈述申辩期 5 working days. 2025: Sun 28 Sep and Sat 11 Oct are make-up working days, 1–8 Oct off."""
    svc = plain_service
    a = _notified(svc, datetime(2025, 9, 25, 10))   # Thu: 26, 28(Sun), 29, 30, 9 Oct
    b = _notified(svc, datetime(2025, 9, 30, 10))   # Tue: 9, 10, 11(Sat), 13, 14 Oct
    c = _notified(svc, datetime(2025, 9, 25, 11))   # defends in time: its period ends with the state
    svc.act(c, "record_defense", "qy_yang", {"defense_date": "2025-09-28", "defense_text": "已整改"},
            now=datetime(2025, 9, 28, 9))
    d = svc.start("accident", "awb_zhang", {"occurred_at": "2025-08-15T08:30", "place": "X354线", "accident_type": "道路运输",
                                            "deaths": 1, "serious_injuries": 0, "direct_loss": 20, "description": "追尾"},
                  now=datetime(2025, 8, 15, 10))["id"]  # 60 calendar days: escalates, does not fire
    assert _deadline(svc, a, "defense_period")["due"].startswith("2025-10-09")  # Mon–Fri would say 10-02
    assert _deadline(svc, b, "defense_period")["due"].startswith("2025-10-14")
    assert _deadline(svc, d, "investigation_due")["due"].startswith("2025-10-14")

    sweep = job_flows.deadline_sweep.fn
    assert sweep(now="2025-10-08T23:00:00")["acted"] == []          # the holiday counts for nothing
    assert sweep(now="2025-10-09T17:00:00")["acted"] == []          # due at the end of the day
    first = sweep(now="2025-10-10T09:00:00")["acted"]
    assert [(r["case_id"], r["event"], r["state"]) for r in first] == [(a, "timer", ["deciding"])]
    assert sweep(now="2025-10-10T09:00:00")["acted"] == []          # idempotent
    assert sweep(now="2025-10-13T09:00:00")["acted"] == []          # b: 13 Oct is its 4th day
    second = sweep(now="2025-10-15T09:00:00")["acted"]
    assert sorted((r["case_id"], r["event"]) for r in second) == sorted([(b, "timer"), (d, "escalated")])
    assert sweep(now="2025-10-15T09:00:00")["acted"] == []
    assert sweep(now="2025-11-30T09:00:00")["acted"] == []          # later sweeps act on nothing again

    assert len(_events(svc, a, "timer")) == 1 and len(_events(svc, b, "timer")) == 1
    assert svc.case(c)["active"] == ["defense_review"] and _events(svc, c, "timer") == []
    (escalation,) = _events(svc, d, "escalated")
    assert "分管领导" in escalation["notify"] and "催办" in escalation["comment"]
    assert svc.case(d)["active"] == ["reported"]                   # an escalation chases, it does not move
    notify = [e for e in svc.case(d)["effects"] if e.get("kind") == "escalation"]
    assert len(notify) == 1 and notify[0]["status"] == "done"


def _register_plan(svc, name, kind, published, next_assessment, owner="港航事业发展中心", scenario=None):
    svc.store.put("register_plans", name, {"name": name, "kind": kind, "owner_unit": owner, "version": "2022版",
                                           "published": published, "next_assessment": next_assessment,
                                           "scenario": scenario, "case_id": "YA-2022-00001", "key": name})


def test_annual_drill_plan_from_the_register_keeps_its_number(plain_service):
    svc = plain_service
    _register_plan(svc, "内河水上搜救专项应急预案", "专项应急预案", "2024-05-10", "2027-05-10", scenario="内河水上搜救")
    _register_plan(svc, "客运站场疏散现场处置方案", "现场处置方案", "2024-06-01", "2027-06-01", owner="运输管理科")
    _register_plan(svc, "县交通运输突发事件应急预案", "综合应急预案", "2023-03-01", "2026-03-01", owner="局安委办")
    out = job_flows.annual_drill_plan.fn(year=2026, now="2026-01-02T06:00:00")
    # 专项 once, 现场处置 twice, one tabletop, one evacuation drill per enterprise (2 in the org)
    assert out["rows"] == 1 + 2 + 1 + 2 and out["number"] == "县交安〔2026〕1号"
    (record,) = reports.list_reports(svc, kind="drill_plan")
    assert record["title"] == "关于印发2026年度应急演练计划的通知"
    doc = Document(io.BytesIO(svc.document_file(record["files"][0]["file"]).read_bytes()))
    cells = {c.text for t in doc.tables for row in t.rows for c in row.cells}
    assert {"内河水上搜救专项应急预案", "客运站场疏散现场处置方案", "桌面推演"} <= cells
    assert any(c.endswith("6月15日") for c in cells) and any(c.endswith("3月16日") for c in cells)  # Sun 15 Mar → Mon
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "县交安〔2026〕1号" in text and "共计6项" in text
    again = job_flows.annual_drill_plan.fn(year=2026, now="2026-01-05T09:00:00")
    assert again["number"] == "县交安〔2026〕1号"                   # regenerated, never a second number
    assert reports.get_report(svc, "drill-plan-2026")["generations"] == 2


def test_published_drill_plan_starts_each_drill_once_and_is_not_regenerated(plain_service, clock):
    svc = plain_service
    _register_plan(svc, "内河水上搜救专项应急预案", "专项应急预案", "2024-05-10", "2027-05-10", scenario="内河水上搜救")
    _register_plan(svc, "客运站场疏散现场处置方案", "现场处置方案", "2024-06-01", "2027-06-01", owner="运输管理科",
                   scenario="客运站场疏散")
    _register_plan(svc, "县交通运输突发事件应急预案", "综合应急预案", "2023-03-01", "2026-03-01", owner="局安委办")
    with pytest.raises(FlowError, match="尚未生成"):
        job_flows.publish_drill_plan.fn(year=2026, now="2026-01-05T09:00:00")
    plan = job_flows.annual_drill_plan.fn(year=2026, now="2026-01-02T06:00:00")
    out = job_flows.publish_drill_plan.fn(year=2026, now="2026-01-05T09:00:00")
    # the tabletop row names the 综合 plan, which has no 场景类别: reported, not started
    assert len(out["started"]) == plan["rows"] - 1 and out["already"] == 0
    (failed,) = out["failed"]
    assert "桌面推演" in failed["drill_name"] and failed["error"] == "场景类别：必填"
    cases = {c["data"]["drill_name"]: c for c in svc.cases(workflow="drill")}
    assert len(cases) == plan["rows"] - 1
    evac = next(c for name, c in cases.items() if name.startswith("通达客运有限公司全员应急疏散逃生演练"))
    assert evac["unit"] == "通达客运有限公司" and evac["active"] == ["planned"] and evac["data"]["period"] == "2026年度"
    assert all(c["created_by"] == "system" for c in cases.values())

    # a run that died after starting a case but before noting it: the case is adopted, not doubled
    claim = next(c for c in svc.store.all(drill_publish.CLAIMS) if c.get("case_id"))
    svc.store.put(drill_publish.CLAIMS, claim["_key"], {"year": 2026, "seq": claim["seq"],
                                                              "claimed_at": "2026-01-05T09:00:00"},
                  expected_version=claim["_version"])
    again = job_flows.publish_drill_plan.fn(year=2026, now="2026-01-06T09:00:00")
    assert [s["case_id"] for s in again["started"]] == [claim["case_id"]]
    again = job_flows.publish_drill_plan.fn(year=2026, now="2026-01-06T09:00:00")
    assert again["started"] == [] and again["already"] == plan["rows"] - 1 and len(again["failed"]) == 1
    assert len(svc.cases(workflow="drill")) == plan["rows"] - 1          # nobody gets a drill twice
    record = reports.get_report(svc, "drill-plan-2026")
    assert record["published_at"].startswith("2026-01-05") and record["published_cases"] == plan["rows"] - 1
    kept = job_flows.annual_drill_plan.fn(year=2026, now="2026-01-07T09:00:00")
    assert kept["published_at"] == record["published_at"]
    assert reports.get_report(svc, "drill-plan-2026")["generations"] == 1  # a published plan stays as issued

    # what was due and what was done, per plan and period
    river = next(c for c in cases.values() if c["data"]["plan_name"] == "内河水上搜救专项应急预案")
    svc.store.commit({**river, "data": {**river["data"], "executed_date": "2026-05-20"}}, [{"type": "test"}], None,
                     river["version"])
    rows = {(r["plan_name"], r["period"]): r for r in drill_publish.coverage(svc, 2026)}
    assert rows[("内河水上搜救专项应急预案", "2026年度")]["due"] == 1
    assert rows[("内河水上搜救专项应急预案", "2026年度")]["done"] == 1
    assert rows[("客运站场疏散现场处置方案", "2026年上半年")] | {"cases": None} == {
        "plan_name": "客运站场疏散现场处置方案", "period": "2026年上半年", "due": 1, "done": 0, "cases": None}


def test_reassessment_starts_one_revision_when_due(plain_service):
    svc = plain_service
    _register_plan(svc, "港口危险货物泄漏现场处置方案", "现场处置方案", "2022-03-28", "2025-03-28")
    _register_plan(svc, "内河水上搜救专项应急预案", "专项应急预案", "2024-05-10", "2027-05-10")
    assert job_flows.plan_reassessment.fn(now="2025-03-27T06:30:00") == []
    (started,) = job_flows.plan_reassessment.fn(now="2025-03-28T06:30:00")
    assert job_flows.plan_reassessment.fn(now="2025-03-29T06:30:00") == []   # once per due date
    case = svc.case(started["case_id"])
    assert case["workflow"] == "plan_revision" and case["unit"] == "港航事业发展中心"
    assert case["data"]["revision_reason"] == "定期评估" and case["data"]["plan_version"] == "2022版"
    assert case["created_by"] == "system" and "2025-03-28到期" in case["data"]["reason_detail"]


def test_reassessment_counts_a_revision_already_under_way(plain_service):
    svc = plain_service
    _register_plan(svc, "港口危险货物泄漏现场处置方案", "现场处置方案", "2022-03-28", "2025-03-28")
    svc.start("plan_revision", "awb_zhang", {"plan_name": "港口危险货物泄漏现场处置方案", "plan_kind": "现场处置方案",
                                              "owner_unit": "港航事业发展中心", "revision_reason": "法规标准变化"})
    assert job_flows.plan_reassessment.fn(now="2025-04-01T06:30:00") == []
    assert len(svc.cases(workflow="plan_revision")) == 1


def _accident(svc, when, kind, deaths, injuries, loss):
    return svc.start("accident", "awb_zhang", {"occurred_at": when, "place": "城北港区", "accident_type": kind,
                                               "deaths": deaths, "serious_injuries": injuries, "direct_loss": loss,
                                               "description": "经过"})["id"]


def test_accident_statistics_scheduled_and_on_demand(plain_service):
    svc = plain_service
    _accident(svc, "2025-01-10T08:00", "道路运输", 3, 0, 150)
    _accident(svc, "2025-02-11T08:00", "水上交通", 0, 1, 20.5)
    _accident(svc, "2025-03-12T08:00", "道路运输", 1, 0, 30)
    _accident(svc, "2024-03-02T08:00", "港口", 0, 0, 5)
    made = job_flows.accident_statistics.fn(now="2025-04-01T07:00:00")
    assert [m["period"] for m in made] == ["2025-03", "2025-Q1", "2024"]
    assert [m["accidents"] for m in made] == [1, 3, 1]
    assert job_flows.accident_statistics.fn(now="2025-04-02T07:00:00") == []   # already there
    q1 = reports.get_report(svc, "accident-statistics-2025-Q1")
    assert q1["title"] == "2025年第一季度交通运输安全生产事故统计分析报告"
    assert q1["number"].startswith("县交安统〔2025〕")
    docx = svc.document_file(q1["files"][0]["file"])
    text = "\n".join(p.text for p in Document(str(docx)).paragraphs)
    assert "共发生生产安全事故3起，死亡4人，重伤1人，直接经济损失200.5万元" in text
    assert "与上年同期相比" in text
    xlsx = svc.document_file(next(f["file"] for f in q1["files"] if f["kind"] == "xlsx"))
    ws = load_workbook(xlsx)["事故起数"]
    assert [c.value for c in ws[ws.max_row]] == ["合计", 2, 1, 0, 0, 3]
    # on demand: regenerated with late figures, same number
    _accident(svc, "2025-03-30T08:00", "港口", 0, 0, 1)
    (again,) = job_flows.accident_statistics.fn(period="2025-Q1", now="2025-04-03T09:00:00")
    assert again["accidents"] == 4
    assert reports.get_report(svc, "accident-statistics-2025-Q1")["number"] == q1["number"]


def test_case_flows_are_built_from_the_configs(plain_service, orch_config):
    for name, wf in orch_config.workflows.items():
        f = case_flows.case_flow(name)
        assert f.name == f"case-{name}" and f.version == str(wf.version) and wf.title in f.description
        assert getattr(case_flows, f"case_{name}") is f       # the workers' entrypoint
    assert set(job_flows.jobs()) == {"sweep", "drill-plan", "drill-publish", "reassessment", "statistics",
                                         "retention"}
    from flows.orchestration.stack import JOB_COUNT

    assert JOB_COUNT == len(job_flows.jobs())


def test_a_sweep_leaves_nothing_due_even_when_a_fired_deadline_enters_an_overdue_one(plain_service):
    """公示期满 fires into 已列入, whose 3-year term counts from the decision: both act in one sweep."""
    svc = plain_service
    cid = _notified(svc, datetime(2025, 3, 3, 9))
    svc.act(cid, "waive_defense", "awb_zhang", comment="企业书面放弃", now=datetime(2025, 3, 4, 9))
    svc.act(cid, "decide", "fenguan", {"decision_date": "2025-03-05", "measures": ["在信用平台公开"]},
            now=datetime(2025, 3, 5, 9))
    first = job_flows.deadline_sweep.fn(now="2029-01-01T09:00:00")["acted"]
    assert [r["event"] for r in first] == ["timer", "timer"]           # publicity ends, then the term
    assert svc.case(cid)["active"] == ["term_review"]
    assert job_flows.deadline_sweep.fn(now="2029-01-01T09:00:00")["acted"] == []
