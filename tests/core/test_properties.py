"""Property tests: random actions by random actors never lead a case where its definition does not allow,
a refused action changes nothing, and replaying a case's history rebuilds it.

Most examples start a case and go on acting on it; the rest try a start that must be refused (bad
form data, an actor without a start role) and check that refusal: a FlowError with a Chinese message,
nothing written and no case number taken (through a service on its own data directory). Each run
counts its outcomes and fails when too few examples got past the start.
"""
from __future__ import annotations

import copy
import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings, target
from hypothesis import strategies as st

from flows.core import engine, permissions
from flows.core.errors import FlowError
from flows.core.spec import Workflow
from flows.demo import Explorer
from flows.service import open_service
from flows.service.config import load_config, load_yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "configs")
CTX = engine.Context(org=CONFIG.org, calendar=CONFIG.calendar, workflows=frozenset(CONFIG.workflows) | {"inspection"})
FIXTURE = Workflow.model_validate(load_yaml(ROOT / "tests" / "fixtures" / "flows" / "inspection.yaml"))
WORKFLOWS = {**CONFIG.workflows, "inspection": FIXTURE}
USERS = [u.id for u in CONFIG.org.users] + ["system"]
ACTORS = [CONFIG.org.actor(u) for u in USERS if u != "system"] + [engine.SYSTEM]
T0 = datetime(2025, 12, 1, 9)


def _variants(wf: Workflow) -> dict[str | None, list[dict]]:
    explorer = Explorer(wf, CTX)
    forms = {None: [{}]}
    for name in wf.forms:
        forms[name] = explorer.form_variants(name, T0)[:4] + [{"garbage": 1}, {}]
    return forms


VARIANTS = {name: _variants(wf) for name, wf in WORKFLOWS.items()}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _starter(wf: Workflow, may: bool) -> str | None:
    """A user who may start `wf` (may=True), or one who may not (None when everyone may)."""
    return next((u for u in USERS if u != "system" and
                 any(CONFIG.org.actor(u).has_role(r) for r in wf.start_roles) == may), None)


def _starts(wf: Workflow) -> tuple[list[dict], list[dict]]:
    """The start form's variants the engine accepts, and data it must refuse: garbage, nothing, and an
    accepted variant missing one required field (where that is refused: a hidden field may be absent)."""
    def accepted(data):
        try:
            engine.new_case(wf, CTX, case_id=f"{wf.code}-2025-00001", actor=CONFIG.org.actor(_starter(wf, True)),
                            data=data, now=T0)
            return True
        except FlowError:
            return False

    valid = [d for d in VARIANTS[wf.name][wf.start_form] if accepted(d)]
    refused = [d for d in VARIANTS[wf.name][wf.start_form] if not accepted(d)]
    refused += [d for f in wf.forms[wf.start_form].fields if f.required
                if not accepted(d := {k: v for k, v in valid[0].items() if k != f.name})]
    return valid, refused


STARTS = {name: _starts(wf) for name, wf in WORKFLOWS.items()}


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    """A service for the refused starts: each must leave its data directory as it was."""
    svc = open_service(tmp_path_factory.mktemp("refusals") / "data", config=replace(CONFIG, workflows=WORKFLOWS),
                       clock=lambda: T0)
    yield svc
    svc.close()


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def check_refused_start(svc, wf: Workflow, user: str, data: dict) -> None:
    """The engine refuses with a Chinese FlowError and leaves the data as given; the service refuses the
    same and writes nothing (no case, no history, no case number taken)."""
    given_data = copy.deepcopy(data)
    with pytest.raises(FlowError) as refused:
        engine.new_case(wf, CTX, case_id=f"{wf.code}-2025-00001", actor=CONFIG.org.actor(user), data=data, now=T0)
    assert CHINESE.search(str(refused.value)), f"not a Chinese message: {refused.value}"
    assert data == given_data
    before = _files(svc.store.data_dir)
    with pytest.raises(FlowError) as through_service:
        svc.start(wf.name, user, data, now=T0)
    assert str(through_service.value) == str(refused.value)
    assert _files(svc.store.data_dir) == before, "a refused start wrote to the data directory"


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


# (pick, user, variant, with comment, days later, guided): a guided step (three in four) fires one of the
# actions open to someone with sample form data, so walks get deep; the others try anything by anyone.
step = st.tuples(st.integers(0, 10_000), st.sampled_from(USERS), st.integers(0, 5), st.booleans(),
                 st.integers(0, 40), st.integers(0, 3))


# start: 0 and 1 refused data, 2 an actor without a start role, 3..29 a valid start (most draws)
start = st.tuples(st.integers(0, 29), st.integers(0, 1000))


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_random_actions_stay_inside_the_definition_and_replay(name, refusals):
    outcomes: Counter[str] = Counter()
    reached: set[str] = set()

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(steps=st.lists(step, min_size=1, max_size=40), start=start)
    @example(steps=[(0, "system", 0, False, 0, 0)], start=(0, 0))  # always at least one refusal of each kind
    @example(steps=[(0, "system", 0, False, 0, 0)], start=(2, 0))
    def run(steps, start):
        outcome = walk(name, steps, start, refusals, reached)
        outcomes[outcome] += 1

    run()
    states = {s.name for s in WORKFLOWS[name].states}
    print(f"{name}: {dict(outcomes)}, {len(reached)} of {len(states)} states reached")  # shown with -s or -rP
    total = sum(outcomes.values())
    assert outcomes["refused start checked"] >= 2, f"the refusal examples did not run: {dict(outcomes)}"
    assert outcomes["started and acted"] > total / 2, f"most examples should go past the start: {dict(outcomes)}"


def walk(name: str, steps: list, start: tuple[int, int], refusals, reached: set[str]) -> str:
    wf = WORKFLOWS[name]
    variants = VARIANTS[name]
    valid, refused = STARTS[name]
    kind, which = start
    starter, outsider = _starter(wf, True), _starter(wf, False)
    if kind < 2 or (kind == 2 and outsider is None):
        check_refused_start(refusals, wf, starter, refused[which % len(refused)])
        return "refused start checked"
    if kind == 2:
        check_refused_start(refusals, wf, outsider, valid[which % len(valid)])
        return "refused start checked"
    now = T0
    out = engine.new_case(wf, CTX, case_id=f"{wf.code}-2025-00001", actor=CONFIG.org.actor(starter),
                          data=valid[which % len(valid)], now=now)
    case, events = out.case, list(out.events)
    fired = 0
    check_invariants(wf, case)
    for pick, user, variant, with_comment, days, guided in steps:
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
        open_actions = [(a, info) for a in ACTORS for info in engine.available_actions(wf, CTX, case, a, now)
                        if info.enabled] if guided else []
        if open_actions:
            actor, info = open_actions[pick % len(open_actions)]
            t = wf.transition(info.name)
            forms = variants[t.form][:-2] or variants[t.form]  # the sample data, not the garbage or nothing
            with_comment = with_comment or info.needs_comment
        before = copy.deepcopy(case)
        try:
            out = engine.fire(wf, CTX, case, action=t.name, actor=actor, now=now, data=forms[variant % len(forms)],
                              comment="理由" if with_comment else None)
        except FlowError:
            assert case == before, "a refused action changed the case"
            continue
        case, events = out.case, events + out.events
        fired += 1
        reached.update(case["active"])
        check_invariants(wf, case)
    assert engine.replay(wf, CTX, case["id"], events) == case
    target(float(fired), label="actions fired")  # steer towards long walks through the definition
    return "started, no action fired" if fired == 0 else "started and acted"
