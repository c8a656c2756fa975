"""Benchmarks: `python bench/run.py [--quick]` prints one `name: value unit` line per figure.

Figures and their targets (see the issues):
  commit_p50_ms_100k      durable action commit, p50, 100,000 cases stored (10,000 open)   ≤ 2 ms
  commit_p50_ms_10k       the same with 10,000 cases stored
  stock_tinydb_commit_p50_ms_5k  stock TinyDB JSONStorage, same update by id, 5,000 docs (baseline)
  commit_vs_stock_ratio   commit_p50_ms_100k / stock figure                                 ≤ 0.1
  actions_per_s           sustained engine + durable storage                                ≥ 500
  inbox_ms_100k           one user's open tasks with 100,000 stored (first page of 100,
                          soonest due first, chosen among all of them)                      ≤ 20 ms
  inbox_all_ms_100k       the same user's every open task at once (no paging), for reference
  docx_render_p50_ms      one Word document rendered from its template                      ≤ 50 ms
  click_commit_p50_ms, effects_done_p95_s, prefect_db_kb_per_action, sweep_s_100k, stack_cold_start_s:
                          see bench/orchestration_bench.py (--skip-prefect leaves the Prefect ones out)
  expr_eval_us, expr_table_20k_us, expr_size_bomb_max_ms and their ratios against baselines of the
                          same run: see bench/expressions_bench.py
  page_inbox_ms, case_page_ms, click_to_updated_ms against baseline_page_ms / baseline_click_ms: the real
                          app in headless Chromium, see bench/browser_bench.py (--skip-browser leaves them
                          out, --only-browser runs only them)
--quick divides the sizes by 10 (names stay the same) and finishes in well under a minute.
How the storage figures grow from 10k to 300k cases, on TinyDB and PostgreSQL: bench/scale.py.
"""
from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import browser_bench  # noqa: E402  (bench/browser_bench.py: issue 10's figures, in Chromium)
import expressions_bench  # noqa: E402  (bench/expressions_bench.py: the safe evaluator's speed)
import orchestration_bench  # noqa: E402  (bench/orchestration_bench.py: issue 4's figures)
from tinydb import TinyDB  # noqa: E402

from flows.core import engine  # noqa: E402
from flows.demo import Explorer  # noqa: E402
from flows.service.config import load_config  # noqa: E402
from storage import Store  # noqa: E402

INBOX_PAGE = 100  # tasks per page of the 待办 list


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def templates(config) -> list[tuple]:
    """(workflow, case, events) for every reachable state of every shipped workflow, by the real engine."""
    ctx = engine.Context(org=config.org, calendar=config.calendar, workflows=frozenset(config.workflows))
    out = []
    for wf in config.workflows.values():
        explorer = Explorer(wf, ctx)
        for steps in explorer.paths(datetime(2024, 1, 4, 9)).values():
            now = datetime(2024, 1, 4, 9)
            first = steps[0]
            o = engine.new_case(wf, ctx, case_id="X", actor=config.org.actor(first.user), data=first.data, now=now)
            case, events = o.case, list(o.events)
            for step in steps[1:]:
                now += step.after
                if step.kind == "timer":
                    d = next(x for x in case["deadlines"] if x["id"] == step.deadline)
                    now = max(now, engine.parse_moment(d["due"]) + timedelta(minutes=1))
                    o = engine.apply_deadline(wf, ctx, case, step.deadline, now)
                else:
                    o = engine.fire(wf, ctx, case, action=step.action, actor=config.org.actor(step.user), now=now,
                                    data=step.data, comment=step.comment)
                case, events = o.case, events + o.events
            out.append((wf, case, events))
    return out


def fill(store: Store, config, total: int, open_count: int, rng: random.Random) -> list[tuple]:
    """Bulk-load `total` cases (`open_count` open) cloned from engine-made templates, with histories."""
    tpls = templates(config)
    opened = [t for t in tpls if t[1]["status"] == "open"]
    closed = [t for t in tpls if t[1]["status"] == "closed"]
    cases, events, tasks = [], [], []
    seq: dict[str, int] = {}
    for i in range(total):
        wf, case, evs = rng.choice(opened if i < open_count else closed)
        year = 2020 + i % 6
        prefix = f"{wf.code}-{year}"
        seq[prefix] = seq.get(prefix, 0) + 1
        cid = f"{prefix}-{seq[prefix]:05d}"
        c = copy.deepcopy(case)
        c["id"] = cid
        cases.append(c)
        for e in evs:
            events.append({**e, "case_id": cid})
        tasks += [{**t, "case_id": cid} for t in engine.tasks(wf, c)]
        if len(cases) >= 20_000 or i == total - 1:
            # the counters with the last batch (new cases are numbered after the filled ones)
            last = {f"case:{p.split('-')[0]}:{p.split('-')[1]}": n for p, n in seq.items()} if i == total - 1 else None
            store.bulk_load(cases, events, tasks, sequences=last)
            cases, events, tasks = [], [], []
    return opened


def commit_p50(store: Store, config, opened_ids: list[str], n: int) -> float:
    """Durable commit of a comment-like action (engine-made case change + one event) on open cases."""
    return p50(commit_samples(store, config, opened_ids, n)) * 1000


def commit_samples(store, config, opened_ids: list[str], n: int) -> list[float]:
    """Seconds of each of `n` comment-like commits on the open cases `opened_ids`, in turn."""
    samples = []
    now = datetime(2025, 3, 1, 9)
    actor = config.org.actor("awb_zhang")
    for i in range(n):
        case = store.get_case(opened_ids[i % len(opened_ids)])
        outcome = engine.add_comment(case, actor, f"第{i}次督办意见", now)
        t0 = time.perf_counter()
        store.commit(outcome.case, outcome.events, None, case["version"])
        samples.append(time.perf_counter() - t0)
    return samples


def stock_tinydb_p50(tmp: Path, docs: int, n: int, sample_case: dict) -> float:
    db = TinyDB(tmp / "stock.json")
    db.insert_multiple([{**sample_case, "id": f"S-{i}"} for i in range(docs)])
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        db.update({"updated_at": f"2025-03-01T09:{i % 60:02d}:00", "version": i}, doc_ids=[1 + (i * 7) % docs])
        samples.append(time.perf_counter() - t0)
    db.close()
    return p50(samples) * 1000


def actions_per_s(store: Store, config, seconds: float) -> float:
    """Sustained real transitions: start a case of the test-like path and fire actions, each committed."""
    from flows.demo import Explorer

    ctx = engine.Context(org=config.org, calendar=config.calendar, workflows=frozenset(config.workflows))
    wf = config.workflows["drill"]
    steps = max(Explorer(wf, ctx).paths(datetime(2024, 1, 4, 9)).values(), key=len)
    count, t_end, k = 0, time.perf_counter() + seconds, 0
    t0 = time.perf_counter()
    while time.perf_counter() < t_end:
        k += 1
        now = datetime(2024, 1, 4, 9)  # the explorer's paths: their form dates hold from then, a step apart
        o = engine.new_case(wf, ctx, case_id=f"YL-2030-{k:05d}", actor=config.org.actor(steps[0].user),
                            data=steps[0].data, now=now)
        case = store.commit(o.case, o.events, engine.tasks(wf, o.case), 0)
        count += 1
        for step in steps[1:]:
            if step.kind != "act":
                break
            now += step.after
            o = engine.fire(wf, ctx, case, action=step.action, actor=config.org.actor(step.user), now=now,
                            data=step.data, comment=step.comment)
            case = store.commit(o.case, o.events, engine.tasks(wf, o.case), case["version"])
            count += 1
    return count / (time.perf_counter() - t0)


def inbox_ms(store: Store, config, limit: int | None, n: int = 50) -> tuple[float, int]:
    """p50 of one user's inbox (a page of `limit` tasks, soonest due first; None = every task)."""
    actor = config.org.actor("awb_zhang")
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        rows = store.inbox(user=actor.id, roles=list(actor.roles), limit=limit)
        samples.append(time.perf_counter() - t0)
    assert rows, "the benchmark user should have tasks"
    return p50(samples) * 1000, len(rows)


def docx_render_p50(config, n: int) -> float | None:
    try:
        from flows.documents import rendering as documents
    except ImportError:
        return None
    from flows.demo import SAMPLES

    template = config.templates_dir / "accident_warning.docx"
    if not template.exists():
        return None
    data = {k: v[0] for k, v in SAMPLES.items()}
    ctx = {"case": {"id": "SG-2025-00001", "title": "示例", "workflow": "accident", "unit": "局安委办",
                    "created_at": "2025-03-01T09:00:00", "data": data, "deadlines": {}},
           "doc": {"number": "县交安通〔2025〕3号", "issuer": "县交通运输局", "banner": "县交通运输局文件",
                   "date": "2025年3月1日", "title": "警示通报", "addressee": "各科室、各单位", "cc": "县安委办",
                   "printed_by": "县交通运输局办公室", "printed_date": "2025年3月1日"}, "settings": {}}
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        documents.render(template, ctx)
        samples.append(time.perf_counter() - t0)
    return p50(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="sizes divided by 10, under a minute")
    parser.add_argument("--skip-prefect", action="store_true", help="leave out the figures needing a Prefect server")
    parser.add_argument("--only-prefect", action="store_true", help="only the figures needing a Prefect server")
    parser.add_argument("--skip-browser", action="store_true", help="leave out the figures taken in Chromium")
    parser.add_argument("--only-browser", action="store_true", help="only the figures taken in Chromium")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    config = load_config()
    rng = random.Random(2024)
    figures: list[tuple[str, float, str]] = []

    with tempfile.TemporaryDirectory() as tmp:
        if args.only_prefect:
            return prefect_figures(config, args.quick)
        if args.only_browser:
            return browser_figures(config, args.quick)
        tmp = Path(tmp)
        tpl_case = templates(config)[0][1]
        stock = stock_tinydb_p50(tmp, 5000 // scale, 100, tpl_case)

        small = Store(tmp / "d10k")
        fill(small, config, 10_000 // scale, 1000 // scale, rng)
        ids = [c["id"] for c in small.open_cases()]
        figures.append(("commit_p50_ms_10k", commit_p50(small, config, ids, 500), "ms"))
        small.close()

        big = Store(tmp / "d100k")
        t0 = time.perf_counter()
        fill(big, config, 100_000 // scale, 10_000 // scale, rng)
        load_s = time.perf_counter() - t0
        ids = [c["id"] for c in big.open_cases()]
        c100 = commit_p50(big, config, ids, 1000)
        figures.append(("commit_p50_ms_100k", c100, "ms"))
        figures.append(("stock_tinydb_commit_p50_ms_5k", stock, "ms"))
        figures.append(("commit_vs_stock_ratio", c100 / stock, "x"))
        page_ms, _ = inbox_ms(big, config, limit=INBOX_PAGE)
        all_ms, all_rows = inbox_ms(big, config, limit=None)
        figures.append(("inbox_ms_100k", page_ms, "ms"))  # the first page the 待办 list shows
        figures.append(("inbox_all_ms_100k", all_ms, "ms"))
        figures.append(("inbox_all_rows_100k", all_rows, "tasks"))
        figures.append(("actions_per_s", actions_per_s(big, config, 5 if args.quick else 15), "actions/s"))
        figures.append(("bench_fill_s_100k", load_s, "s"))
        figures += orchestration_bench.sweep_figures(big, config)  # last: it acts on every due deadline
        big.close()
        t0 = time.perf_counter()
        reopened = Store(tmp / "d100k")
        figures.append(("open_s_100k", time.perf_counter() - t0, "s"))
        reopened.close()

    render = docx_render_p50(config, 30)
    if render is not None:
        figures.append(("docx_render_p50_ms", render, "ms"))
    figures += expressions_bench.expression_figures(args.quick)
    show(figures)
    if not args.skip_browser:
        browser_figures(config, args.quick)
    if not args.skip_prefect:
        prefect_figures(config, args.quick)


def prefect_figures(config, quick: bool) -> None:
    """A real Prefect server and the serving process, then the whole stack (issue 4)."""
    show(orchestration_bench.effects_figures(config, actions=10 if quick else 30))
    show(orchestration_bench.stack_figures())


def browser_figures(config, quick: bool) -> None:
    """The real app on 100,000 cases (10,000 with --quick) in headless Chromium (issue 10)."""
    for line in browser_bench.browser_figures(config, cases=100_000 // (10 if quick else 1), runs=3 if quick else 10):
        print(line, flush=True)


def show(figures: list[tuple[str, float, str]]) -> None:
    for name, value, unit in figures:
        print(f"{name}: {value:.3f} {unit}", flush=True)


if __name__ == "__main__":
    main()
