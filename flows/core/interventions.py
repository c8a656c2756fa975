"""What people do to a case besides firing its transitions: 转办 (hand my task to a colleague who may
hold it), 催办 (urge the holders), 撤回 (take back my last action while nobody has acted after it),
作废 (cancel the case, with a reason). Pure like the engine: each returns the new case and its events,
and `apply` replays their events, so a case rebuilt from its history is the case that was stored.
"""
from __future__ import annotations

from datetime import datetime

from flows.core import permissions
from flows.core.errors import CommentRequired, NotAvailable, NotPermitted
from flows.core.moments import iso
from flows.core.org import SYSTEM, Actor
from flows.core.records import actor_record, clone
from flows.core.spec import Workflow

# what 撤回 puts back: the case's state before the action taken back
RESTORED = ("active", "entered", "data", "countersigns", "deadlines", "status", "closed_at", "assigned", "acted_by")
# events of nobody in particular that may follow an action without making it final
FOLLOWERS = ("document", "linked", "joined", "comment")


def _reason(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise CommentRequired({"comment": f"请填写{what}"})
    if len(text) > 2000:
        raise CommentRequired({"comment": f"{what}最多 2000 个字"})
    return text


def _participate(case: dict, actor: Actor) -> None:
    if not actor.is_system and actor.id not in case.setdefault("participants", []):
        case["participants"].append(actor.id)


def holds(defn: Workflow, case: dict, state: str, actor: Actor) -> bool:
    """Whether `actor` may act on `state` now (its transitions' roles, or the person it was handed to)."""
    assigned = case.get("assigned", {}).get(state)
    if assigned:
        return assigned["user"] == actor.id
    return any(permissions.permitted(t, case, actor) is None and not t.countersign
               for t in defn.outgoing(state) if t.roles or t.assignee)


def transfer(defn: Workflow, case: dict, *, state: str, actor: Actor, colleague: Actor, now: datetime,
             comment: str | None = None) -> tuple[dict, list[dict], list[dict]]:
    """转办: the task of `state` goes to `colleague`, who must be someone who could hold it."""
    if case["status"] != "open" or state not in case["active"]:
        raise NotAvailable("该环节已不在办理中，无法转办")
    if not holds(defn, case, state, actor):
        raise NotPermitted(f"{actor.name}不是该环节的办理人，不能转办")
    if colleague.id == actor.id:
        raise NotPermitted("不能转办给自己")
    unassigned = {**case, "assigned": {k: v for k, v in case.get("assigned", {}).items() if k != state}}
    if not holds(defn, unassigned, state, colleague):
        raise NotPermitted(f"{colleague.name}没有办理该环节的权限，不能转办给他/她")
    case = clone(case)
    case.setdefault("assigned", {})[state] = {"user": colleague.id, "by": actor.id, "at": iso(now)}
    case["updated_at"] = iso(now)
    _participate(case, actor)
    label = defn.state(state).label
    event = {"type": "transferred", "actor": actor_record(actor), "at": iso(now), "state": state, "label": f"转办：{label}",
             "to_user": colleague.id, "to_name": colleague.name, "comment": (comment or "").strip() or None}
    effect = {"type": "notify", "kind": "task", "actor": actor.id, "text": f"{case['title']}：{actor.name}将「{label}」转办给您",
              "recipients": [{"role": None, "unit": None, "user": colleague.id}]}
    return case, [event], [effect]


def urge(defn: Workflow, case: dict, rows: list[dict], *, actor: Actor, now: datetime,
         comment: str | None = None) -> tuple[dict, list[dict], list[dict]]:
    """催办: a message to everyone holding the case now (`rows`: the engine's task rows)."""
    if case["status"] != "open" or not rows:
        raise NotAvailable("本案当前没有待办环节，无需催办")
    case = clone(case)
    case["updated_at"] = iso(now)
    labels = "、".join(dict.fromkeys(r["state_label"] for r in rows))
    event = {"type": "urged", "actor": actor_record(actor), "at": iso(now), "label": f"催办：{labels}",
             "comment": (comment or "").strip() or None}
    recipients = [{"role": r["role"], "unit": r["unit"], "user": r["user"]} for r in rows]
    text = f"{case['title']}：{actor.name}催办「{labels}」" + (f"，{event['comment']}" if event["comment"] else "")
    return case, [event], [{"type": "notify", "kind": "escalation", "actor": actor.id, "text": text,
                            "recipients": recipients, "roles": sorted({r['role'] for r in rows if r['role']})}]


def withdrawable(history: list[dict], actor: Actor) -> dict | None:
    """My last action, when nothing but documents, links, joins and comments followed it; else None."""
    for event in reversed(history):
        if event.get("type") in FOLLOWERS or event.get("derived"):
            continue
        if event.get("type") in ("transition", "signed") and (event.get("actor") or {}).get("id") == actor.id:
            return event
        return None
    return None


def withdraw(case: dict, before: dict, taken_back: dict, *, actor: Actor, now: datetime,
             comment: str | None = None) -> tuple[dict, list[dict]]:
    """撤回: the case goes back to `before` (the case rebuilt from the history up to `taken_back`);
    documents issued, links made and comments written stay, as things that happened."""
    restore = {key: before.get(key) for key in RESTORED}
    restore["assigned"] = before.get("assigned") or {}
    restore["acted_by"] = before.get("acted_by") or {}  # a step taken back was not done: not its `actor_of`
    case = clone(case)
    case.update(clone(restore))
    case["updated_at"] = iso(now)
    _participate(case, actor)
    event = {"type": "withdrawn", "actor": actor_record(actor), "at": iso(now), "label": f"撤回：{taken_back.get('label')}",
             "withdrawn_seq": taken_back.get("seq"), "restore": restore, "to": list(case["active"]),
             "comment": (comment or "").strip() or None}
    return case, [event]


def cancel(case: dict, *, actor: Actor, now: datetime, reason: str | None) -> tuple[dict, list[dict]]:
    """作废: the case ends without reaching a final state; its history and documents stay."""
    if case["status"] != "open":
        raise NotAvailable("案件已结案或已作废")
    reason = _reason(reason, "作废理由")
    case = clone(case)
    case.update(status="closed", cancelled=True, closed_at=iso(now), updated_at=iso(now))
    for deadline in case.get("deadlines", []):
        if deadline["status"] == "pending":
            deadline["status"] = "cancelled"
    event = {"type": "cancelled", "actor": actor_record(actor), "at": iso(now), "label": "作废", "comment": reason}
    return case, [event]


def apply(case: dict, event: dict) -> dict:
    """Replay one of these events on the case rebuilt so far."""
    case = clone(case)
    kind, at = event["type"], event["at"]
    if kind == "transferred":
        case.setdefault("assigned", {})[event["state"]] = {"user": event["to_user"], "by": event["actor"]["id"],
                                                           "at": at}
    elif kind == "withdrawn":
        case.update(clone(event["restore"]))
    elif kind == "cancelled":
        case.update(status="closed", cancelled=True, closed_at=at)
        for deadline in case.get("deadlines", []):
            if deadline["status"] == "pending":
                deadline["status"] = "cancelled"
    actor = event.get("actor") or {}
    if actor.get("id") not in (None, SYSTEM.id) and kind in ("transferred", "withdrawn"):
        _participate(case, Actor(id=actor["id"], name=actor.get("name", ""), unit=actor.get("unit"), roles=()))
    case["updated_at"] = at
    return case
