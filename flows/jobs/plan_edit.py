"""The office adjusts the generated drill plan before publishing it: dates, organisers, scenarios.

`editable_plan` is the year's plan as the page shows it (each row with the case it started or why it
could not start one); `check_rows` gives every problem of edited rows, each with its row (序号) and
column label, in Chinese; `save_rows` writes them back to the stored plan record (the one
`drill_plan.annual_plan` keeps and `drill_publish.publish` reads) with a version check, and re-renders
the plan's Word table while the plan is not published. Rows that have their case are not edited here:
the drill is a case now and is handled on its case page.

`calendar_entries` and `month_overview` are the drills of a year on their dates (planned rows, the
cases they started, and drill cases started by hand), for the calendar.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime

from flows.core import engine
from flows.core.errors import FlowError
from flows.jobs import drill_plan, drill_publish
from flows.jobs.claims import plain
from flows.service import Service, reports
from flows.service.case_sets import workflow_cases
from storage import ConflictError

EDITABLE = ("planned_date", "owner_unit", "scenario")
LABELS = {"seq": "序号", "drill_name": "演练名称", "plan_name": "对应预案", "drill_kind": "演练形式",
          "period": "计划周期", "planned_date": "计划日期", "owner_unit": "组织单位", "scenario": "场景类别"}
SCENARIO_MAX = 50
WEEKDAYS = "一二三四五六日"
CONFLICT = "计划已被他人修改，请刷新后再改"


@dataclass(frozen=True)
class RowProblem:
    seq: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"第 {self.seq} 项「{LABELS.get(self.field, self.field)}」：{self.message}"


class PlanRowsInvalid(FlowError):
    """Some edited rows are wrong: nothing was saved."""

    code = "plan_rows_invalid"

    def __init__(self, problems: list[RowProblem]):
        self.problems = list(problems)
        super().__init__("计划有误，未保存：" + "；".join(str(p) for p in self.problems))


class PlanConflict(FlowError):
    code = "plan_conflict"


# ------------------------------------------------------------------ what the page edits

def organisers(svc: Service) -> list[str]:
    """Who may organise a drill: the bureau's units and the enterprises."""
    return sorted(svc.org.unit_names)


def _scenario_field(svc: Service):
    wf = svc.definition("drill")
    form = wf.forms.get(wf.start_form or "")
    return next((f for f in form.fields if f.name == "scenario"), None) if form else None


def scenarios(svc: Service) -> list[str]:
    """The scenario categories the drill's start form accepts (empty: any text)."""
    field = _scenario_field(svc)
    return list(field.options) if field is not None else []


def editable_plan(svc: Service, year: int) -> dict | None:
    """The year's plan for the page: rows with `case_id` / `error` (why publishing could not start its
    case) and `locked` (its case exists: not editable here), the record's version, published or not."""
    year = drill_plan.check_year(year)
    record = reports.get_report(svc, drill_plan.plan_key(year))
    if record is None or "plan_rows" not in record:
        return None
    status = drill_publish.row_status(svc, year)
    rows = []
    for row in record["plan_rows"]:
        held = status.get(int(row["seq"]), {})
        rows.append({**row, "case_id": held.get("case_id"), "error": None if held.get("case_id") else held.get("error"),
                     "locked": bool(held.get("case_id"))})
    return {"year": year, "key": record["key"], "version": int(record.get("_version", 0)), "rows": rows,
            "published_at": record.get("published_at"), "edited_at": record.get("edited_at"),
            "edited_by": record.get("edited_by"), "files": record.get("files", [])}


# ------------------------------------------------------------------ checking rows

def _as_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def period_months(period: str) -> tuple[int, int]:
    """The months a plan period covers: 上半年 1–6, 下半年 7–12, 第N季度, else the whole year."""
    if period.endswith("上半年"):
        return 1, 6
    if period.endswith("下半年"):
        return 7, 12
    if m := re.search(r"第([1-4])季度$", period):
        q = int(m.group(1))
        return 3 * q - 2, 3 * q
    return 1, 12


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def check_date(svc: Service, year: int, period: str, value) -> tuple[date | None, str | None]:
    """The planned date, or why it cannot be: a date of the year, inside the row's period, a working day."""
    raw = value
    if raw is None or (isinstance(raw, str) and not raw.strip()) or raw != raw:  # NaN/NaT are not equal to themselves
        return None, "必填"
    d = _as_date(raw)
    if d is None:
        return None, f"不是有效日期（{str(raw)[:20]}）"
    if d.year != year:
        return d, f"须在 {year} 年内"
    first, last = period_months(period or "")
    if not first <= d.month <= last:
        start, end = date(year, first, 1), _month_end(year, last)
        return d, (f"须在计划周期「{period}」内（{start.month}月{start.day}日至{end.month}月{end.day}日）")
    if not svc.config.calendar.is_workday(d):
        return d, f"{d.isoformat()}（星期{WEEKDAYS[d.weekday()]}）不是工作日"
    return d, None


def check_rows(svc: Service, year: int, rows: list[dict], stored: list[dict] | None = None) -> list[RowProblem]:
    """Every problem of the edited rows. `rows` carry `seq` and the editable fields; `stored` are the
    plan's rows as kept (with `locked` for those with a case), which they must match."""
    units, choices = set(organisers(svc)), scenarios(svc)
    field = _scenario_field(svc)
    limit = min(SCENARIO_MAX, field.max_length or SCENARIO_MAX) if field is not None else SCENARIO_MAX
    by_seq = {int(r["seq"]): r for r in (stored or [])}
    problems: list[RowProblem] = []
    seen: set[int] = set()
    for row in rows:
        try:
            seq = int(row.get("seq"))
        except (TypeError, ValueError):
            problems.append(RowProblem(0, "seq", "没有序号的行不能保存"))
            continue
        if stored is not None and seq not in by_seq:
            problems.append(RowProblem(seq, "seq", "计划中没有这一项"))
            continue
        if seq in seen:
            problems.append(RowProblem(seq, "seq", "重复"))
            continue
        seen.add(seq)
        base = by_seq.get(seq, row)
        if base.get("locked"):
            if any(_norm(row.get(k)) != _norm(base.get(k)) for k in EDITABLE if k in row):
                problems.append(RowProblem(seq, "drill_name", f"已发起演练案件 {base.get('case_id')}，不能再在计划中修改，"
                                                              "请在案件中办理"))
            continue
        _, why = check_date(svc, year, base.get("period", ""), row.get("planned_date"))
        if why:
            problems.append(RowProblem(seq, "planned_date", why))
        unit = _text(row.get("owner_unit"))
        if not unit:
            problems.append(RowProblem(seq, "owner_unit", "必填"))
        elif unit not in units:
            problems.append(RowProblem(seq, "owner_unit", f"「{unit[:30]}」不是已知的单位或企业"))
        scenario = _text(row.get("scenario"))
        if not scenario:
            problems.append(RowProblem(seq, "scenario", "必填"))
        elif len(scenario) > limit:
            problems.append(RowProblem(seq, "scenario", f"最多 {limit} 个字（现有 {len(scenario)} 个）"))
        elif choices and scenario not in choices:
            problems.append(RowProblem(seq, "scenario", f"须为以下之一：{'、'.join(choices)}"))
    return sorted(problems, key=lambda p: p.seq)


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _norm(value) -> str:
    d = _as_date(value)
    if d is not None:
        return d.isoformat()
    return _text(value) if isinstance(value, str) else ("" if value is None or value != value else str(value))


def stored_problems(svc: Service, plan: dict) -> list[RowProblem]:
    """What still needs fixing in the plan as kept (e.g. a tabletop drill with no scenario)."""
    open_rows = [r for r in plan["rows"] if not r.get("locked")]
    return check_rows(svc, plan["year"], open_rows, plan["rows"])


# ------------------------------------------------------------------ saving

def save_rows(svc: Service, year: int, rows: list[dict], expected_version: int, actor_id: str,
              now: datetime) -> dict:
    """Write the edited rows (seq + editable fields) into the stored plan; refused whole when any row is
    wrong (PlanRowsInvalid) or the plan changed since `expected_version` was read (PlanConflict)."""
    year = drill_plan.check_year(year)
    plan = editable_plan(svc, year)
    if plan is None:
        raise FlowError(f"{year} 年度应急演练计划尚未生成，请先生成计划")
    if plan["version"] != int(expected_version):
        raise PlanConflict(CONFLICT)
    problems = check_rows(svc, year, rows, plan["rows"])
    if problems:
        raise PlanRowsInvalid(problems)
    edits = {int(r["seq"]): r for r in rows}
    new_rows, changed = [], 0
    for row in plan["rows"]:
        kept = {k: v for k, v in row.items() if k not in ("case_id", "error", "locked")}
        edit = edits.get(int(row["seq"]))
        if edit is not None and not row["locked"]:
            update = {"planned_date": _as_date(edit["planned_date"]).isoformat(),
                      "owner_unit": _text(edit["owner_unit"]), "scenario": _text(edit["scenario"])}
            changed += any(update[k] != (kept.get(k) or "") for k in EDITABLE)
            kept.update(update)
        new_rows.append(kept)
    if not changed:
        return {"changed": 0, "version": plan["version"]}
    record = plain(reports.get_report(svc, plan["key"]))
    stamp = {"edited_at": engine.iso(now), "edited_by": actor_id}
    try:
        saved = svc.store.put(reports.TABLE, plan["key"], {**record, "plan_rows": new_rows, **stamp},
                              expected_version=plan["version"])
    except ConflictError:
        raise PlanConflict(CONFLICT) from None
    if not record.get("published_at"):
        # the Word table follows the rows until the plan is published; a published 通知 stays as issued.
        # The record is re-read inside `issue`, so a save that came in meanwhile keeps its rows.
        saved = reports.issue(svc, key=plan["key"], kind="drill_plan", template="annual_drill_plan",
                              title_values={"year": year}, rows=new_rows, extra={"year": year}, moment=now,
                              meta={"year": year, "rows": len(new_rows)})
    return {"changed": changed, "version": int(saved["_version"])}


# ------------------------------------------------------------------ the calendar

def _case_status(case: dict, today: date) -> str:
    data = case.get("data", {})
    if "cancelled" in case.get("active", []):
        return "已取消"
    if data.get("executed_date") or case.get("status") != "open":
        return "已实施"
    planned = _as_date(data.get("planned_date"))
    return "逾期" if planned is not None and planned < today else "待实施"


def calendar_entries(svc: Service, year: int, today: date) -> list[dict]:
    """The drills of the year on their dates: each plan row (its case's date once it has one, else
    「计划」), and drill cases of the year started by hand. Sorted by date."""
    year = drill_plan.check_year(year)
    cases = {c["id"]: c for c in workflow_cases(svc, "drill")}  # read only, kept current: not the archive per view
    plan = editable_plan(svc, year)
    out, linked = [], set()
    for row in (plan or {}).get("rows", []):
        case = cases.get(row.get("case_id") or "")
        when = _as_date((case or {}).get("data", {}).get("planned_date")) or _as_date(row.get("planned_date"))
        if case is not None:
            linked.add(case["id"])
        out.append({"date": when, "seq": row["seq"], "drill_name": row["drill_name"], "owner_unit": row.get("owner_unit"),
                    "case_id": case["id"] if case else None,
                    "status": _case_status(case, today) if case else "计划", "error": row.get("error")})
    for case in cases.values():
        when = _as_date(case.get("data", {}).get("planned_date"))
        if case["id"] in linked or when is None or when.year != year:
            continue
        out.append({"date": when, "seq": None, "drill_name": case.get("data", {}).get("drill_name") or case["id"],
                    "owner_unit": case.get("data", {}).get("owner_unit"), "case_id": case["id"],
                    "status": _case_status(case, today), "error": None})
    return sorted((e for e in out if e["date"] is not None), key=lambda e: (e["date"], e["seq"] or 0))


def month_overview(entries: list[dict], year: int) -> list[dict]:
    """Per month: drills planned (due), carried out (done), overdue, not yet a case."""
    months = [{"month": m, "due": 0, "done": 0, "overdue": 0, "planned": 0} for m in range(1, 13)]
    for e in entries:
        if e["date"].year != year or e["status"] == "已取消":
            continue
        m = months[e["date"].month - 1]
        m["due"] += 1
        m["done"] += e["status"] == "已实施"
        m["overdue"] += e["status"] == "逾期"
        m["planned"] += e["status"] == "计划"
    return months
