"""Issue 12, "admins change the office's workflows in the browser": in headless Chromium against the
real stack (one for the module), an admin builds the quarterly 安委会 meeting workflow from nothing
in the designer, uploads its minutes template, dry-runs it, keeps the dry run as a scenario and
publishes it; colleagues then run a case on it to the end with no restart, and its 督办 deadline
escalates once time is moved past it. No file under configs/ is written.

Screenshots go to build/screenshots/designer/, to be looked at as an admin would.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from tests.fixtures.designer.samples import COMMITTEE_YAML, MINUTES, PREPARE, minutes_template
from tests.orchestration.orch_helpers import ROOT, SHOTS, pick
from tests.ui.browser_helpers import (
    act,
    docx_text,
    fill,
    fill_date,
    fresh_folder,
    open_case,
    run,
    settle,
    sign_in,
    sign_out,
    stack,
    upload,
)
from tests.ui.browser_helpers import shot as take_shot

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.prefect]

DESIGNER = SHOTS / "designer"
PEOPLE = ("awb_zhang", "fenguan", "juzhang")
NAME = "safety_committee"


@pytest.fixture(scope="module")
def office(tmp_path_factory, orch_config):
    fresh_folder(DESIGNER)
    base = tmp_path_factory.mktemp("designer")
    with stack(base, orch_config, PEOPLE) as running:
        yield running


def shot(page, name: str) -> None:
    take_shot(page, DESIGNER / f"{name}.png")


def configs_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--", "configs"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout


def section(page, name: str) -> None:
    run(page, lambda: page.locator(".st-key-designer-section").get_by_text(name, exact=True).click())


def stored_draft(office):
    from flows.service import designer

    svc = office.service()
    try:
        return designer.draft(svc, NAME)
    finally:
        svc.close()


def test_an_admin_builds_dry_runs_and_publishes_the_committee_workflow(page, office, tmp_path):
    before = configs_status()
    sign_in(page, office, "admin")
    page.get_by_role("link", name="流程设计器").click()
    page.get_by_role("heading", name="流程设计器").wait_for()
    settle(page)
    shot(page, "1-01-workflow-list")
    run(page, lambda: page.get_by_text("新建流程 / 导入流程包").click())
    for key, value in (("name", NAME), ("title", "安委会季度会议"), ("code", "AWH")):
        box = page.locator(f".st-key-new-workflow-{key} input")
        box.fill(value)
        box.press("Tab")
    run(page, lambda: page.get_by_role("button", name="新建流程").click())
    page.get_by_text("已新建流程「安委会季度会议」的草稿").wait_for()
    shot(page, "1-02-new-draft")

    # the states table: the skeleton's two states become the meeting's six, typed into the grid
    run(page, lambda: page.locator(".st-key-designer-table").get_by_text("状态", exact=True).click())
    shot(page, "1-03-states-table")

    # the whole definition, as the admin writes it in the YAML view (with comments)
    section(page, "YAML")
    area = page.get_by_label("流程定义（YAML）")
    area.fill(COMMITTEE_YAML.replace("to: meeting, roles", "to: meting, roles"))
    run(page, lambda: area.press("Control+Enter"))
    page.get_by_text("未保存的修改：2 处问题").wait_for()
    page.get_by_text(re.compile("流转 第 1 行「筹备完成，召开会议」 · 目标状态：未知状态或并行拆分「meting」")).first.wait_for()
    shot(page, "1-04-yaml-with-problems")
    area.fill(COMMITTEE_YAML)
    run(page, lambda: area.press("Control+Enter"))
    page.get_by_text("未保存的修改：1 处问题").wait_for()               # the minutes template is not there yet
    run(page, lambda: page.get_by_role("button", name="保存 YAML").click())
    page.get_by_text("已保存草稿").wait_for()

    # a setting changed in its table keeps the comment the admin wrote beside it
    section(page, "编辑")
    run(page, lambda: page.locator(".st-key-designer-table").get_by_text("设置", exact=True).click())
    grid = page.locator("[class*='st-key-settings-']")
    grid.locator("canvas").first.wait_for()
    box = grid.locator("canvas").first.bounding_box()
    page.mouse.click(box["x"] + 33 + 40, box["y"] + 36 + 17)          # the first row's 设置名 (past the row marker)
    page.wait_for_timeout(400)
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(150)
    page.keyboard.type("5")                                             # typing over a chosen cell replaces it
    page.wait_for_timeout(300)
    shot(page, "1-04b-setting-typed")
    run(page, lambda: page.keyboard.press("Enter"))
    shot(page, "1-04c-setting-entered")
    run(page, lambda: page.get_by_role("button", name="保存设置").click())
    page.get_by_text("已保存：修改设置").wait_for()
    source = stored_draft(office).source
    assert re.search(r"\n  supervise_workdays: 5 +# 议定事项督办期限（工作日）\n", source), source

    # the minutes template, made in Word, uploaded and checked against the steps that issue it
    section(page, "模板")
    path = tmp_path / "minutes.docx"
    path.write_bytes(minutes_template())
    shot(page, "1-05a-templates")
    upload(page, f"tpl-upload-{NAME}-committee_minutes", path)
    run(page, lambda: page.get_by_role("button", name="上传", exact=True).click())
    page.get_by_text("已上传模板「committee_minutes」").wait_for()
    fill(page, "文书标题", "{quarter}安委会会议纪要")
    fill(page, "纪要标志", "安委会会议纪要")
    run(page, lambda: page.get_by_role("button", name="保存文书设置").click())
    page.get_by_text("已保存文书「committee_minutes」的设置").wait_for()
    page.get_by_text("已保存的草稿：检查通过。").wait_for()
    run(page, lambda: page.get_by_role("button", name="预览（示例数据）").click())
    page.get_by_text("第 1 页").wait_for(timeout=120_000)
    shot(page, "1-05-template-checked-and-previewed")

    # 试运行: as 张伟 up to the meeting held, then kept as a scenario
    section(page, "流程图")
    shot(page, "1-06-diagram")
    section(page, "试运行")
    pick(page, f"dry-who-{NAME}", re.compile("^张伟"))
    fill(page, "季度", PREPARE["quarter"])
    fill_date(page, "会议日期", PREPARE["meeting_date"])
    fill(page, "议题", PREPARE["agenda"])
    fill(page, "参会人员", PREPARE["attendees"])
    run(page, lambda: page.get_by_role("button", name="发起试运行").click())
    page.get_by_text("当前：筹备").wait_for()
    run(page, lambda: page.get_by_role("button", name="执行：筹备完成，召开会议").click())
    page.get_by_text("当前：召开").wait_for()
    run(page, lambda: page.get_by_role("button", name="执行：会议已召开").click())
    page.get_by_text("当前：纪要起草").wait_for()
    fill(page, "场景名称", "筹备到召开")
    run(page, lambda: page.get_by_role("button", name="保存为测试场景").click())
    page.get_by_text(re.compile("已保存测试场景「筹备到召开」")).wait_for()
    shot(page, "1-07-dry-run-kept-as-scenario")
    section(page, "测试场景")
    page.get_by_text("通过", exact=True).wait_for(state="attached")          # the scenario replays as recorded

    # 发布: live at once, with Prefect's deployment for its effects in place
    section(page, "发布")
    run(page, lambda: page.get_by_role("button", name="发布新版本").click())
    page.get_by_text(re.compile("已发布第 1 版")).wait_for(timeout=60_000)
    shot(page, "1-08-published")
    assert configs_status() == before                                  # nothing under configs/ was written


def test_colleagues_run_a_case_on_it_to_the_minutes_and_the_deadline_escalates(page, office, tmp_path):
    from flows.orchestration.dispatch import PrefectAPI, effects_deployment
    from flows.service import designer, open_service

    sign_in(page, office, "awb_zhang")
    page.get_by_role("link", name="新建").click()
    page.get_by_role("heading", name="新建案件").wait_for()
    pick(page, "new-workflow", "安委会季度会议")                       # listed at once, no restart
    fill(page, "季度", PREPARE["quarter"])
    fill_date(page, "会议日期", PREPARE["meeting_date"])
    fill(page, "议题", PREPARE["agenda"])
    fill(page, "参会人员", PREPARE["attendees"])
    run(page, lambda: page.get_by_role("button", name="发起", exact=True).click())
    heading = page.get_by_role("heading", name=re.compile(r"AWH-\d{4}-\d{5}"))
    heading.wait_for()
    case_id = re.search(r"AWH-\d{4}-\d{5}", heading.inner_text()).group()
    act(page, case_id, "筹备完成，召开会议")
    act(page, case_id, "会议已召开")

    def minutes():
        fill(page, "会议内容", MINUTES["summary"])
        grid = page.locator(f".st-key-act-{case_id}-submit_minutes-decisions")
        for i, row in enumerate(MINUTES["decisions"]):                  # 议定事项, typed into its grid
            settle(page)
            grid.hover()                                                   # its toolbar shows on hover
            add = grid.get_by_role("button", name="Add row")
            add.wait_for()
            page.wait_for_timeout(400)                                     # (it fades in)
            run(page, lambda b=add: b.click(force=True))
            for column, value in enumerate((row["item"], row["owner_unit"])):
                box = grid.locator("canvas").first.bounding_box()
                width = (box["width"] - 33) / 2
                page.mouse.dblclick(box["x"] + 33 + width * column + 40, box["y"] + 36 + 35 * i + 17)
                editor = page.locator("#portal textarea, #portal input").first
                editor.wait_for()
                editor.fill(value)
                run(page, lambda e=editor: e.press("Enter"))
        shot(page, "2-00-minutes-typed")

    act(page, case_id, "提交纪要审签", form=minutes)
    sign_out(page)
    for leader, opinion in (("fenguan", "同意"), ("juzhang", "同意，抓紧落实")):
        sign_in(page, office, leader)
        open_case(page, office, case_id)
        act(page, case_id, "审签纪要", form=lambda said=opinion: fill(page, "审签意见", said))
        if leader == "fenguan":
            page.get_by_text("纪要审签").first.wait_for()                # waits for the other leader
            shot(page, "2-01-waiting-for-the-second-leader")
        sign_out(page)
    sign_in(page, office, "awb_zhang")
    open_case(page, office, case_id)
    link = page.get_by_role("button", name=re.compile("安委会会议纪要"))
    link.wait_for(timeout=60_000)                                        # Prefect issued it
    shot(page, "2-02-minutes-issued")
    with page.expect_download() as got:
        link.first.click()
    path = tmp_path / "minutes.docx"
    got.value.save_as(path)
    text = docx_text(path)
    assert "开展客运站场消防隐患排查（责任单位：运输管理科）" in text
    assert "李卫东：同意" in text and "陈建国：同意，抓紧落实" in text
    prefect = json.loads((office.data / "stack.json").read_text())["prefect_url"]
    api = PrefectAPI(f"{prefect}/api")
    try:
        assert api.deployment_id(effects_deployment(NAME))               # registered by the serving process
    finally:
        api.close()
    svc = office.service()
    try:  # and it was there before publishing returned: the publisher waited for it, nothing to catch up
        assert not [r for r in designer.changes(svc, NAME) if "未成功" in r["what"]]
    finally:
        svc.close()
    # 督办: 5 working days (the setting changed in the table); a sweep a month on escalates it
    later = (datetime.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    preview = subprocess.run([sys.executable, "-m", "flows", "sweep", "--now", later, "--dry-run",
                              "--data-dir", str(office.data)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert case_id in preview.stdout and "escalate" in preview.stdout, preview.stderr
    checker = open_service(office.data, config=office.config)
    try:
        done = checker.sweep(datetime.fromisoformat(later))
        assert [d["event"] for d in done if d["case_id"] == case_id] == ["escalated"]
        reminded = [m for m in checker.messages("fenguan") if m.get("case_id") == case_id]
        assert any("督办期限" in str(m) for m in reminded), reminded   # 分管领导 is told, as the timer says
    finally:
        checker.close()
    open_case(page, office, case_id)
    act(page, case_id, "议定事项全部落实", form=lambda: fill(page, "落实情况", "两项议定事项均已落实。"))
    page.get_by_text("已结案", exact=True).first.wait_for()
    shot(page, "2-03-closed")
