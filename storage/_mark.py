"""The high-water mark: the last acknowledged journal number (LSN) with the sealed state digest after it.

``wal.mark`` holds two fixed-size slots; a commit writes slot ``lsn % 2`` with ``pwrite`` and
``fdatasync`` after the journal line itself is durable, so a crash tearing one slot leaves the other.
The mark is how a journal that was cut short or deleted (every record since the last checkpoint gone)
is told from one that simply has nothing new: the mark names a number the journal no longer reaches.
Each slot is sealed (`Sealer.state`), so it cannot be moved forward or back without the key.

The journal line is made durable by every commit; the mark's own `fdatasync` is taken at most every
`SYNC_EVERY_S` (and on `sync`/`close`, which checkpoints and closing call). Its write is visible to
every reader at once (the page cache), so a killed process loses nothing of it; only a power cut or
an OS crash can leave the mark on disk behind the journal, by the commits of the last moments, and a
mark behind the journal is what opening expects anyway (it only ever lags, it never runs ahead: it
is written after the journal line is durable). What that costs: a journal cut short in that same
window after a power cut would go unnoticed. What it saves: one of the two syncs of every commit.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from storage._files import datasync, fsync_dir
from storage._seal import Sealer

SLOT = 256
SYNC_EVERY_S = 0.05  # the longest a mark written by a commit waits for its fdatasync while commits go on


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
        self._synced_at = float("-inf")  # time.monotonic() of the last fdatasync
        self._unsynced = False

    def _open(self) -> None:
        if self.fd < 0:
            existed = self.path.exists()
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not existed:
                fsync_dir(self.path.parent)

    def write(self, lsn: int, digest: str, *, sync: bool = True) -> None:
        """Raises OSError; the caller decides (after a durable commit a failed mark write is not fatal).
        `sync=False` (a commit): the fdatasync only when the last one is `SYNC_EVERY_S` old."""
        self._open()
        body = json.dumps({"lsn": lsn, "state": digest, "mac": self.sealer.state(lsn, digest)})
        os.pwrite(self.fd, body.encode().ljust(SLOT - 1) + b"\n", (lsn % 2) * SLOT)
        self._unsynced = True
        if sync or time.monotonic() - self._synced_at >= SYNC_EVERY_S:
            self.sync()

    def sync(self) -> None:
        """Make the last write durable (nothing to do when it is)."""
        if self.fd < 0 or not self._unsynced:
            return
        datasync(self.fd)
        self._unsynced = False
        self._synced_at = time.monotonic()

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
            try:
                self.sync()
            except OSError:
                pass  # the journal is durable; the mark only lags
            os.close(self.fd)
            self.fd = -1
