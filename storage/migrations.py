"""Schema versions of a data directory and the migration from each version to the next.

`meta.json` holds `schema_version`. Opening a data dir with an older version runs every step in
`MIGRATIONS` (under the write lock, after the journal was folded into the files, so a step only
rewrites TinyDB files); a newer version than `SCHEMA_VERSION` is refused. Each step is idempotent,
so a crash in the middle of a step is repaired by running it again on the next open.

Versions:
1. First layout: tasks named their organisational unit `dept`; case documents kept the hash of
   their last history event (`history_head`) but not the number of events.
2. Tasks name it `unit` (None: any unit), like the organisation file does; every case carries
   `history_len`, so `verify()` tells a cut-off history apart from an intact one at a glance and the
   UI shows the count without loading the history partition.
3. Seals (`storage._seal`): every case, small-table record and counter carries `_seal`, hot.json's
   `_meta` the sealed state digest, `meta.json` the key's id, `wal.mark` the high-water mark. The step
   seals the data as it finds it (what happened to it before cannot be told afterwards).

4. hot.json gains the table `people`: for each person, the cases they started and the cases they
   acted on (`participants`), each with its `updated_at`, so 我发起的 and 已办 page without reading
   the archive. The step builds it from every stored case (rebuilt whole: running it again is harmless).
5. A `people` document holds one person's cases of one shard (1000 case numbers), keyed
   ``person NUL partition NUL shard`` and naming its `person`, no longer all of a person's cases: at
   300,000 cases one person's document was 20 MB, re-encoded whole by every checkpoint after they
   acted. The step rebuilds the table from every stored case, as step 4 does (step 4, run by this code,
   writes this layout already; the rebuild is harmless).

6. The `people` table leaves hot.json for ``people/NN.json`` (`storage._parts.PeoplePart`: a person's
   documents all in one of 64 files, loaded when their list is asked for), so opening the store no
   longer reads everyone's index (a third of hot.json at 300,000 cases). The step writes the files
   first, then hot.json without the table: interrupted, it runs again from hot.json as it was.
7. The open cases leave hot.json for ``open/<partition>/<shard>.json`` (like the archive's shards,
   loaded when one of their cases is asked for); hot.json keeps each open case's earliest pending
   deadline in the table `_due`, which is all a sweep and the store's opening read of them (the
   cases were two thirds of hot.json at 300,000 cases). Files first, then hot.json, as in step 6.

A step is called with the data directory and the `Sealer` of the opening store.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

SCHEMA_VERSION = 7


def _partition_files(data_dir: Path, folder: str) -> list[Path]:
    root = data_dir / folder
    return sorted(root.glob("*/*.json")) if root.is_dir() else []


def migrate_1_to_2(data_dir: Path, sealer=None) -> None:
    from storage._files import read_tinydb, write_tinydb

    counts: dict[str, int] = {}
    for path in _partition_files(data_dir, "history"):
        for ev in read_tinydb(path).get("events", {}).values():
            counts[ev.get("case_id")] = counts.get(ev.get("case_id"), 0) + 1
    for path in [data_dir / "hot.json", *_partition_files(data_dir, "archive")]:
        tables = read_tinydb(path)
        changed = False
        for case in tables.get("cases", {}).values():
            if "history_len" not in case:
                case["history_len"] = counts.get(case.get("id"), 0)
                changed = True
        for task in tables.get("tasks", {}).values():
            if "unit" not in task:
                task["unit"] = task.pop("dept", None)
                changed = True
        if changed:
            write_tinydb(path, tables)


def migrate_2_to_3(data_dir: Path, sealer) -> None:
    import json

    from storage._files import atomic_write, read_tinydb, write_tinydb
    from storage._mark import Mark
    from storage._seal import SEAL, UNSEALED_HOT, ZERO, xor

    digest = ZERO
    hot_path = data_dir / "hot.json"
    hot = read_tinydb(hot_path)
    for path in [hot_path, *_partition_files(data_dir, "archive")]:
        tables = hot if path == hot_path else read_tinydb(path)
        changed = False
        for table, docs in tables.items():
            if table == "cases":
                seal_of = sealer.case
            elif table in UNSEALED_HOT or path != hot_path:
                continue
            else:
                def seal_of(doc, table=table):
                    return sealer.of_hot_doc(table, doc)
            for doc in docs.values():
                seal = seal_of(doc)
                digest = xor(digest, seal)
                if doc.get(SEAL) != seal:
                    doc[SEAL] = seal
                    changed = True
        if changed and path != hot_path:
            write_tinydb(path, tables)
    meta = hot.setdefault("_meta", {}).setdefault("1", {})
    lsn = int(meta.get("lsn", 0))
    meta["state"] = [lsn, digest, sealer.state(lsn, digest)]
    write_tinydb(hot_path, hot)  # always: hot.json carries the state digest from now on
    mark = Mark(data_dir / "wal.mark", sealer)
    try:
        mark.write(lsn, digest)
    finally:
        mark.close()
    meta_path = data_dir / "meta.json"
    info = json.loads(meta_path.read_bytes())
    info["seal_key_id"] = sealer.key_id
    atomic_write(meta_path, json.dumps(info).encode())


def _rebuild_people(data_dir: Path) -> None:
    """hot.json's `people` table built again from every stored case, the way commits build it."""
    from storage._files import read_tinydb, write_tinydb
    from storage._parts import PeoplePart

    hot_path = data_dir / "hot.json"
    index = PeoplePart(hot_path, "hot.json", None)  # its op_people builds the table as every commit does
    index._set_tables({})
    hot = read_tinydb(hot_path)
    for path in [hot_path, *_partition_files(data_dir, "archive")]:
        tables = hot if path == hot_path else read_tinydb(path)
        for case in tables.get("cases", {}).values():
            if isinstance(case.get("id"), str):
                index.op_people(case)
    hot["people"] = index.tables.get("people", {})
    next_ids = hot.get("_meta", {}).get("1", {}).get("next_ids")
    if next_ids is not None:  # the table's ids start again from 1
        next_ids["people"] = index.next_ids.get("people", 1)
    write_tinydb(hot_path, hot)


def migrate_3_to_4(data_dir: Path, sealer=None) -> None:
    _rebuild_people(data_dir)


def migrate_4_to_5(data_dir: Path, sealer=None) -> None:
    _rebuild_people(data_dir)


def migrate_5_to_6(data_dir: Path, sealer=None) -> None:
    from storage._files import atomic_write, fsync_dir, read_tinydb, write_tinydb
    from storage._layout import people_file
    from storage._parts import PeoplePart, people_bucket

    hot_path = data_dir / "hot.json"
    hot = read_tinydb(hot_path)
    if "people" not in hot:
        return  # moved already (or a data dir that never had cases)
    meta = hot.get("_meta", {}).get("1") or {}
    parts: dict[int, PeoplePart] = {}
    for doc in hot["people"].values():
        if isinstance(doc, dict) and isinstance(doc.get("person"), str) and isinstance(doc.get("_key"), str):
            bucket = people_bucket(doc["person"])
            part = parts.get(bucket)
            if part is None:
                part = parts[bucket] = PeoplePart(data_dir / people_file(bucket), people_file(bucket), bucket)
                part._set_tables({})
            part.put_doc("people", doc["_key"], doc)
    for part in parts.values():  # a file not written is empty: no one's documents are in it
        atomic_write(part.path, part.snapshot(int(meta.get("lsn", 0))), sync_dir=False)
    if parts:
        fsync_dir(data_dir / "people")
    del hot["people"]
    if isinstance(meta.get("next_ids"), dict):
        meta["next_ids"].pop("people", None)
    write_tinydb(hot_path, hot)


def migrate_6_to_7(data_dir: Path, sealer=None) -> None:
    from storage._due import earliest_due
    from storage._files import atomic_write, fsync_dir, read_tinydb, write_tinydb
    from storage._layout import partition_of, shard_of
    from storage._parts import DUE, ShardPart

    hot_path = data_dir / "hot.json"
    hot = read_tinydb(hot_path)
    if "cases" not in hot:
        return  # moved already (or a data dir that never had cases)
    meta = hot.get("_meta", {}).get("1") or {}
    parts: dict[tuple[str, int], ShardPart] = {}
    due: dict[str, dict] = {}
    for doc in hot["cases"].values():
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
            continue
        key = (partition_of(doc["id"]), shard_of(doc["id"]))
        part = parts.get(key)
        if part is None:
            name = f"open/{key[0]}/{key[1]:04d}.json"
            part = parts[key] = ShardPart(data_dir / name, name)
            part._set_tables({})
        part.put_doc("cases", doc["id"], doc)
        when = earliest_due(doc)
        if when is not None:
            due[str(len(due) + 1)] = {"_key": doc["id"], "due": when}
    folders = set()
    for part in parts.values():
        part.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(part.path, part.snapshot(int(meta.get("lsn", 0))), sync_dir=False)
        folders.add(part.path.parent)
    for folder in folders:
        fsync_dir(folder)
    if folders:
        fsync_dir(data_dir / "open")
    del hot["cases"]
    hot[DUE] = due
    if isinstance(meta.get("next_ids"), dict):
        meta["next_ids"].pop("cases", None)
        meta["next_ids"][DUE] = len(due) + 1
    write_tinydb(hot_path, hot)


#: step from version N to N + 1
MIGRATIONS: dict[int, Callable] = {1: migrate_1_to_2, 2: migrate_2_to_3, 3: migrate_3_to_4, 4: migrate_4_to_5,
                                   5: migrate_5_to_6, 6: migrate_6_to_7}


def fold_back(data_dir: Path, version: int) -> None:
    """Before the steps from `version`: the journal was folded into the files by this code, which keeps
    open cases (since 7) and the people index (since 6) in files of their own; what it wrote there goes
    back into hot.json, where a data dir of `version` keeps it, so every step finds all its data.

    Decided by the documents themselves, not by what the fold touched, so it is idempotent and a crash
    anywhere (even before it ran: the journal is already folded) is repaired by running it again: a
    case's copy with the higher `version` wins (the fold's is the newer); a case the fold closed is in its
    archive shard with a higher version than hot.json's open copy and leaves hot.json; a person's case
    stamps are merged, the later winning."""
    from storage._files import read_tinydb, write_tinydb
    from storage._layout import partition_of, shard_of

    hot_path = data_dir / "hot.json"
    moved = []  # files whose contents go back into hot.json: removed once it is written
    hot = read_tinydb(hot_path)
    if version < 7:
        moved += sorted(data_dir.glob("open/*/*.json"))
        cases = hot.setdefault("cases", {})
        where = {doc.get("id"): did for did, doc in cases.items()}
        next_id = max(map(int, cases), default=0) + 1
        for path in moved:
            for doc in read_tinydb(path).get("cases", {}).values():
                did = where.get(doc.get("id"))
                if did is None:
                    did, next_id = str(next_id), next_id + 1
                    where[doc["id"]] = did
                elif int(cases[did].get("version", 0)) > int(doc.get("version", 0)):
                    continue
                cases[did] = doc
        archived: dict[tuple[str, int], dict] = {}
        for cid, did in list(where.items()):
            if not isinstance(cid, str):
                continue
            key = (partition_of(cid), shard_of(cid))
            if key not in archived:
                shard = read_tinydb(data_dir / f"archive/{key[0]}/{key[1]:04d}.json").get("cases", {})
                archived[key] = {doc.get("id"): doc for doc in shard.values()}
            closed = archived[key].get(cid)
            if closed is not None and int(closed.get("version", 0)) >= int(cases[did].get("version", 0)):
                del cases[did]
        hot.pop("_due", None)
        next_ids = hot.get("_meta", {}).get("1", {}).get("next_ids")
        if isinstance(next_ids, dict):
            next_ids.pop("_due", None)
            next_ids["cases"] = max(int(next_ids.get("cases", 1)), next_id)
    if version < 6:
        files = sorted(data_dir.glob("people/*.json"))
        moved += files
        people = hot.setdefault("people", {})
        where = {doc.get("_key"): did for did, doc in people.items()}
        next_id = max(map(int, people), default=0) + 1
        for path in files:
            for doc in read_tinydb(path).get("people", {}).values():
                did = where.get(doc.get("_key"))
                if did is None:
                    did, next_id = str(next_id), next_id + 1
                    where[doc["_key"]] = did
                else:
                    old = people[did]
                    doc = {**old, **{kind: {**old.get(kind, {}), **doc.get(kind, {})} for kind in ("started", "acted")}}
                people[did] = doc
        next_ids = hot.get("_meta", {}).get("1", {}).get("next_ids")
        if isinstance(next_ids, dict):
            next_ids["people"] = max(int(next_ids.get("people", 1)), next_id)
    if not moved:
        return
    write_tinydb(hot_path, hot)
    for path in moved:
        path.unlink()
