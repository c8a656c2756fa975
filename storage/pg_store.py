"""`PgStore`: the storage interface on PostgreSQL (psycopg 3), for several app and worker hosts on one database.

The same interface and guarantees as the TinyDB `Store` (`storage.store`), by other means:

* A commit is one transaction: the case row (locked with ``SELECT … FOR UPDATE``), its new events, its
  task rows, the people index and its seal group (`pg_seals`) change together or not at all.
  Acknowledged = COMMIT returned, which with PostgreSQL's defaults (``synchronous_commit = on``,
  ``fsync = on``; `verify` names either when off) means the commit is in the server's fsynced WAL.
* Optimistic per-case versions: the version the caller read is compared with the locked row's, so a
  stale write raises `ConflictError` and is never lost, in any process on any host. Creating a case
  that another transaction creates at the same moment is a conflict too (``ON CONFLICT DO NOTHING``).
* The hash chain per case is the TinyDB store's (`storage._chain.link`): both backends make identical
  chains, and `python -m flows storage copy` moves one into the other with every hash kept.
* Seals: the same HMAC seals under the key outside the database (`storage._seal`), and the sealed XOR
  of all of them per group of rows (`pg_seals`): someone who can write the database but not read the key
  cannot edit, add, delete or put back an older copy of a row without `verify` naming it.
* The schema has a version and a migration per version (`pg_schema`), run on opening.
* Documents and attachments are kept in the database too (`pg_files`), with a cache under the local
  data directory (``files/``), so hosts share no file system.

The connections come from a pool (`psycopg_pool`, checked as `pg_pool_check` says), in autocommit
mode: one statement reads at a time, a write opens a transaction. The store is safe to share between
threads. Reading lives in `pg_queries` (a whole 待办 in `pg_task_view`), the verify walk in `pg_verify`,
bulk loading in `pg_bulk`, the copy from a TinyDB data directory in `pg_copy`.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from storage import pg_seals as seals
from storage._chain import link
from storage._input import case_input, new_records_input, record_input
from storage._seal import Sealer, key_path, load_key, xor
from storage.errors import ConflictError, StorageError
from storage.pg_bulk import PgBulkMixin
from storage.pg_files import PgFilesMixin
from storage.pg_pool_check import CheapCheck
from storage.pg_queries import PgQueriesMixin
from storage.pg_rows import dumps, masked, next_due, people_rows, task_columns, workflow_of
from storage.pg_schema import migrate, use_schema
from storage.pg_seals import initial_rows, slot_of
from storage.pg_task_view import TaskView
from storage.pg_verify import PgVerifyMixin

# A commit's writes after its reads, one statement (data-modifying CTEs), so the second round trip
# carries it and COMMIT, not a statement per table. Each table's rows are one JSON list, which may be
# empty (json_array_elements): in pipeline mode each executemany ends in a sync of its own, and text[]
# parameters escape every quote of the JSON in Python.
_CASE_ROWS_CTES = (
    "ev AS (INSERT INTO events (case_id, seq, doc) SELECT %(id)s, (e ->> 'seq')::int, e "
    "FROM json_array_elements(%(events)s::json) AS e), "
    "gone AS (DELETE FROM tasks WHERE case_id = %(id)s AND %(clear)s), "  # sees the old rows only
    "tk AS (INSERT INTO tasks (case_id, holder, due, sort_key, doc) SELECT %(id)s, r ->> 0, r ->> 1, r ->> 2, r -> 3 "
    "FROM json_array_elements(%(tasks)s::json) WITH ORDINALITY AS t(r, n) ORDER BY n), "
    "pp AS (INSERT INTO people (person, kind, case_id, at) SELECT r ->> 0, r ->> 1, %(id)s, r ->> 2 "
    "FROM json_array_elements(%(people)s::json) AS r ON CONFLICT (person, kind, case_id) DO UPDATE SET at = EXCLUDED.at), "
    "sl AS (INSERT INTO seal_slots (slot, digest, seal) SELECT (r ->> 0)::int, r ->> 1, r ->> 2 "
    "FROM json_array_elements(%(seals)s::json) AS r ON CONFLICT (slot) DO UPDATE "
    "SET digest = EXCLUDED.digest, seal = EXCLUDED.seal) "
    "SELECT 1")
_CASE_ROWS = "WITH " + _CASE_ROWS_CTES
_UPDATE_CASE_AND_ROWS = (
    "WITH cs AS (UPDATE cases SET workflow = %(workflow)s, status = %(status)s, version = %(version)s, "
    "next_due = %(next_due)s, doc = %(doc)s::json, seal = %(seal)s, changed = pg_current_xact_id() "
    "WHERE id = %(id)s), " + _CASE_ROWS_CTES)

POOL_SIZE = 8  # connections per process at most (the app's sessions share them)
CONNECT_TIMEOUT = 10  # seconds, unless the URL says otherwise


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class PgStore(PgQueriesMixin, PgVerifyMixin, PgFilesMixin, PgBulkMixin):
    """The case data in a PostgreSQL database; `data_dir` is this host's working directory (the files'
    cache: `files/`). Safe to share between threads, processes and hosts."""

    def __init__(self, url: str, data_dir: str | Path, *, seal_key: bytes | None = None, pool_size: int = POOL_SIZE):
        """`seal_key`: the 32-byte key of the seals (default: read from `storage._seal.key_path()`, made
        there on first use)."""
        self.url = url
        self.dir = Path(data_dir)
        self.where = f"数据库 {masked(url)} "
        self.seal_key_file = None if seal_key is not None else key_path()
        self._sealer = Sealer(seal_key if seal_key is not None else load_key(self.seal_key_file))
        self._closed = False
        self._pool = None
        self._grouped = threading.local()  # .depth: how many `grouped_commits` blocks this thread is in
        self._task_view = TaskView()  # whole 待办 lists, loaded on the first
        self._init_files()
        self.dir.mkdir(parents=True, exist_ok=True)
        kwargs = {"autocommit": True}
        if "connect_timeout" not in conninfo_to_dict(url):
            kwargs["connect_timeout"] = CONNECT_TIMEOUT
        try:
            with psycopg.connect(url, **kwargs) as conn:
                migrate(conn, where=self.where)
                use_schema(conn)
                self._store_id, self._key_ok = self._prepare(conn)
        except psycopg.Error as exc:
            raise StorageError(f"无法打开{self.where}：{_reason(exc)}") from None
        checking = CheapCheck()  # a round trip only for a connection that may have gone bad (pg_pool_check)
        self._pool = ConnectionPool(url, min_size=1, max_size=max(2, int(pool_size)), kwargs=kwargs,
                                    configure=use_schema, check=checking.check, reset=checking.reset, open=True,
                                    name="safety-store")

    def _prepare(self, conn) -> tuple[str, bool]:
        """The store's id (what a `changes` token remembers) and whether our key is the database's. The
        first store to open a database gives it its key's id and the empty seal groups."""
        with conn.transaction():
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if "store_id" not in meta:
                conn.execute("INSERT INTO meta (key, value) VALUES ('store_id', gen_random_uuid()::text) "
                             "ON CONFLICT DO NOTHING")
            if "seal_key_id" not in meta:
                made = conn.execute("INSERT INTO meta (key, value) VALUES ('seal_key_id', %s) ON CONFLICT DO NOTHING",
                                    (self._sealer.key_id,)).rowcount
                if made:
                    with conn.cursor() as cur:
                        cur.executemany("INSERT INTO seal_slots (slot, digest, seal) VALUES (%s, %s, %s) "
                                        "ON CONFLICT DO NOTHING", initial_rows(self._sealer))
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        return meta["store_id"], meta["seal_key_id"] == self._sealer.key_id

    # ------------------------------------------------------------ connections
    @property
    def data_dir(self) -> Path:
        return self.dir

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("存储已关闭")

    @contextmanager
    def _conn(self):
        """A pooled connection (autocommit) for reading; database errors become StorageError."""
        self._check_open()
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise StorageError(f"{self.where}操作失败：{_reason(exc)}") from None

    @contextmanager
    def _tx(self, pipeline: bool = False):
        """One transaction on a pooled connection: committed when the block ends, rolled back when it raises.
        `pipeline`: statements are sent without waiting for each answer (psycopg's pipeline mode), so a
        commit takes three round trips to the server, not one per statement."""
        with self._conn() as conn:
            if pipeline:
                with conn.pipeline(), conn.transaction():
                    self._group_commit(conn)
                    yield conn
            else:
                with conn.transaction():
                    self._group_commit(conn)
                    yield conn

    @contextmanager
    def _tx_in_two_trips(self):
        """A transaction of statements that need no answers but the first ones' (a case's commit): BEGIN
        and COMMIT travel in the pipeline as statements, so it costs two round trips, the first answer
        and the COMMIT, where `_tx` costs three (psycopg syncs before its COMMIT). No savepoints in it."""
        with self._conn() as conn, conn.pipeline() as pipe:
            conn.execute("BEGIN")
            done = False
            try:
                self._group_commit(conn)
                yield conn
                conn.execute("COMMIT")
                pipe.sync()  # raises what any statement of the block raised: then nothing was committed
                done = True
            finally:
                if not done:
                    with suppress(psycopg.Error):
                        conn.execute("ROLLBACK")
                        pipe.sync()

    def _group_commit(self, conn) -> None:
        if getattr(self._grouped, "depth", 0):
            conn.execute("SET LOCAL synchronous_commit = off")
            self._grouped.wrote = True

    @contextmanager
    def grouped_commits(self):
        """This thread's commits in the block do not wait for the server's WAL flush one by one
        (``synchronous_commit = off`` for them; the server's WAL writer flushes them within
        3 × ``wal_writer_delay``, 0.6 s by default), and the block ends with a transaction that does wait,
        which flushes them all: what the deadline sweep does, thousands of commits in a row. Like the
        TinyDB store's (`Store.grouped_commits`): a committed transaction is visible to everyone at once
        and consistent; only a server crash in those moments can take a tail of them, which the next
        sweep does again. Other connections' commits wait for their flush as ever."""
        depth = getattr(self._grouped, "depth", 0)
        self._grouped.depth = depth + 1
        if depth == 0:
            self._grouped.wrote = False
        try:
            yield self
        finally:
            self._grouped.depth = depth
            if depth == 0 and self._grouped.wrote and not self._closed:
                # a transaction that writes WAL and commits synchronously flushes the WAL up to its commit
                # record, so every asynchronous commit before it is durable when it returns
                with self._tx() as conn:
                    conn.execute("UPDATE meta SET value = value WHERE key = 'store_id'")

    def _check_writable(self) -> None:
        """Before anything changes: a process with another seal key writes nothing."""
        if not self._key_ok:
            raise StorageError(f"封印密钥与{self.where}不符（数据库由另一把密钥封印，当前密钥文件为 "
                               f"{self.seal_key_file or '调用方给出'}）：未写入任何内容。请把环境变量 "
                               f"WORKFLOW_SEAL_KEY_FILE 指向原来的密钥文件")

    def checkpoint(self) -> None:
        """Nothing to do: every commit is in PostgreSQL's own write-ahead log when it returns."""
        self._check_open()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            self._pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"PgStore({masked(self.url)!r}, {str(self.dir)!r})"

    # ------------------------------------------------------------ cases
    def commit(self, case: dict, events: list[dict], tasks: list[dict] | None, expected_version: int,
               new_records: Sequence[tuple[str, str, dict]] = ()) -> dict:
        """`new_records`: small-table records (table, key, doc) created in the same transaction; one whose
        key exists already is left as it is (what a notify effect delivers once)."""
        doc, evs, tks = case_input(case, events, tasks)
        records = new_records_input(new_records)
        cid = doc["id"]
        slot = slot_of("case", cid)
        record_slots = {(table, key): slot_of(f"put:{table}", key) for table, key, _ in records}
        with self._tx_in_two_trips() as conn:
            self._check_writable()
            found = conn.execute("SELECT doc FROM cases WHERE id = %s FOR UPDATE", (cid,))
            # the rows first, then their groups in ascending order (as every writer does: no deadlock); the
            # records go in under their groups' locks, as `put` creates one
            locked = {n: seals.lock(conn, n) for n in sorted({slot, *record_slots.values()})}
            made, record_seals = None, {}
            if records:
                for table, key, new in records:
                    new["_key"], new["_version"] = key, 1
                    record_seals[table, key] = self._sealer.put(table, key, new)
                made = conn.execute(
                    "INSERT INTO records (tbl, key, version, doc, seal) SELECT r ->> 0, r ->> 1, 1, r -> 2, r ->> 3 "
                    "FROM json_array_elements(%s::json) AS r ON CONFLICT DO NOTHING RETURNING tbl, key",
                    (dumps([[table, key, new, record_seals[table, key]] for table, key, new in records]),))
            row = found.fetchone()
            current = row[0] if row else None
            actual = int(current.get("version", 0)) if current else 0
            if actual != expected_version:
                raise ConflictError(cid, expected_version, actual)
            head = current.get("history_head", "") if current else ""
            n = int(current.get("history_len", 0)) if current else 0
            head, n = link(cid, evs, head, n, version=expected_version + 1)
            doc["version"] = expected_version + 1
            doc["history_head"], doc["history_len"] = head, n
            seal = self._sealer.case(doc)
            # out goes the seal of what is stored (recomputed: an edit made outside stays visible), in the new one
            delta = xor(self._sealer.case(current), seal) if current is not None else seal
            row = {"id": cid, "workflow": workflow_of(doc), "status": doc["status"], "version": doc["version"],
                   "next_due": next_due(doc), "doc": dumps(doc), "seal": seal}
            if current is None and conn.execute(
                    "INSERT INTO cases (id, workflow, status, version, next_due, doc, seal) VALUES (%(id)s, %(workflow)s, "
                    "%(status)s, %(version)s, %(next_due)s, %(doc)s::json, %(seal)s) ON CONFLICT (id) DO NOTHING "
                    "RETURNING id", row).fetchone() is None:
                # created by another process since we looked (its insert was waited for): newer than what we read
                raise ConflictError(cid, 0, conn.execute("SELECT version FROM cases WHERE id = %s", (cid,)).fetchone()[0])
            deltas = {slot: delta}
            if made is not None:
                created = {tuple(r) for r in made.fetchall()}
                for (table, key), seal_of_record in record_seals.items():
                    if (table, key) in created:
                        seals.add(deltas, record_slots[table, key], seal_of_record)
            tasks_now = tks if doc["status"] == "open" and tks else []  # a closed case holds no tasks
            for t in tasks_now:
                t["case_id"] = cid
            row.update(events=dumps(evs), clear=doc["status"] == "closed" or tks is not None,
                       tasks=dumps([[*task_columns(t), t] for t in tasks_now]),
                       people=dumps([[p, k, at] for p, k, _, at in people_rows(doc)]),
                       seals=dumps(seals.rows(self._sealer, locked, deltas)))
            conn.execute(_UPDATE_CASE_AND_ROWS if current is not None else _CASE_ROWS, row)
        return doc

    # ------------------------------------------------------------ counters
    def next_sequence(self, name: str) -> int:
        slot = slot_of("seq", name)
        with self._tx(pipeline=True) as conn:
            self._check_writable()
            while True:
                # a savepoint each try: a try that lost the race to create the row gives back the group's
                # lock with it, so the next try takes the row first, then the group (no deadlock)
                with conn.transaction():
                    found = conn.execute("SELECT value FROM sequences WHERE name = %s FOR UPDATE", (name,))
                    locked = seals.lock(conn, slot)
                    row = found.fetchone()
                    value = int(row[0]) + 1 if row else 1
                    seal = self._sealer.seq(name, value)
                    if row is not None:
                        conn.execute("UPDATE sequences SET value = %s, seal = %s WHERE name = %s", (value, seal, name))
                        seals.store(conn, self._sealer, slot, locked, xor(self._sealer.seq(name, int(row[0])), seal))
                        return value
                    if conn.execute("INSERT INTO sequences (name, value, seal) VALUES (%s, 1, %s) ON CONFLICT DO NOTHING "
                                    "RETURNING 1", (name, seal)).fetchone():
                        seals.store(conn, self._sealer, slot, locked, seal)
                        return 1
                    # another process created the counter since we looked: now it is there, and we lock it
                    raise psycopg.Rollback()

    # ------------------------------------------------------------ small tables
    def put(self, table: str, key: str, doc: dict, expected_version: int | None = None) -> dict:
        new = record_input(table, key, doc)
        slot = slot_of(f"put:{table}", key)
        with self._tx(pipeline=True) as conn:
            self._check_writable()
            while True:
                # a savepoint each try: a try that lost the race to create the row gives back the group's
                # lock with it, so the next try takes the row first, then the group (no deadlock)
                with conn.transaction():
                    found = conn.execute("SELECT doc FROM records WHERE tbl = %s AND key = %s FOR UPDATE", (table, key))
                    locked = seals.lock(conn, slot)
                    row = found.fetchone()
                    current = row[0] if row else None
                    actual = int(current.get("_version", 0)) if current else 0
                    if expected_version is not None and actual != expected_version:
                        raise ConflictError(f"{table}/{key}", expected_version, actual, what="记录")
                    new["_key"], new["_version"] = key, actual + 1
                    seal = self._sealer.put(table, key, new)
                    values = (new["_version"], dumps(new), seal, table, key)
                    if current is not None:
                        conn.execute("UPDATE records SET version = %s, doc = %s::json, seal = %s WHERE tbl = %s AND key = %s",
                                     values)
                        seals.store(conn, self._sealer, slot, locked, xor(self._sealer.put(table, key, current), seal))
                        return new
                    if conn.execute("INSERT INTO records (version, doc, seal, tbl, key) VALUES (%s, %s::json, %s, %s, %s) "
                                    "ON CONFLICT DO NOTHING RETURNING 1", values).fetchone():
                        seals.store(conn, self._sealer, slot, locked, seal)
                        return new
                    # another process created the record since we looked: now it is there, and we lock it
                    raise psycopg.Rollback()
