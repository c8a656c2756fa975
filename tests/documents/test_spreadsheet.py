"""flows.documents.spreadsheet: what the pages export opens in Excel as the page showed it."""
from __future__ import annotations

import io
from datetime import date, datetime

from openpyxl import load_workbook

from flows.documents.spreadsheet import Sheet, display_width, xlsx


def test_headers_dates_numbers_text_and_widths():
    data = xlsx([Sheet("全部案件", ["案件编号", "标题", "发起日期", "更新时间", "死亡（人）", "办理人"],
                       [["SG-2025-00001", "=HYPERLINK(\"http://x\")", date(2025, 3, 3), datetime(2025, 3, 4, 9, 30), 2,
                         ["王强", "李娜"]]],
                       caption="全部案件（筛选：事故调查，已超期）")])
    ws = load_workbook(io.BytesIO(data)).active
    assert ws.title == "全部案件"
    assert ws["A1"].value == "全部案件（筛选：事故调查，已超期）"
    assert [c.value for c in ws[2]] == ["案件编号", "标题", "发起日期", "更新时间", "死亡（人）", "办理人"]
    assert ws["A2"].font.bold
    row = [c.value for c in ws[3]]
    assert row[0] == "SG-2025-00001" and row[1] == "=HYPERLINK(\"http://x\")" and ws["B3"].data_type == "s"
    assert row[2] == datetime(2025, 3, 3) and ws["C3"].number_format == "yyyy-mm-dd"  # a date, not text
    assert row[3] == datetime(2025, 3, 4, 9, 30) and ws["D3"].is_date
    assert row[4] == 2 and row[5] == "王强、李娜"
    assert ws.column_dimensions["B"].width >= display_width('=HYPERLINK("http://x")')
    assert ws.freeze_panes == "A3"


def test_sheet_names_are_made_valid_and_unique():
    wb = load_workbook(io.BytesIO(xlsx([Sheet("a/b", ["x"], []), Sheet("a/b", ["x"], []), Sheet("长" * 40, ["x"], [])])))
    assert wb.sheetnames == ["a_b", "a_b(2)", "长" * 31]


def test_display_width_counts_chinese_twice():
    assert display_width("事故abc") == 7
