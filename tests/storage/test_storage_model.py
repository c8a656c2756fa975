"""Property test: random operations, checkpoints, crashes and a second store on the same place agree
with a plain in-memory model, on both backends; for the TinyDB files, what is on disk always equals
what the store holds."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from storage_places import PG, TINYDB

from storage import ConflictError

OPS = st.lists(st.tuples(st.sampled_from(["new", "act", "act", "act", "close", "reopen", "put", "seq",
                                          "checkpoint", "crash", "other"]),
                         st.integers(0, 7)), min_size=1, max_size=40)


def cid(n: int) -> str:
    return f"PT-{2023 + n % 2}-{n * 700:05d}"  # two partitions, several archive shards


def task_for(case_id: str, n: int) -> dict:
    return {"case_id": case_id, "workflow": "pt", "state": f"s{n}", "role": "科员", "unit": None,
            "user": None, "due": None}


def check(store, model: dict, puts: dict, seqs: dict) -> None:
    for n, (version, status, count) in model.items():
        c = store.get_case(cid(n))
        assert (c["version"], c["status"], c["data"]["count"]) == (version, status, count)
        assert c["history_len"] == version
    assert sorted(c["id"] for c in store.open_cases()) == sorted(cid(n) for n, m in model.items() if m[1] == "open")
    tasks = store.inbox(user="x", roles=[("科员", "any")])
    assert sorted(t["case_id"] for t in tasks) == sorted(cid(n) for n, m in model.items() if m[1] == "open")
    for key, version in puts.items():
        assert store.get("settings", key)["_version"] == version


@pytest.mark.parametrize("kind", [TINYDB, pytest.param(PG, marks=pytest.mark.postgres)])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
@example(ops=[("new", 0), ("other", 0), ("new", 1), ("checkpoint", 0), ("act", 0)])  # found in CI
# found in CI (~5% of runs): the second store gave the re-written task document id 1, the first id 2,
# because the id counter lived only in each process's memory; it is part of the file's _meta now
@example(ops=[("new", 0), ("checkpoint", 0), ("other", 0), ("checkpoint", 0)])
def test_store_agrees_with_a_model(fresh_places, kind, ops):
    with fresh_places(kind) as place:
        store = place.open(checkpoint_every=3)
        other = None
        model: dict[int, tuple[int, str, int]] = {}
        puts: dict[str, int] = {}
        seqs: dict[str, int] = {}
        for op, n in ops:
            if op == "new" and n not in model:
                store.commit({"id": cid(n), "workflow": "pt", "status": "open", "data": {"count": 0}},
                             [{"type": "start"}], [task_for(cid(n), 0)], 0)
                model[n] = (1, "open", 0)
            elif op in ("act", "other") and n in model:
                s = store if op == "act" else (other or place.open(checkpoint_every=2))
                if op == "other":
                    other = s
                c = s.get_case(cid(n))
                c["data"]["count"] += 1
                s.commit(c, [{"type": "act"}], [task_for(cid(n), c["version"])] if c["status"] == "open" else None,
                         c["version"])
                model[n] = (model[n][0] + 1, model[n][1], model[n][2] + 1)
                try:  # the version just read is stale now
                    s.commit(c, [], None, c["version"])
                    raise AssertionError("a stale version was accepted")
                except ConflictError:
                    pass
            elif op in ("close", "reopen") and n in model:
                status = "closed" if op == "close" else "open"
                c = store.get_case(cid(n))
                store.commit({**c, "status": status}, [{"type": op}], [task_for(cid(n), 9)], c["version"])
                model[n] = (model[n][0] + 1, status, model[n][2])
            elif op == "put":
                puts[f"k{n}"] = store.put("settings", f"k{n}", {"n": n})["_version"]
            elif op == "seq":
                seqs[f"s{n % 2}"] = seqs.get(f"s{n % 2}", 0) + 1
                assert store.next_sequence(f"s{n % 2}") == seqs[f"s{n % 2}"]
            elif op == "checkpoint":
                store.checkpoint()
            elif op == "crash":
                place.crash(store)
                if other is not None:
                    place.crash(other)
                    other = None
                store = place.open(checkpoint_every=3)
            check(store, model, puts, seqs)
        if other is not None:
            check(other, model, puts, seqs)
            other.close()
        assert store.verify() == []
        # TinyDB: what is on disk is exactly what the store holds in memory (incremental snapshots included)
        store.checkpoint()
        for part in [] if place.pg else [store.hot, *store._parts.values()]:
            if part.loaded:
                on_disk = json.loads(part.path.read_bytes()) if part.path.exists() else {}
                # the part's WAL position may be newer on disk: the second store checkpointed it later
                disk_meta, mem_meta = on_disk.pop("_meta", {}).get("1", {}), part.tables.get("_meta", {}).get("1", {})
                assert disk_meta.get("lsn", 0) >= mem_meta.get("lsn", 0)
                assert on_disk == {t: docs for t, docs in part.tables.items() if t != "_meta" and (docs or t in on_disk)}
        store.close()
        reopened = place.open()
        check(reopened, model, puts, seqs)
        for name, value in seqs.items():
            assert reopened.next_sequence(name) == value + 1
        assert reopened.verify() == []
        reopened.close()
