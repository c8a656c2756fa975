"""设计器 (ui/pages/designer.py) through Streamlit's AppTest: admins only; a new workflow typed as
YAML shows its problems by row before saving, is saved, published, and listed with its version."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from flows.service import designer, open_service
from tests.fixtures.designer.samples import COMMITTEE_YAML, minutes_template
from tests.orchestration.orch_helpers import ROOT
from tests.ui.apptest_helpers import open_desk, signed_in, token

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
    assert "已保存的草稿：检查通过。" in texts(at)
    at = at.button(key="publish-safety_committee").click().run()
    assert "已发布第 1 版" in texts(at)
    assert list(at.dataframe[0].value["已发布版本"])[-1] == "第 1 版"
    at = section(at, "流程图")
    assert not at.exception
    at = section(at, "变更记录")
    assert "发布第 1 版" in list(at.dataframe[-1].value["内容"])


TABLES = [("基本信息", None, "保存基本信息"), ("状态", "states", "保存状态"), ("定时器", "timers", "保存定时器"),
          ("流转", "transitions", "保存流转"), ("出具文书", "documents", "保存文书"),
          ("关联案件", "linked", "保存关联案件"), ("表单", "fields", "保存表单"), ("并行", "splits", "保存并行"),
          ("计算字段", "computed", "保存计算字段"), ("设置", "settings", "保存设置")]


def inspection_draft(office) -> int:
    """The test workflow that uses every construct, as a draft typed with comments."""
    from tests.core.test_definitions import FIXTURE

    svc = open_service(office["data"], config=office["config"])
    try:
        d = designer.create(svc, "admin", "inspection", "隐患整改（测试流程）", "TST")
        d.source = FIXTURE.read_text(encoding="utf-8")
        return designer.save(svc, "admin", d).version
    finally:
        svc.close()


def stored(office) -> str:
    svc = open_service(office["data"], config=office["config"])
    try:
        return designer.draft(svc, "inspection").source
    finally:
        svc.close()


def on_table(office, table: str):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["session_token"] = token(office, "admin")
    at.session_state["designer-workflow"] = "inspection"
    at.session_state["designer-table"] = table
    return at


def stored_of(office, name: str) -> str:
    svc = open_service(office["data"], config=office["config"])
    try:
        return designer.draft(svc, name).source
    finally:
        svc.close()


@pytest.mark.parametrize("workflow", ["inspection", "accident"])
@pytest.mark.parametrize("table,key,save", TABLES, ids=[t[0] for t in TABLES])
def test_saving_a_table_unchanged_leaves_the_yaml_as_typed(office, workflow, table, key, save):
    """The test workflow (every construct) and the shipped 一案三查 (the largest, with its comments)."""
    if workflow == "inspection":
        inspection_draft(office)
    before = stored_of(office, workflow)
    at = on_table(office, table)
    at.session_state["designer-workflow"] = workflow
    at = at.run()
    assert not at.exception
    at = next(b for b in at.button if b.label == save).click().run()
    assert not at.exception and "已保存" in texts(at)
    assert stored_of(office, workflow) == before          # every comment and layout as the admin typed them


def test_table_edits_reach_the_yaml_and_keep_its_comments(office):
    version = inspection_draft(office)
    at = on_table(office, "状态")
    at.session_state[f"states-{version}"] = {"edited_rows": {1: {"label": "整改（改）"}},
                                             "added_rows": [{"name": "archived", "label": "归档", "initial": False,
                                                                             "final": False}], "deleted_rows": []}
    at = at.run()
    at = at.button(key=f"save-states-{version}").click().run()
    source = stored(office)
    assert "label: 整改（改）" in source and "{name: archived, label: 归档}" in source
    assert source.startswith("# A small test workflow exercising every construct")
    assert "状态 第 " in texts(at)                       # the new state is unreachable: told on its row
    at = on_table(office, "计算字段")
    at.session_state[f"computed-{version + 1}"] = {"edited_rows": {2: {"value": "轻微"}}, "added_rows": [],
                                                   "deleted_rows": []}
    at = at.run()
    at = at.button(key=f"save-computed-{version + 1}").click().run()
    assert "- {value: 轻微}" in stored(office)
    at = on_table(office, "表单")
    at.session_state[f"fields-{version + 2}-report"] = {
        "edited_rows": {}, "deleted_rows": [],
        "added_rows": [{"order": 0, "name": "reporter_phone", "label": "联系电话", "kind": "text",
                        "required": False, "pattern": "^1\\d{10}$"}]}
    at = at.run()
    at = at.button(key=f"save-form-{version + 2}-report").click().run()
    source = stored(office)
    report = source[source.index("  report:"):source.index("\n  ", source.index("  report:") + 10) + 400]
    assert "reporter_phone" in source and source.index("reporter_phone") < source.index("name: site")
    assert report


def test_a_document_gets_a_condition_in_its_table(office):
    svc = open_service(office["data"], config=office["config"])
    try:
        d = designer.create(svc, "admin", "safety_committee", "安委会季度会议", "AWH")
        d.source = COMMITTEE_YAML
        version = designer.save(svc, "admin", d).version
    finally:
        svc.close()
    at = on_table(office, "出具文书")
    at.session_state["designer-workflow"] = "safety_committee"
    at.session_state[f"documents-{version}"] = {"edited_rows": {0: {"when": "quarter != ''"}}, "added_rows": [],
                                                "deleted_rows": []}
    at = at.run()
    at = at.button(key=f"save-documents-{version}").click().run()
    assert "documents: [{template: committee_minutes, when: quarter != ''}]" in stored_of(office, "safety_committee")


def test_a_linked_case_gets_a_new_relation_and_keeps_its_data_and_comment(office):
    before = stored_of(office, "accident")
    at = on_table(office, "关联案件")
    at.session_state["designer-workflow"] = "accident"
    at.session_state["linked-0"] = {"edited_rows": {0: {"relation": "责任企业移送黑名单"}}, "added_rows": [],
                                    "deleted_rows": []}
    at = at.run()
    at = at.button(key="save-linked-0").click().run()
    after = stored_of(office, "accident")
    assert "relation: 责任企业移送黑名单" in after and "relation: 事故责任企业列入黑名单" not in after
    assert "# 负有责任的企业，事故为较大及以上" in after and "source_case: case_id" in after
    assert after.replace("责任企业移送黑名单", "事故责任企业列入黑名单") == before
