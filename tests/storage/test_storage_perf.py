"""Measurements at 10,000 open cases on both backends (printed, not asserted: timings depend on the machine).

The full 100k figures come from `bench/storage_bench.py`.
"""
from __future__ import annotations

import time

import pytest

from bench.storage_bench import fill, measure_commits, measure_inbox, stock_tinydb_commit_p50


@pytest.mark.slow
def test_measure_commit_and_inbox_at_10k_open_cases(place, capsys):
    t = time.perf_counter()
    with place.open() as store:
        open_ids = fill(store, n_cases=12_000, n_open=10_000, events_per_case=3)
    filled = time.perf_counter() - t
    t = time.perf_counter()
    store = place.open()
    opened = time.perf_counter() - t
    try:
        tasks = place.sql("SELECT count(*) FROM tasks")[0][0] if place.pg else len(store.hot.tables["tasks"])
        assert len(open_ids) == 10_000 and tasks == 20_000
        commits = measure_commits(store, open_ids, 1500)
        inbox_ms, returned = measure_inbox(store)
        assert store.verify() == []
    finally:
        store.close()
    stock = stock_tinydb_commit_p50(n_docs=5000, updates=10)
    with capsys.disabled():
        print(f"\n[storage ({place.kind}) @ 10k open cases, 20k tasks] fill {filled:.1f} s, open {opened * 1000:.0f} ms, "
              f"commit p50 {commits['p50']:.2f} ms / p95 {commits['p95']:.2f} ms / mean {commits['mean']:.2f} ms "
              f"{'' if place.pg else '(checkpoints included)'}, {commits['per_s']:.0f} actions/s, inbox {inbox_ms:.2f} ms "
              f"({returned} tasks); stock TinyDB update at 5k docs p50 {stock:.0f} ms")
