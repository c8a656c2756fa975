"""The service: definition versions, failed effects and their retry, the drill plan from the register."""
from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from flows.core.errors import FlowError
from flows.core.validate import DefinitionError
from flows.jobs import drill_plan
from flows.service import open_service
from flows.service.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DRILL = {"drill_name": "疏散演练", "plan_name": "客运站场人员疏散现场处置方案", "plan_kind": "现场处置方案",
         "drill_kind": "实战演练", "scenario": "客运站场疏散", "planned_date": "2025-04-15", "owner_unit": "运输管理科"}


def _configs_copy(tmp_path: Path) -> Path:
    target = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", target)
    return target


def _edit_drill(configs: Path, change) -> None:
    path = configs / "flows" / "drill.yaml"
    yaml = YAML()
    data = yaml.load(path.read_text(encoding="utf-8"))
    change(data)
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump(data, fh)


def test_running_case_stays_on_its_version_and_same_version_must_not_change(tmp_path, clock):
    configs = _configs_copy(tmp_path)
    data = tmp_path / "data"
    svc = open_service(data, config=load_config(configs), clock=clock)
    cid = svc.start("drill", "awb_zhang", DRILL)["id"]
    shipped = svc.case(cid)["workflow_version"]
    svc.close()

    # an admin renames a step but forgets to raise the version: refused, plainly
    _edit_drill(configs, lambda d: d["transitions"][0].update(label="着手编制方案"))
    with pytest.raises(FlowError, match=f"version 改为 {shipped + 1}"):
        open_service(data, config=load_config(configs), clock=clock)

    # the next version renames the 'begin_scheme' step: new cases use it, the running case keeps its own
    def v2(d):
        d["version"] = shipped + 1
        d["transitions"][0].update({"label": "着手编制方案"})
    _edit_drill(configs, v2)
    svc = open_service(data, config=load_config(configs), clock=clock)
    new = svc.start("drill", "awb_zhang", DRILL)
    assert new["workflow_version"] == shipped + 1
    old = svc.act(cid, "begin_scheme", "awb_zhang")
    assert old["workflow_version"] == shipped and old["active"] == ["scheme_drafting"]
    assert [a.label for a in svc.actions(new["id"], "awb_zhang") if a.name == "begin_scheme"] == ["着手编制方案"]
    svc.close()


def test_failed_effect_is_shown_on_the_case_and_can_be_retried(tmp_path, clock):
    configs = _configs_copy(tmp_path)
    svc = open_service(tmp_path / "data", config=load_config(configs), clock=clock)
    (configs / "templates" / "drill_notice.docx").write_bytes(b"not a docx")  # broken after start-up
    cid = svc.start("drill", "awb_zhang", DRILL)["id"]
    for action, user, data in [("begin_scheme", "awb_zhang", None),
                               ("submit_scheme", "awb_zhang", {"location": "站", "participants": "甲",
                                                                "scheme_summary": "乙"}),
                               ("approve_scheme", "awb_head", None)]:
        svc.act(cid, action, user, data)
    case = svc.act(cid, "send_notice", "awb_zhang", {"notice_date": "2025-04-01", "assembly": "集合"})
    assert case["active"] == ["executing"]  # the committed step stands
    (effect,) = [e for e in case["effects"] if e["type"] == "document"]
    assert effect["status"] == "failed" and effect["attempts"] == 3 and effect["error"]
    assert effect["number"] == "县交安〔2025〕1号"  # allocated once, kept for the retry
    shutil.copy(ROOT / "configs" / "templates" / "drill_notice.docx", configs / "templates" / "drill_notice.docx")
    case = svc.retry_effect(cid, effect["id"])
    (effect,) = [e for e in case["effects"] if e["type"] == "document"]
    assert effect["status"] == "done"
    assert [d["number"] for d in case["documents"]] == ["县交安〔2025〕1号"]
    assert svc.document_file(case["documents"][0]["file"]).stat().st_size > 10_000
    svc.close()


def test_a_template_that_cannot_be_opened_is_a_config_problem(tmp_path):
    configs = _configs_copy(tmp_path)
    (configs / "templates" / "drill_notice.docx").write_bytes(b"not a docx")
    with pytest.raises(DefinitionError) as exc:
        load_config(configs)
    assert "drill_notice.docx" in str(exc.value) and "无法打开" in str(exc.value)


def test_annual_drill_plan_follows_the_work_plan_frequencies(config):
    rules = drill_plan.load_rules(ROOT / "configs" / "drill_rules.yaml")
    plans = [
        {"name": "综合预案", "kind": "综合应急预案", "owner_unit": "局安委办"},
        {"name": "水上搜救专项预案", "kind": "专项应急预案", "scenario": "内河水上搜救", "owner_unit": "港航事业发展中心"},
        {"name": "客运站疏散方案", "kind": "现场处置方案", "scenario": "客运站场疏散", "owner_unit": "运输管理科"},
    ]
    rows = drill_plan.generate(2025, plans, ["通达客运有限公司"], rules, config.calendar)
    by_plan = {}
    for row in rows:
        by_plan.setdefault(row["plan_name"], []).append(row)
    assert len(by_plan["水上搜救专项预案"]) == 1  # 专项: once a year
    assert [r["period"] for r in by_plan["客运站疏散方案"]] == ["2025年上半年", "2025年下半年"]  # 现场处置: each half
    assert [r["drill_kind"] for r in by_plan["综合预案"]] == ["桌面推演"]  # at least one tabletop a year
    (evac,) = [r for r in rows if r["scenario"] == "全员应急疏散逃生"]
    assert evac["owner_unit"] == "通达客运有限公司"
    for row in rows:  # dates fall on working days
        assert config.calendar.is_workday(datetime.fromisoformat(row["planned_date"]).date())
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))

    done = {"id": "YL-2025-00001", "data": {"plan_name": "客运站疏散方案", "period": "2025年上半年",
                                            "executed_date": "2025-04-15"}}
    pending = {"id": "YL-2025-00002", "data": {"plan_name": "客运站疏散方案", "period": "2025年下半年"}}
    cov = {(c["plan_name"], c["period"]): c for c in drill_plan.coverage(rows, [done, pending])}
    assert cov[("客运站疏散方案", "2025年上半年")]["done"] == 1
    assert cov[("客运站疏散方案", "2025年下半年")] ["done"] == 0
    assert cov[("水上搜救专项预案", "2025年度")]["due"] == 1


ISSUER = r'''
import sys
from datetime import datetime
from flows.service import open_service
svc = open_service(sys.argv[1], clock=lambda: datetime(2025, 3, 3, 9))  # a fixed clock: the year is known
for _ in range(int(sys.argv[2])):
    cid = svc.start("blacklist", "awb_zhang", {"enterprise": {"name": "江海港务有限公司",
          "credit_code": "91320600MA1NY7QH42"}, "reason": "重大隐患整改不力", "facts": "逾期未整改"})["id"]
    svc.act(cid, "verify", "awb_zhang")
    svc.act(cid, "notify", "awb_zhang", {"investigation_findings": "属实", "legal_basis": "安全生产法"})
svc.close()
'''


def test_two_processes_issuing_at_once_never_share_a_document_number(tmp_path):
    import subprocess
    import sys

    data = tmp_path / "data"
    procs = [subprocess.Popen([sys.executable, "-c", ISSUER, str(data), "6"], cwd=ROOT) for _ in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    svc = open_service(data)
    numbers = [d["number"] for c in svc.store.cases(workflow="blacklist") for d in c["documents"]]
    svc.close()
    assert sorted(numbers, key=lambda n: int(n.split("〕")[1][:-1])) == [f"县交信告〔2025〕{i}号" for i in range(1, 13)]
