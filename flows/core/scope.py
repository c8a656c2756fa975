"""The names a guard, a visible-when condition, a timer length or a computed field's rule sees:
the case's data fields, `settings` (the workflow's settings an admin tunes), and, where a case
exists, `case_id`, `entered` ({state: date}), `today` and `signatures` (each countersign's signers,
see `signatures`); a guard also sees `actor` (who acts: id, name, unit, roles). Computed fields (rule
tables such as the accident level) are derived here, never typed."""
from __future__ import annotations

from datetime import datetime

from flows.core.expressions import evaluate
from flows.core.org import Actor
from flows.core.spec import Workflow

#: the names every expression may use besides the workflow's fields (flows.core.validate knows them)
BUILTIN_NAMES = frozenset({"settings", "today", "entered", "case_id", "signatures", "actor"})
SIGNATURE_KEYS = ("signers", "names", "comments")


def signatures(case: dict) -> dict:
    """Each countersign (会签) signed so far, by transition name: `signers` (each with name, actor (id),
    at (date), comment and the answers of its form), `names` and `comments` (lists, in signing order),
    and for each field of the countersign's form the list of the signers' answers, so that a guard can
    say `"不同意" not in signatures.accept.result` and a template loop over `signatures.accept.signers`."""
    out: dict[str, dict] = {}
    for name, signed in (case.get("countersigns") or {}).items():
        entry: dict = {"signers": [], "names": [], "comments": []}
        for s in signed.values():
            answers = s.get("data") or {}
            entry["signers"].append({"name": s.get("name"), "actor": s.get("actor"), "at": (s.get("at") or "")[:10],
                                     "comment": s.get("comment"), **answers})
            entry["names"].append(s.get("name"))
            entry["comments"].append(s.get("comment"))
            for key, value in answers.items():
                if key not in SIGNATURE_KEYS:
                    entry.setdefault(key, []).append(value)
        out[name] = entry
    return out


def actor_facts(actor: Actor) -> dict:
    return {"id": actor.id, "name": actor.name, "unit": actor.unit, "roles": sorted({r for r, _ in actor.roles})}


def env(defn: Workflow, data: dict, case: dict | None = None, now: datetime | None = None,
        actor: Actor | None = None) -> dict:
    """What an expression sees: the case data, the workflow's settings, and a few facts of the case."""
    env = {**data, "settings": defn.settings}
    if case is not None:
        env.update(case_id=case["id"], entered={k: v[:10] for k, v in case["entered"].items()},
                   signatures=signatures(case))
    if now is not None:
        env["today"] = now.date().isoformat()
    if actor is not None:
        env["actor"] = actor_facts(actor)
    return env


def truthy(defn: Workflow, source: str | None, data: dict, case: dict | None = None,
            now: datetime | None = None, actor: Actor | None = None) -> bool:
    return True if source is None else bool(evaluate(source, env(defn, data, case, now, actor)))


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
