"""When an open case next needs the sweep: the earliest `due` of its pending deadlines.

Both backends index open cases by it (the TinyDB store in memory, PostgreSQL in the column
`cases.next_due`), so a sweep reads only the cases with something due, not every open case."""
from __future__ import annotations


def earliest_due(case: dict) -> str | None:
    """The earliest `due` among the case's `deadlines` still `pending` (ISO text), or None."""
    dues = [d["due"] for d in case.get("deadlines") or () if type(d) is dict and d.get("status") == "pending"
            and isinstance(d.get("due"), str) and d["due"]]
    return min(dues) if dues else None
