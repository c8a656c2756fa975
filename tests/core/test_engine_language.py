"""Issue 12's additions to the definition language, in the engine: a step limited to fixed units, a step
that goes back to the person who did an earlier one (`actor_of`), and who may start a workflow (units,
and an enterprise's contact only for their own enterprise)."""
from __future__ import annotations

import copy

import pytest

from flows.core import engine
from flows.core.errors import NotPermitted
from flows.core.spec import Workflow
from flows.service.config import load_yaml
from tests.core.test_engine import CTX, ORG, REPORT, ROOT, T0

BASE = load_yaml(ROOT / "tests" / "fixtures" / "flows" / "inspection.yaml")


def variant(change) -> Workflow:
    d = copy.deepcopy(BASE)
    change(d)
    return Workflow.model_validate(d)


def transition(d: dict, name: str) -> dict:
    return next(t for t in d["transitions"] if t["name"] == name)


def start(wf: Workflow, who: str, data: dict | None = None) -> dict:
    return engine.new_case(wf, CTX, case_id="TST-2024-00001", actor=ORG.actor(who), data=data or REPORT, now=T0).case


def act(wf: Workflow, case: dict, action: str, who: str, **kw) -> dict:
    return engine.fire(wf, CTX, case, action=action, actor=ORG.actor(who), now=T0, **kw).case


def holders(wf: Workflow, case: dict, state: str) -> set[tuple]:
    return {(r["role"], r["unit"], r["user"]) for r in engine.tasks(wf, case) if r["state"] == state}


# ------------------------------------------------------------------ a step of fixed units

def test_a_step_limited_to_fixed_units_is_theirs_alone_and_in_their_inbox():
    wf = variant(lambda d: transition(d, "submit").update(own_unit=False, units=["港航事业发展中心", "综合行政执法大队"]))
    case = start(wf, "ygk_liu")
    with pytest.raises(NotPermitted) as refused:
        act(wf, case, "submit", "ygk_liu")                         # an 经办人, of another unit
    assert "需要角色：经办人（港航事业发展中心或综合行政执法大队）" in str(refused.value)
    assert holders(wf, case, "registered") >= {("经办人", "港航事业发展中心", None), ("经办人", "综合行政执法大队", None)}
    assert ("经办人", None, None) not in holders(wf, case, "registered")
    assert act(wf, case, "submit", "zf_feng")["active"] == ["consulting"]


# ------------------------------------------------------------------ back to the person who did it

def test_after_a_return_the_step_waits_for_the_person_who_did_it_not_for_everyone_of_the_role():
    wf = variant(lambda d: transition(d, "submit").update(own_unit=False, actor_of="submit"))
    case = start(wf, "ygk_liu")
    assert ("经办人", None, None) in holders(wf, case, "registered")    # nobody has submitted yet: the role
    case = act(wf, case, "submit", "gh_sun")
    case = act(wf, case, "send_back", "awb_zhang", comment="材料不全")
    assert case["active"] == ["registered"] and case["acted_by"]["submit"] == "gh_sun"
    assert holders(wf, case, "registered") >= {(None, None, "gh_sun")}
    assert ("经办人", None, None) not in holders(wf, case, "registered")
    with pytest.raises(NotPermitted) as refused:
        act(wf, case, "submit", "ygk_liu")                         # an 经办人, but not the reporter
    assert "须由此前办理「submit」的人员（gh_sun）办理" in str(refused.value)
    assert act(wf, case, "submit", "gh_sun")["active"] == ["consulting"]


def test_the_person_of_an_earlier_step_is_rebuilt_by_replay():
    wf = variant(lambda d: transition(d, "submit").update(own_unit=False, actor_of="submit"))
    out = engine.new_case(wf, CTX, case_id="TST-2024-00001", actor=ORG.actor("ygk_liu"), data=REPORT, now=T0)
    events = list(out.events)
    fired = engine.fire(wf, CTX, out.case, action="submit", actor=ORG.actor("gh_sun"), now=T0)
    events += fired.events
    assert engine.replay(wf, CTX, "TST-2024-00001", events)["acted_by"] == {"submit": "gh_sun"}


# ------------------------------------------------------------------ who may start

def test_only_the_named_units_may_start():
    wf = variant(lambda d: d.update(start_units=["综合行政执法大队"]))
    with pytest.raises(NotPermitted) as refused:
        start(wf, "ygk_liu")
    assert str(refused.value) == "「隐患整改（测试流程）」只限综合行政执法大队的人员发起"
    assert start(wf, "zf_feng")["created_by"] == "zf_feng"


def _by_enterprises(d: dict) -> None:
    d["forms"]["report"]["fields"].append({"name": "firm", "label": "企业", "kind": "enterprise", "required": True})
    d.update(start_roles=["经办人", "企业联系人"], start_role_units={"企业联系人": "firm"})


TONGDA = {"name": "通达客运有限公司", "credit_code": "91320600MA1MXK3P27"}
JIANGHAI = {"name": "江海港务有限公司", "credit_code": "91320600MA1NY7QH42"}


def test_an_enterprises_contact_starts_only_for_their_own_enterprise():
    wf = variant(_by_enterprises)
    assert start(wf, "qy_han", {**REPORT, "firm": TONGDA})["data"]["firm"]["name"] == "通达客运有限公司"
    with pytest.raises(NotPermitted) as refused:
        start(wf, "qy_han", {**REPORT, "firm": JIANGHAI})
    assert str(refused.value) == "韩经理只能为本单位（通达客运有限公司）发起「隐患整改（测试流程）」"
    assert start(wf, "ygk_liu", {**REPORT, "firm": JIANGHAI})["created_by"] == "ygk_liu"  # staff: any enterprise
    with pytest.raises(NotPermitted) as refused:
        start(wf, "juzhang", {**REPORT, "firm": JIANGHAI})
    assert "需要角色：经办人、企业联系人" in str(refused.value)


def test_a_step_taken_back_does_not_make_its_person_the_one_to_come_back_to():
    from flows.core import interventions

    wf = variant(lambda d: transition(d, "submit").update(own_unit=False, actor_of="submit"))
    before = start(wf, "ygk_liu")
    fired = engine.fire(wf, CTX, before, action="submit", actor=ORG.actor("gh_sun"), now=T0)
    taken_back, _ = interventions.withdraw(fired.case, before, fired.events[0], actor=ORG.actor("gh_sun"), now=T0)
    assert taken_back["active"] == ["registered"] and taken_back["acted_by"] == {}
    assert ("经办人", None, None) in holders(wf, taken_back, "registered")   # the role again, not gh_sun alone


def test_new_case_offers_a_workflow_only_to_who_may_start_it():
    from flows.core.permissions import offers_start

    by_unit = variant(lambda d: d.update(start_units=["综合行政执法大队"]))
    assert [offers_start(by_unit, ORG.actor(u)) for u in ("zf_feng", "ygk_liu", "zf_head")] == [True, False, False]
    by_firm = variant(_by_enterprises)                              # the enterprise is chosen in the form
    assert [offers_start(by_firm, ORG.actor(u)) for u in ("qy_han", "ygk_liu", "juzhang")] == [True, True, False]


# ------------------------------------------------------------------ a document issued only when

def test_a_document_is_issued_only_when_its_condition_holds():
    wf = variant(lambda d: transition(d, "submit").update(documents=[
        "notice", {"template": "serious_notice", "when": "grade != '一般'"}, {"template": "always"}]))
    plain = engine.fire(wf, CTX, start(wf, "ygk_liu"), action="submit", actor=ORG.actor("ygk_liu"), now=T0)
    assert [e["template"] for e in plain.effects if e["type"] == "document"] == ["notice", "always"]
    serious = start(wf, "ygk_liu", {**REPORT, "injuries": 3})                  # 重大
    fired = engine.fire(wf, CTX, serious, action="submit", actor=ORG.actor("ygk_liu"), now=T0)
    assert [e["template"] for e in fired.effects if e["type"] == "document"] == ["notice", "serious_notice", "always"]


# ------------------------------------------------------------------ a field's default

def test_a_field_left_out_takes_its_default_and_one_given_empty_does_not():
    def defaults(d: dict) -> None:
        fields = {f["name"]: f for f in d["forms"]["report"]["fields"]}
        fields["loss"]["default"] = 0
        fields["severe"]["default"] = True

    wf = variant(defaults)
    left_out = {k: v for k, v in REPORT.items() if k != "loss"}
    case = start(wf, "ygk_liu", left_out)
    assert (case["data"]["loss"], case["data"]["severe"]) == (0, True)
    assert start(wf, "ygk_liu", {**REPORT, "severe": False})["data"]["severe"] is False   # what is typed wins


# ------------------------------------------------------------------ signatures and the actor in guards

def _consulted(wf: Workflow, second: str = "同意") -> dict:
    case = act(wf, start(wf, "ygk_liu"), "submit", "ygk_liu")
    case = act(wf, case, "consult", "ygk_head", data={"opinion": "同意"}, comment="可以")
    return act(wf, case, "consult", "gh_head", data={"opinion": second})


def test_a_guard_reads_each_signers_answer_of_the_countersign():
    from flows.core import scope
    from flows.core.errors import GuardFailed

    guarded = variant(lambda d: transition(d, "consult").update(
        guard="'不同意' not in signatures.consult.opinion", guard_message="有单位不同意"))
    assert _consulted(guarded)["active"] == ["check_a", "check_b"]
    with pytest.raises(GuardFailed, match="有单位不同意"):
        _consulted(guarded, "不同意")                                # the second signature completes it: refused
    signed = scope.signatures(_consulted(variant(lambda d: None)))["consult"]
    assert signed["names"] == ["赵敏", "周静"] and signed["opinion"] == ["同意", "同意"]
    assert signed["comments"] == ["可以", None]
    assert signed["signers"][0] == {"name": "赵敏", "actor": "ygk_head", "at": "2024-09-27", "comment": "可以",
                                    "opinion": "同意"}


def test_a_guard_reads_who_acts():
    from flows.core.errors import GuardFailed

    wf = variant(lambda d: transition(d, "submit").update(
        own_unit=False, guard="actor.unit != '港航事业发展中心' and '经办人' in actor.roles", guard_message="本单位不办"))
    with pytest.raises(GuardFailed, match="本单位不办"):
        act(wf, start(wf, "ygk_liu"), "submit", "gh_sun")
    assert act(wf, start(wf, "ygk_liu"), "submit", "zf_feng")["active"] == ["consulting"]
    offered = engine.available_actions(wf, CTX, start(wf, "ygk_liu"), ORG.actor("gh_sun"))
    assert [(a.name, a.enabled, a.reason) for a in offered if a.name == "submit"] == [("submit", False, "本单位不办")]
