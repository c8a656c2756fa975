"""`Store`: TinyDB files made durable, fast and safe for several processes by a write-ahead journal.

Why not plain TinyDB: its JSONStorage rewrites the whole file on every write (~31 ms per insert at 5k
documents) and has no crash or multi-process safety. So TinyDB is kept as the *format and query layer*
and the Store adds the rest:

* Every partition is a TinyDB database in UTF-8 JSON (stock ``tinydb.TinyDB(path)`` opens every file
  under a UTF-8 locale, as on Debian; elsewhere add ``encoding="utf-8"``) held in memory
  through a custom ``tinydb.storages.Storage`` (`MemoryTables`); queries and iteration go through
  TinyDB tables. Writes change the documents in place with key indexes (TinyDB's own write path
  copies the whole table per write, O(n)).
* A commit is one journal line (``wal.jsonl``: crc-framed JSON holding the case, its new chained
  events, its tasks, counters...) written and fsync'ed under a cross-process lock (flock on
  ``.lock``, the lock `filelock` uses), then applied in memory. Acknowledged = fsync returned (in a
  `grouped_commits` block, the sweep's, the syncs are shared: one at most every `GROUP_SYNC_S`).
* A checkpoint (every `checkpoint_every` records once the journal is also an eighth of hot.json's
  size, past `WAL_MAX_BYTES`, on close, or on demand) writes only the dirty
  partitions atomically (tmp, fsync, rename, fsync dir) stamped with the journal number (LSN) they
  reflect, then starts a new journal generation. Replay skips what a partition already has, so a crash
  at any point recovers by replaying the journal; a torn last line is ignored. The automatic ones run
  in a thread of their own (`_checkpointer`) and off the commit path: the parts are captured at an LSN
  under the mutex (shallow copies), encoded and written while commits go on, and the new generation
  starts with the records journaled meanwhile. The checkpoint lock (`.checkpoint`) lets one checkpoint
  at a time write the files, so a file never goes back to an older LSN.
* Layout: ``hot.json`` (the open cases' tasks and due times, counters, small tables; loaded at open),
  ``people/<NN>.json`` (whose cases are whose, for 我发起的 and 已办; a file loaded when asked),
  ``open/<partition>/<shard>.json`` and ``archive/<partition>/<shard>.json`` (open and closed cases,
  1000 case numbers per shard; a shard loaded when one of its cases is asked for) and
  ``history/<partition>/<shard>-<span>.json`` (events of those 1000 case numbers appended during one
  span of 10,000 LSNs, so a checkpoint rewrites only current segments, never the whole history).
  Partition = case id without its final ``-NNNNN``. Cases and history load lazily, a shard at a
  time; a checkpoint re-encodes only the documents that changed.
* Other processes' records are read from the journal tail before every operation (a stat when
  nothing changed); old generations stay as ``wal.<gen>.jsonl`` links for a while so readers catch up.
* History is a hash chain per case (seq, prev_hash, hash = sha256 of the canonical event); the case
  keeps history_head and history_len. Cases, small-table records and counters are sealed with an HMAC
  under a key kept outside the data directory, and so is the XOR of all those seals, carried by every
  journal record (`_seal`); ``wal.mark`` keeps the last acknowledged LSN (`_mark`). `verify()` checks
  every chain, every seal and that the journal reaches what was acknowledged.

This module is the Store core: opening and migrating a data dir, the journal, applying records,
checkpoints and the writes (commit, counters, small tables, files). The other ideas live beside it:
`_layout` (which file holds what), `_queries` (reads), `_chain` (the hash chain), `_seal` (the key and
the HMACs), `_mark` (the high-water mark), `_verify` (the verify walk), `_bulk` (bulk loading), `_lock`
(the lock between processes), `_json` (copies of JSON data), `_parts`, `_wal` and `_files` (partitions,
journal lines, files).
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from storage import _pauses, _wal
from storage._bulk import BulkLoadMixin
from storage._chain import canonical, event_hash, link
from storage._checkpointer import Checkpointer
from storage._files import atomic_write, datasync, fsync_dir, read_tinydb, write_all
from storage._input import RESERVED_TABLES, case_input, files_path, new_records_input, record_input
from storage._json import public
from storage._layout import HISTORY_SPAN, SHARD_CASES, LayoutMixin, partition_of, shard_of
from storage._lock import CheckpointLock, ProcessLock
from storage._mark import Mark
from storage._parts import HotPart, Part, Shot
from storage._queries import QueriesMixin
from storage._seal import SEAL, ZERO, Sealer, key_path, load_key, xor
from storage._verify import INTEGRITY, VerifyMixin  # INTEGRITY: what opening found wrong (sealed notes)
from storage.errors import ConflictError, StorageError
from storage.migrations import MIGRATIONS, SCHEMA_VERSION, fold_back

# what was importable from here before the split stays so (`storage/__init__.py` and callers)
__all__ = ["Store", "canonical", "event_hash", "partition_of", "shard_of", "SHARD_CASES", "HISTORY_SPAN",
           "WAL_MAX_BYTES", "KEEP_OLD_WALS", "RESERVED_TABLES"]

WAL_MAX_BYTES = 64 * 1024 * 1024  # checkpoint also when the journal grows past this
# hot.json is rewritten whole by a checkpoint (its documents' encodings reused): with many open cases
# it waits until the journal is this share of it, so what checkpoints write per commit stays bounded
# (at 300k cases 129 MB every 1,000 commits halved Service's steps/s) and replay at open adds at most
# about 1/JOURNAL_SHARE of what reading hot.json costs
JOURNAL_SHARE = 8
KEEP_OLD_WALS = 4  # retired journal generations kept for processes that are behind
# a checkpoint flushes a file it writes every this many bytes: on ext4 (data=ordered) a commit's fdatasync
# waits for the data of other files' allocated dirty blocks, so without this one saving a 129 MB hot.json
# could hold a commit behind all of it
SAVE_SYNC_BYTES = 4 * 1024 * 1024
# within `grouped_commits` (the deadline sweep), the longest a journal line waits for its fdatasync
GROUP_SYNC_S = 0.05


class Store(QueriesMixin, VerifyMixin, BulkLoadMixin, LayoutMixin):
    """A data directory opened for reading and writing; safe to share between threads and processes."""

    def __init__(self, data_dir: str | Path, *, checkpoint_every: int = 1000, seal_key: bytes | None = None):
        """`seal_key`: the 32-byte key of the seals (default: read from `storage._seal.key_path()`,
        made there on first use)."""
        self.dir = Path(data_dir)
        self._wal_path = self.dir / "wal.jsonl"
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.seal_key_file = None if seal_key is not None else key_path()
        self._sealer = Sealer(seal_key if seal_key is not None else load_key(self.seal_key_file))
        self.dir.mkdir(parents=True, exist_ok=True)
        self._mutex = threading.RLock()
        self._lock = ProcessLock(self.dir / ".lock")
        self._ckpt = CheckpointLock(self.dir / ".checkpoint")
        self._checkpointer = Checkpointer(self._checkpoint_in_background)
        self._mark = Mark(self.dir / "wal.mark", self._sealer)
        self._key_ok = True
        self._closed = False
        self._hot_bytes = 0
        self._wal_fd = -1
        self._grouped = threading.local()  # .depth: how many `grouped_commits` blocks this thread is in
        self._journal_synced_at = float("-inf")  # time.monotonic() of our last fdatasync of the journal
        self._journal_unsynced = False  # a line of ours is written but not yet fdatasynced
        self._wal_problems: list[str] = []
        self._loads = 0  # how often the files were (re)loaded: what a reader's `changes` token remembers
        self._touched: dict[str, int] = {}  # case id → the LSN of its last record applied since the last load
        self._reset_memory()
        try:
            with self._lock:
                self._prepare()
            self._load()
            if self._key_ok:
                with self._lock:
                    self._catch_up(locked=True)
                    self._check_acknowledged()
        except BaseException:
            self._close_files()
            raise

    # ------------------------------------------------------------ opening
    @property
    def data_dir(self) -> Path:
        return self.dir

    @property
    def wal_path(self) -> Path:
        return self._wal_path  # made once: every read stats it (a fresh Path was a tenth of a sweep's time)

    def _reset_memory(self) -> None:
        self.hot = HotPart(self.dir / "hot.json", "hot.json")
        self._parts: dict[tuple, Part] = {}
        self._lsn = 0
        self._journal_end = 0  # the highest LSN the current journal generation reaches (its base or a record)
        self._state = (0, ZERO, "")  # (lsn, state digest, its seal): see storage._seal
        self._wal_gen = 0
        self._wal_ino = None
        self._wal_offset = 0
        self._wal_records = 0
        self._wal_problems = []
        if self._wal_fd >= 0:
            os.close(self._wal_fd)
            self._wal_fd = -1

    def _prepare(self) -> None:
        """Under the lock: create a new data dir, or check and migrate an existing one."""
        meta_path = self.dir / "meta.json"
        if not meta_path.exists():
            if (self.dir / "hot.json").exists() or self.wal_path.exists():
                raise StorageError(f"数据目录 {self.dir} 缺少 meta.json，无法确定数据格式版本")
            atomic_write(meta_path, json.dumps({"schema_version": SCHEMA_VERSION,
                                                "seal_key_id": self._sealer.key_id}).encode())
            self._mark.write(0, ZERO)
        # temporary files of a checkpoint that crashed: when none is under way (checkpoints hold the
        # checkpoint lock; opening does not wait for one that is)
        if self._ckpt.try_acquire():
            try:
                for pattern in (".*.tmp", "open/*/.*.tmp", "archive/*/.*.tmp", "history/*/.*.tmp", "people/.*.tmp",
                                "wal.jsonl.tmp"):
                    for tmp in self.dir.glob(pattern):
                        try:
                            tmp.unlink()
                        except OSError:
                            pass
            finally:
                self._ckpt.release()
        version = self._schema_version()
        if version > SCHEMA_VERSION:
            raise StorageError(f"数据目录 {self.dir} 的格式版本为 {version}，本程序只支持到版本 {SCHEMA_VERSION}，"
                               f"请升级程序后再打开")
        if not self.wal_path.exists():
            # a new data dir; or the journal was lost: number on from the highest LSN any file has
            for old in self.dir.glob("wal.*.jsonl"):
                old.unlink()
            self._new_wal(gen=1, base=self._highest_file_lsn())
        if version < SCHEMA_VERSION:
            # fold the journal into the files with the code at hand (journal records have the same
            # form in every version), then let each migration step rewrite the files. No background
            # checkpoint can be under way: only a process of this version runs them, and none has
            # opened this directory yet
            self._load(locked=True)
            self._checkpoint_locked(force=True)
            self._reset_memory()
            fold_back(self.dir, version)  # what the fold wrote in this version's layout, back into the old one
            for step in range(version, SCHEMA_VERSION):
                if step not in MIGRATIONS:
                    raise StorageError(f"没有从格式版本 {step} 升级到 {step + 1} 的迁移程序")
                MIGRATIONS[step](self.dir, self._sealer)
                self._write_meta(step + 1)
        self._key_ok = json.loads(meta_path.read_bytes()).get("seal_key_id") == self._sealer.key_id

    def _highest_file_lsn(self) -> int:
        highest = 0
        for path in [self.dir / "hot.json", *self.dir.glob("open/*/*.json"), *self.dir.glob("archive/*/*.json"),
                     *self.dir.glob("history/*/*.json"), *self.dir.glob("people/*.json")]:
            try:
                meta = read_tinydb(path).get("_meta", {}).get("1") or {}
                highest = max(highest, int(meta.get("lsn", 0)))
            except (StorageError, ValueError, TypeError):
                continue
        return highest

    def _schema_version(self) -> int:
        try:
            meta = json.loads((self.dir / "meta.json").read_bytes())
            return int(meta["schema_version"])
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"数据目录 {self.dir} 的 meta.json 已损坏：{exc}") from None

    def _write_meta(self, version: int) -> None:
        meta_path = self.dir / "meta.json"
        meta = json.loads(meta_path.read_bytes())
        meta["schema_version"] = version
        atomic_write(meta_path, json.dumps(meta).encode())

    def _load(self, *, locked: bool = False) -> None:
        """Load hot data and replay the journal. Needs no lock: the journal is opened first, so
        whatever a concurrent checkpoint writes, every later record is still read from it."""
        self._reset_memory()
        self._loads += 1
        self._touched = {}
        self._open_wal()
        with _pauses.collector_paused():
            self.hot.load()
            try:
                self._hot_bytes = self.hot.path.stat().st_size  # what a checkpoint rewrites (JOURNAL_SHARE)
            except FileNotFoundError:
                self._hot_bytes = 0
            self._lsn = max(self._lsn, self.hot.lsn)
            state = self.hot.meta.get("state")
            if isinstance(state, list) and len(state) == 3:
                self._state = (int(state[0]), str(state[1]), str(state[2]))
            self._read_wal(locked=locked)
        _pauses.settle(self._hot_docs())

    def _hot_docs(self) -> int:
        return sum(len(docs) for docs in self.hot.tables.values())

    def _open_wal(self) -> None:
        try:
            fd = os.open(self.wal_path, os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            raise StorageError(f"数据目录 {self.dir} 缺少预写日志 wal.jsonl") from None
        head = os.pread(fd, 65536, 0)
        chunk = _wal.parse(head[: head.find(b"\n") + 1], 0, trust_last=True) if b"\n" in head else None
        if not (chunk and chunk.records and not chunk.bad and "wal" in chunk.records[0][1]):
            os.close(fd)
            raise StorageError(f"预写日志 {self.wal_path} 的文件头已损坏")
        header = chunk.records[0][1]
        self._wal_fd = fd
        self._wal_ino = os.fstat(fd).st_ino
        self._wal_gen = int(header["wal"])
        self._wal_offset = chunk.end
        self._wal_records = 0
        self._journal_end = int(header["base"])
        self._lsn = max(self._lsn, int(header["base"]))

    def _new_wal(self, gen: int, base: int, tail: bytes = b"") -> None:
        """Atomically start journal generation `gen`; the current one stays readable as wal.<gen>.jsonl.
        `tail`: the journal lines of the records after `base` (journaled during a background checkpoint)."""
        header = _wal.frame({"wal": gen, "base": base, "schema": SCHEMA_VERSION})
        tmp = self.dir / "wal.jsonl.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, header + tail)
            os.fsync(fd)
        finally:
            os.close(fd)
        if self.wal_path.exists() and self._wal_gen:
            old = self.dir / f"wal.{self._wal_gen}.jsonl"
            try:
                old.unlink()
            except FileNotFoundError:
                pass
            os.link(self.wal_path, old)
        os.replace(tmp, self.wal_path)
        fsync_dir(self.dir)
        for p in self.dir.glob("wal.*.jsonl"):
            try:
                if int(p.name.split(".")[1]) < gen - KEEP_OLD_WALS:
                    p.unlink()
            except (ValueError, FileNotFoundError):
                pass
        if self._wal_fd >= 0:
            os.close(self._wal_fd)
        self._wal_fd = os.open(self.wal_path, os.O_RDWR | os.O_APPEND)
        self._wal_ino = os.fstat(self._wal_fd).st_ino
        self._wal_gen = gen
        self._journal_unsynced = False  # every record is in the new generation, fsynced above
        try:
            self._mark.sync()  # the journal just moved on: the mark is made durable with it
        except OSError:
            pass
        self._wal_offset = len(header) + len(tail)
        self._wal_records = tail.count(b"\n")
        self._journal_end = max(self._journal_end, base) if tail else base
        self._lsn = max(self._lsn, base)

    # ------------------------------------------------------------ reading the journal
    def _read_wal(self, *, locked: bool, finished: bool = False) -> None:
        """Apply the records appended since we last looked (ours or other processes').

        `locked`: we hold the write lock, so nobody is writing: a torn last line is cut off.
        `finished`: a retired generation, nobody writes to it any more.
        """
        size = os.fstat(self._wal_fd).st_size
        if size > self._wal_offset:
            data = os.pread(self._wal_fd, size - self._wal_offset, self._wal_offset)
            chunk = _wal.parse(data, self._wal_offset, trust_last=locked or finished)
            for offset, rec in chunk.records:
                if "lsn" in rec:
                    try:
                        self._apply(rec)
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        self._wal_problems.append(
                            f"预写日志 wal.jsonl（第 {self._wal_gen} 代）偏移 {offset} 处的记录无法应用：{exc!r}")
                    self._wal_records += 1
                    self._journal_end = max(self._journal_end, int(rec["lsn"]))
                elif "wal" in rec:
                    self._lsn = max(self._lsn, int(rec.get("base", 0)))
                    self._journal_end = max(self._journal_end, int(rec.get("base", 0)))
            for offset, reason, rec in chunk.bad:
                what = f"（记录 {rec.get('lsn')}" + (f"，案件 {rec['case'].get('id')}" if isinstance(
                    rec, dict) and isinstance(rec.get("case"), dict) else "") + "）" if isinstance(rec, dict) else ""
                self._wal_problems.append(
                    f"预写日志 wal.jsonl（第 {self._wal_gen} 代）偏移 {offset} 处的记录{reason}{what}：日志文件被改动或损坏")
            self._wal_offset = chunk.end
            if chunk.torn and not finished:
                if locked:
                    # a writer died in the middle of this line: it was never acknowledged, cut it off
                    os.ftruncate(self._wal_fd, self._wal_offset)
                    os.fsync(self._wal_fd)
                else:
                    # a write in progress, a torn line or a damaged one: only the lock tells which
                    with self._lock:
                        self._read_wal(locked=True)
        elif size < self._wal_offset:
            raise StorageError("预写日志 wal.jsonl 被截短了：已确认的记录丢失，请检查数据目录")

    def _catch_up(self, *, locked: bool) -> None:
        try:
            st = os.stat(self.wal_path)
        except FileNotFoundError:
            raise StorageError(f"数据目录 {self.dir} 缺少预写日志 wal.jsonl") from None
        if st.st_ino == self._wal_ino:
            if st.st_size != self._wal_offset:
                self._read_wal(locked=locked)
            return
        # another process checkpointed: finish our generation, then the ones after it
        self._read_wal(locked=locked, finished=True)
        gen = self._wal_gen
        fd = os.open(self.wal_path, os.O_RDWR | os.O_APPEND)  # kept: this is the generation we move to
        head = os.pread(fd, 65536, 0)
        chunk = _wal.parse(head[: head.find(b"\n") + 1], 0, trust_last=True)
        new_gen = int(chunk.records[0][1]["wal"]) if chunk.records and "wal" in chunk.records[0][1] else None
        if new_gen is None or new_gen <= gen:
            os.close(fd)
            self._load(locked=locked)
            return
        for g in range(gen + 1, new_gen):
            try:
                rfd = os.open(self.dir / f"wal.{g}.jsonl", os.O_RDONLY)
            except FileNotFoundError:
                os.close(fd)
                self._load(locked=locked)  # too far behind: start again from the files
                return
            os.close(self._wal_fd)
            self._wal_fd, self._wal_gen, self._wal_offset = rfd, g, 0
            self._read_wal(locked=locked, finished=True)
        os.close(self._wal_fd)
        self._wal_fd = fd
        self._wal_ino = os.fstat(fd).st_ino
        self._wal_gen, self._wal_offset, self._wal_records = new_gen, 0, 0
        self._read_wal(locked=locked)
        if os.stat(self.wal_path).st_ino != self._wal_ino:
            self._catch_up(locked=locked)  # yet another checkpoint meanwhile

    # ------------------------------------------------------------ applying records
    def _apply(self, rec: dict) -> None:
        lsn = int(rec["lsn"])
        hot_ops: list = []
        doc = rec.get("case")
        if isinstance(doc, dict):
            cid = doc["id"]
            self._touched[cid] = lsn
            for part in self._people_of(doc):
                part.apply(lsn, [("people", doc)])
            # every part decides by its own LSN whether it has a record already, so each is told what the
            # record means for it whatever the others hold (a checkpoint cut short saved only some)
            if doc.get("status") == "closed":
                self._archive(cid).apply(lsn, [("case", doc)])
                if rec.get("from") != "archive":
                    self._open(cid).apply(lsn, [("uncase", cid)])
                hot_ops.append(("uncase", cid))
            else:
                self._open(cid).apply(lsn, [("case", doc)])
                hot_ops.append(("case", doc))  # its due time
                if rec.get("from") == "archive":
                    self._archive(cid).apply(lsn, [("uncase", cid)])
                if rec.get("tasks") is not None:
                    hot_ops.append(("tasks", cid, rec["tasks"]))
            if rec.get("events"):
                self._segment(partition_of(cid), shard_of(cid), lsn // HISTORY_SPAN).apply(
                    lsn, [("events", rec["events"])])
        seals = rec.get("seq_seals") or {}
        for name, value in (rec.get("seqs") or {}).items():
            hot_ops.append(("seq", name, value, seals.get(name)))
        for table, key, d in rec.get("puts") or ():
            hot_ops.append(("put", table, key, d))
        if hot_ops:
            self.hot.apply(lsn, hot_ops)
        state = rec.get("state")
        if isinstance(state, list) and len(state) == 2 and lsn >= self._state[0]:
            self._state = (lsn, str(state[0]), str(state[1]))
        if lsn > self._lsn:
            self._lsn = lsn

    def _write(self, rec: dict) -> None:
        """Append one record and make it durable (under the lock, after catching up); within
        `grouped_commits` the fdatasync waits until the last one is `GROUP_SYNC_S` old."""
        line = _wal.frame(rec)
        grouped = getattr(self._grouped, "depth", 0) and time.monotonic() - self._journal_synced_at < GROUP_SYNC_S
        try:
            write_all(self._wal_fd, line)
            if grouped:
                self._journal_unsynced = True
            else:
                self._fdatasync_journal()
        except OSError as exc:
            try:  # take back a partial line so the journal stays readable
                os.ftruncate(self._wal_fd, self._wal_offset)
            except OSError:
                pass
            raise StorageError(f"写入预写日志失败：{exc}") from None
        self._wal_offset += len(line)
        self._wal_records += 1
        self._journal_end = max(self._journal_end, int(rec.get("lsn", 0)))

    def _fdatasync_journal(self) -> None:
        datasync(self._wal_fd)
        self._journal_unsynced = False
        self._journal_synced_at = time.monotonic()

    def _transaction(self, rec: dict, delta: str = ZERO) -> None:
        """Journal, fsync and apply one record; `delta`: the XOR of the seals it takes out of the state
        and puts in (see storage._seal). Then the high-water mark, fsynced on its own."""
        lsn = rec["lsn"] = self._lsn + 1
        digest = xor(self._state[1], delta)
        rec["state"] = [digest, self._sealer.state(lsn, digest)]
        self._write(rec)
        self._apply(rec)
        if not self._journal_unsynced:  # the mark never runs ahead of what is durable
            try:
                self._mark.write(lsn, digest, sync=False)  # its fdatasync at most every 50 ms (storage._mark)
            except OSError:
                pass  # the record is durable; the mark only lags (a later commit moves it on)
        if self._checkpoint_due():
            self._checkpointer.request()  # off the commit path: this commit is durable already

    @contextmanager
    def grouped_commits(self):
        """This thread's commits in the block share their fdatasyncs (one at most every `GROUP_SYNC_S`,
        and one when the block ends): what the deadline sweep does, thousands of commits in a row.

        What a commit in the block promises when it returns: its record is in the journal, so a killed
        process loses nothing of it and every other reader sees it; only a power cut or an OS crash in
        the last `GROUP_SYNC_S` can take the block's last records, and always a tail of them (the journal
        is one file; any later fdatasync, by anyone, covers every line before it). For the sweep that
        tail is work the next sweep does again (the deadlines are still passed). Commits of other
        threads and processes meanwhile are synced each as ever, and the mark is written only after the
        journal line under it is durable."""
        depth = getattr(self._grouped, "depth", 0)
        self._grouped.depth = depth + 1
        try:
            yield self
        finally:
            self._grouped.depth = depth
            if depth == 0:
                self._end_group()

    def _end_group(self) -> None:
        with self._mutex:
            if self._closed or not self._journal_unsynced:
                return
            with self._lock:
                self._catch_up(locked=True)  # on the journal's current generation, its last record known
                try:
                    self._fdatasync_journal()
                    self._mark.write(self._state[0], self._state[1], sync=True)
                except OSError as exc:
                    raise StorageError(f"写入预写日志失败：{exc}") from None

    def _checkpoint_due(self) -> bool:
        if self._wal_offset >= WAL_MAX_BYTES:
            return True
        return self._wal_records >= self.checkpoint_every and self._wal_offset * JOURNAL_SHARE >= self._hot_bytes

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("存储已关闭")

    def _check_writable(self) -> None:
        """Under the lock, before anything changes: a process with another seal key writes nothing."""
        if not self._key_ok:
            raise StorageError(f"封印密钥与数据目录 {self.dir} 不符（数据目录由另一把密钥封印，当前密钥文件为 "
                               f"{self.seal_key_file or '调用方给出'}）：未写入任何内容。请把环境变量 "
                               f"WORKFLOW_SEAL_KEY_FILE 指向原来的密钥文件")

    # ------------------------------------------------------------ acknowledged records
    def _check_acknowledged(self) -> None:
        """On opening, under the lock: the journal must reach the mark and the partition files, and the
        sealed state must belong to the journal's last record. What is wrong is recorded as a sealed
        note (table _integrity, which `verify()` reports for good: the next commit would otherwise build
        on it and hide it) and numbering goes on above the last acknowledged record, so no number is
        ever given twice."""
        mark = self._mark.read()
        lsn, digest, seal = self._state
        end = self._journal_end
        if self._lsn == 0 and not self.hot.tables and not self.hot.file_lsn:
            if mark.status != "ok":
                self._mark.write(0, ZERO)  # a new data directory
            return
        notes = []
        if mark.status != "ok":
            notes.append({"kind": f"mark_{mark.status}", "lsn": end})
        elif mark.lsn > end:
            notes.append({"kind": "journal_lost", "from": end + 1, "to": mark.lsn, "lsn": end})
            self._lsn = max(self._lsn, mark.lsn)
        if self.hot.file_lsn > end:
            notes.append({"kind": "journal_behind", "file": "hot.json", "file_lsn": self.hot.file_lsn, "lsn": end})
        if seal != self._sealer.state(lsn, digest):
            notes.append({"kind": "state_seal", "state_lsn": lsn, "lsn": end})
        elif lsn != end:
            notes.append({"kind": "state_behind", "state_lsn": lsn, "lsn": end})
        if not notes:
            return
        delta, puts = ZERO, []
        for note in notes:
            note["found_at"] = datetime.now().isoformat(timespec="seconds")
            key = f"{note['kind']}@{self._lsn + 1}"
            note["_key"], note["_version"] = key, 1
            note[SEAL] = self._sealer.put(INTEGRITY, key, note)
            delta = xor(delta, note[SEAL])
            puts.append([INTEGRITY, key, note])
        self._transaction({"puts": puts}, delta)

    # ------------------------------------------------------------ checkpoints
    def _dirty_parts(self) -> list[Part]:
        return [p for p in (self.hot, *self._parts.values()) if p.dirty or p.pending]

    def _capture(self, parts: list[Part]) -> list[Shot]:
        """Under the mutex, caught up: every part to save, as of the current LSN."""
        self.hot.extra_meta = {"state": list(self._state)}
        for part in parts:
            part.load()  # applies what was queued for it
        return [part.capture(self._lsn) for part in parts]

    def _save(self, shots: list[Shot]) -> None:
        """Write the shots' files (tmp, fsync, rename; then each folder fsync'ed); needs no lock but
        the checkpoint lock. A failure marks the parts unsaved again."""
        try:
            dirs = set()
            for shot in shots:
                path = shot.part.path
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                written = unsynced = 0
                try:
                    for piece in shot.encode():
                        write_all(fd, piece)
                        written += len(piece)
                        unsynced += len(piece)
                        if unsynced >= SAVE_SYNC_BYTES:  # see SAVE_SYNC_BYTES: commits' syncs wait for less
                            datasync(fd)
                            unsynced = 0
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, path)
                if shot.part is self.hot:
                    self._hot_bytes = written
                dirs.add(path.parent)
            for d in dirs:
                fsync_dir(d)
        except BaseException:
            with self._mutex:
                for shot in shots:
                    shot.failed()
            raise

    def _checkpoint_locked(self, force: bool = False) -> None:
        """Under the checkpoint lock, the mutex and the write lock, caught up: save and start a new journal."""
        dirty = self._dirty_parts()
        if not dirty and not self._wal_records and not force:
            return
        lsn = self._lsn
        self._save(self._capture(dirty))
        self._new_wal(self._wal_gen + 1, lsn)

    def _checkpoint_in_background(self) -> None:
        """The checkpointer thread's work: capture under the mutex, write with no lock held but the
        checkpoint lock, then, under the write lock, start a generation that carries on the journal
        lines written meanwhile. Another process checkpointing already: nothing to do."""
        if not self._ckpt.try_acquire():
            return
        try:
            with self._mutex:
                if self._closed:
                    return
                self._catch_up(locked=False)
                if not self._checkpoint_due():
                    return
                unloaded = [p for p in self._dirty_parts() if not p.loaded]
            for part in unloaded:  # read the files outside the mutex: commits go on
                tables = read_tinydb(part.path)
                with self._mutex:
                    part.install(tables)
            with self._mutex:
                self._catch_up(locked=False)
                gen, offset, lsn = self._wal_gen, self._wal_offset, self._lsn
                shots = self._capture(self._dirty_parts())
            with _pauses.quick_switches():
                self._save(shots)
            with self._mutex:
                for part in unloaded:
                    part.unload()  # read only to be saved (it is on disk now): memory stays small
            _pauses.settle(self._hot_docs())  # what commits made since the last one, too
            with self._mutex, self._lock:
                self._catch_up(locked=True)
                if self._closed or self._wal_gen != gen:
                    return  # the files are saved; the journal goes on as it is
                size = os.fstat(self._wal_fd).st_size
                tail = os.pread(self._wal_fd, size - offset, offset) if size > offset else b""
                self._new_wal(gen + 1, lsn, tail)
        finally:
            self._ckpt.release()

    def checkpoint(self) -> None:
        """Write every changed partition to its TinyDB file and start a new journal."""
        with self._ckpt, self._mutex, self._lock:
            self._check_open()
            self._catch_up(locked=True)
            try:
                self._checkpoint_locked(force=True)
            except OSError as exc:
                raise StorageError(f"写入数据文件失败（数据仍在预写日志中，未丢失）：{exc}") from None

    def wait_for_checkpoints(self, timeout: float | None = None) -> bool:
        """Until the background checkpoints asked for so far are done (tests, benchmarks)."""
        return self._checkpointer.wait(timeout)

    def close(self) -> None:
        if self._closed:
            return
        self._checkpointer.stop()  # a checkpoint under way finishes first
        with self._ckpt, self._mutex:
            if self._closed:
                return
            try:
                with self._lock:
                    self._catch_up(locked=True)
                    if self._journal_unsynced:  # a grouped block left open: its lines first
                        self._fdatasync_journal()
                    self._checkpoint_locked()
            except OSError as exc:
                raise StorageError(f"关闭时写入数据文件失败（数据仍在预写日志中，未丢失）：{exc}") from None
            finally:
                self._closed = True
                self._close_files()

    def _close_files(self) -> None:
        self._checkpointer.stop()  # (done already by close; a store given up without close stops it here)
        if self._wal_fd >= 0:
            os.close(self._wal_fd)
            self._wal_fd = -1
        self._mark.close()
        self._lock.close()
        self._ckpt.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.dir)!r})"

    # ------------------------------------------------------------ cases
    def commit(self, case: dict, events: list[dict], tasks: list[dict] | None, expected_version: int,
               new_records: Sequence[tuple[str, str, dict]] = ()) -> dict:
        """`new_records`: small-table records (table, key, doc) created in the same journal record; one whose
        key exists already is left as it is (what a notify effect delivers once, `new_records_input`)."""
        doc, evs, tks = case_input(case, events, tasks)
        records = new_records_input(new_records)
        cid = doc["id"]
        with self._mutex, self._lock:
            self._check_open()
            self._catch_up(locked=True)
            self._check_writable()
            where, current = self._locate(cid)
            actual = int(current.get("version", 0)) if current else 0
            if actual != expected_version:
                raise ConflictError(cid, expected_version, actual)
            head = current.get("history_head", "") if current else ""
            n = int(current.get("history_len", 0)) if current else 0
            head, n = link(cid, evs, head, n, version=expected_version + 1)
            doc["version"] = expected_version + 1
            doc["history_head"], doc["history_len"] = head, n
            doc[SEAL] = self._sealer.case(doc)
            # out goes the seal of what is stored (recomputed: an edit made outside stays visible), in the new one
            delta = xor(self._sealer.case(current), doc[SEAL]) if current else doc[SEAL]
            rec: dict = {"case": doc, "from": where, "events": evs}
            if doc["status"] == "open" and tks is not None:
                for t in tks:
                    t["case_id"] = cid
                rec["tasks"] = tks
            for table, key, new in records:
                if self.hot.get_doc(table, key) is None:
                    new["_key"], new["_version"] = key, 1
                    new[SEAL] = self._sealer.put(table, key, new)
                    delta = xor(delta, new[SEAL])
                    rec.setdefault("puts", []).append([table, key, new])
            self._transaction(rec, delta)
            return public(doc)

    # ------------------------------------------------------------ counters
    def next_sequence(self, name: str) -> int:
        with self._mutex, self._lock:
            self._check_open()
            self._catch_up(locked=True)
            self._check_writable()
            current = self.hot.get_doc("sequences", name)
            value = (current["value"] if current else 0) + 1
            seal = self._sealer.seq(name, value)
            delta = xor(self._sealer.seq(name, current["value"]), seal) if current else seal
            self._transaction({"seqs": {name: value}, "seq_seals": {name: seal}}, delta)
            return value

    # ------------------------------------------------------------ small tables
    def put(self, table: str, key: str, doc: dict, expected_version: int | None = None) -> dict:
        new = record_input(table, key, doc)
        with self._mutex, self._lock:
            self._check_open()
            self._catch_up(locked=True)
            self._check_writable()
            current = self.hot.get_doc(table, key)
            actual = int(current.get("_version", 0)) if current else 0
            if expected_version is not None and actual != expected_version:
                raise ConflictError(f"{table}/{key}", expected_version, actual, what="记录")
            new["_key"], new["_version"] = key, actual + 1
            new[SEAL] = self._sealer.put(table, key, new)
            delta = xor(self._sealer.put(table, key, current), new[SEAL]) if current else new[SEAL]
            self._transaction({"puts": [[table, key, new]]}, delta)
            return public(new)

    # ------------------------------------------------------------ files
    def file_path(self, relpath: str) -> Path:
        return files_path(self.dir, relpath)

    def save_file(self, relpath: str, content: bytes) -> Path:
        path = self.file_path(relpath)
        atomic_write(path, bytes(content))
        return path
