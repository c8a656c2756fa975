"""Two processes on the same place (a TinyDB data directory, or one PostgreSQL database with a local
directory each, as on two hosts): optimistic concurrency loses no update, and counters never hand out a
number twice."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("storage_race_child.py")


def run_pair(place, mode: str, n: int) -> list[str]:
    start_at = time.time() + 2.0
    procs = []
    for seed in (1, 2):
        # on PostgreSQL each process has a working directory of its own: nothing shared but the database
        data = place.data_dir / f"host{seed}" if place.pg else place.data_dir
        procs.append(subprocess.Popen([sys.executable, str(CHILD), str(data), mode, str(n), str(seed), str(start_at),
                                       *([place.url] if place.pg else [])],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(out)
    return outs


@pytest.mark.slow
def test_two_processes_lose_no_update(place):
    with place.open() as s:
        for i in range(1, 4):
            s.commit({"id": f"RC-2024-{i:05d}", "workflow": "rc", "status": "open", "data": {"count": 0}},
                     [{"type": "start"}], [], 0)
    outs = run_pair(place, "count", 300)
    results = [tuple(map(int, out.split()[1:])) for out in outs]
    successes = sum(r[0] for r in results)
    conflicts = sum(r[1] for r in results)
    print(f"\nconcurrency ({place.kind}): {successes} commits, {conflicts} conflicts reported and retried")
    assert successes == 600
    assert conflicts > 0, "the two processes never collided: the test proves nothing"
    with place.open() as s:
        cases = [s.get_case(f"RC-2024-{i:05d}") for i in range(1, 4)]
        assert sum(c["data"]["count"] for c in cases) == successes
        assert sum(sum(c["data"]["by"].values()) for c in cases) == successes
        for c in cases:
            assert c["version"] == c["data"]["count"] + 1 == c["history_len"]
            assert len(s.history(c["id"])) == c["history_len"]
        assert s.verify() == []


@pytest.mark.slow
def test_two_processes_never_share_a_sequence_number(place):
    place.open().close()
    outs = run_pair(place, "seq", 400)
    values = [int(v) for out in outs for v in out.split() if v.isdigit()]
    assert len(values) == 800
    assert len(set(values)) == 800, "a number was handed out twice"
    assert sorted(values) == list(range(1, 801))
    with place.open() as s:
        assert s.next_sequence("shared") == 801
