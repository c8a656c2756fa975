"""The workflow engine: pure functions over (definition, case, actor, now).

No I/O, no clock, no Streamlit, no Prefect: time comes in as `now`, the
organisation and the working-day calendar come in as a `Context`. A case is a
plain JSON-ready dict (what storage keeps); every function returns a new case
and the events it produced, and never mutates its input. A refusal raises a
`flows.errors.FlowError` subclass and changes nothing.

Case layout (keys): id, workflow, workflow_version, title, unit, status
("open"/"closed"), active (list of current states: more than one inside a
parallel split), entered ({state: iso time}), data, countersigns
({transition: {participant: signature}}), deadlines (list), links, documents,
created_by, participants (who acted on it), created_at, updated_at, closed_at, version (set by storage).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flows.core import deadlines, forms, interventions, permissions, scope
from flows.core.errors import (
    CommentRequired,
    FieldGuardFailed,
    FlowError,
    GuardFailed,
    InvalidForm,
    NotAvailable,
    NotFound,
    NotPermitted,
    StaleVersion,
)
from flows.core.expressions import evaluate
from flows.core.forms import FormContext, FormInvalid, check_form
from flows.core.moments import ISO, iso, parse_moment  # noqa: F401 (part of the engine's API)
from flows.core.org import SYSTEM, Actor, Organisation
from flows.core.records import actor_from_record, actor_record, clone  # noqa: F401 (part of the engine's API)
from flows.core.spec import Transition, Workflow
from flows.core.workdays import WorkCalendar


@dataclass(frozen=True)
class Context:
    """What the engine needs besides the definition and the case."""

    org: Organisation
    calendar: WorkCalendar
    workflows: frozenset[str] = frozenset()
    # whether a file ref names an upload the platform stored (the service's file store); None: none is
    file_known: Callable[[str], bool] | None = None


@dataclass
class Outcome:
    case: dict
    events: list[dict]
    effects: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class ActionInfo:
    name: str
    label: str
    state: str
    kind: str
    form: str | None
    needs_comment: bool
    enabled: bool
    reason: str | None = None


# ---------------------------------------------------------------- titles

_TITLE_FIELD = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def _title(defn: Workflow, data: dict, case_id: str) -> str:
    if not defn.title_template:
        return f"{defn.title} {case_id}"

    def field_text(match: re.Match) -> str:
        value = data.get(match.group(1))
        if isinstance(value, dict):
            value = value.get("name", "")
        return "" if value is None else str(value)

    return _TITLE_FIELD.sub(field_text, defn.title_template).strip() or f"{defn.title} {case_id}"


# ---------------------------------------------------------------- queries

def _open_source(t: Transition, case: dict) -> str | None:
    return next((s for s in t.sources if s in case["active"]), None)


def available_actions(defn: Workflow, ctx: Context, case: dict, actor: Actor,
                      now: datetime | None = None) -> list[ActionInfo]:
    """The actions open to `actor` now; a guard that is false shows as disabled with its reason."""
    if case["status"] != "open":
        return []
    result = []
    for t in defn.transitions:
        state = _open_source(t, case)
        if state is None or permissions.permitted(t, case, actor) is not None:
            continue
        if t.countersign and not (permissions.actor_keys(actor) & set(permissions.pending_signers(defn, t, case))):
            continue
        if not t.roles and not t.countersign and not t.assignee and not actor.is_system:
            continue
        enabled, reason = True, None
        if t.guard and not t.form and not scope.truthy(defn, t.guard, case["data"], case, now, actor):
            enabled, reason = False, _guard_message(t)
        result.append(ActionInfo(t.name, t.label, state, t.kind, t.form, t.needs_comment, enabled, reason))
    return result


def tasks(defn: Workflow, case: dict) -> list[dict]:
    """Who holds the case now: one row per (state, role/unit or person), for the inbox."""
    if case["status"] != "open":
        return []
    rows: dict[tuple, dict] = {}
    # the case's nearest running deadline (some span several steps, e.g. the 60-day investigation)
    due = deadlines.nearest_due(case)
    for state in case["active"]:
        for t in defn.outgoing(state):
            if t.countersign:
                holders = []
                for key in permissions.pending_signers(defn, t, case):
                    if key.startswith("user:"):
                        holders.append((None, None, key[5:]))
                    else:
                        role, unit = key.split("@", 1)
                        holders.append((role, unit, None))
            elif case.get("assigned", {}).get(state) and (t.roles or t.assignee):
                holders = [(None, None, case["assigned"][state]["user"])]  # handed to a colleague (转办)
            elif t.assignee and case["data"].get(t.assignee):
                holders = [(None, None, case["data"][t.assignee])]
            elif person := permissions.earlier_actor(t, case):
                holders = [(None, None, person)]  # back to who did it (actor_of)
            else:
                holders = [(role, unit, None) for role in t.roles for unit in permissions.role_units(t, role, case)]
            for role, unit, user in holders:
                key = (state, role, unit, user)
                row = rows.setdefault(key, {
                    "case_id": case["id"], "workflow": case["workflow"], "title": case["title"],
                    "state": state, "state_label": defn.state(state).label, "role": role, "unit": unit,
                    "user": user, "due": due, "actions": [],
                })
                row["actions"].append(t.name)
    return list(rows.values())


# ---------------------------------------------------------------- commands

def new_case(defn: Workflow, ctx: Context, *, case_id: str, actor: Actor, data: dict, now: datetime,
             unit: str | None = None) -> Outcome:
    """Start a case: check the actor and the start form, enter the initial state."""
    refusal = permissions.may_start(defn, actor, data if isinstance(data, dict) else {})
    if refusal:
        raise NotPermitted(refusal)
    if unit is not None and (not isinstance(unit, str) or unit not in ctx.org.unit_names):
        raise NotFound(f"承办单位{forms._quote(unit)}不是已登记的单位")
    answers = _check(defn, ctx, defn.start_form, data, {})
    cleaned = scope.computed(defn, answers)
    initial = defn.initial_state().name
    case = {
        "id": case_id, "workflow": defn.name, "workflow_version": defn.version,
        "title": _title(defn, cleaned, case_id), "unit": unit or actor.unit, "status": "open",
        "active": [initial], "entered": {initial: iso(now)}, "data": cleaned, "countersigns": {},
        "deadlines": [], "links": [], "documents": [], "created_by": actor.id,
        "participants": [] if actor.is_system else [actor.id], "created_at": iso(now),
        "updated_at": iso(now), "closed_at": None, "version": 0,
    }
    deadlines.enter_timers(defn, ctx, case, initial, now)
    # the event keeps the checked answers, never the raw payload: replay checks them again
    event = {"type": "started", "actor": actor_record(actor), "at": iso(now), "to": [initial],
             "data": clone(answers), "unit": case["unit"], "comment": None}
    return Outcome(case, [event], _task_reminders(defn, case, [initial], actor, "发起"))


def fire(defn: Workflow, ctx: Context, case: dict, *, action: str, actor: Actor, now: datetime,
         data: dict | None = None, comment: str | None = None, expected_version: int | None = None) -> Outcome:
    """Fire one transition. Raises a FlowError (and changes nothing) when it is refused."""
    data = data or {}
    if expected_version is not None and expected_version != case.get("version", 0):
        raise StaleVersion(case["id"], expected_version, case.get("version", 0))
    if case["status"] != "open":
        raise NotAvailable(f"案件 {case['id']} 已办结，不能再执行操作")
    t = defn.transition(action)
    if t is None:
        raise NotAvailable(f"流程「{defn.title}」没有操作「{action}」")
    source = _open_source(t, case)
    if source is None:
        labels = "、".join(defn.state(s).label for s in case["active"])
        raise NotAvailable(f"案件当前处于「{labels}」，不能执行「{t.label}」")
    refusal = permissions.permitted(t, case, actor)
    if refusal:
        raise NotPermitted(refusal)
    signer = None
    if t.countersign:
        mine = [k for k in permissions.pending_signers(defn, t, case) if k in permissions.actor_keys(actor)]
        if not mine and not actor.is_system:
            raise NotPermitted(f"{actor.name}不在「{t.label}」的会签名单中，或已签过")
        signer = mine[0] if mine else None
    what = "理由" if t.kind in ("return", "reject") else "意见"
    comment = _comment(comment, what)
    if t.needs_comment and comment is None:
        raise CommentRequired({"comment": f"请填写{what}"})

    case = clone(case)
    if not actor.is_system:
        if actor.id not in case.setdefault("participants", []):
            case["participants"].append(actor.id)  # who acted on it: their 已办, and who may see it
        case.setdefault("acted_by", {})[t.name] = actor.id  # for a later step's actor_of
    before = case["data"]
    cleaned = _check(defn, ctx, t.form, data, before)
    # the event keeps the checked answers, never the raw payload: replay checks them again
    event: dict[str, Any] = {"type": "transition", "transition": t.name, "label": t.label, "kind": t.kind,
                             "actor": actor_record(actor), "at": iso(now), "from": [source],
                             "data": clone(cleaned), "comment": comment}

    if t.countersign and signer is not None:
        case["countersigns"].setdefault(t.name, {})[signer] = {
            "actor": actor.id, "name": actor.name, "at": iso(now), "comment": comment, "data": cleaned}
        if permissions.pending_signers(defn, t, case):
            event.update(type="signed", signer=signer, to=list(case["active"]))
            case["updated_at"] = iso(now)
            return Outcome(case, [event], [])
        event["signer"] = signer
        cleaned = {}  # each signer's answers stay with their signature

    merged = scope.computed(defn, {**before, **cleaned})
    if not scope.truthy(defn, t.guard, merged, case, now, actor):
        if t.guard_field and t.form:  # a rule across fields, refused under the field it is about
            fields = defn.forms[t.form].fields
            error = FieldGuardFailed({t.guard_field: _guard_message(t)})
            error.message = f"表单填写有误：{forms.describe_errors(fields, error.errors)}"
            error.labels = {t.guard_field: forms.field_label(fields, t.guard_field)}
            error.args = (error.message,)
            raise error
        raise GuardFailed(_guard_message(t))
    case["data"] = merged
    event["changes"] = {k: [before.get(k), v] for k, v in merged.items() if before.get(k) != v}

    if t.extends:
        _extend(defn, ctx, case, t)

    active_before = set(case["active"])
    derived = _move(defn, ctx, case, source, t.target or source, now, returning=t.kind == "return")
    if source not in case["active"]:
        case.get("assigned", {}).pop(source, None)  # a step handed to a colleague ends with the step
    event["to"] = list(case["active"])
    env = scope.env(defn, merged, case, now)
    effects = [{"type": "document", "template": doc.template, "transition": t.name} for doc in t.documents
               if scope.truthy(defn, doc.when, merged, case, now)]
    effects += _task_reminders(defn, case, [s for s in case["active"] if s not in active_before], actor, t.label,
                               t.name)
    for start in t.starts:
        if scope.truthy(defn, start.when, merged, case, now):
            effects.append({"type": "start_case", "workflow": start.workflow, "relation": start.relation,
                            "data": {k: evaluate(expr, env) for k, expr in start.data.items()}})
    if t.register_entry:
        entry = t.register_entry
        effects.append({"type": "register", "table": entry.table, "key": str(evaluate(entry.key, env)),
                        "fields": {k: evaluate(expr, env) for k, expr in entry.fields.items()}})
    case["updated_at"] = iso(now)
    return Outcome(case, [event] + derived, effects)


def _guard_message(t: Transition) -> str:
    return t.guard_message or f"「{t.label}」的条件尚不满足：{t.guard}"


def _date_setting(defn: Workflow, key: str, default: date) -> date:
    """settings.date_min / date_max: the range of the workflow's dates (a date or "YYYY-MM-DD")."""
    value = defn.settings.get(key)
    if value is None:
        return default
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise FlowError(f"流程「{defn.title}」的设置 {key} 不是有效的日期（格式 YYYY-MM-DD）") from None


def _check(defn: Workflow, ctx: Context, form_name: str | None, data: dict, case_data: dict) -> dict:
    """The form's cleaned answers; a step without a form takes none (any key given is refused)."""
    fields = defn.forms[form_name].fields if form_name is not None else []
    users = {u.id: u.name for u in ctx.org.users}
    form_ctx = FormContext(users=users, units=ctx.org.unit_names, data=case_data, file_known=ctx.file_known,
                           date_min=_date_setting(defn, "date_min", forms.DATE_MIN),
                           date_max=_date_setting(defn, "date_max", forms.DATE_MAX))
    try:
        return check_form(fields, data, form_ctx)
    except FormInvalid as exc:
        error = InvalidForm(exc.errors)
        # the sentence a user reads names the fields by their labels (errors keep the paths, for widgets)
        error.message = f"表单填写有误：{forms.describe_errors(fields, exc.errors)}"
        error.labels = {path: forms.field_label(fields, path) for path in exc.errors}
        error.args = (error.message,)
        raise error from None


def _comment(comment: Any, what: str) -> str | None:
    """An action's 意见/理由 under the text rules (NFC, no control characters, a bound); blank → None."""
    if comment is None:
        return None
    if not isinstance(comment, str):
        raise InvalidForm({"comment": f"{what}须为文字"})
    if forms.is_blank(comment):
        return None
    try:
        return forms.clean_text(comment, max_length=forms.COMMENT_MAX_LENGTH, multiline=True)
    except forms.TextInvalid as exc:
        raise InvalidForm({"comment": f"{what}{exc.message}"}) from None


def _extend(defn: Workflow, ctx: Context, case: dict, t: Transition) -> None:
    pending = [d for d in case["deadlines"] if d["timer"] == t.extends and d["status"] == "pending"]
    if not pending:
        raise GuardFailed(f"没有可延期的期限「{t.extends}」")
    for d in pending:
        timer = deadlines.timer_spec(defn, d)
        if d["extensions"] >= timer.max_extensions:
            raise GuardFailed(f"「{timer.label}」最多延期 {timer.max_extensions} 次，已用完")
        d["extensions"] += 1
        d["due"] = deadlines.due_at(defn, ctx, timer, parse_moment(d["entered"]), case["data"], d["extensions"])


def _move(defn: Workflow, ctx: Context, case: dict, source: str, target: str, now: datetime,
          returning: bool) -> list[dict]:
    """Leave `source`, enter `target` (a state or a split), then run joins and close if final."""
    if target == source:  # a step that stays (e.g. 申请延期) keeps its entry time and deadlines
        return []
    active = [s for s in case["active"] if s != source]
    split = defn.split(target)
    entering = [b.start for b in split.branches] if split else [target]
    for s in entering:
        if s not in active:
            active.append(s)
    case["active"] = active
    for s in entering:
        case["entered"][s] = iso(now)
        for t in defn.outgoing(s):  # a step entered again starts a fresh countersign round
            case["countersigns"].pop(t.name, None)
    if returning:  # signatures given in the step sent back no longer count either
        for t in defn.outgoing(source):
            case["countersigns"].pop(t.name, None)
    deadlines.settle(defn, ctx, case, [source], entering)
    for s in entering:
        deadlines.enter_timers(defn, ctx, case, s, now)

    derived = []
    for join in defn.joins:
        ends = [b.end for b in defn.split(join.split).branches]
        if all(e in case["active"] for e in ends):
            case["active"] = [s for s in case["active"] if s not in ends] + [join.to]
            case["entered"][join.to] = iso(now)
            deadlines.settle(defn, ctx, case, ends, [join.to])
            deadlines.enter_timers(defn, ctx, case, join.to, now)
            derived.append({"type": "joined", "join": join.name, "at": iso(now), "from": ends,
                            "to": list(case["active"]), "derived": True, "actor": actor_record(SYSTEM)})
    if all(defn.state(s).final for s in case["active"]):
        case["status"] = "closed"
        case["closed_at"] = iso(now)
        for d in case["deadlines"]:
            if d["status"] in deadlines.RUNNING:
                if d["status"] == "escalated":
                    d["late"] = True
                d["status"] = "met"
    return derived


# ---------------------------------------------------------------- timers

def due_deadlines(case: dict, now: datetime) -> list[dict]:
    stamp = iso(now)
    return [d for d in case.get("deadlines", []) if d["status"] == "pending" and d["due"] and d["due"] <= stamp]


def apply_deadline(defn: Workflow, ctx: Context, case: dict, deadline_id: str, now: datetime) -> Outcome:
    """Act on one passed deadline: fire its transition, or escalate (催办). Idempotent."""
    deadline = next((d for d in case["deadlines"] if d["id"] == deadline_id), None)
    if deadline is None or deadline["status"] != "pending" or not deadline["due"] or deadline["due"] > iso(now):
        return Outcome(case, [], [])
    if deadline["action"] == "fire":
        # The step happens when the period ended, however late the sweep noticed it, so what follows
        # (e.g. a listing term after 公示期满) counts from the true end.
        at = max(parse_moment(deadline["due"]), parse_moment(case["updated_at"]))
        outcome = fire(defn, ctx, case, action=deadline["transition"], actor=SYSTEM, now=at)
        for d in outcome.case["deadlines"]:
            if d["id"] == deadline_id and d["status"] == "pending":
                d["status"] = "fired"
        outcome.events[0].update(type="timer", deadline=deadline_id, due=deadline["due"], noticed_at=iso(now))
        return outcome
    case = clone(case)
    d = next(x for x in case["deadlines"] if x["id"] == deadline_id)
    d["status"] = "escalated"
    rows = [t for t in tasks(defn, case) if t["state"] == d["state"]]
    holders = sorted({t["role"] or t["user"] for t in rows})
    timer = deadlines.timer_spec(defn, d)
    supervisors = sorted({s for role in holders if (s := ctx.org.supervisor_of(role))} | set(timer.notify))
    # a supervisor is looked for in the holder's unit first (an enterprise's own head), then anywhere
    units = sorted({t["unit"] for t in rows if t["unit"]}) or [None]
    recipients = _recipients(rows) + [{"role": s, "unit": u, "user": None, "fallback": True}
                                      for s in supervisors for u in units]
    named = list(dict.fromkeys(holders + supervisors))  # a role both holding and notified is named once
    comment = f"「{d['label']}」已于 {d['due'][:10]} 到期，催办：{'、'.join(named)}"
    event = {"type": "escalated", "deadline": deadline_id, "label": d["label"], "due": d["due"],
             "at": iso(now), "actor": actor_record(SYSTEM), "holders": holders, "notify": supervisors,
             "comment": comment}
    case["updated_at"] = iso(now)
    return Outcome(case, [event], [{"type": "notify", "kind": "escalation", "roles": named,
                                    "recipients": recipients, "deadline": deadline_id,
                                    "text": f"{case['title']}：{comment}"}])


def _task_reminders(defn: Workflow, case: dict, entered: list[str], actor: Actor, what: str,
                    transition: str | None = None) -> list[dict]:
    """A 待办提醒 to whoever holds the states just entered (the one who acted is not told of it)."""
    rows = [r for r in tasks(defn, case) if r["state"] in entered] if defn.notify_holders else []
    if not rows:
        return []
    labels = "、".join(defn.state(s).label for s in entered)
    return [{"type": "notify", "kind": "task", "transition": transition, "actor": actor.id,
             "recipients": _recipients(rows), "text": f"{case['title']}：{actor.name}{what}，请办理「{labels}」"}]


def _recipients(rows: list[dict]) -> list[dict]:
    """Who holds these task rows, as {role, unit, user} without repeats (resolved to people later)."""
    seen: dict[tuple, dict] = {}
    for r in rows:
        seen.setdefault((r["role"], r["unit"], r["user"]), {"role": r["role"], "unit": r["unit"], "user": r["user"]})
    return list(seen.values())


def fail_deadline(case: dict, deadline_id: str, now: datetime, reason: str) -> Outcome:
    """A deadline whose transition cannot fire (guard false...): recorded, not retried by every sweep."""
    case = clone(case)
    for d in case["deadlines"]:
        if d["id"] == deadline_id:
            d["status"] = "failed"
    return Outcome(case, [{"type": "deadline_failed", "deadline": deadline_id, "at": iso(now),
                           "actor": actor_record(SYSTEM), "comment": f"期限已到但无法自动执行：{reason}"}])


# ---------------------------------------------------------------- annotations

def add_comment(case: dict, actor: Actor, text: str, now: datetime) -> Outcome:
    text = _comment(text, "意见")
    if text is None:
        raise CommentRequired({"comment": "意见不能为空"})
    case = clone(case)
    case["updated_at"] = iso(now)
    return Outcome(case, [{"type": "comment", "actor": actor_record(actor), "at": iso(now), "comment": text}])


def add_link(case: dict, other_id: str, relation: str, now: datetime) -> Outcome:
    case = clone(case)
    case["links"].append({"case_id": other_id, "relation": relation})
    return Outcome(case, [{"type": "linked", "actor": actor_record(SYSTEM), "at": iso(now),
                           "case_id_linked": other_id, "relation": relation}])


def add_document(case: dict, document: dict, now: datetime) -> Outcome:
    case = clone(case)
    case["documents"].append(document)
    return Outcome(case, [{"type": "document", "actor": actor_record(SYSTEM), "at": iso(now),
                           "document": document}])


# ---------------------------------------------------------------- replay

def replay(defn: Workflow, ctx: Context, case_id: str, events: list[dict]) -> dict:
    """Rebuild a case by re-running its history through the engine."""
    case: dict | None = None
    for e in events:
        if e.get("derived"):
            continue
        now = parse_moment(e["at"])
        if e["type"] == "started":
            case = new_case(defn, ctx, case_id=case_id, actor=actor_from_record(e["actor"]), data=e["data"],
                            now=now, unit=e.get("unit")).case
        elif e["type"] in ("transition", "signed"):
            case = fire(defn, ctx, case, action=e["transition"], actor=actor_from_record(e["actor"]), now=now,
                        data=e.get("data"), comment=e.get("comment")).case
        elif e["type"] in ("timer", "escalated"):
            case = apply_deadline(defn, ctx, case, e["deadline"], now).case
        elif e["type"] == "deadline_failed":
            case = fail_deadline(case, e["deadline"], now, "").case
        elif e["type"] == "comment":
            case = add_comment(case, actor_from_record(e["actor"]), e["comment"], now).case
        elif e["type"] == "linked":
            case = add_link(case, e["case_id_linked"], e["relation"], now).case
        elif e["type"] == "document":
            case = add_document(case, e["document"], now).case
        elif e["type"] in ("transferred", "urged", "withdrawn", "cancelled"):
            case = interventions.apply(case, e)
    if case is None:
        raise ValueError(f"案件 {case_id} 没有发起记录")
    return case
