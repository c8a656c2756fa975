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
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

SCHEMA_VERSION = 2


def _partition_files(data_dir: Path, folder: str) -> list[Path]:
    root = data_dir / folder
    return sorted(root.glob("*/*.json")) if root.is_dir() else []


def migrate_1_to_2(data_dir: Path) -> None:
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


#: step from version N to N + 1
MIGRATIONS: dict[int, Callable[[Path], None]] = {1: migrate_1_to_2}
