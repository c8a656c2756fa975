"""What the documents say, read as the office's secretary reads them (issue 14, content): each kind rendered
from a realistic case (most through the real service, as issued) and its text read back with python-docx."""
from __future__ import annotations

import copy
import json
import re
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest

from flows.core.errors import GuardFailed, InvalidForm
from flows.documents import filters
from flows.documents.rendering import render
from flows.jobs import drill_plan
from tests.documents.conftest import W, open_docx, squeeze
from tests.documents.doc_samples import ENTERPRISE, contexts

CN_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")


def cn(d: date | str) -> str:
    return filters.cn_date(d if isinstance(d, str) else d.isoformat())


def parse_cn(text: str) -> date:
    y, m, d = CN_DATE.fullmatch(text).groups()
    return date(int(y), int(m), int(d))


def body_paragraphs(document) -> list[tuple[str, str]]:
    """(style, text) of each paragraph of the body outside tables, in order."""
    out = []
    for el in document.element.body.iterchildren():
        if el.tag == W + "p":
            text = "".join(t.text or "" for t in el.iter(W + "t"))
            style = el.find(f"{W}pPr/{W}pStyle")
            if text.strip():
                out.append((style.get(W + "val") if style is not None else "Normal", text))
    return out


def table_rows(document) -> list[list[str]]:
    return [[c.text for c in row.cells] for t in document.tables for row in t.rows]


def text_of(data: bytes) -> str:
    document = open_docx(data)
    return "\n".join(t for _, t in body_paragraphs(document)) + "\n" + \
        "\n".join("|".join(r) for r in table_rows(document))


def issued(svc, cid: str, template: str) -> tuple[bytes, dict]:
    """The last `template` document the case issued: its file and its record."""
    record = [d for d in svc.case(cid)["documents"] if d["template"] == template][-1]
    return svc.store.file_path(record["file"]).read_bytes(), record


# ------------------------------------------------------------------ 1. 决定 and 2. 公示

BLACKLIST = {"enterprise": {"name": "江海港务有限公司", "credit_code": "91320600MA1NY7QH42"},
             "reason": "严重违法违规行为",
             "facts": "江海港务有限公司在未取得港口危险货物作业附证的情况下从事危险货物装卸作业3次"}
NOTIFY = {"investigation_findings": "上述事实有询问笔录和作业单证为证",
          "legal_basis": "《中华人民共和国港口法》第四十八条；《安全生产严重失信主体名单管理办法》第五条。"}
DECIDE = {"measures": ["列为重点监管对象并提高检查频次", "在信用平台公开"]}


def _deciding(service, clock, how: str, at: datetime | None = None) -> str:
    """A blacklist case brought to 审核决定 the way `how` says, and decided at `at` (else the next day)."""
    if at is not None:
        clock.now = at - timedelta(days=12)
    cid = service.start("blacklist", "awb_zhang", BLACKLIST)["id"]
    service.act(cid, "verify", "awb_zhang")
    clock.advance(days=1)
    service.act(cid, "notify", "awb_zhang", NOTIFY)
    clock.advance(days=2)
    if how == "responded":
        service.act(cid, "record_defense", "qy_yang", {"defense_date": clock.now.date().isoformat(),
                                                        "defense_text": "相关作业为应急转运，事后已补办手续。"})
        clock.advance(days=1)
        service.act(cid, "review_defense", "awb_head", {"defense_accepted": False,
                                                         "review_opinion": "当事作业不属于应急转运，申辩理由不成立。"})
    elif how == "waived":
        service.act(cid, "waive_defense", "awb_zhang", {"waiver_date": clock.now.date().isoformat()},
                    comment="企业提交了书面放弃陈述申辩的说明")
    else:  # nothing came in: the period runs out by itself
        (d,) = [x for x in service.case(cid)["deadlines"] if x["timer"] == "defense_period"]
        clock.now = datetime.fromisoformat(d["due"]) + timedelta(hours=10)
        service.sweep()
    assert service.case(cid)["active"] == ["deciding"]
    clock.now = at or clock.now + timedelta(days=1)
    service.act(cid, "decide", "fenguan", {**DECIDE, "decision_date": clock.now.date().isoformat()})
    return cid


OUTCOMES = {
    "responded": ("提出陈述申辩", "提出了陈述、申辩意见。经复核，当事作业不属于应急转运，申辩理由不成立。"),
    "waived": ("书面放弃陈述申辩", "书面表示放弃陈述、申辩的权利。"),
    "lapsed": ("期满未提出陈述申辩", "你单位在规定期限内未提出陈述、申辩意见。"),
}


@pytest.mark.parametrize("how", list(OUTCOMES))
def test_decision_cites_the_prior_notice_the_listing_term_and_the_defense_as_it_happened(service, clock, how):
    cid = _deciding(service, clock, how)
    case = service.case(cid)
    outcome, sentence = OUTCOMES[how]
    assert case["data"]["defense_outcome"] == outcome          # the case carries which of the three it was
    content, _ = issued(service, cid, "blacklist_decision")
    text = squeeze(text_of(content))
    _, notice = issued(service, cid, "blacklist_prior_notice")
    assert f"本机关于{cn(notice['issued_at'][:10])}作出《安全生产失信行为事先告知书》（{notice['number']}）" in text
    assert squeeze(sentence) in text
    if how != "lapsed":
        assert "未提出" not in text
    if how == "responded":
        assert f"你单位于{cn(case['data']['defense_date'])}提出" in text
    if how == "waived":
        assert f"你单位于{cn(case['data']['waiver_date'])}书面表示放弃" in text
    # listed from the day after the 公示期 ends, for 3 years (both ends counted)
    (publicity,) = [d for d in case["deadlines"] if d["timer"] == "publicity_period"]
    first = date.fromisoformat(publicity["due"][:10]) + timedelta(days=1)
    last = first.replace(year=first.year + 3) - timedelta(days=1)
    assert f"列入期限为3年（自{cn(first)}起至{cn(last)}止）" in text
    # the bases joined as Chinese joins them, the reason without "…行为的失信行为"
    assert "依据《中华人民共和国港口法》第四十八条和《安全生产严重失信主体名单管理办法》第五条，本机关决定" in text
    assert "你单位存在严重违法违规行为，主要事实如下：" in text
    assert "；《" not in text and "行为的失信行为" not in text


def test_the_defense_outcome_is_a_computed_field_and_a_waiver_is_confirmed(service, clock, config):
    wf = config.workflows["blacklist"]
    (computed,) = [c for c in wf.computed if c.name == "defense_outcome"]
    assert computed.label == "陈述申辩情况"
    assert [f.label for f in wf.forms["waiver"].fields] == ["企业已书面放弃陈述申辩", "收到书面放弃材料日期", "书面放弃材料"]
    cid = service.start("blacklist", "awb_zhang", BLACKLIST)["id"]
    service.act(cid, "verify", "awb_zhang")
    case = service.act(cid, "notify", "awb_zhang", NOTIFY)
    assert case["data"].get("defense_outcome") is None          # not known while the period runs
    with pytest.raises(GuardFailed, match="书面放弃"):
        service.act(cid, "waive_defense", "awb_zhang", {"defense_waived": False}, comment="企业口头表示不申辩")
    assert service.case(cid)["active"] == ["notified"]
    case = service.act(cid, "waive_defense", "awb_zhang", comment="企业书面放弃")  # the confirmation is ticked
    assert case["data"]["defense_waived"] is True and case["active"] == ["deciding"]


@pytest.mark.parametrize("at", [
    datetime(2025, 3, 5, 10),    # a Wednesday
    datetime(2025, 4, 30, 10),   # before 劳动节 (1–5 May off)
    datetime(2025, 9, 30, 10),   # before 国庆 and 中秋 (1–8 October off, Saturday 11 October worked)
    datetime(2026, 2, 13, 10),   # a Friday before 春节
], ids=["plain-week", "labour-day", "national-day", "spring-festival"])
def test_the_publicity_period_counts_exactly_its_working_days(service, clock, config, at):
    cid = _deciding(service, clock, "waived", at=at)
    content, record = issued(service, cid, "blacklist_publicity")
    text = squeeze(text_of(content))
    found = re.search(r"公示期为(\d+)个工作日（(\d{4}年\d{1,2}月\d{1,2}日)至(\d{4}年\d{1,2}月\d{1,2}日)）", text)
    assert found, text
    days, start, end = int(found[1]), parse_cn(found[2]), parse_cn(found[3])
    calendar = config.calendar
    assert days == config.workflows["blacklist"].settings["publicity_days"] == 7
    counted = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    assert sum(calendar.is_workday(d) for d in counted) == days            # both ends included
    assert calendar.is_workday(start) and calendar.is_workday(end)
    assert start == calendar.add_workdays(at.date(), 1)                    # from the first working day after issue
    (publicity,) = [d for d in service.case(cid)["deadlines"] if d["timer"] == "publicity_period"]
    assert end.isoformat() == publicity["due"][:10]                        # ends when the timer lists the case
    assert record["issued_at"][:10] == at.date().isoformat()


# ------------------------------------------------------------------ 3. 调查报告

ACCIDENT = {"occurred_at": "2025-03-01T14:30", "place": "通吕运河大桥施工区", "accident_type": "工程建设", "deaths": 3,
            "serious_injuries": 2, "direct_loss": 860,
            "description": "通吕运河大桥主桥现浇箱梁浇筑过程中模板支架局部失稳坍塌，造成5名作业人员坠落",
            "enterprise": {"name": "通达客运有限公司", "credit_code": "91320600MA1MXK3P27"}}
FILING = {"supervised": True, "team": [{"name": "王芳", "unit": "局安委办", "duty": "组长"},
                                       {"name": "郑丽", "unit": "建设管理科"}],   # no 职责: an empty cell
          "enterprise_investigator": "ygk_liu", "supervision_investigator": "gh_sun",
          "territorial_investigator": "zf_feng"}
REPORT = {"cause": "支架地基未按专项施工方案处理，立杆间距超出设计要求，导致支架局部失稳坍塌",
          "report_summary": "经调查认定，该起事故是一起较大工程建设生产安全责任事故",
          "lessons": "各在建交通工程项目要严格执行危险性较大分部分项工程专项施工方案\n支架搭设后须经预压验收合格方可浇筑",
          "responsible_persons": [{"name": "周某某", "role": "项目经理", "measure": "移送司法机关"}]}


def _to_report(service) -> str:
    cid = service.start("accident", "awb_zhang", ACCIDENT)["id"]
    service.act(cid, "file_case", "awb_zhang", FILING)
    service.act(cid, "finish_enterprise", "ygk_liu", {"enterprise_findings": "施工单位未组织支架预压验收",
                                                      "enterprise_liable": True})
    service.act(cid, "finish_supervision", "gh_sun", {"supervision_findings": "对危大工程监督检查不到位"})
    service.act(cid, "finish_territorial", "zf_feng", {"territorial_findings": "网格化巡查未覆盖夜间施工"})
    return cid


def test_the_issued_accident_report_has_every_section_filled_and_no_none(service):
    cid = _to_report(service)
    with pytest.raises(InvalidForm) as refused:       # the report must say how such accidents are prevented
        service.act(cid, "submit_report", "awb_zhang", {k: v for k, v in REPORT.items() if k != "lessons"})
    assert set(refused.value.errors) == {"lessons"}
    service.act(cid, "submit_report", "awb_zhang", REPORT)
    service.act(cid, "approve_report", "juzhang")
    content, _ = issued(service, cid, "accident_report")
    document = open_docx(content)
    text = text_of(content)
    assert "None" not in text
    team = [r for r in table_rows(document) if r[1:3] == ["郑丽", "建设管理科"]]
    assert team == [["2", "郑丽", "建设管理科", ""]]          # the empty cell stays empty
    paragraphs = body_paragraphs(document)
    headings = [t for s, t in paragraphs if s == "GBHeading1"]
    assert headings == ["一、事故基本情况", "二、事故经过", "三、事故原因", "四、“一案三查”调查情况", "五、调查结论",
                        "六、责任认定及处理建议", "七、事故防范和整改措施"]
    after = [t for (s, _), (_, t) in zip(paragraphs, paragraphs[1:], strict=False) if s in ("GBHeading1", "GBHeading2")]
    assert all(t.strip() for t in after)
    i = [t for _, t in paragraphs].index("七、事故防范和整改措施")
    assert [t for _, t in paragraphs][i + 1:i + 3] == ["各在建交通工程项目要严格执行危险性较大分部分项工程专项施工方案。",
                                                      "支架搭设后须经预压验收合格方可浇筑。"]


def test_a_section_without_its_data_is_left_out_with_its_heading_and_the_numbers_close_up(templates_dir, samples):
    ctx = copy.deepcopy(samples["accident_report"])
    data = ctx["case"]["data"]
    for key in ("cause", "supervision_findings", "responsible_persons"):
        data.pop(key)
    data["team"][1]["duty"] = None
    document = open_docx(render(templates_dir / "accident_report.docx", ctx))
    paragraphs = body_paragraphs(document)
    assert [t for s, t in paragraphs if s == "GBHeading1"] == [
        "一、事故基本情况", "二、事故经过", "三、“一案三查”调查情况", "四、调查结论", "五、事故防范和整改措施"]
    assert [t for s, t in paragraphs if s == "GBHeading2"] == ["（一）企业主体责任", "（二）属地管理和领导责任"]
    text = text_of(render(templates_dir / "accident_report.docx", ctx))
    assert "None" not in text and "根据调查认定的事实" not in text   # no table of persons without persons
    assert ["2", "刘洋", "县交通运输局安委办", ""] in table_rows(document)


# ------------------------------------------------------------------ 4. a notice never announces a past event

DRILL = {"drill_name": "港口危险货物泄漏事故实战演练", "plan_name": "港口突发事件专项应急预案", "plan_kind": "专项应急预案",
         "drill_kind": "实战演练", "scenario": "港口突发事件", "planned_date": "2025-03-20", "owner_unit": "港航事业发展中心"}


def _notifying(service) -> str:
    cid = service.start("drill", "awb_zhang", DRILL)["id"]
    service.act(cid, "begin_scheme", "awb_zhang")
    service.act(cid, "submit_scheme", "awb_zhang", {"location": "城北港区3号泊位", "participants": "港航事业发展中心",
                                                     "scheme_summary": "模拟输油臂法兰泄漏。"})
    service.act(cid, "approve_scheme", "awb_head")
    return cid


def test_a_drill_notice_for_a_date_already_past_is_refused_under_the_field_and_issues_nothing(service, clock):
    cid = _notifying(service)
    clock.now = datetime(2025, 3, 24, 9)                       # the drill's date (20 March) has passed
    before = service.case(cid)
    with pytest.raises(InvalidForm) as refused:
        service.act(cid, "send_notice", "awb_zhang", {"notice_date": "2025-03-24", "assembly": "8时30分集合。"})
    assert isinstance(refused.value, GuardFailed)
    assert set(refused.value.errors) == {"notice_date"}      # shown under 通知日期, as a form error
    assert "演练日期" in refused.value.errors["notice_date"] and "调整演练日期" in refused.value.errors["notice_date"]
    assert refused.value.labels == {"notice_date": "通知日期"}
    after = service.case(cid)
    assert after["version"] == before["version"] and after["documents"] == [] and after["active"] == ["notifying"]
    assert not [e for e in after["effects"] if e["type"] == "document"]

    with pytest.raises(InvalidForm) as refused:                # a new date in the past is refused too
        service.act(cid, "reschedule", "awb_zhang", {"planned_date": "2025-03-21"})
    assert set(refused.value.errors) == {"planned_date"}
    service.act(cid, "reschedule", "awb_zhang", {"planned_date": "2025-04-10"})
    service.act(cid, "approve_scheme", "awb_head")
    with pytest.raises(InvalidForm):                           # nor may the notice be dated after the drill
        service.act(cid, "send_notice", "awb_zhang", {"notice_date": "2025-04-11", "assembly": "8时30分集合。"})
    case = service.act(cid, "send_notice", "awb_zhang", {"notice_date": "2025-03-24", "assembly": "8时30分集合。"})
    content, record = issued(service, cid, "drill_notice")
    assert record["number"] == "县交安〔2025〕1号"                # the refused attempts took no number
    text = squeeze(text_of(content))
    assert "一、演练时间2025年4月10日。" in text and case["active"] == ["executing"]
    signed = [t for s, t in body_paragraphs(open_docx(content)) if s == "GBDate"]
    assert [parse_cn(t.strip()) for t in signed] == [date(2025, 3, 24)] and date(2025, 3, 24) <= date(2025, 4, 10)


def test_guard_field_must_name_a_field_of_the_steps_form(tmp_path, config):
    from flows.service.config import load_organisation, load_workflows
    from flows.service.yaml_files import read_yaml

    source = read_yaml(config.root / "flows" / "drill.yaml")
    for t in source["transitions"]:
        if t["name"] == "send_notice":
            t["guard_field"] = "planned_date"                   # not a field of the notice form
    path = tmp_path / "drill.yaml"
    path.write_text(json.dumps(source, ensure_ascii=False), encoding="utf-8")
    _, _, problems = load_workflows([path], load_organisation(config.root / "organisation.yaml"))
    assert any("guard_field" in p and "不是本操作表单中的字段" in p for p in problems), problems


# ------------------------------------------------------------------ 5. text joined from fields reads as Chinese

def test_filters_join_as_chinese_does():
    assert filters.series("《安全生产法》第九十五条；《办法》。") == "《安全生产法》第九十五条和《办法》"
    assert filters.series("《甲》\n《乙》、《丙》") == "《甲》、《乙》和《丙》"
    assert filters.series("《甲》《乙》") == "《甲》和《乙》" and filters.series("《甲》第五条。") == "《甲》第五条"
    assert filters.series(None) == "" and filters.series(["《甲》", "《乙》；"]) == "《甲》和《乙》"
    assert filters.suffixed("严重违法违规行为", "的失信行为") == "严重违法违规行为"
    assert filters.suffixed("重大隐患整改不力", "的失信行为") == "重大隐患整改不力的失信行为"
    assert filters.suffixed("通达客运有限公司全员应急疏散逃生演练", "实战演练") == "通达客运有限公司全员应急疏散逃生演练"
    assert filters.suffixed("客运站疏散方案", "实战演练") == "客运站疏散方案实战演练"
    lines = filters.sentences("共约60人\n已整改。。\n做到“五到位”\n细化了启动条件；\n补充了措施，").split("\a")
    assert lines == ["共约60人。", "已整改。", "做到“五到位”。", "细化了启动条件；", "补充了措施。"]
    assert filters.add_days("2024-03-14", 1) == "2024-03-15" and filters.add_years("2024-02-29", 3) == "2027-02-28"
    assert filters.add_days(None, 1) == "" and filters.add_days("示例", 1) == "示例"


def test_a_drill_plan_row_named_after_a_drill_is_not_named_twice(config):
    rules = drill_plan.load_rules(config.root / "drill_rules.yaml")
    plans = [{"name": "客运站疏散方案", "kind": "现场处置方案", "scenario": "客运站场疏散", "owner_unit": "运输管理科"}]
    rows = drill_plan.generate(2025, plans, ["通达客运有限公司"], rules, config.calendar)
    names = [r["drill_name"] for r in rows]
    assert "通达客运有限公司全员应急疏散逃生演练（2025年度）" in names
    assert "客运站疏散方案实战演练（2025年上半年）" in names
    assert not [n for n in names if "演练实战演练" in n or "演练桌面推演" in n]


PROSE = ("facts", "investigation_findings", "description", "cause", "enterprise_findings", "supervision_findings",
         "territorial_findings", "report_summary", "lessons", "rectification", "education", "draft_summary",
         "review_conclusion", "scheme_summary", "assembly", "execution_summary", "evaluation")
ENDS = "。；：！？"


def _unpunctuated(ctx: dict) -> dict:
    """The sample with every prose field typed without its final 。 (as people type them)."""
    ctx = copy.deepcopy(ctx)
    data = (ctx.get("case") or {}).get("data") or {}
    for key in PROSE:
        if isinstance(data.get(key), str):
            data[key] = "\n".join(line.rstrip("。") for line in data[key].split("\n"))
    return ctx


@pytest.mark.parametrize("name", sorted(contexts()))
def test_every_kind_reads_as_chinese(templates_dir, samples, name):
    ctx = _unpunctuated(samples[name])
    data = (ctx.get("case") or {}).get("data") or {}
    if name.startswith("blacklist"):
        data.update(legal_basis="《安全生产法》第一百零二条；《安全生产严重失信主体名单管理办法》第四条。",
                    reason="严重违法违规行为")
    document = open_docx(render(templates_dir / f"{name}.docx", ctx))
    paragraphs = body_paragraphs(document)
    text = "\n".join(t for _, t in paragraphs) + "\n".join("|".join(r) for r in table_rows(document))
    for wrong in ("。。", "。，", "，。", "；《", "行为的失信行为", "演练实战演练", "None", "：。"):
        assert wrong not in text, (wrong, name)
    if name.endswith("_minutes"):
        assert "纪要如下：" in text
    listed = {line.strip() for line in str(data.get("participants") or "").split("\n")}  # a list, not sentences
    for style, line in paragraphs:
        if style == "Normal" and line not in listed and not line.startswith("联系人及电话："):
            assert line.rstrip("”’）》")[-1] in ENDS, (name, line)
    if name.startswith("blacklist") and name != "blacklist_publicity":
        assert "依据《安全生产法》第一百零二条和《安全生产严重失信主体名单管理办法》第四条，" in squeeze(text)
        assert "你单位存在严重违法违规行为，" in text


# ------------------------------------------------------------------ 6. 催办 names each role once

def test_an_escalation_names_each_role_once(service, clock):
    cid = service.start("drill", "awb_zhang", {**DRILL, "planned_date": "2025-03-05"})["id"]
    clock.now = datetime(2025, 3, 7, 9)                       # planned 5 March + 1 day's grace: overdue
    service.sweep()
    case = service.case(cid)
    (effect,) = [e for e in case["effects"] if e["type"] == "notify" and e.get("kind") == "escalation"]
    named = effect["text"].split("催办：", 1)[1].split("、")
    assert named and len(named) == len(set(named)), effect["text"]
    assert effect["roles"] == list(dict.fromkeys(effect["roles"])) and "安委办" in effect["roles"]
    (message,) = [m for m in service.messages("awb_zhang") if m["case_id"] == cid and m["kind"] == "escalation"]
    assert message["text"] == effect["text"]


# ------------------------------------------------------------------ 7. the demo tells one story

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from flows.demo import fill
    from flows.service import open_service

    folder = tmp_path_factory.mktemp("demo") / "data"
    fill(str(folder), now=datetime(2025, 6, 16, 10))
    svc = open_service(str(folder))
    yield svc
    svc.close()


def _documents(svc, template: str | None = None):
    for case in sorted(svc.store.cases(), key=lambda c: c["id"]):
        for record in case.get("documents", []):
            if template in (None, record["template"]):
                yield case, record, open_docx(svc.store.file_path(record["file"]).read_bytes())


def test_demo_documents_read_right(demo):
    from flows.demo import STORIES

    kinds = defaultdict(int)
    for case, record, document in _documents(demo):
        kinds[record["template"]] += 1
        text = "\n".join(t for _, t in body_paragraphs(document)) + "\n".join("|".join(r) for r in table_rows(document))
        for wrong in ("None", "。。", "。，", "；《", "行为的失信行为", "演练实战演练", "按要求办理完毕"):
            assert wrong not in text, (case["id"], record["template"], wrong)
    assert set(kinds) >= {"plan_publish_notice", "expert_review_minutes", "drill_notice", "drill_evaluation_minutes",
                          "blacklist_prior_notice", "blacklist_decision", "blacklist_publicity", "accident_report",
                          "accident_warning"}
    drills = {(s["drill_name"], s["drill_kind"], s["scenario"], s["plan_name"]) for s in STORIES["drill"]}
    for case, record, _ in _documents(demo, "drill_notice"):
        d = case["data"]
        assert (d["drill_name"], d["drill_kind"], d["scenario"], d["plan_name"]) in drills
        assert d["drill_kind"] != "双盲拉练"                   # a double-blind drill is not announced
        text = squeeze(text_of(demo.store.file_path(record["file"]).read_bytes()))
        assert f"关于开展{d['drill_name']}的通知" in text and f"采用{d['drill_kind']}形式，演练场景为{d['scenario']}" in text
        assert record["issued_at"][:10] <= d["planned_date"]    # never a notice of a drill already past
    accidents = {(s["place"], s["accident_type"], s["cause"]) for s in STORIES["accident"]}
    for case in demo.store.cases():
        if case["workflow"] == "accident" and case["data"].get("cause"):
            assert (case["data"]["place"], case["data"]["accident_type"], case["data"]["cause"]) in accidents


def test_demo_minutes_list_the_attendees_of_that_meeting(demo):
    for template in ("expert_review_minutes", "drill_evaluation_minutes"):
        seen = 0
        for case, _, document in _documents(demo, template):
            rows = [t for s, t in body_paragraphs(document) if s == "GBAttendance"]
            assert rows[0] == f"出席：{case['data']['attendees']}"
            assert ("评审专家" in rows[0]) == (template == "expert_review_minutes")
            seen += 1
        assert seen


def test_demo_decisions_show_each_way_a_defense_went(demo):
    found = set()
    for _, _, document in _documents(demo, "blacklist_decision"):
        text = "".join(t for _, t in body_paragraphs(document))
        found |= {how for how, (_, sentence) in OUTCOMES.items() if squeeze(sentence.split("。")[0]) in squeeze(text)}
    assert found == {"responded", "waived", "lapsed"}


def test_demo_numbers_run_in_date_order(demo):
    cases = sorted(demo.store.cases(), key=lambda c: c["id"])
    by_series = defaultdict(list)
    for case in cases:
        code, year, _ = case["id"].split("-")
        by_series[code, year].append(case["created_at"])
    for series, created in by_series.items():
        assert created == sorted(created), series
    issued_by = defaultdict(list)
    for case in cases:
        for record in case.get("documents", []):
            m = re.fullmatch(r"(.+〔\d{4}〕)(\d+)号", record["number"]) or re.fullmatch(r"第(\d+)期", record["number"])
            key = (m[1], record["template"]) if m.re.groups == 2 else (record["template"], record["issued_at"][:4])
            issued_by[key].append((int(m[m.re.groups]), record["issued_at"]))
    for key, numbers in issued_by.items():
        assert [n for n, _ in sorted(numbers, key=lambda x: (x[1], x[0]))] == sorted(n for n, _ in numbers), key


def test_samples_enterprise_is_the_one_the_documents_name(samples):
    # the samples stay what the service passes: the documents a decision cites and the running periods
    black = samples["blacklist_decision"]["case"]
    assert black["documents"]["blacklist_prior_notice"]["number"].startswith("县交信告〔")
    assert black["periods"]["publicity_period"]["days"] == 7 and black["data"]["enterprise"] == ENTERPRISE
