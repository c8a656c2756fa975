"""`grouped_commits`: a thread's commits in a row (the deadline sweep) share their syncs, on both
backends. What a commit in the block returns is visible to every reader at once and survives the
process (the crash test kills children committing inside a block too); the TinyDB store syncs the
journal at most every GROUP_SYNC_S and at the block's end and never writes the high-water mark ahead
of what is synced; PostgreSQL commits them with ``synchronous_commit = off`` and ends with one that waits."""
from __future__ import annotations

import json
import os
import threading

import pytest
from storage_helpers import case_doc, event, task

import storage.store as store_module
from storage import Store


def new_case(store, case_id):
    return store.commit(case_doc(case_id), [event("start")], [task(case_id)], 0)


def test_commits_in_a_block_are_seen_at_once_and_kept(place):
    s = place.open(checkpoint_every=10_000)
    with s.grouped_commits():
        c = new_case(s, "SG-2024-00001")
        for _ in range(20):
            c = s.commit(c, [event()], None, c["version"])
        s.put("settings", "k", {"v": 1})
        with place.open() as other:  # another process meanwhile
            assert other.get_case("SG-2024-00001")["version"] == 21
    place.crash(s)
    with place.open() as s2:
        assert s2.get_case("SG-2024-00001")["version"] == 21
        assert len(s2.history("SG-2024-00001")) == 21
        assert s2.get("settings", "k")["v"] == 1
        assert s2.verify() == []


def test_a_conflict_in_a_block_is_still_refused(store):
    from storage import ConflictError

    c = new_case(store, "SG-2024-00001")
    with store.grouped_commits():
        store.commit(c, [event()], None, c["version"])
        with pytest.raises(ConflictError):
            store.commit(c, [event()], None, c["version"])
    assert store.get_case("SG-2024-00001")["version"] == 2


# ---------------------------------------------------------------- the TinyDB journal's syncs

class JournalSyncs:
    """Counts the fdatasyncs of one store's journal."""

    def __init__(self, monkeypatch, store: Store):
        self.store, self.count, real = store, 0, os.fdatasync

        def counting(fd):
            if fd == store._wal_fd:
                self.count += 1
            return real(fd)

        monkeypatch.setattr(os, "fdatasync", counting)


def _read_mark(data) -> int:
    """The highest LSN in wal.mark's two slots (as written; the seals are the opening's business)."""
    raw = (data / "wal.mark").read_bytes()
    return max(json.loads(raw[i:i + 256])["lsn"] for i in range(0, len(raw), 256) if raw[i:i + 256].strip(b"\x00 \n"))


@pytest.mark.tinydb_files
def test_a_block_syncs_the_journal_once_at_its_end_and_marks_only_what_is_synced(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "GROUP_SYNC_S", 3600.0)  # no sync by time inside the block
    s = Store(tmp_path, checkpoint_every=10_000)
    c = new_case(s, "SG-2024-00001")  # synced and marked as every commit outside a block
    before = s._lsn
    assert _read_mark(tmp_path) == before
    syncs = JournalSyncs(monkeypatch, s)
    with s.grouped_commits():
        with s.grouped_commits():  # nested: only the outermost block's end syncs
            for _ in range(30):
                c = s.commit(c, [event()], None, c["version"])
        assert syncs.count <= 1  # the block's first commit syncs unless a sync is GROUP_SYNC_S fresh
        assert _read_mark(tmp_path) <= before + 1  # never ahead of the synced journal
    assert syncs.count <= 2 and s._lsn == before + 30
    assert _read_mark(tmp_path) == s._lsn  # the block's end: journal synced, then the mark
    s.close()


@pytest.mark.tinydb_files
def test_a_block_syncs_by_time_while_it_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "GROUP_SYNC_S", 0.0)  # every commit's sync is due
    s = Store(tmp_path, checkpoint_every=10_000)
    c = new_case(s, "SG-2024-00001")
    syncs = JournalSyncs(monkeypatch, s)
    with s.grouped_commits():
        for _ in range(10):
            c = s.commit(c, [event()], None, c["version"])
            assert _read_mark(tmp_path) == s._lsn
    assert syncs.count == 10
    s.close()


@pytest.mark.tinydb_files
def test_other_threads_commits_are_synced_each_while_a_block_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "GROUP_SYNC_S", 3600.0)
    s = Store(tmp_path, checkpoint_every=10_000)
    a, b = new_case(s, "SG-2024-00001"), new_case(s, "SG-2024-00002")
    syncs = JournalSyncs(monkeypatch, s)
    with s.grouped_commits():
        a = s.commit(a, [event()], None, a["version"])
        a = s.commit(a, [event()], None, a["version"])
        synced = syncs.count
        done = []
        worker = threading.Thread(target=lambda: done.append(s.commit(b, [event()], None, b["version"])))
        worker.start()
        worker.join()
        assert syncs.count == synced + 1 and done  # the other thread's commit waited for its own sync
        assert _read_mark(tmp_path) == s._lsn  # and it covers the block's lines before it
    s.close()


@pytest.mark.tinydb_files
def test_closing_inside_a_block_syncs_and_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "GROUP_SYNC_S", 3600.0)
    s = Store(tmp_path, checkpoint_every=10_000)
    with s.grouped_commits():
        c = new_case(s, "SG-2024-00001")
        c = s.commit(c, [event()], None, c["version"])
        s.close()
    with Store(tmp_path) as s2:
        assert s2.get_case("SG-2024-00001")["version"] == 2 and s2.verify() == []


# ---------------------------------------------------------------- PostgreSQL

@pytest.mark.postgres
def test_postgres_commits_in_a_block_do_not_wait_for_the_flush(pg_url, tmp_path):
    from storage.pg_store import PgStore

    s = PgStore(pg_url, tmp_path / "data")
    try:
        def setting() -> str:
            with s._tx() as conn:
                return conn.execute("SHOW synchronous_commit").fetchone()[0]

        assert setting() == "on"
        with s.grouped_commits():
            assert setting() == "off"
            seen = []
            worker = threading.Thread(target=lambda: seen.append(setting()))  # another thread: as ever
            worker.start()
            worker.join()
            assert seen == ["on"]
            new_case(s, "SG-2024-00001")
        assert setting() == "on"
        assert s.get_case("SG-2024-00001")["version"] == 1
    finally:
        s.close()


@pytest.mark.postgres
def test_postgres_a_block_that_wrote_ends_with_a_commit_that_waits_and_a_quiet_one_writes_nothing(pg_url, tmp_path):
    from storage.pg_store import PgStore

    s = PgStore(pg_url, tmp_path / "data")
    try:
        def flushes() -> str:  # the row the block's last, waiting, commit writes
            with s._conn() as conn:
                return str(conn.execute("SELECT xmin FROM meta WHERE key = 'store_id'").fetchone()[0])

        before = flushes()
        with s.grouped_commits():
            s.get_case("SG-2024-00001")  # reading only
        assert flushes() == before
        with s.grouped_commits():
            new_case(s, "SG-2024-00001")
        assert flushes() != before
    finally:
        s.close()
