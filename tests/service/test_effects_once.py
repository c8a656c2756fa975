"""Effects run exactly once: a runner claims an effect (pending → running, a versioned write) before it
runs it; a second claimant skips it; a claim left by a process that died is taken over after a while."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from flows.service import open_service
from flows.service.effects import EffectRunner

ROOT = Path(__file__).resolve().parents[2]
DRILL = {"drill_name": "疏散演练", "plan_name": "客运站场人员疏散现场处置方案", "plan_kind": "现场处置方案",
         "drill_kind": "实战演练", "scenario": "客运站场疏散", "owner_unit": "运输管理科",
         "planned_date": (date.today() + timedelta(days=60)).isoformat()}  # real time: a notice announces a drill ahead
TO_NOTIFYING = [("begin_scheme", "awb_zhang", None),
                ("submit_scheme", "awb_zhang", {"location": "站", "participants": "甲", "scheme_summary": "乙"}),
                ("approve_scheme", "awb_head", None)]
# the steps the workers race through: two of them issue a document (a 发文字号, then a 纪要期号)
STEPS = [("send_notice", "awb_zhang", {"notice_date": date.today().isoformat(), "assembly": "集合"}),
         ("execute", "awb_zhang", {"executed_date": "2025-04-15", "participant_count": 30, "execution_summary": "完成"}),
         ("evaluate_ok", "awb_head", {"evaluation_date": "2025-04-18", "attendees": "张明", "evaluation": "良好",
                                      "problems_found": False})]

WORKER = textwrap.dedent("""
    import json, random, sys, time
    from pathlib import Path
    from flows.core.errors import FlowError
    from flows.service import open_service
    from flows.service.config import load_config

    data, configs, go, seed = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    steps, cases = json.loads(sys.argv[5]), json.loads(sys.argv[6])
    svc = open_service(data, config=load_config(Path(configs)))   # effects run inline, right after a commit
    rng = random.Random(seed)
    while not go.exists():
        time.sleep(0.01)
    for action, user, form in steps:
        for cid in rng.sample(cases, len(cases)):
            try:
                svc.act(cid, action, user, form)        # one worker wins the step, the others are refused
            except FlowError:
                pass
            svc.effects.run_pending(cid)                # ... and every worker runs what it finds pending
    svc.close()
""")


def _advance(svc, cid: str, steps) -> None:
    for action, user, data in steps:
        svc.act(cid, action, user, data)


def _documents_and_events(svc, cids: list[str]) -> tuple[list[dict], list[dict]]:
    docs, events = [], []
    for cid in cids:
        docs += svc.case(cid)["documents"]
        events += [e for e in svc.history(cid) if e["type"] == "document"]
    return docs, events


def test_three_workers_on_the_same_cases_issue_each_document_once(tmp_path, configs_root, orch_config):
    data = tmp_path / "data"
    svc = open_service(data, config=orch_config)
    cids = []
    for _ in range(6):
        cid = svc.start("drill", "awb_zhang", DRILL)["id"]
        _advance(svc, cid, TO_NOTIFYING)
        cids.append(cid)
    svc.close()

    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(data), str(configs_root), str(go), str(seed),
                                 json.dumps(STEPS, ensure_ascii=False), json.dumps(cids)],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for seed in range(3)]
    time.sleep(1.5)  # let the three load their configs, then start them together
    go.touch()
    for w in workers:
        out, err = w.communicate(timeout=240)
        assert w.returncode == 0, err[-3000:]

    svc = open_service(data, config=orch_config)
    docs, events = _documents_and_events(svc, cids)
    assert len(docs) == 2 * len(cids)                      # one 演练通知 and one 评估纪要 per case, no more
    assert Counter(d["effect"] for d in docs).most_common(1)[0][1] == 1
    assert len(events) == len(docs)                        # one `document` event per document
    numbers = [d["number"] for d in docs]
    assert len(set(numbers)) == len(numbers), Counter(numbers).most_common(3)
    for cid in cids:
        case = svc.case(cid)
        assert case["status"] == "closed"
        assert all(e["status"] == "done" for e in case["effects"]), case["effects"]
    svc.close()


# ------------------------------------------------------------------ claims, one process

def _notifying_case(svc) -> str:
    cid = svc.start("drill", "awb_zhang", DRILL)["id"]
    _advance(svc, cid, TO_NOTIFYING)
    EffectRunner(svc).run_pending(cid)  # the reminders so far: only the document of the next step is of interest
    return cid


def _documents(effects: list[dict]) -> list[dict]:
    return [e for e in effects if e["type"] == "document"]


def _document_effect(case: dict) -> dict:
    (effect,) = [e for e in case["effects"] if e["type"] == "document"]
    return effect


@pytest.fixture
def outbox(tmp_path, config, clock):
    """A service whose effects stay pending (nobody runs them inline), and a runner on the same data."""
    svc = open_service(tmp_path / "data", config=config, clock=clock, inline_effects=False)
    yield svc, EffectRunner(svc, owner="worker-a")
    svc.close()


def test_a_claimed_effect_is_skipped_by_a_second_runner(outbox):
    svc, runner = outbox
    cid = _notifying_case(svc)
    effect = _document_effect(svc.act(cid, *STEPS[0][:2], STEPS[0][2]))
    assert effect["status"] == "pending"
    claim = runner.claim(cid, effect["id"])
    assert claim is not None
    running = _document_effect(svc.case(cid))
    assert running["status"] == "running" and running["claim"]["id"] == claim
    assert running["claim"]["owner"] == "worker-a" and running["claim"]["at"]

    other = EffectRunner(svc, owner="worker-b")
    version = svc.case(cid)["version"]
    assert other.claim(cid, effect["id"]) is None            # taken: refused, and nothing written
    assert other.run(cid, effect["id"])["status"] == "running"
    assert svc.case(cid)["version"] == version
    assert _documents(other.run_pending(cid)) == []          # (it runs the reminders, not the document)
    assert svc.case(cid)["documents"] == [] and _document_effect(svc.case(cid))["claim"]["id"] == claim
    assert svc.store.next_sequence("docno:县交安:2025") == 1  # no 发文字号 was taken by the refused runner


def test_a_stale_claim_is_taken_over_and_the_first_owner_cannot_finish(outbox, clock):
    svc, runner = outbox
    cid = _notifying_case(svc)
    effect = _document_effect(svc.act(cid, *STEPS[0][:2], STEPS[0][2]))
    assert runner.claim(cid, effect["id"]) is not None       # ... and then worker-a died
    other = EffectRunner(svc, owner="worker-b")
    clock.advance(minutes=5)
    assert other.claim(cid, effect["id"]) is None            # not stale yet
    clock.advance(minutes=6)
    done = other.run(cid, effect["id"])
    assert done["status"] == "done" and done["claim"]["owner"] == "worker-b"
    case = svc.case(cid)
    assert [d["number"] for d in case["documents"]] == ["县交安〔2025〕1号"]
    assert len([e for e in svc.history(cid) if e["type"] == "document"]) == 1


def test_a_runner_whose_claim_was_taken_over_records_nothing(outbox, clock, monkeypatch):
    svc, runner = outbox
    cid = _notifying_case(svc)
    effect = _document_effect(svc.act(cid, *STEPS[0][:2], STEPS[0][2]))
    slow = EffectRunner(svc, owner="worker-slow")
    real = EffectRunner._do_document

    def stalls_then_works(self, case_id, effect_id):
        if self is slow:
            clock.advance(minutes=11)                         # worker-slow stalls past the claim timeout...
            assert EffectRunner(svc, owner="worker-b").run(case_id, effect_id)["status"] == "done"
        return real(self, case_id, effect_id)                 # ... and then tries to finish

    monkeypatch.setattr(EffectRunner, "_do_document", stalls_then_works)
    result = slow.run(cid, effect["id"])
    assert result["status"] == "done" and result["claim"]["owner"] == "worker-b"
    case = svc.case(cid)
    assert len(case["documents"]) == 1 and len([e for e in svc.history(cid) if e["type"] == "document"]) == 1


def test_a_failure_releases_the_claim_for_the_next_attempt(outbox, monkeypatch):
    svc, runner = outbox
    cid = _notifying_case(svc)
    svc.act(cid, *STEPS[0][:2], STEPS[0][2])
    calls = []

    def flaky(self, case_id, effect_id):
        calls.append(self._claims[case_id, effect_id])
        if len(calls) == 1:
            raise OSError("磁盘暂时不可写")
        return real(self, case_id, effect_id)

    real = EffectRunner._do_document
    monkeypatch.setattr(EffectRunner, "_do_document", flaky)
    (result,) = _documents(runner.run_pending(cid))
    assert result["status"] == "done" and result["attempts"] == 1 and len(set(calls)) == 2
    assert len(svc.case(cid)["documents"]) == 1


def test_the_pending_list_includes_stale_claims_only(outbox, clock):
    svc, runner = outbox
    cid = _notifying_case(svc)
    effect = _document_effect(svc.act(cid, *STEPS[0][:2], STEPS[0][2]))
    runner.claim(cid, effect["id"])
    assert _documents(runner.pending(svc.case(cid))) == []
    clock.advance(seconds=runner.claim_timeout_s + 1)
    assert [e["id"] for e in _documents(runner.pending(svc.case(cid)))] == [effect["id"]]
    assert runner.claimable(_document_effect(svc.case(cid)), clock.now - timedelta(seconds=2)) is False


# ------------------------------------------------------------------ the Prefect task and the sweep's redelivery

def test_the_prefect_task_and_the_redelivery_respect_claims(outbox, clock, monkeypatch):
    from flows.orchestration import case_flows, redelivery, runtime
    from flows.orchestration.dispatch import Submitter, orchestrated_service

    svc, runner = outbox
    cid = _notifying_case(svc)
    effect = _document_effect(svc.act(cid, *STEPS[0][:2], STEPS[0][2]))
    for other in svc.case(cid)["effects"]:
        if other["id"] != effect["id"]:
            runner.run(cid, other["id"])
    assert runner.claim(cid, effect["id"]) is not None        # a runner is on it (or died on it)

    class Capture(Submitter):
        def submit(self, submission):
            self.sent += 1
            self.last = submission

    orch = orchestrated_service(config=svc.config, clock=clock, store=svc.store, submitter=Capture())
    monkeypatch.setattr(redelivery, "_carried_cases", lambda case_ids, now: set())  # no Prefect run carries it
    runtime.use_service(svc)
    try:
        assert case_flows.run_effect.fn(cid, effect["id"])["status"] == "running"   # skipped: held
        assert redelivery.resubmit_stale(orch, clock.now + timedelta(minutes=5)) == []
        assert svc.case(cid)["documents"] == []
        clock.advance(minutes=11)                                                  # the claim went stale
        assert redelivery.resubmit_stale(orch, clock.now) == [cid]
        assert orch.effects.submitter.last["effect_ids"] == [effect["id"]]
        done = case_flows.run_effect.fn(cid, effect["id"])                         # the redelivered run
        assert done["status"] == "done" and done["claim"]["owner"] != runner.owner  # taken over
        assert case_flows.run_effect.fn(cid, effect["id"])["status"] == "done"     # a second delivery: nothing
    finally:
        runtime.use_service(None)
    assert len(svc.case(cid)["documents"]) == 1
    assert len([e for e in svc.history(cid) if e["type"] == "document"]) == 1


def test_the_inline_runner_claims_new_effects_in_the_actions_own_commit(service, monkeypatch):
    cid = _notifying_case(service)
    claims = []
    real = EffectRunner.claim
    monkeypatch.setattr(EffectRunner, "claim", lambda self, c, e: claims.append(e) or real(self, c, e))
    before = service.case(cid)
    case = service.act(cid, *STEPS[0][:2], STEPS[0][2])
    effect = _document_effect(case)
    assert effect["status"] == "done" and effect["claim"]["owner"] == service.effects.owner
    assert claims == []                                   # no second write to claim them
    # the step (its reminders delivered in it), the 发文字号 kept with the effect, the document
    old = {e["id"] for e in before["effects"]}
    reminders = [e for e in case["effects"] if e["id"] not in old and e["type"] == "notify"]
    assert reminders and case["version"] == before["version"] + 3
    assert all(r["status"] == "done" and r["delivered"] for r in reminders)
    for r in reminders:
        message = service.store.get("messages", r["id"])
        assert message["recipients"] == r["delivered"] and message["read_by"] == [] and message["_version"] == 1
