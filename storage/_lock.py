"""Locks between processes sharing a data directory: the write lock (flock on `data_dir/.lock`) and the
checkpoint lock (`data_dir/.checkpoint`)."""
from __future__ import annotations

import os
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None


class ProcessLock:
    """Exclusive lock between processes: flock on `data_dir/.lock` (what `filelock` uses on POSIX),
    on a descriptor kept open, so taking it costs a system call; `filelock` elsewhere."""

    def __init__(self, path: Path):
        self.depth = 0  # re-entrant: an inner `with` must not release the flock an outer one holds
        if fcntl is not None:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            self.flock = None
        else:  # pragma: no cover
            import filelock

            self.fd = -1
            self.flock = filelock.FileLock(str(path))

    def __enter__(self):
        if self.depth == 0:
            if self.flock is None:
                fcntl.flock(self.fd, fcntl.LOCK_EX)
            else:  # pragma: no cover
                self.flock.acquire()
        self.depth += 1
        return self

    def try_enter(self) -> bool:
        """Enter without waiting: False when another process holds it."""
        if self.depth == 0:
            if self.flock is None:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
            else:  # pragma: no cover
                import filelock

                try:
                    self.flock.acquire(timeout=0)
                except filelock.Timeout:
                    return False
        self.depth += 1
        return True

    def __exit__(self, *exc):
        self.depth -= 1
        if self.depth == 0:
            if self.flock is None:
                if self.fd >= 0:  # closed meanwhile (Store.close): closing the descriptor let the lock go
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
            else:  # pragma: no cover
                self.flock.release()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class CheckpointLock:
    """Who may write the partition files and start a journal generation: one thread of one process at
    a time (flock on `data_dir/.checkpoint`). Taken before the Store's mutex and the write lock, never
    while holding them; a background checkpoint holds it across its file writes while commits go on."""

    def __init__(self, path: Path):
        self._thread = threading.RLock()
        self._process = ProcessLock(path)

    def __enter__(self):
        self._thread.acquire()
        try:
            self._process.__enter__()
        except BaseException:
            self._thread.release()
            raise
        return self

    def __exit__(self, *exc):
        try:
            self._process.__exit__(*exc)
        finally:
            self._thread.release()

    def try_acquire(self) -> bool:
        """Take it if nobody holds it (a background checkpoint skips its turn otherwise)."""
        if not self._thread.acquire(blocking=False):
            return False
        try:
            if self._process.try_enter():
                return True
        except BaseException:
            self._thread.release()
            raise
        self._thread.release()
        return False

    def release(self) -> None:
        self.__exit__(None, None, None)

    def close(self) -> None:
        self._process.close()
