"""Accident statistics: 按月汇总、按季度统计、按年度分析 (work plan item 22). Pure: no I/O, no clock.

    Period.parse("2025-03" | "2025-Q1" | "2025")        a month, quarter or year (ValueError in Chinese else)
    due_periods(today)                                  the latest complete month, quarter and year
    select(cases, period)                               accident cases that occurred in the period
    level_of(data, workflow)                            the stored level, else the workflow's rule table's
    table(accidents, workflow=)                         by type × level: count, deaths, serious injuries, loss
    analysis(period, current, previous, last_year)      a short Chinese comparison paragraph
    report(cases, period, workflow=)                    everything a report needs, in one dict
    workbook(report) -> bytes                           the Excel workbook (openpyxl, in memory)

The table's shape is what `configs/templates/accident_statistics.docx` reads: `rows` (one per
accident type) and `totals`, each metric a dict over general/larger/major/especially_major/total.
Direct loss is in 万元 and summed exactly (Decimal), then given as float rounded to 2 places.
The level thresholds are not here: a case carries the `level` its workflow's rule table gave it, and
one without is judged by the accident definition passed in (`workflow`, from flows.jobs.statistics).
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flows.core import scope
from flows.core.spec import Workflow

ACCIDENT_TYPES = ("道路运输", "水上交通", "港口", "工程建设", "城市公交", "其他")
LEVELS = (("一般", "general"), ("较大", "larger"), ("重大", "major"), ("特别重大", "especially_major"))
LEVEL_KEYS = tuple(key for _, key in LEVELS) + ("total",)
LEVEL_FIELD = "level"  # the accident workflow's computed field (its rule table gives the level)
METRICS = (("count", "事故起数（起）"), ("deaths", "死亡人数（人）"), ("serious_injuries", "重伤人数（人）"),
           ("direct_loss", "直接经济损失（万元）"))

_PERIOD = re.compile(r"^(\d{4})(?:-(?:(0?[1-9]|1[0-2])|[Qq]([1-4])))?$")
PERIOD_FORMAT = "统计期格式应为 2025（年度）、2025-Q1（季度）或 2025-03（月份）"
YEARS = (1950, 2100)  # a period outside these years is a typing error


@dataclass(frozen=True, order=True)
class Period:
    """A statistics period: kind is month, quarter or year; number is the month or quarter (0 for a year)."""

    year: int
    kind: str
    number: int = 0

    @classmethod
    def parse(cls, text: str | None) -> Period:
        """The period a person typed, or ValueError with a Chinese reason (checked before any job is
        handed the text: the page says it under the field, the job and the CLI refuse with it)."""
        raw = "" if text is None else str(text).strip()
        if not raw:
            raise ValueError(f"请填写统计期：{PERIOD_FORMAT}")
        m = _PERIOD.match(raw)
        if not m:
            raise ValueError(f"统计期「{raw[:20]}」格式不对：{PERIOD_FORMAT}")
        year = int(m.group(1))
        if not YEARS[0] <= year <= YEARS[1]:
            raise ValueError(f"统计期「{raw[:20]}」的年份应在 {YEARS[0]}–{YEARS[1]} 之间：{PERIOD_FORMAT}")
        if m.group(2):
            return cls(year, "month", int(m.group(2)))
        if m.group(3):
            return cls(year, "quarter", int(m.group(3)))
        return cls(year, "year", 0)

    @property
    def key(self) -> str:
        return {"month": f"{self.year}-{self.number:02d}", "quarter": f"{self.year}-Q{self.number}",
                "year": f"{self.year}"}[self.kind]

    @property
    def label(self) -> str:
        if self.kind == "month":  # each kind's own wording only (a month's number is no quarter's)
            return f"{self.year}年{self.number}月"
        if self.kind == "quarter":
            return f"{self.year}年第{'一二三四'[self.number - 1]}季度"
        return f"{self.year}年"

    @property
    def kind_label(self) -> str:
        return {"month": "月度", "quarter": "季度", "year": "年度"}[self.kind]

    @property
    def start(self) -> date:
        month = {"month": self.number, "quarter": 3 * self.number - 2, "year": 1}[self.kind]
        return date(self.year, month, 1)

    @property
    def end(self) -> date:
        """The first day after the period."""
        months = {"month": 1, "quarter": 3, "year": 12}[self.kind]
        index = self.start.year * 12 + self.start.month - 1 + months
        return date(index // 12, index % 12 + 1, 1)

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end

    def previous(self) -> Period:
        """The period just before (环比)."""
        if self.kind == "year":
            return Period(self.year - 1, "year")
        count = 12 if self.kind == "month" else 4
        if self.number == 1:
            return Period(self.year - 1, self.kind, count)
        return Period(self.year, self.kind, self.number - 1)

    def last_year(self) -> Period:
        """The same period a year before (同比)."""
        return Period(self.year - 1, self.kind, self.number)


def due_periods(today: date) -> list[Period]:
    """The latest complete month, quarter and year on `today` (reports a scheduled run should have)."""
    month = Period(today.year, "month", today.month).previous()
    quarter = Period(today.year, "quarter", (today.month - 1) // 3 + 1).previous()
    return [month, quarter, Period(today.year - 1, "year")]


# ------------------------------------------------------------------ cases → figures

def level_of(data: Mapping[str, Any], workflow: Workflow | None = None) -> str:
    """The accident level: the case's stored `level` (what the workflow's rule table gave when the
    figures were entered), else the `level` rule table of `workflow` (the accident definition) on its
    figures. The thresholds (国务院令第493号) live only in that table, configs/flows/accident.yaml."""
    level = data.get(LEVEL_FIELD)
    if level is None or level == "":
        if workflow is None:
            raise ValueError("案件没有事故等级，且未给出事故流程的定义，无法判定事故等级")
        if not any(c.name == LEVEL_FIELD for c in workflow.computed):
            raise ValueError(f"流程「{workflow.title}」没有事故等级的计算规则（computed: {LEVEL_FIELD}）")
        level = scope.computed(workflow, dict(data))[LEVEL_FIELD]
    if level not in dict(LEVELS):
        raise ValueError(f"事故等级「{level}」不是统计表的等级（{'、'.join(name for name, _ in LEVELS)}）")
    return level


def occurred_on(case: Mapping[str, Any]) -> date | None:
    """The accident's date (its 事故发生时间), falling back to when the case was reported."""
    for value in (case.get("data", {}).get("occurred_at"), case.get("created_at")):
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str) and len(value) >= 10:
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                continue
    return None


def select(cases: Iterable[Mapping[str, Any]], period: Period) -> list[Mapping[str, Any]]:
    """Accident cases whose accident occurred within `period`, in date order."""
    chosen = []
    for case in cases:
        if case.get("workflow", "accident") != "accident":
            continue
        day = occurred_on(case)
        if day is not None and period.contains(day):
            chosen.append(case)
    return sorted(chosen, key=lambda c: (occurred_on(c), c.get("id", "")))


def _number(value: Any) -> Decimal:
    if value is None or value == "" or isinstance(value, bool):
        return Decimal(0)
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return Decimal(0)


def _empty(label: str) -> dict:
    return {"type": label, **{metric: {key: Decimal(0) for key in LEVEL_KEYS} for metric, _ in METRICS}}


def _finish(row: dict) -> dict:
    out = {"type": row["type"]}
    for metric, _ in METRICS:
        if metric == "direct_loss":
            out[metric] = {k: float(v.quantize(Decimal("0.01"))) for k, v in row[metric].items()}
        else:
            out[metric] = {k: int(v) for k, v in row[metric].items()}
    return out


def table(accidents: Iterable[Mapping[str, Any]], types: Iterable[str] = ACCIDENT_TYPES,
          workflow: Workflow | None = None) -> dict:
    """By accident type and level: counts, deaths, serious injuries, direct loss (万元); plus totals.
    `accidents` are case data dicts (or cases: their `data` is used). Every listed type has a row,
    even with nothing in it; an unknown type gets its own row after them. `workflow` (the accident
    definition) judges the level of those without a stored one (`level_of`)."""
    rows = {t: _empty(t) for t in types}
    totals = _empty("合计")
    keys = dict(LEVELS)
    for item in accidents:
        data = item.get("data", item) if isinstance(item.get("data"), Mapping) else item
        kind = str(data.get("accident_type") or "其他")
        try:
            level = keys[level_of(data, workflow)]
        except ValueError as exc:
            raise ValueError(f"案件 {item['id']}：{exc}" if item.get("id") else str(exc)) from None
        row = rows.setdefault(kind, _empty(kind))
        values = {"count": Decimal(1), "deaths": _number(data.get("deaths")),
                  "serious_injuries": _number(data.get("serious_injuries")),
                  "direct_loss": _number(data.get("direct_loss"))}
        for metric, value in values.items():
            for target in (row, totals):
                target[metric][level] += value
                target[metric]["total"] += value
    return {"rows": [_finish(r) for r in rows.values()], "totals": _finish(totals)}


def _change(now: float, before: float, unit: str) -> str:
    diff = now - before
    fmt = (lambda x: f"{x:g}") if unit == "万元" else (lambda x: f"{int(x)}")
    if diff == 0:
        return "持平"
    word = "增加" if diff > 0 else "减少"
    pct = f"，{'上升' if diff > 0 else '下降'}{abs(diff) / before * 100:.1f}%" if before else ""
    return f"{word}{fmt(abs(diff))}{unit}{pct}"


def analysis(period: Period, current: dict, previous: dict | None = None, last_year: dict | None = None) -> str:
    """A short comparison with the previous period (环比) and the same period last year (同比)."""
    t = current["totals"]
    lines = []
    count = t["count"]["total"]
    if count == 0:
        lines.append(f"{period.label}全县交通运输行业未发生生产安全事故。")
    else:
        by_type = sorted((r for r in current["rows"] if r["count"]["total"]), key=lambda r: -r["count"]["total"])
        parts = "、".join(f"{r['type']}{r['count']['total']}起" for r in by_type)
        lines.append(f"从事故类型看，{parts}。")
        worst = next((name for name, key in reversed(LEVELS) if t["count"][key]), None)
        if worst in ("较大", "重大", "特别重大"):
            lines.append(f"发生{worst}及以上等级事故，须按“四不放过”原则严肃调查处理。")
    for label, other in (("与上一统计期相比", previous), ("与上年同期相比", last_year)):
        if other is None:
            continue
        o = other["totals"]
        lines.append(f"{label}，事故起数{_change(count, o['count']['total'], '起')}，死亡人数"
                     f"{_change(t['deaths']['total'], o['deaths']['total'], '人')}，重伤人数"
                     f"{_change(t['serious_injuries']['total'], o['serious_injuries']['total'], '人')}，直接经济损失"
                     f"{_change(t['direct_loss']['total'], o['direct_loss']['total'], '万元')}。")
    return "\n".join(lines)


def report(cases: Iterable[Mapping[str, Any]], period: Period, types: Iterable[str] = ACCIDENT_TYPES,
           workflow: Workflow | None = None) -> dict:
    """Everything one period's report needs: table, comparison figures, analysis and the accident list.
    `workflow` is the accident definition, for the level of cases that carry none (`level_of`)."""
    cases = list(cases)
    types = tuple(types)
    chosen = select(cases, period)
    current = table(chosen, types, workflow)
    previous = table(select(cases, period.previous()), types, workflow)
    last_year = table(select(cases, period.last_year()), types, workflow) if period.kind != "year" else None
    details = [{"id": c.get("id", ""), "date": occurred_on(c).isoformat(), "place": c.get("data", {}).get("place", ""),
                "type": c.get("data", {}).get("accident_type") or "其他", "level": level_of(c.get("data", {}), workflow),
                "deaths": int(_number(c.get("data", {}).get("deaths"))),
                "serious_injuries": int(_number(c.get("data", {}).get("serious_injuries"))),
                "direct_loss": float(_number(c.get("data", {}).get("direct_loss"))),
                "status": "已结案" if c.get("status") == "closed" else "调查处理中"} for c in chosen]
    return {"period": period.key, "label": period.label, "kind": period.kind, "rows": current["rows"],
            "totals": current["totals"], "previous": previous["totals"],
            "last_year": last_year["totals"] if last_year else None,
            "analysis": analysis(period, current, previous, last_year), "accidents": details}


# ------------------------------------------------------------------ Excel

def workbook(rep: dict) -> bytes:
    """The report as an Excel workbook: one sheet per metric (type × level) and the accident list."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    bold = Font(bold=True)
    headers = ["事故类型"] + [name for name, _ in LEVELS] + ["合计"]
    first = True
    for metric, caption in METRICS:
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = caption.split("（")[0]
        ws.append([f"{rep['label']}交通运输安全生产事故统计：{caption}"])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append(headers)
        for row in rep["rows"] + [rep["totals"]]:
            ws.append([row["type"]] + [row[metric][k] for k in LEVEL_KEYS])
        for cell in ws[2] + ws[ws.max_row]:
            cell.font = bold
        ws.column_dimensions["A"].width = 14
        for col in range(2, len(headers) + 1):
            ws.column_dimensions[get_column_letter(col)].width = 12
            for (cell,) in ws.iter_rows(min_row=3, min_col=col, max_col=col):
                cell.alignment = Alignment(horizontal="right")
                if metric == "direct_loss":
                    cell.number_format = "0.00"
    ws = wb.create_sheet("事故明细")
    ws.append(["案件编号", "发生日期", "地点", "事故类型", "事故等级", "死亡（人）", "重伤（人）", "直接经济损失（万元）", "办理状态"])
    for cell in ws[1]:
        cell.font = bold
    for a in rep["accidents"]:
        ws.append([a["id"], a["date"], a["place"], a["type"], a["level"], a["deaths"], a["serious_injuries"],
                   a["direct_loss"], a["status"]])
    for col, width in zip("ABCDEFGHI", (16, 12, 28, 10, 10, 10, 10, 18, 12), strict=True):
        ws.column_dimensions[col].width = width
    ws = wb.create_sheet("分析")
    ws.append(["统计期", rep["label"]])
    for line in rep["analysis"].split("\n"):
        ws.append([line])
    ws.column_dimensions["A"].width = 100
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def statistics_context(period: str, accidents: Iterable[Mapping[str, Any]],
                       types: Iterable[str] = ACCIDENT_TYPES, analysis: str = "",
                       workflow: Workflow | None = None) -> dict:
    """`rows` and `extra` for accident_statistics.docx from the accidents' case data of one period
    (the table itself is `table`, the one the scheduled reports use; `workflow` judges the level of
    accidents that carry none)."""
    figures = table(accidents, types, workflow)
    return {"rows": figures["rows"], "extra": {"period": period, "totals": figures["totals"], "analysis": analysis}}
