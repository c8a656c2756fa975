"""Messages: the next holders are told of their new task, and 催办 reaches holders and supervisors."""
from __future__ import annotations

from datetime import timedelta

from flows.service import messages
from flows.service.messages import recipients_of

DRILL = {"drill_name": "疏散演练", "plan_name": "客运站场人员疏散现场处置方案", "plan_kind": "现场处置方案",
         "drill_kind": "实战演练", "scenario": "客运站场疏散", "planned_date": "2025-04-15", "owner_unit": "运输管理科"}


def _holders(service, case_id: str) -> set[str]:
    return {u.id for u in service.config.org.users if any(t["case_id"] == case_id for t in service.inbox(u.id))}


def test_each_new_holder_gets_one_message_and_marks_it_read_alone(service):
    case = service.start("drill", "awb_zhang", DRILL)
    case = service.act(case["id"], "begin_scheme", "awb_zhang")
    holders = _holders(service, case["id"]) - {"awb_zhang"}  # the one who acted is not told of it
    assert holders
    notify = [e for e in case["effects"] if e["type"] == "notify" and e["transition"] == "begin_scheme"]
    assert len(notify) == 1 and notify[0]["status"] == "done" and set(notify[0]["delivered"]) == holders
    for user in holders:
        [msg] = [m for m in service.messages(user) if m["_key"] == notify[0]["id"]]
        assert msg["case_id"] == case["id"] and msg["kind"] == "task" and not msg["read"]
        assert "张伟" in msg["text"] and "方案编制" in msg["text"]
    assert all(m["_key"] != notify[0]["id"] for m in service.messages("awb_zhang"))
    outsider = next(u.id for u in service.config.org.users if u.id not in holders | {"awb_zhang"}
                    and not service.messages(u.id))
    assert service.messages(outsider) == []

    first, *others = sorted(holders)
    assert service.mark_read(first, [notify[0]["id"]]) == 1
    assert service.mark_read(first, [notify[0]["id"]]) == 0  # already read
    mine = lambda user: [m for m in service.messages(user) if m["_key"] == notify[0]["id"]]  # noqa: E731
    assert mine(first)[0]["read"] and notify[0]["id"] not in {m["_key"] for m in service.messages(first, True)}
    for user in others:
        assert not mine(user)[0]["read"]
    # the effect ran again (a redelivery): still one message, the read mark kept
    count = len(service.messages(first))
    service.effects._do_notify(case["id"], notify[0]["id"])  # noqa: SLF001
    assert len(service.messages(first)) == count and mine(first)[0]["read"]


def test_escalation_reaches_holders_and_their_supervisors_once(service, clock):
    case = service.start("drill", "awb_zhang", DRILL)
    holders = _holders(service, case["id"])
    clock.now = clock.now.replace(year=2025, month=4, day=15) + timedelta(days=60)
    acted = service.sweep()
    assert [r["event"] for r in acted] == ["escalated"]
    assert service.sweep() == []
    case = service.case(case["id"])
    [effect] = [e for e in case["effects"] if e["type"] == "notify" and e.get("kind") == "escalation"]
    people = set(effect["delivered"])
    assert holders <= people
    # supervisors of the holders' roles (经办人 → 科室负责人) and the timer's extra role (安委办) are told too
    org = service.config.org
    assert any("安委办" in org.user(p).roles for p in people)
    for user in people:
        msgs = [m for m in service.messages(user) if m["kind"] == "escalation"]
        assert len(msgs) == 1 and "到期" in msgs[0]["text"]


def test_a_sweep_reads_the_organisation_once_and_writes_each_escalation_once(service, clock, monkeypatch):
    cases = [service.start("drill", "awb_zhang", DRILL) for _ in range(3)]
    clock.now = clock.now.replace(year=2025, month=4, day=15) + timedelta(days=60)
    reads, real = [], type(service.accounts).organisation
    monkeypatch.setattr(type(service.accounts), "organisation", lambda self: reads.append(1) or real(self))
    acted = service.sweep()
    assert [r["event"] for r in acted] == ["escalated"] * 3 and len(reads) == 1
    assert service.org is real(service.accounts)  # after the sweep: read afresh each time again
    for before in cases:
        case = service.case(before["id"])
        assert case["version"] == before["version"] + 1  # the 催办 and its messages: one commit
        [effect] = [e for e in case["effects"] if e.get("kind") == "escalation"]
        assert effect["status"] == "done" and effect["delivered"]
        assert service.store.get("messages", effect["id"])["recipients"] == effect["delivered"]


def test_a_step_and_its_reminder_read_the_organisation_once(service, monkeypatch):
    reads, real = [], type(service.accounts).organisation
    monkeypatch.setattr(type(service.accounts), "organisation", lambda self: reads.append(1) or real(self))
    case = service.start("drill", "awb_zhang", DRILL)
    assert len(reads) == 1 and case["effects"][0]["delivered"]  # the engine's people and the reminder's: one read
    case = service.act(case["id"], "begin_scheme", "awb_zhang")
    [effect] = [e for e in case["effects"] if e["type"] == "notify" and e["transition"] == "begin_scheme"]
    assert len(reads) == 2 and effect["status"] == "done" and effect["delivered"]


def test_a_start_tells_the_first_holders(service):
    case = service.start("drill", "ygk_liu", DRILL)
    [effect] = case["effects"]
    assert effect["type"] == "notify" and effect["transition"] is None and effect["status"] == "done"
    assert "ygk_liu" not in effect["delivered"] and set(effect["delivered"]) == _holders(service, case["id"]) - {"ygk_liu"}
    assert "刘洋发起" in service.messages(effect["delivered"][0])[0]["text"]


def test_supervisor_is_sought_in_the_holders_unit_first(config):
    effect = {"recipients": [{"role": "科室负责人", "unit": "运输管理科", "user": None, "fallback": True},
                             {"role": "分管领导", "unit": "运输管理科", "user": None, "fallback": True},
                             {"role": None, "unit": None, "user": "ygk_liu"}]}
    # 运输管理科 has its own head; no 分管领导 sits there, so the bureau's one is told
    assert recipients_of(config.org, effect) == ["ygk_head", "fenguan", "ygk_liu"]
    # effects recorded before recipients existed named roles only
    assert set(recipients_of(config.org, {"roles": ["局长"]})) == {"juzhang"}


def test_failed_effect_reset_makes_it_pending_and_a_done_one_stays_done(service, monkeypatch):
    case = service.start("drill", "awb_zhang", DRILL)
    # finding the recipients fails: not done in the step's commit, then run after it and recorded failed
    monkeypatch.setattr(messages, "recipients_of", lambda org, e: 1 / 0)
    case = service.act(case["id"], "begin_scheme", "awb_zhang")
    [effect] = [e for e in case["effects"] if e["type"] == "notify" and e["transition"] == "begin_scheme"]
    assert effect["status"] == "failed" and effect["attempts"] == 3 and "ZeroDivisionError" in effect["error"]
    monkeypatch.undo()
    pending = service.effects.reset(case["id"], effect["id"])
    assert pending["status"] == "pending" and pending["attempts"] == 0 and pending["error"] is None
    service.effects.run_pending(case["id"])
    done = service.effects.reset(case["id"], effect["id"])
    assert done["status"] == "done"
