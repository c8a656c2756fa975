"""The desk's views: who sees a case, 待办 with working days left, deadlines counted Monday–Friday said
so, a case's data by label and step, its history in Chinese."""
from __future__ import annotations

from datetime import datetime

import pytest

from flows.core.errors import NotPermitted
from flows.service import desk
from tests.orchestration.orch_helpers import BLACKLIST, INVESTIGATION


def _notified(service, when: datetime) -> str:
    cid = service.start("blacklist", "awb_zhang", BLACKLIST, now=when)["id"]
    service.act(cid, "verify", "awb_zhang", now=when)
    service.act(cid, "notify", "awb_zhang", INVESTIGATION, now=when)
    return cid


@pytest.mark.parametrize("user, sees", [
    ("awb_zhang", True),    # started it
    ("juzhang", True),      # a role that sees all
    ("qy_yang", True),      # the enterprise named in it (江海港务) — and it is theirs to answer
    ("qy_han", False),      # another enterprise's contact
    ("gh_head", False),     # another department's head, who holds nothing of it and never touched it
])
def test_who_sees_a_case(service, user, sees):
    cid = _notified(service, datetime(2025, 3, 3, 9))
    assert desk.can_see(service, user, service.case(cid)) is sees
    if not sees:
        with pytest.raises(NotPermitted, match="无权查看"):
            desk.open_case(service, user, cid)


def test_a_department_sees_its_own_cases_and_those_it_acted_on(service):
    cid = _notified(service, datetime(2025, 3, 3, 9))
    assert desk.can_see(service, "awb_head", service.case(cid))        # the case's unit is 局安委办
    service.act(cid, "record_defense", "qy_yang", {"defense_date": "2025-03-05", "defense_text": "已整改"},
                now=datetime(2025, 3, 5, 9))
    assert desk.can_see(service, "qy_yang", service.case(cid))


def test_inbox_counts_working_days_overdue_first_one_line_per_step(service, clock):
    early = _notified(service, datetime(2025, 3, 3, 9))                 # 申辩期 5 working days: due 3-10
    late = _notified(service, datetime(2025, 3, 6, 9))                  # due 3-13
    clock.now = datetime(2025, 3, 11, 9)
    rows, more = desk.inbox_page(service, "awb_zhang", page=0, size=10)
    ours = [r for r in rows if r["case_id"] in (early, late)]
    assert [r["case_id"] for r in ours] == [early, late]               # overdue first, then by deadline
    assert ours[0]["days_left"] < 0 and ours[1]["days_left"] == 2
    assert len({(r["case_id"], r["state"]) for r in rows}) == len(rows) and not more


def test_a_deadline_in_a_year_nobody_entered_says_it_was_counted_monday_to_friday(service):
    known = _notified(service, datetime(2025, 3, 3, 9))
    assert desk.deadline_warnings(service, service.case(known)) == []
    reaching = _notified(service, datetime(2026, 12, 28, 9))            # 5 working days reach into 2027
    (warning,) = desk.deadline_warnings(service, service.case(reaching))
    assert "2027 年的法定节假日尚未录入" in warning and "周一至周五" in warning


def test_a_case_told_in_the_offices_words(service):
    cid = _notified(service, datetime(2025, 3, 3, 9))
    case = service.case(cid)
    groups = {g["step"]: {f["label"]: f["value"] for f in g["fields"]} for g in desk.data_by_step(service, case)}
    assert groups["发起"]["企业"] == "江海港务有限公司（91320600MA1NY7QH42）"
    assert groups["送达事先告知书"]["依据"] == "安全生产法"
    rows = desk.history_rows(service, case)
    whats = [r["what"] for r in rows]
    assert whats[:3] == ["发起", "开始调查核实", "送达事先告知书"]
    assert any(w.startswith("出具文书：安全生产失信行为事先告知书（县交信告〔2025〕") for w in whats)
    assert rows[0]["who"] == "张伟" and rows[2]["changes"].startswith("核实情况：属实")
    assert not any(w in ("started", "document", "joined", "linked", "transition") for w in whats)
