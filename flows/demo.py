"""`python -m flows demo`: a living office at first start.

For every shipped workflow it finds, by running the real engine, a path of
actions to each of its states, then drives one case along each path through the
real service (so documents are issued, linked cases started, deadlines set).
Form answers come from realistic samples by field name; guards decide between
alternatives (a 双盲 drill, a failed expert review, ...), so every branch shows.
"""
from __future__ import annotations

import itertools
import random
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

ENTERPRISES = [
    {"name": "通达客运有限公司", "credit_code": "91320600MA1MXK3P27"},
    {"name": "江海港务有限公司", "credit_code": "91320600MA1NY7QH42"},
    {"name": "顺安危险品运输有限公司", "credit_code": "91320623MA1P8D5R6J"},
]

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

# Realistic answers by field name; a callable gets (rng, moment).
SAMPLES: dict[str, Any] = {
    "place": ["X354线大豫段K12+300", "228国道与S221交叉口", "城北港区3号泊位", "县客运总站", "通吕运河大桥施工区"],
    "accident_type": ["道路运输", "道路运输", "港口", "城市公交", "工程建设"],
    "description": ["一辆重型半挂货车与一辆小型客车在弯道处发生碰撞，造成人员伤亡和车辆损坏。",
                    "货车在交叉口闯红灯与横向通行的电动自行车相撞。",
                    "装卸作业过程中门座起重机吊具坠落，造成作业人员受伤。",
                    "客运站出站口车辆倒车时刮倒候车旅客。",
                    "桥梁施工中模板支架局部失稳坍塌，造成作业人员坠落。"],
    "deaths": [0, 1, 3], "serious_injuries": [0, 2, 5], "direct_loss": [35.5, 180.0, 1200.0],
    "enterprise": ENTERPRISES,
    "team": [[{"name": "王芳", "unit": "局安委办", "duty": "组长"}, {"name": "赵敏", "unit": "运输管理科", "duty": "成员"}]],
    "enterprise_investigator": ["ygk_liu"], "supervision_investigator": ["gh_sun"],
    "territorial_investigator": ["zf_feng"],
    "enterprise_findings": ["企业未落实驾驶员行前安全教育，车辆动态监控“装而不用”。"],
    "supervision_findings": ["运输管理科对该企业的年度检查流于形式，未发现动态监控问题。"],
    "territorial_findings": ["属地镇安全生产网格化管理存在盲区，领导挂钩联系督查未覆盖该企业。"],
    "cause": ["驾驶员疲劳驾驶、超速行驶，企业安全生产主体责任落实不到位。"],
    "report_summary": ["经调查认定，该起事故是一起生产安全责任事故。"],
    "lessons": ["加强“两客一危”车辆动态监控，严格落实驾驶员行前安全教育测评。"],
    "responsible_persons": [[{"name": "钱某某", "role": "企业安全经理", "measure": "行政处罚"},
                             {"name": "孙某某", "role": "运输管理科科员", "measure": "诫勉谈话"}]],
    "rectification": ["已完成动态监控平台整改和全员安全培训，隐患全部销号。"],
    "education": ["组织全系统警示教育大会一次，观看事故警示片。"],
    "disclosure_channel": ["县政府门户网站"],
    "reason": ["重大隐患整改不力", "严重违法违规行为"],
    "facts": ["该企业经两次执法检查责令整改，重大事故隐患（车辆动态监控失效）逾期仍未整改。"],
    "investigation_findings": ["经现场核查和调阅监控记录，上述事实清楚、证据确凿。"],
    "legal_basis": ["《安全生产法》第九十五条；《安全生产严重失信主体名单管理办法》。"],
    "defense_text": ["企业称已采购新动态监控设备，请求从轻处理。"],
    "review_opinion": ["设备尚未安装使用，申辩理由不成立，维持原意见。"],
    "measures": [["列为重点监管对象并提高检查频次", "通报有关部门实施联合惩戒", "在信用平台公开"]],
    "repair_reason": ["企业已完成全部整改并通过复查，申请信用修复。"],
    "term_review_opinion": ["列入期限届满，期间未发生新的失信行为，同意移出。"],
    # index-aligned: a case takes the i-th entry of each list, so a plan's name, kind and unit agree
    "plan_name": ["县交通运输突发事件应急预案", "内河水上搜救专项应急预案", "港口危险货物泄漏现场处置方案",
                  "客运站场人员疏散现场处置方案"],
    "plan_kind": ["综合应急预案", "专项应急预案", "现场处置方案", "现场处置方案"],
    "owner_unit": ["局安委办", "港航事业发展中心", "港航事业发展中心", "运输管理科"],
    "scenario": ["消防应急救援", "内河水上搜救", "港口突发事件", "客运站场疏散"],
    "plan_version": ["2021版"], "new_version": ["2025版"],
    "revision_reason": ["定期评估", "机构职责调整", "演练或事故暴露问题"],
    "reason_detail": ["机构改革后应急指挥部成员单位职责发生变化。"],
    "assessment_result": ["预案部分内容与现行机构职责不符，需要修订。"],
    "draft_summary": ["调整应急指挥部组成，补充信息报送流程图，简化响应分级。"],
    "opinion": ["同意，建议补充值班电话。", "无意见。"],
    "review_place": ["局三楼会议室"],
    "experts": [[{"name": "蒋教授", "title": "教授", "unit": "南通大学"}, {"name": "沈工", "title": "高级工程师", "unit": "市交通设计院"}]],
    "attendees": ["蒋教授、沈工、王芳、赵敏"], "nonvoting": ["周静、郑丽"], "absent": ["陈晓（执法任务）"],
    "review_conclusion": ["预案结构完整，职责清晰，建议修改后报批。"],
    "filing_agency": ["市交通运输局"],
    "drill_name": ["内河水上搜救实战演练", "客运站场疏散双盲拉练", "港口危险货物泄漏桌面推演"],
    "drill_kind": ["实战演练", "双盲拉练", "桌面推演"],
    "location": ["通吕运河九圩港段", "县客运总站", "城北港区"],
    "participants": ["港航事业发展中心、综合行政执法大队、江海港务有限公司，共约60人"],
    "scheme_summary": ["模拟货船碰撞落水3人，检验搜救力量调度和医疗转运衔接。"],
    "assembly": ["演练当日8:30在指挥车旁集合，穿戴救生衣。"],
    "participant_count": [60], "execution_summary": ["演练按方案完成，历时2小时，各环节衔接顺畅。"],
    "evaluation": ["指挥协调有序，通信保障存在盲区，需改进。"],
    "problems": [[{"problem": "水上通信信号盲区", "measure": "配备卫星电话", "owner": "港航事业发展中心"}]],
}


def _sample(f: Field, rng: random.Random, moment: datetime, cfg_units: list[str], users: list[str]) -> Any:
    if f.name in SAMPLES:
        return rng.choice(SAMPLES[f.name])
    kind = f.kind
    if kind in ("text", "textarea"):
        return f"{f.label}：按要求办理完毕。"
    if kind == "number":
        return int(f.min or 1)
    if kind == "date":
        return moment.date().isoformat()
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

    def __init__(self, wf: Workflow, ctx: engine.Context, seed: int = 7):
        self.wf, self.ctx = wf, ctx
        self.rng = random.Random(seed)
        self.units = sorted(u.name for u in ctx.org.units if u.kind == "department")
        self.users = [u.id for u in ctx.org.users]

    def form_variants(self, form_name: str | None, moment: datetime) -> list[dict]:
        if form_name is None:
            return [{}]
        fields = self.wf.forms[form_name].fields
        base = {f.name: _sample(f, random.Random(hash((f.name, form_name)) & 0xFFFF), moment, self.units, self.users)
                for f in fields}
        flags = [f for f in fields if f.kind == "bool"][:3]
        choices = [f for f in fields if f.kind == "choice" and self._in_guards(f.name)][:1]
        variants = []
        for combo in itertools.product(*[[True, False] for _ in flags], *[f.options for f in choices]):
            v = dict(base)
            for f, value in zip(flags + choices, combo, strict=True):
                v[f.name] = value
            variants.append(v)
        return variants

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


def _redate(data: dict, moment: datetime) -> dict:
    """Dates in sample answers follow the moment the step is replayed at."""
    out = {}
    for k, v in data.items():
        if isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-":
            v = moment.date().isoformat()
        elif isinstance(v, str) and len(v) == 16 and v[10] == "T":
            v = (moment - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        out[k] = v
    return out


def _persona(wf: Workflow, data: dict, persona: int) -> dict:
    """Vary the sample answers between cases, leaving alone what guards decide on."""
    guarded = " ".join(t.guard or "" for t in wf.transitions)
    out = dict(data)
    for k, v in data.items():
        if k in SAMPLES and not isinstance(v, bool) and k not in guarded:
            out[k] = SAMPLES[k][persona % len(SAMPLES[k])]
    return out


def drive(svc, wf: Workflow, steps: list[Step], start: datetime, persona: int = 0) -> dict | None:
    """Replay a path through the real service, starting at `start`, one or two days per step."""
    moment = start
    case = svc.start(wf.name, steps[0].user, _redate(_persona(wf, steps[0].data, persona), moment), now=moment)
    for step in steps[1:]:
        if step.kind == "timer":
            d = next(x for x in case["deadlines"] if x["id"] == step.deadline)
            moment = max(moment, engine.parse_moment(d["due"]) + timedelta(minutes=1))
            svc.apply_deadline(case["id"], step.deadline, moment)
        else:
            moment += step.after
            case = svc.act(case["id"], step.action, step.user, _redate(_persona(wf, step.data, persona), moment),
                           comment=step.comment, now=moment)
        case = svc.case(case["id"])
    return case


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


def fill(data_dir: str | None, cases: int = 0, now: datetime | None = None) -> dict:
    from flows.service import open_service

    svc = open_service(data_dir)
    now = now or datetime.now().replace(microsecond=0)
    for plan in EXISTING_PLANS:  # the plans in force before the platform: the drill plan reads them
        svc.register_put("plans", plan["name"], plan)
    summary: dict[str, Any] = {"data_dir": str(Path(svc.store.data_dir) if hasattr(svc.store, "data_dir") else data_dir),
                               "workflows": {}}
    for name, wf in sorted(svc.config.workflows.items()):
        explorer = Explorer(wf, svc.ctx)
        paths = explorer.paths(datetime(now.year - 1, 1, 4, 9, 0))
        made = {}
        ordered = sorted(paths.items(), key=lambda kv: len(kv[1]))
        for i, (state, steps) in enumerate(ordered):
            start = (now - _duration(steps, wf)).replace(hour=9, minute=0, second=0)
            made[state] = drive(svc, wf, steps, start, persona=i)["id"]
        for i in range(cases // max(1, len(svc.config.workflows))):  # extra volume for trying things at scale
            state, steps = ordered[i % len(ordered)]
            start = (now - _duration(steps, wf) - timedelta(days=i % 300)).replace(hour=9, minute=0, second=0)
            drive(svc, wf, steps, start, persona=i)
        summary["workflows"][name] = {"states": len(wf.states), "cases": made,
                                      "unreached": sorted(s.name for s in wf.states if s.name not in made)}
    summary["sweep"] = len(svc.sweep(now))
    summary["accounts"] = demo_accounts(svc)
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
