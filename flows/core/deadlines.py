"""Deadlines (期限) of a case: when a state's timers fall due (in 工作日, days, months or years, from
entry or from a date field, extendable), and which of them end when the case moves on. Due times are
stored with the case, so a restart loses none."""
from __future__ import annotations

import calendar as _calendar
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flows.core.errors import FlowError
from flows.core.expressions import evaluate
from flows.core.moments import iso, parse_moment
from flows.core.scope import env
from flows.core.spec import MAX_TIMER_LENGTH, Timer, Workflow

if TYPE_CHECKING:
    from flows.core.engine import Context


#: a deadline still runs while pending (not yet due) or escalated (passed, 催办 sent, the work not done):
#: an escalated one is overdue until its span ends, and then it is `met` with `late` set
RUNNING = frozenset({"pending", "escalated"})


def running(case: dict) -> list[dict]:
    return [d for d in case.get("deadlines", ()) if d.get("status") in RUNNING]


def nearest_due(case: dict) -> str | None:
    """The due time of the case's nearest running deadline (an open case's 办理期限), or None."""
    return min((d["due"] for d in running(case) if d.get("due")), default=None)


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, _calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _length(defn: Workflow, timer: Timer, data: dict) -> int | None:
    if isinstance(timer.after, int):
        return timer.after
    value = evaluate(timer.after, env(defn, data))
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        return None
    longest = MAX_TIMER_LENGTH[timer.unit]
    if not 0 <= value <= longest:  # a length typed into a form: refused before any date arithmetic overflows
        raise FlowError(f"「{timer.label}」的期限长度 {value:g} 超出允许范围（0–{longest}）")
    return int(value)


def _shift(ctx: Context, start: datetime, amount: int, unit: str) -> datetime:
    if unit == "workdays":
        return ctx.calendar.due(start, amount, working=True)
    if unit == "months":
        return add_months(start, amount)
    if unit == "years":
        return add_months(start, 12 * amount)
    return start + timedelta(days=amount)


def due_at(defn: Workflow, ctx: Context, timer: Timer, entered: datetime, data: dict, extensions: int) -> str | None:
    if timer.from_field:
        raw = data.get(timer.from_field)
        if not raw:
            return None  # the date is not known yet: the deadline waits for it
        start = parse_moment(raw)
    else:
        start = entered
    amount = _length(defn, timer, data)
    if amount is None:
        return None
    due = _shift(ctx, start, amount, timer.unit)
    if extensions and timer.extend_by:
        due = _shift(ctx, due, timer.extend_by * extensions, timer.unit)
    return iso(due)


def enter_timers(defn: Workflow, ctx: Context, case: dict, state: str, now: datetime) -> None:
    spec = defn.state(state)
    for timer in spec.timers if spec else ():
        deadline_id = f"{state}.{timer.name}"
        if any(d["id"] == deadline_id and d["status"] in RUNNING for d in case["deadlines"]):
            continue  # re-entering a state whose deadline still runs (its `until` not reached) keeps it
        case["deadlines"] = [d for d in case["deadlines"] if d["id"] != deadline_id]
        case["deadlines"].append({
            "id": deadline_id, "timer": timer.name, "state": state, "label": timer.label,
            "entered": iso(now), "due": due_at(defn, ctx, timer, now, case["data"], 0),
            "action": timer.action, "transition": timer.transition, "status": "pending", "extensions": 0,
        })


def timer_spec(defn: Workflow, deadline: dict) -> Timer | None:
    state = defn.state(deadline["state"])
    return next((t for t in state.timers if t.name == deadline["timer"]), None) if state else None


def settle(defn: Workflow, ctx: Context, case: dict, left: Iterable[str], entered: Iterable[str]) -> None:
    """Clear deadlines whose span ended; recompute those that wait on a date field."""
    left, entered = set(left), set(entered)
    for d in case["deadlines"]:
        if d["status"] not in RUNNING:
            continue
        timer = timer_spec(defn, d)
        if timer is None:
            continue
        was = d["status"]
        if (timer.until and entered & set(timer.until)) or (not timer.until and d["state"] in left):
            d["status"] = "met"
            if was == "escalated":
                d["late"] = True
        if d["status"] == "pending" and (timer.from_field or not isinstance(timer.after, int)):
            d["due"] = due_at(defn, ctx, timer, parse_moment(d["entered"]), case["data"], d["extensions"])
