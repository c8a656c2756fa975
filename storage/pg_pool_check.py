"""Whether a pooled connection still works, without a round trip to the server on every hand-out.

`psycopg_pool`'s own check (`ConnectionPool.check_connection`) sends an empty query each time a
connection leaves the pool: with a case page's three or four reads per click that is as many extra round
trips, a fifth of what a click costs. A server that restarts, or ends a session (``pg_terminate_backend``,
``idle_session_timeout``), tells the client by a message and by closing the socket, so a connection that
went bad while it sat in the pool has something to read: only then, or when it sat idle longer than
`IDLE_S` (a silent network in between), is the full check made; the pool replaces one that fails it.
"""
from __future__ import annotations

import select
import time
import weakref

from psycopg_pool import ConnectionPool

IDLE_S = 30.0


class CheapCheck:
    """`check` and `reset` of one pool: `reset` notes when a connection came back, `check` looks at it."""

    def __init__(self, idle_s: float = IDLE_S) -> None:
        self.idle_s = idle_s
        self._back: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def reset(self, conn) -> None:
        self._back[conn] = time.monotonic()

    def check(self, conn) -> None:
        back = self._back.get(conn)
        if back is None or time.monotonic() - back > self.idle_s or _has_something_to_read(conn):
            ConnectionPool.check_connection(conn)  # raises when the connection is gone: the pool makes another


def _has_something_to_read(conn) -> bool:
    """An idle connection is sent nothing (we do not LISTEN): a message or an EOF means trouble."""
    try:
        fd = conn.fileno()
    except Exception:  # closed: let the full check say so
        return True
    return bool(select.select([fd], [], [], 0)[0])
