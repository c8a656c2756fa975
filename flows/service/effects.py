"""Carry out what an action causes, after the action itself is committed.

An action's effects are committed with the case as pending entries of
`case["effects"]`. `EffectRunner.run(case_id, effect_id)` performs one:
issue a Word document (allocating its 发文字号 first and recording it on the
effect, so a retry reuses its own number and no number is ever given twice),
start a linked case, write a register row, or record a notification. It then
marks the effect done (or failed, with the reason) in a new commit. Each step
is idempotent, so running an effect twice does no harm; the orchestration layer
(Prefect) calls `run` as a task with retries.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING

from flows.core import engine
from flows.core.errors import FlowError, StaleVersion
from flows.core.org import SYSTEM
from flows.documents.settings import DocumentSpec, fill
from flows.service import messages

if TYPE_CHECKING:
    from flows.service.cases import Service

MAX_ATTEMPTS = 3


class EffectFailed(FlowError):
    def __init__(self, effect: dict):
        self.effect = effect
        super().__init__(f"处理项「{effect['type']}」执行失败（第 {effect['attempts']} 次）：{effect['error']}")


class EffectRunner:
    """Performs a service's effects. As the service's `EffectHandler` it runs them inline, right after
    the commit (the CLI, tests, a machine without Prefect); under Prefect each is a task calling `run`."""

    def __init__(self, service: Service):
        self.service = service

    @property
    def settings(self):
        return self.service.config.documents

    # ------------------------------------------------------------ as the service's handler
    def committed(self, case: dict, effect_ids: list[str], event: dict) -> dict:
        self.run_pending(case["id"])
        return self.service.case(case["id"])

    # ------------------------------------------------------------ driving
    def pending(self, case: dict) -> list[dict]:
        return [e for e in case.get("effects", []) if e["status"] == "pending"]

    def run_pending(self, case_id: str) -> list[dict]:
        """Run every pending effect of a case now, each retried up to MAX_ATTEMPTS times."""
        results = []
        for effect in self.pending(self.service.case(case_id)):
            for _ in range(MAX_ATTEMPTS):
                try:
                    results.append(self.run(case_id, effect["id"]))
                    break
                except EffectFailed as exc:
                    if exc.effect["status"] == "failed":
                        results.append(exc.effect)
                        break
        return results

    def run(self, case_id: str, effect_id: str) -> dict:
        """Perform one effect. A failure is recorded on the case (attempts, reason) and raised as
        EffectFailed; after MAX_ATTEMPTS the effect is marked failed and waits for a 重试."""
        effect = _find(self.service.case(case_id), effect_id)
        if effect["status"] == "done":
            return effect
        try:
            return getattr(self, f"_do_{effect['type']}")(case_id, effect_id)
        except Exception as exc:  # recorded on the case; the committed state is never rolled back
            recorded = self._update_effect(case_id, effect_id, attempt=True, error=f"{type(exc).__name__}: {exc}")
            if recorded["attempts"] >= MAX_ATTEMPTS:
                recorded = self._update_effect(case_id, effect_id, status="failed")
            raise EffectFailed(recorded) from exc

    def reset(self, case_id: str, effect_id: str) -> dict:
        """Make a failed effect pending again with fresh attempts (the 重试 action); a done one stays done."""
        effect = _find(self.service.case(case_id), effect_id)
        if effect["status"] != "failed":
            return effect
        return self._update_effect(case_id, effect_id, status="pending", error=None, attempts=0)

    def retry(self, case_id: str, effect_id: str) -> None:
        """The 重试 action when this process runs effects itself: reset, then run."""
        self.reset(case_id, effect_id)
        self.run_pending(case_id)

    # ------------------------------------------------------------ kinds
    def _do_document(self, case_id: str, effect_id: str) -> dict:
        from flows.documents import filters, rendering

        case = self.service.case(case_id)
        effect = _find(case, effect_id)
        spec = self.settings.spec(effect["template"])
        now = datetime.fromisoformat(effect["created_at"])  # a document bears the date of the step that issued it
        if effect.get("number") is None:  # allocate once and keep it with the effect
            number = ""
            if spec.number_prefix:
                seq = self.service.store.next_sequence(f"docno:{spec.number_prefix}:{now.year}")
                number = filters.format_doc_number(spec.number_prefix, now.year, seq)
            elif spec.minutes:
                seq = self.service.store.next_sequence(f"minutes:{effect['template']}:{now.year}")
                number = f"第{seq}期"
            effect = self._update_effect(case_id, effect_id, number=number, issued_at=engine.iso(now))
            case = self.service.case(case_id)
        context = self.context(case, effect["template"], spec, effect["number"],
                               datetime.fromisoformat(effect["issued_at"]))
        template = self.service.config.templates_dir / f"{effect['template']}.docx"
        content = rendering.render(template, context)
        safe_number = re.sub(r"[^\w]", "", effect["number"]) or effect_id
        relpath = f"documents/{case_id}/{effect['template']}-{safe_number}.docx"
        self.service.store.save_file(relpath, content)
        record = {"template": effect["template"], "title": context["doc"]["title"], "number": effect["number"],
                  "file": relpath, "issued_at": effect["issued_at"], "effect": effect_id}
        return self._finish(case_id, effect_id, lambda c: engine.add_document(c, record, now))

    def _do_start_case(self, case_id: str, effect_id: str) -> dict:
        case = self.service.case(case_id)
        effect = _find(case, effect_id)
        new_id = effect.get("result")
        if new_id is None:
            data = {**effect.get("data", {})}
            new = self.service.start(effect["workflow"], SYSTEM.id, data, unit=case.get("unit"))
            new_id = new["id"]
            self._update_effect(case_id, effect_id, result=new_id)
            self._commit_with_retry(new_id, lambda c: engine.add_link(c, case_id, effect["relation"],
                                                                         self.service.clock()))
        return self._finish(case_id, effect_id,
                            lambda c: engine.add_link(c, new_id, effect["relation"], self.service.clock()))

    def _do_register(self, case_id: str, effect_id: str) -> dict:
        effect = _find(self.service.case(case_id), effect_id)
        self.service.register_put(effect["table"], effect["key"], effect["fields"])
        return self._update_effect(case_id, effect_id, status="done", error=None)

    def _do_notify(self, case_id: str, effect_id: str) -> dict:
        """Deliver a message to each person the effect names (their 消息 list in the app): one record
        per effect, written once, so a second run neither adds a message nor clears who has read it."""
        case = self.service.case(case_id)
        effect = _find(case, effect_id)
        people = messages.recipients_of(self.service.org, effect)
        if people:
            messages.deliver(self.service.store, effect_id, {
                "case_id": case_id, "workflow": case["workflow"], "kind": effect.get("kind", "escalation"),
                "text": effect.get("text") or f"{case['title']}：请及时办理", "at": effect["created_at"],
                "recipients": people})
        return self._update_effect(case_id, effect_id, status="done", error=None, delivered=people)

    # ------------------------------------------------------------ documents' data
    def context(self, case: dict, template: str, spec: DocumentSpec, number: str, issued: datetime) -> dict:
        from flows.documents.filters import chinese_date

        data = dict(case["data"])
        org = self.service.org
        for key, value in list(data.items()):  # people are shown by name
            user = org.user(value) if isinstance(value, str) else None
            if user is not None:
                data[key] = user.name
        deadlines = {d["timer"]: chinese_date(date.fromisoformat(d["due"][:10]))
                     for d in case.get("deadlines", []) if d.get("due")}
        values = {**data, "year": issued.year}
        return {
            "case": {"id": case["id"], "title": case["title"], "workflow": case["workflow"],
                     "unit": case.get("unit"), "created_at": case["created_at"], "data": data,
                     "deadlines": deadlines},
            "doc": {"number": number, "issuer": spec.issuer, "banner": spec.minutes or spec.banner,
                    "date": chinese_date(issued.date()), "title": fill(spec.title, values),
                    "addressee": fill(spec.addressee, values), "cc": spec.cc, "printed_by": spec.printed_by,
                    "printed_date": chinese_date(issued.date())},
            "settings": self.service.definition_of(case).settings,
        }

    # ------------------------------------------------------------ bookkeeping
    def _update_effect(self, case_id: str, effect_id: str, attempt: bool = False, **changes) -> dict:
        def change(case: dict) -> engine.Outcome:
            effect = _find(case, effect_id)
            effect.update(changes)
            if attempt:
                effect["attempts"] = effect.get("attempts", 0) + 1
            return engine.Outcome(case, [])

        case = self._commit_with_retry(case_id, change)
        return _find(case, effect_id)

    def _finish(self, case_id: str, effect_id: str, outcome_of) -> dict:
        def change(case: dict) -> engine.Outcome:
            outcome = outcome_of(case)
            effect = _find(outcome.case, effect_id)
            effect.update(status="done", error=None)
            return outcome

        return _find(self._commit_with_retry(case_id, change), effect_id)

    def _commit_with_retry(self, case_id: str, change) -> dict:
        for _ in range(10):
            case = self.service.case(case_id)
            outcome = change(engine.clone(case))
            try:
                return self.service.commit_outcome(outcome, expected_version=case["version"])
            except StaleVersion:
                continue  # someone acted on the case meanwhile: apply our change to the new version
        raise FlowError(f"案件 {case_id} 持续被修改，无法记录处理结果，请稍后重试")


def _find(case: dict, effect_id: str) -> dict:
    for effect in case.get("effects", []):
        if effect["id"] == effect_id:
            return effect
    raise FlowError(f"案件 {case['id']} 没有处理项 {effect_id}")
