"""What 全部案件 is asked for: text and filters, as one value the page, its URL and the search share.

A link from any number on 统计 or 台账 to "the cases behind it" is a `CaseQuery` turned into the
query parameters of /cases (`to_params`); the page reads them back (`from_params`), so a link can be
bookmarked or sent to a colleague. A parameter that does not parse is dropped with a message, never
an exception: the URL is typed by anyone.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date

__all__ = ["CaseQuery", "SORTS"]

#: how a result may be sorted: key → label
SORTS = {"updated": "最近更新", "created": "最近发起", "due": "期限最近", "id": "案件编号"}
_MAX_TEXT = 100


@dataclass(frozen=True)
class CaseQuery:
    text: str = ""                # part of the case number, title, an enterprise's name or credit code
    workflow: str | None = None   # the workflow's name (e.g. accident)
    state: str | None = None      # a state name of that workflow; the case is in it now
    unit: str | None = None       # the unit that owns the case
    status: str | None = None     # "open" or "closed"; None: both
    date_from: date | None = None  # started on or after
    date_to: date | None = None    # started on or before
    overdue: bool = False         # open, with a pending deadline already passed
    supervised: bool = False      # 上级挂牌督办 (an accident's `supervised`)
    sort: str = "updated"

    def to_params(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in (None, "", False) or (f.name == "sort" and value == "updated"):
                continue
            out[f.name] = "1" if value is True else value.isoformat() if isinstance(value, date) else str(value)
        return out

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> tuple[CaseQuery, list[str]]:
        """The query a URL asks for, and a Chinese note for each parameter that was dropped."""
        query, problems = cls(), []
        for name, raw in params.items():
            raw = str(raw)
            if name in ("text", "workflow", "state", "unit"):
                query = replace(query, **{name: raw.strip()[:_MAX_TEXT] or (None if name != "text" else "")})
            elif name == "status":
                if raw in ("open", "closed"):
                    query = replace(query, status=raw)
                else:
                    problems.append(f"办理状态「{raw[:20]}」无效，已忽略")
            elif name in ("date_from", "date_to"):
                try:
                    query = replace(query, **{name: date.fromisoformat(raw)})
                except ValueError:
                    problems.append(f"日期「{raw[:20]}」无效（格式 YYYY-MM-DD），已忽略")
            elif name in ("overdue", "supervised"):
                query = replace(query, **{name: raw in ("1", "true", "yes")})
            elif name == "sort":
                if raw in SORTS:
                    query = replace(query, sort=raw)
                else:
                    problems.append(f"排序「{raw[:20]}」无效，已按最近更新排序")
        if query.date_from and query.date_to and query.date_from > query.date_to:
            problems.append("起始日期晚于截止日期，已互换")
            query = replace(query, date_from=query.date_to, date_to=query.date_from)
        return query, problems
