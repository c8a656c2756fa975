"""The PostgreSQL store's schema: its tables, its version and the migration from each version to the next.

Everything lives in the schema `safety` (so the case data may share a database with Prefect's tables,
which have an `events` table of their own); every connection sets `search_path` to it. The table
`schema_version` holds one row per applied version. Opening a database runs every missing step, each
in one transaction together with its `schema_version` row (PostgreSQL's DDL is transactional: a step
that fails or is interrupted leaves nothing, and the next open runs it again), under an advisory lock,
so two processes opening a new database at once migrate it once. A database of a newer version than
`PG_SCHEMA_VERSION` is refused.

Versions:
1. The tables. `cases` (the document as JSON, its seal, `changed`: the id of the transaction that wrote
   it last, for `changes()`), `events` (the hash chain, one row per event, keyed by case and number),
   `tasks` (the open cases' task rows; `holder` is who may act, `["user", id]` or `["role", role, unit]`
   as JSON text, `sort_key` the inbox order), `sequences`, `records` (the small tables), `people`
   (each person's started and acted-on cases), `seal_slots` (the sealed XOR of the seals, per group:
   `pg_seals`), `files` (documents and attachments, `pg_files`), `meta` (the key's id and the store's id, set by the
   first store that opens the database).
   Text that is sorted or compared is `COLLATE "C"`: code-point order, as Python sorts.
2. The indexes of the queries that grow with the data: 待办 by holder then deadline, the tasks by
   deadline (the sweep), cases by status and by workflow, the changes feed, a person's newest cases.
3. `cases.next_due`: an open case's earliest pending deadline (`storage._due`; NULL when closed or
   nothing is pending), filled in for the stored cases, with a partial index: the sweep reads the cases
   due by now from it instead of every open case's JSON.
"""
from __future__ import annotations

from storage.errors import StorageError

SCHEMA = "safety"
PG_SCHEMA_VERSION = 3
LOCK_KEY = 0x5AFE7  # pg_advisory_lock: one migration at a time per database

_V1 = [
    'CREATE TABLE schema_version (version integer PRIMARY KEY, description text NOT NULL, '
    'applied_at timestamptz NOT NULL DEFAULT now())',
    'CREATE TABLE meta (key text COLLATE "C" PRIMARY KEY, value text NOT NULL)',
    'CREATE TABLE cases (id text COLLATE "C" PRIMARY KEY, workflow text COLLATE "C", '
    "status text NOT NULL CHECK (status IN ('open', 'closed')), version integer NOT NULL, doc json NOT NULL, "
    'seal text NOT NULL, changed xid8 NOT NULL DEFAULT pg_current_xact_id())',
    'CREATE TABLE events (case_id text COLLATE "C" NOT NULL, seq integer NOT NULL, doc json NOT NULL, '
    'PRIMARY KEY (case_id, seq))',
    'CREATE TABLE tasks (id bigserial PRIMARY KEY, case_id text COLLATE "C" NOT NULL, holder text COLLATE "C", '
    'due text COLLATE "C", sort_key text COLLATE "C" NOT NULL, doc json NOT NULL)',
    "CREATE INDEX tasks_case ON tasks (case_id)",
    'CREATE TABLE sequences (name text COLLATE "C" PRIMARY KEY, value bigint NOT NULL, seal text NOT NULL)',
    'CREATE TABLE records (tbl text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, version integer NOT NULL, '
    'doc json NOT NULL, seal text NOT NULL, PRIMARY KEY (tbl, key))',
    'CREATE TABLE people (person text COLLATE "C" NOT NULL, kind text COLLATE "C" NOT NULL, '
    'case_id text COLLATE "C" NOT NULL, at text COLLATE "C" NOT NULL, PRIMARY KEY (person, kind, case_id))',
    "CREATE TABLE seal_slots (slot integer PRIMARY KEY, digest text NOT NULL, seal text NOT NULL)",
    'CREATE TABLE files (path text COLLATE "C" PRIMARY KEY, sha256 text NOT NULL, size bigint NOT NULL, '
    "content bytea NOT NULL, saved_at timestamptz NOT NULL DEFAULT now())",
]

_V2 = [
    "CREATE INDEX tasks_holder ON tasks (holder, sort_key, id)",
    "CREATE INDEX tasks_due ON tasks (due) WHERE due IS NOT NULL",
    "CREATE INDEX cases_status ON cases (status, id)",
    "CREATE INDEX cases_workflow ON cases (workflow, status, id)",
    "CREATE INDEX cases_changed ON cases (changed)",
    "CREATE INDEX people_newest ON people (person, kind, at, case_id)",
]

# the same rule as storage._due.earliest_due, for the cases stored before the column existed
_EARLIEST_DUE_SQL = (
    "SELECT min((d->>'due') COLLATE \"C\") FROM json_array_elements(CASE WHEN json_typeof(doc->'deadlines') = "
    "'array' THEN doc->'deadlines' ELSE '[]'::json END) d WHERE json_typeof(d) = 'object' "
    "AND d->>'status' = 'pending' AND json_typeof(d->'due') = 'string' AND d->>'due' <> ''")

_V3 = [
    'ALTER TABLE cases ADD COLUMN next_due text COLLATE "C"',
    f"UPDATE cases SET next_due = ({_EARLIEST_DUE_SQL}) WHERE status = 'open'",
    "CREATE INDEX cases_next_due ON cases (next_due, id) WHERE next_due IS NOT NULL",
]

#: version → (what it brings, its statements); step N makes a database of version N - 1 one of version N
MIGRATIONS: dict[int, tuple[str, list[str]]] = {
    1: ("tables of cases, events, tasks, counters, small tables, people, seals and files", _V1),
    2: ("indexes of the inbox, the sweep, the case lists, the changes feed and the people lists", _V2),
    3: ("each open case's next deadline as a column with an index, for the sweep", _V3),
}


def use_schema(conn) -> None:
    """Point the connection at the store's schema (a session setting, kept by pooled connections)."""
    conn.execute(f"SET search_path TO {SCHEMA}")


def current_version(conn) -> int:
    """The database's schema version; 0 for a database the store never opened."""
    if conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.schema_version",)).fetchone()[0] is None:
        return 0
    return int(conn.execute(f"SELECT coalesce(max(version), 0) FROM {SCHEMA}.schema_version").fetchone()[0])


def migrate(conn, upto: int = PG_SCHEMA_VERSION, where: str = "数据库") -> int:
    """Bring the database to version `upto` (each step one transaction); returns the version found before.
    `conn` is an autocommit connection; `where` names the database in messages."""
    found = _checked(current_version(conn), where)
    if found >= upto:
        return found
    # one process at a time; the version is read again once we hold the lock (each statement of an
    # autocommit connection is a transaction of its own, so it sees what the previous holder committed)
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        for step in range(_checked(current_version(conn), where) + 1, upto + 1):
            if step not in MIGRATIONS:
                raise StorageError(f"没有从数据库格式版本 {step - 1} 升级到 {step} 的迁移程序")
            description, statements = MIGRATIONS[step]
            with conn.transaction():
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
                use_schema(conn)
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version, description) VALUES (%s, %s)", (step, description))
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return found


def _checked(version: int, where: str) -> int:
    if version > PG_SCHEMA_VERSION:
        raise StorageError(f"{where}的格式版本为 {version}，本程序只支持到版本 {PG_SCHEMA_VERSION}，请升级程序后再打开")
    return version
