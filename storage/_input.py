"""What a caller hands a store, checked and copied the same way by both backends (TinyDB files and
PostgreSQL): a case with its events and tasks, a small-table record, a file's path."""
from __future__ import annotations

from pathlib import Path

from storage._json import normalize
from storage._seal import SEAL
from storage.errors import StorageError

INTEGRITY = "_integrity"  # the TinyDB store's notes of what opening found wrong (`storage._verify`)
RESERVED_TABLES = {"_meta", "_due", "cases", "tasks", "sequences", "events", "people", INTEGRITY}


def case_input(case: dict, events: list[dict], tasks: list[dict] | None) -> tuple[dict, list[dict], list[dict] | None]:
    """Private copies of a commit's case, events and tasks (exactly what a replay will see), or StorageError."""
    if not isinstance(case, dict) or not isinstance(case.get("id"), str) or not case["id"]:
        raise StorageError("案件缺少编号（id），无法保存")
    if case.get("status") not in ("open", "closed"):
        raise StorageError(f"案件 {case['id']} 的状态必须是 open 或 closed，而不是 {case.get('status')!r}")
    doc = normalize(case, f"案件 {case['id']} ")
    doc.pop(SEAL, None)  # a caller's seal is never trusted: the store computes it
    evs = normalize(list(events or []), f"案件 {case['id']} 的事件")
    tks = None if tasks is None else normalize(list(tasks), f"案件 {case['id']} 的待办")
    if any(not isinstance(e, dict) for e in evs) or (tks and any(not isinstance(t, dict) for t in tks)):
        raise StorageError(f"案件 {doc['id']} 的事件和待办必须是字典")
    return doc, evs, tks


def check_table(table: str) -> None:
    if not isinstance(table, str) or not table or table in RESERVED_TABLES:
        raise StorageError(f"表名 {table!r} 不可用（保留给存储层或为空）")


def record_input(table: str, key: str, doc: dict) -> dict:
    """A private copy of a small-table record to store under `key`, or StorageError."""
    check_table(table)
    if not isinstance(key, str) or not key:
        raise StorageError(f"表 {table} 的记录键必须是非空字符串")
    new = normalize(doc, f"表 {table} 的记录 {key} ")
    if not isinstance(new, dict):
        raise StorageError(f"表 {table} 的记录 {key} 必须是字典")
    new.pop(SEAL, None)
    return new


def new_records_input(records) -> list[tuple[str, str, dict]]:
    """Private copies of the records a commit creates with its case: (table, key, doc) each, keys unique."""
    out, seen = [], set()
    for item in records or ():
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise StorageError("随案件一并写入的记录须为（表, 键, 内容）")
        table, key, doc = item
        if (table, key) in seen:
            raise StorageError(f"表 {table} 的记录 {key} 在同一次提交中出现了两次")
        seen.add((table, key))
        out.append((table, key, record_input(table, key, doc)))
    return out


def files_path(data_dir: Path, relpath: str) -> Path:
    """Where a document or attachment lives under `data_dir/files`; a path that would leave it is refused."""
    rel = Path(relpath)
    if not str(relpath) or rel.is_absolute() or ".." in rel.parts:
        raise StorageError(f"文件路径 {relpath!r} 不合法（必须是 files/ 下的相对路径）")
    return data_dir / "files" / rel
