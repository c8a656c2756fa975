"""Seals: HMAC-SHA256 under a key kept outside the data directory, so a consistent forgery inside it
(records rewritten and every hash of the chain recomputed) is still told apart from the real thing.

* The key: 32 random bytes in ``$WORKFLOW_SEAL_KEY_FILE`` or ``~/.config/county-safety/seal.key``,
  made on first use with mode 0600. Its id (an HMAC of a constant, not the key) is kept in
  ``meta.json``, so a process holding another key is refused before it writes.
* Every sealed document carries ``_seal`` = HMAC of its canonical JSON: cases (which hold the head and
  length of their history chain, so the chain is sealed with them), the small tables' records and the
  counters. Readers never see ``_seal``; a caller's ``_seal`` is never trusted.
* The state digest: the XOR of the seals of every sealed document the data directory holds, kept up to
  date by each commit (one XOR out for the document's old content, recomputed, one in for the new) and
  itself sealed with the journal number (LSN) it belongs to. Each journal record carries the digest
  after it; a checkpoint writes it into ``hot.json``. A deleted document, an older copy put back, or
  one added outside the program changes the XOR without a way to seal the new value.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from storage._chain import canonical
from storage._files import fsync_dir
from storage.errors import StorageError

KEY_ENV = "WORKFLOW_SEAL_KEY_FILE"
DEFAULT_KEY_FILE = Path("~") / ".config" / "county-safety" / "seal.key"
KEY_BYTES = 32
ZERO = "0" * 64  # the digest of nothing
SEAL = "_seal"


def key_path() -> Path:
    env = os.environ.get(KEY_ENV)
    return Path(env).expanduser() if env else DEFAULT_KEY_FILE.expanduser()


def load_key(path: Path | None = None) -> bytes:
    """The seal key, made (32 random bytes, mode 0600) when the file does not exist yet."""
    path = Path(path) if path is not None else key_path()
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = _create_key(path)
    except OSError as exc:
        raise StorageError(f"无法读取封印密钥文件 {path}：{exc}") from None
    if len(key) != KEY_BYTES:
        raise StorageError(f"封印密钥文件 {path} 已损坏（应为 {KEY_BYTES} 字节，实为 {len(key)} 字节）")
    return key


def _create_key(path: Path) -> bytes:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, secrets.token_bytes(KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # whole or not at all; another process that made it first wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        fsync_dir(path.parent)
        return path.read_bytes()
    except OSError as exc:
        raise StorageError(f"无法创建封印密钥文件 {path}：{exc}") from None


def xor(a: str, b: str) -> str:
    return f"{int(a, 16) ^ int(b, 16):064x}"


def _without_seal(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != SEAL} if SEAL in doc else doc


class Sealer:
    """The HMACs of one key."""

    def __init__(self, key: bytes):
        self._key = bytes(key)
        self.key_id = self._mac(b"key-id", b"")[:16]

    def _mac(self, kind: bytes, payload: bytes) -> str:
        return hmac.new(self._key, kind + b"\x00" + payload, hashlib.sha256).hexdigest()

    def case(self, doc: dict) -> str:
        return self._mac(b"case", canonical(_without_seal(doc)))

    def put(self, table: str, key: str, doc: dict) -> str:
        return self._mac(b"put", canonical([table, key, _without_seal(doc)]))

    def seq(self, name: str, value: int) -> str:
        return self._mac(b"seq", canonical([name, value]))

    def state(self, lsn: int, digest: str) -> str:
        """The seal of the state digest at journal number `lsn`."""
        return self._mac(b"state", f"{int(lsn)}:{digest}".encode())

    def slot(self, n: int, digest: str) -> str:
        """The seal of the state digest of group `n` (the PostgreSQL store keeps one per group: `pg_seals`)."""
        return self._mac(b"slot", f"{int(n)}:{digest}".encode())

    def of_hot_doc(self, table: str, doc: dict) -> str:
        """The seal of a document of hot.json's small tables or counters."""
        if table == "sequences":
            return self.seq(doc.get("_key"), doc.get("value"))
        return self.put(table, doc.get("_key"), doc)


#: hot.json tables whose documents are not sealed one by one (cases are; tasks, due times and people derive
#: from cases: `verify` checks the due times against the cases)
UNSEALED_HOT = frozenset({"_meta", "_due", "cases", "tasks", "people"})
