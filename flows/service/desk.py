"""The office's desk, as the browser shows it: who may see a case, a person's 待办 with the working
days left, and a case told in the office's words (its fields by label and step, its history in Chinese).

Visibility is enforced here, on the server side: a page that hides a button is not security.
A person sees a case when they hold or held a task on it, started it, belong to the unit that owns
it, or have a role that sees all (configs/platform.yaml `see_all_roles`); an enterprise's contact
sees only the cases that name their own enterprise (or that they act on).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flows.core import engine, permissions, scope
from flows.core.errors import NotPermitted
from flows.core.forms import Field
from flows.core.org import Actor
from flows.core.spec import Workflow
from flows.service.cases import Service

EVENT_LABELS = {"started": "发起", "document": "出具文书", "joined": "并行环节汇合", "linked": "关联案件",
                "comment": "意见", "escalated": "催办", "timer": "期限到期自动流转", "deadline_failed": "期限处理失败",
                "signed": "会签"}
KIND_LABELS = {"return": "退回", "reject": "不予通过"}


# ------------------------------------------------------------------ who sees what

def sees_all(svc: Service, actor: Actor) -> bool:
    return any(actor.has_role(role) for role in svc.config.platform.see_all_roles)


def is_admin(svc: Service, actor: Actor) -> bool:
    return any(actor.has_role(role) for role in svc.config.platform.admin_roles)


def enterprise_of(svc: Service, actor: Actor) -> str | None:
    """The enterprise an enterprise's contact belongs to, else None."""
    unit = next((u for u in svc.org.units if u.name == actor.unit), None)
    return unit.name if unit is not None and unit.kind == "enterprise" else None


def _names_enterprise(case: dict, enterprise: str) -> bool:
    for value in case["data"].values():
        if value == enterprise or (isinstance(value, dict) and value.get("name") == enterprise):
            return True
    return False


def _holds(svc: Service, actor: Actor, case: dict) -> bool:
    wf = svc.definition_of(case)
    keys = {(r, u) for r, u in actor.roles}
    for row in engine.tasks(wf, case):
        if row["user"] == actor.id or (row["user"] is None and any(
                r == row["role"] and (row["unit"] is None or u == row["unit"]) for r, u in keys)):
            return True
    return False


def can_see(svc: Service, user_id: str, case: dict) -> bool:
    actor = svc.actor(user_id)
    if case.get("created_by") == actor.id or _holds(svc, actor, case):
        return True
    enterprise = enterprise_of(svc, actor)
    if enterprise is not None:
        return _names_enterprise(case, enterprise) or _acted_on(svc, actor, case)
    if sees_all(svc, actor) or (case.get("unit") and case.get("unit") == actor.unit):
        return True
    return _acted_on(svc, actor, case)


def _acted_on(svc: Service, actor: Actor, case: dict) -> bool:
    if actor.id in case.get("participants", ()):
        return True
    if "participants" in case:
        return False
    # a case committed before `participants` existed: its history says who acted
    return any((e.get("actor") or {}).get("id") == actor.id for e in svc.history(case["id"]))


def open_case(svc: Service, user_id: str, case_id: str) -> dict:
    """The case for this person, or NotPermitted("无权查看…") (NotFound when there is no such case)."""
    case = svc.case(case_id)
    if not can_see(svc, user_id, case):
        raise NotPermitted(f"无权查看案件 {case_id}")
    return case


def startable(svc: Service, user_id: str) -> list[Workflow]:
    """The workflows this person may start (the engine refuses the others too)."""
    actor = svc.actor(user_id)
    return [wf for _, wf in sorted(svc.config.workflows.items()) if permissions.offers_start(wf, actor)]


def visible(wf: Workflow, f: Field, values: dict, case: dict | None = None) -> bool:
    """Whether a field shows now, for the values typed so far (the same rule the server checks)."""
    if not f.visible_when:
        return True
    try:
        return scope.truthy(wf, f.visible_when, {**(case or {}).get("data", {}), **values})
    except Exception:  # noqa: BLE001 - a half-typed form: show the field rather than hide it
        return True


# ------------------------------------------------------------------ 待办

def days_left(svc: Service, due: str | None, today: date) -> int | None:
    """Working days from today to the due date: negative when overdue, 0 on the day itself."""
    if not due:
        return None
    end = date.fromisoformat(due[:10])
    if end >= today:
        return svc.config.calendar.workdays_between(today, end)
    return -svc.config.calendar.workdays_between(end, today)


def deadline_warnings(svc: Service, case: dict) -> list[str]:
    """Said beside a case's running deadlines counted in 工作日 that reach a year nobody entered the
    holidays of: they were counted Monday–Friday."""
    wf = svc.definition_of(case)
    today = svc.clock().date()
    found: list[str] = []
    for d in case.get("deadlines", []):
        state = wf.state(d.get("state", ""))
        timer = next((t for t in state.timers if t.name == d.get("timer")), None) if state else None
        if d["status"] != "pending" or not d.get("due") or timer is None or timer.unit != "workdays":
            continue
        start = date.fromisoformat(d.get("entered", d["due"])[:10])
        end = date.fromisoformat(d["due"][:10])
        found += [w for w in svc.config.calendar.warnings(min(start, today), max(end, today)) if w not in found]
    return found


def inbox_page(svc: Service, user_id: str, page: int = 0, size: int = 20) -> tuple[list[dict], bool]:
    """One page of the person's open tasks, overdue first then by deadline, each with the days left in
    工作日; and whether there is a further page. Only `size + 1` tasks are read beyond the page start."""
    rows, seen = [], set()
    for row in svc.inbox(user_id, limit=2 * ((page + 1) * size + 1)):
        if (row["case_id"], row["state"]) not in seen:  # one line per step, however many roles hold it
            seen.add((row["case_id"], row["state"]))
            rows.append(row)
    today = svc.clock().date()
    out = []
    for row in rows[page * size:(page + 1) * size]:
        wf = svc.config.workflows.get(row["workflow"])
        out.append({**row, "workflow_title": wf.title if wf else row["workflow"],
                    "days_left": days_left(svc, row.get("due"), today)})
    return out, len(rows) > (page + 1) * size


def my_cases(svc: Service, user_id: str, kind: str, page: int = 0, size: int = 20) -> tuple[list[dict], bool]:
    """已办 (cases this person acted on) or 我发起的 (cases they started), most recently changed first,
    one page, read through the store's index of people (never the whole archive)."""
    actor = svc.actor(user_id)
    found, total = svc.store.cases_of_person(actor.id, "started" if kind == "started" else "acted",
                                             offset=page * size, limit=size)
    return found, total > (page + 1) * size


# ------------------------------------------------------------------ a case in the office's words

def state_labels(wf: Workflow, case: dict) -> str:
    labels = {s.name: s.label for s in wf.states}
    return "、".join(labels.get(a, a) for a in case["active"]) if case["status"] == "open" else "已结案"


def holders(svc: Service, case: dict) -> list[dict]:
    """Who holds which open step: {state, label, who} with people by name, roles with their unit."""
    wf = svc.definition_of(case)
    out = []
    for row in engine.tasks(wf, case):
        if row["user"]:
            user = svc.org.user(row["user"])
            who = user.name if user else row["user"]
        else:
            who = f"{row['unit'] or ''}{row['role']}"
        out.append({"state": row["state"], "label": row["state_label"], "who": who})
    return out


def display(svc: Service, f: Field | None, value: Any) -> str:
    """A stored value as the office reads it: people by name, enterprises with their credit code."""
    if value is None or value == "" or value == []:
        return ""
    kind = f.kind if f else None
    if kind == "person" or (isinstance(value, str) and kind is None and svc.org.user(value)):
        user = svc.org.user(value)
        return user.name if user else str(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict) and "credit_code" in value:
        return f"{value.get('name', '')}（{value['credit_code']}）"
    if isinstance(value, dict) and "name" in value:
        return str(value["name"])
    if kind == "file" and isinstance(value, list):
        return "、".join(str(v.get("name", "")) for v in value if isinstance(v, dict))
    if kind == "table" and isinstance(value, list):
        return f"{len(value)} 行"
    if isinstance(value, list):
        return "、".join(display(svc, None, v) for v in value)
    if kind == "datetime" and isinstance(value, str):
        return value.replace("T", " ")[:16]
    return str(value)


def fields_of(wf: Workflow) -> dict[str, tuple[Field, str]]:
    """Every data field with the step whose form asks for it (the start form's step is 发起)."""
    found: dict[str, tuple[Field, str]] = {}
    steps = {t.form: t.label for t in wf.transitions if t.form}
    if wf.start_form:
        steps.setdefault(wf.start_form, "发起")
    for form_name, form in wf.forms.items():
        for f in form.fields:
            found.setdefault(f.name, (f, steps.get(form_name, form.title if hasattr(form, "title") else form_name)))
    for comp in wf.computed:
        found.setdefault(comp.name, (Field(name=comp.name, label=getattr(comp, "label", None) or comp.name,
                                           kind="text"), "自动计算"))
    return found


def attachment(svc: Service, user_id: str, case_id: str, ref: str):
    """An attachment of a case this person may see: (path, original name); NotPermitted otherwise."""
    from flows.service.files import Uploads

    case = open_case(svc, user_id, case_id)
    for value in case["data"].values():
        for item in value if isinstance(value, list) else []:
            if isinstance(item, dict) and item.get("ref") == ref:
                return Uploads(svc.store).path(ref), item.get("name") or ref
    raise NotPermitted("该附件不属于本案件")


def data_by_step(svc: Service, case: dict) -> list[dict]:
    """The case's data grouped by the step that filled it: [{step, fields: [{label, value, rows?}]}]."""
    wf = svc.definition_of(case)
    known = fields_of(wf)
    groups: dict[str, list[dict]] = {}
    for key, value in case["data"].items():
        if value is None or value == "" or value == []:
            continue
        f, step = known.get(key, (None, "其他"))
        entry = {"key": key, "label": f.label if f else key, "value": display(svc, f, value)}
        if f is not None and f.kind == "file" and isinstance(value, list):
            entry["files"] = [v for v in value if isinstance(v, dict) and v.get("ref")]
        if f is not None and f.kind == "table" and isinstance(value, list):
            columns = {c.name: c for c in f.columns}
            entry["rows"] = [{(columns[k].label if k in columns else k): display(svc, columns.get(k), v)
                              for k, v in row.items()} for row in value if isinstance(row, dict)]
        groups.setdefault(step, []).append(entry)
    return [{"step": step, "fields": rows} for step, rows in groups.items()]


# events that change what a person acts on (not a document issued, a link made, a comment or a reminder)
_MOVES = ("started", "transition", "signed", "timer", "escalated", "joined", "transferred", "withdrawn", "cancelled")


def revision(history: list[dict]) -> int:
    """How many times the case moved: what a page compares with what it showed, so a change made by
    someone else meanwhile is told (effects' bookkeeping raises the stored version without moving it)."""
    return sum(1 for e in history if e.get("type") in _MOVES)


def history_rows(svc: Service, case: dict) -> list[dict]:
    """Who, when, what, comment, fields changed — in Chinese, oldest first."""
    wf = svc.definition_of(case)
    known = fields_of(wf)
    labels = {s.name: s.label for s in wf.states}
    out = []
    for event in svc.history(case["id"]):
        kind = event.get("type")
        what = event.get("label") if kind in ("transition", "signed", "escalated", "transferred", "urged", "withdrawn",
                                              "cancelled") else EVENT_LABELS.get(kind, kind)
        if kind == "transition" and event.get("kind") in KIND_LABELS:
            what = f"{KIND_LABELS[event['kind']]}：{event.get('label')}"
        if kind == "signed":
            what = f"会签：{event.get('label')}"
        if kind == "document":
            doc = event.get("document") or {}
            what = f"出具文书：{doc.get('title', '')}" + (f"（{doc['number']}）" if doc.get("number") else "")
        if kind == "linked":
            what = f"关联案件：{event.get('case_id_linked', '')}"
        if kind == "transferred":
            what = f"{event.get('label')}（转给{event.get('to_name', '')}）"
        if kind == "joined":
            what = f"并行环节汇合，进入「{'、'.join(labels.get(s, s) for s in event.get('to', []))}」"
        changes = [f"{known.get(k, (None, ''))[0].label if k in known else k}："
                   f"{display(svc, known.get(k, (None, ''))[0], new)}"
                   for k, (_, new) in (event.get("changes") or {}).items() if new not in (None, "", [])]
        out.append({"at": (event.get("at") or "")[:16].replace("T", " "),
                    "who": (event.get("actor") or {}).get("name", ""), "what": what or "",
                    "to": "、".join(labels.get(s, s) for s in event.get("to", []) or []),
                    "comment": event.get("comment") or "", "changes": "；".join(changes)})
    return out
