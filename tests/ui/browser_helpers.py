"""What the browser tests share: one real stack per module (`python -m flows up` on free 127.0.0.1
ports, on a data directory prepared in-process, stopped by its process group at the end) and what a
clerk does in the browser (sign in, fill, choose, wait for Streamlit's run, take a screenshot)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.orchestration.orch_helpers import (
    ROOT,
    free_port,
    group_alive,
    processes_mentioning,
    wait_for,
)

PASSWORD = "Anquan#2026"


@dataclass
class Office:
    url: str
    data: Path
    config: object
    cases: dict[str, str] = field(default_factory=dict)

    def service(self):
        """This process's own service on the stack's data directory (effects run here, inline)."""
        from flows.service import open_service

        return open_service(self.data, config=self.config)


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextmanager
def stack(base: Path, orch_config, people: tuple[str, ...],
          prepare: Callable[[object], dict[str, str]] = lambda svc: {}) -> Iterator[Office]:
    """One real stack on `base`/data: the first admin made, `people` given PASSWORD, `prepare(svc)`'s
    cases made in-process first; stopped with SIGTERM at the end, leaving no process behind."""
    from flows.service import open_service

    data = base / "data"
    svc = open_service(data, config=orch_config)
    try:
        if svc.accounts.needs_first_admin():  # (the demo data has its admin)
            svc.accounts.create_first_admin("admin", "系统管理员", "局办公室", PASSWORD)
        for person in people:
            svc.accounts.reset_password("admin", person, PASSWORD, must_change=False)
        cases = prepare(svc)
    finally:
        svc.close()
    app_port, prefect_port = free_port(), free_port()
    log = base / "up.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flows", "up", "--data-dir", str(data), "--app-port",
                                 str(app_port), "--prefect-port", str(prefect_port), "--timeout", "240"],
                                cwd=str(ROOT), env=_clean_env(), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    children: dict[str, int] = {}
    try:
        wait_for(lambda: "已就绪" in log.read_text() or proc.poll() is not None, timeout=300, interval=0.5,
                 what="the stack to be ready")
        assert proc.poll() is None, log.read_text()
        children = json.loads((data / "stack.json").read_text())["children"]
        yield Office(f"http://127.0.0.1:{app_port}", data, orch_config, cases)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()[-3000:]
        for name, pgid in children.items():
            assert not group_alive(pgid), f"{name} process group still alive"
        assert processes_mentioning(str(data)) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for pgid in children.values():
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def fresh_folder(folder: Path) -> Path:
    """A screenshot folder holding only this run's pages (to be looked at)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


# ------------------------------------------------------------------ what a clerk does, in the browser

_SCRIPT_STATE = "document.querySelector('[data-testid=stApp]').getAttribute('data-test-script-state')"


def settle(page) -> None:
    """Streamlit has finished its run (what a click or a typed value asked for has been drawn)."""
    page.wait_for_timeout(300)
    page.wait_for_function(f"() => {_SCRIPT_STATE} === 'notRunning'", timeout=30_000)


def run(page, do) -> None:
    """Do something that makes Streamlit run the page, and wait until that run is over."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate("""() => { window.__ran = false;
        const app = document.querySelector('[data-testid=stApp]');
        new MutationObserver((changes, watch) => {
            if (app.getAttribute('data-test-script-state') === 'running') { window.__ran = true; watch.disconnect(); }
        }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']}); }""")
    do()
    try:
        page.wait_for_function("() => window.__ran", timeout=5_000)
    except PlaywrightTimeout:
        # a run this quick can be drawn in one React commit: 'running' never reaches the attribute;
        # what it drew is on the page already, so wait as settle does
        pass
    page.wait_for_function(f"() => {_SCRIPT_STATE} === 'notRunning'", timeout=30_000)


def press(page, button, shown: str) -> None:
    """Click `button` and wait until `shown` is on the page. Once (CI, a loaded 2-core machine) a click on a
    button just uncovered by opening its expander was followed by no run at all: the page kept its old
    notice and the case did not move. If nothing ran and the button is still there, it is pressed again,
    as its user would, and a warning says so; a second click that does nothing fails the test."""
    import warnings

    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    run(page, button.click)
    notice = page.get_by_text(shown)
    try:
        notice.wait_for(timeout=5_000)
    except PlaywrightTimeout:
        if not button.count():
            raise
        warnings.warn(f"a click on {button} started no run; pressed again", stacklevel=2)
        run(page, button.click)
        notice.wait_for()


def shot(page, path: Path) -> None:
    """A screenshot of the whole page (the main area scrolls, so the window is made as tall as it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    settle(page)
    size = page.viewport_size
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height + 20, 8000))})
    page.wait_for_timeout(400)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)


def _session_cookie(page) -> str:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "safety_session"), "")


def sign_in(page, office: Office, user: str, password: str = PASSWORD) -> None:
    page.goto(office.url)
    page.get_by_label("账号").fill(user)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="待办").wait_for()
    wait_for(lambda: _session_cookie(page), timeout=10, what="the session cookie")  # kept across page.goto


def sign_out(page) -> None:
    page.get_by_role("button", name="退出登录").click()
    page.get_by_role("heading", name="登录").wait_for()
    wait_for(lambda: not _session_cookie(page), timeout=10, what="the session cookie to be cleared")


def label(text: str) -> re.Pattern:
    """A field's accessible name: its label, perhaps with its unit （人） and the required mark."""
    return re.compile(rf"^{re.escape(text)}(（[^）]*）)?( \\?\*)?$")


def fill(page, text: str, value: str) -> None:
    box = page.get_by_label(label(text))
    box.fill(value)
    box.press("Tab")


def fill_date(page, text: str, iso: str) -> None:
    page.get_by_role("spinbutton", name=re.compile(rf"^year, {re.escape(text)}")).click()
    page.keyboard.type(iso.replace("-", ""))
    page.keyboard.press("Tab")


def answer(page, key: str, option: str) -> None:
    """A radio (是/否, or the action to take) by its widget key."""
    page.locator(f".st-key-{key}").get_by_text(option, exact=True).click()
    settle(page)


def choose_many(page, key: str, options: list[str]) -> None:
    for option in options:
        page.locator(f".st-key-{key}").get_by_role("combobox").click()
        page.get_by_role("option", name=option, exact=True).click()
        page.keyboard.press("Escape")
    settle(page)


def upload(page, key: str, path: Path) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.locator(f".st-key-{key}")
    box.get_by_test_id("stFileUploaderDropzone").wait_for()
    settle(page)  # a file given while the page runs (a field typed just before) is lost
    for attempt in range(3):
        if attempt:
            box.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([])
            settle(page)
        box.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
        try:
            box.get_by_text(path.name).wait_for(timeout=5000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    settle(page)


def table_ids(page, key: str) -> list[str]:
    """The case numbers in a list of cases (a grid drawn on a canvas; its text is in a table behind it)."""
    settle(page)
    page.wait_for_function(f"""() => document.querySelector('.st-key-{key} td') ||
        [...document.querySelectorAll('[data-testid=stCaptionContainer]')].some(e => e.innerText === '暂无')""")
    return [t for t in page.locator(f".st-key-{key} td").all_text_contents() if re.fullmatch(r"[A-Z]+-\d{4}-\d+", t)]


def inbox_ids(page) -> list[str]:
    page.get_by_role("link", name="待办").click()
    page.get_by_role("heading", name="待办").wait_for()
    return table_ids(page, "inbox-table")


def open_from_inbox(page, case_id: str) -> None:
    """Click the case's row in 待办 (on its 标题, as a clerk would)."""
    rows = inbox_ids(page)
    assert case_id in rows, rows
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    heading = page.get_by_role("heading", name=re.compile(re.escape(case_id)))
    for attempt in range(5):  # the grid (a canvas) may not take a click until it has settled in
        grid = page.locator(".st-key-inbox-table canvas").first.bounding_box()
        x, y = grid["x"] + 250, grid["y"] + 36 + 35 * rows.index(case_id) + 17
        page.mouse.move(x, y)
        page.wait_for_timeout(300)
        page.mouse.click(x, y)
        try:
            heading.wait_for(timeout=4000)
            break
        except PlaywrightTimeout:
            if attempt == 4:
                raise
    settle(page)


def open_case(page, office: Office, case_id: str) -> None:
    page.goto(f"{office.url}/case?id={case_id}")
    page.get_by_role("heading", name=re.compile(re.escape(case_id))).wait_for()
    settle(page)


def act(page, case_id: str, action: str, form=None, comment: str | None = None, done: bool = True) -> None:
    """Choose the action on the case page, fill its form, submit; `done`: wait for 已提交."""
    page.locator(f".st-key-act-{case_id}").get_by_text(action, exact=True).click()
    settle(page)
    if form:
        form()
    if comment:
        fill(page, "理由" if page.get_by_label(label("理由")).count() else "意见", comment)
    settle(page)
    page.get_by_role("button", name=f"提交：{action}").click()
    if done:
        page.get_by_text(f"已提交「{action}」。").wait_for()
    settle(page)


def error_after(page, key: str) -> str:
    """The first message shown after the widget with `key`: the field's own error."""
    alert = page.locator(f".st-key-{key}").locator("xpath=following::div[@data-testid='stAlert'][1]")
    return alert.inner_text()


def header_state(page) -> str:
    """当前环节 as the case's header shows it."""
    return page.locator("[data-testid=stCaptionContainer]", has_text=re.compile("^当前环节$")).locator(
        "xpath=following::div[@data-testid='stMarkdownContainer'][1]").inner_text()


def docx_text(path: Path) -> str:
    import docx

    document = docx.Document(str(path))
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        texts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(texts)


