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


# ---------------------------------------------------------------- edits the chain alone does not see
# (issue 9) Each test below changes the data directory the way someone with write access to it but
# without the seal key could, and checks that `verify()` names what happened.

import json  # noqa: E402

from storage import event_hash  # noqa: E402


def load(path) -> dict:
    return json.loads(path.read_bytes())


def save(path, tables: dict) -> None:
    path.write_bytes(json.dumps(tables, ensure_ascii=False, separators=(",", ":")).encode())


def hot_case(tables: dict, cid: str) -> dict:
    return next(d for d in tables["cases"].values() if d["id"] == cid)


def segment_of(data):
    [segment] = (data / "history" / "SG-2024").glob("*.json")
    return segment


def chain_of(tables: dict, cid: str) -> list[dict]:
    return sorted((e for e in tables["events"].values() if e["case_id"] == cid), key=lambda e: e["seq"])


def relink(events: list[dict], renumber: bool) -> str:
    """Recompute prev_hash and hash (and seq when `renumber`) along `events` as the store would."""
    prev = ""
    for n, ev in enumerate(events, 1):
        if renumber:
            ev["seq"] = n
        ev["prev_hash"] = prev
        ev.pop("hash", None)
        prev = ev["hash"] = event_hash(ev)
    return prev


def verify(data) -> list[str]:
    with Store(data) as s:
        return s.verify()


def test_edited_open_case_data_is_caught_by_its_seal(tmp_path):
    fill(tmp_path).close()
    tables = load(tmp_path / "hot.json")
    hot_case(tables, "SG-2024-00002")["data"]["count"] = 7
    save(tmp_path / "hot.json", tables)
    problems = verify(tmp_path)
    assert any("SG-2024-00002" in p and "封印不符" in p and "hot.json" in p for p in problems), problems
    assert all("SG-2024-00001" not in p and "SG-2024-00003" not in p for p in problems), problems


def test_edited_open_case_state_is_caught_by_its_seal(tmp_path):
    fill(tmp_path).close()
    tables = load(tmp_path / "hot.json")
    hot_case(tables, "SG-2024-00001")["active"] = ["approved"]
    save(tmp_path / "hot.json", tables)
    assert any("SG-2024-00001" in p and "封印不符" in p for p in verify(tmp_path))


def test_edited_archived_case_is_caught_by_its_seal(tmp_path):
    s = fill(tmp_path)
    c = s.get_case("SG-2024-00003")
    s.commit({**c, "status": "closed"}, [event("close")], None, c["version"])
    s.close()
    [shard] = (tmp_path / "archive" / "SG-2024").glob("*.json")
    tables = load(shard)
    hot_case(tables, "SG-2024-00003")["data"]["count"] = 99
    save(shard, tables)
    problems = verify(tmp_path)
    assert any("SG-2024-00003" in p and "封印不符" in p and "归档" in p for p in problems), problems


def test_a_deleted_case_with_its_events_is_caught_by_the_state_seal(tmp_path):
    fill(tmp_path).close()
    tables = load(tmp_path / "hot.json")
    tables["cases"] = {k: d for k, d in tables["cases"].items() if d["id"] != "SG-2024-00002"}
    save(tmp_path / "hot.json", tables)
    segment = segment_of(tmp_path)
    history = load(segment)
    history["events"] = {k: e for k, e in history["events"].items() if e["case_id"] != "SG-2024-00002"}
    save(segment, history)
    problems = verify(tmp_path)
    assert any("整体封印不符" in p and "删除" in p for p in problems), problems


def test_a_rolled_back_case_is_caught_by_the_state_seal(tmp_path):
    """An older, validly sealed copy of a case and its shorter history put back (e.g. from an old journal)."""
    s = fill(tmp_path)
    s.checkpoint()
    before_hot, before_history = (tmp_path / "hot.json").read_bytes(), segment_of(tmp_path).read_bytes()
    c = s.get_case("SG-2024-00001")
    s.commit(c, [event(comment="驳回")], None, c["version"])
    s.close()
    (tmp_path / "hot.json").write_bytes(before_hot)
    segment_of(tmp_path).write_bytes(before_history)
    problems = verify(tmp_path)
    assert any("整体封印" in p for p in problems), problems


def test_a_consistently_forged_chain_is_caught_by_the_seal(tmp_path):
    """Every hash recomputed after the change, the case's head and length too: only the seal can tell."""
    fill(tmp_path).close()
    segment = segment_of(tmp_path)
    history = load(segment)
    events = chain_of(history, "SG-2024-00002")
    events[1]["comment"] = "局长未同意"
    head = relink(events, renumber=False)
    save(segment, history)
    tables = load(tmp_path / "hot.json")
    hot_case(tables, "SG-2024-00002")["history_head"] = head
    save(tmp_path / "hot.json", tables)
    problems = verify(tmp_path)
    assert problems == ["案件 SG-2024-00002：封印不符，在办数据 hot.json 中的案件记录在本程序之外被改动",
                        "整体封印不符：有案件、记录或计数器在本程序之外被删除、恢复为旧版本或添加"
                        "（若上面没有逐条指出，即是整条被删除或换回了旧的副本）"], problems


def test_a_rehashed_middle_event_breaks_the_link_to_the_next(tmp_path):
    """The event's own hash recomputed, nothing after it: only the prev_hash link check sees it."""
    fill(tmp_path).close()
    segment = segment_of(tmp_path)
    history = load(segment)
    ev = chain_of(history, "SG-2024-00001")[1]
    ev["comment"] = "approved by nobody"
    ev.pop("hash")
    ev["hash"] = event_hash(ev)
    save(segment, history)
    problems = verify(tmp_path)
    assert problems == ["案件 SG-2024-00001 第 3 条事件：prev_hash 与前一条事件的哈希不符（链条断开）"], problems


def test_a_middle_event_spliced_out_and_the_rest_relinked_leaves_a_gap_in_the_numbers(tmp_path):
    """The event removed, the ones after it relinked (their numbers kept) and the case's length and head
    fixed: only the seq check (and the seal) see it."""
    fill(tmp_path).close()
    segment = segment_of(tmp_path)
    history = load(segment)
    events = chain_of(history, "SG-2024-00003")
    gone = events.pop(1)
    history["events"] = {k: e for k, e in history["events"].items() if e is not gone}
    head = relink(events, renumber=False)
    save(segment, history)
    tables = load(tmp_path / "hot.json")
    case = hot_case(tables, "SG-2024-00003")
    case["history_head"], case["history_len"] = head, len(events)
    save(tmp_path / "hot.json", tables)
    problems = verify(tmp_path)
    assert "案件 SG-2024-00003 第 3 条事件：序号应为 2（事件缺失、重复或序号被改动）" in problems, problems
    assert any("SG-2024-00003" in p and "封印不符" in p for p in problems), problems


def test_a_spliced_in_event_from_another_case_is_caught(tmp_path):
    """An event of case 1 copied into case 2's chain as its third, the chain renumbered and relinked."""
    fill(tmp_path).close()
    segment = segment_of(tmp_path)
    history = load(segment)
    events = chain_of(history, "SG-2024-00002")
    foreign = {**chain_of(history, "SG-2024-00001")[2], "case_id": "SG-2024-00002"}
    history["events"]["999"] = foreign
    events.insert(2, foreign)
    head = relink(events, renumber=True)
    save(segment, history)
    tables = load(tmp_path / "hot.json")
    case = hot_case(tables, "SG-2024-00002")
    case["history_head"], case["history_len"] = head, len(events)
    save(tmp_path / "hot.json", tables)
    problems = verify(tmp_path)
    assert any("SG-2024-00002" in p and "封印不符" in p for p in problems), problems


def test_reordered_events_are_caught(tmp_path):
    """Two middle events swapped: with numbers and hashes left, the chain's order shows it; renumbered
    and relinked, the seal does."""
    fill(tmp_path).close()
    segment = segment_of(tmp_path)
    pristine = segment.read_bytes()
    history = load(segment)
    events = chain_of(history, "SG-2024-00001")
    events[1]["seq"], events[2]["seq"] = 3, 2  # only the numbers swapped
    save(segment, history)
    problems = verify(tmp_path)
    assert any("SG-2024-00001" in p and "第 2 条" in p and "哈希不符" in p for p in problems), problems
    segment.write_bytes(pristine)
    history = load(segment)
    events = chain_of(history, "SG-2024-00001")
    events[1], events[2] = events[2], events[1]
    head = relink(events, renumber=True)
    save(segment, history)
    tables = load(tmp_path / "hot.json")
    hot_case(tables, "SG-2024-00001")["history_head"] = head
    save(tmp_path / "hot.json", tables)
    problems = verify(tmp_path)
    assert [p for p in problems if "事件" in p] == [], problems  # a consistent chain...
    assert any("SG-2024-00001" in p and "封印不符" in p for p in problems), problems  # ...but not the sealed one


def test_a_truncated_journal_is_reported_and_numbers_go_on_above_it(tmp_path):
    s = Store(tmp_path, checkpoint_every=10_000)
    c = s.commit(case_doc("SG-2024-00001"), [event("start")], [], 0)
    s.checkpoint()
    for _ in range(3):  # acknowledged, in the journal only
        c = s.commit(c, [event(comment="after the checkpoint")], None, c["version"])
    s._close_files()  # a crash: no checkpoint
    wal = tmp_path / "wal.jsonl"
    header = wal.read_bytes().split(b"\n")[0] + b"\n"
    wal.write_bytes(header)  # every record since the checkpoint gone, the file still well-formed
    with Store(tmp_path) as s:
        problems = s.verify()
        assert any("预写日志缺少已确认的记录" in p and "第 2–4 号（共 3 条）" in p for p in problems), problems
        assert s.get_case("SG-2024-00001")["version"] == 1  # what the files had
        s.next_sequence("x")  # numbering goes on above what was acknowledged
        assert s._lsn == 6
    again = verify(tmp_path)  # the note is sealed data: it stays
    assert any("预写日志缺少已确认的记录" in p for p in again), again


def test_a_deleted_journal_is_reported(tmp_path):
    s = Store(tmp_path, checkpoint_every=10_000)
    c = s.commit(case_doc("SG-2024-00001"), [event("start")], [], 0)
    s.checkpoint()
    s.commit(c, [event(comment="after the checkpoint")], None, 1)
    s._close_files()
    for p in tmp_path.glob("wal*.jsonl"):
        p.unlink()
    problems = verify(tmp_path)
    assert any("预写日志缺少已确认的记录" in p and "第 2–2 号" in p for p in problems), problems


def test_a_journal_shorter_than_the_files_is_reported(tmp_path):
    """The journal swapped for an older generation: the files say more was written than it holds."""
    s = Store(tmp_path, checkpoint_every=10_000)
    c = s.commit(case_doc("SG-2024-00001"), [event("start")], [], 0)
    s.checkpoint()
    old = (tmp_path / "wal.jsonl").read_bytes()
    c = s.commit(c, [event()], None, 1)
    s.checkpoint()
    s.close()
    (tmp_path / "wal.jsonl").write_bytes(old)
    (tmp_path / "wal.mark").unlink()  # the mark would tell as well: take it out of the way
    with Store(tmp_path) as s:
        problems = s.verify()
    assert any("数据文件 hot.json 记录到第 2 号日志记录，预写日志却只到第 1 号" in p for p in problems), problems
    assert any("高水位标记 wal.mark 缺失" in p for p in problems), problems


def test_a_changed_counter_or_small_table_record_is_caught(tmp_path):
    with Store(tmp_path) as s:
        s.next_sequence("case:SG:2024")
        s.put("definitions", "sg@1", {"name": "sg", "version": 1, "hash": "abc", "definition": {"title": "x"}})
    tables = load(tmp_path / "hot.json")
    next(iter(tables["sequences"].values()))["value"] = 5
    next(iter(tables["definitions"].values()))["definition"]["title"] = "y"
    save(tmp_path / "hot.json", tables)
    problems = verify(tmp_path)
    assert "计数器 case:SG:2024：封印不符，在本程序之外被改动" in problems, problems
    assert "表 definitions 的记录 sg@1：封印不符，在本程序之外被改动" in problems, problems


def test_seals_never_reach_callers_and_are_never_taken_from_them(tmp_path):
    with Store(tmp_path) as s:
        c = s.commit({**case_doc("SG-2024-00001"), "_seal": "0" * 64}, [event("start")], [], 0)
        assert "_seal" not in c and "_seal" not in s.get_case(c["id"])
        assert all("_seal" not in d for d in [*s.cases(), *s.open_cases()])
        p = s.put("settings", "k", {"n": 1, "_seal": "f" * 64})
        assert "_seal" not in p and "_seal" not in s.get("settings", "k") and "_seal" not in s.all("settings")[0]
        assert s.verify() == []


def test_another_seal_key_writes_nothing(tmp_path):
    with Store(tmp_path) as s:
        c = s.commit(case_doc("SG-2024-00001"), [event("start")], [], 0)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with Store(tmp_path, seal_key=b"k" * 32) as s:
        assert s.get_case("SG-2024-00001")["version"] == 1  # reading works
        for write in (lambda: s.commit(c, [event()], None, 1), lambda: s.next_sequence("x"),
                      lambda: s.put("settings", "k", {})):
            with pytest.raises(StorageError, match="封印密钥与数据目录"):
                write()
        assert any("封印密钥与数据目录不符" in p for p in s.verify())
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert {k: v for k, v in after.items() if k != ".lock"} == {k: v for k, v in before.items() if k != ".lock"}
    assert verify(tmp_path) == []


def test_the_key_file_is_made_once_with_mode_0600(tmp_path, monkeypatch):
    key = tmp_path / "conf" / "seal.key"
    monkeypatch.setenv("WORKFLOW_SEAL_KEY_FILE", str(key))
    with Store(tmp_path / "data") as s:
        s.next_sequence("x")
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    first = key.read_bytes()
    with Store(tmp_path / "data") as s:
        assert s.verify() == []
    assert key.read_bytes() == first


def test_a_key_inside_the_data_directory_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKFLOW_SEAL_KEY_FILE", str(tmp_path / "seal.key"))
    with Store(tmp_path) as s:
        assert any("位于数据目录内" in p for p in s.verify())
