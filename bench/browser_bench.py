"""Browser figures (issue 10): the real app on 100,000 stored cases, driven in headless Debian Chromium.

    .venv/bin/python bench/browser_bench.py [--cases 100000] [--runs 10] [--more-pages]
    .venv/bin/python bench/run.py --only-browser        (and part of the full run)

Fills a data directory the way bench/run.py does (engine-made cases of the shipped workflows,
`Store.bulk_load`, a tenth of them open), gives the person who signs in a password, starts the real
app (`streamlit run ui/app.py` with the flags of `flows up`, without Prefect) and beside it a
one-table Streamlit app (the baseline), signs in once in the browser, then measures in rounds, each
round once of every figure (so the machine's load of the moment falls on all of them alike):

  page_inbox_ms        open 待办 signed in (a new page load, the session cookie set) → its table visible
  case_page_ms         open a case (/case?id=…, one of the person's 待办) → its diagram and its form visible
  click_to_updated_ms  on a case page, press 提交 of a simple transition (a case prepared for each run)
                       → the page says it is done (a Streamlit rerun, no navigation)
  search_ms            on 全部案件 (issue 11; loaded and settled first), type a case number into 搜索 and press
                       Enter → the page says 共找到 1 件 (a rerun: the whole archive searched in memory)
  dashboard_ms         on 待办, press 统计 in the menu (issue 11) → its first chart drawn and its script run
                       ended (the figures come from the snapshot the app made in the background when it
                       started); dashboard_load_ms: the same page opened by its address (a new page load)
  baseline_page_ms     the one-table app (st.title + st.dataframe of 20 rows) loaded the same way
  baseline_click_ms    its button (st.rerun, then a st.success) pressed the same way: the floor of a click

Each is printed with its p50 and p95, its difference from (and ratio to) the baseline, and the
Streamlit script time of the same runs: ui/app.py appends one line per script run to the file named
by WORKFLOW_UI_TIMINGS (its path, milliseconds, time); a page load is one run, a click two (the run
that commits, then the st.rerun). Goals: pages ≤ baseline + 500 ms, click and search p95 ≤ 500 ms.
A first round, not counted, warms the servers up (the app's first run opens the 100k store and
reads configs/); its times are printed as *_first_ms. --more-pages also times 已办, 我发起的 and
全部案件 (fewer runs: --more-runs), until their table shows and their script has finished.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CHROMIUM = "/usr/bin/chromium"  # Debian's package, as tests/orchestration/orch_helpers.py chromium_page
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PASSWORD = "Anquan#2026"
USER = "awb_zhang"  # 安委办 and 经办人: holds tasks of every workflow
BLACKLIST = {"enterprise": {"name": "江海港务有限公司", "credit_code": "91320600MA1NY7QH42"},
             "reason": "重大隐患整改不力", "facts": "逾期未整改"}
CLICK_ACTION = "开始调查核实"  # blacklist registered → investigating: no form, no document
PAGE_GOAL_MS = 500  # a page: at most the baseline + this
CLICK_GOAL_MS = 500  # a click's p95
SEARCH_GOAL_MS = 500  # a search's p95 (issue 11)
DASHBOARD_GOAL_MS = 1000  # 统计's p95 (issue 11)

BASELINE_APP = '''\
import os
import time

_STARTED = time.perf_counter()

import pandas as pd
import streamlit as st

try:
    st.title("基准页")
    st.dataframe(pd.DataFrame({"编号": [f"BL-2025-{i:05d}" for i in range(20)], "标题": [f"第 {i} 行" for i in range(20)],
                               "数量": list(range(20))}), hide_index=True)
    if st.session_state.get("clicked"):
        st.success("已提交「基准」。")
    if st.button("提交：基准", type="primary"):
        st.session_state["clicked"] = True
        st.rerun()
finally:
    if os.environ.get("WORKFLOW_UI_TIMINGS"):
        with open(os.environ["WORKFLOW_UI_TIMINGS"], "a", encoding="utf-8") as out:
            out.write(f"/baseline\\t{(time.perf_counter() - _STARTED) * 1000:.1f}\\t{time.time():.3f}\\n")
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


# ------------------------------------------------------------------ the data directory

def fill(store, templates: list[tuple], total: int, open_count: int, rng: random.Random,
         chunk: int = 20_000) -> None:
    """bench/run.py's fill (cases cloned from engine-made templates, with their histories and tasks),
    without its deep copies: bulk_load copies the top level of each case and event and leaves the rest
    as it is, so the clones share their nested data (nothing changes it)."""
    from flows.core import engine

    tpls = [(wf, case, evs, engine.tasks(wf, case)) for wf, case, evs in templates]
    opened = [t for t in tpls if t[1]["status"] == "open"]
    closed = [t for t in tpls if t[1]["status"] == "closed"]
    seq: dict[str, int] = {}
    cases, events, tasks = [], [], []
    for i in range(total):
        wf, case, evs, rows = rng.choice(opened if i < open_count else closed)
        prefix = f"{wf.code}-{2020 + i % 6}"
        seq[prefix] = seq.get(prefix, 0) + 1
        cid = f"{prefix}-{seq[prefix]:05d}"
        cases.append({**case, "id": cid})
        events += [{**e, "case_id": cid} for e in evs]
        tasks += [{**t, "case_id": cid} for t in rows]
        if len(cases) >= chunk or i == total - 1:
            store.bulk_load(cases, events, tasks, sequences={
                "case:{}:{}".format(*p.rsplit("-", 1)): n for p, n in seq.items()})
            cases, events, tasks = [], [], []


def prepare(data: Path, config, cases: int, runs: int) -> dict:
    """Fill `data` with `cases` cases (a tenth open), passwords for USER, a blacklist case per click
    and the open cases whose pages are opened. Returns what the measures need."""
    import run  # bench/run.py's templates() (imported here: run.py imports this module)

    from flows.service import open_service
    from storage import Store

    t0 = time.perf_counter()
    store = Store(data)
    fill(store, run.templates(config), cases, cases // 10, random.Random(2024))
    store.close()
    fill_s = time.perf_counter() - t0
    svc = open_service(data, config=config)
    try:
        svc.accounts.create_first_admin("admin", "系统管理员", "局办公室", PASSWORD)
        svc.accounts.reset_password("admin", USER, PASSWORD, must_change=False)
        clicks = [svc.start("blacklist", USER, BLACKLIST)["id"] for _ in range(runs + 1)]
        seen, pages = set(), []
        rows = svc.inbox(USER, limit=2000)
        random.Random(10).shuffle(rows)
        for row in rows:  # open cases of the archive the person has an action on (the page shows its form)
            cid = row["case_id"]
            if cid in seen or cid in clicks:
                continue
            seen.add(cid)
            if any(a.enabled for a in svc.actions(cid, USER)):
                pages.append(cid)
            if len(pages) == runs + 1:
                break
        assert len(pages) == runs + 1, f"only {len(pages)} cases with an action for {USER}"
        inbox_rows = len(svc.inbox(USER))
    finally:
        svc.close()
    return {"fill_s": fill_s, "clicks": clicks, "pages": pages, "inbox_rows": inbox_rows}


# ------------------------------------------------------------------ the two servers

@contextlib.contextmanager
def streamlit_server(script: Path, env: dict, log: Path):
    port = _free_port()
    with open(log, "ab") as out:
        from flows.orchestration.stack import app_command

        proc = subprocess.Popen(app_command("127.0.0.1", port, script),  # as `flows up` serves the app
                                cwd=str(ROOT), env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        import httpx

        url = f"http://127.0.0.1:{port}"
        t0 = time.monotonic()  # patient on a loaded machine; says why it gave up
        while True:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=5).text.strip() == "ok":
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() - t0 > 600:
                why = (f"it exited with code {proc.returncode}" if proc.poll() is not None
                       else "its health check did not answer ok in 600 s")
                raise RuntimeError(f"gave up on streamlit: {why}; its log:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """TERM the server's process group (it was started in its own), KILL it after 20 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


# ------------------------------------------------------------------ script run times (ui/app.py's hook)

class Timings:
    """The lines ui/app.py (and the baseline) append to WORKFLOW_UI_TIMINGS: path, ms, time."""

    def __init__(self, path: Path):
        self.path = path
        path.touch()

    def lines(self, wall: float, path: str) -> list[list[str]]:
        """The runs of `path` that ended after `wall`: [path, ms, time]."""
        rows = [line.split("\t") for line in self.path.read_text(encoding="utf-8").splitlines()]
        return [r for r in rows if len(r) == 3 and r[0] == path and float(r[2]) >= wall]

    def since(self, wall: float, path: str) -> list[float]:
        return [float(r[1]) for r in self.lines(wall, path)]

    def wait(self, wall: float, path: str, count: int, timeout: float = 120) -> float:
        """The summed script time of the `count` runs of `path` that ended after `wall`."""
        end = time.monotonic() + timeout
        while True:
            found = self.since(wall, path)
            if len(found) >= count:
                time.sleep(0.1)  # a further run (there should be none) would show up now
                return sum(self.since(wall, path))
            if time.monotonic() > end:
                raise RuntimeError(f"no script run of {path} recorded ({found})")
            time.sleep(0.02)


# ------------------------------------------------------------------ the browser

def _idle(page) -> None:
    """Wait until the app's script is no longer running (Streamlit's status widget gone)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)


def sign_in(page, app: str) -> None:
    page.goto(app)
    page.get_by_label("账号").fill(USER)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="待办").wait_for()
    end = time.monotonic() + 30  # the cookie is written by a script in a component frame
    while not any(c["name"] == "safety_session" and c["value"] for c in page.context.cookies()):
        if time.monotonic() > end:
            raise RuntimeError("the session cookie was not set")
        time.sleep(0.05)


# What a measure waits for, tested in the page on every animation frame (page.wait_for_function with
# polling="raf"). Playwright's own waits (locator.wait_for) test at 0, 20, 70, 170, 270 ms and then only
# every 500 ms: they rounded a figure past 270 ms up by as much as half a second.
SHOWN_JS = """({css, text}) => [...document.querySelectorAll(css)].some(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && (!text || e.innerText.includes(text));
})"""
TABLE = ("[data-testid='stDataFrame'] canvas", None)
CHART = ("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg", None)
DIAGRAM = ("[data-testid='stImage'] img, [data-testid='stGraphVizChart'] svg", None)
SUBMIT = ("button", "提交：")


def text(shown: str) -> tuple[str, str]:
    """Any visible element of Streamlit's that says `shown` (a message, a caption)."""
    return ("[data-testid='stAlert'], [data-testid='stCaptionContainer'], [data-testid='stMarkdownContainer']", shown)


def shown(page, *targets: tuple[str, str | None]) -> None:
    for css, wanted in targets:
        page.wait_for_function(SHOWN_JS, arg={"css": css, "text": wanted}, polling="raf", timeout=120_000)


class Browser:
    """One signed-in tab; each measure returns (browser ms, script ms of the same runs)."""

    def __init__(self, page, timings: Timings):
        self.page, self.timings = page, timings

    def load(self, url: str, path: str, ready, whole_script: bool = False) -> tuple[float, float]:
        """A new page load of `url` until every target of `ready` (css, text) is shown (and, with `whole_script`,
        until the page's script run has ended too)."""
        wall, t0 = time.time(), time.perf_counter()
        self.page.goto(url, wait_until="commit")
        shown(self.page, *ready)
        ms = (time.perf_counter() - t0) * 1000
        script = self.timings.wait(wall, path, 1)
        if whole_script:
            ended = max(float(x[2]) for x in self.timings.lines(wall, path))
            ms = max(ms, (ended - wall) * 1000)
        _idle(self.page)
        return ms, script

    def navigate(self, url: str, link: str, path: str, ready) -> tuple[float, float]:
        """On `url` (loaded and settled, not timed), press the menu's `link` until every target of `ready`
        is shown and the new page's script has ended: moving to a page as people do, in the same tab."""
        self.page.goto(url)
        shown(self.page, TABLE)
        _idle(self.page)
        wall, t0 = time.time(), time.perf_counter()
        self.page.get_by_role("link", name=link, exact=True).click()
        shown(self.page, *ready)
        ms = (time.perf_counter() - t0) * 1000
        script = self.timings.wait(wall, path, 1)
        ended = max(float(x[2]) for x in self.timings.lines(wall, path))
        _idle(self.page)
        return max(ms, (ended - wall) * 1000), script

    def search(self, url: str, typed: str, done: str) -> tuple[float, float]:
        """On 全部案件 (loaded and settled, not timed), type `typed` into 搜索 and press Enter until `done` shows."""
        self.page.goto(url)
        box = self.page.locator("[data-testid='stTextInput'] input").first
        shown(self.page, TABLE)
        box.wait_for(state="visible")
        _idle(self.page)
        box.fill(typed)
        wall, t0 = time.time(), time.perf_counter()
        box.press("Enter")
        shown(self.page, text(done))
        ms = (time.perf_counter() - t0) * 1000
        script = self.timings.wait(wall, "/cases", 1)
        _idle(self.page)
        return ms, script

    def click(self, url: str, path: str, ready, button: str, done: str) -> tuple[float, float]:
        """On `url` (loaded first and settled, as a person reads before pressing: not timed), press
        `button` until the text `done` shows."""
        self.page.goto(url)
        pressed = self.page.get_by_role("button", name=button)
        shown(self.page, *ready)
        pressed.wait_for(state="visible")
        _idle(self.page)
        time.sleep(1)
        wall, t0 = time.time(), time.perf_counter()
        pressed.click()
        shown(self.page, text(done))
        ms = (time.perf_counter() - t0) * 1000
        script = self.timings.wait(wall, path, 2)  # the run that acts, then its st.rerun
        _idle(self.page)
        return ms, script


FIGURES = ("baseline_page_ms", "page_inbox_ms", "case_page_ms", "baseline_click_ms", "click_to_updated_ms", "search_ms",
           "dashboard_ms", "dashboard_load_ms")
MORE = {"page_done_ms": ("done", "已办"), "page_started_ms": ("started", "我发起的"), "page_cases_ms": ("cases", "全部案件")}


def wait_warm(log: Path, timeout: float = 600) -> float:
    """Seconds until the app says its background read of the archive is done (ui/session.py)."""
    import re

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        found = re.search(r"后台预读完成：\d+ 件案件，用时 ([\d.]+) 秒", log.read_text(errors="replace"))
        if found:
            return float(found.group(1))
        time.sleep(0.5)
    raise RuntimeError(f"gave up after {timeout:.0f} s: the app did not say it finished reading the archive in "
                       f"the background (no 后台预读完成 in {log})")


def measure(app: str, baseline: str, prep: dict, timings: Timings, runs: int, more_runs: int = 0,
            app_log: Path | None = None) -> dict[str, dict]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium 未安装：请以 root 运行 make test-packages"
    names = FIGURES + (tuple(MORE) if more_runs else ())
    got: dict[str, dict] = {k: {"ms": [], "script": [], "first": None, "first_script": None} for k in names}

    def keep(name: str, first: bool, sample: tuple[float, float]) -> None:
        if first:
            got[name]["first"], got[name]["first_script"] = sample
        else:
            got[name]["ms"].append(sample[0])
            got[name]["script"].append(sample[1])

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(120_000)
            sign_in(page, app)
            _idle(page)
            if app_log is not None:  # measured in the steady state, after the app's first read of the archive
                prep["warm_s"] = wait_warm(app_log)
            b = Browser(page, timings)
            for i in range(runs + 1):  # round 0 warms up and is not counted
                first = i == 0
                keep("baseline_page_ms", first, b.load(baseline, "/baseline", [TABLE]))
                keep("page_inbox_ms", first, b.load(app, "/", [TABLE]))
                keep("case_page_ms", first, b.load(f"{app}/case?id={prep['pages'][i]}", "/case", [DIAGRAM, SUBMIT]))
                keep("baseline_click_ms", first, b.click(baseline, "/baseline", [TABLE], "提交：基准", "已提交「基准」。"))
                keep("click_to_updated_ms", first, b.click(f"{app}/case?id={prep['clicks'][i]}", "/case", [DIAGRAM],
                                                           f"提交：{CLICK_ACTION}", f"已提交「{CLICK_ACTION}」。"))
                keep("search_ms", first, b.search(f"{app}/cases", prep["pages"][i], "共找到 1 件"))
                keep("dashboard_ms", first, b.navigate(app, "统计", "/statistics", [CHART]))
                keep("dashboard_load_ms", first, b.load(f"{app}/statistics", "/statistics", [CHART], whole_script=True))
                if first or i <= more_runs:
                    for name, (path, _) in MORE.items() if more_runs else ():
                        keep(name, first, b.load(f"{app}/{path}", f"/{path}", [TABLE], whole_script=True))
        finally:
            browser.close()
    return got


# ------------------------------------------------------------------ the figures

def browser_figures(config=None, cases: int = 100_000, runs: int = 10, more_runs: int = 0,
                    samples: bool = False) -> list[str]:
    """Fill, start, measure; returns the lines to print (bench/run.py prints them as they are)."""
    from flows.service.config import load_config

    config = config or load_config()
    label = f"{cases // 1000}k" if cases >= 1000 else str(cases)
    saved_key = os.environ.get("WORKFLOW_SEAL_KEY_FILE")
    with tempfile.TemporaryDirectory(prefix="browser-bench-") as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        os.environ["WORKFLOW_SEAL_KEY_FILE"] = str(tmp / "seal.key")  # this data directory's own key
        try:
            prep = prepare(data, config, cases, runs)
        finally:
            if saved_key is None:
                os.environ.pop("WORKFLOW_SEAL_KEY_FILE", None)
            else:
                os.environ["WORKFLOW_SEAL_KEY_FILE"] = saved_key
        timings = Timings(tmp / "timings.tsv")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update({"WORKFLOW_DATA_DIR": str(data), "WORKFLOW_UI_TIMINGS": str(timings.path),
                    "WORKFLOW_SEAL_KEY_FILE": str(tmp / "seal.key"), "PYTHONPATH": str(ROOT)})
        (tmp / "baseline_app.py").write_text(BASELINE_APP, encoding="utf-8")
        with streamlit_server(ROOT / "ui" / "app.py", env, tmp / "app.log") as app, \
                streamlit_server(tmp / "baseline_app.py", env, tmp / "baseline.log") as baseline:
            got = measure(app, baseline, prep, timings, runs, more_runs, app_log=tmp / "app.log")
    return report(got, prep, label, runs, samples)


def report(got: dict[str, dict], prep: dict, label: str, runs: int, samples: bool = False) -> list[str]:
    lines = [f"browser_fill_s_{label}: {prep['fill_s']:.1f} s ({label} cases bulk-loaded, a tenth open; "
             f"{USER} has {prep['inbox_rows']} open tasks)"]
    if "warm_s" in prep:
        lines.append(f"app_warm_s_{label}: {prep['warm_s']:.1f} s (after its start, the app reads every case once in the "
                     "background: search index, registers, the first 统计 snapshot; the figures below are measured after it)")
    for name, g in got.items():
        rerun = "click" in name or name in ("search_ms", "dashboard_ms")  # measured against the baseline's click (a rerun)
        base = got["baseline_click_ms" if rerun else "baseline_page_ms"]["ms"]
        b50, b95 = p50(base), p95(base)
        m50, m95 = p50(g["ms"]), p95(g["ms"])
        s50, s95 = p50(g["script"]), p95(g["script"])
        line = f"{name}: p50 {m50:.0f} ms  p95 {m95:.0f} ms"
        if not name.startswith("baseline_"):
            line += (f"  vs {'baseline_click_ms' if rerun else 'baseline_page_ms'}: "
                     f"{m50 - b50:+.0f} ms p50 ({m50 / b50:.2f}x), {m95 - b95:+.0f} ms p95 ({m95 / b95:.2f}x)")
        line += f"  script ({'2 runs' if 'click' in name else '1 run'}): p50 {s50:.0f} ms  p95 {s95:.0f} ms"
        if name.startswith(("page_", "case_")):
            ok = m50 <= b50 + PAGE_GOAL_MS and m95 <= b95 + PAGE_GOAL_MS
            line += f"  goal ≤ baseline + {PAGE_GOAL_MS} ms: {'met' if ok else 'MISSED'}"
        elif name == "click_to_updated_ms":
            line += f"  goal p95 ≤ {CLICK_GOAL_MS} ms: {'met' if m95 <= CLICK_GOAL_MS else 'MISSED'}"
        elif name == "search_ms":
            line += f"  goal p95 ≤ {SEARCH_GOAL_MS} ms: {'met' if m95 <= SEARCH_GOAL_MS else 'MISSED'}"
        elif name == "dashboard_ms":
            line += f"  goal p95 ≤ {DASHBOARD_GOAL_MS} ms: {'met' if m95 <= DASHBOARD_GOAL_MS else 'MISSED'}"
        if len(g["ms"]) != runs:
            line += f"  ({len(g['ms'])} runs)"
        lines.append(line)
        if samples:
            lines.append(f"  samples ms {[round(x) for x in g['ms']]}  script ms {[round(x) for x in g['script']]}")
    lines.append("first load (round 0, not counted): " + ", ".join(
        f"{name.removesuffix('_ms')}_first_ms {g['first']:.0f} (script {g['first_script']:.0f})"
        for name, g in got.items()))
    lines.append(f"({runs} runs each, in rounds; the p95 of so few samples is their nearest rank)")
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--more-pages", action="store_true", help="also 已办, 我发起的, 全部案件 (slow at 100k)")
    ap.add_argument("--more-runs", type=int, default=3, help="runs of each --more-pages page")
    ap.add_argument("--samples", action="store_true", help="also print every run's times")
    args = ap.parse_args(argv)
    for line in browser_figures(cases=args.cases, runs=args.runs, more_runs=args.more_runs if args.more_pages else 0,
                                samples=args.samples):
        print(line, flush=True)


if __name__ == "__main__":
    main()
