"""转办, 催办, 撤回 and 作废 through the service: who may, what changes, what a replay of the history rebuilds."""
from __future__ import annotations

import pytest

from flows.core import engine
from flows.core.errors import CommentRequired, NotAvailable, NotPermitted, StaleVersion
from flows.service import desk, interventions
from tests.orchestration.orch_helpers import BLACKLIST, INVESTIGATION

DERIVED = ("active", "data", "status", "countersigns", "assigned", "participants")


def _registered(service) -> str:
    return service.start("blacklist", "awb_zhang", BLACKLIST)["id"]


def _replayed_matches(service, cid: str) -> None:
    case = service.case(cid)
    rebuilt = engine.replay(service.definition_of(case), service.ctx, cid, service.history(cid))
    for key in DERIVED:
        assert rebuilt.get(key) == case.get(key), key


def test_a_transfer_hands_my_task_to_a_colleague_who_may_hold_it(service):
    cid = _registered(service)
    candidates = {c["id"] for c in interventions.transferable_to(service, "awb_zhang", cid, "registered")}
    assert "ygk_liu" in candidates and "qy_han" not in candidates       # an 经办人 may; an enterprise's contact not
    with pytest.raises(NotPermitted, match="没有办理该环节的权限"):
        interventions.transfer(service, cid, "awb_zhang", "registered", "qy_han")
    with pytest.raises(NotPermitted, match="不是该环节的办理人"):
        interventions.transfer(service, cid, "expert_jiang", "registered", "ygk_liu")
    interventions.transfer(service, cid, "awb_zhang", "registered", "ygk_liu", comment="请刘洋跟进")
    case = service.case(cid)
    assert case["assigned"]["registered"]["user"] == "ygk_liu"
    assert [a.name for a in service.actions(cid, "awb_zhang") if a.enabled] == []   # no longer mine
    assert "verify" in [a.name for a in service.actions(cid, "ygk_liu")]
    with pytest.raises(NotPermitted):
        service.act(cid, "verify", "awb_zhang")                          # the service refuses it too
    assert any(r["case_id"] == cid for r in service.inbox("ygk_liu"))  # in the colleague's 待办
    assert not any(r["case_id"] == cid for r in service.inbox("gh_sun"))
    assert any("转办给您" in m["text"] for m in service.messages("ygk_liu"))
    service.act(cid, "verify", "ygk_liu")
    assert "registered" not in service.case(cid).get("assigned", {})    # the hand-over ends with its step
    _replayed_matches(service, cid)


def test_urging_tells_every_holder_once(service):
    cid = _registered(service)
    with pytest.raises(NotPermitted, match="企业联系人不能催办"):
        interventions.urge(service, cid, "qy_yang")                      # the enterprise the case is about
    interventions.urge(service, cid, "awb_head", comment="本周内完成")
    text = [m for m in service.messages("ygk_liu") if m["kind"] == "escalation"]
    assert text and "催办" in text[0]["text"] and "本周内完成" in text[0]["text"]
    assert [e["type"] for e in service.history(cid)][-1] == "urged"


def test_withdraw_takes_back_my_last_action_until_the_next_holder_acts(service):
    cid = _registered(service)
    service.act(cid, "verify", "awb_zhang")
    assert interventions.withdrawable(service, "awb_zhang", service.case(cid))["transition"] == "verify"
    assert interventions.withdrawable(service, "gh_sun", service.case(cid)) is None   # not theirs
    interventions.withdraw(service, cid, "awb_zhang", comment="误操作")
    case = service.case(cid)
    assert case["active"] == ["registered"]
    assert any(r["case_id"] == cid and r["state"] == "registered" for r in service.inbox("awb_zhang"))
    _replayed_matches(service, cid)
    service.act(cid, "verify", "awb_zhang")
    service.act(cid, "notify", "ygk_liu", {"investigation_findings": "属实", "legal_basis": "条例第十条"})
    with pytest.raises(NotAvailable, match="只能撤回本人最近一次办理"):
        interventions.withdraw(service, cid, "awb_zhang")                # someone acted after me
    labels = [r["what"] for r in desk.history_rows(service, service.case(cid))]
    assert "撤回：开始调查核实" in labels


def test_a_move_that_ended_the_case_cannot_be_taken_back(service):
    cid = _registered(service)
    service.act(cid, "dismiss_lead", "awb_head", comment="线索不实")          # into a final state
    assert service.case(cid)["status"] == "closed"
    assert interventions.withdrawable(service, "awb_head", service.case(cid)) is None
    with pytest.raises(NotAvailable):
        interventions.withdraw(service, cid, "awb_head")


def test_only_an_admin_cancels_and_only_with_a_reason(service):
    cid = _registered(service)
    with pytest.raises(NotPermitted, match="只有管理员"):
        interventions.cancel(service, cid, "awb_zhang", "重复登记")
    with pytest.raises(CommentRequired):
        interventions.cancel(service, cid, "admin", "  ")
    interventions.cancel(service, cid, "admin", "重复登记")
    case = service.case(cid)
    assert case["status"] == "closed" and case["cancelled"] and service.actions(cid, "awb_zhang") == []
    assert not any(r["case_id"] == cid for r in service.inbox("awb_zhang"))
    with pytest.raises(NotAvailable):
        interventions.cancel(service, cid, "admin", "再次")
    _replayed_matches(service, cid)


def test_a_stale_page_is_refused(service):
    cid = _registered(service)
    version = service.case(cid)["version"]
    service.act(cid, "verify", "awb_zhang")
    with pytest.raises(StaleVersion):
        interventions.urge(service, cid, "awb_head", expected_version=version)


def test_an_action_on_the_case_as_it_is_is_taken_again_unless_the_case_moved_meanwhile(service):
    """What the command line does without --expect-version (flows.service.retry): a write in between
    that did not move the case (effects' bookkeeping; here a colleague's comment) makes the step run
    again on the case read afresh; a step someone else took in between is refused, never acted over.
    `Service.act` itself never retries: a page decides with the revision it showed."""
    from flows.service.retry import on_fresh_case

    cid = _registered(service)
    read = service.case

    def with_a_write_between(write):
        done = []

        def case(case_id):
            found = read(case_id)
            if not done:
                done.append(True)  # before writing: the write reads the case too
                write()
            return found
        return case

    seen = desk.revision(service.history(cid))

    def moved() -> bool:
        return desk.revision(service.history(cid)) != seen

    service.case = with_a_write_between(lambda: service.comment(cid, "ygk_liu", "补充：企业已整改"))
    try:
        with pytest.raises(StaleVersion):
            service.act(cid, "verify", "awb_zhang")   # the service alone: refused, nothing written
        service.case = with_a_write_between(lambda: service.comment(cid, "ygk_liu", "补充：企业已整改"))
        verified = on_fresh_case(lambda: service.act(cid, "verify", "awb_zhang"), moved=moved)
    finally:
        service.case = read
    assert verified["active"] != ["registered"]
    comments = [e.get("comment") for e in service.history(cid)]
    assert comments.count("补充：企业已整改") == 2                     # both colleagues' comments kept
    _replayed_matches(service, cid)
    seen = desk.revision(service.history(cid))
    service.case = with_a_write_between(lambda: service.act(cid, "notify", "awb_zhang", data=INVESTIGATION))
    try:
        with pytest.raises(StaleVersion):                               # moved by someone else: refused
            on_fresh_case(lambda: service.act(cid, "notify", "awb_zhang", data=INVESTIGATION), moved=moved)
    finally:
        service.case = read
