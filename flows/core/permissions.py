"""Who may fire a transition: its roles (optionally tied to the case's unit, to the unit a case field
names or to fixed units), a named assignee, the person who last did an earlier step (`actor_of`), or
the participants of its countersign (会签). Who may start a workflow (`may_start`)."""
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
    if t.actor_of and (person := earlier_actor(t, case)):
        return None if person == actor.id else f"「{t.label}」须由此前办理「{t.actor_of}」的人员（{person}）办理"
    if any(actor.has_role(role, unit) for role in t.roles for unit in role_units(t, role, case)):
        return None
    needed = "、".join(role + (f"（{'或'.join(units)}）" if (units := [u for u in role_units(t, role, case) if u]) else "")
                      for role in t.roles)
    return f"{actor.name}没有执行「{t.label}」的权限，需要角色：{needed}"


def earlier_actor(t: Transition, case: dict) -> str | None:
    """For `actor_of`: the person who last fired that transition on the case (None: nobody yet)."""
    return case.get("acted_by", {}).get(t.actor_of) if t.actor_of else None


def role_units(t: Transition, role: str, case: dict) -> list[str | None]:
    """The units a role must belong to for `t`: the one a case field names (an enterprise's own contact),
    the case's unit (own_unit), the transition's fixed `units`, or [None] for any unit. A named field
    left empty matches no unit."""
    field = t.role_units.get(role)
    if field is not None:
        return [_named_unit(case["data"].get(field))]
    if t.own_unit:
        return [case.get("unit")]
    return list(t.units) or [None]


def _named_unit(value) -> str:
    """The unit (or enterprise) a unit/enterprise field names; one left empty names no unit."""
    return (value.get("name") if isinstance(value, dict) else value) or "（未指定单位）"


def offers_start(defn: Workflow, actor: Actor) -> bool:
    """Whether 新建 offers `defn` to `actor`: in one of `start_units` (when named), holding one of
    `start_roles` (any, when none); the unit a start form's field must name is checked on starting."""
    if defn.start_units and actor.unit not in defn.start_units:
        return False
    return not defn.start_roles or any(actor.has_role(role) for role in defn.start_roles)


def may_start(defn: Workflow, actor: Actor, data: dict) -> str | None:
    """None when `actor` may start `defn` with the start form's `data`, else the reason in Chinese: one of
    `start_roles` (any, when none are named), in one of `start_units` (when named), and for a role of
    `start_role_units` only with their own unit (or enterprise) in its field."""
    if actor.is_system:
        return None
    if defn.start_units and actor.unit not in defn.start_units:
        return f"「{defn.title}」只限{'、'.join(defn.start_units)}的人员发起"
    if not defn.start_roles:
        return None
    for role in defn.start_roles:
        field = defn.start_role_units.get(role)
        if actor.has_role(role, None if field is None else _named_unit(data.get(field))):
            return None
    if any(actor.has_role(role) for role in defn.start_role_units):
        return f"{actor.name}只能为本单位（{actor.unit}）发起「{defn.title}」"
    return f"{actor.name}不能发起「{defn.title}」，需要角色：{'、'.join(defn.start_roles)}"


def pending_signers(defn: Workflow, t: Transition, case: dict) -> list[str]:
    signed = case["countersigns"].get(t.name, {})
    return [p for p in participants(defn, t, case) if p not in signed]
