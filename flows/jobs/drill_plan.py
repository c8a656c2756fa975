"""The annual drill plan, generated from the plan register by the work plan's frequencies.

`generate` is pure: given the register rows, the enterprises, the rules (configs/drill_rules.yaml)
and the working-day calendar, it returns the plan's rows; `coverage`, given the drill cases of a
year, what was due and what was done per plan and period. `annual_plan` is the job (2 January and
on demand) that issues the plan as a Word table and keeps its rows for publishing
(`flows.jobs.drill_publish`).
"""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from flows.core.errors import FlowError
from flows.core.validate import parse_model
from flows.core.workdays import WorkCalendar
from flows.documents.filters import suffixed
from flows.service import Service, reports
from flows.service.yaml_files import read_yaml


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Frequency(_Rules):
    per_year: int = Field(ge=0, le=12)
    months: list[int] = []
    drill_kind: str = "实战演练"


class Tabletop(_Rules):
    per_year: int = Field(default=1, ge=0)
    months: list[int] = [3]
    plan_kind: str = "综合应急预案"


class Evacuation(_Rules):
    per_enterprise: int = Field(default=1, ge=0)
    month: int = Field(default=11, ge=1, le=12)


class DrillRules(_Rules):
    frequencies: dict[str, Frequency]
    day_of_month: int = Field(default=15, ge=1, le=28)
    tabletop: Tabletop = Tabletop()
    evacuation: Evacuation = Evacuation()


def load_rules(path: Path) -> DrillRules:
    return parse_model(DrillRules, read_yaml(path), str(path))


def _period(year: int, month: int, per_year: int) -> str:
    if per_year == 2:
        return f"{year}年{'上' if month <= 6 else '下'}半年"
    if per_year == 4:
        return f"{year}年第{(month - 1) // 3 + 1}季度"
    return f"{year}年度"


def _workday_on_or_after(calendar: WorkCalendar, day: date) -> date:
    return day if calendar.is_workday(day) else calendar.add_workdays(day, 1)


def _months(freq_months: list[int], per_year: int) -> list[int]:
    """The configured months, or evenly spread ones when fewer are configured than drills due."""
    months = list(freq_months[:per_year])
    while len(months) < per_year:
        months.append(1 + (12 * len(months)) // per_year)
    return months


def generate(year: int, plans: list[dict], enterprises: list[str], rules: DrillRules,
             calendar: WorkCalendar) -> list[dict]:
    """Rows of the year's plan: one per drill due. `plans` are register rows (name, kind, scenario, owner_unit)."""
    rows: list[dict] = []

    def add(plan_name, plan_kind, drill_kind, scenario, month, owner, per_year):
        planned = _workday_on_or_after(calendar, date(year, month, rules.day_of_month))
        rows.append({"plan_name": plan_name, "plan_kind": plan_kind, "drill_kind": drill_kind,
                     "scenario": scenario or "", "planned_date": planned.isoformat(), "owner_unit": owner,
                     "period": _period(year, month, per_year)})

    for plan in sorted(plans, key=lambda p: (p.get("kind", ""), p.get("name", ""))):
        freq = rules.frequencies.get(plan.get("kind", ""))
        if freq is None or freq.per_year == 0:
            continue
        for month in _months(freq.months, freq.per_year):
            add(plan["name"], plan["kind"], freq.drill_kind, plan.get("scenario"), month,
                plan.get("owner_unit", ""), freq.per_year)
    comprehensive = [p for p in plans if p.get("kind") == rules.tabletop.plan_kind] or plans
    for i, month in enumerate(_months(rules.tabletop.months, rules.tabletop.per_year)):
        plan = comprehensive[i % len(comprehensive)] if comprehensive else {}
        add(plan.get("name", "综合应急预案"), plan.get("kind", rules.tabletop.plan_kind), "桌面推演",
            plan.get("scenario"), month, plan.get("owner_unit", "局安委办"), rules.tabletop.per_year)
    for enterprise in sorted(enterprises):
        for _ in range(rules.evacuation.per_enterprise):
            add(f"{enterprise}全员应急疏散逃生演练", "现场处置方案", "实战演练", "全员应急疏散逃生",
                rules.evacuation.month, enterprise, 1)
    rows.sort(key=lambda r: (r["planned_date"], r["plan_name"]))
    for i, row in enumerate(rows, 1):
        row["seq"] = i
        # "…全员应急疏散逃生演练" already names a drill: not "…演练实战演练"
        row["drill_name"] = f"{suffixed(row['plan_name'], row['drill_kind'])}（{row['period']}）"
    return rows


def coverage(rows: list[dict], drill_cases: list[dict]) -> list[dict]:
    """Per plan and period: drills due by the plan, and drills actually carried out (实施 recorded)."""
    due: dict[tuple[str, str], dict] = {}
    for row in rows:
        key = (row["plan_name"], row["period"])
        entry = due.setdefault(key, {"plan_name": row["plan_name"], "period": row["period"], "due": 0, "done": 0,
                                     "cases": []})
        entry["due"] += 1
    for case in drill_cases:
        data = case.get("data", {})
        key = (data.get("plan_name"), data.get("period"))
        if key not in due:
            continue
        due[key]["cases"].append(case["id"])
        if data.get("executed_date"):
            due[key]["done"] += 1
    return sorted(due.values(), key=lambda e: (e["plan_name"], e["period"]))


# ------------------------------------------------------------------ the job

YEAR_MIN, YEAR_MAX = 2000, 2100


def check_year(value: object) -> int:
    """The year a page or the command line asked for, as an int; refused in Chinese before any job starts."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not YEAR_MIN <= value <= YEAR_MAX:
        shown = str(value if value is not None else "")[:20] or "（空）"
        raise FlowError(f"年度须为 {YEAR_MIN}–{YEAR_MAX} 之间的整数，收到的是「{shown}」")
    return value


def check_params(svc: Service, params: dict | None) -> dict:
    """The parameters of the drill-plan job, checked before they are handed to Prefect."""
    params = dict(params or {})
    if params.get("year") is not None:
        params["year"] = check_year(params["year"])
    return params


def plan_key(year: int) -> str:
    return f"drill-plan-{year}"


def _enterprises(svc: Service) -> list[str]:
    return sorted(u.name for u in svc.config.org.units if u.kind == "enterprise")


def annual_plan(svc: Service, now: datetime, year: int | None = None) -> dict:
    """The year's plan as a Word table, its rows kept with the report for publishing. A plan already
    published is left as it is: its drills are cases now."""
    year = check_year(year) if year is not None else now.year
    existing = reports.get_report(svc, plan_key(year))
    if existing is not None and existing.get("published_at"):
        return {"key": existing["key"], "number": existing["number"], "rows": existing.get("rows", 0),
                "files": [f["file"] for f in existing["files"]], "published_at": existing["published_at"]}
    plans = [r for r in svc.register("plans") if r.get("published")]
    rules = load_rules(svc.config.root / "drill_rules.yaml")
    rows = generate(year, plans, _enterprises(svc), rules, svc.config.calendar)
    record = reports.issue(svc, key=plan_key(year), kind="drill_plan", template="annual_drill_plan",
                           title_values={"year": year}, rows=rows, extra={"year": year}, moment=now,
                           meta={"year": year, "rows": len(rows), "plan_rows": rows})
    return {"key": record["key"], "number": record["number"], "rows": len(rows),
            "files": [f["file"] for f in record["files"]]}
