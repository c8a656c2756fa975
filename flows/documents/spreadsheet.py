"""Excel (openpyxl) of a table as the page shows it: Chinese headers in bold, frozen under the title,
dates and times as Excel dates (not text), numbers as numbers, each column as wide as its content.

    xlsx([Sheet("全部案件", ["案件编号", "发起日期"], [["SG-2025-00001", date(2025, 3, 3)]])]) -> bytes

Cell text is written as data, never as a formula: a value a user typed that starts with "=" stays text.
"""
from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["Sheet", "xlsx", "display_width"]

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
_MAX_WIDTH = 60
_SHEET_NAME_BAD = set('[]:*?/\\')


@dataclass
class Sheet:
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str | None = None  # a line above the table: what was filtered, when it was exported
    number_formats: dict[str, str] = field(default_factory=dict)  # column → Excel number format


def display_width(text: str) -> int:
    """Columns the text takes in a spreadsheet: a Chinese character counts two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (bool, int, float, Decimal, date)):
        return value
    if isinstance(value, (list, tuple, set)):
        return "、".join(str(v) for v in value)
    return str(value)


def _sheet_name(title: str, taken: set[str]) -> str:
    name = "".join("_" if ch in _SHEET_NAME_BAD else ch for ch in title).strip("'")[:31] or "Sheet"
    base, n = name, 2
    while name in taken:
        suffix = f"({n})"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


def xlsx(sheets: Sequence[Sheet]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    taken: set[str] = set()
    bold = Font(bold=True)
    for sheet in sheets:
        ws = wb.create_sheet(_sheet_name(sheet.title, taken))
        top = 1
        if sheet.caption:
            ws.cell(row=1, column=1, value=sheet.caption).font = Font(bold=True, size=12)
            top = 2
        widths = [display_width(str(c)) for c in sheet.columns]
        for col, name in enumerate(sheet.columns, 1):
            ws.cell(row=top, column=col, value=str(name)).font = bold
        for r, row in enumerate(sheet.rows, top + 1):
            for col, raw in enumerate(row, 1):
                value = _cell(raw)
                cell = ws.cell(row=r, column=col)
                cell.value = value
                if isinstance(value, str):
                    cell.data_type = TYPE_STRING  # text stays text: "=1+1" typed by a user is no formula
                if isinstance(value, datetime):
                    cell.number_format = DATETIME_FORMAT
                    shown = 16
                elif isinstance(value, date):
                    cell.number_format = DATE_FORMAT
                    shown = 10
                else:
                    shown = display_width("" if value is None else str(value))
                name = sheet.columns[col - 1] if col <= len(sheet.columns) else ""
                if name in sheet.number_formats:
                    cell.number_format = sheet.number_formats[name]
                if col <= len(widths):
                    widths[col - 1] = max(widths[col - 1], shown)
        for col, width in enumerate(widths, 1):
            ws.column_dimensions[get_column_letter(col)].width = min(_MAX_WIDTH, width + 2)
        ws.freeze_panes = ws.cell(row=top + 1, column=1)
    if not sheets:
        wb.create_sheet("Sheet")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
