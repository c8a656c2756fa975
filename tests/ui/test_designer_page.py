"""设计器 (ui/pages/designer.py) through Streamlit's AppTest: admins only; a new workflow typed as
YAML shows its problems by row before saving, is saved, published, and listed with its version."""
from __future__ import annotations

import pytest

from flows.service import designer, open_service
from tests.fixtures.designer.samples import COMMITTEE_YAML, minutes_template
from tests.orchestration.orch_helpers import ROOT
from tests.ui.apptest_helpers import open_desk, signed_in

PAGE = str(ROOT / "ui" / "pages" / "designer.py")


@pytest.fixture
def office(tmp_path, orch_config, monkeypatch):
    data = tmp_path / "data"
    open_desk(data, orch_config, monkeypatch, ("awb_zhang",))
    return {"data": data, "config": orch_config}


def texts(at) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "error", "success", "warning", "caption", "info")
                     for e in getattr(at, kind))


def section(at, name: str):
    control = next(c for c in at.button_group if c.key == "designer-section")
    return control.set_value(name).run()


def test_a_clerk_is_told_no(office):
    at = signed_in(office, "awb_zhang", PAGE)
    assert "无权查看：只有管理员可以修改流程。" in texts(at)


def test_an_admin_types_a_workflow_sees_its_problems_saves_and_publishes_it(office):
    at = signed_in(office, "admin", PAGE)
    assert [r for r in at.dataframe[0].value["名称"]] == ["accident", "blacklist", "drill", "plan_revision"]
    at.text_input(key="new-workflow-name").input("safety_committee")
    at.text_input(key="new-workflow-title").input("安委会季度会议")
    at.text_input(key="new-workflow-code").input("AWH")
    at = next(b for b in at.button if b.label == "新建流程").click().run()
    assert "已新建流程「安委会季度会议」的草稿" in texts(at)
    assert at.selectbox(key="designer-workflow").value == "safety_committee"
    at = section(at, "YAML")
    area = at.text_area[0]
    at = area.input(COMMITTEE_YAML.replace("to: meeting, roles", "to: meting, roles")).run()
    assert "未保存的修改：2 处问题" in texts(at)
    assert "流转 第 1 行「筹备完成，召开会议」 · 目标状态：未知状态或并行拆分「meting」" in texts(at)
    at = at.text_area[0].input(COMMITTEE_YAML).run()
    assert "未保存的修改：1 处问题" in texts(at)  # the minutes template is not uploaded yet
    at = at.button(key="yaml-save").click().run()
    assert "已保存草稿" in texts(at)
    svc = open_service(office["data"], config=office["config"])
    try:
        d = designer.draft(svc, "safety_committee")
        designer.upload_template(svc, "admin", d, "committee_minutes", minutes_template())
    finally:
        svc.close()
    at = section(at.run(), "发布")
    assert "草稿检查通过。" in texts(at)
    at = at.button(key="publish-safety_committee").click().run()
    assert "已发布第 1 版" in texts(at)
    assert list(at.dataframe[0].value["已发布版本"])[-1] == 1
    at = section(at, "流程图")
    assert not at.exception
    at = section(at, "变更记录")
    assert "发布第 1 版" in list(at.dataframe[-1].value["内容"])
