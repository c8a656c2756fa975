"""`python -m flows effects [--resume]`: effects a killed process left pending, or running under a claim
that went stale, are listed and then run once; one another runner holds now is left to it."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from flows.service import open_service
from flows.service.effects import EffectRunner

ROOT = Path(__file__).resolve().parents[2]
DRILL = {"drill_name": "疏散演练", "plan_name": "客运站场人员疏散现场处置方案", "plan_kind": "现场处置方案",
         "drill_kind": "实战演练", "scenario": "客运站场疏散", "owner_unit": "运输管理科",
         "planned_date": (date.today() + timedelta(days=60)).isoformat()}  # real time: a notice announces a drill ahead
STEPS = [("begin_scheme", "awb_zhang", None),
         ("submit_scheme", "awb_zhang", {"location": "站", "participants": "甲", "scheme_summary": "乙"}),
         ("approve_scheme", "awb_head", None),
         ("send_notice", "awb_zhang", {"notice_date": date.today().isoformat(), "assembly": "集合"})]


def cli(*args):
    env = {k: v for k, v in os.environ.items() if k != "WORKFLOW_DATA_DIR"}
    out = subprocess.run([sys.executable, "-m", "flows", *args], cwd=ROOT, capture_output=True, text=True,
                         env=env, timeout=300, check=False)
    assert "Traceback" not in out.stderr, out.stderr
    return out


def _document(case: dict) -> dict:
    (effect,) = [e for e in case["effects"] if e["type"] == "document"]
    return effect


def _left_behind(data: Path, config) -> dict[str, str]:
    """Three drill cases at 演练通知 whose document effect a process that died left behind: one never
    claimed, one claimed an hour ago (its claimant died), one claimed just now by a live runner."""
    svc = open_service(data, config=config, inline_effects=False)  # like a process killed after the commit
    cids = {}
    for name in ("pending", "stale", "held"):
        cid = svc.start("drill", "awb_zhang", DRILL)["id"]
        for action, user, form in STEPS:
            svc.act(cid, action, user, form)
        cids[name] = cid
    an_hour_ago = open_service(data, config=config, inline_effects=False,
                               clock=lambda: datetime.now() - timedelta(hours=1))
    assert EffectRunner(an_hour_ago, owner="dead-host:4242").claim(cids["stale"], _document(svc.case(cids["stale"]))["id"])
    assert EffectRunner(svc, owner="live-host:7").claim(cids["held"], _document(svc.case(cids["held"]))["id"])
    an_hour_ago.close()
    svc.close()
    return cids


def test_effects_lists_then_resume_runs_each_left_behind_effect_once(tmp_path, config):
    data = tmp_path / "data"
    cids = _left_behind(data, config)

    listed = cli("effects", "--data-dir", str(data))
    assert listed.returncode == 0, listed.stderr
    assert f"案件 {cids['pending']}　出具文书：关于开展疏散演练的通知：待执行" in listed.stdout
    assert f"案件 {cids['stale']}　出具文书：关于开展疏散演练的通知：待执行" in listed.stdout
    assert f"案件 {cids['held']}　出具文书：关于开展疏散演练的通知：正由 live-host:7 执行" in listed.stdout
    svc = open_service(data, config=config, inline_effects=False)
    assert all(svc.case(c)["documents"] == [] for c in cids.values())  # listing ran nothing
    svc.close()

    resumed = cli("effects", "--resume", "--data-dir", str(data))
    assert resumed.returncode == 0, resumed.stderr
    assert "跳过 1 项" in resumed.stdout and "失败 0 项" in resumed.stdout
    assert f"案件 {cids['held']}　出具文书：关于开展疏散演练的通知：正由 live-host:7 执行" in resumed.stdout
    svc = open_service(data, config=config, inline_effects=False)
    numbers = []
    for name in ("pending", "stale"):
        case = svc.case(cids[name])
        assert _document(case)["status"] == "done" and len(case["documents"]) == 1
        assert len([e for e in svc.history(cids[name]) if e["type"] == "document"]) == 1
        numbers.append(case["documents"][0]["number"])
        assert f"案件 {cids[name]}　出具文书：关于开展疏散演练的通知（{numbers[-1]}）：已完成" in resumed.stdout
    assert len(set(numbers)) == 2
    held = svc.case(cids["held"])
    assert _document(held)["status"] == "running" and held["documents"] == []
    svc.close()

    again = cli("effects", "--resume", "--data-dir", str(data))  # a second run has nothing new to do
    assert again.returncode == 0 and "完成 0 项" in again.stdout and "跳过 1 项" in again.stdout


def test_effects_with_nothing_left_behind(tmp_path):
    out = cli("effects", "--resume", "--data-dir", str(tmp_path / "empty"))
    assert out.returncode == 0 and out.stdout.strip() == "没有待执行的处理。"


KILLED = """
import sys, time
from datetime import date
from pathlib import Path
from flows.service import open_service
from flows.service.effects import EffectRunner

def hangs(self, case_id, effect_id):
    Path(sys.argv[3]).touch()
    time.sleep(600)                              # killed here, half way through issuing the document

EffectRunner._do_document = hangs
svc = open_service(sys.argv[1])                  # effects run inline, claimed in the action's own commit
svc.act(sys.argv[2], "send_notice", "awb_zhang", {"notice_date": date.today().isoformat(), "assembly": "集合"})
"""


def test_a_killed_process_leaves_a_claim_that_resume_takes_over_at_once(tmp_path, config):
    data = tmp_path / "data"
    svc = open_service(data, config=config)
    cid = svc.start("drill", "awb_zhang", DRILL)["id"]
    for action, user, form in STEPS[:-1]:
        svc.act(cid, action, user, form)
    svc.close()
    inside = tmp_path / "inside"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(data), cid, str(inside)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not inside.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the worker did not reach the document"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    svc = open_service(data, config=config, inline_effects=False)
    effect = _document(svc.case(cid))
    assert effect["status"] == "running" and effect["claim"]["owner"].endswith(f":{proc.pid}")
    svc.close()

    resumed = cli("effects", "--resume", "--data-dir", str(data))  # no need to wait for the claim's timeout
    assert resumed.returncode == 0, resumed.stderr
    svc = open_service(data, config=config, inline_effects=False)
    case = svc.case(cid)
    assert _document(case)["status"] == "done" and [d["number"] for d in case["documents"]] == [
        f"县交安〔{datetime.now().year}〕1号"]
    assert f"案件 {cid}　出具文书：关于开展疏散演练的通知（{case['documents'][0]['number']}）：已完成" in resumed.stdout
    svc.close()
