"""Reading: cases, their history, the inbox and the small tables, each handed out as a private copy.

Reads do not hold the write lock: each first catches up with the journal under the in-process mutex
(a stat when nothing changed; the lock only to settle a last line that looks torn). How a query finds its documents (the hot indexes, TinyDB queries over
archive shards) changes here and nowhere else.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain, islice
from typing import Any

from tinydb import Query

from storage._frozen import changeable_copy
from storage._json import deep_copy, public
from storage._layout import partition_of, shard_of
from storage.errors import NotFound

_NOT_SMALL = frozenset({"_meta", "_due", "cases", "tasks", "sequences", "people", "_integrity"})  # hot.json's own tables


class QueriesMixin:
    """The reading half of `Store` (mixed into it: uses its mutex, `_catch_up` and parts)."""

    # ------------------------------------------------------------ cases
    def get_case(self, case_id: str) -> dict | None:
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            return public(self._locate(case_id)[1])

    def get_cases(self, case_ids: list[str]) -> list[dict]:
        """The cases of `case_ids` that exist, in that order."""
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            found = (self._locate(cid)[1] for cid in case_ids)
            return [public(doc) for doc in found if doc is not None]

    def history(self, case_id: str) -> list[dict]:
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            if self._locate(case_id)[1] is None:
                raise NotFound(f"没有案件 {case_id}")
            events: list[dict] = []
            for seg in self._segments_of(partition_of(case_id), shard_of(case_id)):
                seg.load()
                events.extend(seg.by_case.get(case_id, ()))
            events.sort(key=lambda e: e.get("seq", 0))
            return [deep_copy(e) for e in events]

    def cases(self, *, workflow: str | None = None, status: str | None = None,
              include_closed: bool = True) -> Iterator[dict]:
        def keep(doc: dict) -> bool:
            return (workflow is None or doc.get("workflow") == workflow) and \
                (status is None or doc.get("status") == status)

        q = Query()
        cond = None
        if workflow is not None:
            cond = q.workflow == workflow
        if status is not None:
            cond = (q.status == status) if cond is None else cond & (q.status == status)
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            hot = [d for d in self._open_cases() if keep(d)] if status != "closed" else []
            shards = self._archive_parts() if include_closed and status != "open" else []
        for doc in hot:
            yield public(doc)
        for part in shards:
            with self._mutex:
                part.load()
                # a TinyDB query over the shard (its storage is the part's memory)
                table = part.table("cases")
                found = table.search(cond) if cond is not None else table.all()
            for doc in found:
                yield public(dict(doc))

    def cases_of_person(self, person: str, kind: str, *, offset: int = 0,
                        limit: int = 20) -> tuple[list[dict], int]:
        """One page of the cases `person` started (kind "started") or acted on ("acted"), the most
        recently changed first, and how many there are in all. Reads only the page's cases."""
        if kind not in ("started", "acted"):
            raise ValueError(f"kind must be started or acted, not {kind!r}")
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            stamps = self._person(person).people_stamps(person, kind)
            order = sorted(stamps, key=lambda cid: (stamps[cid], cid), reverse=True)
            page = [self._locate(cid)[1] for cid in order[max(0, offset):max(0, offset) + max(0, limit)]]
            return [public(doc) for doc in page if doc is not None], len(order)

    def changes(self, since: tuple[int, int] | None = None) -> tuple[tuple[int, int], list[str] | None]:
        """For a reader that keeps its own view of the cases (the search index): a token of now, and
        the ids of the cases changed after the token `since`, by any process. None instead of ids:
        anything may have changed (no token yet, or the files were loaded again): read everything."""
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            token = (self._loads, self._lsn)
            if since is None or since[0] != self._loads:
                return token, None
            return token, [cid for cid, lsn in self._touched.items() if lsn > since[1]]

    def open_cases(self) -> Iterator[dict]:
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            docs = self._open_cases()
        for doc in docs:
            yield public(doc)

    def _open_cases(self) -> list[dict]:
        """Every open case as stored (under the mutex): the open shards are loaded, and stay loaded (the
        cases at work, which a process that lists them once lists again)."""
        docs: list[dict] = []
        for part in self._open_parts():
            part.load()
            docs.extend(part.tables.get("cases", {}).values())
        return docs

    def cases_due(self, stamp: str) -> list[str]:
        """The ids of the open cases with a deadline still pending whose `due` is at or before `stamp`
        (ISO text), by id: what a sweep acts on, found without reading every open case."""
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            return sorted(cid for cid, due in self.hot.case_due.items() if due <= stamp)

    # ------------------------------------------------------------ inbox
    def inbox(self, *, user: str, roles: dict[str, list[str]] | Iterable[tuple[str, str]],
              limit: int | None = None) -> list[dict]:
        """The user's open tasks, soonest due first (no due date last), then by case id.

        A task matches when it names the user, or names no user and one of the user's roles with
        no unit or the unit of that role. `limit`: only the first so many. The rows are the Store's
        own, read-only (`storage._frozen`): copy one to change it.
        """
        if isinstance(roles, dict):
            units = {role: set(us if isinstance(us, (list, tuple, set)) else [us]) for role, us in roles.items()}
        else:
            units = {}
            for role, unit in roles:
                units.setdefault(role, set()).add(unit)
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            hot = self.hot
            keys = {(role, None) for role in units} | {(role, u) for role, us in units.items() for u in us}
            held = [hot.task_by_role.get(key) for key in keys] + [hot.task_by_user.get(user)]
            held = [h for h in held if h]
            n = None if limit is None else max(0, limit)
            if len(held) == 1:
                page = held[0] if n is None else held[0][:n]
            elif n is None:
                page = sorted(chain.from_iterable(held))  # sorted runs: merged, not sorted again
            else:
                page = list(islice(heapq.merge(*held), n))
            return hot.task_rows(did for _, did in page)

    # ------------------------------------------------------------ small tables
    def get(self, table: str, key: str) -> dict | None:
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            return public(self.hot.get_doc(table, key))

    def all(self, table: str) -> list[dict]:
        return self.select(table, lambda _: True)

    def select(self, table: str, where: Callable[[Mapping[str, Any]], bool]) -> list[dict]:
        """The records of a small table for which `where(record)` holds, copied. `where` is shown each
        stored record as it is (it must not change it): only the records it keeps are copied, so a
        person's few messages are found among many without copying all of them."""
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            if table == "_meta":
                return []
            return [public(d) for d in self.hot.tables.get(table, {}).values() if where(d)]

    def versions(self, table: str) -> dict[str, int]:
        """Each record's key and version, without the records: enough to tell whether a table changed."""
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            if table == "_meta":
                return {}
            return {d["_key"]: d["_version"] for d in self.hot.tables.get(table, {}).values()}

    def tables(self) -> list[str]:
        """The names of the small tables that hold records (`put`), sorted."""
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            return sorted(t for t, docs in self.hot.tables.items() if docs and t not in _NOT_SMALL)

    def sequences(self) -> dict[str, int]:
        """Every counter by name (`next_sequence`), e.g. {"case:SG:2025": 12}."""
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            return {d["_key"]: d["value"] for d in self.hot.tables.get("sequences", {}).values()}

    def tasks_of(self, case_id: str) -> list[dict]:
        """The stored task rows of one open case (what the inbox shows for it), in stored order: copies,
        to change at will (the inbox hands out the read-only rows themselves)."""
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            tasks = self.hot.tables.get("tasks", {})
            return [changeable_copy(tasks[did]) for did in self.hot.task_by_case.get(case_id, ()) if did in tasks]
