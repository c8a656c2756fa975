"""The write lock between processes sharing a data directory: flock on `data_dir/.lock`."""
from __future__ import annotations

import os
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

    def __exit__(self, *exc):
        self.depth -= 1
        if self.depth == 0:
            if self.flock is None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            else:  # pragma: no cover
                self.flock.release()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
