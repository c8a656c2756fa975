"""转办, 催办, 撤回 and 作废 as the service carries them out: who may, then one versioned commit.

The rules of each are in `flows.core.interventions`; here are the checks that need the whole
organisation or the history (who may see the case, who is an admin, what was the case before the
action taken back), and the commit with the case's version, so a stale page is refused.
"""
from __future__ import annotations

from datetime import datetime

from flows.core import engine, interventions
from flows.core.errors import NotAvailable, NotPermitted
from flows.service import desk
from flows.service.cases import Service
from flows.service.retry import on_fresh_case


def _commit(svc: Service, case: dict, new: dict, events: list[dict], effects: list[dict] | None = None) -> dict:
    return svc.commit_outcome(engine.Outcome(new, events, effects or []), expected_version=case["version"])


def _open(svc: Service, user_id: str, case_id: str, expected_version: int | None,
          expected_revision: int | None = None) -> dict:
    """The case, refused as stale when it is not the one the page showed: `expected_version` exactly,
    or `expected_revision` (how many times it moved: effects' bookkeeping, which raises the version while
    Prefect issues a document, is no conflict)."""
    from flows.core.errors import StaleVersion

    case = desk.open_case(svc, user_id, case_id)
    if expected_version is not None and expected_version != case["version"]:
        raise StaleVersion(case_id, expected_version, case["version"])
    if expected_revision is not None:
        revision = desk.revision(svc.history(case_id))
        if revision != expected_revision:
            raise StaleVersion(case_id, expected_revision, revision)
    return case


def _retrying(command):
    """Run a command again when only effects' bookkeeping wrote the case between its read and its
    commit (a page gives `expected_revision`; a moved case is still refused by `_open`)."""
    from functools import wraps

    @wraps(command)
    def run(*args, **kw):
        if kw.get("expected_version") is not None:
            return command(*args, **kw)
        return on_fresh_case(lambda: command(*args, **kw), tries=5)
    return run


def transferable_to(svc: Service, user_id: str, case_id: str, state: str) -> list[dict]:
    """Colleagues who could hold the step instead of me: {id, name, unit}."""
    case = svc.case(case_id)
    wf = svc.definition_of(case)
    bare = {**case, "assigned": {k: v for k, v in case.get("assigned", {}).items() if k != state}}
    return [{"id": u.id, "name": u.name, "unit": u.unit} for u in svc.org.users
            if u.id != user_id and interventions.holds(wf, bare, state, svc.actor(u.id))]


def held_states(svc: Service, user_id: str, case: dict) -> list[str]:
    wf = svc.definition_of(case)
    actor = svc.actor(user_id)
    return [s for s in case["active"] if case["status"] == "open" and interventions.holds(wf, case, s, actor)]


@_retrying
def transfer(svc: Service, case_id: str, user_id: str, state: str, to_user: str, comment: str | None = None,
             expected_version: int | None = None, now: datetime | None = None,
             expected_revision: int | None = None) -> dict:
    case = _open(svc, user_id, case_id, expected_version, expected_revision)
    new, events, effects = interventions.transfer(svc.definition_of(case), case, state=state,
                                                  actor=svc.actor(user_id), colleague=svc.actor(to_user),
                                                  now=now or svc.clock(), comment=comment)
    return _commit(svc, case, new, events, effects)


@_retrying
def urge(svc: Service, case_id: str, user_id: str, comment: str | None = None,
         expected_version: int | None = None, now: datetime | None = None,
             expected_revision: int | None = None) -> dict:
    case = _open(svc, user_id, case_id, expected_version, expected_revision)
    if not may_urge(svc, user_id):
        raise NotPermitted("企业联系人不能催办，请联系主管部门")
    rows = engine.tasks(svc.definition_of(case), case)
    new, events, effects = interventions.urge(svc.definition_of(case), case, rows, actor=svc.actor(user_id),
                                              now=now or svc.clock(), comment=comment)
    return _commit(svc, case, new, events, effects)


def may_urge(svc: Service, user_id: str) -> bool:
    """催办 is the bureau's: an enterprise's contact does not urge the office on its own case."""
    return desk.enterprise_of(svc, svc.actor(user_id)) is None


def withdrawable(svc: Service, user_id: str, case: dict) -> dict | None:
    """My last action on the case, when I may still take it back (never once the case has ended:
    a move into 归档 or 结案 has no next holder who could still act first)."""
    if case.get("cancelled") or case["status"] != "open":
        return None
    return interventions.withdrawable(svc.history(case["id"]), svc.actor(user_id))


@_retrying
def withdraw(svc: Service, case_id: str, user_id: str, comment: str | None = None,
             expected_version: int | None = None, now: datetime | None = None,
             expected_revision: int | None = None) -> dict:
    case = _open(svc, user_id, case_id, expected_version, expected_revision)
    history = svc.history(case_id)
    taken_back = interventions.withdrawable(history, svc.actor(user_id))
    if taken_back is None or case.get("cancelled") or case["status"] != "open":
        raise NotAvailable("只能撤回本人最近一次办理，且下一环节尚未办理")
    before = engine.replay(svc.definition_of(case), svc.ctx, case_id,
                           [e for e in history if e["seq"] < taken_back["seq"]])
    new, events = interventions.withdraw(case, before, taken_back, actor=svc.actor(user_id), now=now or svc.clock(),
                                         comment=comment)
    return _commit(svc, case, new, events)


@_retrying
def cancel(svc: Service, case_id: str, user_id: str, reason: str | None,
           expected_version: int | None = None, now: datetime | None = None,
             expected_revision: int | None = None) -> dict:
    case = _open(svc, user_id, case_id, expected_version, expected_revision)
    actor = svc.actor(user_id)
    if not desk.is_admin(svc, actor):
        raise NotPermitted("只有管理员可以作废案件")
    new, events = interventions.cancel(case, actor=actor, now=now or svc.clock(), reason=reason)
    return _commit(svc, case, new, events)
