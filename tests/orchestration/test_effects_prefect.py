"""Effects end to end against a real local Prefect server: commit first, Prefect carries out the rest."""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from orch_helpers import BLACKLIST, INVESTIGATION, flow_name, flow_runs, wait_for

from flows.documents import rendering as documents
from flows.orchestration import case_flows, job_flows, redelivery, retention
from flows.orchestration.dispatch import Submitter, orchestrated_service

pytestmark = pytest.mark.prefect


def _of_notify(case: dict) -> list[dict]:
    """The effects the 送达事先告知书 action caused (the earlier 核实 caused its own 待办提醒)."""
    return [e for e in case["effects"] if e.get("transition") == "notify"]


def _document(case: dict) -> dict:
    return next(e for e in case["effects"] if e["type"] == "document")


def _notify(svc, before_notify=lambda: None):
    cid = svc.start("blacklist", "awb_zhang", BLACKLIST)["id"]
    svc.act(cid, "verify", "awb_zhang")
    before_notify()
    case = svc.act(cid, "notify", "awb_zhang", INVESTIGATION)
    return cid, case


def test_click_commits_then_prefect_issues_the_document(served, prefect_server, monkeypatch):
    """The click returns while its submission to Prefect is held back: it never waits on Prefect
    (how long a click takes beside a Prefect server: click_commit_p50_ms in bench/run.py)."""
    svc = served
    since = time.time()
    submitter = svc.effects.submitter
    release, submitted = threading.Event(), threading.Event()
    send = submitter._send

    def held(submission):
        release.wait(timeout=60)   # the test lets it go after the click returned
        try:
            return send(submission)
        finally:
            submitted.set()

    def hold():
        assert submitter.flush(), "the earlier actions' submissions are done"
        monkeypatch.setattr(submitter, "_send", held)

    cid, case = _notify(svc, before_notify=hold)
    assert not submitted.is_set()                                  # the click is back, Prefect not yet asked
    release.set()
    assert [(e["type"], e["status"]) for e in _of_notify(case)] == [("document", "pending"), ("notify", "pending")]
    assert case["active"] == ["notified"]                          # the state change is already durable
    case = wait_for(lambda: (c := svc.case(cid))["documents"] and c, timeout=30, what="the document")
    (doc,) = case["documents"]
    assert doc["number"] == "县交信告〔2025〕1号" and svc.document_file(doc["file"]).stat().st_size > 5000
    wait_for(lambda: all(e["status"] == "done" for e in svc.case(cid)["effects"]), timeout=30,
             what="the holder's message")
    case = svc.case(cid)
    holders = _of_notify(case)[1]["delivered"]
    assert holders and all(svc.messages(h)[0]["case_id"] == cid for h in holders)
    run = wait_for(lambda: [r for r in flow_runs(prefect_server, f"case:{cid}", since)
                            if r["state_type"] == "COMPLETED" and "action:notify" in r["tags"]],
                   timeout=30, what="the run completed")[0]
    assert run["name"] == f"{cid}｜送达事先告知书｜张伟"
    assert {f"case:{cid}", "action:notify", "actor:awb_zhang", "workflow:blacklist"} <= set(run["tags"])
    assert flow_name(prefect_server, run["flow_id"]) == "case-blacklist"


def test_failed_effect_is_retried_recorded_and_retried_on_demand(served, prefect_server, monkeypatch):
    svc = served
    since = time.time()
    monkeypatch.setattr(case_flows, "run_effect", case_flows.run_effect.with_options(retry_delay_seconds=0))
    real = documents.render
    calls = {"n": 0}

    def broken(*args, **kwargs):
        calls["n"] += 1
        raise OSError("模板文件被占用")

    monkeypatch.setattr(documents, "render", broken)
    cid, _ = _notify(svc)
    effect = wait_for(lambda: (e := _document(svc.case(cid)))["status"] == "failed" and e, timeout=30,
                      what="the effect marked failed")
    assert effect["attempts"] == 3 and calls["n"] == 3 and "模板文件被占用" in effect["error"]
    assert effect["number"] == "县交信告〔2025〕1号"               # allocated once, kept for the retry
    case = svc.case(cid)
    assert case["active"] == ["notified"] and case["documents"] == []  # the commit is not rolled back
    wait_for(lambda: any(r["state_type"] == "FAILED" for r in flow_runs(prefect_server, f"case:{cid}", since)),
             timeout=30, what="the run shown as failed")

    monkeypatch.setattr(documents, "render", real)
    svc.retry_effect(cid, effect["id"])
    case = wait_for(lambda: (c := svc.case(cid))["documents"] and c, timeout=30, what="the retried document")
    assert case["documents"][0]["number"] == "县交信告〔2025〕1号"
    assert _document(case)["status"] == "done"
    assert any("action:retry" in r["tags"] for r in flow_runs(prefect_server, f"case:{cid}", since))


def test_linked_case_and_its_document_through_prefect(served):
    """An accident's 责任追究 nominates the enterprise: the blacklist case is started by an effect."""
    svc = served
    cid = svc.start("accident", "awb_zhang", {
        "occurred_at": "2025-03-01T08:30", "place": "X354线", "accident_type": "道路运输", "deaths": 3,
        "serious_injuries": 2, "direct_loss": 180.5, "description": "相撞",
        "enterprise": {"name": "通达客运有限公司", "credit_code": "91320600MA1MXK3P27"}})["id"]
    svc.act(cid, "file_case", "awb_zhang", {"supervised": False, "team": [{"name": "王芳", "unit": "局安委办"}],
                                            "enterprise_investigator": "ygk_liu", "supervision_investigator": "gh_sun",
                                            "territorial_investigator": "zf_feng"})
    svc.act(cid, "finish_enterprise", "ygk_liu", {"enterprise_findings": "未落实", "enterprise_liable": True})
    svc.act(cid, "finish_supervision", "gh_sun", {"supervision_findings": "检查流于形式"})
    svc.act(cid, "finish_territorial", "zf_feng", {"territorial_findings": "网格盲区"})
    svc.act(cid, "submit_report", "awb_zhang", {"cause": "疲劳驾驶", "report_summary": "责任事故",
                                                "lessons": "落实防范措施。"})
    svc.act(cid, "approve_report", "juzhang")
    svc.act(cid, "decide_accountability", "awb_zhang",
            {"responsible_persons": [{"name": "钱某", "role": "安全经理", "measure": "行政处罚"}], "wide_impact": False})
    case = wait_for(lambda: (c := svc.case(cid))["links"] and c, timeout=30, what="the linked case")
    (link,) = case["links"]
    linked = svc.case(link["case_id"])
    assert linked["workflow"] == "blacklist" and linked["data"]["source_case"] == cid
    assert linked["created_by"] == "system" and linked["links"][0]["case_id"] == cid
    case = wait_for(lambda: (c := svc.case(cid))["documents"] and c, timeout=30, what="the report")
    assert [d["template"] for d in case["documents"]] == ["accident_report"]
    wait_for(lambda: all(e["status"] == "done" for e in svc.case(cid)["effects"]), timeout=30,
             what="all of the accident's effects")


def test_pending_effects_left_behind_are_submitted_again_by_the_sweep(served, prefect_server, clock):
    """The case record is the outbox: a submission lost (Prefect down, process killed) is redone."""
    svc = served

    class Lost(Submitter):
        def submit(self, submission):
            self.failed += 1  # dropped on the floor

    lost = orchestrated_service(config=svc.config, clock=clock, store=svc.store, submitter=Lost())
    cid, case = _notify(lost)
    time.sleep(1.0)
    assert _document(svc.case(cid))["status"] == "pending" and lost.effects.submitter.failed == 3  # 发起, 核实, 送达
    assert redelivery.resubmit_stale(svc, clock.now + timedelta(seconds=10)) == []  # too recent to tell
    later = (clock.now + timedelta(minutes=5)).isoformat()
    summary = job_flows.deadline_sweep.fn(now=later)
    assert summary["resubmitted"] == [cid]
    wait_for(lambda: svc.case(cid)["documents"], timeout=30, what="the resubmitted effect")
    # the document can land before the other resubmitted effects (the messages) are done: wait for all
    wait_for(lambda: all(e["status"] == "done" for e in svc.case(cid)["effects"]), timeout=30,
             what="every resubmitted effect done")
    assert job_flows.deadline_sweep.fn(now=later)["resubmitted"] == []  # nothing pending any more


def test_sweep_as_a_flow_run_escalates_once_and_notifies_through_prefect(served, prefect_server, clock):
    svc = served
    since = time.time()
    cid = svc.start("accident", "awb_zhang", {"occurred_at": "2025-01-02T08:30", "place": "港区", "accident_type": "港口",
                                              "deaths": 0, "serious_injuries": 1, "direct_loss": 3,
                                              "description": "坠落"})["id"]
    now = datetime(2025, 3, 10, 9).isoformat()
    result = job_flows.deadline_sweep(now=now)            # a real flow run on the server
    assert [(r["case_id"], r["event"]) for r in result["acted"]] == [(cid, "escalated")]
    assert job_flows.deadline_sweep(now=now)["acted"] == []
    effect = wait_for(lambda: (e := [x for x in svc.case(cid)["effects"] if x.get("kind") == "escalation"]) and
                      e[0]["status"] == "done" and e[0], timeout=30, what="the 催办 notification")
    assert effect["roles"] and effect["delivered"]
    assert all(any(m["kind"] == "escalation" for m in svc.messages(p)) for p in effect["delivered"])
    assert any("action:investigation_due" in r["tags"] and "actor:system" in r["tags"]
               for r in flow_runs(prefect_server, f"case:{cid}", since))


def test_retention_trims_prefect_runs_older_than_the_age(served, prefect_server):
    svc = served
    since = time.time()
    cid, _ = _notify(svc)
    wait_for(lambda: svc.case(cid)["documents"], timeout=30, what="the document")
    wait_for(lambda: (runs := flow_runs(prefect_server, f"case:{cid}", since)) and len(runs) == 3 and
             all(r["state_type"] == "COMPLETED" for r in runs), timeout=30,
             what="its runs finished (发起 and 核实 reminders, 送达 notice)")
    assert retention.trim_prefect_runs.fn(older_than_days=30) == 0          # all recent: kept
    future = (datetime.now(UTC) + timedelta(days=31)).isoformat()
    assert retention.trim_prefect_runs.fn(older_than_days=30, now=future) >= 1
    assert flow_runs(prefect_server, f"case:{cid}", since) == []
    assert svc.case(cid)["documents"]                                             # our records stay
