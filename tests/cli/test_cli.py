"""The admin CLI end to end, in subprocesses, on a temporary data directory."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPORT = {"occurred_at": "2025-03-01T08:30", "place": "X354线", "accident_type": "道路运输", "deaths": 0,
          "serious_injuries": 1, "direct_loss": 12, "description": "追尾"}


def cli(*args, data_dir=None, check=False):
    env = {**os.environ}
    env.pop("WORKFLOW_DATA_DIR", None)
    if data_dir is not None:
        env["WORKFLOW_DATA_DIR"] = str(data_dir)
    out = subprocess.run([sys.executable, "-m", "flows", *args], cwd=ROOT, check=False, capture_output=True, text=True,
                         env=env, timeout=300)
    if check:
        assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return out


def test_start_act_show_and_refusals(tmp_path):
    started = cli("start", "accident", "--as", "awb_zhang", "--data", json.dumps(REPORT, ensure_ascii=False),
                  data_dir=tmp_path, check=True)
    case = json.loads(started.stdout)
    # version 1: the start with its 待办提醒 delivered in the same commit (the CLI's service runs effects itself)
    assert case["data"]["level"] == "一般" and case["version"] == 1
    assert [(e["type"], e["status"]) for e in case["effects"]] == [("notify", "done")]
    cid = case["id"]
    bad = cli("start", "accident", "--as", "awb_zhang", "--data", '{"deaths": -1}', data_dir=tmp_path)
    assert bad.returncode == 2 and "死亡人数（deaths）：应不小于 0" in bad.stderr and "事故地点（place）：必填" in bad.stderr
    assert cli("start", "accident", "--as", "nobody", data_dir=tmp_path).returncode == 2
    assert "不是有效的 JSON" in cli("start", "accident", "--as", "awb_zhang", "--data", "{x", data_dir=tmp_path).stderr
    refused = cli("act", cid, "close_case", "--as", "juzhang", data_dir=tmp_path)
    assert refused.returncode == 2 and "不能执行「结案」" in refused.stderr
    filing = {"supervised": False, "team": [{"name": "王芳", "unit": "局安委办"}], "enterprise_investigator": "ygk_liu",
              "supervision_investigator": "gh_sun", "territorial_investigator": "zf_feng"}
    stale = cli("act", cid, "file_case", "--as", "awb_zhang", "--data", json.dumps(filing), "--expect-version", "7",
                data_dir=tmp_path)
    assert stale.returncode == 2 and "已被他人修改" in stale.stderr
    acted = cli("act", cid, "file_case", "--as", "awb_zhang", "--data", json.dumps(filing), "--comment", "立案",
                data_dir=tmp_path, check=True)
    assert sorted(json.loads(acted.stdout)["active"]) == ["enterprise_inv", "supervision_inv", "territorial_inv"]
    shown = json.loads(cli("show", cid, data_dir=tmp_path, check=True).stdout)
    assert [e["type"] for e in shown["history"]] == ["started", "transition"]
    assert shown["history"][1]["prev_hash"] == shown["history"][0]["hash"]
    assert cli("show", "SG-2025-99999", data_dir=tmp_path).returncode == 2
    listed = json.loads(cli("list", data_dir=tmp_path, check=True).stdout)
    assert {r["name"]: r["open"] for r in listed}["accident"] == 1


def test_demo_fills_every_state_and_verify_catches_tampering(tmp_path):
    out = cli("demo", "--data-dir", str(tmp_path), check=True)
    summary = json.loads(out.stdout)
    for name, wf in summary["workflows"].items():
        assert wf["unreached"] == [], name
        assert len(wf["cases"]) == wf["states"]
    assert cli("verify", "--data-dir", str(tmp_path), check=True).returncode == 0
    docs = list((tmp_path / "files" / "documents").rglob("*.docx"))
    assert len(docs) >= 20
    # change one character of a stored comment, where it is kept (history file or journal)
    phrase = "请按意见修改".encode()
    files = [p for p in sorted(tmp_path.rglob("*.json*")) if phrase in p.read_bytes()]
    assert files
    raw = files[0].read_bytes()
    files[0].write_bytes(raw.replace(phrase, "请按意见修正".encode(), 1))
    bad = cli("verify", "--data-dir", str(tmp_path))
    assert bad.returncode == 1 and bad.stderr.strip()


def test_validate_defaults_to_shipped_flows():
    out = cli("validate", check=True)
    assert "4 个流程定义" in out.stdout


@pytest.mark.parametrize("data", ["[" * 5000 + "]" * 5000, '{"deaths": ' + "9" * 5000 + "}"])
def test_a_payload_json_cannot_parse_is_a_message_not_an_internal_error(tmp_path, data):
    bad = cli("start", "accident", "--as", "awb_zhang", "--data", data, data_dir=tmp_path)
    assert bad.returncode == 2 and "数字位数过多或嵌套过深" in bad.stderr and "内部错误" not in bad.stderr


def test_a_case_id_that_is_not_text_is_no_case(tmp_path):
    env = {**os.environ, "WORKFLOW_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "flows", "show", b"SG-\xff".decode("utf-8", "surrogateescape")],
                         cwd=ROOT, capture_output=True, env=env, timeout=120, check=False)
    assert out.returncode == 2 and "没有案件 SG-\\udcff" in out.stderr.decode() and b"\xe5\x86\x85\xe9\x83\xa8" not in out.stderr


def test_publish_a_file_then_preview_the_sweep_without_changing_anything(tmp_path, capsys):
    """`flows publish FILE` makes a new workflow live; `sweep --now … --dry-run` says what would
    escalate and changes nothing; the real sweep then does it."""
    from flows.cli import main
    from tests.fixtures.designer.samples import COMMITTEE_YAML

    data = str(tmp_path / "data")
    source = tmp_path / "safety_committee.yaml"
    source.write_text(COMMITTEE_YAML.replace("    documents: [committee_minutes]\n", ""), encoding="utf-8")
    assert main(["publish", str(source), "--as", "admin", "--data-dir", data]) == 0
    assert "已发布：安委会季度会议（safety_committee）第 1 版" in capsys.readouterr().out
    start = json.dumps({"quarter": "一季度", "meeting_date": "2025-03-10", "agenda": "部署", "attendees": "全体"})
    assert main(["start", "safety_committee", "--as", "awb_zhang", "--data", start, "--data-dir", data]) == 0
    case_id = json.loads(capsys.readouterr().out)["id"]
    for action, data_arg in [("convene", None), ("held", None),
                             ("submit_minutes", json.dumps({"summary": "会议内容", "decisions": [{"item": "排查", "owner_unit": "运输管理科"}]}))]:
        extra = ["--data", data_arg] if data_arg else []
        assert main(["act", case_id, action, "--as", "awb_zhang", "--data-dir", data, *extra]) == 0
    for leader in ("fenguan", "juzhang"):
        assert main(["act", case_id, "sign_minutes", "--as", leader, "--data", json.dumps({"opinion": "同意"}),
                     "--data-dir", data]) == 0
    capsys.readouterr()
    far = "2099-01-01T09:00"
    assert main(["sweep", "--now", far, "--dry-run", "--data-dir", data]) == 0
    preview = json.loads(capsys.readouterr().out)
    assert [(p["case_id"], p["timer"], p["would"]) for p in preview] == [(case_id, "督办期限", "escalate")]
    assert "分管领导" in preview[0]["notify"]
    assert main(["sweep", "--now", far, "--dry-run", "--data-dir", data]) == 0
    assert json.loads(capsys.readouterr().out) == preview  # nothing was changed
    assert main(["sweep", "--now", far, "--data-dir", data]) == 0
    assert json.loads(capsys.readouterr().out)[0]["event"] == "escalated"
    assert main(["sweep", "--now", "tomorrow", "--dry-run", "--data-dir", data]) == 2
    assert "--now 须为日期时间" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text(COMMITTEE_YAML.replace("to: meeting,", "to: nowhere,"), encoding="utf-8")
    assert main(["publish", str(bad), "--as", "admin", "--data-dir", data]) == 1
    assert "流转 第 1 行「筹备完成，召开会议」 · 目标状态" in capsys.readouterr().err
    assert main(["publish", str(source), "--as", "awb_zhang", "--data-dir", data]) == 2
    assert "只有管理员可以修改流程" in capsys.readouterr().err
