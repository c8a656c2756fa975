"""How the PostgreSQL store turns documents into rows: JSON text, a case's derived columns, a task's
holder and inbox order, the people index of a case; and a URL fit to show (without its password)."""
from __future__ import annotations

import json
import re

from storage._due import earliest_due


def dumps(obj) -> str:
    """JSON text as the store keeps it (Chinese readable as such; PostgreSQL's `json` keeps it verbatim)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def masked(url: str) -> str:
    """The URL without its password, for messages and logs."""
    url = re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)
    return re.sub(r"(password=)[^&\s]*", r"\1***", url)


def workflow_of(case: dict) -> str | None:
    """The case's workflow column (None when the document names none as text)."""
    return case.get("workflow") if isinstance(case.get("workflow"), str) else None


def next_due(case: dict) -> str | None:
    """The case's `next_due` column: when an open case next needs the sweep (a closed one never)."""
    return earliest_due(case) if case.get("status") == "open" else None


def task_holder(task: dict) -> str | None:
    """Who may act on a task, as the inbox looks it up: a named person, else a role (in a unit, or any)."""
    if task.get("user") is not None:
        return dumps(["user", task["user"]])
    if task.get("role") is not None:
        return dumps(["role", task["role"], task.get("unit")])
    return None


def task_sort_key(task: dict) -> str:
    """The inbox order: due date (none last), case, state (the TinyDB store's order, `\\x01` for its NUL)."""
    due = task.get("due")
    return f"{'1' if due is None else '0'}{due or ''}\x01{task.get('case_id') or ''}\x01{task.get('state') or ''}"


def task_columns(task: dict) -> tuple:
    """A task row's holder, due and sort key (the columns its queries use)."""
    due = task.get("due")
    return task_holder(task), None if due is None else str(due), task_sort_key(task)


def task_row(task: dict) -> tuple:
    return (task["case_id"], *task_columns(task), dumps(task))


def people_rows(case: dict) -> list[tuple[str, str, str, str]]:
    """(person, kind, case, when) for who started the case and everyone who acted on it."""
    cid, at = case["id"], case.get("updated_at") or ""
    named = [("started", case.get("created_by"))] + [("acted", p) for p in case.get("participants") or ()]
    rows = {(person, kind): (person, kind, cid, str(at)) for kind, person in named if isinstance(person, str) and person}
    return list(rows.values())
