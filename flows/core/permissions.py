"""Who may fire a transition: its roles (optionally tied to the case's unit or to the unit a case field
names), a named assignee, or the participants of its countersign (会签)."""
from __future__ import annotations

from flows.core.org import Actor
from flows.core.spec import Transition, Workflow


def participants(defn: Workflow, t: Transition, case: dict) -> list[str]:
    """Countersign participants as keys: "role@unit" or "user:id"."""
    cs = t.countersign
    units = list(cs.units)
    if cs.units_field:
        picked = case["data"].get(cs.units_field) or []
        units += [u for u in ([picked] if isinstance(picked, str) else picked) if u not in units]
    keys = [f"{cs.role}@{u}" for u in units] if cs.role else []
    return keys + [f"user:{u}" for u in cs.users]


def actor_keys(actor: Actor) -> set[str]:
    return {f"{r}@{u}" for r, u in actor.roles} | {f"user:{actor.id}"}


def permitted(t: Transition, case: dict, actor: Actor) -> str | None:
    """None when `actor` may fire `t`, else the reason in Chinese."""
    if actor.is_system:
        return None
    if not t.countersign:  # a step handed to a colleague (转办) is theirs alone
        for state in t.sources:
            handed = case.get("assigned", {}).get(state)
            if handed and state in case["active"]:
                return None if handed["user"] == actor.id else f"「{t.label}」已转办给其他人办理"
    if not t.roles and not t.countersign and not t.assignee:
        return f"「{t.label}」只由系统自动执行"
    if t.countersign:
        return None  # checked against the pending participants
    if t.assignee:
        person = case["data"].get(t.assignee)
        if person == actor.id:
            return None
        return f"「{t.label}」须由指定的承办人执行" + (f"（{person}）" if person else "（尚未指定）")
    if any(actor.has_role(role, role_unit(t, role, case)) for role in t.roles):
        return None
    needed = "、".join(role + (f"（{unit}）" if (unit := role_unit(t, role, case)) else "") for role in t.roles)
    return f"{actor.name}没有执行「{t.label}」的权限，需要角色：{needed}"


def role_unit(t: Transition, role: str, case: dict) -> str | None:
    """The unit a role must belong to for `t`: the one a case field names (an enterprise's own contact),
    the case's unit (own_unit), or None for any unit. A named field left empty matches no unit."""
    field = t.role_units.get(role)
    if field is not None:
        value = case["data"].get(field)
        name = value.get("name") if isinstance(value, dict) else value
        return name or "（未指定单位）"
    return case.get("unit") if t.own_unit else None


def pending_signers(defn: Workflow, t: Transition, case: dict) -> list[str]:
    signed = case["countersigns"].get(t.name, {})
    return [p for p in participants(defn, t, case) if p not in signed]
