"""Bulk loading into PostgreSQL: many new cases in one transaction with COPY, for demo and benchmark data
(`PgStore.bulk_load`), and the row writing it shares with the copy of a TinyDB data directory (`pg_copy`)."""
from __future__ import annotations

from collections.abc import Iterable

from storage._chain import link
from storage._seal import SEAL, Sealer
from storage.errors import StorageError
from storage.pg_rows import dumps, next_due, people_rows, task_row, workflow_of
from storage.pg_seals import add, apply_deltas, slot_of


def write_cases(conn, sealer: Sealer, docs: list[dict], events: dict[str, list[dict]],
                tasks: dict[str, list[dict]], deltas: dict[int, str]) -> None:
    """COPY new cases (their documents final: version, history_head, history_len), their chained events,
    the open ones' tasks and the people index; each case's seal goes into `deltas`."""
    with conn.cursor() as cur:
        with cur.copy("COPY cases (id, workflow, status, version, next_due, doc, seal) FROM STDIN") as copy:
            for doc in docs:
                seal = sealer.case(doc)
                add(deltas, slot_of("case", doc["id"]), seal)
                copy.write_row((doc["id"], workflow_of(doc), doc["status"], int(doc["version"]), next_due(doc),
                                dumps(doc), seal))
        with cur.copy("COPY events (case_id, seq, doc) FROM STDIN") as copy:
            for doc in docs:
                for ev in events.get(doc["id"], ()):
                    copy.write_row((doc["id"], int(ev["seq"]), dumps(ev)))
        with cur.copy("COPY tasks (case_id, holder, due, sort_key, doc) FROM STDIN") as copy:
            for doc in docs:
                if doc["status"] == "open":
                    for t in tasks.get(doc["id"], ()):
                        t["case_id"] = doc["id"]
                        copy.write_row(task_row(t))
        with cur.copy("COPY people (person, kind, case_id, at) FROM STDIN") as copy:
            for doc in docs:
                for row in people_rows(doc):
                    copy.write_row(row)


def raise_sequence(conn, sealer: Sealer, name: str, value: int, deltas: dict[int, str]) -> None:
    """Set counter `name` to `value` unless it is there already at that or above."""
    row = conn.execute("SELECT value FROM sequences WHERE name = %s FOR UPDATE", (name,)).fetchone()
    if row is not None and int(row[0]) >= value:
        return
    seal = sealer.seq(name, value)
    slot = slot_of("seq", name)
    add(deltas, slot, seal)
    if row is not None:
        add(deltas, slot, sealer.seq(name, int(row[0])))
    conn.execute("INSERT INTO sequences (name, value, seal) VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE "
                 "SET value = EXCLUDED.value, seal = EXCLUDED.seal", (name, value, seal))


class PgBulkMixin:
    """`PgStore.bulk_load` (mixed into `PgStore`: uses its `_tx`, sealer and key check)."""

    def bulk_load(self, cases: list[dict], events: Iterable[dict] = (), tasks: Iterable[dict] = (),
                  sequences: dict[str, int] | None = None) -> int:
        """Store many *new* cases at once, with their events (in order, each naming its `case_id`),
        the open cases' tasks and counters (raised to at least the given values).

        For generating demo and benchmark data: one transaction (all or nothing), written with COPY.
        Stored cases get version 1 unless they carry a version. The documents are taken as they are
        (JSON data; only the top level is copied). Returns the count.
        """
        docs = [dict(c) for c in cases]
        by_case: dict[str, list[dict]] = {}
        for ev in events:
            by_case.setdefault(ev.get("case_id"), []).append(dict(ev))
        task_rows: dict[str, list[dict]] = {}
        for t in tasks:
            task_rows.setdefault(t.get("case_id"), []).append(dict(t))
        with self._tx() as conn:
            self._check_writable()
            seen = set()  # refused before anything is written
            for doc in docs:
                cid = doc.get("id")
                if not isinstance(cid, str) or doc.get("status") not in ("open", "closed"):
                    raise StorageError(f"批量导入的案件 {cid!r} 缺少编号或状态")
                if cid in seen:
                    raise StorageError(f"案件 {cid} 已存在，不能批量导入")
                seen.add(cid)
            stored = conn.execute("SELECT id FROM cases WHERE id = ANY(%s) ORDER BY id LIMIT 1", (list(seen),)).fetchone()
            if stored:
                raise StorageError(f"案件 {stored[0]} 已存在，不能批量导入")
            unknown = [cid for cid in by_case if cid not in seen]
            if unknown:
                raise StorageError(f"批量导入的事件属于未导入的案件：{', '.join(map(str, unknown[:5]))}")
            for doc in docs:
                doc["version"] = int(doc.get("version") or 1)
                head, n = link(doc["id"], by_case.setdefault(doc["id"], []), "", 0, version=doc["version"])
                doc["history_head"], doc["history_len"] = head, n
                doc.pop(SEAL, None)
            deltas: dict[int, str] = {}
            write_cases(conn, self._sealer, docs, by_case, task_rows, deltas)
            for name, value in (sequences or {}).items():
                raise_sequence(conn, self._sealer, name, int(value), deltas)
            apply_deltas(conn, self._sealer, deltas)
            conn.execute("ANALYZE cases, events, tasks, people")  # the planner's figures, for the queries after it
        return len(docs)
