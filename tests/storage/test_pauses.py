"""The collector waits while a store loads, and is afterwards as it was before (storage._pauses)."""
from __future__ import annotations

import gc
import threading

from storage._pauses import collector_paused


def test_the_collector_waits_while_loading_and_comes_back():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # a second load meanwhile (another store, another thread)
            assert not gc.isenabled()
        assert not gc.isenabled()  # the first is still loading
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_failed_load_brings_the_collector_back():
    try:
        with collector_paused():
            raise OSError("disk gone")
    except OSError:
        pass
    assert gc.isenabled()


def test_loads_in_two_threads_overlapping():
    inside, leave = threading.Event(), threading.Event()

    def other():
        with collector_paused():
            inside.set()
            leave.wait(5)

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    with collector_paused():
        pass
    assert not gc.isenabled()  # the other thread's load is not over
    leave.set()
    t.join(5)
    assert gc.isenabled()
