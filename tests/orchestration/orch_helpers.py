"""Helpers for the orchestration tests: ports, real Prefect servers, process groups, waiting."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]

BLACKLIST = {"enterprise": {"name": "江海港务有限公司", "credit_code": "91320600MA1NY7QH42"},
             "reason": "重大隐患整改不力", "facts": "逾期未整改"}
INVESTIGATION = {"investigation_findings": "属实", "legal_basis": "安全生产法"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def start_prefect_server(home: Path, port: int, log: Path, extra_env: dict | None = None,
                         timeout: float = 240.0) -> subprocess.Popen:
    """`prefect server start` on 127.0.0.1 in its own process group; returns once /api/health answers."""
    from flows.orchestration.prefect_home import await_api, prefect_env

    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, **prefect_env(home, url), **(extra_env or {})}
    home.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                 "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(ROOT))
    problem = await_api(url, timeout, exit_code=proc.poll)
    if problem:
        stop_group(proc)
        raise RuntimeError(f"{problem}:\n{log.read_text()[-3000:]}")
    return proc


def notify_blacklist(svc) -> str:
    """The usual click sequence of these tests: a blacklist case 核实 then 送达事先告知书 (a document)."""
    cid = svc.start("blacklist", "awb_zhang", BLACKLIST)["id"]
    svc.act(cid, "verify", "awb_zhang")
    svc.act(cid, "notify", "awb_zhang", INVESTIGATION)
    return cid


def stop_group(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """TERM the process group, KILL it after `grace` seconds."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    """Live processes whose command line or environment mentions `text` (orphan hunting)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            env = (entry / "environ").read_bytes().decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if stat.split(") ", 1)[-1].startswith("Z"):
            continue  # a zombie is dead; its parent will reap it
        if text in cmd or text in env:
            found.append((int(entry.name), cmd.strip()))
    return found


def flow_runs(api_url: str, tag: str, since: float | None = None) -> list[dict]:
    """Flow runs with `tag`, created after `since` (a time.time(); case ids repeat across tests' data dirs)."""
    from datetime import datetime

    r = httpx.post(f"{api_url}/flow_runs/filter", json={"flow_runs": {"tags": {"all_": [tag]}}}, timeout=10)
    r.raise_for_status()
    runs = r.json()
    if since is not None:
        runs = [x for x in runs if datetime.fromisoformat(x["created"].replace("Z", "+00:00")).timestamp() >= since]
    return runs


def flow_name(api_url: str, flow_id: str) -> str:
    return httpx.get(f"{api_url}/flows/{flow_id}", timeout=10).json()["name"]


# where the browser tests leave their screenshots, to be looked at as a clerk would (build/ is not committed)
SHOTS = ROOT / "build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"  # Debian's package (make test installs it); Playwright never downloads one


@contextlib.contextmanager
def chromium_page():
    """A page in headless Debian Chromium driven by Playwright; no network beyond 127.0.0.1."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium 未安装：请以 root 运行 make test-packages"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(accept_downloads=True, locale="zh-CN")
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def pick(page, key: str, option) -> None:
    """Choose an option of the Streamlit selectbox with `key` (its container has class st-key-<key>)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    choice = page.get_by_role("option", name=option)
    for attempt in range(5):  # a click landing while Streamlit re-renders the widget opens nothing
        page.locator(f".st-key-{key}").get_by_role("button", name="Open").click()
        try:
            choice.wait_for(timeout=3000)
            break
        except PlaywrightTimeout:
            if attempt == 4:
                raise
            page.keyboard.press("Escape")
    choice.click()
