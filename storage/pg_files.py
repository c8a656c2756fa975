"""Documents and attachments of the PostgreSQL store: kept in the database (table `files`, bytea), cached
as plain files under this host's data directory (``files/<path>``, the TinyDB store's layout).

Why in the database and not on a shared file system: the Word documents are written by whichever Prefect
worker issued them, and downloaded from whichever app host the user reached; with the case data in
PostgreSQL, a shared directory (NFS, with its locking and its outages) would be the one thing the hosts
still had to share, and backups of the database alone would miss the documents its cases name. A file
is a few tens of KB (Word) to 20 MB (an upload, the app's limit): PostgreSQL keeps such values out of
line (TOAST) without trouble.

`save_file` writes the row first (the truth), then the local copy. `file_path` returns the local copy,
fetched from the database when it is missing or differs from the row (another host saved the path
again: a report issued anew), so callers keep reading, streaming and handing paths to LibreOffice as
with the TinyDB store. A path with no row is only local (scratch files such as the designer's probe).
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from storage._files import atomic_write
from storage._input import files_path


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class PgFilesMixin:
    """`file_path` and `save_file` of `PgStore` (mixed into it: uses its `_conn`, `_tx` and `dir`)."""

    def _init_files(self) -> None:
        self._file_lock = threading.Lock()
        self._file_known: dict[Path, tuple[int, int, str]] = {}  # local copy → (mtime_ns, size, sha256)

    def _local_sha(self, path: Path) -> str | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        with self._file_lock:
            known = self._file_known.get(path)
        if known and known[:2] == (st.st_mtime_ns, st.st_size):
            return known[2]
        sha = _sha256_of(path)
        with self._file_lock:
            self._file_known[path] = (st.st_mtime_ns, st.st_size, sha)
        return sha

    def _remember(self, path: Path, sha: str) -> None:
        st = path.stat()
        with self._file_lock:
            self._file_known[path] = (st.st_mtime_ns, st.st_size, sha)

    def file_path(self, relpath: str) -> Path:
        path = files_path(self.dir, relpath)
        key = Path(relpath).as_posix()
        with self._conn() as conn:
            row = conn.execute("SELECT sha256 FROM files WHERE path = %s", (key,)).fetchone()
            if row is None or self._local_sha(path) == row[0]:
                return path
            found = conn.execute("SELECT sha256, content FROM files WHERE path = %s", (key,)).fetchone()
        if found is not None:
            atomic_write(path, bytes(found[1]))
            self._remember(path, found[0])
        return path

    def save_file(self, relpath: str, content: bytes) -> Path:
        path = files_path(self.dir, relpath)
        content = bytes(content)
        sha = hashlib.sha256(content).hexdigest()
        with self._tx() as conn:
            conn.execute("INSERT INTO files (path, sha256, size, content) VALUES (%s, %s, %s, %s) ON CONFLICT (path) "
                         "DO UPDATE SET sha256 = EXCLUDED.sha256, size = EXCLUDED.size, content = EXCLUDED.content, "
                         "saved_at = now()", (Path(relpath).as_posix(), sha, len(content), content))
        atomic_write(path, content)
        self._remember(path, sha)
        return path


def local_files(data_dir: Path) -> list[tuple[str, Path]]:
    """Every file under `data_dir/files` as (path relative to it, file), leaving out unfinished writes."""
    root = data_dir / "files"
    out = []
    for folder, _, names in os.walk(root):
        for name in sorted(names):
            if name.startswith(".") and name.endswith(".tmp"):
                continue
            full = Path(folder) / name
            out.append((full.relative_to(root).as_posix(), full))
    return sorted(out)
