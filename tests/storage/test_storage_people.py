"""The index of people: each person's started and acted-on cases, paged, open and closed alike,
kept by commits, bulk loads, replay after a crash (both backends), and built for an older TinyDB data dir
by its migration."""
from __future__ import annotations

import json

import pytest
from storage_helpers import case_doc, event

from storage import Store
from storage._parts import people_bucket
from storage.migrations import SCHEMA_VERSION, migrate_3_to_4, migrate_5_to_6


def case(cid, when, status="open", by="wang", acted=("wang",)):
    return case_doc(cid, status, created_by=by, participants=list(acted), updated_at=when)


def ids(page):
    return [c["id"] for c in page[0]]


def people_docs(data) -> dict:
    """Every document of the people index as the files hold it (people/NN.json), by key."""
    docs = {}
    for path in sorted((data / "people").glob("*.json")):
        for doc in json.loads(path.read_bytes()).get("people", {}).values():
            assert people_bucket(doc["person"]) == int(path.stem)  # a person's documents in their own file
            docs[doc["_key"]] = doc
    return docs


def as_version(data, version: int, people: dict | None) -> None:
    """Make the data dir look like one of `version`, whose hot.json held the people index (`people`)."""
    hot = json.loads((data / "hot.json").read_text())
    if people is None:
        hot.pop("people", None)
    else:
        hot["people"] = people
    (data / "hot.json").write_text(json.dumps(hot))
    for path in (data / "people").glob("*.json"):
        path.unlink()
    meta = json.loads((data / "meta.json").read_text())
    (data / "meta.json").write_text(json.dumps({**meta, "schema_version": version}))


def test_a_persons_cases_newest_first_paged_and_moved_by_each_commit(place):
    with place.open() as s:
        s.commit(case("SG-2024-00001", "2024-03-01T09:00:00"), [event("start")], None, 0)
        s.commit(case("SG-2024-00002", "2024-03-02T09:00:00", by="li", acted=("li", "wang")), [event("start")], None, 0)
        third = s.commit(case("SG-2024-00003", "2024-03-03T09:00:00", acted=()), [event("start")], None, 0)
        assert s.cases_of_person("wang", "started") == (s.cases_of_person("wang", "started", limit=5)[0], 2)
        assert ids(s.cases_of_person("wang", "started")) == ["SG-2024-00003", "SG-2024-00001"]
        assert ids(s.cases_of_person("wang", "acted")) == ["SG-2024-00002", "SG-2024-00001"]
        assert ids(s.cases_of_person("wang", "acted", offset=1, limit=1)) == ["SG-2024-00001"]
        # closing a case moves it to the archive; it stays in the lists, now first (changed last)
        closed = {**third, "status": "closed", "participants": ["wang"], "updated_at": "2024-03-04T09:00:00"}
        s.commit(closed, [event("close")], [], third["version"])
        assert ids(s.cases_of_person("wang", "acted")) == ["SG-2024-00003", "SG-2024-00002", "SG-2024-00001"]
        assert s.cases_of_person("wang", "acted")[0][0]["status"] == "closed"
        assert s.cases_of_person("nobody", "acted") == ([], 0)
        assert "people" not in {k for k in s.get_case("SG-2024-00001")}
        assert s.verify() == []
    with place.open() as s:  # reopened (TinyDB: the journal is replayed), the index is the same
        assert ids(s.cases_of_person("wang", "acted")) == ["SG-2024-00003", "SG-2024-00002", "SG-2024-00001"]
        s.checkpoint()
    with place.open() as s:  # after a checkpoint (TinyDB: read from hot.json)
        assert s.cases_of_person("li", "started")[1] == 1
        assert s.verify() == []


def test_bulk_loaded_cases_are_indexed(place):
    cases = [case(f"SG-2024-{i:05d}", f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}", "closed" if i % 2 else "open",
                  acted=("wang", f"u{i % 3}")) for i in range(1, 1201)]
    with place.open() as s:
        s.bulk_load(cases, [{**event("start"), "case_id": c["id"]} for c in cases])
        page, total = s.cases_of_person("wang", "acted", limit=3)
        assert total == 1200 and [c["id"] for c in page] == ["SG-2024-01200", "SG-2024-01199", "SG-2024-01198"]
        assert s.cases_of_person("u0", "acted")[1] == 400
        assert s.verify() == []


@pytest.mark.tinydb_files
def test_a_person_is_indexed_one_document_per_shard(tmp_path):
    """A busy person's cases are spread over one document per 1000 case numbers, so a commit changes
    (and the checkpoint re-encodes) a small document, not all they ever did."""
    cases = [case(f"SG-2024-{i:05d}", f"2024-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}")
             for i in range(1, 2501)]
    with Store(tmp_path) as s:
        s.bulk_load(cases, [{**event("start"), "case_id": c["id"]} for c in cases])
        later = {**s.get_case("SG-2024-00007"), "updated_at": "2024-02-01T00:00:00"}
        s.commit(later, [event("edit")], None, later["version"])
        assert ids(s.cases_of_person("wang", "acted", limit=2)) == ["SG-2024-00007", "SG-2024-02500"]
        s.checkpoint()
    people = people_docs(tmp_path)
    assert sorted(len(doc["acted"]) for doc in people.values()) == [501, 999, 1000]
    assert {doc["person"] for doc in people.values()} == {"wang"}
    with Store(tmp_path) as s:
        assert s.cases_of_person("wang", "started")[1] == 2500
        assert ids(s.cases_of_person("wang", "started", offset=1, limit=1)) == ["SG-2024-02500"]


@pytest.mark.tinydb_files
def test_migration_builds_the_index_from_every_stored_case(tmp_path):
    with Store(tmp_path) as s:
        s.commit(case("SG-2024-00001", "2024-03-01T09:00:00"), [event("start")], None, 0)
        s.commit(case("SG-2024-00002", "2024-03-02T09:00:00", status="closed", by="li"), [event("start")], None, 0)
    before = people_docs(tmp_path)
    as_version(tmp_path, 3, None)  # a version-3 data dir had no index
    with Store(tmp_path) as s:
        assert json.loads((tmp_path / "meta.json").read_text())["schema_version"] == SCHEMA_VERSION
        assert ids(s.cases_of_person("wang", "acted")) == ["SG-2024-00002", "SG-2024-00001"]
        assert ids(s.cases_of_person("li", "started")) == ["SG-2024-00002"]
        assert s.verify() == []
    assert people_docs(tmp_path) == before
    as_version(tmp_path, 3, None)
    migrate_3_to_4(tmp_path)
    built = json.loads((tmp_path / "hot.json").read_bytes())["people"]
    migrate_3_to_4(tmp_path)  # again: the same table
    assert json.loads((tmp_path / "hot.json").read_bytes())["people"] == built


@pytest.mark.tinydb_files
def test_a_version_4_index_is_split_by_shard(tmp_path):
    """Version 4 kept one document per person; opening such a data dir splits it (schema step 5)."""
    with Store(tmp_path) as s:
        s.commit(case("SG-2024-00001", "2024-03-01T09:00:00"), [event("start")], None, 0)
        s.commit(case("SG-2024-01001", "2024-03-02T09:00:00", by="li"), [event("start")], None, 0)
    as_version(tmp_path, 4, {
        "1": {"_key": "wang", "started": {"SG-2024-00001": "2024-03-01T09:00:00"},
              "acted": {"SG-2024-00001": "2024-03-01T09:00:00", "SG-2024-01001": "2024-03-02T09:00:00"}},
        "2": {"_key": "li", "started": {"SG-2024-01001": "2024-03-02T09:00:00"}, "acted": {}}})
    with Store(tmp_path) as s:
        assert json.loads((tmp_path / "meta.json").read_text())["schema_version"] == SCHEMA_VERSION
        assert ids(s.cases_of_person("wang", "acted")) == ["SG-2024-01001", "SG-2024-00001"]
        assert ids(s.cases_of_person("li", "started")) == ["SG-2024-01001"]
        s.commit(case("SG-2024-00002", "2024-03-03T09:00:00"), [event("start")], None, 0)
        assert ids(s.cases_of_person("wang", "started")) == ["SG-2024-00002", "SG-2024-00001"]
        assert s.verify() == []
    assert sorted(people_docs(tmp_path)) == ["li\x00SG-2024\x001", "wang\x00SG-2024\x000", "wang\x00SG-2024\x001"]


def _many(s, n=300):
    people = [f"u{i:03d}" for i in range(40)]
    for i in range(1, n + 1):
        s.commit(case(f"SG-2024-{i:05d}", f"2024-03-01T09:{i // 60 % 60:02d}:{i % 60:02d}", by=people[i % 40],
                      acted=(people[i % 40], people[(i * 7) % 40])), [event("start")], None, 0)
    return people


@pytest.mark.tinydb_files
def test_a_version_5_index_leaves_hot_json_for_its_own_files(tmp_path):
    """Version 5 kept the index in hot.json, read whole by every open; step 6 moves it to people/NN.json,
    each person in one file, and the lists read the same. Interrupted after writing the files (hot.json
    not yet rewritten), the step runs again from hot.json and gives the same files."""
    with Store(tmp_path) as s:
        people = _many(s)
        before = {p: (s.cases_of_person(p, "acted", limit=500), s.cases_of_person(p, "started", limit=500))
                  for p in people}
        s.checkpoint()
    moved = people_docs(tmp_path)
    as_version(tmp_path, 5, {str(n): doc for n, doc in enumerate(moved.values(), 1)})
    migrate_5_to_6(tmp_path)
    assert people_docs(tmp_path) == moved
    assert "people" not in json.loads((tmp_path / "hot.json").read_bytes())
    as_version(tmp_path, 5, {str(n): doc for n, doc in enumerate(moved.values(), 1)})
    with Store(tmp_path) as s:  # opened: the step runs, the lists are as they were
        assert "people" not in json.loads((tmp_path / "hot.json").read_bytes())
        assert {p: (s.cases_of_person(p, "acted", limit=500), s.cases_of_person(p, "started", limit=500))
                for p in people} == before
        assert s.verify() == []
    migrate_5_to_6(tmp_path)  # again: nothing left to move
    assert people_docs(tmp_path) == moved


@pytest.mark.tinydb_files
def test_opening_reads_no_ones_index_and_a_list_reads_one_file(tmp_path):
    with Store(tmp_path) as s:
        _many(s)
    assert len(list((tmp_path / "people").glob("*.json"))) > 10
    with Store(tmp_path) as s:
        files = {key: part for key, part in s._parts.items() if key[0] == "people"}
        assert not any(part.loaded for part in files.values())
        assert s.cases_of_person("u007", "started")[1] > 0
        loaded = [key for key, part in s._parts.items() if key[0] == "people" and part.loaded]
        assert loaded == [("people", people_bucket("u007"))]
        # commits queue their changes for files not loaded; a checkpoint writes them and lets them go
        c = s.get_case("SG-2024-00001")
        s.commit({**c, "participants": ["u001", "u039"], "updated_at": "2024-04-01T00:00:00"}, [event("x")], None,
                 c["version"])
        s.checkpoint()
        assert ids(s.cases_of_person("u039", "acted", limit=1)) == ["SG-2024-00001"]
    with Store(tmp_path) as s:
        assert ids(s.cases_of_person("u039", "acted", limit=1)) == ["SG-2024-00001"]


@pytest.mark.tinydb_files
def test_journal_records_not_in_the_files_keep_their_people_through_the_move(tmp_path):
    """Opening a version-5 data dir folds its journal in with this program, which writes people/NN.json
    already; step 6 must not lose those entries to hot.json's older index."""
    s = Store(tmp_path, checkpoint_every=10_000)
    s.commit(case("SG-2024-00001", "2024-03-01T09:00:00"), [event("start")], None, 0)
    s.commit(case("SG-2024-00003", "2024-03-02T09:00:00", by="li", acted=("li",)), [event("start")], None, 0)
    s.checkpoint()
    c = s.get_case("SG-2024-00001")
    s.commit({**c, "participants": ["wang", "li"], "updated_at": "2024-03-05T09:00:00"}, [event("x")], None,
             c["version"])
    s.commit(case("SG-2024-00002", "2024-03-06T09:00:00", by="li", acted=("li",)), [event("start")], None, 0)
    s._close_files()  # killed: only the journal has the last two commits
    as_version(tmp_path, 5, {str(n): doc for n, doc in enumerate(people_docs(tmp_path).values(), 1)})
    with Store(tmp_path) as s:
        assert ids(s.cases_of_person("li", "acted")) == ["SG-2024-00002", "SG-2024-00001", "SG-2024-00003"]
        assert ids(s.cases_of_person("li", "started")) == ["SG-2024-00002", "SG-2024-00003"]
        assert ids(s.cases_of_person("wang", "acted")) == ["SG-2024-00001"]
        assert s.verify() == []
