"""Shared helpers of the storage tests (not a test module)."""
from __future__ import annotations

import glob
import os
from pathlib import Path

from tinydb import TinyDB


def case_doc(case_id: str, status: str = "open", **extra) -> dict:
    doc = {"id": case_id, "workflow": case_id.split("-")[0].lower(), "title": f"案件 {case_id}",
           "status": status, "unit": "安监科", "active": ["draft"], "data": {"count": 0}}
    doc.update(extra)
    return doc


def task(case_id: str, role: str | None = "科员", unit: str | None = None, user: str | None = None,
         due: str | None = None, state: str = "draft") -> dict:
    return {"case_id": case_id, "workflow": case_id.split("-")[0].lower(), "state": state, "role": role,
            "unit": unit, "user": user, "due": due, "actions": ["submit"]}


def event(kind: str = "act", comment: str = "", **extra) -> dict:
    ev = {"type": kind, "actor": "u1", "at": "2024-03-01T09:00:00", "comment": comment}
    ev.update(extra)
    return ev


def partition_files(data_dir: str | Path) -> list[str]:
    d = str(data_dir)
    files = [os.path.join(d, "hot.json")] if os.path.exists(os.path.join(d, "hot.json")) else []
    files += sorted(glob.glob(os.path.join(d, "open", "*", "*.json")))
    files += sorted(glob.glob(os.path.join(d, "archive", "*", "*.json")))
    files += sorted(glob.glob(os.path.join(d, "history", "*", "*.json")))
    return files


def open_with_stock_tinydb(data_dir: str | Path) -> dict[str, dict[str, int]]:
    """Open every partition file with stock TinyDB (JSONStorage); returns {file: {table: count}}."""
    out = {}
    for path in partition_files(data_dir):
        db = TinyDB(path)
        try:
            out[path] = {name: len(db.table(name)) for name in db.tables()}
        finally:
            db.close()
    return out
