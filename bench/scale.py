"""How the costs grow with the cases stored (issue 13, "Up"), for both storage backends.

    .venv/bin/python bench/scale.py [--sizes 10k,100k,300k] [--backends tinydb,postgres] [--commits 3000]

For each backend and size, a store filled the way bench/run.py fills one (10% of the cases open,
histories cloned from engine-made cases), then:
  commit_{p50,p99,max}_ms   durable comment-like commits, automatic checkpoints included; TinyDB: beside
                            them commit_unflushed_*, the baseline of checkpoints not flushing as they write
  inbox_page_ms, inbox_all_ms  one user's 待办: the first page (20) and every row, p50 of 30
  sweep_quiet_ms            Service.sweep with nothing due
  sweep_acting_s, _acted    a sweep acting on every passed deadline (effects run inline, as `python -m
                            flows sweep` runs them), its commits grouped (storage: grouped_commits); and
  sweep_ungrouped_ms_each   the baseline: a tenth of the cases due first, each commit synced on its own
  service_actions_per_s     real steps through Service (forms, permissions, effects bookkeeping,
                            durable commit): start a case, act on it to its end, again (largest size);
  service_3_sessions_…      the same from three threads at once, their sum
  service_2_processes_…     the same from two processes at once, each its own Service and store on the
                            same data (as two app processes or hosts), their sum
  open_s, open_rss_mb       opening the store in a new process, as a CLI command or a restarted app does
Beside them, in the same run, the baselines: stock TinyDB updating one of 5,000 documents, and the
floor, a raw append + fsync of a commit-sized record (p50 / p99 / max each). Last, the growth of each
figure from the smallest size to the largest, as a ratio. PostgreSQL is started for the run (the
tests' server: tests/pg_server.py, Debian's package) on 127.0.0.1 and stopped after.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import run as base  # noqa: E402  (bench/run.py: the fill, the templates, stock TinyDB)
from tinydb import TinyDB  # noqa: E402

from flows.service.config import load_config  # noqa: E402

PAGE = 20  # the 待办 list's page


def size_of(text: str) -> int:
    text = text.strip().lower()
    return int(float(text[:-1]) * 1000) if text.endswith("k") else int(text)


def label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def spread(samples: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max of seconds, in ms."""
    s = sorted(samples)
    return s[len(s) // 2] * 1000, s[min(len(s) - 1, int(len(s) * 0.99))] * 1000, s[-1] * 1000


def commits(store, config, n: int) -> dict[str, float]:
    """p50/p99/max of `n` commits. On the TinyDB files also the baseline without the checkpoints' flushes
    every SAVE_SYNC_BYTES (a checkpoint's file then written whole before its fsync): n commits each, in
    blocks of n/2 (each past a checkpoint: 1000 records and an eighth of hot.json) alternating A B B A with
    the shipped way, so both see the same store and machine."""
    import storage.store as files_store

    ids = [c["id"] for c in store.cases(status="open")]
    wait = getattr(store, "wait_for_checkpoints", None)
    if wait is None:
        return dict(zip(("commit_p50_ms", "commit_p99_ms", "commit_max_ms"),
                        spread(base.commit_samples(store, config, ids, n)), strict=True))
    shipped, samples = files_store.SAVE_SYNC_BYTES, {"": [], "_unflushed": []}
    try:
        for kind in ("", "_unflushed", "_unflushed", ""):  # A B B A: neither gets the warmer half
            files_store.SAVE_SYNC_BYTES = shipped if kind == "" else 1 << 62
            samples[kind] += base.commit_samples(store, config, ids, max(1, n // 2))
            wait(300)
    finally:
        files_store.SAVE_SYNC_BYTES = shipped
    got = {}
    for kind, taken in samples.items():
        got.update(zip((f"commit{kind}_p50_ms", f"commit{kind}_p99_ms", f"commit{kind}_max_ms"), spread(taken),
                       strict=True))
    got["commit_max_unflushed_over_flushed"] = got["commit_unflushed_max_ms"] / got["commit_max_ms"]
    return got


def inbox(store, config, limit: int | None) -> tuple[float, int]:
    actor, samples = config.org.actor("awb_zhang"), []
    for _ in range(30):
        t0 = time.perf_counter()
        rows = store.inbox(user=actor.id, roles=list(actor.roles), limit=limit)
        samples.append(time.perf_counter() - t0)
    return spread(samples)[0], len(rows)


def sweep_quiet_ms(store, config) -> float:
    from flows.service import open_service

    svc = open_service(config=config, store=store, inline_effects=False)
    t0 = time.perf_counter()
    assert svc.sweep(datetime(2023, 1, 1)) == []  # before every deadline of the cloned cases
    return (time.perf_counter() - t0) * 1000


def sweep_acting(store, config) -> dict[str, float]:
    """The baseline first (a tenth of the cases due, no grouped_commits), then the rest grouped, as Service does."""
    from contextlib import nullcontext
    from itertools import islice

    from flows.core.moments import iso
    from flows.jobs.sweep import sweep_all
    from flows.service import open_service

    svc = open_service(config=config, store=store)
    now = datetime(2030, 1, 1)  # past every deadline of the cloned cases
    whole = svc._cases_due
    tenth = max(1, len(store.cases_due(iso(now))) // 10)
    svc._cases_due = lambda at: islice(whole(at), tenth)
    store.grouped_commits = nullcontext  # (the instance's: the method comes back with the del below)
    t0 = time.perf_counter()
    ungrouped = len(svc.sweep(now))
    ungrouped_s = time.perf_counter() - t0
    del store.grouped_commits
    svc._cases_due = whole
    t0 = time.perf_counter()
    acted = len(sweep_all(svc, now))
    grouped_s = time.perf_counter() - t0
    each = grouped_s / max(1, acted) * 1000
    base_each = ungrouped_s / max(1, ungrouped) * 1000
    return {"sweep_acting_s": grouped_s, "sweep_acted": acted, "sweep_acting_ms_each": each,
            "sweep_ungrouped_ms_each": base_each, "sweep_grouped_speedup": base_each / each if each else 0.0}


def service_actions_per_s(store, config, seconds: float) -> float:
    """Steps of the drill workflow's longest path through Service, effects left pending (as the app
    leaves them for Prefect): what a click costs on the server."""
    from flows.demo import Explorer
    from flows.service import open_service

    start = datetime(2024, 1, 4, 9)  # the explorer's paths' dates are valid from then on
    clock = [start]
    svc = open_service(config=config, store=store, inline_effects=False, clock=lambda: clock[0])
    wf = config.workflows["drill"]
    steps = max(Explorer(wf, svc.ctx).paths(start).values(), key=len)
    count, t_end, t0 = 0, time.perf_counter() + seconds, time.perf_counter()
    while time.perf_counter() < t_end:
        clock[0] = start
        case = svc.start(wf.name, steps[0].user, dict(steps[0].data), now=clock[0])
        count += 1
        for step in steps[1:]:
            if step.kind != "act":
                break
            clock[0] += step.after
            case = svc.act(case["id"], step.action, step.user, dict(step.data or {}), comment=step.comment,
                           now=clock[0])
            count += 1
    return count / (time.perf_counter() - t0)


def sessions_actions_per_s(store, config, seconds: float, sessions: int) -> float:
    """The same steps from `sessions` threads at once on one store, as several clerks of one app process
    click (PostgreSQL works while Python waits; the TinyDB store's commits take its lock in turn)."""
    import threading

    rates: list[float] = []
    threads = [threading.Thread(target=lambda: rates.append(service_actions_per_s(store, config, seconds)))
               for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(rates)


def processes_actions_per_s(data: Path, url: str | None, seconds: float, processes: int) -> float:
    """The same steps from `processes` processes at once, each its own Service and store on the same data,
    as several app processes or hosts serve one installation (each Python uses a core of its own). They
    open their stores first and start together; their rates are summed."""
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/bench']; import scale; "
            "from flows.service.config import load_config; from storage import open_store; "
            "store = open_store(sys.argv[2], sys.argv[3] or None); config = load_config(); "
            "print('ready', flush=True); sys.stdin.readline(); "
            "print(scale.service_actions_per_s(store, config, float(sys.argv[4])), flush=True); store.close()")
    children = [subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(data), url or "", str(seconds)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    try:
        for child in children:
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a bench process did not open the store (exit {child.wait()})")
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        return sum(float(child.stdout.readline()) for child in children)
    finally:
        for child in children:
            child.stdin.close()
            child.wait(timeout=600)


def opened_in_new_process(data: Path, url: str | None) -> tuple[float, float]:
    # the peak from /proc (VmHWM): ru_maxrss of a forked child starts at its parent's, this bench's own
    code = ("import json, re, sys, time; sys.path.insert(0, sys.argv[1]); from storage import open_store; "
            "t0 = time.perf_counter(); s = open_store(sys.argv[2], sys.argv[3] or None); "
            "dt = time.perf_counter() - t0; "
            "hwm = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1); "
            "print(json.dumps([dt, int(hwm) / 1024])); s.close()")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT), str(data), url or ""], capture_output=True,
                         text=True, check=True, timeout=600)
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


def baselines(tmp: Path, config, n: int) -> list[tuple[str, float, str]]:
    """Stock TinyDB at 5k documents and the floor (append + fsync of a commit-sized record)."""
    case = base.templates(config)[0][1]
    db = TinyDB(tmp / "stock.json")
    db.insert_multiple([{**case, "id": f"S-{i}"} for i in range(5000)])
    samples = []
    for i in range(min(n, 300)):
        t0 = time.perf_counter()
        db.update({"updated_at": f"2025-03-01T09:{i % 60:02d}:00", "version": i}, doc_ids=[1 + (i * 7) % 5000])
        samples.append(time.perf_counter() - t0)
    db.close()
    stock = spread(samples)
    record = (json.dumps({"case": case, "events": [{"type": "comment", "comment": "督办意见"}]},
                         ensure_ascii=False) + "\n").encode()
    fd = os.open(tmp / "floor.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    samples = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, record)
            os.fsync(fd)
            samples.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
    floor = spread(samples)
    return [(f"stock_tinydb_5k_{k}_ms", v, "ms") for k, v in zip(("p50", "p99", "max"), stock, strict=True)] + \
           [(f"floor_append_fsync_{k}_ms", v, "ms") for k, v in zip(("p50", "p99", "max"), floor, strict=True)] + \
           [("commit_record_bytes", len(record), "bytes")]


def measure(n: int, data: Path, url: str | None, config, args, last: bool) -> dict[str, float]:
    from storage import open_store

    store = open_store(data, url)
    t0 = time.perf_counter()
    base.fill(store, config, n, n // 10, random.Random(2024))
    fill_s = time.perf_counter() - t0
    got: dict[str, float] = {"fill_s": fill_s}
    got.update(commits(store, config, args.commits))
    got["inbox_page_ms"], _ = inbox(store, config, PAGE)
    got["inbox_all_ms"], got["inbox_all_rows"] = inbox(store, config, None)
    got["sweep_quiet_ms"] = sweep_quiet_ms(store, config)
    if last:
        got["service_actions_per_s"] = service_actions_per_s(store, config, args.seconds)
        got["service_3_sessions_actions_per_s"] = sessions_actions_per_s(store, config, args.seconds, 3)
        got["service_2_processes_actions_per_s"] = processes_actions_per_s(data, url, args.seconds, 2)
    got.update(sweep_acting(store, config))  # last: it moves the cases on
    store.close()
    got["open_s"], got["open_rss_mb"] = opened_in_new_process(data, url)
    return got


UNITS = {"fill_s": "s", "open_s": "s", "open_rss_mb": "MB", "inbox_all_rows": "tasks",
         "service_actions_per_s": "actions/s", "service_3_sessions_actions_per_s": "actions/s",
         "service_2_processes_actions_per_s": "actions/s",
         "sweep_acting_s": "s", "sweep_acted": "deadlines",
         "sweep_grouped_speedup": "x", "commit_max_unflushed_over_flushed": "x"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10k,100k,300k")
    parser.add_argument("--backends", default="tinydb,postgres")
    parser.add_argument("--commits", type=int, default=3000, help="commits timed per size (checkpoints every 1000)")
    parser.add_argument("--seconds", type=float, default=15, help="how long the Service steps run")
    args = parser.parse_args()
    sizes = [size_of(s) for s in args.sizes.split(",")]
    config = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        show(baselines(tmp, config, args.commits))
        for backend in args.backends.split(","):
            results = run_backend(backend.strip(), sizes, tmp, config, args)
            first, last = results[sizes[0]], results[sizes[-1]]
            if len(sizes) > 1:
                show([(f"{backend}_growth_{k}_{label(sizes[0])}_to_{label(sizes[-1])}", last[k] / first[k], "x")
                      for k in first if k in last and first[k] and k != "inbox_all_rows"])


def run_backend(backend: str, sizes: list[int], tmp: Path, config, args) -> dict[int, dict]:
    import shutil

    results: dict[int, dict] = {}
    server = None
    if backend == "postgres":
        sys.path.insert(0, str(ROOT / "tests"))
        from pg_server import PgServer

        server = PgServer().start()
    try:
        for n in sizes:
            data = tmp / f"{backend}-{n}"
            url = server.create_database(f"scale_{n}") if server is not None else None
            got = results[n] = measure(n, data, url, config, args, last=n == sizes[-1])
            show([(f"{backend}_{k}_{label(n)}", v, UNITS.get(k, "ms")) for k, v in got.items()])
            shutil.rmtree(data, ignore_errors=True)
            if server is not None:
                server.drop_database(f"scale_{n}")
    finally:
        if server is not None:
            server.stop()
    return results


def show(figures) -> None:
    for name, value, unit in figures:
        print(f"{name}: {value:.3f} {unit}" if isinstance(value, float) else f"{name}: {value} {unit}", flush=True)


if __name__ == "__main__":
    main()
