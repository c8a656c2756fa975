"""Working days (工作日) with China's moved weekends (调休).

Where a day's status comes from, for each year:

- ``admin``: the year has an entry in ``configs/calendar.yaml``. Its ``holidays``
  are days off, its ``workdays`` are make-up working days (a Saturday or Sunday
  worked in exchange). Every other day of that year comes from the package if the
  package knows the year, else from Monday–Friday. (So an admin may correct a
  single day of a known year without re-typing the whole year.)
- ``package``: the maintained package ``chinese_calendar`` (1.11.0 knows 2004–2026
  and raises ``NotImplementedError`` for other years; newer releases know more).
- ``fallback``: nobody knows the year: Monday–Friday are working days. Callers
  show ``WorkCalendar.warnings`` so the office sees it plainly.

Everything here is pure: ``flows.service.config`` reads the YAML file and calls ``calendar_from_data``.
No clock: every date comes in as an argument.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

__all__ = ["YearOverride", "WorkCalendar", "CalendarError", "calendar_from_data", "END_OF_DAY"]

Source = Literal["package", "admin", "fallback"]

END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True)
class YearOverride:
    """One year entered by an admin: days off, and make-up working days."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)


@cache
def _package_knows(year: int) -> bool:
    import chinese_calendar  # ~30 ms to import: only once a day's kind is asked

    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _fallback_warning(year: int) -> str:
    return (f"{year} 年的法定节假日尚未录入，按周一至周五计算工作日，"
            "请管理员在 configs/calendar.yaml 中补充。")


class WorkCalendar:
    """Which days are working days. Pure: built from data (the overrides), no I/O."""

    def __init__(self, overrides: Mapping[int, YearOverride] | None = None):
        self._overrides: dict[int, YearOverride] = {}
        for year, override in (overrides or {}).items():
            both = override.holidays & override.workdays
            if both:
                raise ValueError(f"{year} 年：{min(both).isoformat()} 不能同时是节假日和调休工作日")
            stray = [d for d in override.holidays | override.workdays if d.year != year]
            if stray:
                raise ValueError(f"{year} 年：{min(stray).isoformat()} 不属于该年")
            self._overrides[int(year)] = override
        # Per-year running counts of working days, built on first use: a deadline's "days left" on a
        # page of 待办 is then two lookups, not a walk through the calendar one day at a time.
        self._running: dict[int, list[int]] = {}

    @property
    def overrides(self) -> Mapping[int, YearOverride]:
        return dict(self._overrides)

    def source(self, year: int) -> Source:
        if year in self._overrides:
            return "admin"
        if _package_knows(year):
            return "package"
        return "fallback"

    def is_workday(self, d: date) -> bool:
        if isinstance(d, datetime):
            d = d.date()
        override = self._overrides.get(d.year)
        if override is not None:
            if d in override.workdays:
                return True
            if d in override.holidays:
                return False
        if _package_knows(d.year):
            import chinese_calendar

            return chinese_calendar.is_workday(d)
        return d.weekday() < 5

    def add_workdays(self, start: date, n: int) -> date:
        """The n-th working day after `start` (start itself is not counted); n = 0 gives `start`.

        A negative n counts backwards: the |n|-th working day before `start`.
        """
        if isinstance(start, datetime):
            start = start.date()
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        day = start
        while remaining:
            day += step
            if self.is_workday(day):
                remaining -= 1
        return day

    def workdays_between(self, a: date, b: date) -> int:
        """Working days in (a, b]: after a, up to and including b; negative when b < a.

        The inverse of add_workdays: ``workdays_between(a, add_workdays(a, n)) == n``.
        """
        if isinstance(a, datetime):
            a = a.date()
        if isinstance(b, datetime):
            b = b.date()
        if b < a:
            return -self.workdays_between(b, a)
        if a.year == b.year:
            return self._through(b) - self._through(a)
        count = self._running_counts(a.year)[-1] - self._through(a) + self._through(b)
        for year in range(a.year + 1, b.year):
            count += self._running_counts(year)[-1]
        return count

    def _running_counts(self, year: int) -> list[int]:
        """counts[k]: working days among the first k days of `year`."""
        counts = self._running.get(year)
        if counts is None:
            counts, day, total = [0], date(year, 1, 1), 0
            while day.year == year:
                total += self.is_workday(day)
                counts.append(total)
                day += timedelta(days=1)
            self._running[year] = counts
        return counts

    def _through(self, d: date) -> int:
        """Working days from 1 January of d's year up to and including d."""
        return self._running_counts(d.year)[d.timetuple().tm_yday]

    def due(self, start: datetime, days: int, working: bool) -> datetime:
        """A deadline `days` after `start`.

        - calendar days (working=False): exactly ``start + days`` (same time of day).
        - working days (working=True): the end (23:59:59) of the `days`-th working day
          after the date of `start`; the start day itself never counts, whatever the
          hour (a thing received on Friday afternoon with 1 working day is due at
          the end of Monday). ``days = 0`` gives the end of the start's own day.
          The time zone of `start`, if any, is kept.
        """
        if not isinstance(start, datetime):
            start = datetime.combine(start, time())
        if not working:
            return start + timedelta(days=days)
        day = self.add_workdays(start.date(), days)
        return datetime.combine(day, END_OF_DAY, tzinfo=start.tzinfo)

    def fallback_years(self, start: date, end: date) -> list[int]:
        if start > end:
            start, end = end, start
        return [y for y in range(start.year, end.year + 1) if self.source(y) == "fallback"]

    def warnings(self, start: date, end: date) -> list[str]:
        """One Chinese warning for each year between start and end (inclusive) nobody has entered."""
        return [_fallback_warning(y) for y in self.fallback_years(start, end)]


# ---------------------------------------------------------------- the admin's file

class CalendarError(ValueError):
    """configs/calendar.yaml was refused; `problems` lists every error as `file: path: message`."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _to_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise PydanticCustomError("date", "不是有效日期（格式 YYYY-MM-DD）")


def _to_year(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 1900 <= value <= 2999:
        return value
    if isinstance(value, str) and value.strip().isdigit() and 1900 <= int(value) <= 2999:
        return int(value)
    raise PydanticCustomError("year", "不是有效年份")


def _to_list(value: Any) -> Any:
    return [] if value is None else value  # "holidays:" left empty


_Day = Annotated[date, BeforeValidator(_to_date)]
_Year = Annotated[int, BeforeValidator(_to_year)]


class _YearModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    holidays: Annotated[list[_Day], BeforeValidator(_to_list)] = []
    workdays: Annotated[list[_Day], BeforeValidator(_to_list)] = []
    note: str | None = None  # e.g. 国办发明电〔2026〕x号


class _CalendarModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    years: Annotated[dict[_Year, _YearModel], BeforeValidator(lambda v: {} if v is None else v)] = {}


_MESSAGES = {
    "extra_forbidden": "不认识的键（拼写错误？应为 holidays / workdays / note）",
    "list_type": "须为日期列表，如 [2027-01-01, 2027-01-02]",
    "dict_type": "须为映射（键: 值）",
    "model_type": "须为映射（键: 值）",
    "string_type": "须为文字",
}


def _path(loc: tuple) -> str:
    out = ""
    for i, part in enumerate(loc):
        if part in ("[key]",):
            continue
        if isinstance(part, int) and i > 0 and loc[i - 1] != "years":
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(根)"


def calendar_from_data(data: Any, source: str = "calendar.yaml") -> WorkCalendar:
    """Validate already-loaded YAML data (pure); raises CalendarError listing every problem."""
    if data is None:
        data = {}
    try:
        model = _CalendarModel.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"] if err["type"] in ("date", "year") else _MESSAGES.get(err["type"], err["msg"])
            problems.append(f"{source}: {_path(err['loc'])}: {message}")
        raise CalendarError(problems) from None
    problems = []
    overrides: dict[int, YearOverride] = {}
    for year, entry in model.years.items():
        for kind in ("holidays", "workdays"):
            for i, day in enumerate(getattr(entry, kind)):
                if day.year != year:
                    problems.append(f"{source}: years.{year}.{kind}[{i}]: {day.isoformat()} 不属于 {year} 年")
        for day in sorted(set(entry.holidays) & set(entry.workdays)):
            problems.append(f"{source}: years.{year}: {day.isoformat()} 不能同时列在 holidays 和 workdays 中")
        overrides[year] = YearOverride(holidays=frozenset(entry.holidays), workdays=frozenset(entry.workdays))
    if problems:
        raise CalendarError(problems)
    return WorkCalendar(overrides)
