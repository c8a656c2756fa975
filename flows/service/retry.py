"""Acting again on a case as it now is, when another write came between reading it and committing.

A command that does not pin the version it was shown (the command line without --expect-version,
the demo, an intervention of a page that only names the case) means "on the case as it is". The
usual writer in between is effects' bookkeeping of a serving process (a document issued, a run
recorded): the commit is refused as stale having written nothing, and the command runs again on the
case read afresh, checked again by the engine. `moved` says when to stop instead: the case moved on
meanwhile (someone else's step), which is the user's to see, not to be acted over.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from flows.core.errors import StaleVersion

T = TypeVar("T")

TRIES = 20
PAUSE_S = 0.05  # between tries after the second: a serving process's run writes a few times


def on_fresh_case(command: Callable[[], T], *, tries: int = TRIES, pause: float = PAUSE_S,
                  moved: Callable[[], bool] | None = None) -> T:
    """`command()`, run again (up to `tries` in all) while it is refused as stale and not `moved()`."""
    for attempt in range(tries):
        try:
            return command()
        except StaleVersion:
            if attempt == tries - 1 or (moved is not None and moved()):
                raise
            if attempt:
                time.sleep(pause)
    raise AssertionError("unreachable")
