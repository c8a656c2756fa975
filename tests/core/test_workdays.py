"""flows.core.workdays: working days with China's 调休, admin overrides and the Monday–Friday fallback."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from flows.core.workdays import CalendarError, WorkCalendar, YearOverride
from flows.service.config import load_calendar

ROOT = Path(__file__).resolve().parents[2]
CAL = WorkCalendar()
D = date.fromisoformat

WARNING_2027 = "2027 年的法定节假日尚未录入，按周一至周五计算工作日，请管理员在 configs/calendar.yaml 中补充。"
ADMIN_2027 = {2027: YearOverride(holidays=frozenset({D("2027-01-01")}), workdays=frozenset())}


def days(first: str, last: str) -> list[date]:
    out, day = [], D(first)
    while day <= D(last):
        out.append(day)
        day += timedelta(days=1)
    return out


# ---------------------------------------------------------------- the package's years

def test_national_day_2024():
    for day in days("2024-10-01", "2024-10-07"):
        assert not CAL.is_workday(day), day
    assert CAL.is_workday(D("2024-09-29"))  # a Sunday worked
    assert CAL.is_workday(D("2024-10-12"))  # a Saturday worked
    assert CAL.is_workday(D("2024-10-08"))
    assert not CAL.is_workday(D("2024-10-13"))  # an ordinary Sunday
    assert CAL.source(2024) == "package"


def test_deadline_across_national_day_2024():
    # submitted on Friday 27 September: Sunday the 29th and Monday the 30th are working days
    assert CAL.add_workdays(D("2024-09-27"), 1) == D("2024-09-29")
    assert CAL.add_workdays(D("2024-09-27"), 2) == D("2024-09-30")
    assert CAL.add_workdays(D("2024-09-27"), 3) == D("2024-10-08")  # the week off is skipped
    assert CAL.add_workdays(D("2024-09-30"), 5) == D("2024-10-12")  # 8, 9, 10, 11, Saturday 12
    assert CAL.add_workdays(D("2024-09-30"), 6) == D("2024-10-14")
    # a plain Monday–Friday rule is wrong twice here
    assert D("2024-09-27") + timedelta(days=3) != CAL.add_workdays(D("2024-09-27"), 1)


def test_spring_festival_2024():
    assert CAL.is_workday(D("2024-02-04"))  # Sunday worked
    assert CAL.is_workday(D("2024-02-18"))  # Sunday worked
    for day in days("2024-02-10", "2024-02-17"):
        assert not CAL.is_workday(day), day
    assert CAL.add_workdays(D("2024-02-08"), 1) == D("2024-02-09")
    assert CAL.add_workdays(D("2024-02-09"), 1) == D("2024-02-18")
    assert CAL.workdays_between(D("2024-02-02"), D("2024-02-19")) == 8  # Sun 4, Mon 5–Fri 9, Sun 18, Mon 19


def test_2026():
    assert CAL.source(2026) == "package"
    assert not CAL.is_workday(D("2026-01-01"))
    assert CAL.is_workday(D("2026-01-04"))  # Sunday worked after 元旦
    for day in days("2026-02-15", "2026-02-23"):
        assert not CAL.is_workday(day), day
    assert CAL.is_workday(D("2026-02-14")) and CAL.is_workday(D("2026-02-28"))
    assert not CAL.is_workday(D("2026-10-01")) and CAL.is_workday(D("2026-10-10"))
    assert CAL.add_workdays(D("2026-09-30"), 1) == D("2026-10-08")
    assert CAL.warnings(D("2026-01-01"), D("2026-12-31")) == []


# ---------------------------------------------------------------- counting rules

def test_add_workdays_rules():
    friday = D("2025-03-07")
    assert CAL.add_workdays(friday, 0) == friday
    assert CAL.add_workdays(friday, 1) == D("2025-03-10")  # start not counted, weekend skipped
    assert CAL.add_workdays(D("2025-03-08"), 1) == D("2025-03-10")  # from a Saturday
    assert CAL.add_workdays(D("2025-03-10"), -1) == friday
    assert CAL.add_workdays(datetime(2025, 3, 7, 18, 0), 1) == D("2025-03-10")


@pytest.mark.parametrize("start", ["2024-09-27", "2024-02-01", "2026-12-20", "2025-12-31"])
@pytest.mark.parametrize("n", [0, 1, 3, 10, 20, 45])
def test_workdays_between_inverts_add_workdays(start, n):
    s = D(start)
    assert CAL.workdays_between(s, CAL.add_workdays(s, n)) == n
    assert CAL.workdays_between(CAL.add_workdays(s, n), s) == -n


def test_workdays_between():
    assert CAL.workdays_between(D("2024-10-01"), D("2024-10-01")) == 0
    assert CAL.workdays_between(D("2024-09-30"), D("2024-10-08")) == 1
    assert CAL.workdays_between(D("2024-09-28"), D("2024-10-12")) == 7  # 29, 30, 8, 9, 10, 11, 12


def test_workdays_between_counts_each_day_across_years_and_sources():
    """The running counts agree with counting day by day: across New Year, over several years, and for
    years from the package, from the admin's file and from the Monday–Friday fallback."""
    cal = WorkCalendar(ADMIN_2027)

    def one_by_one(a, b):
        return sum(cal.is_workday(d) for d in days((a + timedelta(days=1)).isoformat(), b.isoformat()))

    pairs = [(D("2024-12-30"), D("2025-01-03")), (D("2023-02-28"), D("2028-03-01")),
             (D("2026-12-31"), D("2027-01-04")), (D("2028-02-28"), D("2028-03-01")), (D("2025-06-01"), D("2025-06-01"))]
    for a, b in pairs:
        assert cal.workdays_between(a, b) == one_by_one(a, b)
        assert cal.workdays_between(b, a) == -one_by_one(a, b)


def test_due():
    start = datetime(2024, 9, 27, 16, 30)
    assert CAL.due(start, 3, working=False) == datetime(2024, 9, 30, 16, 30)
    assert CAL.due(start, 3, working=True) == datetime(2024, 10, 8, 23, 59, 59)
    assert CAL.due(start, 0, working=True) == datetime(2024, 9, 27, 23, 59, 59)
    # twenty working days from 印发 for 备案: 23–27 Sep (5), Sun 29 (6), 30 (7), 8–11 Oct (11),
    # Sat 12 (12), 14–18 (17), 21, 22, 23 (20)
    assert CAL.due(datetime(2024, 9, 20, 10, 0), 20, working=True) == datetime(2024, 10, 23, 23, 59, 59)
    aware = datetime(2024, 9, 27, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    assert CAL.due(aware, 1, working=True).tzinfo == aware.tzinfo


# ---------------------------------------------------------------- beyond the package: fallback and admin years

def test_deadline_reaching_into_an_unknown_year_falls_back_with_a_warning():
    start = D("2026-12-20")  # a Sunday
    assert CAL.source(2027) == "fallback"
    end = CAL.add_workdays(start, 20)
    # 21–25 and 28–31 December (9), then Monday–Friday in 2027: Fri 1 January counts (10), 4–8 (15), 11–15 (20)
    assert end == D("2027-01-15")
    assert CAL.is_workday(D("2027-01-01"))  # nobody said it is a holiday
    assert CAL.warnings(start, end) == [WARNING_2027]
    assert CAL.warnings(end, start) == [WARNING_2027]
    assert CAL.warnings(D("2026-12-01"), D("2026-12-31")) == []
    assert CAL.due(datetime(2026, 12, 20, 9, 0), 20, working=True) == datetime(2027, 1, 15, 23, 59, 59)


def test_admin_override_changes_the_deadline():
    cal = WorkCalendar(ADMIN_2027)
    assert cal.source(2027) == "admin"
    assert not cal.is_workday(D("2027-01-01"))
    assert cal.add_workdays(D("2026-12-20"), 20) == D("2027-01-18")
    assert cal.warnings(D("2026-12-20"), D("2027-01-18")) == []
    assert cal.warnings(D("2026-12-20"), D("2028-01-05")) == [WARNING_2027.replace("2027", "2028")]


def test_admin_override_of_an_unknown_year_make_up_days_and_weekdays():
    cal = WorkCalendar({2027: YearOverride(holidays=frozenset({D("2027-02-08")}),
                                           workdays=frozenset({D("2027-02-20")}))})
    assert not cal.is_workday(D("2027-02-08"))  # listed holiday (a Monday)
    assert cal.is_workday(D("2027-02-20"))  # listed make-up day (a Saturday)
    assert cal.is_workday(D("2027-02-09"))  # unlisted weekday
    assert not cal.is_workday(D("2027-02-21"))  # unlisted Sunday


def test_admin_override_of_a_package_year_changes_only_the_listed_days():
    cal = WorkCalendar({2024: YearOverride(holidays=frozenset({D("2024-10-08")}), workdays=frozenset())})
    assert cal.source(2024) == "admin"
    assert not cal.is_workday(D("2024-10-08"))
    assert not cal.is_workday(D("2024-10-07"))  # still the package's holiday
    assert cal.is_workday(D("2024-10-12"))  # still the package's make-up day


def test_override_consistency_is_checked():
    with pytest.raises(ValueError, match="同时"):
        WorkCalendar({2027: YearOverride(holidays=frozenset({D("2027-01-01")}), workdays=frozenset({D("2027-01-01")}))})
    with pytest.raises(ValueError, match="不属于"):
        WorkCalendar({2027: YearOverride(holidays=frozenset({D("2028-01-01")}), workdays=frozenset())})


def test_years_before_the_package_fall_back_too():
    assert CAL.source(2003) == "fallback"
    assert CAL.is_workday(D("2003-12-31"))  # a Wednesday


# ---------------------------------------------------------------- the YAML file

def test_shipped_calendar_file_loads():
    cal = load_calendar(ROOT / "configs" / "calendar.yaml")
    assert isinstance(cal, WorkCalendar)
    assert cal.source(2024) == "package"


def test_shipped_example_works_when_uncommented(tmp_path):
    text = (ROOT / "configs" / "calendar.yaml").read_text(encoding="utf-8")
    lines = [line.replace("  # ", "  ", 1) if line.startswith("  # 2027") or line.startswith("  #   ") else line
             for line in text.splitlines()]
    path = tmp_path / "calendar.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cal = load_calendar(path)
    assert cal.source(2027) == "admin"
    assert not cal.is_workday(D("2027-01-01"))


def test_2027_override_loaded_from_yaml(tmp_path):
    path = tmp_path / "calendar.yaml"
    path.write_text(
        "# 管理员录入\n"
        "years:\n"
        "  2027:\n"
        "    note: 示例\n"
        "    holidays: [2027-01-01, '2027-01-02', 2027-01-03]  # 元旦\n"
        "    workdays:\n"
        "      - 2027-01-09\n",
        encoding="utf-8")
    cal = load_calendar(path)
    assert cal.source(2027) == "admin"
    assert cal.overrides[2027].holidays == {D("2027-01-01"), D("2027-01-02"), D("2027-01-03")}
    assert cal.is_workday(D("2027-01-09"))  # a Saturday worked
    assert cal.add_workdays(D("2026-12-20"), 20) == D("2027-01-15")  # 1 Jan off, Saturday 9 Jan on
    assert cal.warnings(D("2026-12-20"), D("2027-01-15")) == []


@pytest.mark.parametrize("text", ["", "years:\n", "# 只有注释\nyears: {}\n", "years:\n  2027:\n    holidays:\n"])
def test_empty_files_are_fine(tmp_path, text):
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    cal = load_calendar(path)
    assert cal.source(2028) == "fallback"


@pytest.mark.parametrize("text, problems", [
    ("years:\n  2027:\n    holidays: [2027-01-01, 2027-01-02, 2027-01-03, 2027-02-30]\n",
     ["years.2027.holidays[3]: 不是有效日期（格式 YYYY-MM-DD）"]),
    ("years:\n  2027:\n    holidays: [元旦]\n    workdays: [20270109]\n",
     ["years.2027.holidays[0]: 不是有效日期（格式 YYYY-MM-DD）",
      "years.2027.workdays[0]: 不是有效日期（格式 YYYY-MM-DD）"]),
    ("years:\n  2027:\n    holidays: [2027-01-01 08:00:00]\n",
     ["years.2027.holidays[0]: 不是有效日期（格式 YYYY-MM-DD）"]),
    ("years:\n  2027:\n    holiday: [2027-01-01]\n", ["years.2027.holiday: 不认识的键"]),
    ("years:\n  二〇二七:\n    holidays: []\n", ["years.二〇二七: 不是有效年份"]),
    ("years:\n  2027:\n    holidays: 2027-01-01\n", ["years.2027.holidays: 须为日期列表"]),
    ("years:\n  2027:\n    holidays: [2028-01-01]\n", ["years.2027.holidays[0]: 2028-01-01 不属于 2027 年"]),
    ("years:\n  2027:\n    holidays: [2027-01-01]\n    workdays: [2027-01-01]\n",
     ["years.2027: 2027-01-01 不能同时列在 holidays 和 workdays 中"]),
    ("years: [2027]\n", ["years: 须为映射"]),
    ("- 2027-01-01\n", ["(根): 须为映射"]),
    ("years:\n  2027:\n    holidays: [2027-01-01\n", ["YAML 语法错误"]),
    ("years:\n\t2027: {}\n", ["YAML 语法错误"]),
])
def test_malformed_files_are_refused_with_every_problem(tmp_path, text, problems):
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError) as exc:
        load_calendar(path)
    found = exc.value.problems
    assert len(found) == len(problems), found
    for message, expected in zip(found, problems, strict=True):
        assert message.startswith(f"{path}: "), message
        assert expected in message, (expected, message)
    assert str(exc.value) == "\n".join(found)


def test_yaml_error_names_the_line(tmp_path):
    path = tmp_path / "calendar.yaml"
    path.write_text("years:\n  2027:\n    holidays: [2027-01-01\n", encoding="utf-8")
    with pytest.raises(CalendarError, match="第 [0-9]+ 行"):
        load_calendar(path)


def test_missing_file(tmp_path):
    with pytest.raises(CalendarError, match="无法读取"):
        load_calendar(tmp_path / "nope.yaml")
