"""全部案件's search: text over case number, title, enterprise name and credit code; filters; sort;
paging; only roles that see all; a commit (here or in another process) is found by the next search."""
from __future__ import annotations

from datetime import date

import pytest

from flows.core.errors import NotPermitted
from flows.service import open_service, search
from flows.service.case_query import CaseQuery

ACCIDENT = {"occurred_at": "2025-03-01T08:30", "place": "X354线大豫段", "accident_type": "道路运输",
            "deaths": 0, "serious_injuries": 0, "direct_loss": 10, "description": "追尾",
            "enterprise": {"name": "通达客运有限公司", "credit_code": "91320600MA1MXK3P27"}}
BLACKLIST = {"enterprise": {"name": "江海港务有限公司", "credit_code": "91320600MA1NY7QH42"},
             "reason": "重大隐患整改不力", "facts": "逾期未整改"}


def ids(found):
    return [r.id for r in found[0]]


@pytest.fixture
def office(service, clock):
    made = {"accident": service.start("accident", "awb_zhang", ACCIDENT)["id"]}
    clock.advance(days=1)
    made["blacklist"] = service.start("blacklist", "awb_zhang", BLACKLIST)["id"]
    clock.advance(days=1)
    made["plain"] = service.start("blacklist", "awb_zhang", {**BLACKLIST, "enterprise": {
        "name": "顺风物流有限公司", "credit_code": "91320600MA1QQQQQ1H"}})["id"]
    return made


def test_text_finds_number_title_enterprise_and_credit_code(service, office):
    assert ids(search.search(service, "awb_zhang", CaseQuery(text=office["accident"]))) == [office["accident"]]
    assert ids(search.search(service, "awb_zhang", CaseQuery(text="通达客运"))) == [office["accident"]]
    assert ids(search.search(service, "awb_zhang", CaseQuery(text="91320600ma1ny7qh42"))) == [office["blacklist"]]
    assert ids(search.search(service, "awb_zhang", CaseQuery(text="有限公司 顺风"))) == [office["plain"]]  # every word
    assert search.search(service, "awb_zhang", CaseQuery(text="不存在的企业")) == ([], 0)
    row = search.search(service, "awb_zhang", CaseQuery(text="通达"))[0][0]
    assert row.enterprises == ("通达客运有限公司（91320600MA1MXK3P27）",)


def test_filters_sort_and_pages(service, office, clock):
    everyone = search.search(service, "awb_zhang", CaseQuery())
    assert everyone[1] == 3 and ids(everyone) == [office["plain"], office["blacklist"], office["accident"]]  # newest first
    assert ids(search.search(service, "awb_zhang", CaseQuery(sort="id")))[0] < ids(
        search.search(service, "awb_zhang", CaseQuery(sort="id")))[-1]
    assert ids(search.search(service, "awb_zhang", CaseQuery(workflow="accident"))) == [office["accident"]]
    wf = service.config.workflows["blacklist"]
    first = wf.states[0].name
    assert search.search(service, "awb_zhang", CaseQuery(workflow="blacklist", state=first))[1] == 2
    assert search.search(service, "awb_zhang", CaseQuery(status="closed")) == ([], 0)
    assert ids(search.search(service, "awb_zhang", CaseQuery(date_from=date(2025, 3, 4), date_to=date(2025, 3, 4)))) \
        == [office["blacklist"]]
    page, total = search.search(service, "awb_zhang", CaseQuery(), page=1, size=2)
    assert total == 3 and [r.id for r in page] == [office["accident"]]
    unit = service.case(office["accident"])["unit"]
    assert office["accident"] in ids(search.search(service, "awb_zhang", CaseQuery(unit=unit)))


def test_overdue_and_supervised(service, office, clock):
    assert search.search(service, "awb_zhang", CaseQuery(overdue=True))[1] == 0
    later = clock.advance(days=400)
    found = ids(search.search(service, "awb_zhang", CaseQuery(overdue=True), now=later))
    due = {cid for cid in office.values() if any(d["status"] == "pending" for d in service.case(cid)["deadlines"])}
    assert set(found) == due and due
    assert search.search(service, "awb_zhang", CaseQuery(supervised=True)) == ([], 0)


def test_only_roles_that_see_all_may_search(service, office):
    with pytest.raises(NotPermitted):
        search.search(service, "qy_yang", CaseQuery())


def test_a_change_made_by_another_process_is_found_by_the_next_search(service, office, tmp_path, config):
    assert search.search(service, "awb_zhang", CaseQuery(text="新企业"))[1] == 0
    other = open_service(tmp_path / "data", config=config)
    try:
        cid = other.start("blacklist", "awb_zhang", {**BLACKLIST, "enterprise": {
            "name": "新企业有限公司", "credit_code": "91320600MA1XXXXX2X"}})["id"]
    finally:
        other.close()
    assert ids(search.search(service, "awb_zhang", CaseQuery(text="新企业"))) == [cid]
