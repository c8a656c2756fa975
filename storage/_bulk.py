"""Bulk loading: many new cases written straight into partition files, for demo and benchmark data."""
from __future__ import annotations

from collections.abc import Iterable

from storage._chain import link
from storage._files import atomic_write, fsync_dir
from storage._layout import HISTORY_SPAN, partition_of, shard_of
from storage._parts import Part
from storage._seal import SEAL, xor
from storage.errors import StorageError


class BulkLoadMixin:
    """`Store.bulk_load` (mixed into `Store`: uses its locks, journal generations and parts)."""

    def bulk_load(self, cases: list[dict], events: Iterable[dict] = (), tasks: Iterable[dict] = (),
                  sequences: dict[str, int] | None = None) -> int:
        """Store many *new* cases at once, with their events (in order, each naming its `case_id`),
        the open cases' tasks and counters (raised to at least the given values).

        For generating demo and benchmark data only: it writes partition files directly instead of
        journaling every case, so it is durable on return but not atomic (a crash in the middle leaves
        part of the batch). Stored cases get version 1 unless they carry a version. The documents are
        taken as they are (JSON data; only the top level is copied). Returns the count.
        """
        # shallow copies only (speed): the values must be JSON data the caller no longer changes
        docs = [dict(c) for c in cases]
        by_case: dict[str, list[dict]] = {}
        for ev in events:
            by_case.setdefault(ev.get("case_id"), []).append(dict(ev))
        task_rows: dict[str, list[dict]] = {}
        for t in tasks:
            task_rows.setdefault(t.get("case_id"), []).append(dict(t))
        with self._ckpt, self._mutex, self._lock:
            self._check_open()
            self._catch_up(locked=True)
            self._check_writable()
            seen = set()  # refused before anything is written
            for doc in docs:
                cid = doc.get("id")
                if not isinstance(cid, str) or doc.get("status") not in ("open", "closed"):
                    raise StorageError(f"批量导入的案件 {cid!r} 缺少编号或状态")
                if cid in seen or self._locate(cid)[1] is not None:
                    raise StorageError(f"案件 {cid} 已存在，不能批量导入")
                seen.add(cid)
            unknown = [cid for cid in by_case if cid not in seen]
            if unknown:
                raise StorageError(f"批量导入的事件属于未导入的案件：{', '.join(map(str, unknown[:5]))}")
            self._checkpoint_locked(force=True)  # the journal is empty now
            lsn = (self._lsn // HISTORY_SPAN + 1) * HISTORY_SPAN  # a fresh history segment span
            end = lsn + HISTORY_SPAN - 1
            self._new_wal(self._wal_gen + 1, end)  # first: later records must number above the files
            before = set(self._parts)
            ops: dict[int, tuple[Part, list]] = {}

            def add(part: Part, op: tuple) -> None:
                ops.setdefault(id(part), (part, []))[1].append(op)

            hot_ops: list = []
            digest = self._state[1]  # the state digest: every new seal goes in (see storage._seal)
            for doc in docs:
                cid = doc["id"]
                evs = by_case.pop(cid, [])
                doc["version"] = int(doc.get("version") or 1)
                head, n = link(cid, evs, "", 0, version=doc["version"])
                doc["history_head"], doc["history_len"] = head, n
                doc.pop(SEAL, None)
                doc[SEAL] = self._sealer.case(doc)
                digest = xor(digest, doc[SEAL])
                for part in self._people_of(doc):
                    add(part, ("people", doc))
                self._touched[cid] = end
                if doc["status"] == "closed":
                    add(self._archive(cid), ("case", doc))
                else:
                    add(self._open(cid), ("case", doc))
                    hot_ops.append(("case", doc))  # its due time
                    hot_ops.append(("tasks", cid, task_rows.pop(cid, [])))
                if evs:
                    add(self._segment(partition_of(cid), shard_of(cid), lsn // HISTORY_SPAN), ("events", evs))
            for name, value in (sequences or {}).items():
                current = self.hot.get_doc("sequences", name)
                if not current or current["value"] < value:
                    seal = self._sealer.seq(name, int(value))
                    digest = xor(digest, xor(self._sealer.seq(name, current["value"]), seal) if current else seal)
                    hot_ops.append(("seq", name, int(value), seal))
            ops[id(self.hot)] = (self.hot, hot_ops)  # always: hot.json keeps the new state digest
            for part, part_ops in ops.values():
                part.load()
                part.apply(lsn, part_ops)
            self._lsn = end
            self._state = (end, digest, self._sealer.state(end, digest))
            self.hot.extra_meta = {"state": list(self._state)}
            dirs = set()
            for part, _ in ops.values():
                part.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(part.path, part.snapshot(end), sync_dir=False)
                part.dirty = False
                dirs.add(part.path.parent)
            for d in dirs:
                fsync_dir(d)
            self._mark.write(end, digest)
            for key in set(self._parts) - before:  # keep memory small: they are on disk now
                self._parts[key].unload()
            return len(docs)
