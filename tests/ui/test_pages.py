"""ui/app.py and its pages: workflows, cases with their states and documents, messages, reports (Streamlit AppTest)."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from flows.orchestration import job_flows, runtime
from flows.service import open_service
from tests.orchestration.orch_helpers import ROOT, notify_blacklist


@pytest.fixture
def office(tmp_path, orch_config, monkeypatch):
    data = tmp_path / "data"
    svc = open_service(data, config=orch_config, clock=lambda: datetime(2025, 3, 3, 9))
    cid = notify_blacklist(svc)
    runtime.use_service(svc)
    job_flows.annual_drill_plan.fn(year=2025, now="2025-01-02T06:00:00")
    runtime.use_service(None)
    svc.close()
    monkeypatch.setenv("WORKFLOW_DATA_DIR", str(data))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    st.cache_resource.clear()
    return cid


def test_first_page_lists_workflows_cases_states_and_documents(office):
    at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "县交通运输局安全生产流程平台"
    subheaders = [h.value for h in at.subheader]
    assert any(h.startswith("安全生产失信黑名单（1 件") for h in subheaders)
    assert any(h.startswith("应急预案修订（0 件") for h in subheaders)
    (table,) = [df for df in at.dataframe if office in df.value["编号"].tolist()]
    row = table.value.set_index("编号").loc[office]
    assert row["当前环节"] == "事先告知（陈述申辩期）" and row["文书"] == 1 and row["状态"] == "办理中"
    at.selectbox(key="pick-blacklist").set_value(office).run()
    assert not at.exception, at.exception
    labels = [b.label for b in at.get("download_button")]
    assert any("安全生产失信行为事先告知书（县交信告〔2025〕1号）.docx" in label for label in labels)
    at.switch_page("pages/reports.py").run()
    assert not at.exception, at.exception
    assert any("年度应急演练计划" in b.label for b in at.get("download_button"))        # the reports page


def test_messages_page_shows_a_persons_reminders_and_marks_them_read(office):
    at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60).run()
    at.switch_page("pages/messages.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="msg-user").set_value("qy_yang").run()  # 江海港务's contact: the 告知书 is theirs to answer
    texts = [m.value for m in at.markdown]
    assert any("【待办提醒】" in t and office in t and ":red[未读]" in t for t in texts), texts
    (count,) = [c.value for c in at.caption if "未读" in c.value]
    assert re.search(r"未读 [1-9]\d* 条", count), count
    at.button(key="msg-read").click().run()
    assert not at.exception, at.exception
    assert any("未读 0 条" in c.value for c in at.caption)
    assert not any(":red[未读]" in m.value for m in at.markdown)


def test_reports_page_publishes_the_drill_plan_once(office):
    at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=60).run()
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
