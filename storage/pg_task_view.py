"""`TaskView`: this process's copy of PostgreSQL's open tasks, for reading a user's whole 待办.

A page of 待办 is one indexed query (`pg_queries.inbox` with a limit) and stays one. A whole 待办 at
300,000 cases is some 25,000 rows, and parsing their JSON alone took 200 ms a read; the view keeps every
open task parsed and read-only (`storage._frozen`), in one sorted list per holder (the inbox order:
`sort_key`, then the row's id), and before each read brings itself up to date from the cases' change
feed, the way the search index does (`PgQueriesMixin.changes`): in one read-only snapshot, the ids of
the cases written since the snapshot of the last read, then those cases' task rows. Every task row is
written in the transaction that writes its case (`PgStore.commit`, bulk loads and copies insert the case
row, whose `changed` is that transaction), so the view is what the query would have returned at that
moment, whoever committed, from whichever host. When nothing changed a read costs one round trip.
The first whole read loads every open task (about a second at 300,000 cases, 30 MB).
"""
from __future__ import annotations

import heapq
import threading
from bisect import bisect_left, insort
from itertools import islice

from storage._frozen import freeze

# (sort_key, row id, the task): sorted by the first two, which are unique per row
Held = tuple[str, int, dict]


class TaskView:
    def __init__(self):
        self._lock = threading.Lock()
        self._snapshot: str | None = None  # of the last read; None: nothing loaded yet
        self._by_case: dict[str, list[tuple[str | None, Held]]] = {}  # case → its rows (holder, row)
        self._by_holder: dict[str | None, list[Held]] = {}

    def inbox(self, conn, holders: list[str], limit: int | None) -> list[dict]:
        """The tasks `holders` hold, in inbox order, at least as new as every commit acknowledged before
        the call; `conn` is a pooled autocommit connection of the store."""
        with self._lock:
            self._catch_up(conn)
            held = [h for h in (self._by_holder.get(holder) for holder in dict.fromkeys(holders)) if h]
            if len(held) == 1:
                rows = held[0] if limit is None else held[0][:limit]
            elif limit is None:
                rows = sorted(r for h in held for r in h)
            else:
                rows = list(islice(heapq.merge(*held), limit))
            return [r[2] for r in rows]

    def _catch_up(self, conn) -> None:
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            now = conn.execute("SELECT pg_current_snapshot()::text").fetchone()[0]
            if self._snapshot is None:
                rows = conn.execute("SELECT case_id, holder, sort_key, id, doc FROM tasks").fetchall()
                self._by_case, self._by_holder = {}, {}
                self._put(rows)
            else:
                changed = [r[0] for r in conn.execute(
                    "SELECT id FROM cases WHERE changed >= pg_snapshot_xmin(%s::pg_snapshot) "
                    "AND NOT pg_visible_in_snapshot(changed, %s::pg_snapshot)", (self._snapshot, self._snapshot))]
                if changed:
                    rows = conn.execute("SELECT case_id, holder, sort_key, id, doc FROM tasks "
                                        "WHERE case_id = ANY(%s)", (changed,)).fetchall()
                    for cid in changed:
                        self._drop(cid)
                    self._put(rows)
            self._snapshot = now

    def _put(self, rows) -> None:
        many = len(rows) > 64  # appended and each list sorted once (a load): not thousands of inserts
        touched = set()
        for cid, holder, sort_key, rid, doc in rows:
            row = (sort_key, rid, freeze(doc))
            self._by_case.setdefault(cid, []).append((holder, row))
            held = self._by_holder.setdefault(holder, [])
            if many:
                held.append(row)
                touched.add(holder)
            else:
                insort(held, row)
        for holder in touched:
            self._by_holder[holder].sort()

    def _drop(self, cid: str) -> None:
        for holder, row in self._by_case.pop(cid, ()):
            rows = self._by_holder[holder]
            del rows[bisect_left(rows, row[:2])]
            if not rows:
                del self._by_holder[holder]
