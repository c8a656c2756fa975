"""Store.changes: which cases changed since a reader last looked, in this process or another (both backends)."""
from __future__ import annotations

from storage_helpers import case_doc, event


def test_changes_name_the_cases_committed_since_the_token(place):
    with place.open() as s, place.open() as other:
        token, ids = s.changes()
        assert ids is None                                   # no token yet: read everything
        a = s.commit(case_doc("SG-2024-00001"), [event("start")], None, 0)
        other.commit(case_doc("SG-2024-00002"), [event("start")], None, 0)   # another process
        token, ids = s.changes(token)
        assert sorted(ids) == ["SG-2024-00001", "SG-2024-00002"]
        assert s.changes(token)[1] == []                     # nothing since
        s.commit({**a, "status": "closed"}, [event("close")], [], a["version"])
        token, ids = s.changes(token)
        assert ids == ["SG-2024-00001"]
        other.checkpoint()                                   # the other process starts a new journal
        other.commit(case_doc("SG-2024-00003"), [event("start")], None, 0)
        token, ids = s.changes(token)
        assert ids == ["SG-2024-00003"] or ids is None       # followed across the checkpoint, or read again


def test_bulk_loaded_cases_are_changes(place):
    with place.open() as s:
        token, _ = s.changes()
        s.bulk_load([case_doc(f"SG-2024-{i:05d}", "closed") for i in range(1, 4)])
        assert sorted(s.changes(token)[1]) == ["SG-2024-00001", "SG-2024-00002", "SG-2024-00003"]
