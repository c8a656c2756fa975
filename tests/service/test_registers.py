"""台账 (flows.service.registers) against cases built for it: the blacklist's listings in every status with
their terms in calendar days, the plan register with its open revisions, search, filters, sort, and
the Excel of exactly the rows found."""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest

from flows.core.errors import NotPermitted
from flows.core.forms import credit_code_check_char
from flows.documents.spreadsheet import xlsx
from flows.jobs.reassessment import plan_reassessment
from flows.service import open_service
from flows.service import registers as reg
from tests.conftest import Clock

TODAY = date(2028, 2, 20)


def _code(body: str) -> str:
    return body + credit_code_check_char(body)


JIANGHAI = {"name": "江海港务有限公司", "credit_code": "91320600MA1NY7QH42"}
TONGDA = {"name": "通达客运有限公司", "credit_code": "91320600MA1MXK3P27"}
JIA = {"name": "甲建设工程有限公司", "credit_code": _code("91320600MA1AAAAA0")}
YI = {"name": "乙物流有限公司", "credit_code": _code("91320600MA1BBBBB0")}
DING = {"name": "丁运输有限公司", "credit_code": _code("91320600MA1CCCCC0")}
WU = {"name": "戊港口服务有限公司", "credit_code": _code("91320600MA1DDDDD0")}


def _lead(svc, enterprise: dict, reason: str = "重大隐患整改不力") -> str:
    return svc.start("blacklist", "awb_zhang", {"enterprise": enterprise, "reason": reason, "facts": "逾期未整改"})["id"]


def _list(svc, clock: Clock, enterprise: dict, reason: str = "重大隐患整改不力") -> str:
    """Lead → 核实 → 告知 → 放弃申辩 → 决定 (today) → the 公示期 of 7 working days passes: 已列入."""
    cid = _lead(svc, enterprise, reason)
    svc.act(cid, "verify", "awb_zhang")
    svc.act(cid, "notify", "awb_zhang", {"investigation_findings": "属实", "legal_basis": "安全生产法"})
    svc.act(cid, "waive_defense", "awb_zhang", comment="企业书面放弃申辩")
    svc.act(cid, "decide", "fenguan", {"decision_date": clock.now.date().isoformat(), "measures": ["在信用平台公开"]})
    clock.advance(days=14)
    svc.sweep()
    assert svc.case(cid)["active"] == ["listed"]
    return cid


@pytest.fixture
def office(tmp_path, orch_config):
    clock = Clock(datetime(2024, 1, 8, 9))                                # a Monday
    svc = open_service(tmp_path / "data", config=orch_config, clock=clock)
    ids = {"expired": _list(svc, clock, JIANGHAI)}                       # listed 2024-01-17, term ends 2027-01-17
    clock.now = datetime(2025, 3, 3, 9)
    ids["soon"] = _list(svc, clock, JIA, "严重违法违规行为")              # listed 2025-03-12, term ends 2028-03-12
    clock.now = datetime(2026, 5, 11, 9)
    ids["repaired"] = _list(svc, clock, YI)
    ids["applied"] = _list(svc, clock, TONGDA)
    clock.now = datetime(2027, 6, 1, 9)
    svc.act(ids["repaired"], "apply_repair", "awb_zhang", {"repair_reason": "隐患已整改并通过验收"})
    clock.now = datetime(2027, 6, 8, 9)
    svc.act(ids["repaired"], "approve_repair", "fenguan")
    clock.now = datetime(2028, 2, 1, 9)
    svc.act(ids["applied"], "apply_repair", "awb_zhang", {"repair_reason": "已整改"})
    clock.now = datetime(2028, 2, 20, 9)
    svc.sweep()                                                           # the expired term moves to 期满复核
    ids["lead"] = _lead(svc, DING)
    ids["dismissed"] = _lead(svc, WU)
    svc.act(ids["dismissed"], "dismiss_lead", "awb_head", comment="线索不实")
    # the plan register as the 印发 transition writes it (configs/flows/plan_revision.yaml `register:`)
    svc.register_put("plans", "县交通运输局综合应急预案", {
        "name": "县交通运输局综合应急预案", "kind": "综合应急预案", "owner_unit": "局安委办", "version": "2021版",
        "published": "2021-05-10", "next_assessment": "2024-05-10", "case_id": None})
    svc.register_put("plans", "内河水上搜救专项应急预案", {
        "name": "内河水上搜救专项应急预案", "kind": "专项应急预案", "scenario": "内河水上搜救",
        "owner_unit": "港航事业发展中心", "version": "2027版", "published": "2027-01-05",
        "next_assessment": "2030-01-05", "case_id": None})
    ids["revision"] = svc.start("plan_revision", "awb_zhang", {
        "plan_name": "内河水上搜救专项应急预案", "plan_kind": "专项应急预案", "owner_unit": "港航事业发展中心",
        "plan_version": "2027版", "revision_reason": "演练或事故暴露问题"})["id"]
    ids["new_plan"] = svc.start("plan_revision", "awb_zhang", {
        "plan_name": "客运站场疏散现场处置方案", "plan_kind": "现场处置方案", "owner_unit": "运输管理科",
        "revision_reason": "重要风险变化"})["id"]
    yield svc, ids
    svc.close()


def _by_case(rows):
    return {r["case_id"]: r for r in rows}


def test_each_listing_has_its_status_term_and_days_left_in_calendar_days(office):
    svc, ids = office
    rows = _by_case(reg.blacklist_rows(svc, TODAY))
    assert {cid: rows[cid]["status"] for cid in ids.values() if cid in rows} == {
        ids["expired"]: "期满待复核", ids["soon"]: "列入中", ids["repaired"]: "已移出（信用修复）",
        ids["applied"]: "信用修复审核中", ids["lead"]: "拟列入（办理中）", ids["dismissed"]: "不予列入"}
    soon = rows[ids["soon"]]
    assert soon["enterprise"] == JIA["name"] and soon["credit_code"] == JIA["credit_code"]
    assert soon["reason"] == "严重违法违规行为" and soon["decision_date"] == date(2025, 3, 3)
    assert soon["decision_number"].startswith("县交信决〔2025〕")
    assert (soon["term_start"], soon["term_end"]) == (date(2025, 3, 12), date(2028, 3, 12))  # 3 years
    assert soon["days_left"] == 21 and soon["in_force"]                     # calendar days, not 工作日
    expired = rows[ids["expired"]]
    assert expired["term_end"] == date(2027, 1, 17) and expired["days_left"] is None and not expired["in_force"]
    assert rows[ids["lead"]]["term_end"] is None and rows[ids["lead"]]["decision_number"] == ""
    # on the last day of the term 0 days are left; the day after, it has expired even before the sweep ran
    last_day = _by_case(reg.blacklist_rows(svc, date(2028, 3, 12)))[ids["soon"]]
    assert (last_day["days_left"], last_day["status"]) == (0, "列入中")
    after = _by_case(reg.blacklist_rows(svc, date(2028, 3, 13)))[ids["soon"]]
    assert (after["days_left"], after["status"], after["in_force"]) == (None, "期满待复核", False)


def test_credit_repair_applications_come_from_the_history(office):
    svc, ids = office
    rows = _by_case(reg.blacklist_rows(svc, TODAY))
    assert rows[ids["repaired"]]["repairs"] == [
        {"applied": date(2027, 6, 1), "reason": "隐患已整改并通过验收", "result": "同意移出", "decided": date(2027, 6, 8)}]
    assert rows[ids["repaired"]]["repair"] == "2027-06-01 申请，同意移出" and not rows[ids["repaired"]]["repair_pending"]
    assert rows[ids["applied"]]["repair_pending"] and rows[ids["applied"]]["repair"] == "2028-02-01 申请，审核中"
    assert rows[ids["soon"]]["repairs"] == []


def test_blacklist_search_filters_and_sort(office):
    svc, ids = office
    rows = reg.blacklist_rows(svc, TODAY)
    find = lambda **kw: [r["case_id"] for r in reg.search_blacklist(rows, reg.BlacklistQuery(**kw))]  # noqa: E731
    assert find(text="甲建设") == [ids["soon"]]                           # by name
    assert find(text=JIA["credit_code"].lower()) == [ids["soon"]]         # by credit code, any case
    assert find(text="91320600MA1") and set(find(text="91320600MA1")) == set(ids.values()) - {ids["revision"],
                                                                                                 ids["new_plan"]}
    assert find(text="没有这家企业") == []
    assert find(statuses=reg.IN_FORCE) == [ids["soon"], ids["applied"]]  # in force, soonest term end first
    assert find(statuses=("已移出（信用修复）",)) == [ids["repaired"]]
    assert find(reason="严重违法违规行为") == [ids["soon"]]
    assert find(repair_pending=True) == [ids["applied"]]
    by_name = find(sort="enterprise")
    assert [r["enterprise"] for r in reg.search_blacklist(rows, reg.BlacklistQuery(sort="enterprise"))] == \
        sorted(r["enterprise"] for r in rows) and len(by_name) == 6
    assert find(sort="no-such-sort")[:2] == [ids["soon"], ids["applied"]]  # an unknown sort: the default


def test_the_dashboard_summary_lists_what_is_in_force_and_the_pending_repairs(office):
    svc, ids = office
    summary = reg.blacklist_summary(svc, "awb_zhang", TODAY)
    assert [(r["case_id"], r["days_left"], r["soon"]) for r in summary["listed"]] == [
        (ids["soon"], 21, True), (ids["applied"], (date(2029, 6, 3) - TODAY).days, False)]
    assert [(r["case_id"], r["applied"]) for r in summary["pending_repairs"]] == [(ids["applied"], date(2028, 2, 1))]


def test_plan_register_rows_statuses_and_the_reassessment_rule(office):
    svc, ids = office
    rows = {r["name"]: r for r in reg.plan_rows(svc, TODAY)}
    assert set(rows) == {"县交通运输局综合应急预案", "内河水上搜救专项应急预案", "客运站场疏散现场处置方案"}
    general = rows["县交通运输局综合应急预案"]
    assert (general["status"], general["published"], general["next_assessment"]) == \
        ("现行", date(2021, 5, 10), date(2024, 5, 10))
    assert general["assessment_due"] and general["assessment"] == "已到期，待评估" and general["case_ids"] == []
    special = rows["内河水上搜救专项应急预案"]
    assert (special["status"], special["version"], special["case_id"]) == ("修订中", "2027版", ids["revision"])
    assert not special["assessment_due"] and special["assessment"].startswith(ids["revision"])
    new = rows["客运站场疏散现场处置方案"]
    assert (new["status"], new["published"], new["next_assessment"], new["owner_unit"]) == \
        ("新编中", None, None, "运输管理科")
    # the plans flagged as due are the ones the reassessment job starts a 定期评估 case for
    started = plan_reassessment(svc, datetime(2028, 2, 20, 6))
    assert [s["plan"] for s in started] == [n for n, r in rows.items() if r["assessment_due"] and r["status"] == "现行"]
    after = {r["name"]: r for r in reg.plan_rows(svc, TODAY)}["县交通运输局综合应急预案"]
    assert after["status"] == "修订中" and after["case_ids"] == [started[0]["case_id"]]


def test_plan_search_filters_and_sort(office):
    svc, ids = office
    rows = reg.plan_rows(svc, TODAY)
    find = lambda **kw: [r["name"] for r in reg.search_plans(rows, reg.PlanQuery(**kw))]  # noqa: E731
    assert find() == ["县交通运输局综合应急预案", "内河水上搜救专项应急预案", "客运站场疏散现场处置方案"]
    assert find(text="搜救") == ["内河水上搜救专项应急预案"]
    assert find(text=ids["new_plan"]) == ["客运站场疏散现场处置方案"]        # by case number
    assert find(statuses=("修订中", "新编中"), sort="name") == sorted(["内河水上搜救专项应急预案", "客运站场疏散现场处置方案"])
    assert find(kind="专项应急预案") == ["内河水上搜救专项应急预案"]
    assert find(unit="局安委办") == ["县交通运输局综合应急预案"]
    assert find(assessment_due=True) == ["县交通运输局综合应急预案"]
    assert find(sort="published") == ["内河水上搜救专项应急预案", "县交通运输局综合应急预案", "客运站场疏散现场处置方案"]


def test_the_excel_has_exactly_the_rows_found(office):
    from openpyxl import load_workbook

    svc, _ = office
    for title, found, columns in (
            ("黑名单台账", reg.blacklist_register(svc, "awb_zhang", reg.BlacklistQuery(text="91320600MA1"), TODAY),
             reg.BLACKLIST_COLUMNS),
            ("预案台账", reg.plan_register(svc, "awb_zhang", reg.PlanQuery(statuses=("现行", "修订中")), TODAY),
             reg.PLAN_COLUMNS)):
        book = load_workbook(io.BytesIO(xlsx([reg.sheet(title, found.rows, columns, caption=title)])))
        ws = book[title]
        values = [list(r) for r in ws.iter_rows(min_row=2, values_only=True)]
        assert values[0] == [label for _, label in columns]
        as_dates = [[v.date() if isinstance(v, datetime) else v for v in row] for row in values[1:]]
        expected = [[None if v == "" else v for v in row] for row in reg.table(found.rows, columns)]
        assert as_dates == expected and len(expected) == len(found.rows) > 0
        assert any(isinstance(v, date) for row in as_dates for v in row)   # dates stay dates


def test_only_people_who_see_all_may_read_the_registers(office):
    svc, _ = office
    for reader in (reg.plan_register, reg.blacklist_register, reg.blacklist_summary):
        with pytest.raises(NotPermitted, match="无权查看"):
            reader(svc, "qy_han")
    assert reg.blacklist_register(svc, "juzhang").total == 6           # 局长 sees them all
