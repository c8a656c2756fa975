"""Where a storage test's store lives, for either backend (not a test module).

A `Place` is a TinyDB data directory, or a PostgreSQL database with the host's local data directory.
`open()` opens a store on it (as many as a test wants: several processes on one place); `crash(store)`
drops one without closing it properly; the edits below change the stored data the way someone with
write access to the files or to the database, but without the seal key, could (after the test closed
its stores), so the tamper tests run the same on both backends.
"""
from __future__ import annotations

import json
from pathlib import Path

from storage import Store

PG = "postgres"
TINYDB = "tinydb"


class Place:
    def __init__(self, kind: str, data_dir: Path, url: str | None = None):
        self.kind = kind
        self.data_dir = Path(data_dir)
        self.url = url

    def __repr__(self) -> str:
        return f"Place({self.kind})"

    @property
    def pg(self) -> bool:
        return self.kind == PG

    def open(self, data_dir: Path | None = None, **options):
        """A store on this place; `checkpoint_every` only means something to the TinyDB files. `data_dir`:
        another host's working directory on the same database (PostgreSQL only)."""
        if self.pg:
            from storage.pg_store import PgStore

            return PgStore(self.url, data_dir or self.data_dir, seal_key=options.get("seal_key"))
        return Store(self.data_dir, **options)

    def crash(self, store) -> None:
        """The process holding `store` dies: the TinyDB store's files are closed without a checkpoint; a
        PostgreSQL client's connections are simply gone (nothing of ours is left to write)."""
        if self.pg:
            store._closed = True
            store._pool.close(timeout=0)
        else:
            store._close_files()

    # ------------------------------------------------------------ PostgreSQL
    def sql(self, statement: str, params=()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("SET search_path TO safety")
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def snapshot(self) -> dict:
        """Everything stored, to tell that nothing was written."""
        if self.pg:
            tables = ["cases", "events", "tasks", "sequences", "records", "people", "seal_slots", "files", "meta"]
            return {t: self.sql(f"SELECT row_to_json(x)::text FROM {t} x ORDER BY 1") for t in tables}
        return {p: p.read_bytes() for p in sorted(self.data_dir.rglob("*")) if p.is_file() and p.name != ".lock"}

    # ------------------------------------------------------------ edits from outside the program
    def _tinydb_case_files(self) -> list[Path]:
        return [*sorted(self.data_dir.glob("open/*/*.json")), *sorted(self.data_dir.glob("archive/*/*.json"))]

    def _segments(self) -> list[Path]:
        return sorted(self.data_dir.glob("history/*/*.json"))

    def stored_case(self, cid: str) -> dict:
        """The case as stored (in the TinyDB files: with its seal)."""
        if self.pg:
            return self.sql("SELECT doc FROM cases WHERE id = %s", (cid,))[0][0]
        for path in self._tinydb_case_files():
            for doc in _load(path).get("cases", {}).values():
                if doc["id"] == cid:
                    return doc
        raise KeyError(cid)

    def edit_case(self, cid: str, change) -> None:
        """`change(doc)` edits the stored case in place."""
        if self.pg:
            [(doc,)] = self.sql("SELECT doc FROM cases WHERE id = %s", (cid,))
            change(doc)
            self.sql("UPDATE cases SET doc = %s::json WHERE id = %s", (json.dumps(doc, ensure_ascii=False), cid))
            return
        for path in self._tinydb_case_files():
            tables = _load(path)
            for doc in tables.get("cases", {}).values():
                if doc["id"] == cid:
                    change(doc)
                    _save(path, tables)
                    return
        raise KeyError(cid)

    def events(self, cid: str) -> list[dict]:
        if self.pg:
            return [r[0] for r in self.sql("SELECT doc FROM events WHERE case_id = %s ORDER BY seq", (cid,))]
        found = [e for path in self._segments() for e in _load(path).get("events", {}).values() if e["case_id"] == cid]
        return sorted(found, key=lambda e: e["seq"])

    def set_events(self, cid: str, events: list[dict]) -> None:
        """The case's stored history replaced by `events` (as given: numbers and hashes untouched)."""
        if self.pg:
            self.sql("DELETE FROM events WHERE case_id = %s", (cid,))
            for ev in events:
                self.sql("INSERT INTO events (case_id, seq, doc) VALUES (%s, %s, %s::json)",
                         (cid, ev["seq"], json.dumps(ev, ensure_ascii=False)))
            return
        target = None
        for path in self._segments():
            tables = _load(path)
            table = tables.get("events", {})
            kept = {k: e for k, e in table.items() if e["case_id"] != cid}
            if len(kept) != len(table):
                target = target or path
                tables["events"] = kept
                _save(path, tables)
        target = target or self._segments()[-1]
        tables = _load(target)
        for i, ev in enumerate(events):
            tables.setdefault("events", {})[str(1_000_000 + i)] = ev
        _save(target, tables)

    def delete_case(self, cid: str) -> None:
        """The case record and its history removed."""
        self.set_events(cid, [])
        if self.pg:
            self.sql("DELETE FROM cases WHERE id = %s", (cid,))
            return
        for path in self._tinydb_case_files():
            tables = _load(path)
            cases = tables.get("cases", {})
            kept = {k: d for k, d in cases.items() if d["id"] != cid}
            if len(kept) != len(cases):
                tables["cases"] = kept
                _save(path, tables)

    def saved_case(self, cid: str):
        """What restoring needs to put the case back as it is now (record, seal and history)."""
        if self.pg:
            return cid, self.sql("SELECT doc, seal, version FROM cases WHERE id = %s", (cid,))[0], self.events(cid)
        return cid, self.stored_case(cid), self.events(cid)

    def restore_case(self, saved) -> None:
        """An older copy of a case, validly sealed when it was written, put back with its shorter history."""
        cid, record, events = saved
        if self.pg:
            doc, seal, version = record
            self.sql("UPDATE cases SET doc = %s::json, seal = %s, version = %s WHERE id = %s",
                     (json.dumps(doc, ensure_ascii=False), seal, version, cid))
        else:
            def put_back(doc):
                doc.clear()
                doc.update(record)
            self.edit_case(cid, put_back)
        self.set_events(cid, events)

    def set_counter(self, name: str, value: int) -> None:
        if self.pg:
            self.sql("UPDATE sequences SET value = %s WHERE name = %s", (value, name))
            return
        tables = _load(self.data_dir / "hot.json")
        next(d for d in tables["sequences"].values() if d["_key"] == name)["value"] = value
        _save(self.data_dir / "hot.json", tables)

    def edit_record(self, table: str, key: str, change) -> None:
        if self.pg:
            [(doc,)] = self.sql("SELECT doc FROM records WHERE tbl = %s AND key = %s", (table, key))
            change(doc)
            self.sql("UPDATE records SET doc = %s::json WHERE tbl = %s AND key = %s",
                     (json.dumps(doc, ensure_ascii=False), table, key))
            return
        tables = _load(self.data_dir / "hot.json")
        change(next(d for d in tables[table].values() if d["_key"] == key))
        _save(self.data_dir / "hot.json", tables)


def _load(path: Path) -> dict:
    return json.loads(path.read_bytes())


def _save(path: Path, tables: dict) -> None:
    path.write_bytes(json.dumps(tables, ensure_ascii=False, separators=(",", ":")).encode())
