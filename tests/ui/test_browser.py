"""Issue 10, "the office works in the browser": the office's journeys in headless Chromium against
the real stack (`python -m flows up`: Prefect's server, the serving process, the app), one stack for
the module. The data directory is prepared in-process first (passwords, and a case where a journey
needs a starting point); the stack's processes and this process share it.

Each journey leaves screenshots in build/screenshots/desk/, named for what they show, to be looked
at as an office clerk would.
"""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.orchestration.orch_helpers import SHOTS, pick
from tests.ui.browser_helpers import (
    PASSWORD,
    act,
    answer,
    choose_many,
    docx_text,
    error_after,
    fill,
    fill_date,
    fresh_folder,
    header_state,
    inbox_ids,
    open_case,
    open_from_inbox,
    press,
    run,
    settle,
    sign_in,
    sign_out,
    stack,
    table_ids,
    upload,
)
from tests.ui.browser_helpers import shot as take_shot

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.prefect]

# the people of configs/organisation.yaml the journeys sign in as
PEOPLE = ("awb_zhang", "awb_head", "ygk_liu", "gh_sun", "zf_feng", "jsk_head", "juzhang", "fenguan", "qy_han",
          "qy_yang", "jsk_wu")
DESK = SHOTS / "desk"
DRILL_NAME = "2026年港口危险货物泄漏实战演练"


# ------------------------------------------------------------------ starting points, in-process

ACCIDENT_REPORT = {"occurred_at": "2026-11-20T08:30", "place": "城东客运站", "accident_type": "道路运输",
                   "deaths": 1, "serious_injuries": 2, "direct_loss": 85,
                   "description": "一辆客车进站时与行人发生碰撞。",
                   "enterprise": {"name": "通达客运有限公司", "credit_code": "91320600MA1MXK3P27"}}
INVESTIGATORS = {"enterprise_investigator": "gh_sun", "supervision_investigator": "zf_feng",
                 "territorial_investigator": "jsk_head"}


def days_ahead(n: int) -> str:
    """A date `n` days from today: a drill notice is refused for a drill date already past, so no fixed dates."""
    return (date.today() + timedelta(days=n)).isoformat()


DRILL_PLAN = {"drill_name": "客运站火灾疏散桌面推演", "plan_name": "客运站场突发事件专项应急预案",
              "plan_kind": "专项应急预案", "drill_kind": "桌面推演", "scenario": "客运站场疏散",
              "planned_date": days_ahead(18), "owner_unit": "运输管理科"}
DRILL_SCHEME = {"location": "城东客运站会议室", "participants": "运输管理科、城东客运站", "scheme_summary": "按预案推演疏散。"}


def starting_points(svc) -> dict[str, str]:
    """The cases journeys start from: an accident in 一案三查, drills at 方案审批, a blacklist lead."""
    accident = svc.start("accident", "awb_zhang", ACCIDENT_REPORT)["id"]
    svc.act(accident, "file_case", "awb_zhang", {"supervised": False, **INVESTIGATORS,
                                                 "team": [{"name": "张伟", "unit": "局安委办", "duty": "组长"}]})
    theirs = svc.start("drill", "ygk_liu", DRILL_PLAN)["id"]          # 刘洋's drill, waiting for a head's approval
    svc.act(theirs, "begin_scheme", "ygk_liu")
    svc.act(theirs, "submit_scheme", "ygk_liu", DRILL_SCHEME)
    returned = svc.start("drill", "awb_zhang", {**DRILL_PLAN, "drill_name": "港区防台风实战演练",
                                                "scenario": "港口突发事件"})["id"]
    svc.act(returned, "begin_scheme", "awb_zhang")
    svc.act(returned, "submit_scheme", "awb_zhang", DRILL_SCHEME)
    lead = svc.start("blacklist", "awb_zhang", {"enterprise": {"name": "江海港务有限公司",
                                                               "credit_code": "91320600MA1NY7QH42"},
                                                "reason": "重大隐患整改不力", "facts": "逾期未整改"})["id"]
    return {"accident": accident, "no_role": theirs, "returned": returned, "blacklist": lead}


@pytest.fixture(scope="module")
def office(tmp_path_factory, configs_root, orch_config):
    fresh_folder(DESK)
    with stack(tmp_path_factory.mktemp("desk"), orch_config, PEOPLE, starting_points) as running:
        yield running


def shot(page, name: str) -> None:
    take_shot(page, DESK / f"{name}.png")


# ------------------------------------------------------------------ 1. a drill, from its plan to 归档

def test_a_drill_from_plan_to_archive(page, office, tmp_path):
    sign_in(page, office, "awb_zhang")                            # 张伟, 安委办's clerk, plans the drill
    page.get_by_role("link", name="新建").click()
    page.get_by_role("heading", name="新建案件").wait_for()
    pick(page, "new-workflow", "应急演练")
    fill(page, "演练名称", DRILL_NAME)
    fill(page, "对应预案", "港口危险货物事故专项应急预案")
    pick(page, "new-drill-plan_kind", "专项应急预案")
    pick(page, "new-drill-drill_kind", "实战演练")
    pick(page, "new-drill-scenario", "港口突发事件")
    pick(page, "new-drill-owner_unit", "港航事业发展中心")
    fill(page, "计划周期", "2026年下半年")
    settle(page)
    page.get_by_role("button", name="发起").click()               # 计划日期 forgotten
    page.get_by_text("表单有误，请按提示修改后再提交。").wait_for()
    assert error_after(page, "new-drill-planned_date") == "error\n\n必填" or "必填" in error_after(
        page, "new-drill-planned_date")
    assert page.locator("[data-testid=stAlert]").count() == 2     # that field's message and the summary
    shot(page, "1-01-drill-new-form-date-missing")
    fill_date(page, "计划日期", days_ahead(13))
    settle(page)
    page.get_by_role("button", name="发起").click()
    page.wait_for_url(re.compile(r"/case\?id=YL-"))
    cid = page.url.split("id=")[1]
    page.get_by_role("heading", name=re.compile(re.escape(cid))).wait_for()
    assert header_state(page) == "计划"
    shot(page, "1-02-drill-started-case-page")

    act(page, cid, "开始编制方案")
    assert header_state(page) == "方案编制"

    def scheme():
        fill(page, "演练地点", "港区3号泊位")
        fill(page, "参演单位及人员", "港航事业发展中心、江海港务有限公司、消防救援大队，共约40人")
        fill(page, "方案要点", "模拟储罐泄漏，检验报警、疏散、堵漏和洗消处置。")
        scheme_file = tmp_path / "演练方案.docx"
        import docx

        document = docx.Document()
        document.add_paragraph(f"{DRILL_NAME}方案")
        document.save(str(scheme_file))
        upload(page, f"act-{cid}-submit_scheme-scheme_files", scheme_file)
    act(page, cid, "提交方案审批", scheme)
    assert header_state(page) == "方案审批"
    page.get_by_role("button", name="下载附件：演练方案.docx").wait_for()
    shot(page, "1-03-drill-scheme-submitted-with-attachment")
    sign_out(page)

    sign_in(page, office, "awb_head")                             # 王芳, the head, approves
    open_from_inbox(page, cid)
    act(page, cid, "批准方案并发通知", comment="同意，按方案组织。")
    assert header_state(page) == "演练通知"
    sign_out(page)

    sign_in(page, office, "awb_zhang")                            # the notice goes out: a Word document by Prefect
    open_from_inbox(page, cid)

    def notice():
        fill_date(page, "通知日期", days_ahead(6))
        fill(page, "集合时间地点及要求", "演练当日8:30在港区3号泊位集合，穿戴防护装备。")
    act(page, cid, "发出演练通知", notice)
    assert header_state(page) == "实施"
    button = page.get_by_role("button", name=re.compile(r"^下载 关于开展.*的通知（县交安〔\d{4}〕\d+号）\.docx$"))
    button.wait_for(timeout=120_000)                              # the documents section refreshes itself
    shot(page, "1-04-drill-notice-issued-download")
    with page.expect_download() as download:
        button.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert DRILL_NAME in docx_text(saved)

    page.locator(f".st-key-act-{cid}").get_by_text("登记演练实施", exact=True).click()
    settle(page)
    fill_date(page, "实施日期", days_ahead(13))
    fill(page, "参演人数", "0")                                   # not a head count
    fill(page, "实施情况", "按方案完成报警、疏散、堵漏、洗消四个科目。")
    settle(page)
    page.get_by_role("button", name="提交：登记演练实施").click()
    page.get_by_text("表单有误，请按提示修改后再提交。").wait_for()
    assert "应不小于 1" in error_after(page, f"act-{cid}-execute-participant_count")
    shot(page, "1-05-drill-execution-head-count-refused")
    fill(page, "参演人数", "42")
    settle(page)
    page.get_by_role("button", name="提交：登记演练实施").click()
    page.get_by_text("已提交「登记演练实施」。").wait_for()
    assert header_state(page) == "评估总结"
    sign_out(page)

    sign_in(page, office, "awb_head")                             # the evaluation finds nothing: 归档

    def evaluation():
        fill_date(page, "评估会日期", days_ahead(14))
        fill(page, "出席", "王芳、张伟、周静")
        fill(page, "评估结论", "演练达到预期目的，各环节衔接顺畅。")
        answer(page, f"act-{cid}-evaluate_ok-problems_found", "否")
    open_from_inbox(page, cid)
    act(page, cid, "评估总结（未发现问题，归档）", evaluation)
    assert header_state(page) == "已结案"
    page.get_by_role("button", name=re.compile(r"^下载 .*评估会议纪要")).wait_for(timeout=120_000)
    shot(page, "1-06-drill-archived")
    svc = office.service()
    try:
        case = svc.case(cid)
    finally:
        svc.close()
    assert case["status"] == "closed" and case["active"] == ["archived"]
    page.get_by_role("link", name="已办").click()                 # 王芳's 已办 lists it
    page.get_by_role("heading", name="已办").wait_for()
    assert cid in table_ids(page, "my-done-table")
    shot(page, "1-07-head-done-list")


# ------------------------------------------------------------------ 2. an accident: 一案三查, then 结案

def test_an_accident_waits_for_all_three_investigations_and_closes_on_the_four_principles(page, office):
    cid = office.cases["accident"]
    branches = {"enterprise": "查企业主体责任", "supervision": "查部门监管责任", "territorial": "查属地管理和领导责任"}

    def enterprise():
        fill(page, "企业主体责任调查结论", "企业未落实进站限速和人车分流制度。")
        answer(page, f"act-{cid}-finish_enterprise-enterprise_liable", "是")

    def supervision():
        fill(page, "部门监管责任调查结论", "运输管理科对站场日常检查不到位。")

    def territorial():
        fill(page, "属地管理和领导责任调查结论", "属地街道未督促整改站前交通秩序。")
    steps = [("gh_sun", "enterprise", "提交企业主体责任调查结论", enterprise),
             ("zf_feng", "supervision", "提交部门监管责任调查结论", supervision),
             ("jsk_head", "territorial", "提交属地管理和领导责任调查结论", territorial)]
    for i, (user, branch, action, form) in enumerate(steps, start=1):   # three people, one investigation each
        sign_in(page, office, user)
        open_from_inbox(page, cid)
        act(page, cid, action, form)
        state = header_state(page)
        waiting = [label for name, label in branches.items() if name not in [s[1] for s in steps[:i]]]
        if waiting:                                               # the others still run: no 调查报告 yet
            assert "调查报告" not in state and all(w in state for w in waiting), state
        else:
            assert state == "调查报告", state
        shot(page, f"2-0{i}-accident-{branch}-investigation-done" + ("-waiting" if waiting else "-joined"))
        sign_out(page)

    svc = office.service()                                        # report, approval, accountability, warning
    try:
        persons = [{"name": "王某", "role": "通达客运有限公司驾驶员", "measure": "行政处罚"}]
        svc.act(cid, "submit_report", "awb_zhang", {"cause": "驾驶员进站超速，站场人车混行。",
                                                    "lessons": "增设隔离护栏，进站限速。",
                                                    "report_summary": "一般道路运输事故。", "responsible_persons": persons})
        svc.act(cid, "approve_report", "fenguan")
        svc.act(cid, "decide_accountability", "awb_zhang", {"responsible_persons": persons, "wide_impact": False})
        svc.act(cid, "confirm_rectification", "awb_zhang", {"rectification": "增设隔离护栏，进站限速 5 公里。",
                                                            "education": "全员警示教育大会。"})
        svc.act(cid, "issue_warning", "awb_zhang")
        assert svc.case(cid)["active"] == ["closing"]
    finally:
        svc.close()

    sign_in(page, office, "juzhang")                              # 陈建国, 局长, closes the case
    open_from_inbox(page, cid)
    key = f"act-{cid}-close_case-four_principles"
    choose_many(page, key, ["事故原因已查清", "责任人员已处理", "整改措施已落实"])
    act(page, cid, "结案", done=False)
    page.get_by_text("四不放过四项须全部确认后方可结案").wait_for()
    assert header_state(page) == "结案审核"
    shot(page, "2-04-accident-closing-refused-three-of-four")
    choose_many(page, key, ["有关人员已受到教育"])
    page.get_by_role("button", name="提交：结案").click()
    page.get_by_text("已提交「结案」。").wait_for()
    assert header_state(page) == "已结案"
    shot(page, "2-05-accident-closed")
    page.get_by_role("link", name="全部案件").click()             # the director sees every workflow's cases
    page.get_by_role("heading", name="全部案件").wait_for()
    assert cid in table_ids(page, "cases-table")
    shot(page, "2-06-director-all-cases")


# ------------------------------------------------------------------ 3. who may not act, who may not see

def test_no_action_without_the_role_and_no_case_of_another_enterprise(page, office):
    from flows.core.errors import NotPermitted

    cid = office.cases["no_role"]                                 # 刘洋's own drill, waiting for a head
    sign_in(page, office, "ygk_liu")
    open_case(page, office, cid)
    assert header_state(page) == "方案审批"
    page.get_by_text("本案当前没有需要您办理的环节。").wait_for()
    assert page.get_by_role("button", name=re.compile("^提交：")).count() == 0
    assert page.locator(f".st-key-act-{cid}").count() == 0
    shot(page, "3-01-drill-no-action-for-a-clerk-at-approval")
    svc = office.service()
    try:
        with pytest.raises(NotPermitted):
            svc.act(cid, "approve_scheme", "ygk_liu")
        assert svc.case(cid)["active"] == ["scheme_approval"]
    finally:
        svc.close()
    sign_out(page)

    lead = office.cases["blacklist"]                              # a lead against 江海港务
    sign_in(page, office, "qy_han")                               # 通达客运's contact
    open_url = f"{office.url}/case?id={lead}"
    page.goto(open_url)
    page.get_by_text("无权查看该案件。").wait_for()
    assert page.get_by_role("heading", name=re.compile(re.escape(lead))).count() == 0
    shot(page, "3-02-enterprise-contact-refused-another-enterprises-case")
    sign_out(page)
    sign_in(page, office, "qy_yang")                              # 江海港务's own contact sees it
    open_case(page, office, lead)
    assert page.get_by_text("无权查看该案件。").count() == 0
    shot(page, "3-03-enterprise-contact-sees-own-enterprises-case")


# ------------------------------------------------------------------ 4. 退回, 转办, 撤回

def history_cells(page) -> list[str]:
    history = page.locator("[data-testid=stExpander]", has_text="办理记录")
    if not history.locator("[data-testid=stTable]").is_visible():
        history.get_by_text("办理记录").click()
    history.locator("[data-testid=stTable]").wait_for()
    settle(page)
    return history.locator("td").all_inner_texts()


def test_return_transfer_and_withdraw(page, office):
    cid = office.cases["returned"]                                # 张伟's drill at 方案审批
    reason = "方案未划定警戒区域，请补充后再报。"
    sign_in(page, office, "awb_head")
    open_from_inbox(page, cid)
    act(page, cid, "退回修改方案", done=False)                      # no reason given
    assert "请填写理由" in error_after(page, f"act-{cid}-return_scheme-comment")
    act(page, cid, "退回修改方案", comment=reason)
    assert header_state(page) == "方案编制"
    cells = history_cells(page)
    assert "退回：退回修改方案" in cells and reason in cells, cells
    shot(page, "4-01-drill-returned-with-reason-in-history")
    sign_out(page)

    sign_in(page, office, "awb_zhang")                            # back in the earlier holder's 待办
    assert cid in inbox_ids(page)
    shot(page, "4-02-returned-drill-back-in-clerks-inbox")
    page.get_by_role("link", name=re.compile("^消息")).click()     # and a 待办提醒 says so
    page.get_by_role("heading", name="消息").wait_for()
    page.get_by_text(re.compile(f"打开案件 {cid}")).first.wait_for()
    shot(page, "4-03-clerks-messages")
    open_case(page, office, cid)
    other = page.locator("[data-testid=stExpander]", has_text="其他操作")
    other.get_by_text("其他操作").click()
    pick(page, f"transfer-to-{cid}", "刘洋（运输管理科）")
    fill(page, "转办说明", "请运输管理科补充警戒区域。")
    settle(page)
    other.get_by_role("button", name="转办", exact=True).click()
    page.get_by_text("已转办给刘洋（运输管理科）。").wait_for()
    assert "刘洋" in page.get_by_text(re.compile("^待办人：")).inner_text()
    shot(page, "4-04-drill-transferred-to-colleague")
    assert cid not in inbox_ids(page)
    sign_out(page)

    sign_in(page, office, "ygk_liu")                              # the colleague has it, submits, takes it back
    open_from_inbox(page, cid)
    act(page, cid, "提交方案审批", lambda: fill(page, "方案要点", "划定 200 米警戒区域，设三处疏散集结点。"))
    assert header_state(page) == "方案审批"
    other = page.locator("[data-testid=stExpander]", has_text="其他操作")
    other.get_by_text("其他操作").click()
    settle(page)
    press(page, other.get_by_role("button", name="撤回「提交方案审批」"), "已撤回。")
    assert header_state(page) == "方案编制"
    assert cid in inbox_ids(page)
    open_case(page, office, cid)
    assert any(c.startswith("撤回") for c in history_cells(page))
    shot(page, "4-05-drill-withdrawn-back-to-drafting")


# ------------------------------------------------------------------ 5. wrong passwords lock the account

def test_five_wrong_passwords_lock_the_account(page, office):
    page.goto(office.url)
    page.get_by_role("heading", name="登录").wait_for()
    for attempt in range(1, 6):
        page.get_by_label("账号").fill("jsk_wu")
        page.get_by_label("密码").fill(f"wrong-{attempt}")
        run(page, page.get_by_role("button", name="登录").click)
        expected = "用户名或密码错误" if attempt < 5 else "密码连续错误 5 次，账号已锁定 15 分钟"
        page.locator("[data-testid=stAlert]", has_text=expected).wait_for()
    shot(page, "5-01-sign-in-fifth-wrong-password-locks")
    page.get_by_label("账号").fill("jsk_wu")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.locator("[data-testid=stAlert]", has_text=re.compile(r"^账号已锁定，请于 \d\d:\d\d 之后再试")).wait_for()
    assert page.get_by_role("heading", name="待办").count() == 0
    shot(page, "5-02-sign-in-right-password-still-locked")
