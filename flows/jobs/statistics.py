"""事故统计: 按月汇总、按季度统计、按年度分析 (seed item 22), issued as a Word report and an Excel
workbook per period (the figures themselves: `flows.documents.statistics`)."""
from __future__ import annotations

from datetime import datetime

from flows.core.errors import FlowError
from flows.documents import statistics
from flows.service import Service, reports


def accident_statistics(svc: Service, now: datetime, period: str | None = None) -> list[dict]:
    """With `period` (2025-03, 2025-Q1, 2025): that report, regenerated. Without: the latest
    complete month, quarter and year that have no report yet (a missed day catches up the next)."""
    try:
        periods = [statistics.Period.parse(period)] if period else statistics.due_periods(now.date())
    except ValueError as exc:
        raise FlowError(str(exc)) from None
    cases = None
    made = []
    for p in periods:
        key = f"accident-statistics-{p.key}"
        if period is None and reports.get_report(svc, key) is not None:
            continue
        if cases is None:
            cases = list(svc.store.cases(workflow="accident"))
        rep = statistics.report(cases, p)
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
