"""Micro-benchmark of the storage layer at the project's target size.

Fills a temporary data dir with 100,000 cases (10,000 open, ~10 events each, ~2 tasks per open case)
through `Store.bulk_load`, then measures *normal* commits (read case, change it, commit one event and
its new tasks, checkpoints included), the inbox, lazy reads, and stock TinyDB for comparison.

    .venv/bin/python bench/storage_bench.py [--cases 100000] [--open 10000] [--commits 3000] [--verify]

Prints `name: value unit` lines; the three the project tracks are commit_p50_ms_100k, inbox_ms_100k
and stock_tinydb_commit_p50_ms_5k.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage import Store  # noqa: E402

WORKFLOWS = [("SG", "inspection"), ("AC", "accident"), ("DR", "drill"), ("BL", "blacklist"), ("PR", "plan_revision")]
UNITS = ["安监科", "运管所", "路政大队", "港航中心", "公路中心", "办公室", "法规科", "局领导"]
ROLES = ["科员", "科长", "分管领导", "局长", "执法人员", "安全员", "审核员", "办公室主任"]
STATES = ["draft", "review", "approve", "rectify", "recheck", "sign", "archive"]
YEARS = [2021, 2022, 2023, 2024, 2025]


def make_case(rnd: random.Random, cid: str, workflow: str, year: int, status: str) -> dict:
    state = rnd.choice(STATES)
    return {
        "id": cid, "workflow": workflow, "workflow_version": 1, "title": f"{rnd.choice(UNITS)}安全检查 {cid}",
        "unit": rnd.choice(UNITS), "status": status, "active": [state] if status == "open" else ["closed"],
        "entered": {state: f"{year}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}T09:30:00"},
        "data": {"enterprise": f"某某运输有限公司{rnd.randint(1, 999)}号", "credit_code": f"91350100MA2XXXXX{rnd.randint(0, 99):02d}",
                 "inspector": f"user{rnd.randint(1, 80)}", "hazards": rnd.randint(0, 9),
                 "findings": "现场检查发现消防通道堵塞，应急预案未演练，安全培训记录不全。",
                 "amount": round(rnd.random() * 10000, 2), "level": rnd.choice(["一般", "较大", "重大"])},
        "countersigns": {}, "deadlines": [{"id": "d1", "state": state, "due": f"{year}-12-{rnd.randint(10, 28)}",
                                           "status": "pending"}],
        "links": [], "documents": [], "effects": [],
        "created_by": f"user{rnd.randint(1, 80)}", "created_at": f"{year}-01-05T08:00:00",
        "updated_at": f"{year}-06-01T10:00:00", "closed_at": None if status == "open" else f"{year}-11-30T16:00:00",
    }


def make_event(rnd: random.Random, cid: str, i: int, year: int) -> dict:
    return {"case_id": cid, "type": rnd.choice(["start", "fire", "comment", "deadline"]),
            "action": rnd.choice(["submit", "approve", "return", "rectify"]), "actor": f"user{rnd.randint(1, 80)}",
            "at": f"{year}-0{rnd.randint(1, 9)}-{rnd.randint(10, 28)}T1{rnd.randint(0, 9)}:00:00",
            "from": [rnd.choice(STATES)], "to": [rnd.choice(STATES)],
            "comment": "同意，请按期整改。" if i % 3 else "", "data": {"hazards": rnd.randint(0, 9)}}


def make_tasks(rnd: random.Random, case: dict) -> list[dict]:
    out = []
    for _ in range(2):
        named = rnd.random() < 0.1
        out.append({"case_id": case["id"], "workflow": case["workflow"], "title": case["title"],
                    "state": case["active"][0], "state_label": case["active"][0],
                    "role": None if named else rnd.choice(ROLES),
                    "unit": None if named or rnd.random() < 0.3 else rnd.choice(UNITS),
                    "user": f"user{rnd.randint(1, 80)}" if named else None,
                    "due": case["deadlines"][0]["due"], "actions": ["submit", "return"]})
    return out


def fill(store: Store, n_cases: int, n_open: int, events_per_case: int = 10, seed: int = 1,
         chunk: int = 10_000) -> list[str]:
    """Bulk-load `n_cases` cases of which `n_open` are open (the newest ones). Returns the open ids."""
    rnd = random.Random(seed)
    per_partition = max(1, n_cases // (len(WORKFLOWS) * len(YEARS)))
    ids = []
    for code, name in WORKFLOWS:
        for year in YEARS:
            for n in range(1, per_partition + 1):
                ids.append((code, name, year, n))
    ids = ids[:n_cases]
    # the newest cases of each workflow are the open ones
    ids.sort(key=lambda t: (t[2], t[3]))
    open_set = set(range(len(ids) - n_open, len(ids)))
    open_ids = []
    sequences: dict[str, int] = {}
    for start in range(0, len(ids), chunk):
        cases, events, tasks = [], [], []
        for k in range(start, min(start + chunk, len(ids))):
            code, name, year, n = ids[k]
            cid = f"{code}-{year}-{n:05d}"
            status = "open" if k in open_set else "closed"
            case = make_case(rnd, cid, name, year, status)
            cases.append(case)
            events.extend(make_event(rnd, cid, i, year) for i in range(events_per_case))
            if status == "open":
                tasks.extend(make_tasks(rnd, case))
                open_ids.append(cid)
            key = f"case:{code}:{year}"
            sequences[key] = max(sequences.get(key, 0), n)
        store.bulk_load(cases, events, tasks, sequences=sequences)
    return open_ids


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def measure_commits(store: Store, open_ids: list[str], n: int, seed: int = 2) -> dict:
    rnd = random.Random(seed)
    times = []
    t_all = time.perf_counter()
    for i in range(n):
        cid = rnd.choice(open_ids)
        case = store.get_case(cid)
        case["data"]["hazards"] = i
        case["updated_at"] = "2025-07-01T10:00:00"
        ev = make_event(rnd, cid, i, 2025)
        tasks = make_tasks(rnd, case)
        t = time.perf_counter()
        store.commit(case, [ev], tasks, case["version"])
        times.append(time.perf_counter() - t)
    total = time.perf_counter() - t_all
    return {"p50": pct(times, 0.5) * 1000, "p95": pct(times, 0.95) * 1000, "p99": pct(times, 0.99) * 1000,
            "max": max(times) * 1000, "mean": statistics.fmean(times) * 1000, "per_s": n / total}


def measure_inbox(store: Store, rounds: int = 50) -> tuple[float, int]:
    rnd = random.Random(3)
    times, sizes = [], []
    for _ in range(rounds):
        roles = [(rnd.choice(ROLES), rnd.choice(UNITS)), (rnd.choice(ROLES), rnd.choice(UNITS))]
        t = time.perf_counter()
        got = store.inbox(user=f"user{rnd.randint(1, 80)}", roles=roles)
        times.append(time.perf_counter() - t)
        sizes.append(len(got))
    return pct(times, 0.5) * 1000, int(statistics.median(sizes))


def stock_tinydb_commit_p50(n_docs: int = 5000, updates: int = 100) -> float:
    """Stock TinyDB (JSONStorage): the same kind of update, one case doc by doc id, at 5k docs."""
    from tinydb import TinyDB

    rnd = random.Random(4)
    d = tempfile.mkdtemp(prefix="stock-tinydb-")
    try:
        db = TinyDB(os.path.join(d, "db.json"))
        table = db.table("cases")
        table.insert_multiple(make_case(rnd, f"SG-2025-{i:05d}", "inspection", 2025, "open") for i in range(n_docs))
        times = []
        for i in range(updates):
            doc_id = rnd.randint(1, n_docs)
            t = time.perf_counter()
            table.update({"version": i, "data": {"hazards": i}}, doc_ids=[doc_id])
            times.append(time.perf_counter() - t)
        db.close()
        return pct(times, 0.5) * 1000
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--open", type=int, default=10_000)
    ap.add_argument("--commits", type=int, default=3000)
    ap.add_argument("--verify", action="store_true", help="also time a full verify()")
    ap.add_argument("--dir", help="use this directory (kept) instead of a temporary one")
    args = ap.parse_args(argv)
    label = f"{args.cases // 1000}k"
    d = args.dir or tempfile.mkdtemp(prefix="storage-bench-")
    try:
        t = time.perf_counter()
        with Store(d) as store:
            open_ids = fill(store, args.cases, args.open)
        print(f"fill_s_{label}: {time.perf_counter() - t:.1f} s ({args.cases} cases, {len(open_ids)} open, "
              f"{args.cases * 10} events)")
        size = sum(p.stat().st_size for p in Path(d).rglob("*") if p.is_file())
        print(f"data_dir_mb_{label}: {size / 1e6:.0f} MB")
        t = time.perf_counter()
        store = Store(d)
        print(f"open_ms_{label}: {(time.perf_counter() - t) * 1000:.0f} ms")
        m = measure_commits(store, open_ids, args.commits)
        print(f"commit_p50_ms_{label}: {m['p50']:.2f} ms")
        print(f"commit_p95_ms_{label}: {m['p95']:.2f} ms  p99: {m['p99']:.2f} ms  max: {m['max']:.0f} ms "
              f"(checkpoint every {store.checkpoint_every})  mean: {m['mean']:.2f} ms")
        print(f"actions_per_s_storage_{label}: {m['per_s']:.0f} /s (get_case + commit, one process)")
        ms, size = measure_inbox(store)
        print(f"inbox_ms_{label}: {ms:.2f} ms (median {size} tasks returned)")
        closed = f"{WORKFLOWS[0][0]}-{YEARS[0]}-00007"
        t = time.perf_counter()
        store.get_case(closed)
        print(f"get_closed_case_first_ms_{label}: {(time.perf_counter() - t) * 1000:.1f} ms (loads one archive shard)")
        t = time.perf_counter()
        store.history(closed)
        print(f"history_first_ms_{label}: {(time.perf_counter() - t) * 1000:.0f} ms (loads the partition's history)")
        t = time.perf_counter()
        store.history(f"{WORKFLOWS[0][0]}-{YEARS[0]}-00008")
        print(f"history_next_ms_{label}: {(time.perf_counter() - t) * 1000:.2f} ms")
        t = time.perf_counter()
        store.checkpoint()
        print(f"checkpoint_ms_{label}: {(time.perf_counter() - t) * 1000:.0f} ms (forced)")
        if args.verify:
            t = time.perf_counter()
            problems = store.verify()
            print(f"verify_s_{label}: {time.perf_counter() - t:.1f} s, {len(problems)} problems")
        store.close()
        print(f"stock_tinydb_commit_p50_ms_5k: {stock_tinydb_commit_p50():.1f} ms")
    finally:
        if not args.dir:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
