"""统计: the figures of the leaders' dashboard, as pure functions of the cases, and the one cache that
keeps them between page views.

    cases_by_state(svc, cases)              per workflow and current state (closed: their final state)
    overdue_by_unit(cases, now)             open cases whose running deadline has passed, per unit
    days_per_step(svc, cases, now)          where open cases wait: days in their current step so far
    month_tables(accidents)                 flows.documents.statistics.table of each month
    accident_series(months, kind, year)     accidents per month / quarter / year, against a year before
    accident_report(months, period)         by type and level for one period, 环比 and 同比
    drill_compliance(coverage, drills, today)  per plan and period: due, done, overdue
    snapshot(svc, now)                      all of the above that needs the archive, from one pass
    cache_of(svc).get()                     the service's snapshot, made again every N minutes

Reading every case (100,000, most archived) takes seconds, so a page view never does: the snapshot
is made once and kept for `dashboard_refresh_minutes` (configs/platform.yaml); when it is older, the
next view still shows it and a thread makes the new one (the page says when its figures are from).
Each figure row carries the `CaseQuery` of the cases behind it, so the page links every number to
全部案件 with the same rule the search applies (overdue: an open case's nearest running deadline,
`flows.core.deadlines.nearest_due`, is before now).
"""
from __future__ import annotations

import threading
import time
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flows.core import deadlines
from flows.core.errors import NotPermitted
from flows.documents import statistics
from flows.documents.statistics import Period
from flows.service import desk
from flows.service.case_query import CaseQuery
from flows.service.cases import Service

__all__ = ["Snapshot", "DashboardCache", "cache_of", "snapshot", "cases_by_state", "overdue_by_unit",
           "days_per_step", "month_tables", "period_table", "accident_series", "accident_report", "drill_compliance", "period_query",
           "NO_UNIT", "ACCIDENT", "DRILL"]

ACCIDENT = "accident"
DRILL = "drill"
NO_UNIT = "（未指定单位）"
#: what an accident keeps in the snapshot: what flows.documents.statistics reads of its data
ACCIDENT_FIELDS = ("occurred_at", "accident_type", "level", "deaths", "serious_injuries", "direct_loss", "place")
SERIES_YEARS = 5  # 按年度: this many years up to the chosen one


def _moment(text: Any) -> datetime | None:
    if isinstance(text, datetime):
        return text
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        return datetime.fromisoformat(text[:19])
    except ValueError:
        return None


def _pending_due(case: Mapping[str, Any]) -> str | None:
    """An open case's 办理期限: its nearest running deadline (pending, or escalated and still not
    met: `flows.core.deadlines.nearest_due`, as the search's `due`), else None."""
    return deadlines.nearest_due(dict(case)) if case.get("status") == "open" else None


# ------------------------------------------------------------------ cases

def cases_by_state(svc: Service, cases: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Per workflow and state: how many cases are in it now. An open case counts in each of its active
    steps (parallel steps each once); a closed case in the final state it ended in. Rows in the
    workflow's order of states, closed ones last; each with its Chinese labels and its `query`."""
    counts: Counter = Counter()
    for case in cases:
        for state in case.get("active") or ("",):
            counts[(case.get("workflow"), case.get("status"), state)] += 1
    rows = []
    for (name, status, state), n in counts.items():
        wf = svc.config.workflows.get(name)
        order = {s.name: i for i, s in enumerate(wf.states)} if wf else {}
        found = wf.state(state) if wf and state else None
        label = found.label if found else (state or "（无环节）")
        rows.append({"workflow": name, "workflow_title": wf.title if wf else name, "state": state,
                     "state_label": label, "status": status, "status_label": "办理中" if status == "open" else "已办结",
                     "count": n, "query": CaseQuery(workflow=name, state=state or None, status=status),
                     "_order": (name, status != "open", order.get(state, len(order)), state)})
    rows.sort(key=lambda r: r.pop("_order"))
    return rows


def overdue_by_unit(cases: Iterable[Mapping[str, Any]], now: datetime) -> list[dict]:
    """Open cases whose 办理期限 (nearest running deadline) has passed, per owning unit, the most first."""
    moment = now.isoformat(timespec="seconds")
    counts: Counter = Counter()
    for case in cases:
        due = _pending_due(case)
        if due is not None and due < moment:
            counts[case.get("unit") or NO_UNIT] += 1
    return [{"unit": unit, "count": n,
             "query": CaseQuery(unit=None if unit == NO_UNIT else unit, status="open", overdue=True, sort="due")}
            for unit, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def days_per_step(svc: Service, cases: Iterable[Mapping[str, Any]], now: datetime) -> list[dict]:
    """Where cases wait: for each workflow and step, the open cases in it now and the days (calendar
    days, one decimal) they have been in it so far, on average and at most; the longest waits first.
    From each case's `entered` (when it came into the step), not from the history: the history of
    100,000 cases is not read for a dashboard."""
    waits: dict[tuple[str, str], list[float]] = defaultdict(list)
    for case in cases:
        if case.get("status") != "open":
            continue
        entered = case.get("entered") or {}
        for state in case.get("active") or ():
            since = _moment(entered.get(state)) or _moment(case.get("updated_at"))
            if since is not None:
                waits[(case.get("workflow"), state)].append(max(0.0, (now - since).total_seconds() / 86400))
    rows = []
    for (name, state), days in waits.items():
        wf = svc.config.workflows.get(name)
        found = wf.state(state) if wf else None
        rows.append({"workflow": name, "workflow_title": wf.title if wf else name, "state": state,
                     "state_label": found.label if found else state, "cases": len(days),
                     "avg_days": round(sum(days) / len(days), 1), "max_days": round(max(days), 1),
                     "query": CaseQuery(workflow=name, state=state, status="open", sort="due")})
    rows.sort(key=lambda r: (-r["avg_days"], r["workflow"], r["state"]))
    return rows


# ------------------------------------------------------------------ accidents

def compact_accident(svc: Service, case: Mapping[str, Any]) -> dict:
    """What the statistics read of an accident case, its level judged once (the accident workflow's
    rule table when the case carries none); ValueError when it cannot be counted."""
    data = case.get("data") or {}
    kept = {k: data[k] for k in ACCIDENT_FIELDS if k in data}
    # the stored level; only a case without one needs the definition (in force, as the report job's)
    kept["level"] = statistics.level_of(data, None if data.get("level") else svc.config.workflows.get(ACCIDENT))
    day = statistics.occurred_on(case)
    if day is None:
        raise ValueError("没有事故发生时间")
    kept["occurred_at"] = day.isoformat()
    return {"id": case.get("id", ""), "workflow": ACCIDENT, "status": case.get("status"),
            "created_at": case.get("created_at"), "unit": case.get("unit"), "data": kept}


def period_query(period: Period) -> CaseQuery:
    """The accident cases of a period in 全部案件 (by the day they were reported: its date filter is
    the day a case started, which for an accident is the day it was reported)."""
    return CaseQuery(workflow=ACCIDENT, date_from=period.start, date_to=period.end - timedelta(days=1))


def _periods(kind: str, year: int) -> list[Period]:
    if kind == "month":
        return [Period(year, "month", m) for m in range(1, 13)]
    if kind == "quarter":
        return [Period(year, "quarter", q) for q in range(1, 5)]
    if kind == "year":
        return [Period(y, "year") for y in range(year - SERIES_YEARS + 1, year + 1)]
    raise ValueError(f"统计方式应为 month、quarter 或 year，不是 {kind!r}")


def _number(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.2f}"


def change(now: float, before: float) -> str:
    """同比 in words short enough for a table cell: +3（+50.0%）, −1.50（−20.0%）, 持平."""
    if now == before:
        return "持平"
    sign = "+" if now > before else "−"
    pct = f"（{sign}{abs(now - before) / before * 100:.1f}%）" if before else ""
    return f"{sign}{_number(abs(now - before))}{pct}"


def month_tables(accidents: Iterable[Mapping[str, Any]]) -> dict[str, dict]:
    """`flows.documents.statistics.table` of each month ("2025-03") that had accidents: a period's
    figures are then the sum of its months' (`period_table`), never a pass over every accident."""
    months: dict[str, list] = defaultdict(list)
    for a in accidents:
        day = statistics.occurred_on(a)
        if day is not None:
            months[day.isoformat()[:7]].append(a)
    return {month: statistics.table(found) for month, found in sorted(months.items())}


def _months_of(period: Period) -> list[str]:
    out, day = [], period.start
    while day < period.end:
        out.append(day.isoformat()[:7])
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def _add(into: dict, row: Mapping[str, Any]) -> None:
    for metric, _ in statistics.METRICS:
        for key in statistics.LEVEL_KEYS:
            into[metric][key] += row[metric][key]


def _blank(kind: str) -> dict:
    return {"type": kind, **{metric: dict.fromkeys(statistics.LEVEL_KEYS, 0) for metric, _ in statistics.METRICS}}


def _rounded(row: dict) -> dict:
    row["direct_loss"] = {k: round(v, 2) for k, v in row["direct_loss"].items()}
    return row


def period_table(months: Mapping[str, dict], period: Period) -> dict:
    """The table of `period` (the shape of `statistics.table`: a row per accident type, the listed
    types always, and totals) as the sum of its months' tables."""
    rows = {kind: _blank(kind) for kind in statistics.ACCIDENT_TYPES}
    totals = _blank("合计")
    for month in _months_of(period):
        found = months.get(month)
        if found is None:
            continue
        for row in found["rows"]:
            _add(rows.setdefault(row["type"], _blank(row["type"])), row)
        _add(totals, found["totals"])
    return {"rows": [_rounded(r) for r in rows.values()], "totals": _rounded(totals)}


def accident_series(months: Mapping[str, dict], kind: str, year: int) -> list[dict]:
    """Accidents per month or quarter of `year`, or per year of the five up to it: count, deaths,
    serious injuries, direct loss (万元), each against the same period of the year before (同比).
    `months`: `month_tables` of the accidents."""
    rows = []
    for p in _periods(kind, year):
        now = period_table(months, p)["totals"]
        before = period_table(months, p.last_year())["totals"]
        row = {"period": p.key, "label": p.label, "query": period_query(p)}
        for metric, _ in statistics.METRICS:
            row[metric] = now[metric]["total"]
            row[f"{metric}_last_year"] = before[metric]["total"]
            row[f"{metric}_change"] = change(now[metric]["total"], before[metric]["total"])
        rows.append(row)
    return rows


def accident_report(months: Mapping[str, dict], period: Period) -> dict:
    """One period by accident type and level, the period before (环比) and the same period a year
    before (同比), and the comparison paragraph of the Word report (`statistics.analysis`): the
    figures `statistics.report` gives, from `month_tables`."""
    current = period_table(months, period)
    previous = period_table(months, period.previous())
    last_year = period_table(months, period.last_year()) if period.kind != "year" else None
    return {"period": period.key, "label": period.label, "kind": period.kind, "rows": current["rows"],
            "totals": current["totals"], "previous": previous["totals"],
            "last_year": (last_year or period_table(months, period.last_year()))["totals"],
            "analysis": statistics.analysis(period, current, previous, last_year), "query": period_query(period)}


def overview(snap: Snapshot, today: date) -> dict:
    """The headline figures above the dashboard's sections: cases open and overdue now (each case once,
    however many steps it waits in); accidents and deaths of this year up to today's month against the
    same months of the year before (a whole year before would flatter every January)."""

    def so_far(year: int, metric: str) -> float:
        months = (snap.months.get(f"{year}-{m:02d}") for m in range(1, today.month + 1))
        return sum(t["totals"][metric]["total"] for t in months if t)

    return {"open": snap.open, "overdue": sum(r["count"] for r in snap.overdue), "months": today.month,
            **{f"{metric}{suffix}": so_far(year, metric) for metric in ("count", "deaths")
               for suffix, year in (("", today.year), ("_last_year", today.year - 1))}}


# ------------------------------------------------------------------ drills

DRILL_FIELDS = ("plan_name", "period", "drill_name", "planned_date", "executed_date")


def compact_drill(case: Mapping[str, Any]) -> dict:
    """What the plan's coverage (`flows.jobs.drill_plan.coverage`) and `drill_compliance` read of a drill."""
    data = case.get("data") or {}
    return {"id": case.get("id", ""), "workflow": DRILL, "status": case.get("status"),
            "active": list(case.get("active") or ()), "data": {k: data[k] for k in DRILL_FIELDS if k in data}}


def drill_compliance(coverage: Iterable[Mapping[str, Any]], drills: Mapping[str, Mapping[str, Any]],
                     today: date) -> list[dict]:
    """The published plan's rows per plan and period (`flows.jobs.drill_publish.coverage`: due, done,
    their cases) with `overdue`: drills of the row still open, not carried out (no 实施 recorded), whose
    planned date has passed; and `not_started`: drills due that have no case (the plan not published,
    or a row that could not start)."""
    day = today.isoformat()
    out = []
    for row in coverage:
        cases = [drills[c]["data"] | {"status": drills[c]["status"]} for c in row.get("cases", ()) if c in drills]
        overdue = sum(1 for d in cases if d["status"] == "open" and not d.get("executed_date")
                      and str(d.get("planned_date") or "9999") < day)
        out.append({**row, "overdue": overdue, "not_started": max(0, row["due"] - len(row.get("cases", ()))),
                    "query": CaseQuery(workflow=DRILL, text=f"{row['plan_name']} {row['period']}")})
    return out


# ------------------------------------------------------------------ the snapshot and its cache

@dataclass
class Snapshot:
    """Every figure that needs the whole archive, as of `at`."""

    at: datetime
    seconds: float                       # how long making it took
    total: int                           # cases read
    open: int                            # of them still open
    states: list[dict]                   # cases_by_state
    overdue: list[dict]                  # overdue_by_unit
    waiting: list[dict]                  # days_per_step
    accidents: int                       # accident cases counted (compact_accident)
    months: dict[str, dict]              # month_tables of them
    drills: dict[str, dict]              # compact_drill by case id
    problems: list[str] = field(default_factory=list)  # accident cases left out of the figures, and why
    memo: dict = field(default_factory=dict)           # figures derived from this snapshot, by key

    def accident_years(self) -> list[int]:
        return sorted({int(month[:4]) for month in self.months})

    def drill_cases(self) -> list[dict]:
        return list(self.drills.values())

    def derived(self, key: Any, make: Callable[[], Any]) -> Any:
        """A figure derived from this snapshot (or from data that changes as rarely), made once."""
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]


def snapshot(svc: Service, now: datetime | None = None) -> Snapshot:
    """Read every case once (the open ones and the archive) and make the dashboard's figures."""
    now = now or svc.clock()
    t0 = time.perf_counter()
    seen: set[str] = set()
    opened: list[dict] = []
    accidents: list[dict] = []
    drills: dict[str, dict] = {}
    problems: list[str] = []

    def each() -> Iterable[dict]:
        for case in svc.store.cases():
            if case["id"] in seen:
                continue
            seen.add(case["id"])
            if case.get("status") == "open":
                opened.append(case)
            if case.get("workflow") == ACCIDENT:
                try:
                    accidents.append(compact_accident(svc, case))
                except ValueError as exc:
                    problems.append(f"事故案件 {case['id']} 未计入事故统计：{exc}")
            elif case.get("workflow") == DRILL:
                drills[case["id"]] = compact_drill(case)
            yield case

    states = cases_by_state(svc, each())  # the one pass: `each` fills the lists as it goes
    overdue, waiting = overdue_by_unit(opened, now), days_per_step(svc, opened, now)
    return Snapshot(at=now, seconds=round(time.perf_counter() - t0, 3), total=len(seen), open=len(opened), states=states,
                    overdue=overdue, waiting=waiting, accidents=len(accidents), months=month_tables(accidents), drills=drills,
                    problems=problems)


class DashboardCache:
    """The service's snapshot, made again when older than the refresh interval. Several browser
    sessions (threads) share it; only one makes a new snapshot at a time."""

    def __init__(self, svc: Service):
        self.svc = svc
        self._snap: Snapshot | None = None
        self._lock = threading.Lock()      # making a snapshot
        self._thread: threading.Thread | None = None
        self.error: str | None = None      # why the last background refresh failed

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=self.svc.config.platform.dashboard_refresh_minutes)

    @property
    def refreshing(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stale(self, now: datetime | None = None) -> bool:
        snap = self._snap
        return snap is None or (now or self.svc.clock()) - snap.at >= self.interval

    def refresh(self) -> Snapshot:
        """A new snapshot now (立即刷新), waiting for one being made by another session."""
        with self._lock:
            self._snap = snapshot(self.svc)
            self.error = None
            return self._snap

    def get(self, background: bool = True) -> Snapshot:
        """The snapshot: made here when there is none yet; when it is older than the interval, the old
        one, while a thread makes the new one (`background`; else made here, before returning)."""
        snap = self._snap
        if snap is None:
            with self._lock:
                if self._snap is None:
                    self._snap = snapshot(self.svc)
                return self._snap
        if self.stale():
            if not background:
                return self.refresh()
            if not self.refreshing and not self._lock.locked():
                self._thread = threading.Thread(target=self._refresh_quietly, name="dashboard-refresh", daemon=True)
                self._thread.start()
        return snap

    def warm(self) -> None:
        """Start making the first snapshot in a thread (e.g. when the app process starts), so that the
        first view of 统计 need not wait the seconds a pass over the archive takes."""
        if self._snap is None and not self.refreshing and not self._lock.locked():
            self._thread = threading.Thread(target=self._refresh_quietly, name="dashboard-warm", daemon=True)
            self._thread.start()

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - kept for the page; the old figures stay shown
            self.error = f"{type(exc).__name__}: {exc}"


_CACHES: weakref.WeakKeyDictionary[Service, DashboardCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_of(svc: Service) -> DashboardCache:
    """The service's dashboard cache (one per service, made on first use)."""
    with _CACHES_LOCK:
        cache = _CACHES.get(svc)
        if cache is None:
            cache = _CACHES[svc] = DashboardCache(svc)
        return cache


def dashboard(svc: Service, user_id: str, background: bool = True) -> Snapshot:
    """The snapshot for a person whose role sees all cases; anyone else is refused here."""
    if not desk.sees_all(svc, svc.actor(user_id)):
        raise NotPermitted("无权查看：统计只对局领导、安委办和管理员开放")
    return cache_of(svc).get(background=background)
