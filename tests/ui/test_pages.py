"""ui/app.py and its pages through Streamlit's AppTest: sign-in, the menu per role, 待办, the case page,
messages, reports. Page logic only: the journeys in a real browser are in tests/ui/test_browser.py."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from flows.orchestration import job_flows, runtime
from flows.service import open_service
from tests.orchestration.orch_helpers import notify_blacklist
from tests.ui.apptest_helpers import APP, PASSWORD, open_desk, signed_in


@pytest.fixture
def office(tmp_path, orch_config, monkeypatch):
    data = tmp_path / "data"
    svc = open_service(data, config=orch_config, clock=lambda: datetime(2025, 3, 3, 9))
    cid = notify_blacklist(svc)
    runtime.use_service(svc)
    job_flows.annual_drill_plan.fn(year=2025, now="2025-01-02T06:00:00")
    runtime.use_service(None)
    svc.close()
    open_desk(data, orch_config, monkeypatch, ("awb_zhang", "qy_yang", "qy_han", "gh_sun"))
    return {"case": cid, "data": data, "config": orch_config}


def test_an_empty_data_directory_asks_for_the_first_admin(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKFLOW_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    assert any("首次启动" in h.value for h in at.subheader)
    at.text_input[2].set_value(PASSWORD)
    at.text_input[3].set_value(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    at.switch_page("pages/inbox.py").run()                       # signed in: the desk's pages are there
    assert [h.value for h in at.subheader] == ["待办"]


def test_sign_in_refuses_a_wrong_password_then_opens_the_desk(office):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert [h.value for h in at.subheader] == ["登录"]
    at.text_input[0].set_value("awb_zhang")
    at.text_input[1].set_value("wrong-password")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["用户名或密码错误"]
    at.text_input[1].set_value(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    at.switch_page("pages/inbox.py").run()
    assert [h.value for h in at.subheader] == ["待办"]


def test_the_menu_follows_the_roles(office):
    clerk = signed_in(office, "qy_yang")                           # an enterprise's contact
    for page in ("pages/users.py", "pages/cases.py", "pages/statistics.py", "pages/reports.py", "pages/registers.py"):
        clerk.switch_page(page).run()                              # out of the menu; its address says why
        assert not clerk.exception, clerk.exception
        assert [e.value[:4] for e in clerk.error] == ["无权查看"], page
        assert not clerk.dataframe and not clerk.get("download_button")
    admin = signed_in(office, "admin")
    admin.switch_page("pages/users.py").run()
    assert not admin.exception, admin.exception
    assert any(h.value == "用户" for h in admin.subheader)


def test_a_case_one_may_not_see_says_so(office):
    at = signed_in(office, "qy_han")                               # 通达客运's contact; the case is 江海港务's
    at.query_params["id"] = office["case"]
    at.switch_page("pages/case.py").run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["无权查看该案件。"]


def test_all_cases_searches_filters_and_exports_what_it_shows(office):
    at = signed_in(office, "awb_zhang")
    assert at.title[0].value == "县交通运输局安全生产流程平台" and [h.value for h in at.subheader] == ["待办"]
    at.switch_page("pages/cases.py").run()
    assert not at.exception, at.exception
    assert not at.warning
    cid = office["case"]
    (table,) = at.dataframe
    row = table.value.set_index("案件编号").loc[cid]
    assert row["当前环节"] == "事先告知（陈述申辩期）" and row["状态"] == "办理中" and "江海港务" in row["涉及企业"]
    at.text_input(key="cases-text").set_value("91320600MA1NY7QH42").run()      # by credit code
    assert not at.exception, at.exception
    assert at.dataframe[0].value["案件编号"].tolist() == [cid]
    assert at.query_params["text"] == "91320600MA1NY7QH42"                 # the search is in the URL
    at.selectbox(key="cases-workflow").set_value("accident").run()
    assert not at.dataframe and any("共找到 0 件" in c.value for c in at.caption)
    at.query_params.clear()
    at.query_params["workflow"] = "blacklist"                                # a link from 统计
    at.query_params["date_from"] = "not-a-date"
    at.run()
    assert at.selectbox(key="cases-workflow").value == "blacklist" and at.text_input(key="cases-text").value == ""
    assert any("日期「not-a-date」无效" in w.value for w in at.warning)
    assert at.dataframe[0].value["案件编号"].tolist() == [cid]
    at.switch_page("pages/reports.py").run()
    assert not at.exception, at.exception
    assert any("年度应急演练计划" in b.label for b in at.get("download_button"))


def test_the_case_page_shows_the_case_to_its_enterprise_with_its_action(office):
    at = signed_in(office, "qy_yang")                              # 江海港务's contact may 陈述申辩
    at.query_params["id"] = office["case"]
    at.switch_page("pages/case.py").run()
    assert not at.exception, at.exception
    assert any(office["case"] in m.value.replace("\\", "") for m in at.markdown)   # shown escaped, as text
    assert at.radio(key=f"act-{office['case']}") is not None
    assert any(b.label.startswith("提交：") for b in at.button)


def test_messages_page_shows_my_reminders_and_marks_them_read(office):
    at = signed_in(office, "qy_yang")
    at.switch_page("pages/messages.py").run()
    assert not at.exception, at.exception
    texts = [m.value for m in at.markdown]
    assert any("【待办提醒】" in t and ":red[未读]" in t for t in texts), texts
    (count,) = [c.value for c in at.caption if "未读" in c.value]
    assert re.search(r"未读 [1-9]\d* 条", count), count
    at.button(key="msg-read").click().run()
    assert not at.exception, at.exception
    assert any("未读 0 条" in c.value for c in at.caption)
    assert not any(":red[未读]" in m.value for m in at.markdown)


def test_reports_page_publishes_the_drill_plan_once(office):
    at = signed_in(office, "awb_zhang")
    at.switch_page("pages/reports.py").run()
    at.number_input[0].set_value(2025).run()
    assert not at.exception, at.exception
    at.button(key="drill-publish").click().run()
    assert not at.exception, at.exception
    assert any(m.value.startswith("新发起 ") for m in at.markdown)
    assert any("年度计划已于" in c.value and "发布" in c.value for c in at.caption)
    (table,) = [df for df in at.dataframe if "应演练" in df.value.columns]
    assert table.value["应演练"].sum() >= 1
    at.button(key="drill-publish").click().run()                     # again: nothing started twice
    assert any(m.value == "新发起 0 个演练案件" for m in at.markdown)


def test_user_text_is_shown_as_typed_not_as_markdown():
    from ui.components.text import plain

    assert plain("**粗** ![x](http://a/b.png) :red[警告]") == \
        "\\*\\*粗\\*\\* \\!\\[x\\]\\(http\\://a/b\\.png\\) \\:red\\[警告\\]"


def test_two_tabs_on_one_case_the_second_is_refused_and_reloaded(office):
    first, second = signed_in(office, "qy_yang"), signed_in(office, "qy_yang")
    for tab in (first, second):
        tab.query_params["id"] = office["case"]
        tab.switch_page("pages/case.py").run()
    for tab in (first, second):                                     # both choose to record a 陈述申辩
        tab.radio(key=f"act-{office['case']}").set_value("record_defense").run()
    key = f"act-{office['case']}-record_defense"
    for tab, text in ((first, "第一个标签页的申辩"), (second, "第二个标签页的申辩")):
        tab.date_input(key=f"{key}-defense_date").set_value(datetime(2025, 3, 5).date())
        tab.text_area(key=f"{key}-defense_text").set_value(text).run()
    next(b for b in first.button if b.label.startswith("提交：")).click().run()
    assert not first.exception and any(s.value.startswith("已提交") for s in first.success)
    next(b for b in second.button if b.label.startswith("提交：")).click().run()
    assert not second.exception
    assert any("案件已被他人更新" in w.value for w in second.warning)  # told; the page shows the newest state
    svc = open_service(office["data"], config=office["config"])
    try:
        answers = [e for e in svc.history(office["case"]) if e.get("transition") == "record_defense"]
        assert [e["data"]["defense_text"] for e in answers] == ["第一个标签页的申辩"]   # applied once, nothing lost
    finally:
        svc.close()
