"""台账 (ui/pages/registers.py) and the dashboard's blacklist panel through Streamlit's AppTest: a leader
sees both registers and exports them; a person without the role sees 无权查看."""
from __future__ import annotations

from datetime import datetime

import pytest
from streamlit.testing.v1 import AppTest

from flows.service import open_service
from tests.orchestration.orch_helpers import ROOT, notify_blacklist
from tests.ui.apptest_helpers import open_desk, signed_in, token

PAGE = str(ROOT / "ui" / "pages" / "registers.py")
PLAN = {"name": "县交通运输局综合应急预案", "kind": "综合应急预案", "owner_unit": "局安委办", "version": "2022版",
        "published": "2022-05-10", "next_assessment": "2025-05-10"}


@pytest.fixture
def office(tmp_path, orch_config, monkeypatch):
    data = tmp_path / "data"
    svc = open_service(data, config=orch_config, clock=lambda: datetime(2025, 3, 3, 9))
    cid = notify_blacklist(svc)
    svc.act(cid, "waive_defense", "awb_zhang", comment="企业书面放弃")
    svc.act(cid, "decide", "fenguan", {"decision_date": "2025-03-04", "measures": ["在信用平台公开"]})
    svc.sweep(datetime(2025, 3, 20, 9))                            # 公示期满: 已列入
    svc.register_put("plans", PLAN["name"], PLAN)
    svc.close()
    open_desk(data, orch_config, monkeypatch, ("awb_zhang", "qy_han", "gh_sun"))
    return {"case": cid, "data": data, "config": orch_config}


PANEL_ENTRY = """
import sys
sys.path.insert(0, {root!r})
import streamlit as st
from ui.components.blacklist_panel import blacklist_panel
from ui.session import service


def dashboard():
    blacklist_panel(service())


st.navigation([st.Page(dashboard, title="统计", default=True), st.Page("pages/registers.py", title="台账"),
               st.Page("pages/case.py", title="案件", url_path="case")]).run()
"""


def panel_app(office, tmp_path, user: str) -> AppTest:
    """The panel on a page of its own: an entry beside a link to ui/pages, as the app's entry is."""
    (tmp_path / "pages").symlink_to(ROOT / "ui" / "pages")
    entry = tmp_path / "dashboard.py"
    entry.write_text(PANEL_ENTRY.format(root=str(ROOT)), encoding="utf-8")
    at = AppTest.from_file(str(entry), default_timeout=60)
    at.session_state["session_token"] = token(office, user)
    return at.run()


def test_the_blacklist_panel_lists_the_listed_enterprise(office, tmp_path):
    at = panel_app(office, tmp_path, "awb_zhang")
    assert not at.exception, at.exception
    (table,) = at.dataframe
    assert table.value["企业"].tolist() == ["江海港务有限公司"]
    assert table.value["案件编号"].tolist() == [office["case"]]
    assert [m.value for m in at.metric] == ["1", "0"]


def test_the_blacklist_panel_says_no_to_a_clerk_without_the_role(office, tmp_path):
    at = panel_app(office, tmp_path, "qy_han")
    assert not at.exception, at.exception
    assert any("无权查看" in e.value for e in at.error)


def _table(at: AppTest, column: str):
    (frame,) = [df.value for df in at.dataframe if column in df.value.columns]
    return frame


def test_a_leader_sees_both_registers_searches_and_may_export(office):
    at = signed_in(office, "awb_zhang")
    at.switch_page("pages/registers.py").run()
    assert not at.exception, at.exception
    assert [t.label for t in at.tabs] == ["预案台账", "黑名单台账"]
    plans = _table(at, "预案名称")
    assert plans["预案名称"].tolist() == [PLAN["name"]] and plans["版本"].tolist() == ["2022版"]
    listed = _table(at, "统一社会信用代码")
    row = listed.set_index("案件编号").loc[office["case"]]
    assert row["企业"] == "江海港务有限公司" and row["决定书文号"] == "县交信决〔2025〕1号"
    assert str(row["期限届满"])[:10] == "2028-03-12"
    assert {b.label for b in at.get("download_button")} == {"导出 Excel"}

    at.text_input(key="blacklist-text").set_value("91320600MA1NY7QH42").run()   # by credit code: found
    assert not at.exception, at.exception
    assert _table(at, "统一社会信用代码")["案件编号"].tolist() == [office["case"]]
    at.text_input(key="blacklist-text").set_value("通达").run()                  # another enterprise: none
    assert not [df for df in at.dataframe if "统一社会信用代码" in df.value.columns]
    assert any("没有符合条件的记录" in c.value for c in at.caption)
    at.selectbox(key="plans-kind").set_value("综合应急预案").run()               # a filter of the plans
    assert not at.exception, at.exception
    assert _table(at, "预案名称")["预案名称"].tolist() == [PLAN["name"]]
    at.multiselect(key="plans-status").set_value(["修订中"]).run()              # the plan is 现行
    assert not [df for df in at.dataframe if "预案名称" in df.value.columns]


def test_a_person_without_the_role_sees_no_register(office):
    clerk = signed_in(office, "qy_han")
    clerk.switch_page("pages/registers.py").run()                  # out of their menu, its address refuses
    assert [e.value for e in clerk.error] == ["无权查看：台账只对局领导、安委办和管理员开放。"]
    page = signed_in(office, "qy_han", PAGE)                       # and the page itself refuses them
    assert not page.exception, page.exception
    assert [e.value for e in page.error] == ["无权查看：台账只对局领导、安委办和管理员开放。"]
    assert not page.dataframe
