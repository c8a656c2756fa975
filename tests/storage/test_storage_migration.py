"""Schema versions of the TinyDB files: a version-1 data dir (made here with stock TinyDB) is migrated on
open; a newer one is refused. (The PostgreSQL schema's versions: test_pg_store.py.)"""
from __future__ import annotations

import json

import pytest
from tinydb import TinyDB

from storage import SCHEMA_VERSION, StorageError, Store, event_hash
from storage._wal import frame
from storage.migrations import MIGRATIONS, migrate_1_to_2


def chain(case_id: str, events: list[dict], head: str = "", start: int = 1) -> tuple[list[dict], str]:
    out = []
    for n, ev in enumerate(events, start):
        ev = {**ev, "case_id": case_id, "seq": n, "prev_hash": head}
        ev["hash"] = head = event_hash(ev)
        out.append(ev)
    return out, head


def make_v1(data) -> None:
    """Version 1: tasks say `dept`, cases have no `history_len`; one more commit still in the journal."""
    data.mkdir()
    (data / "meta.json").write_text(json.dumps({"schema_version": 1}))
    open_events, open_head = chain("SG-2024-00002", [{"type": "start"}, {"type": "submit", "comment": "请审核"}])
    closed_events, closed_head = chain("SG-2023-00001", [{"type": "start"}, {"type": "close"}])
    hot = TinyDB(data / "hot.json")
    hot.table("cases").insert({"id": "SG-2024-00002", "workflow": "sg", "status": "open", "version": 2,
                               "data": {"n": 1}, "history_head": open_head})
    hot.table("tasks").insert({"case_id": "SG-2024-00002", "workflow": "sg", "state": "review",
                               "role": "科长", "dept": "安监科", "user": None, "due": None})
    hot.table("sequences").insert({"_key": "case:SG:2024", "value": 2})
    hot.table("_meta").insert({"lsn": 5})
    hot.close()
    (data / "archive" / "SG-2023").mkdir(parents=True)
    arc = TinyDB(data / "archive" / "SG-2023" / "0000.json")
    arc.table("cases").insert({"id": "SG-2023-00001", "workflow": "sg", "status": "closed", "version": 2,
                               "data": {}, "history_head": closed_head})
    arc.close()
    for pid, evs in (("SG-2024", open_events), ("SG-2023", closed_events)):
        (data / "history" / pid).mkdir(parents=True)
        db = TinyDB(data / "history" / pid / "0000-000000.json")
        db.table("events").insert_multiple(evs)
        db.close()
    # a commit acknowledged by the v1 program but not yet checkpointed
    more, head = chain("SG-2024-00002", [{"type": "approve", "comment": "同意"}], open_head, start=3)
    record = {"lsn": 6, "from": "hot", "events": more,
              "case": {"id": "SG-2024-00002", "workflow": "sg", "status": "open", "version": 3,
                       "data": {"n": 2}, "history_head": head},
              "tasks": [{"case_id": "SG-2024-00002", "workflow": "sg", "state": "sign", "role": "局长",
                         "dept": "局领导", "user": None, "due": None}]}
    (data / "wal.jsonl").write_bytes(frame({"wal": 1, "base": 5, "schema": 1}) + frame(record))


@pytest.mark.tinydb_files
def test_v1_data_dir_is_migrated_on_open(tmp_path):
    data = tmp_path / "v1"
    make_v1(data)
    with Store(data) as s:
        assert json.loads((data / "meta.json").read_text())["schema_version"] == SCHEMA_VERSION == 7
        case = s.get_case("SG-2024-00002")
        assert case["version"] == 3 and case["data"] == {"n": 2} and case["history_len"] == 3
        assert [e["type"] for e in s.history("SG-2024-00002")] == ["start", "submit", "approve"]
        closed = s.get_case("SG-2023-00001")
        assert closed["history_len"] == 2 and closed["status"] == "closed"
        [t] = s.inbox(user="x", roles=[("局长", "局领导")])
        assert t["unit"] == "局领导" and "dept" not in t
        assert s.inbox(user="x", roles=[("局长", "安监科")]) == []
        assert s.next_sequence("case:SG:2024") == 3
        assert s.verify() == []
        c = s.commit(case, [{"type": "sign"}], [], 3)
        assert c["history_len"] == 4
    with Store(data) as s:  # opening again migrates nothing more
        assert s.verify() == []


@pytest.mark.tinydb_files
def test_migration_step_is_idempotent(tmp_path):
    data = tmp_path / "v1"
    make_v1(data)
    Store(data).close()
    before = {p: p.read_bytes() for p in data.rglob("*.json") if p.name != "meta.json"}
    migrate_1_to_2(data)
    after = {p: p.read_bytes() for p in data.rglob("*.json") if p.name != "meta.json"}
    assert before == after


def test_every_version_step_has_a_migration():
    assert set(MIGRATIONS) == set(range(1, SCHEMA_VERSION))


@pytest.mark.tinydb_files
def test_newer_schema_is_refused(tmp_path):
    with Store(tmp_path) as s:
        s.next_sequence("x")
    (tmp_path / "meta.json").write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(StorageError) as err:
        Store(tmp_path)
    assert f"格式版本为 {SCHEMA_VERSION + 1}" in str(err.value) and "升级" in str(err.value)


@pytest.mark.tinydb_files
def test_data_without_meta_is_refused(tmp_path):
    with Store(tmp_path) as s:
        s.next_sequence("x")
    (tmp_path / "meta.json").unlink()
    with pytest.raises(StorageError, match="meta.json"):
        Store(tmp_path)
