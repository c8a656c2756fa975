"""Open cases in open/<partition>/<shard>.json, hot.json keeping only their due times (`_due`): opening reads
no case, a sweep finds what is due without them, verify checks the due times, and a version-6 data dir
(open cases in hot.json) moves them out, including what its journal held that was not yet in the files."""
from __future__ import annotations

import json

import pytest
from storage_helpers import case_doc, event, task

import storage.migrations as migrations
import storage.store as store_module
from storage import Store

pytestmark = pytest.mark.tinydb_files

SOON, LATER = "2024-05-01T09:00:00", "2024-06-01T09:00:00"


def deadline(due: str, status: str = "pending") -> dict:
    return {"timer": "t", "due": due, "status": status}


def fill(s: Store) -> None:
    """Open cases in two partitions, some with deadlines, closed ones beside them."""
    for n in range(1, 7):
        deadlines = [deadline(SOON if n % 2 else LATER), deadline("2024-01-01T00:00:00", "done")] if n < 5 else []
        c = s.commit(case_doc(f"SG-2024-{n:05d}", deadlines=deadlines), [event("start")], [task(f"SG-2024-{n:05d}")], 0)
        if n == 6:
            s.commit({**c, "status": "closed"}, [event("close")], [], c["version"])
    s.commit(case_doc("YA-2023-00001", deadlines=[deadline(SOON)]), [event("start")], [task("YA-2023-00001")], 0)


def seen(s: Store) -> dict:
    """What the users see, to compare before and after."""
    return {"open": sorted((c["id"], c["version"]) for c in s.open_cases()),
            "closed": sorted((c["id"], c["version"]) for c in s.cases(status="closed")),
            "due_soon": s.cases_due(SOON), "due_later": s.cases_due(LATER),
            "inbox": sorted(t["case_id"] for t in s.inbox(user="u", roles=[("科员", "安监科")]))}


def as_version_6(data) -> None:
    """Make the files look as a version-6 program left them: the open cases in hot.json, no `_due`."""
    hot = json.loads((data / "hot.json").read_bytes())
    cases = {}
    for path in sorted(data.glob("open/*/*.json")):
        for doc in json.loads(path.read_bytes()).get("cases", {}).values():
            cases[str(len(cases) + 1)] = doc
        path.unlink()
    hot["cases"] = cases
    hot.pop("_due", None)
    hot["_meta"]["1"].get("next_ids", {}).pop("_due", None)
    (data / "hot.json").write_text(json.dumps(hot, ensure_ascii=False))
    meta = json.loads((data / "meta.json").read_text())
    (data / "meta.json").write_text(json.dumps({**meta, "schema_version": 6}))


def test_opening_reads_no_case_and_a_sweep_finds_its_cases_by_hot_json_alone(tmp_path):
    with Store(tmp_path) as s:
        fill(s)
    hot = json.loads((tmp_path / "hot.json").read_bytes())
    assert "cases" not in hot
    assert sorted((d["_key"], d["due"]) for d in hot["_due"].values()) == [
        ("SG-2024-00001", SOON), ("SG-2024-00002", LATER), ("SG-2024-00003", SOON), ("SG-2024-00004", LATER),
        ("YA-2023-00001", SOON)]
    with Store(tmp_path) as s:
        assert s.cases_due(SOON) == ["SG-2024-00001", "SG-2024-00003", "YA-2023-00001"]
        assert len(s.inbox(user="u", roles=[("科员", "安监科")])) == 6
        assert not any(part.loaded for part in s._parts.values())  # neither a sweep nor 待办 read a case
        # a deadline done leaves the index; one of a case that closes too
        c = s.get_case("SG-2024-00001")
        s.commit({**c, "deadlines": [deadline(SOON, "done")]}, [event("fire")], [], c["version"])
        c = s.get_case("SG-2024-00003")
        s.commit({**c, "status": "closed"}, [event("close")], [], c["version"])
        assert s.cases_due(LATER) == ["SG-2024-00002", "SG-2024-00004", "YA-2023-00001"]
        s.checkpoint()
    with Store(tmp_path) as s:
        assert s.cases_due(LATER) == ["SG-2024-00002", "SG-2024-00004", "YA-2023-00001"]
        assert s.verify() == []


def test_verify_catches_an_edited_due_time(tmp_path):
    """A due time moved, dropped or made up outside the program would make a sweep act late or early."""
    with Store(tmp_path) as s:
        fill(s)
    hot = json.loads((tmp_path / "hot.json").read_bytes())
    due = hot["_due"]
    moved = next(d for d in due.values() if d["_key"] == "SG-2024-00001")
    moved["due"] = "2099-01-01T00:00:00"
    dropped = next(k for k, d in due.items() if d["_key"] == "YA-2023-00001")
    del due[dropped]
    due["99"] = {"_key": "SG-2024-00006", "due": SOON}  # a closed case
    (tmp_path / "hot.json").write_text(json.dumps(hot, ensure_ascii=False))
    with Store(tmp_path) as s:
        problems = s.verify()
    assert f"案件 SG-2024-00001：hot.json 表 _due 记的最早期限为 2099-01-01T00:00:00，案件本身为 {SOON}" \
           f"（期限索引在本程序之外被改动，定时检查会因此漏办或早办）" in problems, problems
    assert any(p.startswith("案件 YA-2023-00001：hot.json 表 _due 记的最早期限为 无") for p in problems), problems
    assert "hot.json 表 _due 记有案件 SG-2024-00006 的期限，但没有这件在办案件（期限索引在本程序之外被改动）" in problems
    assert len(problems) == 3, problems


def test_a_version_6_data_dir_moves_its_open_cases_out_of_hot_json(tmp_path):
    with Store(tmp_path) as s:
        fill(s)
        before = seen(s)
    as_version_6(tmp_path)
    assert not list(tmp_path.glob("open/*/*.json"))
    with Store(tmp_path) as s:
        assert json.loads((tmp_path / "meta.json").read_text())["schema_version"] == 7
        assert "cases" not in json.loads((tmp_path / "hot.json").read_bytes())
        assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("open/*/*.json")) == [
            "open/SG-2024/0000.json", "open/YA-2023/0000.json"]
        assert seen(s) == before
        assert s.verify() == []


def journal_after_files(tmp_path) -> dict:
    """Files checkpointed, then commits only the journal has (the program was killed): an open case changed,
    one closed, one reopened, one new. What the users should see after."""
    s = Store(tmp_path, checkpoint_every=10_000)
    fill(s)
    s.checkpoint()
    c = s.get_case("SG-2024-00002")
    s.commit({**c, "deadlines": [deadline(SOON)], "data": {"count": 5}}, [event("act")], [task(c["id"])], c["version"])
    c = s.get_case("SG-2024-00004")
    s.commit({**c, "status": "closed"}, [event("close")], [], c["version"])
    c = s.get_case("SG-2024-00006")
    s.commit({**c, "status": "open"}, [event("reopen")], [task(c["id"])], c["version"])
    s.commit(case_doc("SG-2024-00007", deadlines=[deadline(SOON)]), [event("start")], [task("SG-2024-00007")], 0)
    after = seen(s)
    s._close_files()  # killed: no checkpoint
    return after


def test_journal_records_not_in_the_files_survive_the_move(tmp_path):
    """Opening an older data dir first folds its journal in with this program, which writes open cases to
    open/ already; the step must not lose them to hot.json's older copies, nor keep a closed one open."""
    after = journal_after_files(tmp_path)
    as_version_6(tmp_path)
    with Store(tmp_path) as s:
        assert seen(s) == after
        assert s.get_case("SG-2024-00002")["data"] == {"count": 5}
        assert s.verify() == []


def test_a_crash_between_the_fold_and_the_move_is_repaired(tmp_path, monkeypatch):
    after = journal_after_files(tmp_path)
    as_version_6(tmp_path)

    def killed(*_):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(store_module, "fold_back", killed)
        with pytest.raises(KeyboardInterrupt):
            Store(tmp_path)  # the journal is folded into the files (open/ among them), nothing moved yet
    assert list(tmp_path.glob("open/*/*.json"))
    with Store(tmp_path) as s:
        assert seen(s) == after
        assert s.verify() == []


def test_a_move_cut_short_runs_again(tmp_path, monkeypatch):
    """Killed after writing open/ but before hot.json: the next open runs the step again from hot.json."""
    with Store(tmp_path) as s:
        fill(s)
        before = seen(s)
    as_version_6(tmp_path)
    import storage._files as files

    def killed(path, *_, **__):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(files, "write_tinydb", killed)
        with pytest.raises(KeyboardInterrupt):
            Store(tmp_path)
    assert list(tmp_path.glob("open/*/*.json")) and "cases" in json.loads((tmp_path / "hot.json").read_bytes())
    with Store(tmp_path) as s:
        assert seen(s) == before
        assert s.verify() == []
    assert migrations.MIGRATIONS[6](tmp_path) is None  # again: nothing left to move
