"""Moments as cases keep them: ISO text to the second, read back from text, dates or datetimes."""
from __future__ import annotations

from datetime import date, datetime

ISO = "%Y-%m-%dT%H:%M:%S"


def iso(moment: datetime) -> str:
    return moment.strftime(ISO)


def parse_moment(value: str | date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value)
    return datetime.fromisoformat(text) if "T" in text or " " in text else datetime.fromisoformat(text + "T00:00:00")
