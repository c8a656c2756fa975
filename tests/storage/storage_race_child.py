"""Child process of the concurrency test.

Usage: python storage_race_child.py DATA_DIR MODE N SEED START_AT [DATABASE_URL]
(with DATABASE_URL: the PostgreSQL store on that database, DATA_DIR its local directory)
MODE "count": N times, increment data.count of a random shared case (read, commit with the version
read, on ConflictError read again and retry). Prints "DONE <successes> <conflicts>".
MODE "seq": N times next_sequence("shared"); prints every value, then "DONE".
"""
from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from storage import ConflictError, open_store  # noqa: E402


def main() -> None:
    data_dir, mode, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rnd = random.Random(seed)
    url = sys.argv[6] if len(sys.argv) > 6 else None
    store = open_store(data_dir, url, checkpoint_every=40)
    ids = sorted(c["id"] for c in store.open_cases())
    start_at = float(sys.argv[5])
    while time.time() < start_at:  # both children start together
        time.sleep(0.001)
    if mode == "seq":
        values = [store.next_sequence("shared") for _ in range(n)]
        print("\n".join(map(str, values)))
        print("DONE")
        return
    successes = conflicts = 0
    for _ in range(n):
        cid = rnd.choice(ids)
        while True:
            case = store.get_case(cid)
            case["data"]["count"] += 1
            case["data"].setdefault("by", {})
            case["data"]["by"][str(seed)] = case["data"]["by"].get(str(seed), 0) + 1
            time.sleep(rnd.random() * 0.002)  # think time: lets the other process get in between
            try:
                store.commit(case, [{"type": "count", "by": seed}], None, case["version"])
                successes += 1
                break
            except ConflictError:
                conflicts += 1
    store.close()
    print(f"DONE {successes} {conflicts}")


if __name__ == "__main__":
    main()
