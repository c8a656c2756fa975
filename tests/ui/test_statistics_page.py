"""统计 through Streamlit's AppTest: a leader sees the charts, the freshness note and the report form
(which refuses a mistyped period under the field, starting nothing); anyone else sees 无权查看."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from flows.orchestration import job_flows, runtime
from flows.service import open_service
from tests.orchestration.orch_helpers import notify_blacklist
from tests.ui.apptest_helpers import open_desk, signed_in

ACCIDENT = {"occurred_at": "2025-02-10T08:30:00", "place": "城东路口", "accident_type": "道路运输", "deaths": 1,
            "serious_injuries": 2, "direct_loss": 35.5, "description": "两车相撞"}


@pytest.fixture
def office(tmp_path, orch_config, monkeypatch):
    data = tmp_path / "data"
    svc = open_service(data, config=orch_config, clock=lambda: datetime(2025, 3, 3, 9))
    notify_blacklist(svc)
    svc.start("accident", "awb_zhang", ACCIDENT)
    runtime.use_service(svc)
    job_flows.annual_drill_plan.fn(year=2025, now="2025-01-02T06:00:00")
    runtime.use_service(None)
    svc.close()
    open_desk(data, orch_config, monkeypatch, ("juzhang", "gh_sun", "qy_yang"))
    return {"data": data, "config": orch_config}


SECTIONS = {"案件办理": 4, "事故统计": 3, "演练完成情况": 1, "事故统计报告": 0, "失信黑名单": 0}  # and their charts


def test_a_leader_sees_the_headline_figures_and_each_section_with_its_charts(office):
    at = signed_in(office, "juzhang")
    at.switch_page("pages/statistics.py").run()
    assert not at.exception, at.exception
    assert any(c.value.startswith("数据更新于 ") and "分钟刷新" in c.value for c in at.caption)
    assert any(b.label == "立即刷新" for b in at.button)
    # two open cases (the blacklist case and the accident), both past their deadlines of 2025 by the
    # real clock the app runs on; this year's accidents so far: none (the one of 2025 is last year's)
    year, month = date.today().year, date.today().month
    since = f"1—{month}月" if month > 1 else "1月"
    assert [(m.label, m.value) for m in at.metric][:4] == [("办理中案件", "2"), ("逾期未办结", "2"),
                                                          (f"{year}年事故（{since}）", "0"), (f"{year}年死亡人数（{since}）", "0")]
    assert [h.value for h in at.subheader][:2] == ["统计", "案件办理"]   # the first section, alone
    at.session_state["dash-year"] = at.session_state["dash-drill-year"] = 2025  # the year of the fixture's data
    for section, charts in SECTIONS.items():
        at.session_state["dash-section"] = section
        at.run()
        assert not at.exception, (section, at.exception)
        assert [h.value for h in at.subheader] == ["统计", section]
        assert len(at.get("vega_lite_chart")) == charts, section
        assert sum(1 for b in at.get("download_button") if b.label == "下载 Excel") == charts, section
        assert not at.error


def test_the_report_form_refuses_a_mistyped_period_under_the_field(office):
    at = signed_in(office, "juzhang")
    at.switch_page("pages/statistics.py")
    at.session_state["dash-section"] = "事故统计报告"
    at.run()
    field = at.text_input(key="dash-report-period")
    for bad, said in (("abc", "格式不对"), ("", "请填写统计期")):
        field.set_value(bad).run()
        assert not at.exception, at.exception
        assert [e.value for e in at.error if "统计期" in e.value][0].count(said) == 1
        assert at.button(key="dash-report-make").disabled                # nothing can be started
    field.set_value("2025-Q1").run()
    assert not [e for e in at.error if "统计期" in e.value] and not at.button(key="dash-report-make").disabled


def test_a_report_made_from_the_page_is_listed_with_its_downloads(office):
    at = signed_in(office, "juzhang")
    at.switch_page("pages/statistics.py")
    at.session_state["dash-section"] = "事故统计报告"
    at.run()
    at.text_input(key="dash-report-period").set_value("2025-01").run()
    at.button(key="dash-report-make").click().run()
    assert not at.exception, at.exception
    assert any(s.value == "已生成2025年1月事故统计报告。" for s in at.success), [s.value for s in at.success]
    at.run()
    labels = [b.label for b in at.get("download_button")]
    assert any(label.endswith(".docx") for label in labels) and any("事故统计.xlsx" in label for label in labels)


def test_the_refresh_button_sums_the_cases_up_again(office):
    at = signed_in(office, "juzhang")
    at.switch_page("pages/statistics.py").run()
    assert any("共 2 件案件" in c.value for c in at.caption)
    svc = open_service(office["data"], config=office["config"])
    svc.start("accident", "awb_zhang", ACCIDENT)
    svc.close()
    at.run()
    assert any("共 2 件案件" in c.value for c in at.caption)           # the cached figures, until refreshed
    at.button(key="dash-refresh-button").click().run()
    assert not at.exception, at.exception
    assert any("共 3 件案件" in c.value for c in at.caption)


@pytest.mark.parametrize("user", ["gh_sun", "qy_yang"])  # a department's clerk, an enterprise's contact
def test_someone_without_the_role_sees_no_statistics(office, user):
    at = signed_in(office, user)
    at.switch_page("pages/statistics.py").run()                          # its address refuses
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["无权查看：统计只对局领导、安委办和管理员开放。"]
    assert not at.get("vega_lite_chart") and not [h for h in at.subheader if h.value == "统计"]
