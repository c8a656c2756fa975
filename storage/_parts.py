"""Partitions: one TinyDB file each, held in memory, changed in place by journal records.

A part is loaded lazily. Records that touch a part which is not loaded are queued (`pending`) and
applied when it loads. Every part remembers the LSN (journal sequence number) it reflects; a record
whose LSN is not above it is already in the part and is skipped, which makes replay idempotent.

Saving is split so that commits need not wait for it: `capture` (under the Store's mutex) takes
shallow copies of the tables, a `Shot`; encoding and writing the shot need no lock. Documents are
replaced, not changed, when a record changes them, so a shot's documents stay as they were captured
(`put_doc` marks a document given back changed in place `stale`, so its encoding is redone).
"""
from __future__ import annotations

import json
import zlib
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from pathlib import Path

from tinydb import TinyDB

from storage._case_ids import partition_of, shard_of
from storage._due import earliest_due
from storage._files import MemoryTables, read_tinydb
from storage._frozen import FrozenDict, freeze

META = "_meta"
DUE = "_due"  # hot.json's table of the open cases' due times (`HotPart`)
PEOPLE_BUCKETS = 64  # files of the people index (people/00.json … people/63.json)
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # like dump_tinydb


class Part:
    """One TinyDB database file (tables of documents keyed by string doc ids), kept in memory."""

    #: field that names a document in a keyed table (None: the table is not keyed)
    key_fields: dict[str, str] = {}
    default_key_field: str | None = "_key"

    def __init__(self, path: Path, name: str):
        self.path = path
        self.name = name  # relative path, for messages
        self.loaded = False
        self.tables: dict[str, dict[str, dict]] = {}
        self.lsn = 0
        self.file_lsn = 0  # the LSN the file said when it was loaded
        self.meta: dict = {}  # the file's _meta document when it was loaded
        self.extra_meta: dict = {}  # what the next snapshot adds to _meta (the Store's seal state)
        self.pending: list[tuple[int, list]] = []
        self.dirty = False
        self._db: TinyDB | None = None
        self.keys: dict[str, dict[str, str]] = {}
        self.next_ids: dict[str, int] = {}
        # table -> doc id -> (document, its encoding) of the last snapshot: a checkpoint re-encodes only
        # the documents that are not the same objects any more, or were changed in place (`stale`)
        self.frags: dict[str, dict[str, tuple[dict, str]]] = {}
        self.stale: set[tuple[str, str]] = set()

    # ------------------------------------------------------------ loading
    def load(self) -> None:
        if not self.loaded:
            self.install(read_tinydb(self.path))

    def install(self, tables: dict) -> None:
        """Take the tables read from the file (read without the Store's mutex, installed under it)."""
        if self.loaded:
            return
        self._set_tables(tables)
        pending, self.pending = self.pending, []
        for lsn, ops in pending:
            self.apply(lsn, ops)

    def _set_tables(self, tables: dict) -> None:
        self.tables = tables
        meta = tables.get(META, {}).get("1") or {}
        self.lsn = self.file_lsn = int(meta.get("lsn", 0))
        self.meta = meta
        self.keys = {}
        # the id counters are part of the file: every process that applies the same records to the
        # same file hands out the same document ids (an id freed by a delete is not reused)
        self.next_ids = {t: int(n) for t, n in (meta.get("next_ids") or {}).items()}
        self.frags, self.stale = {}, set()
        self._db = None
        self._index()
        self.loaded = True

    def unload(self) -> bool:
        """Forget the contents (they are on disk); refused while there are unsaved changes."""
        if not self.loaded or self.dirty or self.pending:
            return False
        self.tables, self.keys, self.next_ids, self.frags, self.stale, self._db = {}, {}, {}, {}, set(), None
        self.loaded = False
        self._unindex()
        return True

    def _index(self) -> None:
        for table, docs in self.tables.items():
            field = self.key_fields.get(table, self.default_key_field)
            if table == META or field is None:
                continue
            self.keys[table] = {doc.get(field): did for did, doc in docs.items()}

    def _unindex(self) -> None:
        pass

    @property
    def db(self) -> TinyDB:
        """The part as a TinyDB database (queries, iteration); its storage is this part's memory."""
        if self._db is None:
            self._db = TinyDB(self.tables, storage=MemoryTables)
        return self._db

    def table(self, name: str):
        # cache_size=0: documents change in place, so TinyDB's query cache would go stale
        return self.db.table(name, cache_size=0)

    # ------------------------------------------------------------ changes
    def apply(self, lsn: int, ops: list) -> None:
        if not self.loaded:
            self.pending.append((lsn, ops))
            return
        if lsn <= self.lsn:
            return  # already in the file this part was loaded from
        for op in ops:
            getattr(self, "op_" + op[0])(*op[1:])
        self.lsn = lsn
        self.dirty = True

    def _new_id(self, table: str) -> str:
        n = self.next_ids.get(table)
        if n is None:
            n = max(map(int, self.tables.get(table, {})), default=0) + 1
        self.next_ids[table] = n + 1
        return str(n)

    def put_doc(self, table: str, key: str, doc: dict) -> None:
        ids = self.keys.setdefault(table, {})
        did = ids.get(key)
        if did is None:
            did = ids[key] = self._new_id(table)
        docs = self.tables.setdefault(table, {})
        if docs.get(did) is doc:
            self.stale.add((table, did))  # changed in place: its encoding is out of date
        docs[did] = doc

    def del_doc(self, table: str, key: str) -> dict | None:
        did = self.keys.get(table, {}).pop(key, None)
        if did is None:
            return None
        return self.tables[table].pop(did, None)

    def get_doc(self, table: str, key: str) -> dict | None:
        did = self.keys.get(table, {}).get(key)
        return None if did is None else self.tables[table][did]

    # ------------------------------------------------------------ saving
    def capture(self, lsn: int) -> Shot:
        """The part as of `lsn`, to be saved (under the Store's mutex; cheap: shallow copies). The part
        counts as saved from here on; `Shot.failed` says otherwise."""
        meta = {"lsn": lsn, "part": self.name, **self.extra_meta}
        if self.next_ids:
            meta["next_ids"] = dict(sorted(self.next_ids.items()))
        self.tables[META] = {"1": meta}
        self.lsn = max(self.lsn, lsn)
        self.dirty = False
        stale, self.stale = self.stale, set()
        return Shot(self, {table: dict(docs) for table, docs in self.tables.items()}, stale)

    def snapshot(self, lsn: int) -> bytes:
        """The part as TinyDB JSON (what `dump_tinydb` gives), re-encoding only changed documents."""
        return b"".join(self.capture(lsn).encode())


class Shot:
    """A part's tables as captured, encoded piece by piece without any lock (`encode`)."""

    PIECE = 2000  # documents per piece: commits of other threads get the interpreter in between

    def __init__(self, part: Part, tables: dict[str, dict[str, dict]], stale: set[tuple[str, str]]):
        self.part, self.tables, self.stale = part, tables, stale

    def encode(self) -> Iterator[bytes]:
        """TinyDB JSON in pieces; encodings of documents not changed since the last shot are reused."""
        part, frags = self.part, {}
        for t, (table, docs) in enumerate(self.tables.items()):
            old = part.frags.get(table, {})
            cache = frags[table] = {}
            out = [("{" if t == 0 else ",") + _encode(table) + ":{"]
            for n, (did, doc) in enumerate(docs.items()):
                hit = old.get(did)
                if hit is None or hit[0] is not doc or (table, did) in self.stale:
                    key = f'"{did}"' if did.isdigit() else _encode(did)
                    hit = (doc, f"{key}:{_encode(doc)}")
                cache[did] = hit  # the same tuple when unchanged: no new objects for the collector
                item = hit[1]
                out.append(item if n == 0 else "," + item)
                if len(out) >= self.PIECE:
                    yield "".join(out).encode("utf-8")
                    out = []
            out.append("}")
            yield "".join(out).encode("utf-8")
        yield b"}" if self.tables else b"{}"
        if part.loaded:
            part.frags = frags

    def failed(self) -> None:
        """Not saved after all (under the Store's mutex): the part is to be saved again."""
        self.part.dirty = True
        self.part.stale |= self.stale


class HotPart(Part):
    """hot.json: the open cases' tasks (inbox) and due times, counters and the small generic tables.

    The open cases themselves are in open/<partition>/<shard>.json (`ShardPart`), loaded when one is
    asked for: opening the store reads their due times (table `_due`, one small document per case
    with a pending deadline, kept by every record of an open case) and not the cases. Records of
    cases still reach this part (`op_case`, `op_uncase`): they keep `_due` and the tasks."""

    key_fields = {"tasks": None}

    def _index(self) -> None:
        super()._index()
        self.task_by_case: dict[str, list[str]] = {}
        # the inbox index: holder -> its tasks as (inbox sort key, id), kept sorted, so a page of
        # 待办 is the head of a few sorted lists (heapq.merge), never a sort of everything a user holds
        self.task_by_user: dict[str, list[tuple[str, str]]] = {}
        self.task_by_role: dict[tuple[str, str | None], list[tuple[str, str]]] = {}  # (role, unit or None)
        self.task_order: dict[str, str] = {}  # inbox sort key: due (none last), case id, state
        # open case -> the earliest due time of its pending deadlines: what a sweep looks at
        self.case_due: dict[str, str] = {doc.get("_key"): doc.get("due") for doc in self.tables.get(DUE, {}).values()
                                         if isinstance(doc.get("due"), str)}
        for did, task in self.tables.get("tasks", {}).items():
            self._index_task(did, task, bisect=False)
        for held in (*self.task_by_user.values(), *self.task_by_role.values()):
            held.sort()

    def task_rows(self, dids: Iterable[str]) -> list[FrozenDict]:
        """The task rows to hand out as they are (storage._frozen): frozen when first handed out, not
        when the file is read (a tenth of opening the store, for the tasks nobody lists)."""
        tasks, rows = self.tables.get("tasks", {}), []
        for did in dids:
            row = tasks[did]
            if type(row) is not FrozenDict:
                row = tasks[did] = freeze(row)
            rows.append(row)
        return rows

    def _holder(self, task: dict) -> list[tuple[str, str]] | None:
        """The inbox list the task is in: its user's, else its role's in its unit (None: neither)."""
        if task.get("user") is not None:
            return self.task_by_user.setdefault(task["user"], [])
        if task.get("role") is not None:
            return self.task_by_role.setdefault((task["role"], task.get("unit")), [])
        return None

    def _index_task(self, did: str, task: dict, bisect: bool = True) -> None:
        due = task.get("due")
        order = self.task_order[did] = f"{'1' if due is None else '0'}{due or ''}\x00{task.get('case_id') or ''}" \
                                       f"\x00{task.get('state') or ''}"
        self.task_by_case.setdefault(task.get("case_id"), []).append(did)
        held = self._holder(task)
        if held is not None:
            if bisect:
                insort(held, (order, did))
            else:
                held.append((order, did))  # sorted once everything is in (`_index`)

    def _drop_tasks(self, case_id: str) -> None:
        tasks = self.tables.get("tasks", {})
        for did in self.task_by_case.pop(case_id, ()):
            order = self.task_order.pop(did, None)
            task = tasks.pop(did, None)
            held = None if task is None else self._holder(task)
            if held:
                at = bisect_left(held, (order, did))
                if at < len(held) and held[at][1] == did:
                    del held[at]

    def _set_due(self, case_id: str, due: str | None) -> None:
        if due is None:
            if self.case_due.pop(case_id, None) is not None:
                self.del_doc(DUE, case_id)
        elif self.case_due.get(case_id) != due:
            self.case_due[case_id] = due
            self.put_doc(DUE, case_id, {"_key": case_id, "due": due})

    # ops
    def op_case(self, doc: dict) -> None:
        """An open case was stored (in its open shard): its due time, for the sweep."""
        self._set_due(doc["id"], earliest_due(doc))

    def op_uncase(self, case_id: str) -> None:
        """A case closed (or left the open shards): no due time, no tasks."""
        self._set_due(case_id, None)
        self._drop_tasks(case_id)

    def op_tasks(self, case_id: str, tasks: list[dict]) -> None:
        self._drop_tasks(case_id)
        table = self.tables.setdefault("tasks", {})
        for task in tasks:
            did = self._new_id("tasks")
            table[did] = frozen = freeze(task)
            self._index_task(did, frozen)

    def op_seq(self, name: str, value: int, seal: str | None = None) -> None:
        doc = {"_key": name, "value": value}
        if seal is not None:
            doc["_seal"] = seal
        self.put_doc("sequences", name, doc)

    def op_put(self, table: str, key: str, doc: dict) -> None:
        self.put_doc(table, key, doc)


def people_bucket(person: str) -> int:
    """The number of the file people/NN.json that holds a person's documents (crc32 of the id: the same
    in every process, unlike hash())."""
    return zlib.crc32(person.encode("utf-8")) % PEOPLE_BUCKETS


def people_named(case: dict) -> list[tuple[str, str]]:
    """(kind, person) for whoever a case is listed under: who started it and everyone who acted on it."""
    named = [("started", case.get("created_by"))] + [("acted", p) for p in case.get("participants") or ()]
    return [(kind, person) for kind, person in named if isinstance(person, str) and person]


class PeoplePart(Part):
    """people/NN.json: each person's cases (open and closed) with when each last changed, so 我发起的 and
    已办 read one page of cases, not the archive. A person's documents are all in one of
    `PEOPLE_BUCKETS` files (`people_bucket`), loaded when someone asks for that person's list: a store
    opens without reading everyone's (a third of hot.json at 300,000 cases when it lived there). A
    document holds one person's cases of one shard (1000 case numbers), so a commit re-encodes a
    small document, not everything a busy person ever did. `bucket` None: a part of everyone (the
    migrations that build the index)."""

    def __init__(self, path: Path, name: str, bucket: int | None):
        super().__init__(path, name)
        self.bucket = bucket
        self.people_keys: dict[str, list[str]] = {}

    def _index(self) -> None:
        super()._index()
        self.people_keys = {}  # person -> keys of their documents
        for doc in self.tables.get("people", {}).values():
            self.people_keys.setdefault(doc.get("person"), []).append(doc.get("_key"))

    def _unindex(self) -> None:
        self.people_keys = {}

    def op_people(self, case: dict) -> None:
        """Index a stored case under the person who started it and everyone who acted on it."""
        cid, at = case["id"], case.get("updated_at") or ""
        shard = f"{partition_of(cid)}\x00{shard_of(cid)}"
        for kind, person in people_named(case):
            if self.bucket is not None and people_bucket(person) != self.bucket:
                continue  # another file's person
            key = f"{person}\x00{shard}"
            old = self.get_doc("people", key)
            if old is None:
                self.people_keys.setdefault(person, []).append(key)
                old = {"_key": key, "person": person, "started": {}, "acted": {}}
            if old[kind].get(cid) != at:
                # a new document, not the old one changed: a checkpoint may be encoding the old one
                self.put_doc("people", key, {**old, kind: {**old[kind], cid: at}})

    def people_stamps(self, person: str, kind: str) -> dict[str, str]:
        """Case id -> when it last changed, of every case `person` started or acted on (`kind`)."""
        docs = [self.get_doc("people", key) for key in self.people_keys.get(person, ())]
        if len(docs) == 1:
            return docs[0][kind]
        stamps: dict[str, str] = {}
        for doc in docs:
            stamps.update(doc[kind])
        return stamps


class ShardPart(Part):
    """A shard of cases, 1000 case numbers of one partition: open/<partition>/<shard>.json holds the
    open ones, archive/<partition>/<shard>.json the closed ones (`storage._layout`)."""

    key_fields = {"cases": "id"}

    def op_case(self, doc: dict) -> None:
        self.put_doc("cases", doc["id"], doc)

    def op_uncase(self, case_id: str) -> None:
        self.del_doc("cases", case_id)


class SegmentPart(Part):
    """history/<partition>/<segment>.json: events appended during one span of journal numbers."""

    default_key_field = None

    def _index(self) -> None:
        super()._index()
        self.by_case: dict[str, list[dict]] = {}
        for ev in self.tables.get("events", {}).values():
            self.by_case.setdefault(ev.get("case_id"), []).append(ev)

    def _unindex(self) -> None:
        self.by_case = {}

    def op_events(self, events: list[dict]) -> None:
        table = self.tables.setdefault("events", {})
        for ev in events:
            table[self._new_id("events")] = ev
            self.by_case.setdefault(ev["case_id"], []).append(ev)
