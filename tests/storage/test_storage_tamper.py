"""History is tamper-evident. The edits that someone with write access to the stored data (the files, or
the database) but without the seal key could make run on both backends (`place`: see
storage_places.py); a one-byte change in a TinyDB file or the journal, a journal cut short, deleted or
swapped for an older one are about the TinyDB files (`tinydb_files`)."""
from __future__ import annotations

import pytest
from storage_helpers import case_doc, event
from storage_places import Place

from storage import StorageError, Store


def fill(data) -> Store:
    s = Store(data, checkpoint_every=10_000) if not isinstance(data, Place) else data.open(checkpoint_every=10_000)
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


@pytest.mark.tinydb_files
def test_flipped_byte_in_a_checkpointed_history_file(tmp_path):
    fill(tmp_path).close()
    [segment] = (tmp_path / "history" / "SG-2024").glob("*.json")
    flip(segment, b"approved by chief 2.3")
    with Store(tmp_path) as s:
        problems = s.verify()
    assert problems, "the change went unnoticed"
    assert any("SG-2024-00002" in p and "第 3 条" in p and "哈希不符" in p for p in problems), problems
    assert all("SG-2024-00002" in p for p in problems), problems  # other cases are intact


@pytest.mark.tinydb_files
def test_flipped_byte_in_the_journal(tmp_path):
    s = fill(tmp_path)
    s._close_files()  # crash before any checkpoint: the events live only in the journal
    flip(tmp_path / "wal.jsonl", b"approved by chief 3.4")
    with Store(tmp_path) as s:
        problems = s.verify()
    assert any("SG-2024-00003" in p and "第 4 条" in p and "哈希不符" in p for p in problems), problems
    assert any("预写日志" in p and "校验和不符" in p for p in problems), problems


@pytest.mark.tinydb_files
def test_flipped_byte_in_the_last_journal_line_is_not_taken_for_a_torn_write(tmp_path):
    s = fill(tmp_path)
    s._close_files()
    flip(tmp_path / "wal.jsonl", b"approved by chief 3.4")  # the very last record
    assert (tmp_path / "wal.jsonl").read_bytes().rstrip(b"\n").endswith(b"}")
    with Store(tmp_path) as s:
        assert any("SG-2024-00003" in p and "第 4 条" in p for p in s.verify())


@pytest.mark.tinydb_files
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
# (issue 9) Each test below changes the stored data the way someone with write access to it but without
# the seal key could, and checks that `verify()` names what happened. Both backends.

from storage import event_hash  # noqa: E402


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


def verify(place) -> list[str]:
    with place.open() as s:
        return s.verify()


def where(place, archived: bool = False) -> str:
    """Where a backend says a case record is kept."""
    return "数据库表 cases" if place.pg else ("归档" if archived else "在办数据 open/SG-2024/0000.json")


def test_edited_event_is_caught_by_its_hash(place):
    fill(place).close()
    events = place.events("SG-2024-00002")
    events[2]["comment"] = "approved by nobody"
    place.set_events("SG-2024-00002", events)
    problems = verify(place)
    assert any("SG-2024-00002" in p and "第 3 条" in p and "哈希不符" in p for p in problems), problems
    assert all("SG-2024-00002" in p for p in problems), problems  # other cases are intact


def test_removed_last_event_is_reported(place):
    fill(place).close()
    place.set_events("SG-2024-00001", place.events("SG-2024-00001")[:-1])
    problems = verify(place)
    assert any("SG-2024-00001" in p and "截断" in p for p in problems), problems


def test_changed_case_head_is_reported(place):
    fill(place).close()
    place.edit_case("SG-2024-00001", lambda c: c.update(history_head="0" * 64))
    assert any("history_head" in p for p in verify(place))


def test_edited_open_case_data_is_caught_by_its_seal(place):
    fill(place).close()
    place.edit_case("SG-2024-00002", lambda c: c["data"].update(count=7))
    problems = verify(place)
    assert any("SG-2024-00002" in p and "封印不符" in p and where(place) in p for p in problems), problems
    assert all("SG-2024-00001" not in p and "SG-2024-00003" not in p for p in problems), problems


def test_edited_open_case_state_is_caught_by_its_seal(place):
    fill(place).close()
    place.edit_case("SG-2024-00001", lambda c: c.update(active=["approved"]))
    assert any("SG-2024-00001" in p and "封印不符" in p for p in verify(place))


def test_edited_archived_case_is_caught_by_its_seal(place):
    s = fill(place)
    c = s.get_case("SG-2024-00003")
    s.commit({**c, "status": "closed"}, [event("close")], None, c["version"])
    s.close()
    place.edit_case("SG-2024-00003", lambda c: c["data"].update(count=99))
    problems = verify(place)
    assert any("SG-2024-00003" in p and "封印不符" in p and where(place, archived=True) in p for p in problems), problems


def test_a_deleted_case_with_its_events_is_caught_by_the_state_seal(place):
    fill(place).close()
    place.delete_case("SG-2024-00002")
    problems = verify(place)
    assert any("整体封印不符" in p and "删除" in p for p in problems), problems


def test_a_rolled_back_case_is_caught_by_the_state_seal(place):
    """An older, validly sealed copy of a case and its shorter history put back (e.g. from an old journal
    or a backup of the database)."""
    s = fill(place)
    s.checkpoint()
    s.close()
    before = place.saved_case("SG-2024-00001")
    s = place.open()
    c = s.get_case("SG-2024-00001")
    s.commit(c, [event(comment="驳回")], None, c["version"])
    s.close()
    place.restore_case(before)
    problems = verify(place)
    assert any("整体封印" in p for p in problems), problems


def test_a_consistently_forged_chain_is_caught_by_the_seal(place):
    """Every hash recomputed after the change, the case's head and length too: only the seal can tell."""
    fill(place).close()
    events = place.events("SG-2024-00002")
    events[1]["comment"] = "局长未同意"
    head = relink(events, renumber=False)
    place.set_events("SG-2024-00002", events)
    place.edit_case("SG-2024-00002", lambda c: c.update(history_head=head))
    problems = verify(place)
    assert problems == [f"案件 SG-2024-00002：封印不符，{where(place)} 中的案件记录在本程序之外被改动",
                        "整体封印不符：有案件、记录或计数器在本程序之外被删除、恢复为旧版本或添加"
                        "（若上面没有逐条指出，即是整条被删除或换回了旧的副本）"], problems


def test_a_rehashed_middle_event_breaks_the_link_to_the_next(place):
    """The event's own hash recomputed, nothing after it: only the prev_hash link check sees it."""
    fill(place).close()
    events = place.events("SG-2024-00001")
    ev = events[1]
    ev["comment"] = "approved by nobody"
    ev.pop("hash")
    ev["hash"] = event_hash(ev)
    place.set_events("SG-2024-00001", events)
    problems = verify(place)
    assert problems == ["案件 SG-2024-00001 第 3 条事件：prev_hash 与前一条事件的哈希不符（链条断开）"], problems


def test_a_middle_event_spliced_out_and_the_rest_relinked_leaves_a_gap_in_the_numbers(place):
    """The event removed, the ones after it relinked (their numbers kept) and the case's length and head
    fixed: only the seq check (and the seal) see it."""
    fill(place).close()
    events = place.events("SG-2024-00003")
    events.pop(1)
    head = relink(events, renumber=False)
    place.set_events("SG-2024-00003", events)
    place.edit_case("SG-2024-00003", lambda c: c.update(history_head=head, history_len=len(events)))
    problems = verify(place)
    assert "案件 SG-2024-00003 第 3 条事件：序号应为 2（事件缺失、重复或序号被改动）" in problems, problems
    assert any("SG-2024-00003" in p and "封印不符" in p for p in problems), problems


def test_a_spliced_in_event_from_another_case_is_caught(place):
    """An event of case 1 copied into case 2's chain as its third, the chain renumbered and relinked."""
    fill(place).close()
    events = place.events("SG-2024-00002")
    foreign = {**place.events("SG-2024-00001")[2], "case_id": "SG-2024-00002"}
    events.insert(2, foreign)
    head = relink(events, renumber=True)
    place.set_events("SG-2024-00002", events)
    place.edit_case("SG-2024-00002", lambda c: c.update(history_head=head, history_len=len(events)))
    problems = verify(place)
    assert any("SG-2024-00002" in p and "封印不符" in p for p in problems), problems


def test_reordered_events_are_caught(place):
    """Two middle events swapped: with numbers and hashes left, the chain's order shows it; renumbered
    and relinked, the seal does."""
    fill(place).close()
    pristine = place.events("SG-2024-00001")
    events = [dict(e) for e in pristine]
    events[1]["seq"], events[2]["seq"] = 3, 2  # only the numbers swapped
    place.set_events("SG-2024-00001", events)
    problems = verify(place)
    assert any("SG-2024-00001" in p and "第 2 条" in p and "哈希不符" in p for p in problems), problems
    events = [dict(e) for e in pristine]
    events[1], events[2] = events[2], events[1]
    head = relink(events, renumber=True)
    place.set_events("SG-2024-00001", events)
    place.edit_case("SG-2024-00001", lambda c: c.update(history_head=head))
    problems = verify(place)
    assert [p for p in problems if "事件" in p] == [], problems  # a consistent chain...
    assert any("SG-2024-00001" in p and "封印不符" in p for p in problems), problems  # ...but not the sealed one


def test_a_changed_counter_or_small_table_record_is_caught(place):
    with place.open() as s:
        s.next_sequence("case:SG:2024")
        s.put("definitions", "sg@1", {"name": "sg", "version": 1, "hash": "abc", "definition": {"title": "x"}})
    place.set_counter("case:SG:2024", 5)
    place.edit_record("definitions", "sg@1", lambda d: d["definition"].update(title="y"))
    problems = verify(place)
    assert "计数器 case:SG:2024：封印不符，在本程序之外被改动" in problems, problems
    assert "表 definitions 的记录 sg@1：封印不符，在本程序之外被改动" in problems, problems


def test_seals_never_reach_callers_and_are_never_taken_from_them(place):
    with place.open() as s:
        c = s.commit({**case_doc("SG-2024-00001"), "_seal": "0" * 64}, [event("start")], [], 0)
        assert "_seal" not in c and "_seal" not in s.get_case(c["id"])
        assert all("_seal" not in d for d in [*s.cases(), *s.open_cases()])
        p = s.put("settings", "k", {"n": 1, "_seal": "f" * 64})
        assert "_seal" not in p and "_seal" not in s.get("settings", "k") and "_seal" not in s.all("settings")[0]
        assert s.verify() == []


def test_another_seal_key_writes_nothing(place):
    with place.open() as s:
        c = s.commit(case_doc("SG-2024-00001"), [event("start")], [], 0)
    before = place.snapshot()
    what = "数据库" if place.pg else "数据目录"
    with place.open(seal_key=b"k" * 32) as s:
        assert s.get_case("SG-2024-00001")["version"] == 1  # reading works
        for write in (lambda: s.commit(c, [event()], None, 1), lambda: s.next_sequence("x"),
                      lambda: s.put("settings", "k", {})):
            with pytest.raises(StorageError, match=f"封印密钥与{what}"):
                write()
        assert any(f"封印密钥与{what}" in p and "不符" in p for p in s.verify())
    assert place.snapshot() == before
    assert verify(place) == []


def test_the_key_file_is_made_once_with_mode_0600(place, tmp_path, monkeypatch):
    key = tmp_path / "conf" / "seal.key"
    monkeypatch.setenv("WORKFLOW_SEAL_KEY_FILE", str(key))
    with place.open() as s:
        s.next_sequence("x")
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    first = key.read_bytes()
    with place.open() as s:
        assert s.verify() == []
    assert key.read_bytes() == first


def test_a_key_inside_the_data_directory_is_reported(place, monkeypatch):
    monkeypatch.setenv("WORKFLOW_SEAL_KEY_FILE", str(place.data_dir / "seal.key"))
    with place.open() as s:
        assert any("位于数据目录内" in p for p in s.verify())


# ---------------------------------------------------------------- the TinyDB journal


def verify_dir(data) -> list[str]:
    with Store(data) as s:
        return s.verify()


@pytest.mark.tinydb_files
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
    again = verify_dir(tmp_path)  # the note is sealed data: it stays
    assert any("预写日志缺少已确认的记录" in p for p in again), again


@pytest.mark.tinydb_files
def test_a_deleted_journal_is_reported(tmp_path):
    s = Store(tmp_path, checkpoint_every=10_000)
    c = s.commit(case_doc("SG-2024-00001"), [event("start")], [], 0)
    s.checkpoint()
    s.commit(c, [event(comment="after the checkpoint")], None, 1)
    s._close_files()
    for p in tmp_path.glob("wal*.jsonl"):
        p.unlink()
    problems = verify_dir(tmp_path)
    assert any("预写日志缺少已确认的记录" in p and "第 2–2 号" in p for p in problems), problems


@pytest.mark.tinydb_files
def test_the_mark_is_synced_at_most_every_50_ms_of_commits_and_always_on_checkpoint_and_close(tmp_path, monkeypatch):
    import os

    from storage import _mark

    s = Store(tmp_path, checkpoint_every=10_000)
    c = s.commit(case_doc("SG-2024-00001"), [event("start")], [], 0)
    synced, real = [], os.fdatasync
    monkeypatch.setattr(_mark.os, "fdatasync", lambda fd: (synced.append(fd == s._mark.fd), real(fd)))
    # steps a little over 50 ms: clock + 0.05 - clock can round below 0.05 (the larger the clock, the likelier)
    step = _mark.SYNC_EVERY_S * 1.01
    clock = [_mark.time.monotonic() + step]  # the first commit's sync is 50 ms old
    monkeypatch.setattr(_mark.time, "monotonic", lambda: clock[0])
    for _ in range(10):  # a burst within 50 ms: the journal is synced each time, the mark once
        c = s.commit(c, [event()], None, c["version"])
    assert synced.count(True) == 1, synced
    clock[0] += step
    c = s.commit(c, [event()], None, c["version"])
    assert synced.count(True) == 2
    c = s.commit(c, [event()], None, c["version"])  # written, its sync not yet due
    assert synced.count(True) == 2
    s.checkpoint()
    assert synced.count(True) == 3  # a new journal: the mark with it
    c = s.commit(c, [event()], None, c["version"])
    s.close()
    assert synced.count(True) == 4
    assert _mark.Mark(tmp_path / "wal.mark", s._sealer).read().lsn == s._lsn


@pytest.mark.tinydb_files
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
