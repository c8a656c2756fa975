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

A step is called with the data directory and the `Sealer` of the opening store.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

SCHEMA_VERSION = 6


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


#: step from version N to N + 1
MIGRATIONS: dict[int, Callable] = {1: migrate_1_to_2, 2: migrate_2_to_3, 3: migrate_3_to_4, 4: migrate_4_to_5,
                                   5: migrate_5_to_6}
