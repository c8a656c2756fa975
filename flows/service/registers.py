"""台账: the emergency plan register (预案台账) and the credit blacklist register (黑名单台账), as leaders
read them: one row per plan or listing, with its status, searched, filtered and sorted here (not in the
page), and the same rows as an Excel sheet.

- 预案台账 reads the register the plan-revision workflow writes when a plan is 印发 (`register: plans`
  in configs/flows/plan_revision.yaml: name, kind, owner unit, version, published, next_assessment
  = publish date + `settings.reassess_years`) and the plan_revision cases by plan name. The next
  assessment is the row's `next_assessment`, the very date the reassessment job
  (flows/jobs/reassessment.py) starts a 定期评估 case on; it is due when that date is today or past.
- 黑名单台账 reads the blacklist cases (the workflow writes no register of its own): the term is the
  `listed` state's timer `listing_term` (`settings.listing_years` years from entering 已列入), so its
  end and the days left are calendar days (a term in years, not a deadline in 工作日); the decision
  number is the 决定书's 发文字号; credit-repair applications come from the case's history.

Only people whose role sees all (局领导, 安委办, 管理员: `desk.sees_all`) may read them: the functions
taking a user id raise NotPermitted for anyone else.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flows.core.errors import NotPermitted
from flows.documents.spreadsheet import Sheet
from flows.service import desk
from flows.service.case_sets import derived, memo, workflow_cases
from flows.service.cases import Service

__all__ = ["PLAN_COLUMNS", "PLAN_SORTS", "PLAN_STATUSES", "BLACKLIST_COLUMNS", "BLACKLIST_SORTS",
           "BLACKLIST_STATUSES", "IN_FORCE", "PlanQuery", "BlacklistQuery", "plan_rows", "blacklist_rows",
           "search_plans", "search_blacklist", "plan_register", "blacklist_register", "table", "sheet",
           "blacklist_summary", "check_access"]

PLAN_WORKFLOW = "plan_revision"
PLAN_TABLE = "plans"
BLACKLIST_WORKFLOW = "blacklist"
_TERM_TIMER = "listing_term"
_DECISION_TEMPLATE = "blacklist_decision"

# ------------------------------------------------------------------ columns, statuses, sorts

#: (row key, Chinese header) in the order the page and the Excel show them
PLAN_COLUMNS: list[tuple[str, str]] = [
    ("name", "预案名称"), ("kind", "预案类型"), ("owner_unit", "编制单位"), ("version", "版本"),
    ("published", "印发日期"), ("next_assessment", "下次评估"), ("assessment", "评估情况"),
    ("status", "状态"), ("cases_text", "相关案件")]
PLAN_STATUSES = ["现行", "修订中", "新编中"]
PLAN_SORTS = {"next_assessment": "下次评估最近", "name": "预案名称", "published": "印发最近",
              "owner_unit": "编制单位"}

BLACKLIST_COLUMNS: list[tuple[str, str]] = [
    ("enterprise", "企业"), ("credit_code", "统一社会信用代码"), ("reason", "列入事由"),
    ("decision_number", "决定书文号"), ("decision_date", "决定日期"), ("term_start", "列入起始"),
    ("term_end", "期限届满"), ("days_left", "剩余天数"), ("status", "状态"), ("repair", "信用修复申请"),
    ("case_id", "案件编号")]
IN_FORCE = ("列入中", "信用修复审核中")
BLACKLIST_STATUSES = ["列入中", "信用修复审核中", "期满待复核", "已移出（信用修复）", "已移出（期满）",
                      "拟列入（办理中）", "不予列入", "已作废"]
BLACKLIST_SORTS = {"term_end": "期限届满最近", "enterprise": "企业名称", "decision_date": "决定最近",
                   "days_left": "剩余天数最少"}


@dataclass(frozen=True)
class PlanQuery:
    text: str = ""                          # part of the plan's name (or its unit, kind, a case number)
    statuses: tuple[str, ...] = ()          # of PLAN_STATUSES; () = all
    kind: str | None = None                 # 综合应急预案 / 专项应急预案 / 现场处置方案
    unit: str | None = None                 # the owner unit
    assessment_due: bool = False            # only plans whose next assessment is today or past
    sort: str = "next_assessment"


@dataclass(frozen=True)
class BlacklistQuery:
    text: str = ""                          # part of the enterprise's name, its credit code, a number
    statuses: tuple[str, ...] = ()          # of BLACKLIST_STATUSES; () = all
    reason: str | None = None               # 列入事由
    repair_pending: bool = False            # only listings with a credit-repair application under review
    sort: str = "term_end"


@dataclass
class Register:
    """What a page shows: the rows found, the total before filtering, the day they were computed for."""
    rows: list[dict]
    total: int
    today: date
    facets: dict[str, list[str]] = field(default_factory=dict)  # what the filters may choose from


def check_access(svc: Service, user_id: str) -> None:
    if not desk.sees_all(svc, svc.actor(user_id)):
        raise NotPermitted("无权查看：台账只对局领导、安委办和管理员开放。")


# ------------------------------------------------------------------ helpers

def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get("name") or "")
    return str(value)


def _unit_name(value: Any) -> str:
    return _text(value)


def _matches(needle: str, *hay: Any) -> bool:
    needle = needle.strip().casefold()
    return not needle or any(needle in _text(h).casefold() for h in hay)


def _facet(rows: Iterable[dict], key: str) -> list[str]:
    return sorted({r[key] for r in rows if r.get(key)})


def _withdrawn(history: list[dict]) -> set:
    return {e.get("withdrawn_seq") for e in history if e.get("type") == "withdrawn"}


# ------------------------------------------------------------------ 预案台账

def plan_rows(svc: Service, today: date) -> list[dict]:
    """Every plan of the register, and every plan an open revision is writing for the first time.

    A row: name, kind, owner_unit, version, published (date), next_assessment (date), assessment_due
    (next_assessment ≤ today), assessment (what is known of it), status (现行 / 修订中 / 新编中),
    case_id (the case to open first: the open revision, else the one that published it), case_ids
    (every revision case of the plan, newest first)."""
    cases: dict[str, list[dict]] = {}
    for case in workflow_cases(svc, PLAN_WORKFLOW):
        name = _text(case["data"].get("plan_name")).strip()
        if name:
            cases.setdefault(name, []).append(case)
    for found in cases.values():
        found.sort(key=lambda c: c.get("created_at", ""), reverse=True)

    rows: list[dict] = []
    seen: set[str] = set()
    for entry in svc.register(PLAN_TABLE):
        name = _text(entry.get("name") or entry.get("key")).strip()
        seen.add(name)
        rows.append(_plan_row(svc, name, entry, cases.get(name, []), today))
    for name, found in cases.items():
        if name not in seen and any(c["status"] == "open" for c in found):
            rows.append(_plan_row(svc, name, None, found, today))
    return rows


def _plan_row(svc: Service, name: str, entry: dict | None, found: list[dict], today: date) -> dict:
    open_ = [c for c in found if c["status"] == "open"]
    first = (open_ or found or [{}])[0].get("data", {})
    entry = entry or {}
    nxt = _day(entry.get("next_assessment"))
    due = bool(nxt and entry.get("published") and nxt <= today)  # the reassessment job's own test
    if open_:
        status = "修订中" if entry else "新编中"
    else:
        status = "现行"
    if open_:
        assessment = f"{open_[0]['id']} 办理中：{desk.state_labels(svc.definition_of(open_[0]), open_[0])}"
    elif due:
        kept = [c for c in found if "no_revision" in c.get("active", ())
                and (_day(c.get("closed_at")) or date.min) >= nxt]
        assessment = f"已评估无需修订（{_day(kept[0].get('closed_at'))}）" if kept else "已到期，待评估"
    else:
        assessment = ""
    ids = [c["id"] for c in open_] + [c["id"] for c in found if c["status"] != "open"]
    if entry.get("case_id") and entry["case_id"] not in ids:
        ids.append(entry["case_id"])
    return {"key": entry.get("key") or name, "name": name,
            "kind": _text(entry.get("kind") or first.get("plan_kind")),
            "owner_unit": _unit_name(entry.get("owner_unit") or first.get("owner_unit")),
            "version": _text(entry.get("version") or first.get("plan_version")),
            "published": _day(entry.get("published")), "next_assessment": nxt, "assessment_due": due,
            "assessment": assessment, "status": status,
            "case_id": ids[0] if ids else None, "case_ids": ids, "cases_text": "、".join(ids)}


def search_plans(rows: Iterable[dict], query: PlanQuery) -> list[dict]:
    found = [r for r in rows
             if _matches(query.text, r["name"], r["owner_unit"], r["kind"], *r["case_ids"])
             and (not query.statuses or r["status"] in query.statuses)
             and (not query.kind or r["kind"] == query.kind)
             and (not query.unit or r["owner_unit"] == query.unit)
             and (not query.assessment_due or r["assessment_due"])]
    sort = query.sort if query.sort in PLAN_SORTS else "next_assessment"
    if sort == "next_assessment":  # soonest first, plans without a date last
        found.sort(key=lambda r: (r["next_assessment"] is None, r["next_assessment"] or date.max, r["name"]))
    elif sort == "published":
        found.sort(key=lambda r: (r["published"] is None, -(r["published"] or date.min).toordinal(), r["name"]))
    else:
        found.sort(key=lambda r: (r[sort], r["name"]))
    return found


def plan_register(svc: Service, user_id: str, query: PlanQuery = PlanQuery(),
                  today: date | None = None) -> Register:
    check_access(svc, user_id)
    today = today or svc.clock().date()
    rows = plan_rows(svc, today)
    return Register(search_plans(rows, query), len(rows), today,
                    {"kind": _facet(rows, "kind"), "owner_unit": _facet(rows, "owner_unit")})


# ------------------------------------------------------------------ 黑名单台账

def blacklist_rows(svc: Service, today: date) -> list[dict]:
    """One row per blacklist case (a listing, or a lead on its way to one).

    A row: case_id, enterprise, credit_code, reason, decision_number, decision_date, term_start,
    term_end (dates), days_left (calendar days to the term's end while the listing is in force; 0 on
    its last day), status (of BLACKLIST_STATUSES), in_force, repairs (each credit-repair application:
    applied (date), result 审核中 / 同意移出 / 不同意 / 期满转复核), repair_pending, repair (as text)."""
    rows = derived(svc, BLACKLIST_WORKFLOW, "blacklist-rows", today,
                   lambda cases: [_blacklist_row(svc, case, today) for case in cases])
    return [dict(r) for r in rows]  # the kept rows stay as made


def _term(case: dict) -> dict | None:
    terms = [d for d in case.get("deadlines", []) if d.get("timer") == _TERM_TIMER]
    return terms[-1] if terms else None


def _repairs(svc: Service, case: dict) -> list[dict]:
    if "repair_review" not in case.get("entered", {}):
        return []  # never applied: no need to read the history
    return memo(svc, "blacklist-repairs", case, lambda c: _repairs_in(svc.history(c["id"])))


def _repairs_in(history: list[dict]) -> list[dict]:
    taken_back = _withdrawn(history)
    out: list[dict] = []
    for e in history:
        if e.get("seq") in taken_back or e.get("type") not in ("transition", "timer"):
            continue
        name = e.get("transition")
        if name == "apply_repair":
            out.append({"applied": _day(e.get("at")), "reason": (e.get("data") or {}).get("repair_reason", ""),
                        "result": "审核中", "decided": None})
        elif out and out[-1]["result"] == "审核中" and "repair_review" in (e.get("from") or ()):
            out[-1]["result"] = {"approve_repair": "同意移出", "refuse_repair": "不同意（继续列入）",
                                 "term_ends": "期满转复核"}.get(name, e.get("label") or name)
            out[-1]["decided"] = _day(e.get("at"))
    return out


def _blacklist_status(case: dict, term_end: date | None, today: date) -> str:
    active = set(case.get("active", ()))
    entered = case.get("entered", {})
    if case.get("cancelled"):
        return "已作废"
    if "removed" in active:
        repaired, reviewed = entered.get("repair_review", ""), entered.get("term_review", "")
        return "已移出（信用修复）" if repaired and repaired > reviewed else "已移出（期满）"
    if "dismissed" in active:
        return "不予列入"
    if "term_review" in active:
        return "期满待复核"
    if active & {"listed", "repair_review"}:
        if term_end is not None and term_end < today:  # the sweep has not moved it yet
            return "期满待复核"
        return "信用修复审核中" if "repair_review" in active else "列入中"
    return "拟列入（办理中）"


def _blacklist_row(svc: Service, case: dict, today: date) -> dict:
    data = case.get("data", {})
    enterprise = data.get("enterprise")
    name = _text(enterprise)
    code = enterprise.get("credit_code", "") if isinstance(enterprise, dict) else ""
    decision = next((d for d in reversed(case.get("documents", [])) if d.get("template") == _DECISION_TEMPLATE), None)
    term = _term(case)
    start, end = (_day(term.get("entered")), _day(term.get("due"))) if term else (None, None)
    status = _blacklist_status(case, end, today)
    in_force = status in IN_FORCE
    repairs = _repairs(svc, case)
    pending = any(r["result"] == "审核中" for r in repairs)
    return {"case_id": case["id"], "enterprise": name, "credit_code": code, "reason": _text(data.get("reason")),
            "decision_number": (decision or {}).get("number") or "", "decision_date": _day(data.get("decision_date")),
            "term_start": start, "term_end": end,
            "days_left": (end - today).days if in_force and end else None,
            "status": status, "in_force": in_force, "repairs": repairs, "repair_pending": pending,
            "repair": "；".join(f"{r['applied']} 申请，{r['result']}" for r in repairs),
            "case_ids": [case["id"]]}


def search_blacklist(rows: Iterable[dict], query: BlacklistQuery) -> list[dict]:
    found = [r for r in rows
             if _matches(query.text, r["enterprise"], r["credit_code"], r["decision_number"], r["case_id"])
             and (not query.statuses or r["status"] in query.statuses)
             and (not query.reason or r["reason"] == query.reason)
             and (not query.repair_pending or r["repair_pending"])]
    sort = query.sort if query.sort in BLACKLIST_SORTS else "term_end"
    if sort in ("term_end", "days_left"):  # listings in force by their end, soonest first; the rest after
        found.sort(key=lambda r: (not r["in_force"], r["term_end"] is None, r["term_end"] or date.max,
                                  r["enterprise"]))
    elif sort == "decision_date":
        found.sort(key=lambda r: (r["decision_date"] is None, -(r["decision_date"] or date.min).toordinal(),
                                  r["enterprise"]))
    else:
        found.sort(key=lambda r: (r["enterprise"], r["case_id"]))
    return found


def blacklist_register(svc: Service, user_id: str, query: BlacklistQuery = BlacklistQuery(),
                       today: date | None = None) -> Register:
    check_access(svc, user_id)
    today = today or svc.clock().date()
    rows = blacklist_rows(svc, today)
    return Register(search_blacklist(rows, query), len(rows), today, {"reason": _facet(rows, "reason")})


def blacklist_summary(svc: Service, user_id: str, today: date | None = None) -> dict:
    """For the 统计 dashboard: the listings in force, soonest term end first (`soon`: within 30 days),
    and the credit-repair applications under review."""
    check_access(svc, user_id)
    today = today or svc.clock().date()
    rows = blacklist_rows(svc, today)
    listed = search_blacklist([r for r in rows if r["in_force"]], BlacklistQuery(sort="term_end"))
    for r in listed:
        r["soon"] = r["days_left"] is not None and r["days_left"] <= 30
    pending = [{**r, "applied": next(a["applied"] for a in r["repairs"] if a["result"] == "审核中")}
               for r in rows if r["repair_pending"]]
    pending.sort(key=lambda r: (r["applied"] or date.min, r["enterprise"]))
    return {"today": today, "listed": listed, "pending_repairs": pending}


# ------------------------------------------------------------------ as a table, as Excel

def table(rows: Sequence[dict], columns: Sequence[tuple[str, str]]) -> list[list[Any]]:
    """The rows as the page and the Excel show them: one list of values per row, in column order."""
    return [[r.get(key) for key, _ in columns] for r in rows]


def sheet(title: str, rows: Sequence[dict], columns: Sequence[tuple[str, str]], caption: str | None = None) -> Sheet:
    return Sheet(title, [label for _, label in columns], table(rows, columns), caption=caption)
