"""Unit tests of the storage interface flows/ codes against, on both backends (`place`, `store`: see
conftest.py); the tests marked `tinydb_files` are about the TinyDB store's files and journal."""
from __future__ import annotations

import itertools
import json
import os
import threading

import pytest
from storage_helpers import case_doc, event, open_with_stock_tinydb, task
from tinydb import TinyDB

from storage import SCHEMA_VERSION, ConflictError, NotFound, StorageError, Store, event_hash, partition_of


def new_case(store, case_id, status="open", tasks=None, events=None, **extra):
    return store.commit(case_doc(case_id, status, **extra), events if events is not None else [event("start")],
                        tasks, 0)


# ---------------------------------------------------------------- commit and versions

def test_commit_new_case_sets_version_and_returns_a_copy(store):
    stored = new_case(store, "SG-2024-00001")
    assert stored["version"] == 1 and stored["history_len"] == 1
    stored["data"]["count"] = 99  # the caller's copy, not the store's
    again = store.get_case("SG-2024-00001")
    assert again["data"]["count"] == 0
    again["data"]["count"] = 5
    assert store.get_case("SG-2024-00001")["data"]["count"] == 0


def test_commit_does_not_change_the_callers_dicts(store):
    doc, evs = case_doc("SG-2024-00001"), [event("start")]
    store.commit(doc, evs, [], 0)
    assert "version" not in doc and "hash" not in evs[0]


def test_version_conflict_raises_and_writes_nothing(store):
    c = new_case(store, "SG-2024-00001")
    c = store.commit(c, [event()], None, 1)
    with pytest.raises(ConflictError) as err:
        store.commit({**c, "title": "stale"}, [event(comment="lost")], [task(c["id"])], 1)
    e = err.value
    assert (e.case_id, e.expected, e.actual) == ("SG-2024-00001", 1, 2)
    assert str(e) == "案件 SG-2024-00001 已被他人修改（版本 2 ≠ 1），请刷新后重试"
    assert isinstance(e, StorageError)
    now = store.get_case("SG-2024-00001")
    assert now["version"] == 2 and now["title"] == c["title"]
    assert len(store.history("SG-2024-00001")) == 2
    assert store.inbox(user="x", roles=[("科员", "安监科")]) == []


def test_creating_an_existing_case_is_a_conflict(store):
    new_case(store, "SG-2024-00001")
    with pytest.raises(ConflictError) as err:
        new_case(store, "SG-2024-00001")
    assert err.value.actual == 1 and "已存在" in str(err.value)


def test_commit_refuses_bad_documents(store):
    with pytest.raises(StorageError):
        store.commit({"status": "open"}, [], None, 0)
    with pytest.raises(StorageError):
        store.commit({"id": "SG-2024-00001", "status": "half"}, [], None, 0)
    with pytest.raises(StorageError):
        store.commit({"id": "SG-2024-00001", "status": "open", "when": object()}, [], None, 0)


# ---------------------------------------------------------------- history

def test_history_is_chained(store):
    c = new_case(store, "SG-2024-00001", events=[event("start"), event("assign")])
    c = store.commit(c, [event(comment="意见：同意")], None, c["version"])
    hist = store.history("SG-2024-00001")
    assert [e["seq"] for e in hist] == [1, 2, 3]
    assert hist[0]["prev_hash"] == ""
    for prev, ev in itertools.pairwise(hist):
        assert ev["prev_hash"] == prev["hash"]
    for ev in hist:
        assert ev["case_id"] == "SG-2024-00001"
        assert ev["hash"] == event_hash(ev)
    assert c["history_head"] == hist[-1]["hash"] and c["history_len"] == 3
    assert hist[2]["comment"] == "意见：同意"
    assert store.verify() == []


def test_history_of_unknown_case(store):
    with pytest.raises(NotFound):
        store.history("SG-2024-09999")
    assert store.get_case("SG-2024-09999") is None


def test_a_commit_without_events_keeps_the_chain(store):
    c = new_case(store, "SG-2024-00001")
    c2 = store.commit({**c, "title": "改名"}, [], None, 1)
    assert c2["history_head"] == c["history_head"] and c2["history_len"] == 1
    assert store.verify() == []


# ---------------------------------------------------------------- tasks and inbox

def test_tasks_replace_leave_and_clear(store):
    c = new_case(store, "SG-2024-00001", tasks=[task("SG-2024-00001"), task("SG-2024-00001", role="科长")])
    assert len(store.inbox(user="u", roles=[("科员", "安监科"), ("科长", "安监科")])) == 2
    c = store.commit(c, [], None, c["version"])  # None: leave them
    assert len(store.inbox(user="u", roles=[("科员", "安监科"), ("科长", "安监科")])) == 2
    c = store.commit(c, [], [task("SG-2024-00001", role="局长")], c["version"])  # replace
    assert store.inbox(user="u", roles=[("科员", "安监科"), ("科长", "安监科")]) == []
    assert len(store.inbox(user="u", roles=[("局长", "局领导")])) == 1
    store.commit(c, [], [], c["version"])  # none
    assert store.inbox(user="u", roles=[("局长", "局领导")]) == []


def test_inbox_matching_rules(store):
    new_case(store, "SG-2024-00001", tasks=[task("SG-2024-00001", role="科员", unit=None)])  # any unit
    new_case(store, "SG-2024-00002", tasks=[task("SG-2024-00002", role="科员", unit="安监科")])
    new_case(store, "SG-2024-00003", tasks=[task("SG-2024-00003", role="科员", unit="运管所")])
    new_case(store, "SG-2024-00004", tasks=[task("SG-2024-00004", role=None, user="zhang")])
    new_case(store, "SG-2024-00005", tasks=[task("SG-2024-00005", role="科员", user="li")])  # named: li only

    def ids(**kw):
        return sorted(t["case_id"] for t in store.inbox(**kw))

    assert ids(user="wang", roles=[("科员", "安监科")]) == ["SG-2024-00001", "SG-2024-00002"]
    assert ids(user="wang", roles={"科员": ["运管所"]}) == ["SG-2024-00001", "SG-2024-00003"]
    assert ids(user="wang", roles={"科员": ["运管所", "安监科"]}) == ["SG-2024-00001", "SG-2024-00002",
                                                                     "SG-2024-00003"]
    assert ids(user="zhang", roles=[]) == ["SG-2024-00004"]
    assert ids(user="li", roles=[("科长", "安监科")]) == ["SG-2024-00005"]
    assert ids(user="wang", roles=[("科长", "安监科")]) == []


def test_inbox_sorted_by_due(store):
    new_case(store, "SG-2024-00001", tasks=[task("SG-2024-00001", due=None)])
    new_case(store, "SG-2024-00002", tasks=[task("SG-2024-00002", due="2024-05-01")])
    new_case(store, "SG-2024-00003", tasks=[task("SG-2024-00003", due="2024-04-01")])
    got = [t["case_id"] for t in store.inbox(user="u", roles=[("科员", "安监科")])]
    assert got == ["SG-2024-00003", "SG-2024-00002", "SG-2024-00001"]


def test_inbox_merges_what_the_user_and_each_role_hold_in_one_order(store):
    """The inbox is the head of several sorted lists (the user's, each role's in each unit): every
    page, however cut, is the same order as the whole, and moved tasks leave the list they were in."""
    holders = [dict(role=None, user="wang"), dict(role="科员", unit=None), dict(role="科员", unit="安监科"),
               dict(role="科长", unit="安监科"), dict(role="局长", unit="局领导")]
    cases = {}
    for i in range(1, 41):
        cid = f"SG-2024-{i:05d}"
        due = None if i % 7 == 0 else f"2024-05-{(i * 13) % 28 + 1:02d}"
        cases[cid] = new_case(store, cid, tasks=[task(cid, due=due, **holders[i % len(holders)])])
    roles = [("科员", "安监科"), ("科长", "安监科")]
    whole = store.inbox(user="wang", roles=roles)
    assert len(whole) == 32
    assert [t["due"] is None for t in whole] == sorted(t["due"] is None for t in whole)
    assert [(t["due"] or "", t["case_id"]) for t in whole if t["due"]] == sorted(
        (t["due"], t["case_id"]) for t in whole if t["due"])
    for n in (0, 1, 5, 31, 32, 100):
        assert store.inbox(user="wang", roles=roles, limit=n) == whole[:n]
    moved = whole[0]["case_id"]  # to the 局长: out of this inbox, the rest unchanged
    store.commit(cases[moved], [], [task(moved, role="局长", unit="局领导")], cases[moved]["version"])
    assert store.inbox(user="wang", roles=roles) == whole[1:]
    assert store.inbox(user="wang", roles=roles, limit=3) == whole[1:4]


@pytest.mark.tinydb_files
def test_inbox_rows_are_read_only_and_copies_are_not(tmp_path):
    import copy

    with Store(tmp_path) as s:
        new_case(s, "SG-2024-00001", tasks=[task("SG-2024-00001")])
        [row] = s.inbox(user="u", roles=[("科员", "安监科")])
        for change in (lambda: row.__setitem__("state", "x"), lambda: row.pop("state"), lambda: row.update(a=1)):
            with pytest.raises(TypeError, match="read-only"):
                change()
        mine = copy.deepcopy(row)
        mine["state"] = "mine"
        assert type(mine) is dict and json.dumps(row) and {**row}["state"] != "mine"
    with Store(tmp_path) as s:  # read back from the journal: frozen too
        with pytest.raises(TypeError):
            s.inbox(user="u", roles=[("科员", "安监科")])[0]["due"] = None
        s.checkpoint()
    with Store(tmp_path) as s:  # read from hot.json (frozen when first handed out, not when read)
        [mine] = s.tasks_of("SG-2024-00001")
        mine["state"] = "mine"  # a copy, before and after the row was frozen
        [row] = s.inbox(user="u", roles=[("科员", "安监科")])
        with pytest.raises(TypeError, match="read-only"):
            row["actions"].append("x")
        assert row["state"] == "draft" and s.inbox(user="u", roles=[("科员", "安监科")])[0] is row
        [mine] = s.tasks_of("SG-2024-00001")
        mine["actions"].append("x")
        assert type(mine) is dict and row["actions"] == ["submit"]


def test_cases_due_are_the_open_cases_with_a_passed_pending_deadline(place):
    def with_deadlines(cid, *deadlines, status="open"):
        return {**case_doc(cid, status), "deadlines": [{"id": f"d{n}", "status": st, "due": due}
                                                       for n, (st, due) in enumerate(deadlines)]}

    with place.open() as s:
        s.commit(with_deadlines("SG-2024-00001", ("pending", "2024-05-01T23:59:59")), [event()], None, 0)
        s.commit(with_deadlines("SG-2024-00002", ("fired", "2024-04-01T23:59:59"),
                                ("pending", "2024-06-01T23:59:59")), [event()], None, 0)
        s.commit(with_deadlines("SG-2024-00003", ("pending", "2024-03-01T23:59:59"), status="closed"),
                 [event()], None, 0)
        third = s.commit(with_deadlines("SG-2024-00004", ("pending", None), ("pending", "2024-04-15T09:00:00")),
                         [event()], None, 0)
        s.commit(case_doc("SG-2024-00005"), [event()], None, 0)  # no deadlines at all
        assert s.cases_due("2024-04-30T00:00:00") == ["SG-2024-00004"]
        assert s.cases_due("2024-05-01T23:59:59") == ["SG-2024-00001", "SG-2024-00004"]
        assert s.cases_due("2025-01-01T00:00:00") == ["SG-2024-00001", "SG-2024-00002", "SG-2024-00004"]
        done = {**third, "deadlines": [{"id": "d1", "status": "escalated", "due": "2024-04-15T09:00:00"}]}
        s.commit(done, [event()], None, third["version"])  # acted on: no longer due
        assert s.cases_due("2025-01-01T00:00:00") == ["SG-2024-00001", "SG-2024-00002"]
    with place.open() as s:  # reopened: the same answer
        assert s.cases_due("2025-01-01T00:00:00") == ["SG-2024-00001", "SG-2024-00002"]


# ---------------------------------------------------------------- counters

def test_sequences_are_durable_and_independent(place):
    with place.open() as s:
        assert [s.next_sequence("case:SG:2024") for _ in range(3)] == [1, 2, 3]
        assert s.next_sequence("发文字号:安监:2024") == 1
    with place.open() as s:
        assert s.next_sequence("case:SG:2024") == 4
        assert s.next_sequence("发文字号:安监:2024") == 2


# ---------------------------------------------------------------- small tables

def test_put_get_all_and_optimistic_versions(store):
    d = store.put("definitions", "sg@1", {"name": "sg", "version": 1})
    assert d["_version"] == 1 and d["_key"] == "sg@1"
    assert store.get("definitions", "sg@1")["name"] == "sg"
    assert store.get("definitions", "nope") is None
    store.put("definitions", "sg@1", {"name": "sg", "version": 1, "x": 1}, expected_version=1)
    with pytest.raises(ConflictError) as err:
        store.put("definitions", "sg@1", {"name": "stale"}, expected_version=1)
    assert err.value.actual == 2 and "记录 definitions/sg@1" in str(err.value)
    store.put("definitions", "sg@1", {"name": "forced"})  # no expected_version: last writer wins
    assert store.get("definitions", "sg@1") == {"name": "forced", "_key": "sg@1", "_version": 3}
    with pytest.raises(ConflictError):
        store.put("effects", "e1", {"a": 1}, expected_version=5)
    store.put("effects", "e1", {"a": 1}, expected_version=0)
    store.put("effects", "e2", {"a": 2})
    assert sorted(d["a"] for d in store.all("effects")) == [1, 2]
    assert store.all("missing") == []
    kept = store.select("effects", lambda d: d["a"] == 2)               # only the matches, copied
    assert kept == [{"a": 2, "_key": "e2", "_version": 1}]
    kept[0]["a"] = 99
    assert store.get("effects", "e2")["a"] == 2 and store.select("missing", lambda d: True) == []
    for bad in ("cases", "tasks", "sequences", "_meta", ""):
        with pytest.raises(StorageError):
            store.put(bad, "k", {})


def test_get_cases_reads_several_in_the_order_asked_and_copies_them(store):
    for n in (1, 2, 3):
        new_case(store, f"SG-2024-0003{n}", status="closed" if n == 2 else "open")
    got = store.get_cases(["SG-2024-00033", "SG-2024-00099", "SG-2024-00031", "SG-2024-00032"])
    assert [c["id"] for c in got] == ["SG-2024-00033", "SG-2024-00031", "SG-2024-00032"]  # a missing one left out
    got[0]["data"]["count"] = 7
    assert store.get_case("SG-2024-00033")["data"]["count"] == 0 and store.get_cases([]) == []

def test_records_created_with_a_commit_are_written_with_it_once(place):
    """What a notify effect done inside its case's commit writes: the message record in the same write."""
    with place.open() as s:
        c = new_case(s, "SG-2024-00020")
        s.put("messages", "old", {"text": "已读过", "read_by": ["u1"]})
        c = s.commit({**c, "title": "改"}, [event("act")], None, c["version"],
                     new_records=[("messages", "m1", {"text": "请办理", "read_by": []}),
                                  ("messages", "old", {"text": "重复", "read_by": []})])
        assert c["version"] == 2
        assert s.get("messages", "m1") == {"text": "请办理", "read_by": [], "_key": "m1", "_version": 1}
        # a key there already is left as it is: a second delivery clears nobody's read mark
        assert s.get("messages", "old") == {"text": "已读过", "read_by": ["u1"], "_key": "old", "_version": 1}
        with pytest.raises(ConflictError):  # a stale commit writes none of its records either
            s.commit({**c, "title": "旧"}, [event("act")], None, 1, new_records=[("messages", "m2", {"a": 1})])
        assert s.get("messages", "m2") is None and s.get_case("SG-2024-00020")["title"] == "改"
        for bad in ([("cases", "k", {})], [("messages", "k", {}), ("messages", "k", {})], [("messages", "k")]):
            with pytest.raises(StorageError):
                s.commit({**c, "title": "坏"}, [event("act")], None, c["version"], new_records=bad)
        assert s.get_case("SG-2024-00020")["version"] == 2 and s.get("messages", "k") is None
        assert s.verify() == []
    with place.open() as s:  # durable with the commit, and sealed
        assert s.get("messages", "m1")["text"] == "请办理" and s.verify() == []


def test_versions_tell_a_table_changed_without_reading_its_records(place):
    with place.open() as s:
        assert s.versions("accounts") == {}
        s.put("accounts", "u1", {"name": "张三"})
        s.put("accounts", "u2", {"name": "李四"})
        s.put("accounts", "u1", {"name": "张三丰"})
        s.put("messages", "m1", {"text": "不相干"})
        assert s.versions("accounts") == {"u1": 2, "u2": 1} and s.versions("_meta") == {}
    with place.open() as s:  # what another process sees
        assert s.versions("accounts") == {"u1": 2, "u2": 1}


# ---------------------------------------------------------------- archive and lazy partitions

def test_closing_moves_the_case_to_the_archive(place):
    s = place.open()
    c = new_case(s, "SG-2024-00012", tasks=[task("SG-2024-00012")])
    new_case(s, "SG-2024-00013")
    c = s.commit({**c, "status": "closed"}, [event("close")], [task("SG-2024-00012")], c["version"])
    assert c["status"] == "closed"
    assert s.inbox(user="u", roles=[("科员", "安监科")]) == []  # a closed case holds no tasks
    assert [x["id"] for x in s.open_cases()] == ["SG-2024-00013"]
    assert [x["id"] for x in s.cases(status="closed")] == ["SG-2024-00012"]
    assert sorted(x["id"] for x in s.cases()) == ["SG-2024-00012", "SG-2024-00013"]
    assert [x["id"] for x in s.cases(include_closed=False)] == ["SG-2024-00013"]
    assert [x["id"] for x in s.cases(workflow="sg", status="closed")] == ["SG-2024-00012"]
    assert list(s.cases(workflow="other")) == []
    s.close()
    with place.open() as s:
        assert s.get_case("SG-2024-00012")["status"] == "closed"
        assert len(s.history("SG-2024-00012")) == 2
        assert s.verify() == []


@pytest.mark.tinydb_files
def test_the_archive_is_a_stock_tinydb_file(tmp_path):
    with Store(tmp_path) as s:
        c = new_case(s, "SG-2024-00012", tasks=[task("SG-2024-00012")])
        new_case(s, "SG-2024-00013")
        s.commit({**c, "status": "closed"}, [event("close")], [task("SG-2024-00012")], c["version"])
    files = open_with_stock_tinydb(tmp_path)
    archive = str(tmp_path / "archive" / "SG-2024" / "0000.json")
    assert files[archive]["cases"] == 1
    assert files[str(tmp_path / "open" / "SG-2024" / "0000.json")]["cases"] == 1
    assert "cases" not in files[str(tmp_path / "hot.json")]  # its tasks and due times only
    db = TinyDB(archive)
    assert db.table("cases").all()[0]["id"] == "SG-2024-00012"
    db.close()


def test_a_closed_case_can_be_updated_and_reopened(store):
    c = new_case(store, "SG-2024-00001")
    c = store.commit({**c, "status": "closed"}, [event("close")], None, 1)
    c = store.commit({**c, "effects": ["done"]}, [], None, 2)  # update while closed
    assert store.get_case(c["id"])["effects"] == ["done"]
    c = store.commit({**c, "status": "open"}, [event("reopen")], [task(c["id"])], 3)
    assert [x["id"] for x in store.open_cases()] == ["SG-2024-00001"]
    assert list(store.cases(status="closed")) == []
    assert len(store.inbox(user="u", roles=[("科员", "安监科")])) == 1
    store.checkpoint()
    assert store.verify() == []


@pytest.mark.tinydb_files
def test_archive_and_history_load_lazily(tmp_path):
    with Store(tmp_path) as s:
        for i in range(1, 6):
            c = new_case(s, f"SG-2024-{i:05d}")
            if i % 2:
                s.commit({**c, "status": "closed"}, [event("close")], None, 1)
        new_case(s, "SG-2023-00001")
    s = Store(tmp_path)
    try:
        assert not any(p.loaded for p in s._parts.values())  # only hot.json at open: no case is read
        assert s.get_case("SG-2023-00001")["status"] == "open"
        assert {p.name for p in s._parts.values() if p.loaded} == {"open/SG-2023/0000.json"}
        assert len(list(s.open_cases())) == 3
        assert {p.name for p in s._parts.values() if p.loaded} == {"open/SG-2023/0000.json", "open/SG-2024/0000.json"}
        assert s.get_case("SG-2024-00003")["status"] == "closed"
        loaded = {p.name for p in s._parts.values() if p.loaded}
        assert loaded == {"open/SG-2023/0000.json", "open/SG-2024/0000.json", "archive/SG-2024/0000.json"}
        s.history("SG-2024-00003")
        loaded = {p.name for p in s._parts.values() if p.loaded}
        assert any(n.startswith("history/SG-2024/") for n in loaded)
        assert not any(n.startswith("history/SG-2023/") for n in loaded)
    finally:
        s.close()


def test_partition_and_shard_of_ids():
    assert partition_of("SG-2024-00012") == "SG-2024"
    assert partition_of("ACC-2025-12345") == "ACC-2025"
    assert partition_of("odd") == "_other"
    assert "/" not in partition_of("a/b-1")


# ---------------------------------------------------------------- durability: journal, checkpoint, reopen

def test_reopen_after_a_crash_loses_nothing_acknowledged(place):
    """TinyDB: nothing checkpointed, the journal is replayed; PostgreSQL: the client's connections are gone."""
    s = place.open(checkpoint_every=10_000)
    c = new_case(s, "SG-2024-00001", tasks=[task("SG-2024-00001")])
    for _ in range(5):
        c = s.commit(c, [event()], None, c["version"])
    s.put("settings", "k", {"v": 1})
    s.next_sequence("n")
    place.crash(s)  # TinyDB: nothing checkpointed, only the journal has it
    assert place.pg or not (place.data_dir / "hot.json").exists()
    with place.open() as s2:
        assert s2.get_case("SG-2024-00001")["version"] == 6
        assert len(s2.history("SG-2024-00001")) == 6
        assert s2.get("settings", "k")["v"] == 1
        assert s2.next_sequence("n") == 2
        assert len(s2.inbox(user="u", roles=[("科员", "安监科")])) == 1
        assert s2.verify() == []


@pytest.mark.tinydb_files
def test_checkpoint_writes_tinydb_files_and_empties_the_journal(tmp_path):
    s = Store(tmp_path, checkpoint_every=10_000)
    new_case(s, "SG-2024-00001")
    wal_before = (tmp_path / "wal.jsonl").stat().st_size
    s.checkpoint()
    assert (tmp_path / "wal.jsonl").stat().st_size < wal_before
    assert len((tmp_path / "wal.jsonl").read_bytes().splitlines()) == 1  # the header only
    files = open_with_stock_tinydb(tmp_path)
    assert files[str(tmp_path / "open" / "SG-2024" / "0000.json")]["cases"] == 1
    assert files[str(tmp_path / "history" / "SG-2024" / "0000-000000.json")]["events"] == 1
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["schema_version"] == SCHEMA_VERSION == 7
    s.close()


@pytest.mark.tinydb_files
def test_checkpoint_rewrites_only_dirty_partitions(tmp_path):
    with Store(tmp_path) as s:
        for i in range(1, 4):
            c = new_case(s, f"SG-2023-{i:05d}")
            s.commit({**c, "status": "closed"}, [event("close")], None, 1)
        new_case(s, "SG-2024-00001")
    archive = tmp_path / "archive" / "SG-2023" / "0000.json"
    old_history = sorted((tmp_path / "history" / "SG-2023").glob("*.json"))
    stamp = {p: p.stat().st_mtime_ns for p in [archive, *old_history]}
    with Store(tmp_path) as s:
        c = s.get_case("SG-2024-00001")
        s.commit(c, [event()], None, 1)
        s.checkpoint()
    assert {p: p.stat().st_mtime_ns for p in stamp} == stamp


@pytest.mark.tinydb_files
def test_automatic_checkpoints(tmp_path):
    with Store(tmp_path, checkpoint_every=3) as s:
        c = new_case(s, "SG-2024-00001")
        for _ in range(10):
            c = s.commit(c, [event()], None, c["version"])
        assert s.wait_for_checkpoints(30)  # they run in a thread of their own
        assert s._wal_gen >= 2
        assert s._wal_records < 3
    with Store(tmp_path) as s:
        assert s.get_case("SG-2024-00001")["version"] == 11
        assert s.verify() == []


@pytest.mark.tinydb_files
def test_a_large_hot_file_waits_for_a_journal_of_an_eighth_of_its_size(tmp_path):
    from storage.store import JOURNAL_SHARE

    with Store(tmp_path, checkpoint_every=3) as s:
        for n in range(1, 41):  # open cases' tasks with some bulk: hot.json grows past what 3 commits journal
            new_case(s, f"SG-2024-{n:05d}", tasks=[{**task(f"SG-2024-{n:05d}"), "notes": "备注" * 400}])
        s.checkpoint()
        hot = (tmp_path / "hot.json").stat().st_size
        assert s._hot_bytes == hot
        c, gen, commits = s.get_case("SG-2024-00001"), s._wal_gen, 0
        while s._wal_offset * JOURNAL_SHARE < hot:
            assert not s._checkpoint_due()  # 3 records may be in, the journal is not yet an eighth
            c = s.commit(c, [event()], None, c["version"])
            commits += 1
        assert commits > 3
        assert s.wait_for_checkpoints(30) and s._wal_gen == gen + 1  # the commit that made it due asked for it


@pytest.mark.tinydb_files
def test_commits_go_on_while_a_checkpoint_writes(tmp_path, monkeypatch):
    """The automatic checkpoint writes the files in its own thread: commits made meanwhile neither wait
    for it nor get lost, the new journal generation carries them, and a crash after it loses nothing."""
    from storage._parts import Shot

    gate, writing = threading.Event(), threading.Event()
    encode = Shot.encode

    def held_encode(self):
        writing.set()
        gate.wait(60)
        yield from encode(self)

    monkeypatch.setattr(Shot, "encode", held_encode)
    s = Store(tmp_path, checkpoint_every=5)
    c = new_case(s, "SG-2024-00001", tasks=[task("SG-2024-00001")])
    for _ in range(4):
        c = s.commit(c, [event()], None, c["version"])
    assert writing.wait(30), "the fifth record should have started a checkpoint"
    other = Store(tmp_path)  # a second process's view, following the generations
    for _ in range(20):  # while the checkpoint is held up in the middle of writing hot.json
        c = s.commit(c, [event()], None, c["version"])
    assert s._wal_gen == 1, "the commits must not have waited for the checkpoint"
    assert other.get_case("SG-2024-00001")["version"] == 25
    gate.set()
    assert s.wait_for_checkpoints(60)
    assert s._wal_gen >= 2
    assert json.loads((tmp_path / "hot.json").read_bytes())["_meta"]["1"]["lsn"] >= 5
    c = s.commit(c, [event()], None, c["version"])
    assert other.get_case("SG-2024-00001")["version"] == 26
    assert len(other.history("SG-2024-00001")) == 26
    other.close()
    s._close_files()  # the process dies: no checkpoint on the way out
    with Store(tmp_path) as again:
        assert again.get_case("SG-2024-00001")["version"] == 26
        assert len(again.history("SG-2024-00001")) == 26
        assert len(again.inbox(user="u", roles=[("科员", "安监科")])) == 1
        assert again.verify() == []


@pytest.mark.tinydb_files
def test_torn_last_journal_line_is_ignored(tmp_path):
    s = Store(tmp_path, checkpoint_every=10_000)
    c = new_case(s, "SG-2024-00001")
    s._close_files()
    with open(tmp_path / "wal.jsonl", "ab") as fh:
        fh.write(b'1234abcd {"lsn":99,"case":{"id":"SG-2024-0')  # a write cut short by a crash
    with Store(tmp_path) as s2:
        assert s2.get_case("SG-2024-00001")["version"] == 1
        c = s2.commit(c, [event()], None, 1)  # appends after cutting the torn bytes off
        assert s2.verify() == []
    with Store(tmp_path) as s3:
        assert s3.get_case("SG-2024-00001")["version"] == 2
        assert s3.verify() == []


@pytest.mark.tinydb_files
def test_leftover_temporary_files_are_removed(tmp_path):
    with Store(tmp_path) as s:
        new_case(s, "SG-2024-00001")
    (tmp_path / ".hot.json.123.tmp").write_text("{")
    (tmp_path / "history" / "SG-2024" / ".000000.json.7.tmp").write_text("{")
    with Store(tmp_path) as s:
        assert s.verify() == []
    assert not list(tmp_path.glob(".*.tmp")) and not list((tmp_path / "history").glob("*/.*.tmp"))


def test_closed_store_refuses_work(place):
    s = place.open()
    s.close()
    s.close()  # twice is fine
    with pytest.raises(StorageError):
        s.get_case("SG-2024-00001")


# ---------------------------------------------------------------- several stores on one directory

def test_two_stores_see_each_other_across_checkpoints(place):
    a = place.open(checkpoint_every=2)
    b = place.open(checkpoint_every=2)
    try:
        c = new_case(a, "SG-2024-00001", tasks=[task("SG-2024-00001")])
        assert b.get_case("SG-2024-00001")["version"] == 1
        for _ in range(3):  # a checkpoints in between: b must follow the new journal generation
            c = a.commit(c, [event()], None, c["version"])
        assert b.get_case("SG-2024-00001")["version"] == 4
        c = b.commit(b.get_case("SG-2024-00001"), [event()], None, 4)
        assert a.get_case("SG-2024-00001")["version"] == 5
        for _ in range(30):  # many generations behind: b reloads from the files
            c = a.commit(c, [event()], None, c["version"])
        assert b.get_case("SG-2024-00001")["version"] == 35
        assert len(b.history("SG-2024-00001")) == 35
        assert len(b.inbox(user="u", roles=[("科员", "安监科")])) == 1
        assert a.next_sequence("s") == 1 and b.next_sequence("s") == 2 and a.next_sequence("s") == 3
        assert a.verify() == [] and b.verify() == []
    finally:
        a.close()
        b.close()


# ---------------------------------------------------------------- files

def test_save_file_and_file_path(store):
    path = store.save_file("documents/SG-2024-00001/通知书.docx", b"PK\x03\x04data")
    assert path == store.file_path("documents/SG-2024-00001/通知书.docx")
    assert path.read_bytes() == b"PK\x03\x04data"
    assert path.is_relative_to(store.dir / "files")
    store.save_file("documents/SG-2024-00001/通知书.docx", b"v2")
    assert path.read_bytes() == b"v2"
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    for bad in ("../escape.txt", "/etc/passwd", "a/../../b"):
        with pytest.raises(StorageError):
            store.file_path(bad)


# ---------------------------------------------------------------- bulk load

def test_bulk_load(place):
    cases, events, tasks = [], [], []
    for i in range(1, 2501):
        cid = f"SG-2024-{i:05d}"
        cases.append(case_doc(cid, "closed" if i % 4 else "open"))
        events += [{**event("start"), "case_id": cid}, {**event("act", comment=f"第{i}号"), "case_id": cid}]
        if i % 4 == 0:
            tasks.append(task(cid))
    with place.open() as s:
        new_case(s, "SG-2023-00001")
        assert s.bulk_load(cases, events, tasks, sequences={"case:SG:2024": 2500}) == 2500
        assert len(list(s.open_cases())) == 626
        assert len(s.inbox(user="u", roles=[("科员", "安监科")])) == 625
        assert s.next_sequence("case:SG:2024") == 2501
        c = s.get_case("SG-2024-01000")
        assert c["version"] == 1 and c["history_len"] == 2
        c = s.commit(c, [event()], [], 1)  # a normal commit after it
        assert [e["seq"] for e in s.history("SG-2024-01000")] == [1, 2, 3]
        with pytest.raises(StorageError):
            s.bulk_load([case_doc("SG-2024-00001")], [])
        assert s.verify() == []
    if not place.pg:  # the TinyDB files: closed cases in archive shards of 1000 case numbers
        shards = sorted(p.name for p in (place.data_dir / "archive" / "SG-2024").glob("*.json"))
        assert shards == ["0000.json", "0001.json", "0002.json"]
        assert os.path.exists(place.data_dir / "hot.json")
    with place.open() as s:
        assert len(list(s.cases(status="closed"))) == 1875
        assert s.verify() == []


@pytest.mark.tinydb_files
def test_lost_journal_numbers_on_from_the_files(tmp_path):
    with Store(tmp_path) as s:
        c = new_case(s, "SG-2024-00001")
        s.commit({**c, "status": "closed"}, [event("close")], None, 1)
        new_case(s, "SG-2024-00002")
    for p in tmp_path.glob("wal*.jsonl"):
        p.unlink()
    with Store(tmp_path) as s:
        c = s.get_case("SG-2024-00001")
        c = s.commit({**c, "status": "closed", "note": "after"}, [event()], None, 2)
        s2 = Store(tmp_path)  # replays the new journal over files written before it
        assert s2.get_case("SG-2024-00001")["note"] == "after"
        s2.close()
        assert s.verify() == []


@pytest.mark.tinydb_files
def test_files_equal_memory_after_incremental_checkpoints(tmp_path):
    import json as _json

    with Store(tmp_path, checkpoint_every=4) as s:
        cases = [new_case(s, f"SG-2024-{i:05d}", tasks=[task(f"SG-2024-{i:05d}")]) for i in range(1, 8)]
        for round_ in range(3):
            for i, c in enumerate(cases):
                status = "closed" if (i + round_) % 3 == 0 else "open"
                cases[i] = s.commit({**c, "status": status, "round": round_}, [event()],
                                    [task(c["id"], state=f"s{round_}")], c["version"])
        s.checkpoint()
        for part in [s.hot, *s._parts.values()]:
            if part.loaded:
                assert _json.loads(part.path.read_bytes()) == part.tables, part.name


def test_inbox_limit(store):
    for i in range(1, 6):
        new_case(store, f"SG-2024-{i:05d}", tasks=[task(f"SG-2024-{i:05d}", due=f"2024-05-0{6 - i}")])
    got = store.inbox(user="u", roles=[("科员", "安监科")], limit=2)
    assert [t["case_id"] for t in got] == ["SG-2024-00005", "SG-2024-00004"]
    assert len(store.inbox(user="u", roles=[("科员", "安监科")])) == 5


def test_a_refused_bulk_load_writes_nothing(place):
    """Found with the seals: a refused bulk load used to checkpoint and start a journal generation
    10,000 numbers on before it looked at the cases (and the sealed state no longer matched)."""
    with place.open() as s:
        new_case(s, "SG-2024-00001")
        before = place.snapshot()
        for cases, events in (([case_doc("SG-2024-00001")], []), ([case_doc("SG-2024-00002")],
                                                                   [{**event(), "case_id": "SG-2024-00003"}])):
            with pytest.raises(StorageError):
                s.bulk_load(cases, events)
        assert place.snapshot() == before
        assert s.verify() == []


@pytest.mark.tinydb_files
def test_a_checkpoint_flushes_a_big_file_as_it_writes_it(tmp_path, monkeypatch):
    """So that a commit's fdatasync meanwhile (ext4 data=ordered) waits for a few MB, not a whole hot.json."""
    import storage.store as store_module

    monkeypatch.setattr(store_module, "SAVE_SYNC_BYTES", 4096)
    monkeypatch.setattr(store_module.Shot, "PIECE", 5)  # documents per piece written: a check after each
    s = Store(tmp_path, checkpoint_every=10_000)
    for i in range(1, 41):
        new_case(s, f"SG-2024-{i:05d}", tasks=[{**task(f"SG-2024-{i:05d}"), "notes": "备注" * 40}])
    synced, real = [], os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    s.checkpoint()
    size = (tmp_path / "hot.json").stat().st_size
    partial = [p for p in synced if ".hot.json." in p]
    assert size > 3 * 4096 and len(partial) >= 2, (size, synced)  # flushed on the way, besides its final fsync
    s.close()
    with Store(tmp_path) as again:
        assert len(list(again.open_cases())) == 40 and again.verify() == []
