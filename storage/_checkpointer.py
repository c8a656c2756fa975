"""The Store's background checkpoints: a thread that saves the partition files when asked, so that no
commit waits for a checkpoint (at 300,000 cases hot.json alone is over 100 MB)."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable

from storage.errors import StorageError


class Checkpointer:
    """Runs `work` in a thread of its own, once per batch of requests. Started on the first request
    (again in a forked child, where threads do not survive), stopped by `stop`."""

    def __init__(self, work: Callable[[], None]):
        self._work = work
        self._cond = threading.Condition()
        self._asked = 0  # requests so far
        self._done = 0  # requests answered by a finished run
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.last_error: Exception | None = None  # what the last run that failed said (the journal keeps all)

    def request(self) -> None:
        with self._cond:
            if self._stopping:
                return
            self._asked += 1
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="store-checkpoint", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or self._done < self._asked)
                if self._stopping:
                    self._done = self._asked
                    self._cond.notify_all()
                    return
                target = self._asked
            try:
                self._work()
                self.last_error = None
            except (StorageError, OSError) as exc:
                self.last_error = exc  # the records are durable in the journal; a later request tries again
            with self._cond:
                self._done = max(self._done, target)
                self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Until every request made so far has been answered; False when `timeout` passed first."""
        with self._cond:
            target = self._asked
            return self._cond.wait_for(lambda: self._done >= target or self._thread is None
                                       or not self._thread.is_alive(), timeout)

    def stop(self) -> None:
        """Let a running checkpoint finish, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join()
