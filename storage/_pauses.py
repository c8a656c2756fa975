"""Keeping the interpreter's own pauses off the commit path when a big store is in memory.

Three pauses showed at 300,000 cases (hot.json 129 MB, millions of Python objects): a full run of the
cycle collector walks every tracked object (450 ms); a commit that gave the interpreter lock away
for its fsync waits a whole switch interval (5 ms, several times per commit) to get it back from the
checkpoint thread that is encoding; and reading hot.json, the millions of new objects set off full
runs of the collector themselves, a third of the time of opening the store. So: while a store loads,
the collector waits (`collector_paused`); the loaded documents, which live long and form no cycles,
are then moved out of its sight (`gc.freeze`) once a store is that big; and while a checkpoint
encodes, threads switch every 0.5 ms. All are process-wide; freezing leaves cyclic garbage that
exists at that moment uncollected (documents are freed by their reference counts as before).
"""
from __future__ import annotations

import gc
import sys
import threading
from contextlib import contextmanager

FREEZE_DOCS = 20_000  # documents in memory from which the collector's full runs are worth avoiding
QUICK_SWITCH_S = 0.0005

_lock = threading.Lock()
_quick = 0  # checkpoints encoding now, in this process
_normal = sys.getswitchinterval()
_paused = 0  # loads under way now, in this process (`collector_paused`)
_was_enabled = True


def settle(docs: int) -> None:
    """After loading `docs` long-lived documents: out of the collector's sight when there are many."""
    if docs >= FREEZE_DOCS:
        gc.freeze()


@contextmanager
def quick_switches():
    """While a checkpoint encodes: commits of other threads get the interpreter back within 0.5 ms."""
    global _quick, _normal
    with _lock:
        if _quick == 0:
            _normal = sys.getswitchinterval()
            sys.setswitchinterval(min(_normal, QUICK_SWITCH_S))
        _quick += 1
    try:
        yield
    finally:
        with _lock:
            _quick -= 1
            if _quick == 0:
                sys.setswitchinterval(_normal)


@contextmanager
def collector_paused():
    """While a store reads its files: no collector runs (the new objects form no cycles). After the
    last load under way, the collector is as it was before the first."""
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()
