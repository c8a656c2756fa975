"""The four shipped workflows, driven end to end through the service: happy paths and every branch."""
from __future__ import annotations

from datetime import datetime

import pytest

from flows.core.errors import GuardFailed, InvalidForm, NotPermitted

ACCIDENT = {"occurred_at": "2025-03-01T08:30", "place": "X354线大豫段", "accident_type": "道路运输",
            "deaths": 3, "serious_injuries": 2, "direct_loss": 180.5,
            "description": "重型半挂车与小客车相撞 <夜间> & 雨天",
            "enterprise": {"name": "通达客运有限公司", "credit_code": "91320600MA1MXK3P27"}}
FILING = {"supervised": True, "team": [{"name": "王芳", "unit": "局安委办", "duty": "组长"}],
          "enterprise_investigator": "ygk_liu", "supervision_investigator": "gh_sun",
          "territorial_investigator": "zf_feng"}
FOUR = ["事故原因已查清", "责任人员已处理", "整改措施已落实", "有关人员已受到教育"]


def docs(case):
    return [d["template"] for d in case["documents"]]


def test_accident_happy_path_with_parallel_join_linked_blacklist_and_four_principles(service, clock):
    with pytest.raises(InvalidForm, match="未知字段：level"):  # a typed level is refused (issue 9)
        service.start("accident", "awb_zhang", {**ACCIDENT, "level": "一般"})
    case = service.start("accident", "awb_zhang", ACCIDENT)
    assert case["data"]["level"] == "较大"  # derived from 3 deaths
    cid = case["id"]
    with pytest.raises(GuardFailed, match="不同的人"):
        service.act(cid, "file_case", "awb_zhang", {**FILING, "supervision_investigator": "ygk_liu"})
    case = service.act(cid, "file_case", "awb_zhang", FILING)
    assert sorted(case["active"]) == ["enterprise_inv", "supervision_inv", "territorial_inv"]
    # each investigation belongs to its own person
    with pytest.raises(NotPermitted):
        service.act(cid, "finish_supervision", "ygk_liu", {"supervision_findings": "x"})
    assert any(t["case_id"] == cid for t in service.inbox("gh_sun"))
    clock.advance(days=5)
    service.act(cid, "finish_supervision", "gh_sun", {"supervision_findings": "监管检查流于形式"})
    service.act(cid, "finish_enterprise", "ygk_liu", {"enterprise_findings": "动态监控装而不用",
                                                      "enterprise_liable": True})
    case = service.case(cid)
    assert "reporting" not in case["active"]  # the join waits for the third
    case = service.act(cid, "finish_territorial", "zf_feng", {"territorial_findings": "网格化管理有盲区"})
    assert case["active"] == ["reporting"]
    persons = [{"name": "钱某", "role": "安全经理", "measure": "行政处罚"}]
    case = service.act(cid, "submit_report", "awb_zhang", {"cause": "疲劳驾驶", "report_summary": "责任事故",
                                                          "lessons": "落实防范措施。",
                                                          "responsible_persons": persons})
    case = service.act(cid, "return_report", "juzhang", comment="原因分析不够深入")
    assert case["active"] == ["reporting"]
    service.act(cid, "submit_report", "awb_zhang", {"cause": "疲劳驾驶、超速", "report_summary": "责任事故",
                                                    "lessons": "落实防范措施。",
                                                    "responsible_persons": persons})
    case = service.act(cid, "approve_report", "juzhang")
    assert docs(case) == ["accident_report"] and case["documents"][0]["number"].startswith("县交调〔2025〕")
    case = service.act(cid, "decide_accountability", "awb_zhang", {
        "responsible_persons": [{"name": "钱某", "role": "安全经理", "measure": "行政处罚"}], "wide_impact": False})
    (link,) = case["links"]
    linked = service.case(link["case_id"])
    assert linked["workflow"] == "blacklist" and linked["data"]["source_case"] == cid
    assert linked["data"]["reason"] == "发生有较大社会影响的生产安全事故"
    assert linked["links"][0]["case_id"] == cid
    service.act(cid, "confirm_rectification", "awb_zhang", {"rectification": "已整改", "education": "已教育"})
    case = service.act(cid, "issue_warning_supervised", "awb_zhang")
    assert case["active"] == ["disclosure"] and "accident_warning" in docs(case)
    service.act(cid, "disclose", "awb_zhang", {"disclosure_date": "2025-04-01", "disclosure_channel": "政府网站"})
    with pytest.raises(GuardFailed, match="四不放过"):
        service.act(cid, "close_case", "juzhang", {"four_principles": FOUR[:3]})
    case = service.act(cid, "close_case", "juzhang", {"four_principles": FOUR})
    assert case["status"] == "closed" and case["active"] == ["closed"]
    assert all(t["case_id"] != cid for t in service.inbox("awb_zhang"))  # nothing of it left to do


def _accident_to_warning(service, supervised):
    cid = service.start("accident", "awb_zhang", {**ACCIDENT, "deaths": 0, "direct_loss": 10,
                                                  "enterprise": None})["id"]
    service.act(cid, "file_case", "awb_zhang", {**FILING, "supervised": supervised})
    service.act(cid, "finish_enterprise", "ygk_liu", {"enterprise_findings": "a", "enterprise_liable": True})
    service.act(cid, "finish_supervision", "gh_sun", {"supervision_findings": "b"})
    service.act(cid, "finish_territorial", "zf_feng", {"territorial_findings": "c"})
    service.act(cid, "submit_report", "awb_zhang", {"cause": "c", "report_summary": "s", "lessons": "l",
                                                    "responsible_persons": [{"name": "李某", "role": "驾驶员",
                                                                             "measure": "移送司法机关"}]})
    service.act(cid, "approve_report", "fenguan")
    case = service.act(cid, "decide_accountability", "awb_zhang",
                       {"responsible_persons": [{"name": "李某", "role": "驾驶员", "measure": "移送司法机关"}]})
    assert case["links"] == []  # 一般 accident, no wide impact: no blacklist case
    service.act(cid, "confirm_rectification", "awb_zhang", {"rectification": "r", "education": "e"})
    return cid


def test_accident_not_supervised_skips_disclosure(service):
    cid = _accident_to_warning(service, supervised=False)
    with pytest.raises(GuardFailed):
        service.act(cid, "issue_warning_supervised", "awb_zhang")
    case = service.act(cid, "issue_warning", "awb_zhang")
    assert case["active"] == ["closing"]


def test_accident_deadline_60_days_extension_once_and_escalation(service, clock):
    case = service.start("accident", "awb_zhang", ACCIDENT)
    cid = case["id"]
    (d,) = case["deadlines"]
    assert d["due"].startswith("2025-04-30")  # 60 days after 1 March
    service.act(cid, "file_case", "awb_zhang", FILING)
    case = service.act(cid, "extend_deadline", "fenguan", comment="案情复杂，需技术鉴定")
    assert case["deadlines"][0]["due"].startswith("2025-06-29")
    with pytest.raises(GuardFailed, match="最多延期 1 次"):
        service.act(cid, "extend_deadline", "fenguan", comment="再延")
    clock.now = datetime(2025, 7, 1, 9)
    first = service.sweep()
    assert [r["event"] for r in first] == ["escalated"]
    assert service.sweep() == []  # idempotent
    event = service.history(cid)[-1]
    assert event["type"] == "escalated" and "分管领导" in event["notify"]


def test_blacklist_bad_credit_code_is_refused(service):
    with pytest.raises(InvalidForm) as exc:
        service.start("blacklist", "awb_zhang", {"enterprise": {"name": "某公司", "credit_code": "91320600MA1MXK3P28"},
                                                 "reason": "严重违法违规行为", "facts": "x"})
    assert "enterprise.credit_code" in exc.value.errors


BLACKLIST = {"enterprise": {"name": "江海港务有限公司", "credit_code": "91320600MA1NY7QH42"},
             "reason": "重大隐患整改不力", "facts": "逾期未整改 <重大隐患> & 拒不配合"}


def _notified(service):
    cid = service.start("blacklist", "awb_zhang", BLACKLIST)["id"]
    service.act(cid, "verify", "awb_zhang")
    case = service.act(cid, "notify", "awb_zhang", {"investigation_findings": "属实", "legal_basis": "安全生产法"})
    assert docs(case) == ["blacklist_prior_notice"]
    return cid


def test_blacklist_no_defense_then_publicity_ends_by_itself_then_term_review(service, clock):
    cid = _notified(service)
    case = service.case(cid)
    (d,) = [x for x in case["deadlines"] if x["timer"] == "defense_period"]
    # notified Monday 2025-03-03: 5 working days → end of Monday 2025-03-10
    assert d["due"].startswith("2025-03-10")
    clock.now = datetime(2025, 3, 10, 12)
    assert service.sweep() == []
    clock.now = datetime(2025, 3, 11, 9)
    assert [r["event"] for r in service.sweep()] == ["timer"]
    case = service.case(cid)
    assert case["active"] == ["deciding"]
    case = service.act(cid, "decide", "fenguan", {"decision_date": "2025-03-12", "measures": ["在信用平台公开"]})
    assert docs(case)[-2:] == ["blacklist_decision", "blacklist_publicity"]
    clock.now = datetime(2025, 4, 1, 9)
    service.sweep()
    case = service.case(cid)
    assert case["active"] == ["listed"]
    with pytest.raises(GuardFailed, match="最短期限"):
        service.act(cid, "apply_repair", "qy_yang", {"repair_reason": "已整改"})
    clock.now = datetime(2026, 4, 2, 9)
    service.act(cid, "apply_repair", "qy_yang", {"repair_reason": "已整改"})
    case = service.act(cid, "refuse_repair", "fenguan", comment="整改不彻底")
    assert case["active"] == ["listed"]
    (term,) = [x for x in case["deadlines"] if x["timer"] == "listing_term"]
    assert term["due"].startswith("2028-03-")  # the term kept running through the repair attempt
    clock.now = datetime(2028, 4, 1, 9)
    service.sweep()
    case = service.case(cid)
    assert case["active"] == ["term_review"]
    case = service.act(cid, "remove_on_term", "awb_head", {"term_review_opinion": "期满无新失信行为"})
    assert case["status"] == "closed" and case["active"] == ["removed"]


def test_blacklist_defense_accepted_dismisses(service):
    cid = _notified(service)
    service.act(cid, "record_defense", "qy_yang", {"defense_date": "2025-03-04", "defense_text": "已整改完毕"})
    with pytest.raises(GuardFailed):
        service.act(cid, "review_defense", "awb_head", {"defense_accepted": True, "review_opinion": "成立"})
    case = service.act(cid, "accept_defense", "awb_head", {"defense_accepted": True, "review_opinion": "成立"})
    assert case["active"] == ["dismissed"] and case["status"] == "closed"


def test_blacklist_only_the_listed_enterprises_contact_may_answer(service):
    """江海港务's case: its own contact answers; 通达客运's contact neither sees it nor may act on it."""
    cid = _notified(service)
    assert not any(t["case_id"] == cid for t in service.inbox("qy_han"))
    assert any(t["case_id"] == cid and "record_defense" in t["actions"] for t in service.inbox("qy_yang"))
    with pytest.raises(NotPermitted, match="企业联系人（江海港务有限公司）"):
        service.act(cid, "record_defense", "qy_han", {"defense_date": "2025-03-04", "defense_text": "冒名申辩"})
    case = service.act(cid, "record_defense", "qy_yang", {"defense_date": "2025-03-04", "defense_text": "已整改"})
    assert case["active"] == ["defense_review"]
    reminded = {p for e in case["effects"] if e["type"] == "notify" for p in e.get("delivered", [])}
    assert "qy_yang" in reminded and "qy_han" not in reminded


def test_blacklist_reject_needs_reason(service):
    cid = service.start("blacklist", "awb_zhang", BLACKLIST)["id"]
    with pytest.raises(InvalidForm):
        service.act(cid, "dismiss_lead", "awb_head")
    assert service.act(cid, "dismiss_lead", "awb_head", comment="证据不足")["active"] == ["dismissed"]


DRILL = {"drill_name": "客运站疏散演练", "plan_name": "客运站场人员疏散现场处置方案", "plan_kind": "现场处置方案",
         "drill_kind": "实战演练", "scenario": "客运站场疏散", "planned_date": "2025-04-15", "owner_unit": "运输管理科"}
SCHEME = {"location": "县客运总站", "participants": "运输管理科、公交公司", "scheme_summary": "模拟火情疏散"}
EVAL = {"evaluation_date": "2025-04-20", "attendees": "王芳、赵敏", "evaluation": "总体有序"}


def test_drill_with_notice_and_problems_goes_through_rectification(service):
    cid = service.start("drill", "awb_zhang", DRILL)["id"]
    service.act(cid, "begin_scheme", "awb_zhang")
    service.act(cid, "submit_scheme", "awb_zhang", SCHEME)
    with pytest.raises(GuardFailed):
        service.act(cid, "approve_scheme_blind", "awb_head")
    service.act(cid, "approve_scheme", "awb_head")
    case = service.act(cid, "send_notice", "awb_zhang", {"notice_date": "2025-04-01", "assembly": "8:30集合"})
    assert docs(case) == ["drill_notice"]
    service.act(cid, "execute", "awb_zhang", {"executed_date": "2025-04-15", "participant_count": 60,
                                              "execution_summary": "完成"})
    with pytest.raises(InvalidForm) as exc:  # problems table is shown and required once problems are found
        service.act(cid, "evaluate_with_problems", "awb_head", {**EVAL, "problems_found": True, "problems": []})
    assert "problems" in exc.value.errors
    case = service.act(cid, "evaluate_with_problems", "awb_head", {
        **EVAL, "problems_found": True, "problems": [{"problem": "广播盲区", "measure": "加装广播", "owner": "公交公司"}]})
    assert case["active"] == ["rectifying"] and "drill_evaluation_minutes" in docs(case)
    case = service.act(cid, "confirm_rectification", "awb_head", {"rectification": "已加装"})
    assert case["active"] == ["archived"]


def test_double_blind_drill_skips_notice_and_no_problems_archives(service):
    cid = service.start("drill", "awb_zhang", {**DRILL, "drill_kind": "双盲拉练"})["id"]
    service.act(cid, "begin_scheme", "awb_zhang")
    service.act(cid, "submit_scheme", "awb_zhang", SCHEME)
    with pytest.raises(GuardFailed, match="双盲"):
        service.act(cid, "approve_scheme", "awb_head")
    case = service.act(cid, "approve_scheme_blind", "awb_head")
    assert case["active"] == ["executing"]
    service.act(cid, "execute", "awb_zhang", {"executed_date": "2025-04-15", "participant_count": 30,
                                              "execution_summary": "突击拉练"})
    case = service.act(cid, "evaluate_ok", "awb_head", {**EVAL, "problems_found": False})
    assert case["active"] == ["archived"] and "notifying" not in [e.get("to", [None])[0] for e in
                                                                  service.history(cid)]


def test_drill_past_planned_date_without_execution_is_chased(service, clock):
    cid = service.start("drill", "awb_zhang", {**DRILL, "planned_date": "2025-03-20"})["id"]
    service.act(cid, "begin_scheme", "awb_zhang")
    clock.now = datetime(2025, 3, 21, 9)
    assert [r["event"] for r in service.sweep()] == ["escalated"]
    assert service.sweep() == []


PLAN = {"plan_name": "内河水上搜救专项应急预案", "plan_kind": "专项应急预案", "owner_unit": "港航事业发展中心",
        "plan_version": "2021版", "revision_reason": "定期评估", "scenario": "内河水上搜救"}
REVIEW = {"review_date": "2025-03-20", "review_place": "局三楼会议室",
          "experts": [{"name": "蒋教授", "title": "教授", "unit": "南通大学"}],
          "attendees": "蒋教授、王芳", "review_conclusion": "结构完整"}
HEADS = ["ygk_head", "gh_head", "jsk_head", "zf_head"]


def test_plan_assessed_as_fine_ends_without_revision(service):
    cid = service.start("plan_revision", "awb_zhang", PLAN)["id"]
    service.act(cid, "begin_assessment", "awb_zhang")
    service.register_put("plans", PLAN["plan_name"], {"name": PLAN["plan_name"], "published": "2022-03-01",
                                                      "next_assessment": "2025-03-01"})
    case = service.act(cid, "assess_keep", "awb_head", {"assessment_result": "适用", "needs_revision": False})
    assert case["active"] == ["no_revision"] and case["status"] == "closed"
    (row,) = [r for r in service.register("plans") if r["key"] == PLAN["plan_name"]]
    assert row["last_assessed"] == "2025-03-03" and row["next_assessment"] == "2028-03-03"   # 3 years on
    assert row["published"] == "2022-03-01"                                                 # the rest kept


def test_plan_revision_countersign_expert_return_publish_register_and_filing_deadline(service, clock):
    cid = service.start("plan_revision", "awb_zhang", PLAN)["id"]
    service.act(cid, "begin_assessment", "awb_zhang")
    service.act(cid, "assess_revise", "awb_head", {"assessment_result": "需修订", "needs_revision": True})
    for round_ in range(2):
        service.act(cid, "submit_draft", "awb_zhang", {"draft_summary": f"第{round_ + 1}稿"})
        for head in HEADS[:-1]:
            case = service.act(cid, "give_opinion", head, {"opinion": "同意"})
            assert case["active"] == ["consulting"]
        with pytest.raises(NotPermitted):
            service.act(cid, "give_opinion", "ygk_head", {"opinion": "再次"})
        case = service.act(cid, "give_opinion", HEADS[-1], {"opinion": "同意"})
        assert case["active"] == ["expert_reviewing"]
        if round_ == 0:
            case = service.act(cid, "expert_fail", "awb_zhang", {**REVIEW, "review_passed": False},
                               comment="专家认为响应分级不合理")
            assert case["active"] == ["drafting"] and docs(case) == ["expert_review_minutes"]
    case = service.act(cid, "expert_pass", "awb_zhang", {**REVIEW, "review_passed": True})
    assert [d["number"] for d in case["documents"]] == ["第1期", "第2期"]
    service.act(cid, "approve", "fenguan")
    case = service.act(cid, "publish", "awb_zhang", {"publish_date": "2025-03-28", "new_version": "2025版"})
    assert case["documents"][-1]["template"] == "plan_publish_notice"
    assert case["documents"][-1]["number"] == "县交安〔2025〕1号"
    (row,) = service.register("plans")
    assert row["version"] == "2025版" and row["next_assessment"] == "2028-03-28" and row["kind"] == "专项应急预案"
    (due,) = [d for d in case["deadlines"] if d["timer"] == "filing_due"]
    assert due["status"] == "pending"
    clock.now = datetime(2025, 6, 1, 9)
    assert [r["event"] for r in service.sweep()] == ["escalated"]
    case = service.act(cid, "file_plan", "awb_zhang", {"filed_date": "2025-06-02", "filing_agency": "市交通运输局"})
    assert case["status"] == "closed"


def test_document_numbers_are_sequential_per_issuer_and_year(service):
    numbers = []
    for _ in range(3):
        cid = _notified(service)
        numbers.append(service.case(cid)["documents"][0]["number"])
    assert numbers == ["县交信告〔2025〕1号", "县交信告〔2025〕2号", "县交信告〔2025〕3号"]


def test_the_countersigns_signers_and_answers_reach_the_documents_context(service):
    cid = service.start("plan_revision", "awb_zhang", PLAN)["id"]
    service.act(cid, "begin_assessment", "awb_zhang")
    service.act(cid, "assess_revise", "awb_head", {"assessment_result": "需修订", "needs_revision": True})
    service.act(cid, "submit_draft", "awb_zhang", {"draft_summary": "第1稿"})
    for head, opinion in zip(HEADS, ["同意", "同意", "建议补充通讯保障", "同意"], strict=True):
        service.act(cid, "give_opinion", head, {"opinion": opinion}, comment="已阅" if head == "gh_head" else None)
    case = service.act(cid, "expert_pass", "awb_zhang", {**REVIEW, "review_passed": True})
    spec = service.config.documents.spec("expert_review_minutes")
    context = service.effects.context(case, "expert_review_minutes", spec, "第1期", datetime(2025, 3, 20, 9))
    signed = context["signatures"]["give_opinion"]
    assert signed["names"] == ["赵敏", "周静", "郑丽", "陈晓"]
    assert signed["opinion"] == ["同意", "同意", "建议补充通讯保障", "同意"] and signed["comments"][1] == "已阅"
    assert [s["name"] + "：" + s["opinion"] for s in signed["signers"]][2] == "郑丽：建议补充通讯保障"
