"""`python -m flows up`: starts everything, answers health checks, serves the office's page in a real
browser, refuses a second start, stops clean."""
from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile

import httpx
import pytest
from orch_helpers import (
    ROOT,
    SHOTS,
    chromium_page,
    free_port,
    group_alive,
    notify_blacklist,
    processes_mentioning,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.prefect, pytest.mark.browser]


PASSWORD = "Anquan#2026"


def sign_in(page, app_url: str, user: str, password: str) -> None:
    page.goto(app_url)
    page.get_by_role("textbox", name="账号").fill(user)
    page.get_by_role("textbox", name="密码", exact=True).fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="待办").wait_for()


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_up_runs_the_stack_refuses_a_second_start_and_leaves_no_orphan(tmp_path, configs_root, orch_config):
    data = tmp_path / "data"
    from flows.service import open_service

    people = open_service(data, config=orch_config)      # the office's passwords, set before the stack starts
    people.accounts.create_first_admin("admin", "系统管理员", "局办公室", PASSWORD)
    for person in ("awb_zhang", "qy_yang"):
        people.accounts.reset_password("admin", person, PASSWORD, must_change=False)
    people.close()
    app_port, prefect_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "flows", "up", "--data-dir", str(data), "--app-port", str(app_port),
           "--prefect-port", str(prefect_port)]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("已就绪" in line for line in lines) or proc.poll() is not None, timeout=240,
                 interval=0.2, what="the stack to be ready")
        assert proc.poll() is None, "".join(lines)
        cold_start = time.monotonic() - t0
        out = "".join(lines)
        assert f"http://127.0.0.1:{app_port}" in out and f"http://127.0.0.1:{prefect_port}" in out
        api = f"http://127.0.0.1:{prefect_port}/api"
        assert httpx.get(f"http://127.0.0.1:{app_port}/_stcore/health").text == "ok"
        assert httpx.get(f"{api}/health").json() is True
        deployments = httpx.post(f"{api}/deployments/filter", json={}).json()
        assert {d["status"] for d in deployments} == {"READY"} and len(deployments) == len(orch_config.workflows) + 6
        info = json.loads((data / "stack.json").read_text())
        children = info["children"]
        assert set(children) == {"prefect", "serve", "app"}
        assert (data / "prefect" / "prefect.db").exists()          # Prefect's SQLite is in the data dir

        # a click in another process: committed at once, the stack's serving process issues the document
        from flows.orchestration.dispatch import Submitter, orchestrated_service

        submitter = Submitter(background=False, api_url=api)
        svc = orchestrated_service(data, config=orch_config, submitter=submitter)
        try:
            cid = notify_blacklist(svc)
            wait_for(lambda: svc.case(cid)["documents"], timeout=30, what="the document from the stack")
        finally:
            svc.close()
        _office_sees_the_case_and_downloads_its_notice(f"http://127.0.0.1:{app_port}", cid)

        second = subprocess.run(cmd[:-4] + ["--app-port", str(free_port()), "--prefect-port", str(free_port())],
                                cwd=str(ROOT), env=_clean_env(), check=False, capture_output=True, text=True, timeout=120)
        assert second.returncode != 0
        assert "平台已在运行" in second.stderr and str(info["pid"]) in second.stderr
        assert "Traceback" not in second.stderr

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        reader.join(5)
        assert "已停止" in "".join(lines)
        for name, pid in children.items():
            assert not group_alive(pid), f"{name} process group still alive"
        assert processes_mentioning(str(data)) == []
        assert not (data / "stack.json").exists()
        print(f"stack_cold_start_s={cold_start:.1f}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in (json.loads((data / "stack.json").read_text())["children"].values()
                    if (data / "stack.json").exists() else []):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _office_sees_the_case_and_downloads_its_notice(app_url: str, cid: str) -> None:
    """In headless Chromium: the case in its workflow's list, its 告知书 downloaded as a Word file,
    and the enterprise contact's 待办提醒 on the 消息 page."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_page() as page:
        sign_in(page, app_url, "awb_zhang", PASSWORD)             # 安委办: sees all cases
        page.get_by_role("link", name=re.compile("全部案件")).click()
        page.get_by_text("共找到 1 件").wait_for()                    # the one case, in the list of every case
        page.screenshot(path=str(SHOTS / "cases.png"), full_page=True)
        page.goto(f"{app_url}/case?id={cid}")                       # its page, where its documents are
        page.get_by_role("heading", name=re.compile(re.escape(cid))).wait_for()
        button = page.get_by_role("button", name=re.compile(r"安全生产失信行为事先告知书（县交信告〔\d{4}〕1号）"))
        with page.expect_download() as download:
            button.click()
        content = open(download.value.path(), "rb").read()
        assert download.value.suggested_filename.endswith("1号）.docx")
        assert "江海港务有限公司" in zipfile.ZipFile(io.BytesIO(content)).read("word/document.xml").decode()
        page.get_by_role("button", name="退出登录").click()
        page.get_by_role("heading", name="登录").wait_for()           # signed out before the next sign-in
        sign_in(page, app_url, "qy_yang", PASSWORD)               # 江海港务's contact, who may 陈述申辩
        page.get_by_role("link", name=re.compile("消息")).click()
        page.get_by_text(re.compile(f"【待办提醒】.*送达事先告知书.*{cid}")).wait_for()
        page.screenshot(path=str(SHOTS / "messages.png"), full_page=True)


def test_up_says_when_a_port_is_taken(tmp_path, configs_root):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "flows", "up", "--data-dir", str(tmp_path / "d"),
                               "--app-port", str(port), "--prefect-port", str(free_port())],
                              cwd=str(ROOT), env=_clean_env(), check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and f"端口 {port} 已被其他程序占用" in done.stderr and "Traceback" not in done.stderr
