"""Reading from PostgreSQL: cases, their history, the inbox and the small tables, each a fresh copy.

Every read is one statement on a pooled connection (or one read-only transaction where two must agree),
so it sees every commit acknowledged before it began, from any process on any host. Lists that grow with
the data are read in pages by key (`cases`), so a caller walking every case holds no connection between
pages and never more than a page in memory at once.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from storage._input import RESERVED_TABLES
from storage.errors import NotFound
from storage.pg_rows import dumps

PAGE = 500  # cases per query when walking a list


class PgQueriesMixin:
    """The reading half of `PgStore` (mixed into it: uses its `_conn`)."""

    # ------------------------------------------------------------ cases
    def get_case(self, case_id: str) -> dict | None:
        with self._conn() as conn:
            row = conn.execute("SELECT doc FROM cases WHERE id = %s", (case_id,)).fetchone()
        return row[0] if row else None

    def get_cases(self, case_ids: list[str]) -> list[dict]:
        """The cases of `case_ids` that exist, in that order, in one query (a sweep reads them by the hundred)."""
        with self._conn() as conn:
            found = {r[0]: r[1] for r in conn.execute("SELECT id, doc FROM cases WHERE id = ANY(%s)", (list(case_ids),))}
        return [found[cid] for cid in case_ids if cid in found]

    def history(self, case_id: str) -> list[dict]:
        with self._conn() as conn:
            events = [r[0] for r in conn.execute("SELECT doc FROM events WHERE case_id = %s ORDER BY seq", (case_id,))]
            if not events and conn.execute("SELECT 1 FROM cases WHERE id = %s", (case_id,)).fetchone() is None:
                raise NotFound(f"没有案件 {case_id}")
        return events

    def cases(self, *, workflow: str | None = None, status: str | None = None,
              include_closed: bool = True) -> Iterator[dict]:
        """Open cases first, then closed ones (when `include_closed`), each by id; filtered in the database."""
        statuses = []
        if status != "closed":
            statuses.append("open")
        if include_closed and status != "open":
            statuses.append("closed")
        if status not in (None, "open", "closed"):
            return
        for st in statuses:
            after = ""
            while True:
                sql = "SELECT id, doc FROM cases WHERE status = %s AND id > %s"
                params: list = [st, after]
                if workflow is not None:
                    sql += " AND workflow = %s"
                    params.append(workflow)
                with self._conn() as conn:
                    rows = conn.execute(sql + " ORDER BY id LIMIT %s", [*params, PAGE]).fetchall()
                for _, doc in rows:
                    yield doc
                if len(rows) < PAGE:
                    break
                after = rows[-1][0]

    def open_cases(self) -> Iterator[dict]:
        return self.cases(status="open")

    def cases_due(self, stamp: str) -> list[str]:
        """The ids of the open cases with a deadline still pending whose `due` is at or before `stamp`."""
        with self._conn() as conn:
            rows = conn.execute("SELECT id FROM cases WHERE next_due IS NOT NULL AND next_due <= %s ORDER BY id",
                                (stamp,)).fetchall()
        return [r[0] for r in rows]

    def cases_of_person(self, person: str, kind: str, *, offset: int = 0,
                        limit: int = 20) -> tuple[list[dict], int]:
        """One page of the cases `person` started (kind "started") or acted on ("acted"), the most
        recently changed first, and how many there are in all."""
        if kind not in ("started", "acted"):
            raise ValueError(f"kind must be started or acted, not {kind!r}")
        with self._conn() as conn, conn.transaction():
            total = conn.execute("SELECT count(*) FROM people WHERE person = %s AND kind = %s", (person, kind)).fetchone()[0]
            rows = conn.execute("SELECT c.doc FROM people p JOIN cases c ON c.id = p.case_id "
                                "WHERE p.person = %s AND p.kind = %s ORDER BY p.at DESC, p.case_id DESC "
                                "OFFSET %s LIMIT %s", (person, kind, max(0, offset), max(0, limit))).fetchall()
        return [r[0] for r in rows], int(total)

    def changes(self, since: tuple | None = None) -> tuple[tuple, list[str] | None]:
        """For a reader that keeps its own view of the cases (the search index): a token of now, and the
        ids of the cases changed after the token `since`, by any process. None instead of ids: read
        everything (no token yet, or a token of another database). The token is the database snapshot
        of the read: a case is listed when the transaction that wrote it was not yet visible in the
        earlier snapshot, so a commit that began earlier but ended later is never missed."""
        with self._conn() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            now = conn.execute("SELECT pg_current_snapshot()::text").fetchone()[0]
            token = (self._store_id, now)
            if not (isinstance(since, (tuple, list)) and len(since) == 2 and since[0] == self._store_id
                    and isinstance(since[1], str)):
                return token, None
            rows = conn.execute("SELECT id FROM cases WHERE changed >= pg_snapshot_xmin(%s::pg_snapshot) "
                                "AND NOT pg_visible_in_snapshot(changed, %s::pg_snapshot) ORDER BY id",
                                (since[1], since[1])).fetchall()
        return token, [r[0] for r in rows]

    # ------------------------------------------------------------ inbox
    def inbox(self, *, user: str, roles: dict[str, list[str]] | Iterable[tuple[str, str]],
              limit: int | None = None) -> list[dict]:
        """The user's open tasks, soonest due first (no due date last), then by case id.

        A task matches when it names the user, or names no user and one of the user's roles with
        no unit or the unit of that role. `limit`: only the first so many, read by the index; without
        one, the rows come read-only (`storage._frozen`) from the store's `TaskView`.
        """
        if isinstance(roles, dict):
            units = {role: list(us if isinstance(us, (list, tuple, set)) else [us]) for role, us in roles.items()}
        else:
            units = {}
            for role, unit in roles:
                units.setdefault(role, []).append(unit)
        holders = [dumps(["user", user])]
        for role, role_units in units.items():
            holders.append(dumps(["role", role, None]))  # any unit
            holders.extend(dumps(["role", role, unit]) for unit in role_units)
        if limit is None:  # a whole 待办: from this process's copy of the open tasks, brought up to date
            with self._conn() as conn:
                return self._task_view.inbox(conn, holders, None)
        # one index range per holder, merged in order (Merge Append) and cut at the limit: `holder =
        # ANY(...)` would read every matching task and sort them all for one page
        cut = max(0, limit)
        one = "(SELECT sort_key, id, doc FROM tasks WHERE holder = %s ORDER BY sort_key, id LIMIT %s)"
        sql = f"SELECT doc FROM ({' UNION ALL '.join([one] * len(holders))}) held ORDER BY sort_key, id LIMIT %s"
        with self._conn() as conn:
            rows = conn.execute(sql, [v for h in holders for v in (h, cut)] + [cut]).fetchall()
        return [r[0] for r in rows]

    def tasks_of(self, case_id: str) -> list[dict]:
        """The stored task rows of one open case (what the inbox shows for it), in stored order."""
        with self._conn() as conn:
            return [r[0] for r in conn.execute("SELECT doc FROM tasks WHERE case_id = %s ORDER BY id", (case_id,))]

    # ------------------------------------------------------------ small tables
    def get(self, table: str, key: str) -> dict | None:
        if table in RESERVED_TABLES:
            return None
        with self._conn() as conn:
            row = conn.execute("SELECT doc FROM records WHERE tbl = %s AND key = %s", (table, key)).fetchone()
        return row[0] if row else None

    def all(self, table: str) -> list[dict]:
        return self.select(table, lambda _: True)

    def select(self, table: str, where: Callable[[Mapping[str, Any]], bool]) -> list[dict]:
        """The records of a small table for which `where(record)` holds (in key order)."""
        if table in RESERVED_TABLES:
            return []
        with self._conn() as conn:
            rows = conn.execute("SELECT doc FROM records WHERE tbl = %s ORDER BY key", (table,)).fetchall()
        return [r[0] for r in rows if where(r[0])]

    def versions(self, table: str) -> dict[str, int]:
        """Each record's key and version, without the records: enough to tell whether a table changed."""
        if table in RESERVED_TABLES:
            return {}
        with self._conn() as conn:
            return dict(conn.execute("SELECT key, version FROM records WHERE tbl = %s", (table,)).fetchall())

    def tables(self) -> list[str]:
        """The names of the small tables that hold records (`put`), sorted."""
        with self._conn() as conn:
            return [r[0] for r in conn.execute("SELECT DISTINCT tbl FROM records ORDER BY tbl")]

    def sequences(self) -> dict[str, int]:
        """Every counter by name (`next_sequence`), e.g. {"case:SG:2025": 12}."""
        with self._conn() as conn:
            return {name: int(value) for name, value in conn.execute("SELECT name, value FROM sequences ORDER BY name")}
