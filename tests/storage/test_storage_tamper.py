"""History is tamper-evident: a one-byte change on disk (partition file or journal) is reported with
the case and the event's sequence number."""
from __future__ import annotations

import pytest
from storage_helpers import case_doc, event

from storage import StorageError, Store


def fill(data) -> Store:
    s = Store(data, checkpoint_every=10_000)
    for i in range(1, 4):
        c = s.commit(case_doc(f"SG-2024-{i:05d}"), [event("start", comment="opened")], [], 0)
        for j in range(2, 5):
            c = s.commit(c, [event(comment=f"approved by chief {i}.{j}")], None, c["version"])
    return s


def flip(path, needle: bytes) -> None:
    raw = path.read_bytes()
    assert raw.count(needle) == 1, needle
    i = raw.index(needle) + len(needle) - 1
    changed = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1:]  # one bit of one byte: "3" -> "2"
    path.write_bytes(changed)


def test_flipped_byte_in_a_checkpointed_history_file(tmp_path):
    fill(tmp_path).close()
    [segment] = (tmp_path / "history" / "SG-2024").glob("*.json")
    flip(segment, b"approved by chief 2.3")
    with Store(tmp_path) as s:
        problems = s.verify()
    assert problems, "the change went unnoticed"
    assert any("SG-2024-00002" in p and "第 3 条" in p and "哈希不符" in p for p in problems), problems
    assert all("SG-2024-00002" in p for p in problems), problems  # other cases are intact


def test_flipped_byte_in_the_journal(tmp_path):
    s = fill(tmp_path)
    s._close_files()  # crash before any checkpoint: the events live only in the journal
    flip(tmp_path / "wal.jsonl", b"approved by chief 3.4")
    with Store(tmp_path) as s:
        problems = s.verify()
    assert any("SG-2024-00003" in p and "第 4 条" in p and "哈希不符" in p for p in problems), problems
    assert any("预写日志" in p and "校验和不符" in p for p in problems), problems


def test_flipped_byte_in_the_last_journal_line_is_not_taken_for_a_torn_write(tmp_path):
    s = fill(tmp_path)
    s._close_files()
    flip(tmp_path / "wal.jsonl", b"approved by chief 3.4")  # the very last record
    assert (tmp_path / "wal.jsonl").read_bytes().rstrip(b"\n").endswith(b"}")
    with Store(tmp_path) as s:
        assert any("SG-2024-00003" in p and "第 4 条" in p for p in s.verify())


def test_removed_last_event_is_reported(tmp_path):
    fill(tmp_path).close()
    from tinydb import TinyDB

    [segment] = (tmp_path / "history" / "SG-2024").glob("*.json")
    db = TinyDB(segment)
    events = db.table("events")
    last = max((e for e in events.all() if e["case_id"] == "SG-2024-00001"), key=lambda e: e["seq"])
    events.remove(doc_ids=[last.doc_id])
    db.close()
    with Store(tmp_path) as s:
        problems = s.verify()
    assert any("SG-2024-00001" in p and "截断" in p for p in problems), problems


def test_changed_case_head_is_reported(tmp_path):
    fill(tmp_path).close()
    hot = tmp_path / "hot.json"
    raw = hot.read_bytes()
    head = raw.index(b'"history_head":"') + len(b'"history_head":"')
    hot.write_bytes(raw[:head] + (b"0" if raw[head:head + 1] != b"0" else b"1") + raw[head + 1:])
    with Store(tmp_path) as s:
        assert any("history_head" in p for p in s.verify())


def test_unreadable_history_file_is_reported_not_raised(tmp_path):
    fill(tmp_path).close()
    [segment] = (tmp_path / "history" / "SG-2024").glob("*.json")
    segment.write_bytes(segment.read_bytes()[:-10])
    with Store(tmp_path) as s:
        problems = s.verify()
        assert any("无法读取" in p for p in problems), problems
        with pytest.raises(StorageError):  # a reader is told the file is damaged, never handed a partial history
            s.history("SG-2024-00001")
