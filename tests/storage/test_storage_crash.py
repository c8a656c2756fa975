"""kill -9 of a process committing in a loop, at random moments: nothing acknowledged (printed after
the call returned) is lost, on both backends, and every history chain verifies. TinyDB: the kills also
land inside checkpoints, and every file stays a TinyDB database that stock TinyDB opens. PostgreSQL:
the client dies mid-transaction or between COMMIT and its acknowledgement; the server stays up."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from storage_helpers import open_with_stock_tinydb

CHILD = Path(__file__).with_name("storage_crash_child.py")
RUNS = 36


def run_and_kill(place, seed: int, every: int, delay: float) -> list[str]:
    with tempfile.TemporaryFile() as errors:
        # unbuffered: every byte the child wrote before it died is read, none stays in a reader's buffer
        proc = subprocess.Popen([sys.executable, str(CHILD), str(place.data_dir), str(seed), str(every),
                                 *([place.url] if place.pg else [])],
                                stdout=subprocess.PIPE, stderr=errors, bufsize=0)
        first = b""
        while not first.endswith(b"\n"):
            byte = os.read(proc.stdout.fileno(), 1)
            if not byte:
                break
            first += byte
        if first != b"READY\n":  # it opened the store and works from now on
            proc.wait()
            errors.seek(0)
            raise AssertionError(first + errors.read())
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        out = proc.stdout.read()
        proc.wait()
        errors.seek(0)
        assert proc.returncode == -signal.SIGKILL, errors.read().decode()
    return [line for line in out.decode().splitlines() if line.endswith(tuple("0123456789"))]


@pytest.mark.slow
def test_sigkill_loses_nothing_acknowledged(place):
    rnd = random.Random(20240601)
    data = place.data_dir
    acked: dict[str, int] = {}
    seqs: list[int] = []
    puts: dict[str, int] = {}
    stored_before: dict[str, int] = {}
    torn_checkpoints = generations = in_flight = 0
    for run in range(RUNS):
        lines = run_and_kill(place, seed=run, every=rnd.choice([3, 7, 25]), delay=rnd.uniform(0.02, 0.3))
        acked_now: dict[str, int] = {}
        for line in lines:
            kind, key, value = line.split()
            if kind == "ACK":
                acked_now[key] = max(acked_now.get(key, 0), int(value))
            elif kind == "SEQ":
                seqs.append(int(value))
            else:
                puts[key] = max(puts.get(key, 0), int(value))
        for cid, version in acked_now.items():
            acked[cid] = max(acked.get(cid, 0), version)
        if not place.pg:
            # the files as the crash left them: stock TinyDB opens every one
            open_with_stock_tinydb(data)
            torn_checkpoints += bool(list(data.glob("**/.*.tmp")) or (data / "wal.jsonl.tmp").exists())
            generations = max(generations, int((data / "wal.jsonl").read_bytes().split(b'"wal":')[1].split(b",")[0]))
        with place.open() as s:
            unacknowledged = []
            stored = {c["id"]: c["version"] for c in s.cases()}
            for cid, version in acked.items():
                assert cid in stored, f"acknowledged case {cid} lost"
                assert stored[cid] >= version, f"{cid}: acknowledged v{version}, stored v{stored[cid]}"
            for cid, version in stored.items():
                floor = max(stored_before.get(cid, 0), acked_now.get(cid, 0))
                assert version >= floor
                assert version <= floor + 1, f"{cid}: v{version} but only v{floor} was known"
                if version > floor:
                    unacknowledged.append((cid, version, floor))
            # only the commit in flight when the process died may be durable without acknowledgement
            assert len(unacknowledged) <= 1, (unacknowledged, lines[-3:])
            in_flight += len(unacknowledged)
            stored_before = stored
            for key, version in puts.items():
                assert s.get("settings", key)["_version"] >= version
    files = f" ({torn_checkpoints} inside a checkpoint), {generations} journal generations" if not place.pg else ""
    print(f"\ncrash test ({place.kind}): {RUNS} kills{files}, {len(acked)} cases, {sum(acked.values())} acknowledged"
          f" commits ({in_flight} durable but killed before acknowledging), {len(seqs)} counter values")
    assert len(acked) > 20 and sum(acked.values()) > 300, "the child did too little work to mean anything"
    assert len(seqs) == len(set(seqs)), "a counter value was handed out twice"
    with place.open() as s:
        assert s.verify() == []
        for cid, version in acked.items():
            c = s.get_case(cid)
            assert c["version"] >= version
            assert c["history_len"] == c["version"] == len(s.history(cid))
        assert s.next_sequence("case:CR:2024") > max(seqs)
    if not place.pg:
        files = open_with_stock_tinydb(data)  # after the final checkpoint too
        assert files and all(tables for tables in files.values())
