"""flows.service.case_sets: a workflow's cases read once, then kept current from the store's changes."""
from __future__ import annotations

from flows.service import open_service
from flows.service.case_sets import memo, workflow_cases

BLACKLIST = {"enterprise": {"name": "江海港务有限公司", "credit_code": "91320600MA1NY7QH42"},
             "reason": "重大隐患整改不力", "facts": "逾期未整改"}


def test_cases_follow_commits_here_and_in_another_process(service, tmp_path, config):
    assert workflow_cases(service, "blacklist") == []
    cid = service.start("blacklist", "awb_zhang", BLACKLIST)["id"]
    assert [c["id"] for c in workflow_cases(service, "blacklist")] == [cid]
    assert workflow_cases(service, "drill") == []
    other = open_service(tmp_path / "data", config=config)
    try:
        other.act(cid, "verify", "awb_zhang")
    finally:
        other.close()
    (case,) = workflow_cases(service, "blacklist")
    assert case["version"] == service.case(cid)["version"] and case["active"] != ["registered"]


def test_memo_is_kept_per_version(service):
    cid = service.start("blacklist", "awb_zhang", BLACKLIST)["id"]
    calls = []

    def make(case):
        calls.append(case["version"])
        return len(calls)

    case = service.case(cid)
    assert memo(service, "t", case, make) == memo(service, "t", case, make) == 1
    service.act(cid, "verify", "awb_zhang")
    assert memo(service, "t", service.case(cid), make) == 2
