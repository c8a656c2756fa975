"""`python -m flows demo`: a living office at first start.

For every shipped workflow it finds, by running the real engine, a path of
actions to each of its states, then drives one case along each path through the
real service (so documents are issued, linked cases started, deadlines set).
Each case tells one story (`STORIES`: all its answers from the same accident, drill,
plan or enterprise); guards decide between alternatives (a 双盲 drill, a failed
expert review, ...), so every branch shows. All cases are replayed together in time
order, so case numbers, 发文字号 and 纪要期号 run in date order.
"""
from __future__ import annotations

import heapq
import itertools
import random
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flows.core import engine
from flows.core.errors import FlowError
from flows.core.forms import Field
from flows.core.org import SYSTEM
from flows.core.spec import Workflow
from flows.service.retry import on_fresh_case

ENTERPRISES = [
    {"name": "通达客运有限公司", "credit_code": "91320600MA1MXK3P27"},
    {"name": "江海港务有限公司", "credit_code": "91320600MA1NY7QH42"},
    {"name": "顺安危险品运输有限公司", "credit_code": "91320623MA1P8D5R6J"},
    {"name": "通吕路桥建设工程有限公司", "credit_code": "91320600MA1R2T4K87"},
    {"name": "县公共交通有限公司", "credit_code": "91320623MA1Q5W7N39"},
    {"name": "九圩港航运有限公司", "credit_code": "91320681MA1T9H2L6Q"},
]
_E = {e["name"]: e for e in ENTERPRISES}

EXISTING_PLANS = [
    {"name": "县交通运输突发事件综合应急预案", "kind": "综合应急预案", "scenario": "", "owner_unit": "局安委办",
     "version": "2022版", "published": "2022-06-10", "next_assessment": "2025-06-10"},
    {"name": "港口突发事件专项应急预案", "kind": "专项应急预案", "scenario": "港口突发事件",
     "owner_unit": "港航事业发展中心", "version": "2023版", "published": "2023-04-20", "next_assessment": "2026-04-20"},
    {"name": "公路桥梁抢通专项应急预案", "kind": "专项应急预案", "scenario": "路桥抢通", "owner_unit": "建设管理科",
     "version": "2023版", "published": "2023-09-01", "next_assessment": "2026-09-01"},
    {"name": "在建工程施工抢险现场处置方案", "kind": "现场处置方案", "scenario": "工程施工抢险",
     "owner_unit": "建设管理科", "version": "2024版", "published": "2024-03-15", "next_assessment": "2027-03-15"},
    {"name": "公交场站消防应急救援现场处置方案", "kind": "现场处置方案", "scenario": "消防应急救援",
     "owner_unit": "公交公司", "version": "2024版", "published": "2024-05-08", "next_assessment": "2027-05-08"},
]

LATER = "YYYY-MM-DD"  # a date a replay fills in (see _redate)

# One story per case: every answer of a case comes from the same story, so that what its documents say
# hangs together (a bridge collapse is not put down to a tired driver, a 桌面推演 is not called 实战演练).
# A story's value of a field the path decides on (drill_kind, supervised) picks the paths it tells.
# No years in the texts: the cases are spread over several years.
STORIES: dict[str, list[dict[str, Any]]] = {
    "plan_revision": [
        {"plan_name": "县交通运输突发事件综合应急预案", "plan_kind": "综合应急预案", "owner_unit": "局安委办",
         "plan_version": "2022版", "revision_reason": "定期评估", "scenario": None,
         "reason_detail": "预案印发已满三年，按规定开展定期评估。",
         "assessment_result": "预案总体适用，但应急指挥部成员单位与机构改革后的职责不符，信息报送时限与上级新规定不一致，需要修订。",
         "draft_summary": "调整县交通运输应急指挥部组成及成员单位职责；\n补充突发事件信息报送流程图，报送时限由2小时调整为1小时；\n"
                          "简化应急响应分级，明确Ⅳ级响应由局分管领导指挥。",
         "experts": [{"name": "蒋教授", "title": "教授", "unit": "南通大学交通与土木工程学院"},
                     {"name": "沈工", "title": "高级工程师", "unit": "市交通规划设计院"}],
         "attendees": "蒋教授、沈工（评审专家），李卫东（局分管领导），张伟、王芳（局安委办），赵敏（运输管理科），周静（港航事业发展中心）",
         "nonvoting": "县应急管理局、县消防救援大队有关同志", "absent": "郑丽（建设管理科，外出学习）",
         "review_conclusion": "预案结构完整，职责分工明确，响应程序基本可行。建议进一步细化与县级总体应急预案的衔接，补充值班值守和通信保障措施。"},
        {"plan_name": "港口突发事件专项应急预案", "plan_kind": "专项应急预案", "owner_unit": "港航事业发展中心",
         "plan_version": "2023版", "revision_reason": "法规标准变化", "scenario": "港口突发事件",
         "reason_detail": "《港口危险货物安全管理规定》修订施行，对危险货物泄漏事故的应急处置提出了新要求。",
         "assessment_result": "预案关于危险货物泄漏处置和应急物资储备的内容与修订后的规定不符，需要修订。",
         "draft_summary": "依据修订后的《港口危险货物安全管理规定》调整危险货物泄漏处置程序；\n补充港区应急物资储备清单和调用程序；\n"
                          "明确港口经营人的先期处置责任。",
         "experts": [{"name": "蒋教授", "title": "教授", "unit": "南通大学交通与土木工程学院"},
                     {"name": "沈工", "title": "高级工程师", "unit": "市交通规划设计院"}],
         "attendees": "蒋教授、沈工（评审专家），王芳、张伟（局安委办），周静、孙磊（港航事业发展中心），杨经理（江海港务有限公司）",
         "nonvoting": "县应急管理局有关同志", "absent": None,
         "review_conclusion": "预案依据充分，危险货物泄漏处置程序符合新规定要求。建议补充夜间作业时段的应急值守安排。"},
        {"plan_name": "公路桥梁抢通专项应急预案", "plan_kind": "专项应急预案", "owner_unit": "建设管理科",
         "plan_version": "2023版", "revision_reason": "演练或事故暴露问题", "scenario": "路桥抢通",
         "reason_detail": "上一年度汛期路桥抢通演练暴露出抢险队伍集结慢、大型机械调用程序不清的问题。",
         "assessment_result": "预案中应急抢险队伍集结和大型机械调用的程序不清，需要修订。",
         "draft_summary": "明确县域路桥抢险队伍的组成和集结时限；\n补充大型抢险机械社会化调用协议和程序；\n"
                          "增加桥梁受损后的交通管制和绕行方案。",
         "experts": [{"name": "沈工", "title": "高级工程师", "unit": "市交通规划设计院"},
                     {"name": "蒋教授", "title": "教授", "unit": "南通大学交通与土木工程学院"}],
         "attendees": "蒋教授、沈工（评审专家），王芳、张伟（局安委办），郑丽、吴强（建设管理科）",
         "nonvoting": "县公安局交警大队有关同志", "absent": None,
         "review_conclusion": "预案针对性较强，抢险队伍和机械调用程序清晰可行。建议补充夜间抢险照明保障措施。"},
        {"plan_name": "公交场站消防应急救援现场处置方案", "plan_kind": "现场处置方案", "owner_unit": "公交公司",
         "plan_version": "2024版", "revision_reason": "机构职责调整", "scenario": "消防应急救援",
         "reason_detail": "公交公司内设机构调整，安全管理部与场站管理部合并。",
         "assessment_result": "现场处置方案中的岗位职责与调整后的机构设置不符，需要修订。",
         "draft_summary": "按调整后的机构设置明确场站值班长、安全员和驾驶员的处置职责；\n补充新能源公交车火灾的初期处置措施；\n"
                          "更新场站消防器材位置图和疏散路线图。",
         "experts": [{"name": "蒋教授", "title": "教授", "unit": "南通大学交通与土木工程学院"},
                     {"name": "沈工", "title": "高级工程师", "unit": "市交通规划设计院"}],
         "attendees": "蒋教授、沈工（评审专家），王芳（局安委办），卫红、褚亮（公交公司）",
         "nonvoting": "县消防救援大队有关同志", "absent": None,
         "review_conclusion": "处置方案职责明确，处置步骤简明，便于一线人员掌握。建议在场站醒目位置张贴处置流程图。"},
    ],
    "drill": [
        {"drill_name": "港口危险货物泄漏事故实战演练", "plan_name": "港口突发事件专项应急预案", "plan_kind": "专项应急预案",
         "drill_kind": "实战演练", "scenario": "港口突发事件", "owner_unit": "港航事业发展中心", "location": "城北港区3号泊位",
         "participants": "港航事业发展中心、综合行政执法大队、江海港务有限公司应急队伍\n县消防救援大队、县人民医院急救中心\n共约60人",
         "scheme_summary": "模拟城北港区3号泊位一艘化学品船卸货时输油臂法兰泄漏，检验报警、现场警戒、泄漏封堵、人员救护和信息报送各环节。",
         "assembly": "演练当日8时30分在城北港区3号泊位应急指挥车旁集合，参演人员穿戴防护服和救生衣。",
         "participant_count": 60, "execution_summary": "演练按方案完成报警、警戒、封堵、救护和信息报送五个科目，历时1小时40分钟。",
         "attendees": "王芳、张伟（局安委办），周静、孙磊（港航事业发展中心），冯刚（综合行政执法大队），杨经理（江海港务有限公司）",
         "nonvoting": "县消防救援大队有关同志", "absent": None,
         "evaluation": "指挥协调有序，参演队伍响应迅速，泄漏封堵和人员救护达到预期目标；港区部分区域对讲机信号不稳定，信息报送有延误。",
         "problems": [{"problem": "港区部分区域对讲机信号不稳定", "measure": "增设对讲中继台，配备卫星电话",
                       "owner": "港航事业发展中心", "due": LATER},
                      {"problem": "信息报送较规定时限延误约10分钟", "measure": "修订信息报送流程并组织专项培训",
                       "owner": "江海港务有限公司", "due": LATER}],
         "rectification": "已在港区增设对讲中继台2台、配备卫星电话2部，信息报送流程已修订并完成培训。"},
        {"drill_name": "公交场站新能源车辆火灾双盲拉练", "plan_name": "公交场站消防应急救援现场处置方案",
         "plan_kind": "现场处置方案", "drill_kind": "双盲拉练", "scenario": "消防应急救援", "owner_unit": "公交公司",
         "location": "县公交总站停车场", "participants": "公交公司场站值班人员、驾驶员和安全员约30人（不提前通知）",
         "scheme_summary": "不预先通知时间和科目，模拟县公交总站停车场一辆新能源公交车充电时起火，检验值班人员发现报警、切断电源、"
                           "初期灭火和车辆疏散的能力。",
         "assembly": "双盲拉练不提前通知参演人员。",
         "participant_count": 32, "execution_summary": "值班人员发现火情后2分钟内报警并切断充电桩电源，4分钟内完成初期灭火和周边车辆疏散。",
         "attendees": "王芳、张伟（局安委办），卫红、褚亮（公交公司）", "nonvoting": "县消防救援大队有关同志", "absent": None,
         "evaluation": "值班人员处置基本规范，报警和断电及时；部分驾驶员不熟悉灭火毯的使用方法。",
         "problems": [{"problem": "部分驾驶员不会使用灭火毯", "measure": "组织全员消防器材实操培训", "owner": "公交公司",
                       "due": LATER}],
         "rectification": "已组织全体驾驶员和场站人员开展消防器材实操培训，考核全部合格。"},
        {"drill_name": "雨雪冰冻天气路桥抢通桌面推演", "plan_name": "县交通运输突发事件综合应急预案", "plan_kind": "综合应急预案",
         "drill_kind": "桌面推演", "scenario": "路桥抢通", "owner_unit": "局安委办", "location": "局应急指挥中心",
         "participants": "局安委办、运输管理科、建设管理科、港航事业发展中心、综合行政执法大队负责同志\n"
                         "通达客运有限公司、公交公司安全负责人\n共约25人",
         "scheme_summary": "以雨雪冰冻天气导致通吕运河大桥结冰封闭、客运班车滞留为情景，推演预警发布、应急响应启动、路桥抢通、"
                           "客运调度和信息发布的决策流程。",
         "assembly": "演练当日9时在局应急指挥中心集合，各单位带齐本单位应急预案和值班表。",
         "participant_count": 25, "execution_summary": "推演按预警、响应、处置、恢复四个阶段进行，各单位按职责完成决策推演，历时2小时。",
         "attendees": "李卫东（局分管领导），王芳、张伟（局安委办），赵敏（运输管理科），郑丽（建设管理科），周静（港航事业发展中心），"
                      "陈晓（综合行政执法大队）",
         "nonvoting": None, "absent": None,
         "evaluation": "各单位熟悉预案职责，决策流程清晰；与公安交警的路况信息共享渠道有待明确。",
         "problems": [{"problem": "与公安交警的路况信息共享渠道不明确", "measure": "与县公安局交警大队建立路况信息共享机制",
                       "owner": "局安委办", "due": LATER}],
         "rectification": "已与县公安局交警大队建立路况信息共享工作群和联络员制度。"},
        {"drill_name": "公路桥梁水毁抢通实战演练", "plan_name": "公路桥梁抢通专项应急预案", "plan_kind": "专项应急预案",
         "drill_kind": "实战演练", "scenario": "路桥抢通", "owner_unit": "建设管理科", "location": "通吕运河大桥南引桥",
         "participants": "建设管理科、县公路养护应急队伍、通吕路桥建设工程有限公司\n县公安局交警大队\n共约50人",
         "scheme_summary": "模拟暴雨导致通吕运河大桥南引桥路基塌陷，检验交通管制、抢险机械调集、便道抢修和恢复通行各环节。",
         "assembly": "演练当日8时在大桥南侧养护工区集合，车辆机械按编组停放。",
         "participant_count": 50, "execution_summary": "演练完成交通管制、机械调集、便道抢修和恢复通行四个科目，历时3小时。",
         "attendees": "王芳、张伟（局安委办），郑丽、吴强（建设管理科），冯刚（综合行政执法大队）",
         "nonvoting": "县公安局交警大队有关同志", "absent": None,
         "evaluation": "抢险队伍集结迅速，机械调用顺畅，便道抢修质量符合要求；夜间照明设备不足。",
         "problems": [{"problem": "夜间抢险照明设备不足", "measure": "增配移动照明灯塔2台", "owner": "建设管理科",
                       "due": LATER}],
         "rectification": "已增配移动照明灯塔2台并纳入应急物资储备。"},
        {"drill_name": "在建工程支架坍塌抢险实战演练", "plan_name": "在建工程施工抢险现场处置方案", "plan_kind": "现场处置方案",
         "drill_kind": "实战演练", "scenario": "工程施工抢险", "owner_unit": "建设管理科", "location": "通吕运河大桥施工区",
         "participants": "通吕路桥建设工程有限公司项目部管理人员及作业人员\n建设管理科、县人民医院急救中心\n共约40人",
         "scheme_summary": "模拟大桥施工区模板支架局部坍塌、2名作业人员被困，检验现场报警、人员搜救、伤员转运和周边作业停工撤离。",
         "assembly": "演练当日8时30分在施工区项目部门前集合，参演人员佩戴安全帽和安全带。",
         "participant_count": 40, "execution_summary": "演练按方案完成报警、撤离、搜救和转运四个科目，历时1小时20分钟。",
         "attendees": "王芳（局安委办），郑丽、吴强（建设管理科），通吕路桥建设工程有限公司项目经理", "nonvoting": None,
         "absent": None,
         "evaluation": "现场人员撤离有序，搜救和转运衔接顺畅；部分作业人员不清楚应急集合点位置。",
         "problems": [{"problem": "部分作业人员不清楚应急集合点位置", "measure": "在施工区增设集合点标识并开展班前教育",
                       "owner": "通吕路桥建设工程有限公司", "due": LATER}],
         "rectification": "已在施工区增设集合点标识6处，并将应急撤离路线纳入班前教育。"},
    ],
    "blacklist": [
        {"enterprise": _E["通达客运有限公司"], "reason": "重大隐患整改不力",
         "facts": "县交通运输综合行政执法大队两次检查发现，通达客运有限公司12辆营运客车动态监控装置长期离线，属重大事故隐患；"
                  "经责令限期整改，逾期仍未整改。",
         "investigation_findings": "经调取动态监控平台数据并现场复核，上述事实清楚，有现场检查笔录、责令限期整改通知书和平台离线记录为证。",
         "legal_basis": "《中华人民共和国安全生产法》第一百零二条；《安全生产严重失信主体名单管理办法》第四条。",
         "defense_text": "企业称已采购新的动态监控终端，正在安装调试，请求暂缓列入。",
         "review_opinion": "截至复核之日新终端仍未安装使用，车辆离线问题未整改，申辩理由不成立，维持拟列入意见。",
         "measures": ["列为重点监管对象并提高检查频次", "限制享受财政补助和评优评先", "在信用平台公开"]},
        {"enterprise": _E["江海港务有限公司"], "reason": "严重违法违规行为",
         "facts": "江海港务有限公司在未取得港口危险货物作业附证的情况下，在城北港区3号泊位从事危险货物装卸作业3次。",
         "investigation_findings": "经调阅港区作业记录和现场视频，上述事实清楚，有询问笔录、作业单证和视频资料为证。",
         "legal_basis": "《中华人民共和国港口法》第四十八条；《安全生产严重失信主体名单管理办法》第五条。",
         "defense_text": "企业称相关作业为应急转运，事后已补办手续。",
         "review_opinion": "经核查，当事作业不属于应急转运，企业至今未取得作业附证，申辩理由不成立，维持拟列入意见。",
         "measures": ["列为重点监管对象并提高检查频次", "限制参与政府采购和招投标", "通报有关部门实施联合惩戒", "在信用平台公开"]},
        {"enterprise": _E["顺安危险品运输有限公司"], "reason": "严重违法违规行为",
         "facts": "县交通运输综合行政执法大队在路面检查中发现，顺安危险品运输有限公司使用检验不合格的常压罐车运输危险货物，"
                  "驾驶人员未取得相应从业资格。",
         "investigation_findings": "经调查，上述事实清楚，有路面检查记录、罐车检验报告和询问笔录为证。",
         "legal_basis": "《危险货物道路运输安全管理办法》第六十五条；《安全生产严重失信主体名单管理办法》第五条。",
         "defense_text": "企业称涉事罐车为临时租用，对其检验情况不知情。",
         "review_opinion": "租用车辆不免除企业的安全管理责任，申辩理由不成立，维持拟列入意见。",
         "measures": ["列为重点监管对象并提高检查频次", "通报有关部门实施联合惩戒", "在信用平台公开"]},
    ],
    "accident": [
        {"supervised": True, "place": "X354线大豫段K12+300", "accident_type": "道路运输", "occurred_time": "14:30",
         "deaths": 3, "serious_injuries": 5, "direct_loss": 420, "enterprise": _E["通达客运有限公司"],
         "description": "通达客运有限公司一辆大型普通客车沿X354线由东向西行驶至大豫段K12+300弯道处时，与对向越线行驶的重型半挂货车"
                        "发生碰撞，造成客车内3名乘客死亡、5名乘客重伤。",
         "team": [{"name": "王芳", "unit": "局安委办", "duty": "组长"}, {"name": "赵敏", "unit": "运输管理科", "duty": "副组长"},
                  {"name": "冯刚", "unit": "综合行政执法大队", "duty": "成员"}],
         "enterprise_findings": "企业对所属客车动态监控超速、疲劳驾驶报警未及时处置，驾驶员行前安全教育流于形式。",
         "supervision_findings": "运输管理科对该企业动态监控落实情况的年度检查流于形式，未发现报警长期未处置的问题。",
         "territorial_findings": "属地镇对辖区X354线急弯路段的安全隐患排查不深入，警示标志设置不足。",
         "cause": "客车驾驶员连续驾驶超过4小时未按规定休息，疲劳驾驶、超速通过弯道，货车驾驶员越线行驶，是事故发生的直接原因。\n"
                  "企业对动态监控报警未及时处置，安全生产主体责任落实不到位，是事故发生的间接原因。",
         "report_summary": "经调查认定，该起事故是一起因驾驶员疲劳驾驶、超速行驶和企业安全管理缺失引发的较大道路运输生产安全责任事故。",
         "lessons": "各道路客运企业要严格落实“两客一危”车辆动态监控制度，及时处置超速和疲劳驾驶报警。\n"
                    "严格执行驾驶员连续驾驶时间和行前安全教育测评制度。",
         "responsible_persons": [{"name": "钱某某", "role": "通达客运有限公司安全经理", "measure": "行政处罚"},
                                 {"name": "孙某某", "role": "运输管理科科员", "measure": "诫勉谈话"}],
         "rectification": "涉事企业已完成全部营运客车动态监控装置检修，对全体驾驶员开展安全培训和测评。",
         "education": "全县交通运输系统召开事故警示教育大会，观看事故警示片。"},
        {"supervised": True, "place": "通吕运河大桥施工区", "accident_type": "工程建设", "occurred_time": "10:20",
         "deaths": 3, "serious_injuries": 2, "direct_loss": 860, "enterprise": _E["通吕路桥建设工程有限公司"],
         "description": "通吕运河大桥主桥第3跨现浇箱梁浇筑过程中，模板支架局部失稳坍塌，造成5名作业人员坠落，其中3人死亡、2人重伤。",
         "team": [{"name": "王芳", "unit": "局安委办", "duty": "组长"}, {"name": "郑丽", "unit": "建设管理科", "duty": "副组长"},
                  {"name": "吴强", "unit": "建设管理科", "duty": "成员"}],
         "enterprise_findings": "施工单位未按专项施工方案处理支架地基，未组织支架预压验收即浇筑混凝土，现场安全管理人员未到岗履职。",
         "supervision_findings": "建设管理科对该项目危险性较大分部分项工程的监督检查不到位，对监理旁站缺位问题未及时督促整改。",
         "territorial_findings": "属地镇对辖区在建交通工程的安全生产网格化巡查未覆盖夜间和节假日施工。",
         "cause": "支架地基未按专项施工方案处理，立杆间距超出设计要求，混凝土浇筑顺序违反方案规定，导致支架局部失稳坍塌，"
                  "是事故发生的直接原因。\n施工单位未组织支架预压验收，监理单位旁站监理缺位，是事故发生的间接原因。",
         "report_summary": "经调查认定，该起事故是一起因违反专项施工方案、支架失稳坍塌引发的较大工程建设生产安全责任事故。",
         "lessons": "各在建交通工程项目要严格执行危险性较大分部分项工程专项施工方案，支架搭设后须经预压验收合格方可浇筑。\n"
                    "监理单位要落实关键工序旁站监理制度。",
         "responsible_persons": [{"name": "周某某", "role": "通吕路桥建设工程有限公司项目经理", "measure": "移送司法机关"},
                                 {"name": "吴某某", "role": "监理单位总监理工程师", "measure": "行政处罚"},
                                 {"name": "郑某某", "role": "建设管理科科员", "measure": "党纪政务处分"}],
         "rectification": "全县在建交通工程已完成支架工程专项排查，整改隐患23项；涉事项目停工整顿，重新编制专项施工方案并通过专家论证。",
         "education": "组织全县在建交通工程项目管理人员召开警示教育会，开展支架工程安全专题培训。"},
        {"supervised": True, "place": "228国道与S221交叉口", "accident_type": "道路运输", "occurred_time": "06:10",
         "deaths": 3, "serious_injuries": 1, "direct_loss": 580, "enterprise": _E["顺安危险品运输有限公司"],
         "description": "顺安危险品运输有限公司一辆装载柴油的重型罐式货车在228国道与S221交叉口闯红灯，与横向通行的小型客车相撞，"
                        "造成小型客车内3人死亡、1人重伤，罐车部分柴油泄漏。",
         "team": [{"name": "王芳", "unit": "局安委办", "duty": "组长"}, {"name": "赵敏", "unit": "运输管理科", "duty": "副组长"},
                  {"name": "陈晓", "unit": "综合行政执法大队", "duty": "成员"}],
         "enterprise_findings": "企业未落实危险货物运输车辆动态监控，驾驶员长期闯红灯、超速等违法行为未被发现和纠正。",
         "supervision_findings": "运输管理科对该企业的日常监管以书面检查为主，未核查车辆实际运行记录。",
         "territorial_findings": "属地镇对交叉口信号灯损坏报修后的跟踪督办不到位。",
         "cause": "罐车驾驶员闯红灯通过交叉口，是事故发生的直接原因。\n企业对危险货物运输车辆动态监控和驾驶员管理缺失，是事故发生的间接原因。",
         "report_summary": "经调查认定，该起事故是一起因驾驶员违法驾驶和企业安全管理缺失引发的较大道路运输生产安全责任事故。",
         "lessons": "各危险货物道路运输企业要落实车辆动态监控和驾驶员违法行为闭环管理。\n公路交叉口信号设施损坏的，要及时报修并设置临时警示。",
         "responsible_persons": [{"name": "李某某", "role": "顺安危险品运输有限公司驾驶员", "measure": "移送司法机关"},
                                 {"name": "刘某某", "role": "顺安危险品运输有限公司总经理", "measure": "行政处罚"}],
         "rectification": "涉事企业已完成全部罐车动态监控设备检修，对驾驶员违法记录逐一约谈；交叉口信号灯已修复并增设警示标志。",
         "education": "组织全县危险货物运输企业主要负责人和驾驶员开展警示教育。"},
        {"supervised": False, "wide_impact": False, "place": "城北港区3号泊位", "accident_type": "港口",
         "occurred_time": "15:10",
         "deaths": 0, "serious_injuries": 2, "direct_loss": 65, "enterprise": _E["江海港务有限公司"],
         "description": "江海港务有限公司在城北港区3号泊位装卸钢卷作业时，门座起重机吊具钢丝绳断裂，吊具坠落砸中舱内2名作业人员，"
                        "造成2人重伤。",
         "team": [{"name": "王芳", "unit": "局安委办", "duty": "组长"}, {"name": "周静", "unit": "港航事业发展中心", "duty": "副组长"},
                  {"name": "孙磊", "unit": "港航事业发展中心", "duty": "成员"}],
         "enterprise_findings": "企业对起重机钢丝绳日常检查和维护保养制度未落实，作业现场未设置警戒区。",
         "supervision_findings": "港航事业发展中心对该企业起重设备的监督检查未覆盖钢丝绳报废情况。",
         "territorial_findings": "属地街道对港区企业的安全生产网格化巡查存在盲区。",
         "cause": "起重机钢丝绳断丝、磨损超过报废标准仍继续使用，是事故发生的直接原因。\n企业设备管理制度不落实，指挥人员未清场即起吊，"
                  "是事故发生的间接原因。",
         "report_summary": "经调查认定，该起事故是一起因起重设备带病运行、现场管理缺失引发的一般港口生产安全责任事故。",
         "lessons": "各港口企业要严格执行起重设备钢丝绳检查和报废制度。\n起吊作业前要设置警戒区并确认清场。",
         "responsible_persons": [{"name": "陈某某", "role": "江海港务有限公司设备主管", "measure": "行政处罚"},
                                 {"name": "黄某某", "role": "江海港务有限公司现场指挥", "measure": "批评教育"}],
         "rectification": "涉事企业已更换全部门座起重机钢丝绳，修订设备检查制度，对起重作业人员开展专项培训。",
         "education": "组织港区企业召开起重作业安全警示教育会。"},
        {"supervised": False, "wide_impact": False, "place": "县公交总站出站口", "accident_type": "城市公交",
         "occurred_time": "07:40",
         "deaths": 1, "serious_injuries": 0, "direct_loss": 45, "enterprise": _E["县公共交通有限公司"],
         "description": "县公共交通有限公司一辆公交车在县公交总站出站口倒车调头时，驾驶员未观察车后情况，刮倒一名候车乘客，"
                        "致其经抢救无效死亡。",
         "team": [{"name": "王芳", "unit": "局安委办", "duty": "组长"}, {"name": "赵敏", "unit": "运输管理科", "duty": "副组长"},
                  {"name": "褚亮", "unit": "公交公司", "duty": "成员"}],
         "enterprise_findings": "企业站场安全管理制度不落实，出站口倒车未安排专人指挥，站场人车混行。",
         "supervision_findings": "运输管理科对公交场站安全检查未发现出站口人车混行的隐患。",
         "territorial_findings": "属地街道对公交总站周边候车秩序的管理不到位。",
         "cause": "驾驶员倒车前未下车观察、未安排专人指挥，是事故发生的直接原因。\n站场人车混行、未设置隔离设施，企业站场安全管理缺失，"
                  "是事故发生的间接原因。",
         "report_summary": "经调查认定，该起事故是一起因驾驶员违规倒车和站场安全管理缺失引发的一般城市公交生产安全责任事故。",
         "lessons": "各公交场站要实行人车分流，出站口禁止倒车调头。\n确需倒车的，须安排专人指挥。",
         "responsible_persons": [{"name": "蔡某某", "role": "县公共交通有限公司驾驶员", "measure": "移送司法机关"},
                                 {"name": "褚某某", "role": "县公共交通有限公司场站站长", "measure": "行政处罚"}],
         "rectification": "县公交总站已增设隔离护栏和候车区，出站口禁止倒车调头，进站限速每小时5公里。",
         "education": "组织全体公交驾驶员开展安全警示教育和倒车操作培训。"},
        {"supervised": False, "wide_impact": False, "place": "通吕运河九圩港段", "accident_type": "水上交通",
         "occurred_time": "05:50",
         "deaths": 1, "serious_injuries": 0, "direct_loss": 38, "enterprise": _E["九圩港航运有限公司"],
         "description": "九圩港航运有限公司一艘空载货船在通吕运河九圩港段航行时，与对向驶来的砂石船发生碰撞，货船船艏受损，"
                        "1名船员落水死亡。",
         "team": [{"name": "王芳", "unit": "局安委办", "duty": "组长"}, {"name": "周静", "unit": "港航事业发展中心", "duty": "副组长"},
                  {"name": "孙磊", "unit": "港航事业发展中心", "duty": "成员"}],
         "enterprise_findings": "企业对船员值班瞭望制度落实情况疏于检查，船员未按规定穿着救生衣。",
         "supervision_findings": "港航事业发展中心对该航段夜间和凌晨通航秩序的巡查频次不足。",
         "territorial_findings": "属地镇对辖区“三无”砂石船的排查整治不彻底。",
         "cause": "货船值班驾驶员在能见度不良时未保持正规瞭望、未使用安全航速，是事故发生的直接原因。\n船员未穿着救生衣，"
                  "企业安全管理不到位，是事故发生的间接原因。",
         "report_summary": "经调查认定，该起事故是一起因船员瞭望疏忽、企业安全管理不到位引发的一般水上交通生产安全责任事故。",
         "lessons": "各航运企业要严格落实船舶值班瞭望和能见度不良时的安全航行制度。\n船员甲板作业必须穿着救生衣。",
         "responsible_persons": [{"name": "朱某某", "role": "货船值班驾驶员", "measure": "移送司法机关"},
                                 {"name": "何某某", "role": "九圩港航运有限公司安全管理人员", "measure": "行政处罚"}],
         "rectification": "涉事企业已对所属船舶开展安全检查，配齐救生衣并落实甲板作业穿着检查；通吕运河九圩港段已增加巡航频次。",
         "education": "组织辖区航运企业船员开展水上交通安全警示教育。"},
    ],
}

# Texts that follow a choice the path made (a review that failed says so): field → (choice, {value: text})
FOLLOWS: dict[str, tuple[str, dict[Any, str]]] = {
    "assessment_result": ("needs_revision", {False: "预案实施效果良好，组织体系、职责分工和响应程序与现行法规和机构设置相符，无需修订。"}),
    "review_conclusion": ("review_passed", {False: "预案修订稿对部分重要风险的处置措施缺失，应急资源调用程序不清，尚不具备印发条件，"
                                                   "评审不予通过。请按评审意见补充完善后重新组织评审。"}),
    "evaluation": ("problems_found", {False: "演练组织有序，参演人员职责清楚，各科目衔接顺畅，达到了检验预案、锻炼队伍的目的，"
                                             "未发现需要整改的问题。"}),
    "review_opinion": ("defense_accepted", {True: "企业已完成整改并经现场复查合格，申辩理由成立，不予列入。"}),
    "enterprise_findings": ("enterprise_liable", {False: "经调查，事故发生单位已落实安全生产管理制度，未发现与事故发生有直接因果关系的"
                                                         "违法违规行为。"}),
}

# Defaults by field name, for what no story says (and for exploring the paths); a list: one is chosen.
SAMPLES: dict[str, Any] = {
    **{k: [v] for k, v in STORIES["accident"][0].items() if k not in ("supervised", "occurred_time")},
    **{k: [v] for k, v in STORIES["blacklist"][0].items()},
    **{k: [v] for k, v in STORIES["plan_revision"][0].items() if v is not None},
    **{k: [v] for k, v in STORIES["drill"][0].items() if v is not None and k != "drill_kind"},
    "enterprise": ENTERPRISES[:3],
    "enterprise_investigator": ["ygk_liu"], "supervision_investigator": ["gh_sun"],
    "territorial_investigator": ["zf_feng"],
    "disclosure_channel": ["县政府门户网站"],
    "repair_reason": ["企业已完成全部整改并通过复查，列入期间未发生新的失信行为，申请信用修复。"],
    "term_review_opinion": ["列入期限届满，期间未发生新的失信行为，同意移出。"],
    "new_version": ["2025版"],
    "opinion": ["同意，建议补充值班电话。", "无意见。"],
    "review_place": ["局三楼会议室"],
    "filing_agency": ["市交通运输局"],
}

SAMPLES["problems"] = [[{k: v for k, v in row.items() if v != LATER} for row in STORIES["drill"][0]["problems"]]]

# a step the paths take the short way that cases also take otherwise: workflow → (step, [other ways])
DETOURS: dict[str, tuple[str, list[list[str]]]] = {
    "blacklist": ("waive_defense", [["notified.defense_period"], ["record_defense", "review_defense"]]),
}

# dates a step's answers hold that are not the day the step is taken (days after it)
DAYS_AHEAD = {"planned_date": 14, "due": 30}


def _sample(f: Field, rng: random.Random, moment: datetime, cfg_units: list[str], users: list[str]) -> Any:
    if f.name in SAMPLES:
        return rng.choice(SAMPLES[f.name])
    kind = f.kind
    if kind in ("text", "textarea"):
        return f"{f.label}：按要求办理完毕。"
    if kind == "number":
        return int(f.min or 1)
    if kind == "date":
        return (moment + timedelta(days=DAYS_AHEAD.get(f.name, 0))).date().isoformat()
    if kind == "datetime":
        return (moment - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    if kind == "choice":
        return f.options[0]
    if kind == "multichoice":
        return list(f.options)
    if kind == "bool":
        return False
    if kind == "person":
        return users[0]
    if kind == "unit":
        return cfg_units[0]
    if kind == "enterprise":
        return ENTERPRISES[0]
    if kind == "file":
        return []
    if kind == "table":
        return [{c.name: _sample(c, rng, moment, cfg_units, users) for c in f.columns}]
    return None


@dataclass
class Step:
    kind: str  # "act" or "timer"
    action: str = ""
    user: str = ""
    data: dict = field(default_factory=dict)
    comment: str | None = None
    deadline: str = ""
    after: timedelta = timedelta(days=2, hours=1)  # time since the previous step


class Explorer:
    """Finds, with the pure engine, one path of steps to each state of a workflow."""

    def __init__(self, wf: Workflow, ctx: engine.Context, seed: int = 7, keep: dict | None = None):
        self.wf, self.ctx = wf, ctx
        self.keep = keep or {}  # answers every variant keeps (a story's drill_kind: its own paths)
        self.rng = random.Random(seed)
        self.units = sorted(u.name for u in ctx.org.units if u.kind == "department")
        self.users = [u.id for u in ctx.org.users]

    def form_variants(self, form_name: str | None, moment: datetime) -> list[dict]:
        if form_name is None:
            return [{}]
        fields = self.wf.forms[form_name].fields
        base = {f.name: _sample(f, random.Random(zlib.crc32(f"{form_name}.{f.name}".encode())), moment, self.units,
                                self.users)
                for f in fields}  # the same samples on every run (str hashes differ between processes)
        flags = [f for f in fields if f.kind == "bool"][:3]
        choices = [f for f in fields if f.kind == "choice" and self._in_guards(f.name)][:1]
        variants = []
        for combo in itertools.product(*[[True, False] for _ in flags], *[f.options for f in choices]):
            v = dict(base)
            for f, value in zip(flags + choices, combo, strict=True):
                v[f.name] = value
            variants.append(v)
        return [v for v in variants if all(v.get(k, x) == x for k, x in self.keep.items())]

    def _in_guards(self, name: str) -> bool:
        return any(t.guard and name in t.guard for t in self.wf.transitions)

    def _actor_for(self, case: dict, action: str):
        for uid in self.users:
            actor = self.ctx.org.actor(uid)
            if any(a.name == action for a in engine.available_actions(self.wf, self.ctx, case, actor)):
                return actor
        return None

    def paths(self, start_time: datetime) -> dict[str, list[Step]]:
        """State name → steps (the first being the start form data) that reach it."""
        found: dict[str, list[Step]] = {}
        queue: deque = deque()
        for data in self.form_variants(self.wf.start_form, start_time):
            starter = next((self.ctx.org.actor(u) for u in self.users
                            if any(self.ctx.org.actor(u).has_role(r) for r in self.wf.start_roles)), SYSTEM)
            try:
                out = engine.new_case(self.wf, self.ctx, case_id="DEMO", actor=starter, data=data, now=start_time)
            except FlowError:
                continue
            queue.append((out.case, [Step("start", user=starter.id, data=data)], start_time))
        seen: set = set()
        while queue and len(found) < len(self.wf.states):
            case, steps, moment = queue.popleft()
            key = (tuple(sorted(case["active"])),
                   tuple(sorted((t, p) for t, signs in case["countersigns"].items() for p in signs)),
                   tuple(sorted((d["id"], d["status"]) for d in case["deadlines"])))
            if key in seen or len(steps) > 25:
                continue
            seen.add(key)
            for s in case["active"]:
                found.setdefault(s, steps)
            for nxt in self._next(case, moment):
                queue.append((nxt[0], steps + [nxt[1]], nxt[2]))
        return found

    def _replay(self, steps: list[Step], start_time: datetime) -> tuple[dict, datetime]:
        """`steps` in the pure engine: the case at their end and the moment it got there."""
        first, moment = steps[0], start_time
        case = engine.new_case(self.wf, self.ctx, case_id="DEMO", actor=self.ctx.org.actor(first.user),
                               data=first.data, now=moment).case
        for step in steps[1:]:
            if step.kind == "timer":
                d = next(x for x in case["deadlines"] if x["id"] == step.deadline)
                moment = max(moment, engine.parse_moment(d["due"]) + timedelta(minutes=1))
                case = engine.apply_deadline(self.wf, self.ctx, case, step.deadline, moment).case
            else:
                moment += step.after
                case = engine.fire(self.wf, self.ctx, case, action=step.action, actor=self.ctx.org.actor(step.user),
                                   now=moment, data=step.data, comment=step.comment).case
        return case, moment

    def detour(self, steps: list[Step], start_time: datetime, instead: str, route: list[str]) -> list[Step] | None:
        """The path with its step `instead` taken another way: `route`, transitions or timers ("state.timer"),
        each with the first answers that pass; None when the path does not take `instead` or its rest no
        longer follows."""
        at = next((i for i, step in enumerate(steps) if step.action == instead), None)
        if at is None:
            return None
        case, moment = self._replay(steps[:at], start_time)
        taken: list[Step] = []
        try:
            for name in route:
                if "." in name:
                    d = next(x for x in case["deadlines"] if x["id"] == name and x["status"] == "pending")
                    moment = max(moment, engine.parse_moment(d["due"]) + timedelta(minutes=1))
                    case = engine.apply_deadline(self.wf, self.ctx, case, name, moment).case
                    taken.append(Step("timer", deadline=name))
                    continue
                t, actor = self.wf.transition(name), self._actor_for(case, name)
                later = moment + timedelta(days=2, hours=1)
                for data in self.form_variants(t.form, later) if actor else []:
                    try:
                        case = engine.fire(self.wf, self.ctx, case, action=name, actor=actor, now=later, data=data).case
                    except FlowError:
                        continue
                    taken.append(Step("act", name, actor.id, data))
                    moment = later
                    break
                else:
                    return None
            path = steps[:at] + taken + steps[at + 1:]
            self._replay(path, start_time)
        except (FlowError, StopIteration):
            return None
        return path

    def _next(self, case: dict, moment: datetime):
        if case["status"] != "open":
            return
        for t in self.wf.transitions:
            if not engine._open_source(t, case):
                continue
            actor = self._actor_for(case, t.name)
            if actor is None:
                continue
            comment = "请按意见修改后重新提交。" if t.needs_comment else None
            # a guard on `today` (e.g. 信用修复 after a minimum period) may need time to pass
            waits = [timedelta(days=2, hours=1)] + ([timedelta(days=800)] if t.guard and "today" in t.guard else [])
            found = False
            for wait in waits:
                later = moment + wait
                for data in self.form_variants(t.form, later):
                    try:
                        out = engine.fire(self.wf, self.ctx, case, action=t.name, actor=actor, now=later,
                                          data=data, comment=comment)
                    except FlowError:
                        continue
                    yield out.case, Step("act", t.name, actor.id, data, comment, after=wait), later
                    found = True
                    break
                if found:
                    break
        for d in case["deadlines"]:
            if d["status"] == "pending" and d["due"]:
                when = engine.parse_moment(d["due"]) + timedelta(minutes=1)
                out = engine.apply_deadline(self.wf, self.ctx, case, d["id"], when)
                if out.events and out.events[0]["type"] == "timer":
                    yield out.case, Step("timer", deadline=d["id"]), when


def _is_date(v: Any) -> bool:
    return isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-"


def _redate(data: dict, moment: datetime, fixed: dict | None = None, hour: str | None = None) -> dict:
    """Dates in sample answers follow the moment the step is replayed at (those in `fixed` are kept:
    a drill's date is the day it is carried out), a date in a table (a 完成时限) a month later; a
    datetime (an accident's) is the day before, at `hour` when given."""
    out = {}
    for k, v in data.items():
        if fixed and k in fixed:
            v = fixed[k]
        elif _is_date(v):
            v = (moment + timedelta(days=DAYS_AHEAD.get(k, 0))).date().isoformat()
        elif isinstance(v, str) and len(v) == 16 and v[10] == "T":
            v = (moment - timedelta(days=1)).strftime("%Y-%m-%dT") + (hour or moment.strftime("%H:%M"))
        elif isinstance(v, list) and v and all(isinstance(r, dict) for r in v):
            later = (moment + timedelta(days=DAYS_AHEAD["due"])).date().isoformat()
            v = [{c: later if _is_date(x) else x for c, x in r.items()} for r in v]
        out[k] = v
    return out


def _decided(wf: Workflow) -> set[str]:
    """The fields whose value decides the path (a flag, a choice a guard reads): a story never changes them."""
    guards = " ".join(t.guard or "" for t in wf.transitions)
    return {f.name for form in wf.forms.values() for f in form.fields
            if f.kind == "bool" or (f.kind == "choice" and f.name in guards)}


def _story(wf: Workflow, steps: list[Step], persona: int) -> dict:
    """The persona-th story of the workflow among those that agree with the path's decided answers."""
    stories = STORIES.get(wf.name, [])
    decided = _decided(wf)
    answers = {k: v for step in steps for k, v in step.data.items() if k in decided}
    fitting = [s for s in stories if all(answers.get(k, v) == v for k, v in s.items() if k in decided)] or stories
    return fitting[persona % len(fitting)] if fitting else {}


def _tell(wf: Workflow, data: dict, story: dict, moment: datetime) -> dict:
    """A step's sample answers told by the story: its values, and the texts that follow a decided answer."""
    decided = _decided(wf)
    out = dict(data)
    for k in data:
        if k in story and k not in decided:
            out[k] = story[k]
        if k == "new_version":
            out[k] = f"{moment.year}版"
    for k, (choice, texts) in FOLLOWS.items():
        if k in out and choice in out and out[choice] in texts:
            out[k] = texts[out[choice]]
    return out


def _moments(steps: list[Step], start: datetime) -> list[datetime | None]:
    """When each step will be replayed, as far as it is known before (a timer waits on the case)."""
    out: list[datetime | None] = [start]
    moment: datetime | None = start
    for step in steps[1:]:
        moment = None if moment is None or step.kind == "timer" else moment + step.after
        out.append(moment)
    return out


def _drill_dates(wf: Workflow, steps: list[Step], start: datetime) -> dict:
    """A drill's date is the day it is carried out (else a week after the path ends, still to come);
    its period (如“2025年上半年”) follows from it."""
    moments = _moments(steps, start)
    done = next((m for step, m in zip(steps, moments, strict=True) if step.action == "execute" and m), None)
    if done is None:  # still to come: about a week after the demo's today (its paths end about then)
        done = start + _duration(steps, wf) + timedelta(days=7)
    kind = next((step.data.get("plan_kind") for step in steps if step.data.get("plan_kind")), "")
    half = "上半年" if done.month <= 6 else "下半年"
    return {"planned_date": done.date().isoformat(),
            "period": f"{done.year}年{half}" if kind == "现场处置方案" else f"{done.year}年度"}


def _replay(svc, wf: Workflow, steps: list[Step], start: datetime, persona: int = 0, story: dict | None = None):
    """Replay a path through the real service, starting at `start`, one or two days per step. A generator:
    it yields the moment of its next step before taking it (so several replays can be merged in time
    order) and returns the case."""
    story = story if story is not None else _story(wf, steps, persona)
    fixed = _drill_dates(wf, steps, start) if wf.name == "drill" else {}
    moment = start
    yield moment
    hour = story.get("occurred_time")
    case = svc.start(wf.name, steps[0].user, _redate(_tell(wf, steps[0].data, story, moment), moment, fixed, hour),
                     now=moment)
    for step in steps[1:]:
        if step.kind == "timer":
            d = next(x for x in case["deadlines"] if x["id"] == step.deadline)
            moment = max(moment, engine.parse_moment(d["due"]) + timedelta(minutes=1))
            yield moment
            svc.apply_deadline(case["id"], step.deadline, moment)
        else:
            moment += step.after
            yield moment
            case = _act(svc, case["id"], step.action, step.user,
                        _redate(_tell(wf, step.data, story, moment), moment, fixed, hour),
                        comment=step.comment, now=moment)
        case = svc.case(case["id"])
    return case


def _act(svc, case_id: str, action: str, user: str, data: dict, comment: str | None, now: datetime) -> dict:
    """One step. Handed to a running stack, its serving process writes a case (a document issued) while
    the demo moves on: a step that read the case before that write is taken again on the case as it is."""
    return on_fresh_case(lambda: svc.act(case_id, action, user, data, comment=comment, now=now))


def drive(svc, wf: Workflow, steps: list[Step], start: datetime, persona: int = 0) -> dict | None:
    """Replay a path through the real service, starting at `start`, one or two days per step."""
    replay = _replay(svc, wf, steps, start, persona)
    try:
        while True:
            next(replay)
    except StopIteration as done:
        return done.value


def _drive_all(svc, runs: list[tuple]) -> list[dict]:
    """Replay every path at once, step by step in time order across all cases, with the service's clock
    at each step's moment: case numbers, 发文字号 and 纪要期号 then run in date order, and a case a step
    starts (事故 → 黑名单) is started that day."""
    clock = svc.clock
    results: list[dict] = [{} for _ in runs]
    queue: list[tuple[datetime, int, Any]] = []
    for i, run in enumerate(runs):
        replay = _replay(svc, *run)
        queue.append((next(replay), i, replay))
    heapq.heapify(queue)
    try:
        while queue:
            moment, i, replay = heapq.heappop(queue)
            svc.clock = lambda moment=moment: moment
            try:
                heapq.heappush(queue, (next(replay), i, replay))
            except StopIteration as done:
                results[i] = done.value
    finally:
        svc.clock = clock
    return results


def _duration(steps: list[Step], wf: Workflow) -> timedelta:
    """A generous estimate of how long a path takes, so it can end before today."""
    total = timedelta(days=3 * len(steps)) + sum((s.after for s in steps), timedelta())
    for step in steps:
        if step.kind == "timer":
            state = wf.state(step.deadline.split(".")[0])
            timer = next(t for t in state.timers if t.name == step.deadline.split(".")[1])
            amount = timer.after if isinstance(timer.after, int) else wf.settings.get(timer.after.split(".")[-1], 30)
            total += timedelta(days={"days": 1, "workdays": 2, "months": 31, "years": 366}[timer.unit] * int(amount))
    return total


def fill(data_dir: str | None, cases: int = 0, now: datetime | None = None, stack=None) -> dict:
    """Fill the data directory. With `stack` (a `flows.orchestration.handoff.RunningStack` on it) the
    cases' effects are handed to that stack, as the app's are, so each case's runs are in its Prefect UI;
    without, they run here right after each step."""
    from flows.service import open_service

    svc = stack.service() if stack is not None else open_service(data_dir)
    now = now or datetime.now().replace(microsecond=0)
    for plan in EXISTING_PLANS:  # the plans in force before the platform: the drill plan reads them
        svc.register_put("plans", plan["name"], plan)
    summary: dict[str, Any] = {"data_dir": str(Path(svc.store.data_dir) if hasattr(svc.store, "data_dir") else data_dir),
                               "workflows": {}}
    runs, made_by = [], []
    for name, wf in sorted(svc.config.workflows.items()):
        explorer = Explorer(wf, svc.ctx)
        paths = explorer.paths(datetime(now.year - 1, 1, 4, 9, 0))
        ordered = sorted(paths.items(), key=lambda kv: len(kv[1]))
        for i, (state, steps) in enumerate(ordered):
            if name in DETOURS:  # every way through the step shows (陈述申辩: responded, waived, lapsed)
                instead, routes = DETOURS[name]
                route = ([None] + routes)[i % (len(routes) + 1)]
                steps = route and explorer.detour(steps, datetime(now.year - 1, 1, 4, 9, 0), instead, route) or steps
            start = (now - _duration(steps, wf)).replace(hour=9, minute=0, second=0)
            runs.append((wf, steps, start, i))
            made_by.append((name, state))
        told = [_story(wf, steps, i) for i, (_, steps) in enumerate(ordered)]
        for story in STORIES.get(name, []):  # a story no path told (a 双盲拉练): its own path, to the furthest state
            if any(story is t for t in told):
                continue
            keep = {k: v for k, v in story.items() if k in _decided(wf)}
            own = Explorer(wf, svc.ctx, keep=keep).paths(datetime(now.year - 1, 1, 4, 9, 0))
            if own:
                steps = max(own.values(), key=len)
                start = (now - _duration(steps, wf)).replace(hour=9, minute=0, second=0)
                runs.append((wf, steps, start, 0, story))
                made_by.append((name, None))
        for i in range(cases // max(1, len(svc.config.workflows))):  # extra volume for trying things at scale
            state, steps = ordered[i % len(ordered)]
            start = (now - _duration(steps, wf) - timedelta(days=i % 300)).replace(hour=9, minute=0, second=0)
            runs.append((wf, steps, start, i))
            made_by.append((name, None))
        summary["workflows"][name] = {"states": len(wf.states), "cases": {},
                                      "unreached": sorted(s.name for s in wf.states if s.name not in paths)}
    for (name, state), case in zip(made_by, _drive_all(svc, runs), strict=True):
        if state is not None:
            summary["workflows"][name]["cases"][state] = case["id"]
    summary["sweep"] = len(svc.sweep(now))
    summary["accounts"] = demo_accounts(svc)
    if stack is None:
        summary["effects"] = "处理（出具文书、关联案件、台账、提醒）已在本进程内执行"
    else:
        from flows.orchestration.handoff import finish

        lines = finish(stack, svc, listed=0)
        summary["effects"] = "\n".join(lines) or f"没有需要交给{stack.described}执行的处理"
    svc.close()
    return summary


DEMO_PASSWORD = "Demo#2026"


def demo_accounts(svc) -> list[dict]:
    """Every person of the organisation may sign in with the demo password; one account per role is
    listed (demo data only: a real data directory starts with no password at all)."""
    listed: dict[str, dict] = {}
    for person in svc.accounts.people():
        if not person["has_password"]:
            svc.accounts.reset_password("demo", person["id"], DEMO_PASSWORD, must_change=False)
        for role in person["roles"]:
            listed.setdefault(role, {"role": role, "user": person["id"], "name": person["name"],
                                     "unit": person["unit"], "password": DEMO_PASSWORD})
    return list(listed.values())
