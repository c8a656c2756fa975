"""Every stored case of one workflow, held in memory and kept current from `Store.changes`, for the
pages that read a whole workflow on each view (台账, the drill calendar): the archive is read once per
process, after that only the cases that changed (here or in another process).

The documents handed out are shared, not copies: callers read them and never change them.
"""
from __future__ import annotations

import threading

from flows.service.cases import Service

__all__ = ["workflow_cases", "derived", "memo"]


class _WorkflowCases:
    def __init__(self, workflow: str):
        self.workflow = workflow
        self.cases: dict[str, dict] = {}
        self.token = None
        self.generation = 0  # moves when a case of this workflow changed (not on other workflows' commits)
        self.lock = threading.Lock()

    def current(self, svc: Service) -> list[dict]:
        with self.lock:
            token, changed = svc.store.changes(self.token)
            if changed is None:
                self.cases = {c["id"]: c for c in svc.store.cases(workflow=self.workflow)}
                self.generation += 1
            else:
                for cid in changed:
                    case = svc.store.get_case(cid)
                    if case is not None and case.get("workflow") == self.workflow:
                        self.cases[cid] = case
                        self.generation += 1
                    elif self.cases.pop(cid, None) is not None:
                        self.generation += 1
            self.token = token
            return list(self.cases.values())


def workflow_cases(svc: Service, workflow: str) -> list[dict]:
    """Every case of `workflow`, open and closed (shared documents: read only)."""
    return _set_of(svc, workflow).current(svc)


def derived(svc: Service, workflow: str, name: str, key, make):
    """`make(cases)` over every case of `workflow`, made again only when one of them changed or `key`
    (e.g. today's date) did: a register's rows on each view of a page cost a lookup."""
    found = _set_of(svc, workflow)
    cases = found.current(svc)
    table = svc.__dict__.setdefault("_derived", {})
    stamp = (found.generation, key)
    hit = table.get((workflow, name))
    if hit is None or hit[0] != stamp:
        hit = table[(workflow, name)] = (stamp, make(cases))
    return hit[1]


def _set_of(svc: Service, workflow: str) -> _WorkflowCases:
    sets = svc.__dict__.setdefault("_workflow_cases", {})
    found = sets.get(workflow)
    if found is None:
        found = sets.setdefault(workflow, _WorkflowCases(workflow))
    return found


def memo(svc: Service, name: str, case: dict, make):
    """`make(case)` once per version of a case (e.g. what its history says), remembered per service."""
    table = svc.__dict__.setdefault("_case_memo", {}).setdefault(name, {})
    key = case["id"]
    hit = table.get(key)
    if hit is not None and hit[0] == case.get("version"):
        return hit[1]
    value = make(case)
    table[key] = (case.get("version"), value)
    return value
