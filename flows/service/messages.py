"""People's messages (待办提醒, 催办): who a notify effect reaches, each person's list, read marks.

A message is one record per notify effect in the small table `messages`, naming its recipients (the
inline runner creates it in the commit of the step that causes it: `EffectRunner.done_in_commit`);
each reader's mark is a versioned write, so two people marking the same message read both count.
"""
from __future__ import annotations

from storage import ConflictError, Store

MESSAGES = "messages"


def recipients_of(org, effect: dict) -> list[str]:
    """The people a notify effect reaches, less the one whose action caused it. Effects recorded before
    recipients existed name roles only."""
    entries = effect.get("recipients") or [{"role": r, "unit": None, "user": None} for r in effect.get("roles", [])]
    people: list[str] = []
    for entry in entries:
        found = org.people(entry.get("role"), entry.get("unit"), entry.get("user"))
        if not found and entry.get("fallback") and entry.get("unit"):
            found = org.people(entry.get("role"))
        people += [p for p in found if p not in people and p != effect.get("actor")]
    return people


def message_of(case: dict, effect: dict, people: list[str]) -> dict:
    """The message a notify effect of `case` leaves for `people`, nobody's read mark on it yet."""
    return {"case_id": case["id"], "workflow": case["workflow"], "kind": effect.get("kind", "escalation"),
            "text": effect.get("text") or f"{case['title']}：请及时办理", "at": effect["created_at"],
            "recipients": people, "read_by": []}


def deliver(store: Store, key: str, message: dict) -> bool:
    """Write a message once under `key`; False when an earlier attempt delivered it already (a second
    run neither adds a message nor clears who has read it)."""
    try:
        store.put(MESSAGES, key, {**message, "read_by": []}, expected_version=0)
        return True
    except ConflictError:
        return False


def messages_of(store: Store, user_id: str, unread_only: bool = False, limit: int | None = 50) -> list[dict]:
    """A person's messages, newest first, each with `read` for that person."""
    def mine(m) -> bool:  # tested on the stored record: only this person's messages are copied
        return user_id in m.get("recipients", ()) and not (unread_only and user_id in m.get("read_by", ()))

    rows = [{**m, "read": user_id in m.get("read_by", [])} for m in store.select(MESSAGES, mine)]
    rows.sort(key=lambda m: m["at"], reverse=True)
    return rows[:limit] if limit else rows


def mark_read(store: Store, user_id: str, keys: list[str]) -> int:
    """Mark messages read for one person; other readers' marks are kept (versioned writes)."""
    marked = 0
    for key in keys:
        for _ in range(10):
            message = store.get(MESSAGES, key)
            if message is None or user_id not in message["recipients"] or user_id in message["read_by"]:
                break
            doc = {k: v for k, v in message.items() if not k.startswith("_")}
            try:
                store.put(MESSAGES, key, {**doc, "read_by": [*doc["read_by"], user_id]},
                          expected_version=message["_version"])
                marked += 1
                break
            except ConflictError:
                continue  # someone else marked it meanwhile: read again
    return marked
