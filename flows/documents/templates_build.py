"""(Re)build the default Word templates in configs/templates/ (GB/T 9704-2012 layout).

    python -m flows.documents.templates_build [--out DIR]

Each template is a docxtpl template: Jinja placeholders such as {{ case.data.place }},
{%p if … %} paragraphs and {%tr for … %} table rows. Admins may edit the files in Word
afterwards; running this script again overwrites them with the defaults.

What the placeholders may use (the context `flows.documents.render` receives):
  case.id / title / workflow / unit / created_at, case.data.<field>  — the case and its form data
  doc.number / issuer / date / title / addressee / cc / printed_by / printed_date / banner / minutes
  rows  — table rows of documents not made from one case (annual drill plan, accident statistics)
  extra — values computed by the caller (deadlines, periods); the workflow's settings fill in
          names it lacks (extra.listing_years ← settings.listing_years)
  case.deadlines.<timer> — deadline dates by timer name, a fallback for extra's dates
  case.documents.<template> — number/date of a document the case issued before (the 告知书 a 决定 cites)
  case.periods.<timer> — start/end/days of a running period, both ends counted (the 公示期)
Filters: cn_date, cn_datetime, num, names, paragraphs, sentences, series, suffixed, add_days, add_years,
cn_number, clause (see flows/documents/filters.py).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from docx.shared import Mm, Twips

from flows.documents import gbt9704 as g

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "configs" / "templates"

ISSUER = '{{ doc.issuer or "县交通运输局" }}'


# ------------------------------------------------------------------ shared blocks

def red_header(doc, title: str, *, addressee: str = "{{ doc.addressee }}") -> None:
    """版头 of a 通知/通报/决定: red banner, 发文字号, red rule, then title and addressee."""
    g.paragraph(doc, "GBBanner", '{{ doc.banner or "县交通运输局文件" }}')
    g.red_rule(g.paragraph(doc, "GBDocNumber", "{{ doc.number }}"))
    g.paragraph(doc, "GBTitle", "{{ doc.title or " + title + " }}")
    if addressee:
        g.paragraph(doc, "GBAddressee", addressee + "：")


def minutes_header(doc, banner: str, title: str) -> None:
    """纪要标志 (red), 期号, the issuing office and date above a red rule, then the title."""
    g.paragraph(doc, "GBBanner", "{{ doc.minutes or doc.banner or \"" + banner + "\" }}")
    g.paragraph(doc, "GBIssueNumber", "{{ doc.number }}")
    g.red_rule(g.paragraph(doc, "GBMinutesMeta", "\t" + ISSUER + "\t{{ doc.date }}"), space_pt=6)
    spaced_after(g.paragraph(doc, "GBTitle", "{{ doc.title or " + title + " }}"))


def spaced_after(p, n: float = 1) -> None:
    """One empty line (of the exact pitch) after the paragraph."""
    p.paragraph_format.space_after = Twips(g.lines(n))


def body(doc, *runs) -> None:
    g.paragraph(doc, "Normal", *runs)


def h1(doc, text: str) -> None:
    g.paragraph(doc, "GBHeading1", text)


def h2(doc, text: str) -> None:
    g.paragraph(doc, "GBHeading2", text)


def lead(doc, lead_text: str, *rest: str) -> None:
    """A paragraph opening with a 楷体 lead-in such as "（一）加强学习宣贯。"."""
    g.paragraph(doc, "Normal", (lead_text, "lead"), *rest)


def tag(doc, jinja: str) -> None:
    """A docxtpl paragraph tag ({%p if … %}); the paragraph itself disappears on rendering."""
    g.paragraph(doc, "Normal", "{%p " + jinja + " %}")


def signature(doc, issuer: str = ISSUER) -> None:
    g.paragraph(doc, "GBSignature", "\t" + issuer)
    g.paragraph(doc, "GBDate", "\t{{ doc.date }}")


def attendance(doc) -> None:
    """出席/列席/请假: 3号黑体 labels, 仿宋 names; lines after the first align after the colon."""
    first = g.paragraph(doc, "GBAttendance", ("出席：", "label"), "{{ case.data.attendees|names }}")
    g.set_spacing(first._p.get_or_add_pPr(), before=g.lines(1))
    for field, label in (("nonvoting", "列席"), ("absent", "请假")):
        tag(doc, f"if case.data.{field}")
        g.paragraph(doc, "GBAttendance", (f"{label}：", "label"), "{{ case.data." + field + "|names }}")
        tag(doc, "endif")


ENTERPRISE = "{{ case.data.enterprise.name }}"
CREDIT_CODE = "{{ case.data.enterprise.credit_code }}"
_D, _I = "(case.data.deaths or 0)|int", "(case.data.serious_injuries or 0)|int"
ACCIDENT_FIGURES = ("{% if " + _D + " or " + _I + " %}造成"
                    "{% if " + _D + " %}{{ case.data.deaths|num }}人死亡{% endif %}"
                    "{% if " + _D + " and " + _I + " %}、{% endif %}"
                    "{% if " + _I + " %}{{ case.data.serious_injuries|num }}人重伤{% endif %}，"
                    "{% else %}未造成人员死亡和重伤，{% endif %}"
                    "直接经济损失{{ case.data.direct_loss|num }}万元")


# ------------------------------------------------------------------ emergency plans

def plan_publish_notice(doc) -> None:
    red_header(doc, '"关于印发《" ~ case.data.plan_name ~ "》的通知"')
    body(doc, "为进一步提高交通运输突发事件应急处置能力，我局组织对《{{ case.data.plan_name }}》"
              "（{{ case.data.plan_kind }}）开展了实施效果评估和修订，经征求有关部门意见、专家评审，"
              "已经局审批同意。现将修订后的《{{ case.data.plan_name }}》"
              "{% if case.data.new_version %}（{{ case.data.new_version }}）{% endif %}印发给你们，"
              "请结合实际认真贯彻执行。")
    tag(doc, "if case.data.plan_version")
    body(doc, "本预案自印发之日起施行，原《{{ case.data.plan_name }}》（{{ case.data.plan_version }}）同时废止。")
    tag(doc, "endif")
    tag(doc, "if case.data.draft_summary")
    h1(doc, "一、本次修订的主要内容")
    body(doc, "{{ case.data.draft_summary|sentences }}")
    h1(doc, "二、有关要求")
    tag(doc, "else")
    h1(doc, "有关要求如下：")
    tag(doc, "endif")
    lead(doc, "（一）加强学习宣贯。", "各单位要组织干部职工认真学习本预案，熟悉应急组织体系、职责分工、"
                                   "预警响应和处置程序，确保关键岗位人员应知应会。")
    lead(doc, "（二）做好衔接备案。", "{{ case.data.owner_unit }}要做好本预案与上级预案、部门预案及有关企业预案的衔接，"
                                   "并于印发之日起{{ extra.filing_workdays or 20 }}个工作日内报上级主管部门备案。")
    lead(doc, "（三）定期演练评估。", "各单位要按照年度应急演练计划组织开展演练，及时总结评估；本预案原则上每"
                                   "{{ extra.reassess_years or 3 }}年评估一次，法规标准、机构职责、重要风险等发生变化或演练、"
                                   "事故暴露问题时及时修订。")
    g.paragraph(doc, "GBAttachment", "附件：{{ case.data.plan_name }}")
    signature(doc)
    g.version_note(doc)


def expert_review_minutes(doc) -> None:
    minutes_header(doc, "专家评审会议纪要", '"《" ~ case.data.plan_name ~ "》专家评审会议纪要"')
    body(doc, "{{ case.data.review_date|cn_date }}，" + ISSUER + "在{{ case.data.review_place }}组织召开"
              "《{{ case.data.plan_name }}》（{{ case.data.plan_kind }}）专家评审会。会议听取了"
              "{{ case.data.owner_unit }}关于预案修订情况的汇报，评审专家组审阅了预案修订稿及有关材料，"
              "经认真讨论，形成纪要如下：")
    h1(doc, "一、评审专家组")
    body(doc, "评审专家组由{{ case.data.experts|length }}名专家组成：")
    g.data_table(doc, ["序号", "姓名", "职称", "工作单位"],
                 ["{{ loop.index }}", "{{ e.name }}", "{{ e.title or \"\" }}", "{{ e.unit or \"\" }}"],
                 [16, 30, 40, 70], loop="e in case.data.experts")
    h1(doc, "二、主要修订内容")
    body(doc, "{{ case.data.draft_summary|sentences }}")
    h1(doc, "三、评审意见")
    body(doc, "{{ case.data.review_conclusion|sentences }}")
    h1(doc, "四、评审结论")
    body(doc, "{% if case.data.review_passed %}专家组同意《{{ case.data.plan_name }}》通过评审。请{{ case.data.owner_unit }}"
              "按照评审意见进一步修改完善后，按程序报局审批印发。{% else %}专家组认为预案修订稿尚不具备印发条件，"
              "评审不予通过。请{{ case.data.owner_unit }}按照评审意见修改完善后，重新组织评审。{% endif %}")
    attendance(doc)
    g.version_note(doc, cc_label="分送")


# ------------------------------------------------------------------ drills

def annual_drill_plan(doc) -> None:
    red_header(doc, '"关于印发" ~ extra.year ~ "年度应急演练计划的通知"')
    body(doc, "根据全县交通运输安全生产工作要点关于“专项应急预案每年演练1次、现场处置方案每半年演练1次和每年至少"
              "组织1次桌面推演”的要求，结合全县交通运输应急预案体系实际，局安委办制定了《{{ extra.year }}年度应急"
              "演练计划》，现印发给你们，并就有关事项通知如下：")
    h1(doc, "一、认真组织实施")
    body(doc, "各责任单位要按照计划确定的时间、形式和场景，通过实战演练、双盲拉练和桌面推演等形式组织开展演练，"
              "提前编制演练方案并报局安委办审批。双盲拉练不提前通知参演人员。")
    h1(doc, "二、强化评估整改")
    body(doc, "演练结束后，各责任单位要及时组织评估总结，对发现的问题明确整改措施、责任单位和完成时限，"
              "抓好整改落实，并根据评估情况完善应急预案。")
    h1(doc, "三、及时报送情况")
    body(doc, "计划时间确需调整的，责任单位应提前向局安委办书面说明理由。各生产经营单位每年至少组织1次全员应急"
              "疏散逃生演练。演练方案、评估报告等资料于演练结束后及时报局安委办备案。")
    g.paragraph(doc, "GBAttachment", "附件：{{ extra.year }}年度应急演练计划")
    signature(doc)
    g.paragraph(doc, "GBAttachLabel", "附件", page_break_before=True)
    spaced_after(g.paragraph(doc, "GBTitle", "{{ extra.year }}年度应急演练计划"))
    g.data_table(doc, ["序号", "预案名称", "预案类型", "演练形式", "场景类别", "计划时间", "责任单位"],
                 ["{{ r.seq or loop.index }}", "{{ r.plan_name }}", "{{ r.plan_kind }}", "{{ r.drill_kind }}",
                  "{{ r.scenario }}", "{{ r.planned_date|cn_date(false) }}", "{{ r.owner_unit }}"],
                 [10, 36, 20, 18, 25, 21, 26], loop="r in rows", font_size=g.SIZE_5,
                 align=["center", "left", "center", "center", "center", "center", "center"])
    body(doc, "共计{{ rows|length }}项。")
    g.version_note(doc)


def drill_notice(doc) -> None:
    red_header(doc, '"关于开展" ~ case.data.drill_name ~ "的通知"')
    body(doc, "为检验《{{ case.data.plan_name }}》的针对性和可操作性，锻炼应急队伍，提高应急处置能力，根据年度应急"
              "演练计划安排，经研究，决定组织开展{{ case.data.drill_name }}。现将有关事项通知如下：")
    h1(doc, "一、演练时间")
    body(doc, "{{ case.data.planned_date|cn_date }}。")
    h1(doc, "二、演练地点")
    body(doc, "{{ case.data.location|clause }}。")
    h1(doc, "三、演练形式和场景")
    body(doc, "本次演练采用{{ case.data.drill_kind }}形式，演练场景为{{ case.data.scenario }}。由"
              "{{ case.data.owner_unit }}负责组织实施，局安委办负责指导和评估。")
    h1(doc, "四、参演单位及人员")
    body(doc, "{{ case.data.participants|paragraphs }}")
    h1(doc, "五、演练内容")
    body(doc, "{{ case.data.scheme_summary|sentences }}")
    h1(doc, "六、集合时间地点及要求")
    body(doc, "{{ case.data.assembly|sentences }}")
    h1(doc, "七、工作要求")
    lead(doc, "（一）高度重视，精心准备。", "各参演单位要按照演练方案做好人员、装备和物资准备，明确专人负责，"
                                       "确保演练各环节衔接顺畅。")
    lead(doc, "（二）落实措施，确保安全。", "演练期间要落实安全防护措施，做好现场警戒和交通疏导，严防发生次生事故。")
    lead(doc, "（三）及时总结，抓好整改。", "演练结束后，{{ case.data.owner_unit }}要及时组织评估总结，形成评估报告，"
                                       "对发现的问题限期整改。")
    signature(doc)
    g.version_note(doc)


def drill_evaluation_minutes(doc) -> None:
    minutes_header(doc, "应急演练评估会议纪要", 'case.data.drill_name ~ "评估会议纪要"')
    body(doc, "{{ case.data.evaluation_date|cn_date }}，" + ISSUER + "组织召开{{ case.data.drill_name }}评估会议。"
              "会议听取了{{ case.data.owner_unit }}关于演练组织实施情况的汇报，对照《{{ case.data.plan_name }}》"
              "和演练方案，对演练准备、实施和效果进行了评估。现将会议主要内容纪要如下：")
    h1(doc, "一、演练基本情况")
    body(doc, "本次演练于{{ (case.data.executed_date or case.data.planned_date)|cn_date }}在{{ case.data.location }}举行，"
              "采用{{ case.data.drill_kind }}形式，演练场景为{{ case.data.scenario }}"
              "{% if case.data.participant_count %}，参演{{ case.data.participant_count|num }}人{% endif %}。")
    body(doc, "{{ case.data.execution_summary|sentences }}")
    h1(doc, "二、评估结论")
    body(doc, "{{ case.data.evaluation|sentences }}")
    h1(doc, "三、存在问题及整改要求")
    tag(doc, "if case.data.problems_found and case.data.problems")
    body(doc, "会议认为，本次演练暴露出以下问题，须限期整改：")
    g.data_table(doc, ["序号", "存在问题", "整改措施", "责任单位", "完成时限"],
                 ["{{ loop.index }}", "{{ p.problem }}", "{{ p.measure }}", "{{ p.owner }}", "{{ p.due|cn_date }}"],
                 [12, 46, 46, 26, 26], loop="p in case.data.problems",
                 align=["center", "left", "left", "center", "center"])
    body(doc, "请各责任单位按照上述要求抓好整改，整改完成后将整改情况书面报局安委办。")
    tag(doc, "else")
    body(doc, "本次演练未发现需要整改的问题。")
    tag(doc, "endif")
    attendance(doc)
    g.version_note(doc, cc_label="分送")


# ------------------------------------------------------------------ credit blacklist

ENTERPRISE_ADDRESSEE = ENTERPRISE + "{% if case.data.enterprise.credit_code %}（统一社会信用代码：" + CREDIT_CODE \
    + "）{% endif %}"


def enforcement_header(doc, title: str, *, addressee: str | None = ENTERPRISE_ADDRESSEE) -> None:
    """执法文书 header: issuer name and document name, number on the right, addressee."""
    g.paragraph(doc, "GBIssuerHead", ISSUER)
    g.paragraph(doc, "GBTitle", "{{ doc.title or \"" + title + "\" }}").paragraph_format.space_before = Mm(0)
    g.paragraph(doc, "GBNumberRight", "{{ doc.number }}")
    if addressee:
        g.paragraph(doc, "GBAddressee", addressee + "：")


def blacklist_prior_notice(doc) -> None:
    enforcement_header(doc, "安全生产失信行为事先告知书")
    body(doc, "经调查核实，你单位存在{{ case.data.reason|suffixed(\"的失信行为\") }}，主要事实如下：")
    body(doc, "{{ case.data.facts|sentences }}")
    tag(doc, "if case.data.investigation_findings")
    body(doc, "{{ case.data.investigation_findings|sentences }}")
    tag(doc, "endif")
    body(doc, "依据{{ case.data.legal_basis|series or \"安全生产失信行为联合惩戒有关规定\" }}，本机关拟将你单位列入安全生产失信"
              "黑名单，列入期限{{ extra.listing_years or 3 }}年，并依法依规实施联合惩戒。")
    body(doc, "根据有关规定，你单位对上述拟列入事项享有陈述、申辩的权利。如有异议，可在收到本告知书之日起"
              "{{ extra.defense_days }}个工作日内（{{ (extra.defense_deadline or case.deadlines.defense_period)"
              "|cn_date }}前）向本机关提出书面陈述、申辩意见，并提交相关证据材料。逾期未提出的，视为放弃陈述、申辩的权利。")
    tag(doc, "if extra.contact")
    body(doc, "联系人及电话：{{ extra.contact }}")
    tag(doc, "endif")
    signature(doc)
    g.paragraph(doc, "GBReceipt", "当事人签收：\t\t\t\t\t\t年　　月　　日")


def blacklist_decision(doc) -> None:
    red_header(doc, '"关于将" ~ case.data.enterprise.name ~ "列入安全生产失信黑名单的决定"',
               addressee=ENTERPRISE_ADDRESSEE)
    body(doc, "经调查核实，你单位存在{{ case.data.reason|suffixed(\"的失信行为\") }}，主要事实如下：")
    body(doc, "{{ case.data.facts|sentences }}")
    tag(doc, "set notice = case.documents.blacklist_prior_notice")
    tag(doc, "if notice.number")
    body(doc, "本机关于{{ notice.date|cn_date }}作出《安全生产失信行为事先告知书》（{{ notice.number }}）并送达你单位，"
              "告知了拟列入的事实、理由、依据及你单位依法享有的陈述、申辩权利。")
    tag(doc, "endif")
    # case.data.defense_outcome: which of the three ways into 审核决定 the case took (blacklist.yaml)
    tag(doc, "set outcome = case.data.defense_outcome or (\"提出陈述申辩\" if case.data.defense_text else \"\")")
    tag(doc, "if outcome == \"提出陈述申辩\"")
    body(doc, "你单位{% if case.data.defense_date %}于{{ case.data.defense_date|cn_date }}{% endif %}提出了陈述、申辩意见。"
              "{% if case.data.review_opinion %}经复核，{{ case.data.review_opinion|clause }}。{% endif %}")
    tag(doc, "elif outcome == \"书面放弃陈述申辩\"")
    body(doc, "你单位{% if case.data.waiver_date %}于{{ case.data.waiver_date|cn_date }}{% endif %}"
              "书面表示放弃陈述、申辩的权利。")
    tag(doc, "elif outcome == \"期满未提出陈述申辩\"")
    body(doc, "你单位在规定期限内未提出陈述、申辩意见。")
    tag(doc, "endif")
    body(doc, "依据{{ case.data.legal_basis|series or \"安全生产失信行为联合惩戒有关规定\" }}，本机关决定将你单位列入安全生产"
              "失信黑名单，列入期限为{{ extra.listing_years or 3 }}年"
              # listed from the day after the 公示期 ends, for the term (both ends included)
              "{% set first = case.periods.publicity_period.end|add_days(1) %}"
              "{% if first %}（自{{ first|cn_date }}起至"
              "{{ first|add_years(extra.listing_years or 3)|add_days(-1)|cn_date }}止）"
              "{% endif %}。列入期间，依法依规对你单位实施以下联合惩戒措施：")
    tag(doc, "for m in case.data.measures")
    body(doc, "（{{ loop.index|cn_number }}）{{ m|clause }}。")
    tag(doc, "endfor")
    body(doc, "本决定经公示{{ extra.publicity_days }}个工作日无异议后执行，并通过本机关门户网站和信用信息共享平台向"
              "社会公开。列入满{{ extra.repair_min_years or 1 }}年后，你单位已完成整改、消除不良影响的，可以向本机关"
              "申请信用修复。")
    body(doc, "如不服本决定，可以自收到本决定书之日起六十日内依法申请行政复议，或者在六个月内依法向人民法院提起"
              "行政诉讼。")
    signature(doc)
    g.version_note(doc)


def blacklist_publicity(doc) -> None:
    g.paragraph(doc, "GBTitle", '{{ doc.title or "安全生产失信黑名单公示" }}').paragraph_format.space_before = Mm(0)
    spaced_after(g.paragraph(doc, "GBNumberCenter", "{{ doc.number }}"))
    body(doc, "根据安全生产失信行为联合惩戒有关规定，经调查核实、事先告知和审核决定，" + ISSUER +
              "拟将下列企业列入安全生产失信黑名单，现予以公示。")
    g.data_table(doc, ["企业名称", "统一社会信用代码", "列入事由", "列入期限"],
                 [ENTERPRISE, CREDIT_CODE, "{{ case.data.reason }}", "{{ extra.listing_years or 3 }}年"],
                 [44, 52, 40, 20], align=["left", "center", "left", "center"])
    g.paragraph(doc, "GBHeading1", "主要失信事实").paragraph_format.space_before = Twips(g.lines(0.5))
    body(doc, "{{ case.data.facts|sentences }}")
    body(doc, "{% set period = case.periods.publicity_period %}"
              "公示期为{{ period.days or extra.publicity_days }}个工作日"
              "{% if period.start %}（{{ period.start|cn_date }}至{{ period.end|cn_date }}）{% endif %}。公示期间，任何单位和个人"
              "对公示内容有异议的，可以书面形式向" + ISSUER + "反映，反映时应提供真实姓名和联系方式，并附相关证据材料。")
    tag(doc, "if extra.contact")
    body(doc, "联系人及电话：{{ extra.contact }}")
    tag(doc, "endif")
    signature(doc)


# ------------------------------------------------------------------ accidents

def numbered(doc, condition: str, title: str, text: str) -> None:
    """A 一、-level section shown only when `condition` holds, numbered by the template's counter `n`."""
    tag(doc, f"if {condition}")
    tag(doc, "set n = n + 1")
    h1(doc, "{{ n|cn_number }}、" + title)
    body(doc, text)
    tag(doc, "endif")


def accident_report(doc) -> None:
    g.paragraph(doc, "GBTitle", '{{ doc.title or case.data.place ~ case.data.accident_type ~ "事故调查报告" }}') \
        .paragraph_format.space_before = Mm(0)
    g.paragraph(doc, "GBNumberCenter", "{{ doc.number }}")
    tag(doc, "if doc.addressee")
    g.paragraph(doc, "GBAddressee", "{{ doc.addressee }}：")
    tag(doc, "endif")
    body(doc, "{{ case.data.occurred_at|cn_datetime }}，{{ case.data.place }}发生一起{{ case.data.accident_type }}"
              "生产安全事故，" + ACCIDENT_FIGURES + "。依据《生产安全事故报告和调查处理条例》（国务院令第493号），"
              "该事故为{{ case.data.level }}事故。{% if case.data.supervised %}该事故由上级挂牌督办。{% endif %}")
    body(doc, "事故发生后，按照“四不放过”原则和“一案三查”要求，成立了事故调查组，同步开展企业主体责任、"
              "部门监管责任和属地管理及领导责任调查。调查组通过现场勘查、调查取证、询问有关人员和综合分析，"
              "查明了事故经过和原因，认定了事故责任，提出了处理建议和防范措施。现将调查情况报告如下：")
    h1(doc, "一、事故基本情况")
    tag(doc, "if case.data.enterprise.name")
    lead(doc, "（一）事故发生单位。", ENTERPRISE + "，统一社会信用代码" + CREDIT_CODE + "。")
    tag(doc, "endif")
    lead(doc, "（{{ (2 if case.data.enterprise.name else 1)|cn_number }}）事故发生时间和地点。",
         "{{ case.data.occurred_at|cn_datetime }}，{{ case.data.place|clause }}。")
    lead(doc, "（{{ (3 if case.data.enterprise.name else 2)|cn_number }}）人员伤亡和直接经济损失。",
         "死亡{{ case.data.deaths|num }}人，重伤{{ case.data.serious_injuries|num }}人，"
         "直接经济损失{{ case.data.direct_loss|num }}万元。")
    lead(doc, "（{{ (4 if case.data.enterprise.name else 3)|cn_number }}）事故等级。",
         "{{ case.data.level }}事故。")
    # every further section is filled from the case or left out with its heading; the numbers close up
    tag(doc, "set n = 1")
    numbered(doc, "case.data.description", "事故经过", "{{ case.data.description|sentences }}")
    numbered(doc, "case.data.cause", "事故原因", "{{ case.data.cause|sentences }}")
    findings = [("enterprise_findings", "企业主体责任"), ("supervision_findings", "部门监管责任"),
                ("territorial_findings", "属地管理和领导责任")]
    tag(doc, "if " + " or ".join(f"case.data.{f}" for f, _ in findings))
    tag(doc, "set n = n + 1")
    h1(doc, "{{ n|cn_number }}、“一案三查”调查情况")
    tag(doc, "set m = 0")
    for field, title in findings:
        tag(doc, f"if case.data.{field}")
        tag(doc, "set m = m + 1")
        h2(doc, "（{{ m|cn_number }}）" + title)
        body(doc, "{{ case.data." + field + "|sentences }}")
        tag(doc, "endif")
    tag(doc, "endif")
    numbered(doc, "case.data.report_summary", "调查结论", "{{ case.data.report_summary|sentences }}")
    tag(doc, "if case.data.responsible_persons")
    tag(doc, "set n = n + 1")
    h1(doc, "{{ n|cn_number }}、责任认定及处理建议")
    body(doc, "根据调查认定的事实，对事故有关责任人员提出处理建议如下：")
    g.data_table(doc, ["序号", "姓名", "单位及职务", "处理措施"],
                 ["{{ loop.index }}", "{{ p.name }}", "{{ p.role }}", "{{ p.measure }}"],
                 [16, 28, 70, 42], loop="p in case.data.responsible_persons",
                 align=["center", "center", "left", "center"])
    tag(doc, "endif")
    numbered(doc, "case.data.lessons", "事故防范和整改措施", "{{ case.data.lessons|sentences }}")
    tag(doc, "if case.data.team")
    g.paragraph(doc, "GBAttachment", "附：事故调查组成员名单")
    g.data_table(doc, ["序号", "姓名", "单位", "调查组职务"],
                 ["{{ loop.index }}", "{{ m.name }}", "{{ m.unit or \"\" }}", "{{ m.duty or \"\" }}"],
                 [16, 28, 72, 40], loop="m in case.data.team", align=["center", "center", "left", "center"])
    tag(doc, "endif")
    signature(doc, issuer='{{ doc.issuer or "县交通运输局事故调查组" }}')


def accident_warning(doc) -> None:
    red_header(doc, '"关于" ~ case.data.place ~ case.data.accident_type ~ "事故的警示通报"')
    body(doc, "{{ case.data.occurred_at|cn_datetime }}，{{ case.data.place }}发生一起{{ case.data.accident_type }}"
              "生产安全事故，" + ACCIDENT_FIGURES + "，属{{ case.data.level }}事故。为深刻吸取事故教训，举一反三，"
              "严防类似事故发生，现将有关情况通报如下：")
    h1(doc, "一、事故基本情况")
    body(doc, "{{ case.data.description|sentences }}")
    h1(doc, "二、事故原因")
    body(doc, "{{ case.data.cause|sentences }}")
    h1(doc, "三、责任追究情况")
    body(doc, "按照“四不放过”原则和“一案三查”要求，对事故有关责任人员作出如下处理：")
    tag(doc, "for p in case.data.responsible_persons")
    body(doc, "（{{ loop.index|cn_number }}）{{ p.role }}{{ p.name }}：{{ p.measure|clause }}。")
    tag(doc, "endfor")
    h1(doc, "四、整改落实情况")
    body(doc, "{{ case.data.rectification|sentences }}")
    tag(doc, "if case.data.education")
    body(doc, "{{ case.data.education|sentences }}")
    tag(doc, "endif")
    h1(doc, "五、工作要求")
    lead(doc, "（一）深刻吸取事故教训。", "各单位要立即组织传达学习本通报，深刻吸取事故教训，举一反三，"
                                     "坚决克服麻痹思想和侥幸心理，切实增强做好安全生产工作的责任感和紧迫感。")
    lead(doc, "（二）全面排查整治隐患。", "各单位要针对事故暴露出的问题，立即开展一次安全隐患排查整治，做到整改责任、"
                                     "措施、资金、时限和预案“五到位”。")
    tag(doc, "if case.data.lessons")
    lead(doc, "（三）落实防范措施。", "{{ case.data.lessons|sentences }}")
    tag(doc, "endif")
    lead(doc, "（{{ '四' if case.data.lessons else '三' }}）严格落实安全生产责任。",
         "严格落实企业安全生产主体责任、部门监管责任和属地管理责任。对重大隐患整改不力、严重违法违规和发生有较大"
         "社会影响的生产安全事故的企业，依法依规列入失信黑名单，强化联合惩戒。")
    signature(doc)
    g.version_note(doc)


LEVEL_KEYS = [("一般", "general"), ("较大", "larger"), ("重大", "major"), ("特别重大", "especially_major")]
METRICS = [("count", "事故起数（起）", "num"), ("deaths", "死亡人数（人）", "num"),
           ("serious_injuries", "重伤人数（人）", "num"), ("direct_loss", "直接经济损失（万元）", "num")]


def accident_statistics(doc) -> None:
    red_header(doc, 'extra.period ~ "交通运输安全生产事故统计分析报告"')
    t = "extra.totals"
    body(doc, "按照“按月汇总、按季度统计、按年度分析”的工作要求，现将{{ extra.period }}全县交通运输行业生产安全事故"
              "统计情况报告如下：")
    h1(doc, "一、总体情况")
    body(doc, "{{ extra.period }}，全县交通运输行业共发生生产安全事故{{ " + t + ".count.total|num }}起，死亡"
              "{{ " + t + ".deaths.total|num }}人，重伤{{ " + t + ".serious_injuries.total|num }}人，直接经济损失"
              "{{ " + t + ".direct_loss.total|num }}万元。其中，一般事故{{ " + t + ".count.general|num }}起，"
              "较大事故{{ " + t + ".count.larger|num }}起，重大事故{{ " + t + ".count.major|num }}起，"
              "特别重大事故{{ " + t + ".count.especially_major|num }}起。")
    h1(doc, "二、分类统计")
    body(doc, "按事故类型和事故等级分类统计情况见表1至表4。")
    widths = [36, 22, 22, 22, 28, 26]
    for i, (key, caption, fmt) in enumerate(METRICS, 1):
        g.paragraph(doc, "GBCaption", f"表{i}　{caption}")
        cells = ["{{ r.type }}"] + ["{{ r." + key + "." + lk + "|" + fmt + " }}" for _, lk in LEVEL_KEYS] \
            + ["{{ r." + key + ".total|" + fmt + " }}"]
        totals = ["合计"] + ["{{ " + t + "." + key + "." + lk + "|" + fmt + " }}" for _, lk in LEVEL_KEYS] \
            + ["{{ " + t + "." + key + ".total|" + fmt + " }}"]
        g.data_table(doc, ["事故类型"] + [name for name, _ in LEVEL_KEYS] + ["合计"], cells, widths,
                     loop="r in rows", footer_rows=[totals])
    tag(doc, "if extra.analysis")
    h1(doc, "三、分析及工作建议")
    body(doc, "{{ extra.analysis|sentences }}")
    tag(doc, "endif")
    signature(doc)
    g.version_note(doc)


# ------------------------------------------------------------------ build

TEMPLATES: dict[str, tuple[str, Callable]] = {
    "plan_publish_notice": ("预案印发通知", plan_publish_notice),
    "expert_review_minutes": ("专家评审会议纪要", expert_review_minutes),
    "annual_drill_plan": ("年度应急演练计划", annual_drill_plan),
    "drill_notice": ("演练通知", drill_notice),
    "drill_evaluation_minutes": ("演练评估会议纪要", drill_evaluation_minutes),
    "blacklist_prior_notice": ("失信行为事先告知书", blacklist_prior_notice),
    "blacklist_decision": ("列入失信黑名单决定书", blacklist_decision),
    "blacklist_publicity": ("失信黑名单公示", blacklist_publicity),
    "accident_report": ("事故调查报告", accident_report),
    "accident_warning": ("事故警示通报", accident_warning),
    "accident_statistics": ("事故统计分析报告", accident_statistics),
}


def build(name: str, out_dir: Path) -> Path:
    label, make = TEMPLATES[name]
    doc = g.new_document()
    doc.core_properties.subject = label
    make(doc)
    last = [el for el in doc.element.body if not el.tag.endswith("}sectPr")][-1]
    if last.tag.endswith("}tbl"):
        g.anchor_paragraph(doc)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.docx"
    doc.save(str(path))
    return path


def build_all(out_dir: Path = DEFAULT_DIR) -> list[Path]:
    return [build(name, out_dir) for name in TEMPLATES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.documents.templates_build",
                                     description="重新生成默认公文模板（GB/T 9704-2012 格式）")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help="输出目录（默认 configs/templates）")
    parser.add_argument("names", nargs="*", help="只生成这些模板（默认全部）")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in TEMPLATES]
    if unknown:
        parser.error(f"没有这些模板：{'、'.join(unknown)}；可选：{'、'.join(TEMPLATES)}")
    for name in args.names or TEMPLATES:
        print(build(name, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
