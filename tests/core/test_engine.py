"""The pure engine, driven on the small test workflow (tests/fixtures/flows/inspection.yaml)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from flows.core import engine
from flows.core.errors import CommentRequired, GuardFailed, InvalidForm, NotAvailable, NotPermitted, StaleVersion
from flows.core.org import SYSTEM
from flows.core.spec import Workflow
from flows.core.workdays import WorkCalendar
from flows.service.config import load_organisation, load_yaml

ROOT = Path(__file__).resolve().parents[2]
ORG = load_organisation(ROOT / "configs" / "organisation.yaml")
WF = Workflow.model_validate(load_yaml(ROOT / "tests" / "fixtures" / "flows" / "inspection.yaml"))
CTX = engine.Context(org=ORG, calendar=WorkCalendar(), workflows=frozenset({"inspection"}))
T0 = datetime(2024, 9, 27, 9, 0)  # a Friday before the National Day holiday
REPORT = {"site": "X354线大豫段", "found_on": "2024-09-27", "injuries": 0, "loss": 12.5}


def actor(uid):
    return ORG.actor(uid)


def start(data=None, who="ygk_liu", now=T0):
    return engine.new_case(WF, CTX, case_id="TST-2024-00001", actor=actor(who), data=data or REPORT, now=now)


def act(case, action, who, now=T0, **kw):
    out = engine.fire(WF, CTX, case, action=action, actor=actor(who), now=now, **kw)
    return out


def test_start_fills_title_computed_field_and_deadline():
    out = start()
    case = out.case
    assert case["title"] == "X354线大豫段隐患整改"
    assert case["active"] == ["registered"] and case["unit"] == "运输管理科"
    assert case["data"]["grade"] == "一般"
    (deadline,) = case["deadlines"]
    # 3 working days after Fri 2024-09-27: Mon 30 Sep, then the holiday to 7 Oct, then Tue 8, Wed 9 Oct
    assert deadline["due"].startswith("2024-10-08")
    assert out.events[0]["type"] == "started"


def test_computed_level_is_derived_not_typed():
    case = start({**REPORT, "injuries": 3}).case
    assert case["data"]["grade"] == "重大"
    with pytest.raises(InvalidForm) as exc:  # typing it is refused, not silently dropped (issue 9)
        start({**REPORT, "injuries": 3, "grade": "一般"})
    assert exc.value.errors == {"": "未知字段：grade"}


def test_start_refuses_bad_form_with_every_field():
    with pytest.raises(InvalidForm) as exc:
        start({"site": "", "found_on": "2024-13-01", "injuries": -1, "loss": 1})
    assert {"site", "found_on", "injuries"} <= set(exc.value.errors)


def test_permission_own_unit_and_role():
    case = start().case
    with pytest.raises(NotPermitted):
        act(case, "submit", "gh_sun")  # 经办人, but of another unit
    with pytest.raises(NotPermitted):
        act(case, "submit", "ygk_head")  # right unit, wrong role
    assert act(case, "submit", "ygk_liu").case["active"] == ["consulting"]


def test_refusal_changes_nothing():
    case = start().case
    snapshot = repr(case)
    with pytest.raises(NotAvailable):
        act(case, "close", "ygk_head")
    assert repr(case) == snapshot


def test_stale_version_refused():
    case = start().case
    with pytest.raises(StaleVersion):
        act(case, "submit", "ygk_liu", expected_version=7)


def _to_consulting():
    return act(start().case, "submit", "ygk_liu").case


def test_countersign_needs_every_participant():
    case = _to_consulting()
    out = act(case, "consult", "ygk_head", data={"opinion": "同意"})
    assert out.events[0]["type"] == "signed" and out.case["active"] == ["consulting"]
    with pytest.raises(NotPermitted):
        act(out.case, "consult", "ygk_head", data={"opinion": "再签一次"})
    with pytest.raises(NotPermitted):
        act(out.case, "consult", "jsk_head", data={"opinion": "不在名单"})
    done = act(out.case, "consult", "gh_head", data={"opinion": "同意，补充两点"})
    assert sorted(done.case["active"]) == ["check_a", "check_b"]
    assert set(done.case["countersigns"]["consult"]) == {"科室负责人@运输管理科", "科室负责人@港航事业发展中心"}


def test_return_requires_reason_and_resets_countersign():
    case = act(_to_consulting(), "consult", "ygk_head", data={"opinion": "同意"}).case
    with pytest.raises(CommentRequired):
        act(case, "send_back", "awb_zhang")
    back = act(case, "send_back", "awb_zhang", comment="地点描述不清").case
    assert back["active"] == ["registered"]
    again = act(back, "submit", "ygk_liu").case
    assert "consult" not in again["countersigns"]


def _to_checks():
    case = act(_to_consulting(), "consult", "ygk_head", data={"opinion": "同意"}).case
    return act(case, "consult", "gh_head", data={"opinion": "同意"}).case


def test_parallel_join_waits_for_all_branches():
    case = _to_checks()
    one = act(case, "finish_a", "ygk_liu").case
    assert sorted(one["active"]) == ["check_a_done", "check_b"]
    both = act(one, "finish_b", "gh_sun")
    assert both.case["active"] == ["fixing"]
    assert [e["type"] for e in both.events] == ["transition", "joined"]


def test_guard_false_is_refused_with_its_message():
    case = act(act(_to_checks(), "finish_a", "ygk_liu").case, "finish_b", "ygk_liu").case
    with pytest.raises(GuardFailed, match="整改尚未完成"):
        act(case, "close", "ygk_head", data={"fixed": False})


def test_close_issues_documents_and_linked_case():
    case = start({**REPORT, "severe": True, "injuries": 4}).case
    case = act(case, "submit", "ygk_liu").case
    case = act(case, "consult", "ygk_head", data={"opinion": "同意"}).case
    case = act(case, "consult", "gh_head", data={"opinion": "同意"}).case
    case = act(case, "finish_a", "ygk_liu").case
    case = act(case, "finish_b", "ygk_liu").case
    out = act(case, "close", "ygk_head",
              data={"fixed": True, "enterprise": {"name": "通达客运有限公司", "credit_code": "91320600MA1MXK3P27"}})
    assert out.case["status"] == "closed"
    assert [e["type"] for e in out.effects] == ["start_case"]
    assert out.effects[0]["data"]["site"] == "X354线大豫段（复查）"
    assert engine.tasks(WF, out.case) == []


def test_timer_fires_transition_and_extension_moves_it():
    case = act(act(_to_checks(), "finish_a", "ygk_liu").case, "finish_b", "ygk_liu").case
    (fix,) = [d for d in case["deadlines"] if d["timer"] == "fix_due"]
    ext = act(case, "extend", "ygk_head").case
    (fix2,) = [d for d in ext["deadlines"] if d["timer"] == "fix_due"]
    assert fix2["due"] > fix["due"] and fix2["extensions"] == 1
    with pytest.raises(GuardFailed, match="最多延期"):
        act(ext, "extend", "ygk_head")
    late = datetime(2024, 12, 31)
    assert engine.due_deadlines(ext, datetime(2024, 10, 1)) == []
    out = engine.apply_deadline(WF, CTX, ext, fix2["id"], late)
    assert out.case["status"] == "closed" and out.events[0]["type"] == "timer"
    again = engine.apply_deadline(WF, CTX, out.case, fix2["id"], late)
    assert again.events == []  # idempotent


def test_escalation_names_holders_and_supervisors_once():
    case = start().case
    (d,) = case["deadlines"]
    out = engine.apply_deadline(WF, CTX, case, d["id"], datetime(2024, 10, 9))
    (event,) = out.events
    assert event["type"] == "escalated" and "经办人" in event["holders"] and "科室负责人" in event["notify"]
    assert engine.apply_deadline(WF, CTX, out.case, d["id"], datetime(2024, 10, 10)).events == []


def test_an_escalated_deadline_stays_the_cases_deadline_until_the_step_is_done_then_is_met_late():
    from flows.core import deadlines

    case = start().case
    (d,) = case["deadlines"]
    escalated = engine.apply_deadline(WF, CTX, case, d["id"], datetime(2024, 10, 9)).case
    assert deadlines.nearest_due(escalated) == d["due"]               # overdue: still shown, still in 待办's sort
    assert {t["due"] for t in engine.tasks(WF, escalated)} == {d["due"]}
    moved = act(escalated, "submit", "ygk_liu", now=datetime(2024, 10, 10)).case
    (after,) = [x for x in moved["deadlines"] if x["id"] == d["id"]]
    assert after["status"] == "met" and after["late"] is True
    assert deadlines.nearest_due(moved) is None


def test_tasks_follow_the_holders():
    case = _to_consulting()
    rows = engine.tasks(WF, case)
    holders = sorted((r["role"], r["unit"]) for r in rows if r["actions"] == ["consult"])
    assert holders == [("科室负责人", "港航事业发展中心"), ("科室负责人", "运输管理科")]
    actions = {a.name for a in engine.available_actions(WF, CTX, case, actor("awb_zhang"))}
    assert actions == {"send_back"}
    assert engine.available_actions(WF, CTX, case, SYSTEM) != []


def test_replay_rebuilds_the_case():
    out = start()
    case, events = out.case, list(out.events)
    for action, who, kw in [("submit", "ygk_liu", {}), ("consult", "ygk_head", {"data": {"opinion": "好"}}),
                            ("send_back", "awb_zhang", {"comment": "补充"}), ("submit", "ygk_liu", {}),
                            ("consult", "gh_head", {"data": {"opinion": "好"}}),
                            ("consult", "ygk_head", {"data": {"opinion": "好"}}), ("finish_b", "gh_sun", {}),
                            ("finish_a", "ygk_liu", {})]:
        step = act(case, action, who, **kw)
        case, events = step.case, events + step.events
    assert engine.replay(WF, CTX, case["id"], events) == case
