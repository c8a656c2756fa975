"""The 统计 dashboard's figures (flows.service.dashboard) against cases built for them, with known counts;
its cache and freshness; the statistics period checked before any job is handed it."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from flows.core.errors import FlowError, NotPermitted
from flows.documents import statistics
from flows.documents.statistics import Period
from flows.jobs.statistics import accident_statistics
from flows.service import dashboard
from flows.service.case_query import CaseQuery
from tests.orchestration.orch_helpers import BLACKLIST, INVESTIGATION

MONDAY = datetime(2025, 3, 3, 9)


def accident(when: str, kind: str = "道路运输", deaths: int = 0, injuries: int = 0, loss: float = 0.0) -> dict:
    return {"occurred_at": when, "place": "X354线", "accident_type": kind, "deaths": deaths,
            "serious_injuries": injuries, "direct_loss": loss, "description": "相撞"}


def _notified(svc, when: datetime) -> str:
    cid = svc.start("blacklist", "awb_zhang", BLACKLIST, now=when)["id"]
    svc.act(cid, "verify", "awb_zhang", now=when)
    svc.act(cid, "notify", "awb_zhang", INVESTIGATION, now=when)  # 申辩期 5 working days: due 3-10
    return cid


@pytest.fixture
def office(service):
    """Two blacklist cases (one 事先告知 since Monday, one 调查核实 since Wednesday), three accidents."""
    _notified(service, MONDAY)
    later = service.start("blacklist", "awb_zhang", BLACKLIST, now=MONDAY + timedelta(days=2))["id"]
    service.act(later, "verify", "awb_zhang", now=MONDAY + timedelta(days=2))
    service.start("accident", "awb_zhang", accident("2025-02-10T08:30:00", deaths=1, injuries=2, loss=35.5), now=MONDAY)
    service.start("accident", "awb_zhang", accident("2025-03-01T10:00:00", "水上交通", deaths=3), now=MONDAY)
    service.start("accident", "awb_zhang", accident("2024-02-20T10:00:00", loss=10), now=MONDAY)
    return service


def _count(rows, **match) -> int:
    return sum(r["count"] for r in rows if all(r[k] == v for k, v in match.items()))


# ------------------------------------------------------------------ cases

def test_cases_by_workflow_and_state_with_their_chinese_labels(office):
    rows = dashboard.cases_by_state(office, office.cases())
    assert _count(rows, workflow="blacklist") == 2 and _count(rows, workflow="accident") == 3
    notified = next(r for r in rows if r["workflow"] == "blacklist" and r["state"] == "notified")
    assert (notified["count"], notified["state_label"], notified["workflow_title"]) == (1, "事先告知（陈述申辩期）",
                                                                                        "安全生产失信黑名单")
    assert notified["query"] == CaseQuery(workflow="blacklist", state="notified", status="open")
    assert _count(rows, workflow="blacklist", state="investigating") == 1
    # an accident waits in three investigations at once: it counts in each of them, once
    assert {r["state"] for r in rows if r["workflow"] == "accident"} <= {s.name for s in office.definition("accident").states}


def test_a_closed_case_counts_in_the_state_it_ended_in():
    cases = [{"workflow": "drill", "status": "closed", "active": ["cancelled"]},
             {"workflow": "drill", "status": "closed", "active": ["archived"]},
             {"workflow": "drill", "status": "closed", "active": ["archived"]},
             {"workflow": "drill", "status": "open", "active": ["planned"]}]
    from flows.service.config import load_config
    from tests.conftest import ROOT

    class Svc:
        config = load_config(ROOT / "configs")

    rows = dashboard.cases_by_state(Svc, cases)
    assert [(r["state_label"], r["status_label"], r["count"]) for r in rows] == [
        ("计划", "办理中", 1), ("归档", "已办结", 2), ("已取消", "已办结", 1)]
    assert rows[1]["query"] == CaseQuery(workflow="drill", state="archived", status="closed")


def test_overdue_open_cases_by_owning_unit(office, clock):
    # the accident of 2024-02-20 is past its 60 days since 2024-04-20; the first 申辩期 ended on 3-10
    now = datetime(2025, 3, 11, 9)
    rows = dashboard.overdue_by_unit(office.cases(), now)
    assert [(r["unit"], r["count"]) for r in rows] == [("局安委办", 2)]
    assert rows[0]["query"] == CaseQuery(unit="局安委办", status="open", overdue=True, sort="due")
    on_the_day = dashboard.overdue_by_unit(office.cases(), datetime(2025, 3, 10, 9))  # due at the day's end
    assert [(r["unit"], r["count"]) for r in on_the_day] == [("局安委办", 1)]
    cases = [{"status": "open", "unit": None, "deadlines": [{"status": "pending", "due": "2025-01-01T23:59:59"}]},
             {"status": "open", "unit": "A", "deadlines": [{"status": "met", "due": "2025-01-01T23:59:59"}]},
             {"status": "open", "unit": "B", "deadlines": [{"status": "escalated", "due": "2025-01-01T23:59:59"}]},
             {"status": "closed", "unit": "A", "deadlines": [{"status": "pending", "due": "2025-01-01T23:59:59"}]}]
    # an escalated deadline (催办 sent, the work not done) is still overdue; a met one is not
    assert [(r["unit"], r["count"]) for r in dashboard.overdue_by_unit(cases, now)] == [("B", 1), (dashboard.NO_UNIT, 1)]


def test_days_per_step_is_the_time_open_cases_have_spent_in_their_current_step(office):
    now = MONDAY + timedelta(days=4)                                 # Friday 09:00
    ordered = dashboard.days_per_step(office, office.cases(), now)
    assert [r["avg_days"] for r in ordered] == sorted((r["avg_days"] for r in ordered), reverse=True)  # longest first
    rows = {(r["workflow"], r["state"]): r for r in ordered}
    notified, investigating = rows[("blacklist", "notified")], rows[("blacklist", "investigating")]
    assert (notified["cases"], notified["avg_days"], notified["max_days"]) == (1, 4.0, 4.0)
    assert (investigating["cases"], investigating["avg_days"]) == (1, 2.0)
    assert investigating["state_label"] == "调查核实"
    assert notified["query"] == CaseQuery(workflow="blacklist", state="notified", status="open", sort="due")


# ------------------------------------------------------------------ accidents

def _accidents(office) -> list[dict]:
    return [dashboard.compact_accident(office, c) for c in office.cases(workflow="accident")]


def test_accidents_by_month_quarter_and_year_against_the_year_before(office):
    months = dashboard.month_tables(_accidents(office))
    assert sorted(months) == ["2024-02", "2025-02", "2025-03"]
    by_month = {r["period"]: r for r in dashboard.accident_series(months, "month", 2025)}
    assert len(by_month) == 12
    feb = by_month["2025-02"]
    assert (feb["count"], feb["deaths"], feb["serious_injuries"], feb["direct_loss"]) == (1, 1, 2, 35.5)
    assert (feb["count_last_year"], feb["direct_loss_last_year"]) == (1, 10.0)
    assert feb["count_change"] == "持平" and feb["direct_loss_change"] == "+25.50（+255.0%）"
    assert by_month["2025-03"]["deaths"] == 3 and by_month["2025-03"]["deaths_change"] == "+3"
    assert feb["query"] == CaseQuery(workflow="accident", date_from=date(2025, 2, 1), date_to=date(2025, 2, 28))
    q1 = dashboard.accident_series(months, "quarter", 2025)[0]
    assert (q1["label"], q1["count"], q1["deaths"], q1["count_last_year"], q1["count_change"]) == (
        "2025年第一季度", 2, 4, 1, "+1（+100.0%）")
    years = {r["period"]: r for r in dashboard.accident_series(months, "year", 2025)}
    assert list(years) == ["2021", "2022", "2023", "2024", "2025"]
    assert (years["2025"]["count"], years["2024"]["count"], years["2024"]["count_change"]) == (2, 1, "+1")


def test_by_type_and_level_are_the_word_reports_own_figures(office):
    accidents = _accidents(office)
    months = dashboard.month_tables(accidents)
    for text in ("2025-02", "2025-Q1", "2025", "2024"):
        period = Period.parse(text)
        mine = dashboard.accident_report(months, period)
        theirs = statistics.report(accidents, period, workflow=office.definition("accident"))
        assert (mine["rows"], mine["totals"], mine["previous"]) == (theirs["rows"], theirs["totals"], theirs["previous"])
        assert mine["analysis"] == theirs["analysis"]
    q1 = dashboard.accident_report(months, Period.parse("2025-Q1"))
    road = next(r for r in q1["rows"] if r["type"] == "道路运输")
    water = next(r for r in q1["rows"] if r["type"] == "水上交通")
    assert road["count"]["general"] == 1 and water["count"]["larger"] == 1   # 3 deaths: 较大
    assert q1["totals"]["count"]["total"] == 2 and q1["last_year"]["count"]["total"] == 1


def test_an_accident_that_cannot_be_counted_is_left_out_and_said(office):
    case = dict(office.cases(workflow="accident")[0])
    case["data"] = {**case["data"], "level": "很大"}
    with pytest.raises(ValueError, match="事故等级「很大」"):
        dashboard.compact_accident(office, case)


# ------------------------------------------------------------------ drills

def test_drill_compliance_due_done_and_overdue_per_plan_and_period():
    coverage = [{"plan_name": "港口专项预案", "period": "上半年", "due": 2, "done": 1, "cases": ["YL-1", "YL-2"]},
                {"plan_name": "港口专项预案", "period": "下半年", "due": 1, "done": 0, "cases": ["YL-3"]},
                {"plan_name": "客运站疏散方案", "period": "全年", "due": 2, "done": 0, "cases": ["YL-4"]}]
    drills = {"YL-1": {"status": "closed", "data": {"executed_date": "2025-03-01", "planned_date": "2025-03-01"}},
              "YL-2": {"status": "open", "data": {"planned_date": "2025-04-01"}},          # date passed, not done
              "YL-3": {"status": "open", "data": {"planned_date": "2025-09-01"}},          # not yet due
              "YL-4": {"status": "closed", "data": {"planned_date": "2025-02-01"}}}        # cancelled: not overdue
    rows = dashboard.drill_compliance(coverage, drills, date(2025, 6, 1))
    assert [(r["due"], r["done"], r["overdue"], r["not_started"]) for r in rows] == [(2, 1, 1, 0), (1, 0, 0, 0),
                                                                                     (2, 0, 0, 1)]
    assert rows[0]["query"] == CaseQuery(workflow="drill", text="港口专项预案 上半年")


def test_the_published_plan_and_its_drills_give_the_coverage(service, clock):
    from flows.jobs import drill_plan, drill_publish

    clock.now = datetime(2025, 1, 2, 6)
    drill_plan.annual_plan(service, clock.now, 2025)
    failed = drill_publish.publish(service, clock.now, 2025)["failed"]  # a plan without 场景类别 starts none
    snap = dashboard.snapshot(service, datetime(2025, 12, 31, 9))
    record = service.store.get("reports", drill_plan.plan_key(2025))
    rows = dashboard.drill_compliance(drill_plan.coverage(record["plan_rows"], snap.drill_cases()), snap.drills,
                                      date(2025, 12, 31))
    assert rows == dashboard.drill_compliance(drill_publish.coverage(service, 2025), snap.drills, date(2025, 12, 31))
    assert sum(r["due"] for r in rows) == len(record["plan_rows"]) > len(failed) == 1
    assert sum(r["not_started"] for r in rows) == 1 and all(r["done"] == 0 for r in rows)
    assert sum(r["overdue"] for r in rows) == len(record["plan_rows"]) - 1  # nothing carried out, the year over
    assert sum(r["overdue"] for r in dashboard.drill_compliance(drill_publish.coverage(service, 2025), snap.drills,
                                                               date(2025, 1, 2))) == 0  # nothing due yet


# ------------------------------------------------------------------ the snapshot and its cache

def test_the_snapshot_reads_every_case_once(office):
    snap = dashboard.snapshot(office, datetime(2025, 3, 11, 9))
    assert (snap.total, snap.accidents, snap.problems) == (5, 3, [])
    assert snap.accident_years() == [2024, 2025]
    assert [(r["unit"], r["count"]) for r in snap.overdue] == [("局安委办", 2)]
    assert snap.states == dashboard.cases_by_state(office, office.cases())
    assert snap.derived("x", lambda: 1) == 1 and snap.derived("x", lambda: 2) == 1


def test_the_headline_figures_count_each_case_once_and_this_year_against_the_same_months_before(office):
    snap = dashboard.snapshot(office, datetime(2025, 3, 11, 9))
    head = dashboard.overview(snap, date(2025, 3, 11))
    # five open cases (an accident waiting in three investigations is one); two past their deadline
    assert (head["open"], head["overdue"], head["months"]) == (5, 2, 3)
    assert (head["count"], head["deaths"], head["count_last_year"], head["deaths_last_year"]) == (2, 4, 1, 0)
    january = dashboard.overview(snap, date(2025, 1, 31))          # only January: none this year, none before
    assert (january["count"], january["count_last_year"]) == (0, 0)


def test_the_cache_keeps_its_figures_for_the_refresh_interval(office, clock):
    cache = dashboard.cache_of(office)
    assert dashboard.cache_of(office) is cache
    first = cache.get()
    assert first.total == 5 and office.config.platform.dashboard_refresh_minutes == 10
    office.start("accident", "awb_zhang", accident("2025-03-02T10:00:00"))
    clock.advance(minutes=9)
    assert cache.get() is first and not cache.stale()                # within the interval: the same figures
    clock.advance(minutes=1)
    assert cache.stale() and cache.get(background=False).total == 6  # then made again
    office.start("accident", "awb_zhang", accident("2025-03-02T11:00:00"))
    assert cache.refresh().total == 7 and cache.get().total == 7     # 立即刷新


def test_a_stale_snapshot_is_shown_while_a_thread_makes_the_new_one(office, clock):
    cache = dashboard.cache_of(office)
    first = cache.get()
    office.start("accident", "awb_zhang", accident("2025-03-02T10:00:00"))
    clock.advance(minutes=10)
    assert cache.get() is first                                      # the page does not wait
    cache._thread.join(30)
    assert cache.get().total == 6 and cache.error is None


def test_warming_makes_the_first_snapshot_in_a_thread(office):
    cache = dashboard.cache_of(office)
    cache.warm()
    cache._thread.join(30)
    assert cache._snap is not None and cache.get().total == 5


def test_only_roles_that_see_all_get_the_figures(office):
    assert dashboard.dashboard(office, "juzhang").total == 5
    with pytest.raises(NotPermitted, match="无权查看"):
        dashboard.dashboard(office, "gh_sun")


# ------------------------------------------------------------------ the period of a statistics report

@pytest.mark.parametrize("text, key", [("2025", "2025"), (" 2025-q1 ", "2025-Q1"), ("2025-3", "2025-03"),
                                       ("2025-12", "2025-12")])
def test_a_period_parses(text, key):
    assert Period.parse(text).key == key


@pytest.mark.parametrize("text, said", [("", "请填写统计期"), (None, "请填写统计期"), ("   ", "请填写统计期"),
                                        ("abc", "格式不对"), ("2025-13", "格式不对"), ("2025-Q5", "格式不对"),
                                        ("25-03", "格式不对"), ("1800", "年份应在")])
def test_a_mistyped_period_is_refused_in_chinese(text, said):
    with pytest.raises(ValueError, match=said) as exc:
        Period.parse(text)
    assert "统计期格式应为 2025" in str(exc.value)


def test_every_months_label_reads():
    assert [Period(2025, "month", m).label for m in (1, 5, 12)] == ["2025年1月", "2025年5月", "2025年12月"]


@pytest.mark.parametrize("text", ["", "abc"])
def test_the_statistics_job_refuses_a_mistyped_period_before_reading_anything(service, text):
    with pytest.raises(FlowError, match="统计期"):
        accident_statistics(service, MONDAY, text)
    assert service.store.all("reports") == []


def test_the_statistics_job_makes_the_report_of_a_may(office):
    made = accident_statistics(office, MONDAY, "2025-05")             # a month past April (its label) works
    assert [m["period"] for m in made] == ["2025-05"]
