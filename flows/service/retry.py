"""Acting again on a case as it now is, when another write came between reading it and committing.

A command that does not pin the version it was shown (`expected_version` None: the command line, the
demo, the interventions of a page that only names the case) means "on the case as it is". The usual
writer in between is effects' bookkeeping of a serving process (a document issued, a run recorded):
the command's commit is refused as stale having written nothing, and the command runs again on the
case read afresh, checked again by the engine (an action no longer open is refused then). A command
that pins a version is never retried: its conflict is the user's to see.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from flows.core.errors import StaleVersion

T = TypeVar("T")

TRIES = 20
PAUSE_S = 0.05  # between tries after the second: a serving process's run writes a few times


def on_fresh_case(command: Callable[[], T], *, tries: int = TRIES, pause: float = PAUSE_S) -> T:
    """`command()`, run again (up to `tries` in all) while it is refused as stale."""
    for attempt in range(tries):
        try:
            return command()
        except StaleVersion:
            if attempt == tries - 1:
                raise
            if attempt:
                time.sleep(pause)
    raise AssertionError("unreachable")
