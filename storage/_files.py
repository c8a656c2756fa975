"""File helpers: atomic writes and TinyDB files held in memory."""
from __future__ import annotations

import json
import os
from pathlib import Path

from tinydb.storages import Storage

from storage.errors import StorageError


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable (POSIX); a no-op where directories can't be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def datasync(fd: int) -> None:
    """Make a file's data durable (fdatasync; fsync where the system has none)."""
    getattr(os, "fdatasync", os.fsync)(fd)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def atomic_write(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Write `data` to `path` so that a crash leaves either the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if sync_dir:
        fsync_dir(path.parent)


def read_tinydb(path: Path) -> dict:
    """Read a TinyDB JSON file as its raw {table: {doc_id: doc}} dict ({} when missing or empty)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return {}
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise StorageError(f"文件 {path} 已损坏，无法读取：{exc}") from None
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        raise StorageError(f"文件 {path} 不是 TinyDB 数据库")
    return data


def dump_tinydb(tables: dict) -> bytes:
    # UTF-8, Chinese readable as such. Stock TinyDB opens files with the locale's encoding: UTF-8 on
    # Debian and in Python's C-locale coercion; elsewhere pass TinyDB(path, encoding="utf-8").
    return json.dumps(tables, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def write_tinydb(path: Path, tables: dict, *, sync_dir: bool = True) -> None:
    atomic_write(path, dump_tinydb(tables), sync_dir=sync_dir)


class MemoryTables(Storage):
    """A TinyDB storage whose data lives in memory; the Store journals and checkpoints it to a file."""

    def __init__(self, data: dict | None = None):
        self.data = data if data is not None else {}

    def read(self) -> dict:
        return self.data

    def write(self, data: dict) -> None:  # only TinyDB's own write API lands here; the Store writes in place
        if data is not self.data:
            self.data.clear()
            self.data.update(data)
