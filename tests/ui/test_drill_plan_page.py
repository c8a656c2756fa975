"""演练计划与日历 through Streamlit's AppTest: the plan's rows checked and saved (a stale edit refused),
published with each row's outcome on its row, the drills on the calendar linking to their cases, and
nobody without the role sees the page."""
from __future__ import annotations

from datetime import datetime

import pytest
from streamlit.testing.v1 import AppTest

from flows.jobs import drill_plan, plan_edit
from flows.orchestration import job_flows, runtime
from flows.service import open_service, reports
from tests.ui.apptest_helpers import open_desk, signed_in

PAGE = "pages/reports.py"


@pytest.fixture
def office(tmp_path, orch_config, monkeypatch):
    data = tmp_path / "data"
    svc = open_service(data, config=orch_config, clock=lambda: datetime(2025, 1, 2, 9))
    runtime.use_service(svc)
    job_flows.annual_drill_plan.fn(year=2025, now="2025-01-02T06:00:00")   # 1 tabletop (no scenario), 2 evacuations
    runtime.use_service(None)
    svc.close()
    open_desk(data, orch_config, monkeypatch, ("awb_zhang", "qy_yang"))
    return {"data": data, "config": orch_config}


def _plan(office) -> dict:
    svc = open_service(office["data"], config=office["config"])
    try:
        return plan_edit.editable_plan(svc, 2025)
    finally:
        svc.close()


def _open_2025(office) -> AppTest:
    at = signed_in(office, "awb_zhang")
    at.switch_page(PAGE).run()
    at.number_input(key="drill-year").set_value(2025).run()
    assert not at.exception, at.exception
    return at


def _edit(at, office, edits: dict[int, dict]) -> str:
    """Seed the table's cell edits (AppTest cannot type into a data_editor): {row position: {column: value}}."""
    key = f"plan-editor-2025-{_plan(office)['version']}"
    at.session_state[key] = {"edited_rows": edits, "added_rows": [], "deleted_rows": []}
    return key


def test_rows_are_checked_saved_published_and_shown_on_the_calendar(office):
    at = _open_2025(office)
    (editor,) = at.data_editor
    table = editor.value
    names = table["演练名称"].tolist()
    tabletop, evac = names.index(next(n for n in names if "桌面推演" in n)), names.index(
        next(n for n in names if n.startswith("通达客运有限公司")))
    assert str(table.loc[evac, "计划日期"]) == "2025-11-17"                      # 15 Nov is a Saturday
    seq = int(table.loc[tabletop, "序号"])
    assert any(f"第 {seq} 项「场景类别」：必填" in e.value.replace("\\", "") for e in at.error)   # told before anything

    _edit(at, office, {evac: {"计划日期": "2025-11-22"}})                     # a Saturday: refused, nothing saved
    at.run()
    errors = " ".join(e.value.replace("\\", "") for e in at.error)
    assert f"第 {int(table.loc[evac, '序号'])} 项「计划日期」：2025-11-22（星期六）不是工作日" in errors
    assert at.button(key="plan-save-2025").disabled

    _edit(at, office, {evac: {"计划日期": "2025-11-20"}, tabletop: {"场景类别": "消防应急救援"}})
    at.run()
    assert not at.exception, at.exception
    at.button(key="plan-save-2025").click().run()
    assert not at.exception, at.exception
    assert any(s.value == "已保存 2 项修改。" for s in at.success)
    stored = {r["seq"]: r for r in _plan(office)["rows"]}
    assert stored[int(table.loc[evac, "序号"])]["planned_date"] == "2025-11-20"

    at.button(key="drill-publish").click().run()
    assert not at.exception, at.exception
    assert any(m.value == "新发起 3 个演练案件" for m in at.markdown)
    assert any("年度计划已于" in c.value for c in at.caption)
    assert not at.data_editor                                                 # every row has its case now
    assert any("已发起案件的演练" in m.value for m in at.markdown)

    at.session_state["drill-view"] = "演练日历"                               # the calendar, not the table
    at.run()
    at.selectbox(key="cal-month-2025").set_value(11).run()
    assert not at.exception, at.exception
    links = [p for p in at.get("page_link") if "通达客运有限公司" in p.proto.label]
    (link,) = links
    case_id = next(r["case_id"] for r in _plan(office)["rows"] if r["drill_name"].startswith("通达客运有限公司"))
    assert link.proto.help.startswith("2025-11-20") and link.proto.query_string == f"id={case_id}"
    assert link.proto.page.endswith("case")


def test_a_row_that_could_not_start_says_why_and_a_stale_edit_is_refused(office):
    at = _open_2025(office)
    at.button(key="drill-publish").click().run()                             # the tabletop has no scenario
    assert not at.exception, at.exception
    assert any(m.value == "新发起 2 个演练案件" for m in at.markdown)
    (editor,) = at.data_editor                                                # only the row without a case
    assert editor.value["发起情况"].tolist() == ["未能发起：场景类别：必填"]
    at.session_state["drill-view"] = "演练日历"
    at.run()
    at.selectbox(key="cal-month-2025").set_value(3).run()
    assert any("计划：" in c.value and "未能发起" in c.value for c in at.caption)   # planned, on the calendar too
    at.session_state["drill-view"] = "年度计划"
    at.run()

    _edit(at, office, {0: {"场景类别": "路桥抢通"}})
    at.run()
    svc = open_service(office["data"], config=office["config"])             # someone else saves meanwhile
    try:
        plan = plan_edit.editable_plan(svc, 2025)
        row = next(r for r in plan["rows"] if not r["locked"])
        plan_edit.save_rows(svc, 2025, [{**row, "scenario": "消防应急救援"}], plan["version"], "awb_head", datetime.now())
    finally:
        svc.close()
    at.button(key="plan-save-2025").click().run()
    assert not at.exception, at.exception
    assert any(w.value == "计划已被他人修改，请刷新后再改" for w in at.warning)
    assert next(r for r in _plan(office)["rows"] if not r["locked"])["scenario"] == "消防应急救援"


def test_publishing_a_plan_without_rows_is_refused_on_the_page(office):
    at = _open_2025(office)
    svc = open_service(office["data"], config=office["config"])
    try:
        record = reports.get_report(svc, drill_plan.plan_key(2025))
        svc.store.put(reports.TABLE, record["_key"], {**{k: v for k, v in record.items() if not k.startswith("_")},
                                                      "plan_rows": []}, expected_version=record["_version"])
    finally:
        svc.close()
    at.run()
    at.button(key="drill-publish").click().run()
    assert not at.exception, at.exception
    assert any("未执行" in e.value and "没有演练项" in e.value for e in at.error)


def test_without_the_role_the_page_says_no(office):
    clerk = signed_in(office, "qy_yang")                                      # an enterprise's contact
    clerk.switch_page(PAGE).run()                                             # out of the menu; its address says why
    assert not clerk.exception, clerk.exception
    assert [e.value for e in clerk.error] == ["无权查看：演练计划与日历只对局领导、安委办和管理员开放。"]
    assert not clerk.dataframe and not clerk.get("page_link") and not clerk.get("download_button")
