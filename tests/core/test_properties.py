"""Property tests: random actions by random actors never lead a case where its definition does not allow,
a refused action changes nothing, and replaying a case's history rebuilds it."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.core import engine, permissions
from flows.core.errors import FlowError
from flows.core.spec import Workflow
from flows.demo import Explorer
from flows.service.config import load_config, load_yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "configs")
CTX = engine.Context(org=CONFIG.org, calendar=CONFIG.calendar, workflows=frozenset(CONFIG.workflows) | {"inspection"})
FIXTURE = Workflow.model_validate(load_yaml(ROOT / "tests" / "fixtures" / "flows" / "inspection.yaml"))
WORKFLOWS = {**CONFIG.workflows, "inspection": FIXTURE}
USERS = [u.id for u in CONFIG.org.users] + ["system"]
T0 = datetime(2025, 12, 1, 9)


def _variants(wf: Workflow) -> dict[str | None, list[dict]]:
    explorer = Explorer(wf, CTX)
    forms = {None: [{}]}
    for name in wf.forms:
        forms[name] = explorer.form_variants(name, T0)[:4] + [{"garbage": 1}, {}]
    return forms


VARIANTS = {name: _variants(wf) for name, wf in WORKFLOWS.items()}


def check_invariants(wf: Workflow, case: dict) -> None:
    names = {s.name for s in wf.states}
    assert case["active"], "a case is always somewhere"
    assert set(case["active"]) <= names
    assert len(case["active"]) == len(set(case["active"]))
    if len(case["active"]) > 1:  # only inside one parallel split
        owners = set()
        for s in case["active"]:
            owner = [sp.name for sp in wf.splits for b in sp.branches
                     if s in _branch_states(wf, b)]
            assert owner, f"{s} is active beside others but belongs to no branch"
            owners.add(owner[0])
        assert len(owners) == 1
    finals = [wf.state(s).final for s in case["active"]]
    assert (case["status"] == "closed") == all(finals)
    for tname, signs in case["countersigns"].items():
        t = wf.transition(tname)
        assert set(signs) <= set(permissions.participants(wf, t, case))
    for d in case["deadlines"]:
        assert d["status"] in ("pending", "met", "fired", "escalated", "failed")


def _branch_states(wf: Workflow, branch) -> set[str]:
    from flows.core.validate import _reach

    edges: dict[str, set[str]] = {s.name: set() for s in wf.states}
    for t in wf.transitions:
        for s in t.sources:
            edges[s].add(t.target or s)
    return _reach(edges, branch.start, stop={branch.end}) | {branch.end}


step = st.tuples(st.integers(0, 10_000), st.sampled_from(USERS), st.integers(0, 5), st.booleans(),
                 st.integers(0, 40))


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=40), start_variant=st.integers(0, 5))
def test_random_actions_stay_inside_the_definition_and_replay(name, steps, start_variant):
    wf = WORKFLOWS[name]
    variants = VARIANTS[name]
    starts = variants[wf.start_form]
    starter = next(u for u in USERS if u != "system" and any(CONFIG.org.actor(u).has_role(r) for r in wf.start_roles))
    now = T0
    try:
        out = engine.new_case(wf, CTX, case_id=f"{wf.code}-2025-00001", actor=CONFIG.org.actor(starter),
                              data=starts[start_variant % len(starts)], now=now)
    except FlowError:
        return
    case, events = out.case, list(out.events)
    check_invariants(wf, case)
    for pick, user, variant, with_comment, days in steps:
        now += timedelta(days=days, hours=1)
        if user == "system" and pick % 3 == 0:  # time passes: act on passed deadlines
            for d in engine.due_deadlines(case, now):
                before = copy.deepcopy(case)
                try:
                    out = engine.apply_deadline(wf, CTX, case, d["id"], now)
                except FlowError:
                    assert case == before
                    continue
                case, events = out.case, events + out.events
            check_invariants(wf, case)
            continue
        t = wf.transitions[pick % len(wf.transitions)]
        actor = engine.SYSTEM if user == "system" else CONFIG.org.actor(user)
        forms = variants[t.form]
        before = copy.deepcopy(case)
        try:
            out = engine.fire(wf, CTX, case, action=t.name, actor=actor, now=now, data=forms[variant % len(forms)],
                              comment="理由" if with_comment else None)
        except FlowError:
            assert case == before, "a refused action changed the case"
            continue
        case, events = out.case, events + out.events
        check_invariants(wf, case)
    assert engine.replay(wf, CTX, case["id"], events) == case
