"""Realistic contexts for every default template (user text includes < & > on purpose)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from flows.documents.filters import chinese_date, format_doc_number, format_issue_number
from flows.documents.statistics import statistics_context
from flows.service.config import load_config

ROOT = Path(__file__).resolve().parents[2]

TODAY = date(2024, 3, 5)


def doc(prefix: str | None, seq: int, title: str, **over) -> dict:
    d = {
        "number": format_doc_number(prefix, 2024, seq) if prefix else format_issue_number(seq),
        "issuer": "县交通运输局",
        "date": chinese_date(TODAY),
        "title": title,
        "addressee": "局各科室、各单位",
        "cc": "县安委办，县应急管理局",
        "printed_by": "县交通运输局办公室",
        "printed_date": chinese_date(TODAY),
        "banner": "县交通运输局文件",
    }
    d.update(over)
    return d


def case(workflow: str, case_id: str, title: str, data: dict) -> dict:
    return {"id": case_id, "title": title, "workflow": workflow, "unit": "局安委办",
            "created_at": "2024-01-08T09:30:00", "data": data}


ENTERPRISE = {"name": "县顺达客运有限公司", "credit_code": "91320000MA1XXXXX0Y"}

PLAN_DATA = {
    "plan_name": "县交通运输局道路运输突发事件应急预案",
    "plan_kind": "专项应急预案",
    "owner_unit": "运输管理科",
    "plan_version": "2021版",
    "new_version": "2024版",
    "revision_reason": "定期评估",
    "draft_summary": "调整了应急指挥部成员单位及职责分工；\n细化了Ⅳ级响应的启动条件（死亡人数<3人 & 重伤<10人）；\n补充了极端天气下的客运车辆停运措施。",
    "review_date": "2024-02-20",
    "review_place": "局三楼会议室",
    "experts": [
        {"name": "王建国", "title": "高级工程师", "unit": "市交通运输局综合规划科"},
        {"name": "李红梅", "title": "教授", "unit": "省交通职业技术学院"},
        {"name": "赵志强", "title": "注册安全工程师", "unit": "市安全生产科学研究院"},
    ],
    "attendees": "王建国、李红梅、赵志强（评审专家），张明（局党组成员、副局长），局安委办、运输管理科负责同志",
    "nonvoting": ["县应急管理局孙伟", "县消防救援大队周强"],
    "absent": "港航事业发展中心吴刚（公出）",
    "review_conclusion": "预案结构完整，职责明确，响应程序基本可行。\n建议进一步明确与县级总体预案的衔接关系 & 补充通讯保障措施。",
    "review_passed": True,
    "publish_date": "2024-03-05",
}

DRILL_DATA = {
    "drill_name": "2024年道路客运车辆火灾事故应急演练",
    "plan_name": "县顺达客运有限公司车辆火灾现场处置方案",
    "plan_kind": "现场处置方案",
    "drill_kind": "实战演练",
    "scenario": "消防应急救援",
    "planned_date": "2024-04-15",
    "owner_unit": "运输管理科",
    "period": "2024年上半年",
    "location": "县汽车客运站东侧停车场",
    "participants": "县顺达客运有限公司驾驶员、安全员等30人\n县汽车客运站工作人员10人\n县消防救援大队",
    "scheme_summary": "模拟一辆载有35名乘客的客车在进站途中发动机舱起火，驾驶员<应急处置>、乘客疏散、初期火灾扑救和伤员救护。",
    "assembly": "4月15日上午8时30分在县汽车客运站一楼大厅集合，参演人员统一着装，携带个人防护用品。",
    "notice_date": "2024-04-08",
    "executed_date": "2024-04-15",
    "participant_count": 52,
    "execution_summary": "演练按方案完成了报警、疏散、灭火和救护四个科目，用时18分钟。",
    "evaluation_date": "2024-04-18",
    "attendees": "张明、刘洋、陈静、县顺达客运有限公司总经理黄海",
    "nonvoting": "县消防救援大队周强",
    "absent": "",
    "evaluation": "演练组织有序，参演人员职责清楚，基本达到了检验预案、锻炼队伍的目的。",
    "problems_found": True,
    "problems": [
        {"problem": "部分乘客不清楚安全锤位置 & 使用方法", "measure": "开展乘客安全告知<视频>宣传",
         "owner": "县顺达客运有限公司", "due": "2024-05-31"},
        {"problem": "车载灭火器压力不足", "measure": "全面检查更换车载灭火器", "owner": "县顺达客运有限公司",
         "due": "2024-04-30"},
    ],
}

BLACKLIST_DATA = {
    "enterprise": ENTERPRISE,
    "reason": "重大隐患整改不力",
    "facts": "2023年11月，县交通运输综合行政执法大队检查发现你单位3辆营运客车动态监控装置长期离线 & 驾驶员疲劳驾驶报警未处置<共计126次>。\n经责令限期整改，逾期仍未完成整改。",
    "investigation_findings": "上述事实有现场检查笔录、责令限期整改通知书和动态监控平台数据为证。",
    "legal_basis": "《安全生产失信行为联合惩戒对象管理办法》第五条",
    "decision_date": "2024-03-05",
    "defense_outcome": "期满未提出陈述申辩",   # computed by the workflow: the period ran out
    "measures": ["列为重点监管对象并提高检查频次", "限制参与政府采购和招投标", "在信用平台公开"],
}

ACCIDENT_DATA = {
    "occurred_at": "2024-01-12T14:30:00",
    "place": "G204国道县城段K12+300处",
    "accident_type": "道路运输",
    "deaths": 3,
    "serious_injuries": 2,
    "direct_loss": 356.5,
    "level": "较大",
    "description": "2024年1月12日14时30分许，县顺达客运有限公司一辆大型普通客车行驶至G204国道县城段K12+300处时，与一辆重型半挂货车追尾碰撞。\n事故造成客车内3名乘客死亡、2名乘客重伤。",
    "enterprise": ENTERPRISE,
    "supervised": True,
    "team": [
        {"name": "张明", "unit": "县交通运输局", "duty": "组长"},
        {"name": "刘洋", "unit": "县交通运输局安委办", "duty": "副组长"},
        {"name": "陈静", "unit": "县公安局交警大队", "duty": "成员"},
    ],
    "enterprise_findings": "企业未落实动态监控主体责任，对驾驶员超速报警（车速>80km/h）未及时处置 & 安全教育流于形式。",
    "supervision_findings": "运输管理科对该企业动态监控落实情况检查不到位。",
    "territorial_findings": "乡镇政府对辖区道路交通安全隐患排查不深入。",
    "cause": "客车驾驶员未与前车保持安全距离，超速行驶，是事故发生的直接原因。\n企业安全管理缺失是事故发生的间接原因。",
    "report_summary": "经调查认定，这是一起因驾驶员违法驾驶、企业安全管理缺失引发的较大道路运输生产安全责任事故。",
    "lessons": "各客运企业要严格落实动态监控“三个100%”要求，加强驾驶员安全教育。",
    "responsible_persons": [
        {"name": "王某", "role": "县顺达客运有限公司驾驶员", "measure": "移送司法机关"},
        {"name": "李某", "role": "县顺达客运有限公司总经理", "measure": "行政处罚"},
        {"name": "赵某", "role": "县交通运输局运输管理科科长", "measure": "党纪政务处分"},
    ],
    "rectification": "涉事企业已完成全部营运客车动态监控装置检修，对126名驾驶员开展了警示教育。",
    "education": "全县交通运输系统召开事故警示教育大会，观看事故警示片。",
    "wide_impact": False,
}

ACCIDENTS_Q1 = [
    {"accident_type": "道路运输", "level": "较大", "deaths": 3, "serious_injuries": 2, "direct_loss": 356.5},
    {"accident_type": "道路运输", "level": "一般", "deaths": 1, "serious_injuries": 0, "direct_loss": 12.3},
    {"accident_type": "水上交通", "level": "一般", "deaths": 0, "serious_injuries": 1, "direct_loss": 48},
    {"accident_type": "工程建设", "deaths": 2, "serious_injuries": 0, "direct_loss": 80.25},
]

DRILL_PLAN_ROWS = [
    {"seq": 1, "plan_name": "县交通运输局综合应急预案", "plan_kind": "综合应急预案", "drill_kind": "桌面推演",
     "scenario": "", "planned_date": "2024-03-15", "owner_unit": "局安委办", "period": "2024年度"},
    {"seq": 2, "plan_name": "县汽车客运站客流疏散现场处置方案", "plan_kind": "现场处置方案", "drill_kind": "实战演练",
     "scenario": "客运站场疏散", "planned_date": "2024-04-15", "owner_unit": "运输管理科", "period": "2024年上半年"},
    {"seq": 3, "plan_name": "县交通运输局道路运输突发事件应急预案", "plan_kind": "专项应急预案",
     "drill_kind": "实战演练", "scenario": "路桥抢通", "planned_date": "2024-06-17", "owner_unit": "建设管理科",
     "period": "2024年度"},
    {"seq": 4, "plan_name": "县汽车客运站客流疏散现场处置方案", "plan_kind": "现场处置方案", "drill_kind": "实战演练",
     "scenario": "客运站场疏散", "planned_date": "2024-10-15", "owner_unit": "运输管理科", "period": "2024年下半年"},
    {"seq": 5, "plan_name": "县顺达客运有限公司全员应急疏散逃生演练", "plan_kind": "现场处置方案",
     "drill_kind": "实战演练", "scenario": "全员应急疏散逃生", "planned_date": "2024-11-15",
     "owner_unit": "县顺达客运有限公司", "period": "2024年度"},
]


def contexts() -> dict[str, dict]:
    """Template name → the context the service would pass."""
    plan = case("plan_revision", "YA-2024-0003", "道路运输突发事件应急预案修订", PLAN_DATA)
    drill = case("drill", "YL-2024-0007", DRILL_DATA["drill_name"], DRILL_DATA)
    black = case("blacklist", "HMD-2024-0002", "县顺达客运有限公司失信黑名单", BLACKLIST_DATA)
    acc = case("accident", "SG-2024-0001", "G204国道县城段K12+300处道路运输事故", ACCIDENT_DATA)
    # what the service adds to a case (flows.service.effects.document_context): the documents it issued
    # before, and its running periods (the 公示期 entered on 5 March: 7 working days, 6 to 14 March)
    black["documents"] = {"blacklist_prior_notice": {"number": "县交信告〔2024〕2号", "date": "2024-02-26",
                                                     "title": "安全生产失信行为事先告知书"}}
    black["periods"] = {"publicity_period": {"start": "2024-03-06", "end": "2024-03-14", "days": 7}}
    blacklist_extra = {
        "defense_days": 5, "defense_deadline": "2024-03-12", "listing_years": 3, "repair_min_years": 1,
        "publicity_days": 7, "contact": "刘洋 0513-8888 1234",
    }
    accident_wf = load_config(ROOT / "configs").workflows["accident"]  # judges the level of a row without one
    stats = statistics_context("2024年第一季度", ACCIDENTS_Q1, workflow=accident_wf,
                               analysis="一季度事故集中在道路运输领域 & 春运期间，占事故总数的50%。\n建议加强节假日客运安全监管。")
    enterprise_doc = {"addressee": ENTERPRISE["name"]}
    return {
        "plan_publish_notice": {"case": plan, "doc": doc("县交安", 12, f"关于印发《{PLAN_DATA['plan_name']}》的通知"),
                                "extra": {"filing_workdays": 20, "reassess_years": 3}},
        "expert_review_minutes": {"case": plan, "doc": doc(None, 3, f"《{PLAN_DATA['plan_name']}》专家评审会议纪要",
                                                           minutes="专家评审会议纪要", issuer="县交通运输局安委办",
                                                           date="2024年2月20日", cc="局领导，各科室")},
        "annual_drill_plan": {"doc": doc("县交安", 5, "关于印发2024年度应急演练计划的通知"), "rows": DRILL_PLAN_ROWS,
                              "extra": {"year": 2024}},
        "drill_notice": {"case": drill, "doc": doc("县交安", 21, f"关于开展{DRILL_DATA['drill_name']}的通知",
                                                   addressee="县顺达客运有限公司，县汽车客运站，县消防救援大队")},
        "drill_evaluation_minutes": {"case": drill, "doc": doc(None, 4, f"{DRILL_DATA['drill_name']}评估会议纪要",
                                                               minutes="应急演练评估会议纪要",
                                                               issuer="县交通运输局安委办")},
        "blacklist_prior_notice": {"case": black, "doc": doc("县交信告", 2, "安全生产失信行为事先告知书", **enterprise_doc),
                                   "extra": blacklist_extra},
        "blacklist_decision": {"case": black, "doc": doc("县交信决", 1,
                                                         f"关于将{ENTERPRISE['name']}列入安全生产失信黑名单的决定",
                                                         **enterprise_doc, cc="县发展和改革委员会，县市场监督管理局"),
                               "extra": blacklist_extra},
        "blacklist_publicity": {"case": black, "doc": doc("县交信公", 1, "安全生产失信黑名单公示", addressee=""),
                                "extra": blacklist_extra},
        "accident_report": {"case": acc, "doc": doc("县交调", 1, "G204国道县城段“1·12”较大道路运输事故调查报告",
                                                    addressee="县交通运输局", issuer="“1·12”事故调查组")},
        "accident_warning": {"case": acc, "doc": doc("县交安通", 3, "关于G204国道县城段“1·12”较大道路运输事故的警示通报")},
        "accident_statistics": {"doc": doc("县交安统", 1, "2024年第一季度交通运输安全生产事故统计分析报告"), **stats},
    }
