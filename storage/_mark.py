"""The high-water mark: the last acknowledged journal number (LSN) with the sealed state digest after it.

``wal.mark`` holds two fixed-size slots; a commit writes slot ``lsn % 2`` with ``pwrite`` and
``fdatasync`` after the journal line itself is durable, so a crash tearing one slot leaves the other.
The mark is how a journal that was cut short or deleted (every record since the last checkpoint gone)
is told from one that simply has nothing new: the mark names a number the journal no longer reaches.
Each slot is sealed (`Sealer.state`), so it cannot be moved forward or back without the key.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from storage._files import fsync_dir
from storage._seal import Sealer

SLOT = 256


@dataclass
class MarkRead:
    status: str  # "ok", "missing" (no file or empty) or "damaged" (no slot with a valid seal)
    lsn: int = 0
    digest: str = ""


class Mark:
    def __init__(self, path: Path, sealer: Sealer):
        self.path = path
        self.sealer = sealer
        self.fd = -1

    def _open(self) -> None:
        if self.fd < 0:
            existed = self.path.exists()
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not existed:
                fsync_dir(self.path.parent)

    def write(self, lsn: int, digest: str) -> None:
        """Raises OSError; the caller decides (after a durable commit a failed mark write is not fatal)."""
        self._open()
        body = json.dumps({"lsn": lsn, "state": digest, "mac": self.sealer.state(lsn, digest)})
        os.pwrite(self.fd, body.encode().ljust(SLOT - 1) + b"\n", (lsn % 2) * SLOT)
        if hasattr(os, "fdatasync"):
            os.fdatasync(self.fd)
        else:  # pragma: no cover
            os.fsync(self.fd)

    def read(self) -> MarkRead:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return MarkRead("missing")
        if not raw.strip(b"\x00 \n"):
            return MarkRead("missing")
        best = None
        for i in range(0, len(raw), SLOT):
            try:
                slot = json.loads(raw[i:i + SLOT])
                lsn, digest = int(slot["lsn"]), str(slot["state"])
                ok = slot["mac"] == self.sealer.state(lsn, digest)
            except (ValueError, KeyError, TypeError):
                continue
            if ok and (best is None or lsn > best.lsn):
                best = MarkRead("ok", lsn, digest)
        return best or MarkRead("damaged")

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
