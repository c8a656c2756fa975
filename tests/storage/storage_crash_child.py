"""Child process of the crash test: acts on cases in a loop and prints each acknowledged write.

Usage: python storage_crash_child.py DATA_DIR SEED CHECKPOINT_EVERY [DATABASE_URL]
(with DATABASE_URL: the PostgreSQL store on that database, DATA_DIR its local directory)
Every third seed commits inside `grouped_commits` (the sweep's way: syncs shared, the block never ends).
Prints (flushed, only after the call returned, so only durable facts):
  ACK <case_id> <version>    a commit was acknowledged
  SEQ <name> <value>         next_sequence returned value
  PUT <key> <version>        put returned version
"""
from __future__ import annotations

import random
import sys
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from storage import open_store  # noqa: E402


def main() -> None:
    data_dir, seed, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rnd = random.Random(seed)
    store = open_store(data_dir, sys.argv[4] if len(sys.argv) > 4 else None, checkpoint_every=every)
    out = sys.stdout
    open_ids = [c["id"] for c in store.open_cases()]
    out.write("READY\n")
    out.flush()
    with store.grouped_commits() if seed % 3 == 2 else nullcontext():
        work(store, rnd, seed, open_ids, out)


def work(store, rnd, seed, open_ids, out) -> None:
    while True:
        r = rnd.random()
        if r < 0.15 or not open_ids:
            n = store.next_sequence("case:CR:2024")
            out.write(f"SEQ case:CR:2024 {n}\n")
            out.flush()
            cid = f"CR-2024-{n:05d}"
            doc = {"id": cid, "workflow": "cr", "status": "open", "data": {"count": 0}, "title": "崩溃测试"}
            c = store.commit(doc, [{"type": "start", "comment": f"开始 {seed}"}],
                             [{"case_id": cid, "workflow": "cr", "state": "s", "role": "科员", "unit": None,
                               "user": None, "due": None}], 0)
            open_ids.append(cid)
        elif r < 0.22:
            cid = open_ids.pop(rnd.randrange(len(open_ids)))
            c = store.get_case(cid)
            c["status"] = "closed"
            c = store.commit(c, [{"type": "close", "run": seed, "comment": "结案"}], [], c["version"])
        elif r < 0.27:
            v = store.put("settings", f"k{rnd.randrange(5)}", {"by": seed})
            out.write(f"PUT {v['_key']} {v['_version']}\n")
            out.flush()
            continue
        else:
            cid = rnd.choice(open_ids)
            c = store.get_case(cid)
            c["data"]["count"] += 1
            c = store.commit(c, [{"type": "act", "run": seed, "comment": "x" * rnd.randrange(2000)}],
                             [{"case_id": cid, "workflow": "cr", "state": f"s{c['version']}", "role": "科员",
                               "unit": None, "user": None, "due": None}], c["version"])
        out.write(f"ACK {c['id']} {c['version']}\n")
        out.flush()


if __name__ == "__main__":
    main()
