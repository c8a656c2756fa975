"""试运行 and 测试场景: a throwaway case walked through a draft as chosen people, in memory only.

The engine is pure, so a dry run is the engine without the service's commit: nothing is stored, no
case number is taken, no message is sent, no Prefect run is made. Documents are rendered into
memory from the draft's templates. Time can be moved forward to see the timers fire or escalate.

Each step taken is recorded (who, what, the data, and the states reached), so a dry run can be kept
as a scenario of the draft; `replay_scenario` walks it again against a draft about to be published
and names the first step that no longer goes as recorded.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flows.core import engine
from flows.core.errors import FlowError
from flows.core.spec import Workflow
from flows.service import catalogue
from flows.service.cases import Service

MAX_STEPS = 200


@dataclass
class RenderedDocument:
    template: str
    title: str
    content: bytes | None
    error: str | None = None


@dataclass
class DryRun:
    svc: Service
    wf: Workflow
    draft: Any  # flows.service.designer.Draft: where its templates are
    now: datetime
    case: dict | None = None
    steps: list[dict] = field(default_factory=list)
    documents: list[RenderedDocument] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    @classmethod
    def begin(cls, svc: Service, wf: Workflow, draft: Any, now: datetime | None = None) -> DryRun:
        return cls(svc, wf, draft, now or svc.clock())

    @property
    def ctx(self) -> engine.Context:
        known = frozenset(self.svc.config.workflows) | {self.wf.name}
        return engine.Context(org=self.svc.org, calendar=self.svc.config.calendar, workflows=known)

    def _record(self, step: dict, outcome: engine.Outcome, what: str) -> None:
        if len(self.steps) >= MAX_STEPS:
            raise FlowError(f"试运行最多 {MAX_STEPS} 步")
        self.case = outcome.case
        self.case["version"] = self.case.get("version", 0) + 1
        self.steps.append({**step, "expect": sorted(self.case["active"]), "status": self.case["status"]})
        self.log.append(f"{self.now:%Y-%m-%d %H:%M} {what} → {self.states()}")
        for effect in outcome.effects:
            self._effect(effect)

    def states(self) -> str:
        if self.case is None:
            return "（未发起）"
        labels = "、".join(self.wf.state(s).label for s in self.case["active"])
        return labels + ("（已办结）" if self.case["status"] != "open" else "")

    def start(self, user_id: str, data: dict | None = None) -> dict:
        actor = self.svc.actor(user_id)
        outcome = engine.new_case(self.wf, self.ctx, case_id=f"试运行-{self.wf.code}", actor=actor,
                                  data=data or {}, now=self.now)
        self.steps, self.documents, self.log = [], [], []
        self._record({"op": "start", "user": user_id, "data": data or {}}, outcome, f"{actor.name} 发起")
        return self.case

    def actions(self, user_id: str) -> list[engine.ActionInfo]:
        if self.case is None:
            return []
        return engine.available_actions(self.wf, self.ctx, self.case, self.svc.actor(user_id), self.now)

    def act(self, user_id: str, action: str, data: dict | None = None, comment: str | None = None) -> dict:
        if self.case is None:
            raise FlowError("请先发起试运行案件")
        actor = self.svc.actor(user_id)
        outcome = engine.fire(self.wf, self.ctx, copy.deepcopy(self.case), action=action, actor=actor, now=self.now,
                              data=data or {}, comment=comment)
        label = self.wf.transition(action).label
        self._record({"op": "act", "user": user_id, "action": action, "data": data or {}, "comment": comment},
                     outcome, f"{actor.name}：{label}")
        return self.case

    def advance(self, days: int) -> list[str]:
        """Move time forward and act on every deadline that passed, as the sweep would."""
        if self.case is None:
            raise FlowError("请先发起试运行案件")
        if not 0 < days <= 3660:
            raise FlowError("时间只能前进 1–3660 天")
        self.now += timedelta(days=days)
        fired = []
        for _ in range(10):
            due = engine.due_deadlines(self.case, self.now)
            if not due:
                break
            for deadline in due:
                try:
                    outcome = engine.apply_deadline(self.wf, self.ctx, copy.deepcopy(self.case), deadline["id"], self.now)
                except FlowError as exc:
                    outcome = engine.fail_deadline(copy.deepcopy(self.case), deadline["id"], self.now, exc.message)
                if outcome.events:
                    what = "催办" if outcome.events[0]["type"] == "escalated" else "期限到期自动流转"
                    fired.append(f"{deadline.get('label') or deadline['timer']}：{what}")
                    self.case = outcome.case
                    for effect in outcome.effects:
                        self._effect(effect)
        self.steps.append({"op": "advance", "days": days, "expect": sorted(self.case["active"]),
                           "status": self.case["status"]})
        self.log.append(f"{self.now:%Y-%m-%d %H:%M} 时间前进 {days} 天" + (f"：{'；'.join(fired)}" if fired else "")
                        + f" → {self.states()}")
        return fired

    def _effect(self, effect: dict) -> None:
        if effect["type"] == "document":
            self.documents.append(self._render(effect["template"]))
        elif effect["type"] == "start_case":
            self.log.append(f"　（将发起关联案件：{effect['workflow']}）")
        elif effect["type"] == "notify":
            roles = "、".join(effect.get("roles") or [])
            if roles:
                self.log.append(f"　（将通知：{roles}）")

    def _render(self, template: str) -> RenderedDocument:
        from flows.documents import rendering
        from flows.service.effects import document_context

        spec = catalogue.document_spec(self.svc.config.documents, self.draft.documents, template)
        context = document_context(self.case, spec, "（试运行）", self.now, self.svc.org, self.wf.settings,
                                   calendar=self.svc.ctx.calendar, definition=self.wf)
        path = catalogue.draft_template(self.svc.store, self.svc.config.templates_dir, self.draft.name,
                                        self.draft.templates, template)
        if path is None:
            return RenderedDocument(template, context["doc"]["title"], None, "模板尚未上传")
        try:
            return RenderedDocument(template, context["doc"]["title"], rendering.render(path, context))
        except Exception as exc:  # noqa: BLE001 - a template's own fault is shown, the dry run goes on
            return RenderedDocument(template, context["doc"]["title"], None, str(exc))

    def scenario(self, name: str) -> dict:
        if not self.steps:
            raise FlowError("试运行还没有步骤，无法保存为场景")
        return {"name": name, "start": engine.iso(self._started_at()), "steps": list(self.steps)}

    def _started_at(self) -> datetime:
        return datetime.fromisoformat(self.case["created_at"]) if self.case else self.now


def _step_text(svc: Service, wf: Workflow, index: int, step: dict) -> str:
    if step["op"] == "advance":
        return f"第 {index + 1} 步（时间前进 {step['days']} 天）"
    user = svc.org.user(step.get("user"))
    who = user.name if user else step.get("user")
    if step["op"] == "start":
        return f"第 {index + 1} 步（{who}：发起）"
    t = wf.transition(step.get("action", ""))
    return f"第 {index + 1} 步（{who}：{t.label if t else step.get('action')}）"


def replay_scenario(svc: Service, wf: Workflow, draft: Any, scenario: dict) -> str | None:
    """None when every step of the scenario goes as recorded on `wf`; else the first that diverged."""
    try:
        start = datetime.fromisoformat(scenario.get("start") or "")
    except (TypeError, ValueError):
        start = svc.clock()
    run = DryRun.begin(svc, wf, draft, start)
    for i, step in enumerate(scenario.get("steps") or []):
        try:
            if step["op"] == "start":
                run.start(step["user"], step.get("data"))
            elif step["op"] == "act":
                run.act(step["user"], step["action"], step.get("data"), step.get("comment"))
            else:
                run.advance(int(step["days"]))
        except FlowError as exc:
            return f"{_step_text(svc, wf, i, step)}未能执行：{exc.message}"
        except (KeyError, TypeError, ValueError):
            return f"{_step_text(svc, wf, i, step) if isinstance(step, dict) else f'第 {i + 1} 步'}记录不完整"
        got = sorted(run.case["active"])
        if got != sorted(step.get("expect") or []):
            names = lambda ss: "、".join(wf.state(s).label if wf.state(s) else s for s in ss)  # noqa: E731
            return f"{_step_text(svc, wf, i, step)}后应处于「{names(step.get('expect') or [])}」，实际为「{names(got)}」"
    return None
