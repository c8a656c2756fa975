"""The office edits the generated drill plan before publishing (flows.jobs.plan_edit): each row checked,
saved with a version check, what is saved is what publish starts; the jobs' inputs refused before Prefect."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from flows.core.errors import FlowError
from flows.jobs import drill_plan, drill_publish, plan_edit
from flows.orchestration import job_flows, runtime
from flows.service import reports

NOW = datetime(2026, 1, 5, 9)


def _register_plan(svc, name, kind, owner="港航事业发展中心", scenario=None):
    svc.store.put("register_plans", name, {"name": name, "kind": kind, "owner_unit": owner, "version": "2022版",
                                           "published": "2024-05-10", "next_assessment": "2027-05-10",
                                           "scenario": scenario, "case_id": "YA-2022-00001", "key": name})


@pytest.fixture
def plan(plain_service):
    svc = plain_service
    _register_plan(svc, "内河水上搜救专项应急预案", "专项应急预案", scenario="内河水上搜救")
    _register_plan(svc, "客运站场疏散现场处置方案", "现场处置方案", owner="运输管理科", scenario="客运站场疏散")
    _register_plan(svc, "县交通运输突发事件应急预案", "综合应急预案", owner="局安委办")   # no scenario: the tabletop
    job_flows.annual_drill_plan.fn(year=2026, now="2026-01-02T06:00:00")
    return svc


def _row(p, name_part):
    return next(r for r in p["rows"] if name_part in r["drill_name"])


def _edit(row, **changes):
    return {"seq": row["seq"], "planned_date": row["planned_date"], "owner_unit": row["owner_unit"],
            "scenario": row["scenario"], **changes}


def test_each_row_is_checked_and_every_problem_named_by_row_and_column(plan):
    svc = plan
    p = plan_edit.editable_plan(svc, 2026)
    river, half = _row(p, "内河水上搜救"), _row(p, "客运站场疏散现场处置方案实战演练（2026年上半年）")
    rows = [_edit(river, planned_date="2027-03-01", owner_unit="不存在的单位", scenario=""),
            _edit(half, planned_date=date(2026, 7, 15), scenario="x" * 60),        # 下半年: outside its period
            _edit(_row(p, "桌面推演"), planned_date="2026-03-14", scenario="火星救援")]  # a Saturday
    problems = {(pr.seq, pr.field): pr.message for pr in plan_edit.check_rows(svc, 2026, rows, p["rows"])}
    assert problems[(river["seq"], "planned_date")] == "须在 2026 年内"
    assert problems[(river["seq"], "owner_unit")] == "「不存在的单位」不是已知的单位或企业"
    assert problems[(river["seq"], "scenario")] == "必填"
    assert problems[(half["seq"], "planned_date")] == "须在计划周期「2026年上半年」内（1月1日至6月30日）"
    assert problems[(half["seq"], "scenario")].startswith("最多 50 个字")
    tabletop = _row(p, "桌面推演")["seq"]
    assert problems[(tabletop, "planned_date")] == "2026-03-14（星期六）不是工作日"
    assert problems[(tabletop, "scenario")].startswith("须为以下之一：港口突发事件")
    texts = [str(pr) for pr in plan_edit.check_rows(svc, 2026, rows, p["rows"])]
    assert f"第 {river['seq']} 项「计划日期」：须在 2026 年内" in texts
    # a 调休 Sunday that is a working day is accepted; an enterprise may organise
    fine = [_edit(river, planned_date="2026-02-28", owner_unit="江海港务有限公司")]  # Sat 28 Feb 2026 is 调休 work
    assert plan_edit.check_rows(svc, 2026, fine, p["rows"]) == []
    # the stored plan tells what still needs fixing before publishing
    assert [(pr.field, pr.message) for pr in plan_edit.stored_problems(svc, p)] == [("scenario", "必填")]


def test_nothing_is_saved_while_a_row_is_wrong_and_a_stale_version_is_refused(plan):
    svc = plan
    p = plan_edit.editable_plan(svc, 2026)
    river, tabletop = _row(p, "内河水上搜救"), _row(p, "桌面推演")
    before = reports.get_report(svc, drill_plan.plan_key(2026))
    with pytest.raises(plan_edit.PlanRowsInvalid) as err:
        plan_edit.save_rows(svc, 2026, [_edit(river, planned_date="2026-05-20"),
                                         _edit(tabletop, scenario="")], p["version"], "awb_zhang", NOW)
    assert [(e.seq, e.field) for e in err.value.problems] == [(tabletop["seq"], "scenario")]
    assert reports.get_report(svc, drill_plan.plan_key(2026)) == before           # not even the good row
    out = plan_edit.save_rows(svc, 2026, [_edit(river, planned_date="2026-05-20"),
                                          _edit(tabletop, scenario="路桥抢通")], p["version"], "awb_zhang", NOW)
    assert out["changed"] == 2
    saved = reports.get_report(svc, drill_plan.plan_key(2026))
    assert saved["edited_by"] == "awb_zhang" and saved["number"] == before["number"]   # re-rendered, same 文号
    assert _row(plan_edit.editable_plan(svc, 2026), "内河水上搜救")["planned_date"] == "2026-05-20"
    # a second editor who loaded the plan before that save is told, and nothing of theirs is written
    with pytest.raises(plan_edit.PlanConflict, match="计划已被他人修改，请刷新后再改"):
        plan_edit.save_rows(svc, 2026, [_edit(river, planned_date="2026-05-21")], p["version"], "awb_head", NOW)
    assert _row(plan_edit.editable_plan(svc, 2026), "内河水上搜救")["planned_date"] == "2026-05-20"


def test_a_moved_date_is_the_drill_case_date_and_started_rows_are_locked(plan):
    svc = plan
    p = plan_edit.editable_plan(svc, 2026)
    river, tabletop = _row(p, "内河水上搜救"), _row(p, "桌面推演")
    plan_edit.save_rows(svc, 2026, [_edit(river, planned_date="2026-09-09", owner_unit="综合行政执法大队")],
                        p["version"], "awb_zhang", NOW)
    out = job_flows.publish_drill_plan.fn(year=2026, now="2026-01-06T09:00:00")
    (case,) = [c for c in svc.cases(workflow="drill") if c["data"]["plan_name"] == "内河水上搜救专项应急预案"]
    assert case["data"]["planned_date"] == "2026-09-09" and case["data"]["owner_unit"] == "综合行政执法大队"
    # the row that could not start says why on its row
    p = plan_edit.editable_plan(svc, 2026)
    assert _row(p, "桌面推演")["error"] == "场景类别：必填" and not _row(p, "桌面推演")["locked"]
    assert [f["seq"] for f in out["failed"]] == [tabletop["seq"]]
    started = _row(p, "内河水上搜救")
    assert started["locked"] and started["case_id"] == case["id"] and started["error"] is None
    with pytest.raises(plan_edit.PlanRowsInvalid, match="已发起演练案件"):
        plan_edit.save_rows(svc, 2026, [_edit(started, planned_date="2026-09-10")], p["version"], "awb_zhang", NOW)
    # the failed row is fixed and published again: its case starts with the new scenario
    plan_edit.save_rows(svc, 2026, [_edit(_row(p, "桌面推演"), scenario="消防应急救援")], p["version"], "awb_zhang", NOW)
    again = job_flows.publish_drill_plan.fn(year=2026, now="2026-01-07T09:00:00")
    assert len(again["started"]) == 1 and again["failed"] == []
    entries = plan_edit.calendar_entries(svc, 2026, date(2026, 10, 1))
    on_day = [e for e in entries if e["date"] == date(2026, 9, 9)]
    assert [(e["case_id"], e["status"]) for e in on_day] == [(case["id"], "逾期")]
    months = plan_edit.month_overview(entries, 2026)
    assert months[8]["due"] == 1 and months[8]["overdue"] == 1 and sum(m["due"] for m in months) == len(p["rows"])


@pytest.mark.parametrize("year", ["abc", "", None, True, 1999, 2101, 2026.5, "20 26"])
def test_a_wrong_year_is_refused_before_prefect(plain_service, year):
    with pytest.raises(FlowError, match="年度须为 2000–2100 之间的整数"):
        job_flows.run_or_submit(plain_service, "drill-plan", {"year": year} if year is not None else {"year": "abc"})
    with pytest.raises(FlowError, match="年度须为|请指定"):
        drill_publish.check_params(plain_service, {"year": year})


def test_publishing_needs_a_generated_plan_with_rows(plain_service, monkeypatch):
    svc = plain_service
    submitted = []
    monkeypatch.setattr(job_flows, "submit_job", lambda key, params: submitted.append(key))
    monkeypatch.setattr(job_flows.dispatch, "is_orchestrated", lambda s: True)
    with pytest.raises(FlowError, match="2026 年度应急演练计划尚未生成"):
        job_flows.run_or_submit(svc, "drill-publish", {"year": 2026})
    with pytest.raises(FlowError, match="请指定要发布的年度"):
        job_flows.run_or_submit(svc, "drill-publish", {})
    monkeypatch.setattr(drill_plan, "generate", lambda *a, **k: [])          # a register with nothing to drill
    monkeypatch.setattr(job_flows.dispatch, "is_orchestrated", lambda s: False)
    assert job_flows.run_or_submit(svc, "drill-plan", {"year": "2026"})[1]["rows"] == 0   # "2026" is a year
    monkeypatch.setattr(job_flows.dispatch, "is_orchestrated", lambda s: True)
    with pytest.raises(FlowError, match="没有演练项"):
        job_flows.run_or_submit(svc, "drill-publish", {"year": 2026})
    assert submitted == []                                                   # nothing reached Prefect
    runtime.use_service(svc)                                                 # run_or_submit let go of it
    with pytest.raises(FlowError, match="没有演练项"):                        # the job itself refuses too (CLI)
        job_flows.publish_drill_plan.fn(year=2026, now="2026-01-06T09:00:00")


def test_the_command_line_refuses_too_even_with_submit(tmp_path, configs_root, monkeypatch, capsys):
    from flows import cli

    submitted = []
    monkeypatch.setattr(job_flows, "submit_job", lambda key, params: submitted.append(key))
    data = str(tmp_path / "cli-data")
    assert cli.main(["job", "drill-publish", "--year", "2031", "--submit", "--data-dir", data]) == 2
    assert "2031 年度应急演练计划尚未生成" in capsys.readouterr().err
    assert cli.main(["job", "drill-plan", "--year", "1999", "--data-dir", data]) == 2
    assert "年度须为 2000–2100 之间的整数" in capsys.readouterr().err
    assert submitted == []
