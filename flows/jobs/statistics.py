"""事故统计: 按月汇总、按季度统计、按年度分析 (seed item 22), issued as a Word report and an Excel
workbook per period (the figures themselves: `flows.documents.statistics`)."""
from __future__ import annotations

from datetime import datetime

from flows.core.errors import FlowError
from flows.documents import statistics
from flows.service import Service, reports


def accident_statistics(svc: Service, now: datetime, period: str | None = None) -> list[dict]:
    """With `period` (2025-03, 2025-Q1, 2025; anything else, empty too, is refused with FlowError
    before anything is read): that report, regenerated. Without (None): the latest
    complete month, quarter and year that have no report yet (a missed day catches up the next).
    Levels are the cases' stored ones; a case without is judged by the accident workflow's own rule
    table (the definition in force), so the thresholds live in configs/flows/accident.yaml only."""
    try:  # a period given is checked first (an empty or mistyped one refuses the run, in Chinese)
        periods = [statistics.Period.parse(period)] if period is not None else statistics.due_periods(now.date())
    except ValueError as exc:
        raise FlowError(str(exc)) from None
    due = [p for p in periods
           if period is not None or reports.get_report(svc, f"accident-statistics-{p.key}") is None]
    if not due:
        return []
    cases = list(svc.store.cases(workflow="accident"))
    definition = svc.definition("accident")
    try:  # every figure first: a case that cannot be counted refuses the run before anything is issued
        reps = [(p, statistics.report(cases, p, workflow=definition)) for p in due]
    except ValueError as exc:
        raise FlowError(f"事故统计无法生成：{exc}") from None
    made = []
    for p, rep in reps:
        key = f"accident-statistics-{p.key}"
        xlsx = statistics.workbook(rep)
        record = reports.issue(
            svc, key=key, kind="accident_statistics", template="accident_statistics",
            title_values={"period": p.label}, rows=rep["rows"],
            extra={"period": p.label, "totals": rep["totals"], "analysis": rep["analysis"]}, moment=now,
            attachments={f"{p.label}事故统计.xlsx": xlsx},
            meta={"period": p.key, "period_kind": p.kind, "accidents": len(rep["accidents"])})
        made.append({"key": key, "period": p.key, "accidents": len(rep["accidents"]),
                     "files": [f["file"] for f in record["files"]]})
    return made
