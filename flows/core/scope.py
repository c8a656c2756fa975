"""The names a guard, a visible-when condition, a timer length or a computed field's rule sees:
the case's data fields, `settings` (the workflow's settings an admin tunes), and, where a case
exists, `case_id`, `entered` ({state: date}) and `today`. Computed fields (rule tables such as the
accident level) are derived here, never typed."""
from __future__ import annotations

from datetime import datetime

from flows.core.expressions import evaluate
from flows.core.spec import Workflow


def env(defn: Workflow, data: dict, case: dict | None = None, now: datetime | None = None) -> dict:
    """What an expression sees: the case data, the workflow's settings, and a few facts of the case."""
    env = {**data, "settings": defn.settings}
    if case is not None:
        env.update(case_id=case["id"], entered={k: v[:10] for k, v in case["entered"].items()})
    if now is not None:
        env["today"] = now.date().isoformat()
    return env


def truthy(defn: Workflow, source: str | None, data: dict, case: dict | None = None,
            now: datetime | None = None) -> bool:
    return True if source is None else bool(evaluate(source, env(defn, data, case, now)))


def computed(defn: Workflow, data: dict) -> dict:
    """Recompute every rule-table field; the first rule whose `when` holds gives the value."""
    if not defn.computed:
        return data
    data = dict(data)
    for comp in defn.computed:
        value = None
        for rule in comp.rules:
            if rule.when is None or evaluate(rule.when, env(defn, data)):
                value = rule.value
                break
        data[comp.name] = value
    return data
