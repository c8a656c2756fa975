"""Keeping the interpreter's own pauses off the commit path when a big store is in memory.

Two pauses showed at 300,000 cases (hot.json 129 MB, millions of Python objects): a full run of the
cycle collector walks every tracked object (450 ms), and a commit that gave the interpreter lock away
for its fsync waits a whole switch interval (5 ms, several times per commit) to get it back from the
checkpoint thread that is encoding. So: the loaded documents, which live long and form no cycles, are
moved out of the collector's sight (`gc.freeze`) once a store is that big; and while a checkpoint
encodes, threads switch every 0.5 ms. Both are process-wide; the first leaves cyclic garbage that
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
