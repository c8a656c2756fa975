"""Carry out what an action causes, after the action itself is committed.

An action's effects are committed with the case as pending entries of
`case["effects"]`. `EffectRunner.run(case_id, effect_id)` performs one:
issue a Word document (allocating its 发文字号 first and recording it on the
effect, so a retry reuses its own number and no number is ever given twice),
start a linked case, write a register row, or record a notification. It then
marks the effect done (or failed, with the reason) in a new commit; the orchestration
layer (Prefect) calls `run` as a task with retries.

Exactly once: before it runs an effect, a runner claims it — a versioned write on the case that
turns it from `pending` into `running` with the claim's id, owner (host:pid) and time — so when
several runners find the same pending effect (two workers acting on one case, a Prefect task, the
sweep's redelivery, `flows effects --resume`) one wins the write and the others skip it. Every
later write of the effect (its 发文字号, done, failed) checks the claim is still its own. A claim
older than `claim_timeout_s` (WORKFLOW_EFFECT_CLAIM_TIMEOUT_S, default 10 minutes) was left by a
process that died, and another runner may take it over; a failure releases the claim (pending
again for the next attempt, or failed after MAX_ATTEMPTS).
"""
from __future__ import annotations

import logging
import os
import re
import socket
import threading
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from flows.core import engine, scope
from flows.core.errors import FlowError, StaleVersion
from flows.core.org import SYSTEM, Organisation
from flows.documents.settings import DocumentSpec, fill
from flows.service import messages

if TYPE_CHECKING:
    from flows.service.cases import Service

MAX_ATTEMPTS = 3
CLAIM_TIMEOUT_S = 600.0       # a running effect whose claim is older than this may be taken over
CLAIM_TIMEOUT_ENV = "WORKFLOW_EFFECT_CLAIM_TIMEOUT_S"

log = logging.getLogger("flows.effects")


def claim_timeout_s() -> float:
    """The setting: WORKFLOW_EFFECT_CLAIM_TIMEOUT_S when set, else CLAIM_TIMEOUT_S."""
    try:
        return float(os.environ.get(CLAIM_TIMEOUT_ENV) or CLAIM_TIMEOUT_S)
    except ValueError:
        return CLAIM_TIMEOUT_S


def claimable(effect: dict, now: datetime, timeout_s: float | None = None) -> bool:
    """Whether a runner may claim this effect now: pending, or running under a claim left too long ago."""
    if effect["status"] == "pending":
        return True
    if effect["status"] != "running":
        return False
    claim = effect.get("claim") or {}
    timeout = claim_timeout_s() if timeout_s is None else timeout_s
    return not claim.get("at") or engine.parse_moment(claim["at"]) <= now - timedelta(seconds=timeout) \
        or _owner_gone(claim.get("owner", ""))


def _owner_gone(owner: str) -> bool:
    """A claim of a process of this host that no longer runs (killed): no need to wait for the timeout."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (another user's): alive
        return False
    return False


def effect_label(svc: Service, effect: dict, case: dict | None = None) -> str:
    """What an effect does, in a few words (Prefect's task names, `flows effects`); a document's title
    is filled in from the case when it is given."""
    kind = effect["type"]
    if kind == "document":
        template = svc.config.documents.spec(effect["template"]).title
        title = fill(template, {**case["data"], "year": effect.get("created_at", "")[:4]}) if case else \
            re.sub(r"\{[^}]*\}", "", template)
        return f"出具文书：{title or effect['template']}"
    if kind == "start_case":
        wf = svc.config.workflows.get(effect["workflow"])
        return f"发起关联案件：{wf.title if wf else effect['workflow']}"
    if kind == "register":
        return f"登记台账：{effect['table']}"
    if kind == "notify":
        roles = dict.fromkeys(effect.get("roles", []))  # each once (older effects may name a role twice)
        return "待办提醒" if effect.get("kind") == "task" else f"催办通知：{'、'.join(roles)}"
    return kind


class ClaimLost(FlowError):
    """Another runner took this effect over (our claim had timed out): stop without recording anything."""


class EffectFailed(FlowError):
    def __init__(self, effect: dict):
        self.effect = effect
        super().__init__(f"处理项「{effect['type']}」执行失败（第 {effect['attempts']} 次）：{effect['error']}")


class EffectRunner:
    """Performs a service's effects. As the service's `EffectHandler` it runs them inline, right after
    the commit (the CLI, tests, a machine without Prefect); under Prefect each is a task calling `run`."""

    def __init__(self, service: Service, owner: str | None = None, claim_timeout_s: float | None = None):
        self.service = service
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._claim_timeout_s = claim_timeout_s
        self._claims: dict[tuple[str, str], str] = {}  # (case, effect) → the claim this runner holds on it
        self._local = threading.local()  # .known: {case id: the copy this thread last committed or read}

    @property
    def claim_timeout_s(self) -> float:
        return claim_timeout_s() if self._claim_timeout_s is None else self._claim_timeout_s

    @property
    def settings(self):
        return self.service.config.documents

    # ------------------------------------------------------------ as the service's handler
    def claim_for_commit(self) -> dict:
        """The claim a commit puts on the effects it adds: this runner runs them right after it."""
        return {"id": uuid.uuid4().hex[:12], "owner": self.owner, "at": engine.iso(self.service.clock())}

    def done_in_commit(self, case: dict, effect: dict) -> list[tuple[str, str, dict]] | None:
        """Do `effect` inside the commit that adds it, when it needs nothing but a record: a notify's
        message is created with the case (`Store.commit`'s new_records: once, in the same transaction) and
        the effect is committed done, so a 催办 costs one write, not three (the sweep writes thousands).
        None: the effect runs after the commit (`committed`)."""
        if effect["type"] != "notify":
            return None
        try:
            people = messages.recipients_of(self.service.org, effect)
        except Exception:  # noqa: BLE001 — run after the commit instead, where a failure is recorded on the effect
            return None
        effect.update(status="done", error=None, delivered=people)
        return [(messages.MESSAGES, effect["id"], messages.message_of(case, effect, people))] if people else []

    def committed(self, case: dict, effect_ids: list[str], event: dict) -> dict:
        """Run the effects the commit added (claimed in it) and whatever else of the case is pending."""
        new = set(effect_ids)
        now = self.service.clock()
        with self._remembering(case["id"], case):
            for effect in case.get("effects", []):
                if effect["id"] in new:
                    self._run_with_attempts(case["id"], effect["id"], held=(effect.get("claim") or {}).get("id"))
                elif self.claimable(effect, now):
                    self._run_with_attempts(case["id"], effect["id"])
            return self._case(case["id"])

    # ------------------------------------------------------------ the case as this runner last wrote it
    @contextmanager
    def _remembering(self, case_id: str, case: dict | None = None):
        """Within the block, the copy of the case this thread last committed (or was given, just committed)
        stands in for reading it again: every write that follows checks the version, and one that finds
        the case moved on reads it afresh. On PostgreSQL each read is a query; an effect read its case
        four times."""
        known = self._known()
        if case_id in known:  # an outer block of this thread remembers it already
            if case is not None:
                known[case_id] = case
            yield
            return
        known[case_id] = case
        try:
            yield
        finally:
            known.pop(case_id, None)

    def _known(self) -> dict[str, dict | None]:
        known = getattr(self._local, "known", None)
        if known is None:
            known = self._local.known = {}
        return known

    def _case(self, case_id: str) -> dict:
        known = self._known()
        case = known.get(case_id)
        if case is None:
            case = self.service.case(case_id)
            if case_id in known:
                known[case_id] = case
        return case

    def _wrote(self, case: dict | None, case_id: str) -> None:
        """After a commit of ours (`case`, the case as committed) or a refused one (None: read it again)."""
        known = self._known()
        if case_id in known:
            known[case_id] = case

    # ------------------------------------------------------------ driving
    def claimable(self, effect: dict, now: datetime | None = None) -> bool:
        return claimable(effect, now or self.service.clock(), self.claim_timeout_s)

    def pending(self, case: dict) -> list[dict]:
        """The effects a runner may take now: pending ones, and running ones whose claim went stale."""
        now = self.service.clock()
        return [e for e in case.get("effects", []) if self.claimable(e, now)]

    def run_pending(self, case_id: str) -> list[dict]:
        """Run every pending effect of a case now, each retried up to MAX_ATTEMPTS times."""
        return [self._run_with_attempts(case_id, effect["id"]) for effect in self.pending(self.service.case(case_id))]

    def _run_with_attempts(self, case_id: str, effect_id: str, held: str | None = None) -> dict:
        effect: dict = {}
        for _ in range(MAX_ATTEMPTS):
            try:
                return self.run(case_id, effect_id, held)
            except EffectFailed as exc:
                held = None  # the failure released the claim: the next attempt claims it again
                effect = exc.effect
                if effect["status"] == "failed":
                    break
        return effect

    def outstanding(self) -> list[tuple[dict, dict]]:
        """Every effect not yet done or failed, of every case (open or closed), with its case."""
        return [(case, effect) for case in self.service.store.cases() for effect in case.get("effects", [])
                if effect["status"] in ("pending", "running")]

    def resume(self) -> list[tuple[dict, dict]]:
        """Run once every effect left pending, or running under a stale claim, by a process that died
        (`flows effects --resume`); one another runner holds now is left to it. Returns each effect
        looked at, with its case, as it stands afterwards."""
        done = []
        for case, effect in self.outstanding():
            if self.claimable(effect):
                effect = self._run_with_attempts(case["id"], effect["id"])
            done.append((case, effect))
        return done

    def run(self, case_id: str, effect_id: str, held: str | None = None) -> dict:
        """Claim one effect and perform it. When another runner holds it (or it is done or failed), it
        is skipped: the effect is returned as it stands. A failure is recorded on the case (attempts,
        reason) and raised as EffectFailed; after MAX_ATTEMPTS — or at once when retrying cannot help,
        e.g. a template over its limits — the effect is marked failed and waits for a 重试.
        `held`: the claim the effect was committed with (`claim_for_commit`), so none is written now."""
        with self._remembering(case_id):
            return self._run(case_id, effect_id, held)

    def _run(self, case_id: str, effect_id: str, held: str | None) -> dict:
        effect = _find(self._case(case_id), effect_id)
        if held and effect["status"] == "running" and (effect.get("claim") or {}).get("id") == held:
            claim = held
        else:
            claim = self.claim(case_id, effect_id)
            if claim is None:
                return _find(self.service.case(case_id), effect_id)
            effect = _find(self._case(case_id), effect_id)
        self._claims[case_id, effect_id] = claim
        try:
            return getattr(self, f"_do_{effect['type']}")(case_id, effect_id)
        except ClaimLost:
            return _find(self.service.case(case_id), effect_id)
        except Exception as exc:  # recorded on the case; the committed state is never rolled back
            try:
                recorded = self._release(case_id, effect_id, claim, f"{type(exc).__name__}: {exc}",
                                         final=bool(getattr(exc, "permanent", False)))
            except ClaimLost:
                return _find(self.service.case(case_id), effect_id)
            raise EffectFailed(recorded) from exc
        finally:
            self._claims.pop((case_id, effect_id), None)

    def claim(self, case_id: str, effect_id: str) -> str | None:
        """Take the effect for this runner (pending → running, a versioned write): the claim's id, or
        None when it is not to be run here (done, failed, or running under a fresh claim of another)."""
        claim_id = uuid.uuid4().hex[:12]
        for _ in range(20):
            case = self._case(case_id)
            now = self.service.clock()
            if not self.claimable(_find(case, effect_id), now):
                return None
            changed = engine.clone(case)
            _find(changed, effect_id).update(status="running",
                                             claim={"id": claim_id, "owner": self.owner, "at": engine.iso(now)})
            try:
                self._wrote(self.service.commit_outcome(engine.Outcome(changed, []), expected_version=case["version"]),
                            case_id)
                return claim_id
            except StaleVersion:
                self._wrote(None, case_id)
                continue  # the case moved on meanwhile: look again (someone may have claimed it)
        log.warning("案件 %s 持续被修改，本次未能领取处理项 %s（仍待执行）", case_id, effect_id)
        return None

    def _release(self, case_id: str, effect_id: str, claim: str, error: str, final: bool) -> dict:
        """After a failed attempt: pending again for the next one, or failed after the last."""
        def change(case: dict) -> engine.Outcome:
            effect = self._held(case, effect_id, claim)
            effect["attempts"] = effect.get("attempts", 0) + 1
            failed = final or effect["attempts"] >= MAX_ATTEMPTS
            effect.update(status="failed" if failed else "pending", error=error, claim=None)
            return engine.Outcome(case, [])

        return _find(self._commit_with_retry(case_id, change), effect_id)

    @staticmethod
    def _held(case: dict, effect_id: str, claim: str | None) -> dict:
        effect = _find(case, effect_id)
        if claim is not None and (effect.get("status") != "running" or (effect.get("claim") or {}).get("id") != claim):
            raise ClaimLost(f"处理项 {effect_id} 已由其他进程接手")
        return effect

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

        case = self._case(case_id)
        effect = _find(case, effect_id)
        spec = self.service.document_spec(case, effect["template"])
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
            case = self._case(case_id)
        context = self.context(case, effect["template"], spec, effect["number"],
                               datetime.fromisoformat(effect["issued_at"]))
        content = rendering.render(self.service.template_path(case, effect["template"]), context)
        safe_number = re.sub(r"[^\w]", "", effect["number"]) or effect_id
        relpath = f"documents/{case_id}/{effect['template']}-{safe_number}.docx"
        self.service.store.save_file(relpath, content)
        record = {"template": effect["template"], "title": context["doc"]["title"], "number": effect["number"],
                  "file": relpath, "issued_at": effect["issued_at"], "effect": effect_id}
        return self._finish(case_id, effect_id, lambda c: engine.add_document(c, record, now))

    def _do_start_case(self, case_id: str, effect_id: str) -> dict:
        case = self._case(case_id)
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
        effect = _find(self._case(case_id), effect_id)
        self.service.register_put(effect["table"], effect["key"], effect["fields"])
        return self._update_effect(case_id, effect_id, status="done", error=None)

    def _do_notify(self, case_id: str, effect_id: str) -> dict:
        """Deliver a message to each person the effect names (their 消息 list in the app): one record
        per effect, written once, so a second run neither adds a message nor clears who has read it."""
        case = self._case(case_id)
        effect = _find(case, effect_id)
        people = messages.recipients_of(self.service.org, effect)
        if people:
            messages.deliver(self.service.store, effect_id, messages.message_of(case, effect, people))
        return self._update_effect(case_id, effect_id, status="done", error=None, delivered=people)

    # ------------------------------------------------------------ documents' data
    def context(self, case: dict, template: str, spec: DocumentSpec, number: str, issued: datetime) -> dict:
        definition = self.service.definition_of(case)
        return document_context(case, spec, number, issued, self.service.org, definition.settings,
                                calendar=self.service.ctx.calendar, definition=definition)

    # ------------------------------------------------------------ bookkeeping
    def _update_effect(self, case_id: str, effect_id: str, **changes) -> dict:
        """Change the effect's fields; while this runner is running it, only if its claim still holds
        (else ClaimLost: another runner took it over)."""
        holder = self._claims.get((case_id, effect_id))

        def change(case: dict) -> engine.Outcome:
            self._held(case, effect_id, holder).update(changes)
            return engine.Outcome(case, [])

        case = self._commit_with_retry(case_id, change)
        return _find(case, effect_id)

    def _finish(self, case_id: str, effect_id: str, outcome_of) -> dict:
        claim = self._claims.get((case_id, effect_id))

        def change(case: dict) -> engine.Outcome:
            self._held(case, effect_id, claim)
            outcome = outcome_of(case)
            effect = _find(outcome.case, effect_id)
            effect.update(status="done", error=None)
            return outcome

        return _find(self._commit_with_retry(case_id, change), effect_id)

    def _commit_with_retry(self, case_id: str, change) -> dict:
        for _ in range(10):
            case = self._case(case_id)
            outcome = change(engine.clone(case))
            try:
                committed = self.service.commit_outcome(outcome, expected_version=case["version"])
            except StaleVersion:
                self._wrote(None, case_id)
                continue  # someone acted on the case meanwhile: apply our change to the new version
            self._wrote(committed, case_id)
            return committed
        raise FlowError(f"案件 {case_id} 持续被修改，无法记录处理结果，请稍后重试")


def _find(case: dict, effect_id: str) -> dict:
    for effect in case.get("effects", []):
        if effect["id"] == effect_id:
            return effect
    raise FlowError(f"案件 {case['id']} 没有处理项 {effect_id}")


def document_context(case: dict, spec: DocumentSpec, number: str, issued: datetime, org: Organisation, settings: dict,
                     calendar=None, definition=None) -> dict:
    """What a template sees: the case, the document's heading lines, the workflow's settings, the 会签.

    Besides its data and `deadlines` ({timer: due date in Chinese}), the case carries `documents`
    ({template: {number, date, title}}: what it issued before, e.g. the 事先告知书 a 决定 cites) and
    `periods` ({timer: {start, end, days}}, ISO dates: the days a running period counts, both ends
    included: a period of N 工作日 entered on day D runs from the first working day after D to the
    N-th, which is when its timer is due), given the calendar and the definition."""
    from flows.documents.filters import chinese_date

    data = _without_none(case["data"])  # an empty optional field prints nothing, never "None"
    for key, value in list(data.items()):  # people are shown by name
        user = org.user(value) if isinstance(value, str) else None
        if user is not None:
            data[key] = user.name
    deadlines = {d["timer"]: chinese_date(date.fromisoformat(d["due"][:10]))
                 for d in case.get("deadlines", []) if d.get("due")}
    documents = {d["template"]: {"number": d.get("number") or "", "date": (d.get("issued_at") or "")[:10],
                                 "title": d.get("title") or ""}
                 for d in case.get("documents", []) if d.get("template")}
    values = {**data, "year": issued.year}
    return {
        "case": {"id": case["id"], "title": case["title"], "workflow": case["workflow"],
                 "unit": case.get("unit"), "created_at": case["created_at"], "data": data,
                 "deadlines": deadlines, "documents": documents,
                 "periods": _periods(case, calendar, definition)},
        "doc": {"number": number, "issuer": spec.issuer, "banner": spec.minutes or spec.banner, "minutes": spec.minutes,
                "date": chinese_date(issued.date()), "title": fill(spec.title, values),
                "addressee": fill(spec.addressee, values), "cc": spec.cc, "printed_by": spec.printed_by,
                "printed_date": chinese_date(issued.date())},
        "settings": settings,
        "signatures": scope.signatures(case),  # each 会签's signers and answers (flows.core.scope)
    }


def _without_none(value):
    """A copy without the keys whose value is None, in rows of tables too (Jinja prints None as "None")."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _periods(case: dict, calendar, definition) -> dict:
    if calendar is None or definition is None:
        return {}
    from flows.core import deadlines as timers

    out = {}
    for d in case.get("deadlines", []):
        timer = timers.timer_spec(definition, d) if d.get("due") and d.get("entered") else None
        if timer is None:
            continue
        since = case["data"].get(timer.from_field) if timer.from_field else None  # a period counted from a date field
        entered, due = engine.parse_moment(since or d["entered"]).date(), date.fromisoformat(d["due"][:10])
        start = calendar.add_workdays(entered, 1) if timer.unit == "workdays" else entered
        days = calendar.workdays_between(entered, due) if timer.unit == "workdays" else (due - entered).days
        out[d["timer"]] = {"start": start.isoformat(), "end": due.isoformat(), "days": days}
    return out
