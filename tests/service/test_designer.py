"""The designer's service: drafts, checks by row, publishing live, versions, diff, rollback,
templates versioned with their workflow, export/import, dry runs and the scenarios that guard publishing."""
from __future__ import annotations

import json

import pytest

from flows.core.errors import FlowError, NotPermitted
from flows.service import designer, dry_run, open_service
from tests.fixtures.designer.samples import COMMITTEE_YAML, MINUTES, PREPARE, minutes_template

ADMIN = "admin"


def committee(svc, template: bytes | None = None) -> designer.Draft:
    d = designer.create(svc, ADMIN, "safety_committee", "安委会季度会议", "AWH")
    d.source = COMMITTEE_YAML
    d = designer.save(svc, ADMIN, d)
    d = designer.upload_template(svc, ADMIN, d, "committee_minutes", template or minutes_template())
    d.documents["committee_minutes"] = {"title": "{quarter}安委会会议纪要", "minutes": "安委会会议纪要"}
    return designer.save(svc, ADMIN, d)


def run_case(svc, clock):
    case = svc.start("safety_committee", "awb_zhang", PREPARE)
    for action, user, data in [("convene", "awb_zhang", None), ("held", "awb_zhang", None),
                               ("submit_minutes", "awb_zhang", MINUTES),
                               ("sign_minutes", "fenguan", {"opinion": "同意"})]:
        case = svc.act(case["id"], action, user, data)
    return case


def minutes_text(service, case_id: str) -> str:
    from docx import Document

    doc = service.case(case_id)["documents"][0]
    return "\n".join(p.text for p in Document(service.document_file(doc["file"])).paragraphs)


def published_with_a_case(service, clock, new_template: str):
    """The committee published, a case waiting for the second leader, and a new template in the draft."""
    committee(service)
    designer.publish(service, ADMIN, "safety_committee")
    old_case = run_case(service, clock)
    d = designer.draft(service, "safety_committee")
    designer.upload_template(service, ADMIN, d, "committee_minutes", minutes_template(extra=new_template))
    return old_case


def test_only_admins_design(service):
    with pytest.raises(NotPermitted):
        designer.create(service, "awb_zhang", "safety_committee", "安委会季度会议", "AWH")


def test_a_new_workflow_is_published_and_run_to_the_end_with_its_minutes(service, clock):
    committee(service)
    assert designer.check(service, designer.draft(service, "safety_committee"))[1] == []
    wf = designer.publish(service, ADMIN, "safety_committee")
    assert wf.version == 1 and "safety_committee" in service.config.workflows
    with pytest.raises(FlowError, match="草稿与已发布的第 1 版相同，无需发布"):
        designer.publish(service, ADMIN, "safety_committee")
    case = run_case(service, clock)
    assert case["active"] == ["signing"]  # the 纪要 waits for both leaders
    case = service.act(case["id"], "sign_minutes", "juzhang", {"opinion": "同意，抓紧落实"})
    assert case["active"] == ["supervising"]
    doc = service.case(case["id"])["documents"][0]
    text = minutes_text(service, case["id"])
    assert "开展客运站场消防隐患排查（责任单位：运输管理科）" in text
    assert "李卫东：同意" in text and "陈建国：同意，抓紧落实" in text
    assert doc["title"] == "2025年第一季度安委会会议纪要" and doc["number"] == "第1期"


def test_another_process_serves_a_publication_at_its_next_look(service, config, clock, tmp_path):
    other = open_service(tmp_path / "data", config=config, clock=clock)
    try:
        committee(service)
        designer.publish(service, ADMIN, "safety_committee")
        assert "safety_committee" not in other.config.workflows
        assert other.refresh() is True and other.refresh() is False
        assert other.config.workflows["safety_committee"].version == 1
        assert other.start("safety_committee", "awb_zhang", PREPARE)["workflow_version"] == 1
    finally:
        other.close()


def test_problems_are_placed_on_their_rows_and_block_publishing(service):
    d = committee(service)
    d.source = COMMITTEE_YAML.replace("to: meeting, roles", "to: meting, roles").replace("roles: [安委办], form: done",
                                                                                          "roles: [安委会], form: done")
    d = designer.save(service, ADMIN, d)
    problems = designer.check(service, d)[1]
    by_row = {(p.section, p.row): p for p in problems}
    assert by_row[("transitions", 0)].where == "流转 第 1 行「筹备完成，召开会议」 · 目标状态"
    assert "在「状态」表中添加该状态" in by_row[("transitions", 0)].hint
    assert "安委会" in by_row[("transitions", 5)].message
    with pytest.raises(designer.DraftInvalid) as refused:
        designer.publish(service, ADMIN, "safety_committee")
    assert len(refused.value.problems) == 2
    assert "safety_committee" not in service.config.workflows


def test_a_stale_draft_is_refused_not_overwritten(service):
    d = committee(service)
    mine, theirs = designer.draft(service, "safety_committee"), designer.draft(service, "safety_committee")
    theirs.source = theirs.source.replace("title: 安委会季度会议", "title: 安委会会议")
    designer.save(service, ADMIN, theirs)
    mine.source += "\n# 我的修改\n"
    with pytest.raises(FlowError, match="草稿已被 系统管理员 于"):
        designer.save(service, ADMIN, mine)
    assert "title: 安委会会议" in designer.draft(service, "safety_committee").source
    assert d.version < designer.draft(service, "safety_committee").version


def test_text_that_is_not_yaml_is_refused_and_nothing_is_stored(service):
    d = committee(service)
    before = designer.draft(service, "safety_committee").source
    d.source = "name: [unclosed"
    with pytest.raises(designer.DraftInvalid, match="不是有效的 YAML"):
        designer.save(service, ADMIN, d)
    assert designer.draft(service, "safety_committee").source == before


def test_versions_diff_and_rollback_keep_running_cases_on_theirs(service, clock):
    committee(service)
    designer.publish(service, ADMIN, "safety_committee")
    old_case = service.start("safety_committee", "awb_zhang", PREPARE)
    d = designer.draft(service, "safety_committee")
    d.source = d.source.replace("  - {name: held, label: 会议已召开,", "  - {name: held, label: 会议召开完毕,")
    d.source = d.source.replace("supervise_workdays: 10", "supervise_workdays: 15")
    designer.save(service, ADMIN, d)
    assert designer.publish(service, ADMIN, "safety_committee").version == 2
    new_case = service.start("safety_committee", "awb_zhang", PREPARE)
    assert (old_case["workflow_version"], new_case["workflow_version"]) == (1, 2)
    changes = designer.diff(service, "safety_committee", 1, 2)
    assert any(line.startswith("修改流转「会议召开完毕」（held）：label 会议已召开 → 会议召开完毕") for line in changes)
    assert "修改设置 supervise_workdays：10 → 15" in changes
    assert [v["open"] for v in designer.versions(service, "safety_committee")] == [1, 1]
    back = designer.rollback(service, ADMIN, "safety_committee", 1)
    assert back.version == 3 and service.config.workflows["safety_committee"].transition("held").label == "会议已召开"
    assert designer.versions(service, "safety_committee")[-1]["note"] == "回滚到第 1 版"
    # the comments the admin wrote survive publishing and rollback
    assert "# 议定事项督办期限（工作日）" in designer.draft(service, "safety_committee").source


def test_a_template_changed_for_a_new_version_leaves_old_cases_with_theirs(service, clock):
    old_case = published_with_a_case(service, clock, "第二版模板")
    designer.publish(service, ADMIN, "safety_committee")
    new_case = run_case(service, clock)
    for case in (old_case, new_case):
        service.act(case["id"], "sign_minutes", "juzhang", {"opinion": "同意"})
    assert "第二版模板" not in minutes_text(service, old_case["id"])
    assert "第二版模板" in minutes_text(service, new_case["id"])


def test_a_shipped_workflow_gets_a_new_version_while_cases_run_on_the_old(service, clock):
    old = service.start("plan_revision", "awb_zhang", {"plan_name": "甲预案", "plan_kind": "综合应急预案",
                                                       "owner_unit": "局安委办", "revision_reason": "定期评估"})
    shipped = service.config.workflows["plan_revision"].version
    d = designer.draft(service, "plan_revision")
    assert d.source.startswith("# 应急预案评估与修订")  # the shipped file's own text, with its comments
    d.source = d.source.replace("label: 开始评估,", "label: 启动评估,")
    designer.save(service, ADMIN, d)
    assert designer.publish(service, ADMIN, "plan_revision").version == shipped + 1
    new = service.start("plan_revision", "awb_zhang", {"plan_name": "乙预案", "plan_kind": "综合应急预案",
                                                       "owner_unit": "局安委办", "revision_reason": "定期评估"})
    assert (old["workflow_version"], new["workflow_version"]) == (shipped, shipped + 1)
    labels = lambda case: [a.label for a in service.actions(case["id"], "awb_zhang")]  # noqa: E731
    assert labels(old) == ["开始评估"] and labels(new) == ["启动评估"]
    service.act(old["id"], "begin_assessment", "awb_zhang")  # the old one goes on, on its own version


def test_template_placeholders_are_checked_against_the_steps_that_issue_it(service):
    d = committee(service, minutes_template(extra="{{ case.data.venue }}{{ signatures.held.names }}{{ doc.nummer }}"))
    rows = {r["name"]: r for r in designer.placeholders(service, d, "committee_minutes")}
    assert rows["case.data.agenda"]["ok"] and rows["signatures.sign_minutes.signers"]["ok"]
    assert not rows["case.data.venue"]["ok"] and "添加同名字段" in rows["case.data.venue"]["fix"]
    assert "不是会签的步骤「held」" in rows["signatures.held.names"]["fix"]
    assert "sign_minutes" in rows["signatures.held.names"]["fix"]
    assert "文书没有的项目「nummer」" in rows["doc.nummer"]["fix"]
    problems = designer.check(service, d)[1]
    assert len(problems) == 3 and all(p.section == "transitions" and p.row == 3 for p in problems)
    with pytest.raises(FlowError, match="不是 Word 文档"):
        designer.upload_template(service, ADMIN, d, "committee_minutes", b"hello")


def test_export_and_import_move_a_workflow_with_its_templates_and_scenarios(service, config, clock, tmp_path):
    d = committee(service)
    run = dry_run.DryRun.begin(service, designer.check(service, d)[0], d)
    run.start("awb_zhang", PREPARE)
    d.scenarios.append(run.scenario("发起"))
    designer.save(service, ADMIN, d)
    package = designer.export_package(service, "safety_committee")
    elsewhere = open_service(tmp_path / "other", config=config, clock=clock)
    try:
        got = designer.import_package(elsewhere, ADMIN, package)
        assert got.scenarios[0]["name"] == "发起" and "committee_minutes" in got.templates
        assert designer.check(elsewhere, got)[1] == []
        broken = json.loads(package)
        broken["source"] = broken["source"].replace("to: meeting,", "to: nowhere,")
        with pytest.raises(designer.DraftInvalid, match="未导入"):
            designer.import_package(elsewhere, ADMIN, json.dumps(broken).encode(), replace_draft=True)
        with pytest.raises(FlowError, match="不是本平台导出的流程包"):
            designer.import_package(elsewhere, ADMIN, b"{}")
        designer.publish(elsewhere, ADMIN, "safety_committee")
        with pytest.raises(FlowError):  # never over a published version: it becomes the next draft only
            designer.import_package(elsewhere, ADMIN, json.dumps(broken).encode(), replace_draft=True)
        assert elsewhere.config.workflows["safety_committee"].version == 1
    finally:
        elsewhere.close()


def test_dry_run_walks_countersigns_timers_and_documents_without_touching_data(service):
    d = committee(service)
    wf = designer.check(service, d)[0]
    before = service.store.all("drafts")
    run = dry_run.DryRun.begin(service, wf, d)
    run.start("awb_zhang", PREPARE)
    assert [a.name for a in run.actions("awb_zhang")] == ["convene"]
    run.act("awb_zhang", "convene")
    run.act("awb_zhang", "held")
    run.act("awb_zhang", "submit_minutes", MINUTES)
    run.act("fenguan", "sign_minutes", {"opinion": "同意"})
    assert run.states() == "纪要审签"
    run.act("juzhang", "sign_minutes", {"opinion": "同意"})
    assert run.states() == "督办" and run.documents[0].content and run.documents[0].error is None
    assert run.advance(20) == ["督办期限：催办"]
    assert service.cases() == [] and service.store.all("drafts") == before


def test_a_saved_scenario_that_no_longer_runs_blocks_publishing_with_the_step(service):
    d = committee(service)
    run = dry_run.DryRun.begin(service, designer.check(service, d)[0], d)
    run.start("awb_zhang", PREPARE)
    run.act("awb_zhang", "convene")
    run.act("awb_zhang", "held")
    d.scenarios.append(run.scenario("召开"))
    d = designer.save(service, ADMIN, d)
    d.source = d.source.replace("from: meeting, to: drafting, roles: [安委办]", "from: meeting, to: drafting, roles: [局长]")
    designer.save(service, ADMIN, d)
    with pytest.raises(designer.DraftInvalid, match="测试场景「召开」未通过.*第 3 步（张伟：会议已召开）未能执行"):
        designer.publish(service, ADMIN, "safety_committee")
    assert "safety_committee" not in service.config.workflows


def test_every_change_is_logged_with_who_and_when(service):
    committee(service)
    designer.publish(service, ADMIN, "safety_committee")
    log = designer.changes(service, "safety_committee")
    assert [row["what"] for row in log][::-1][:3] == ["新建流程", "修改草稿", "上传模板 committee_minutes"]
    assert log[0]["what"] == "发布第 1 版" and all(row["by"] == ADMIN and row["at"] for row in log)


def test_the_admin_may_let_running_cases_of_older_versions_use_a_corrected_template(service, clock):
    old_case = published_with_a_case(service, clock, "更正后的模板")
    (row,) = designer.template_versions(service, "safety_committee", "committee_minutes")
    assert row["version"] == 1 and row["open"] == 1
    assert row["file"] != designer.draft(service, "safety_committee").templates["committee_minutes"]  # not yet
    assert designer.apply_template_to_running(service, ADMIN, "safety_committee", "committee_minutes") == [1]
    service.act(old_case["id"], "sign_minutes", "juzhang", {"opinion": "同意"})
    assert "更正后的模板" in minutes_text(service, old_case["id"])
    assert designer.changes(service, "safety_committee")[0]["what"].startswith("模板 committee_minutes 同时用于")


@pytest.mark.parametrize("name,title,code,words", [
    ("Safety", "安委会", "AWH", "小写英文字母"), ("safety\nstates: []", "安委会", "AWH", "小写英文字母"),
    ("safety", "安委会", "awh", "大写英文字母"), ("safety", "  ", "AWH", "请填写流程名称"),
    ("drill", "演练", "YL", "已有名为「drill」"), ("safety", "安委会", "SG", "已被其他流程使用")])
def test_a_new_workflow_needs_a_proper_name_title_and_code(service, name, title, code, words):
    with pytest.raises(FlowError, match=words):
        designer.create(service, ADMIN, name, title, code)
    assert service.store.all("drafts") == []


def test_the_list_tells_a_draft_as_published_from_one_with_changes(service):
    committee(service)
    designer.publish(service, ADMIN, "safety_committee")
    row = next(r for r in designer.workflows(service) if r["name"] == "safety_committee")
    assert (row["live"], row["draft"]) == (1, "与发布相同")
    d = designer.draft(service, "safety_committee")
    d.source += "# 下季度增加议题\n"
    designer.save(service, ADMIN, d)
    row = next(r for r in designer.workflows(service) if r["name"] == "safety_committee")
    assert row["draft"] == "有未发布的修改"
