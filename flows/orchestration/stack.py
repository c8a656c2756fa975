"""`python -m flows up`: the whole platform on one machine, with one command.

Starts on 127.0.0.1, each in its own process group:
  1. a Prefect server on its embedded SQLite (PREFECT_HOME = <data>/prefect; analytics/telemetry off),
  2. the process serving the deployments (`python -m flows serve`: effects executor + scheduled jobs),
  3. the Streamlit app (ui/app.py) with PREFECT_API_URL and WORKFLOW_DATA_DIR set;
waits until all three answer their health checks, prints the URLs, and on Ctrl-C or SIGTERM stops
them all (TERM to each process group, KILL after a grace period), so no process is left behind.

A second start on the same data directory finds the lock (<data>/stack.lock, held with flock for
the life of the stack, so a crashed stack never blocks the next start) and says where the running
one is (<data>/stack.json: the pids, the app's and Prefect's addresses). The command line finds the
running stack the same way and hands it the effects of what it does (flows.orchestration.handoff).
Logs go to <data>/logs/.
"""
from __future__ import annotations

import ctypes
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import httpx

from flows.core.errors import FlowError
from flows.orchestration.handoff import LOCK, MARKER, PREFECT_DIR  # the names the command line finds a stack by
from flows.orchestration.prefect_home import (
    HOST,
    LOOPBACK,
    api_auth_string,
    auth_headers,
    migrated_marker,
    prefect_env,
    seed_prefect_home,
)
from flows.service.config import DATA_DIR_ENV, ROOT
from flows.service.config import data_dir as resolve_data_dir

GRACE_S = 15.0
UPLOAD_LIMIT_MB = 20  # Streamlit refuses larger uploads before they reach the service (which checks again)
JOB_COUNT = 6  # job deployments served (flows.orchestration.job_flows.jobs())


class AlreadyRunning(FlowError):
    pass


def _die_with_parent() -> None:
    """In the child before exec: its own session (group), and SIGTERM if the stack process dies."""
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


@dataclass
class Child:
    name: str
    label: str
    args: list[str]
    log: Path
    proc: subprocess.Popen | None = None

    def start(self, env: dict[str, str]) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args, env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        out.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def app_command(host: str, port: int, script: Path = ROOT / "ui" / "app.py") -> list[str]:
    """How the app is served (by `up`, and by bench/browser_bench.py, which serves its baseline app the
    same way and must measure what `up` serves)."""
    return [sys.executable, "-m", "streamlit", "run", str(script),
            "--server.address", host, "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer",
            "--server.enableXsrfProtection", "true", "--server.maxUploadSize", str(UPLOAD_LIMIT_MB),
            # Streamlit collects every generation after each script run: at 100,000 cases that held the
            # GIL ~100 ms while the run's last messages waited to be sent, twice per click (the run
            # that acts, its rerun). Python's own collector still runs when allocations call for it.
            "--runner.postScriptGC", "false"]


@dataclass
class Stack:
    data: Path
    app_port: int = 8501
    prefect_port: int = 4200
    out: TextIO = field(default_factory=lambda: sys.stdout)
    children: list[Child] = field(default_factory=list)
    migrating: bool = True  # whether the Prefect server checks its database's migrations at this start
    host: str = HOST  # where the servers listen: loopback unless the office asks for more (`up --host`)
    api_auth: bool | None = None  # protect the Prefect API; None: exactly when listening beyond loopback
    _lock_file: TextIO | None = None

    def __post_init__(self) -> None:
        if self.api_auth is None:
            self.api_auth = self.host not in LOOPBACK
        if self.host not in LOOPBACK and not self.api_auth:
            raise FlowError(f"监听 {self.host} 时必须保护 Prefect 接口（不能关闭接口认证），否则局域网内任何人都能提交运行")

    @property
    def client_host(self) -> str:
        """The address this machine's own processes use to reach the servers."""
        return HOST if self.host in ("0.0.0.0", "::") else self.host

    @property
    def api_url(self) -> str:
        return f"http://{self.client_host}:{self.prefect_port}/api"

    @property
    def prefect_url(self) -> str:
        return f"http://{self.client_host}:{self.prefect_port}"

    @property
    def app_url(self) -> str:
        return f"http://{self.client_host}:{self.app_port}"

    @property
    def info_path(self) -> Path:
        return self.data / MARKER

    # ------------------------------------------------------------ lock
    def acquire(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        lock = open(self.data / LOCK, "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            try:
                info = json.loads(self.info_path.read_text())
            except (OSError, ValueError):
                info = {}
            raise AlreadyRunning(
                f"平台已在运行（进程 {info.get('pid', '?')}，数据目录 {self.data}）：应用 {info.get('app_url', '?')}，"
                f"Prefect 界面 {info.get('prefect_url', '?')}。如需重新启动，请先停止它：kill {info.get('pid', '<进程号>')}"
            ) from None
        self._lock_file = lock
        for port, what in ((self.prefect_port, "Prefect 服务器"), (self.app_port, "应用")):
            if not port_free(port):
                self.release()
                raise FlowError(f"端口 {port} 已被其他程序占用，无法启动{what}；"
                                f"请用 --{'prefect' if what.startswith('Prefect') else 'app'}-port 换一个端口")

    def release(self) -> None:
        if self._lock_file is not None:
            try:
                self.info_path.unlink(missing_ok=True)
            finally:
                self._lock_file.close()
                self._lock_file = None

    # ------------------------------------------------------------ processes
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(prefect_env(self.data / PREFECT_DIR, self.api_url))
        env[DATA_DIR_ENV] = str(self.data)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["PREFECT_SERVER_API_HOST"] = self.host
        env.pop("PREFECT_SERVER_API_AUTH_STRING", None)
        env.pop("PREFECT_API_AUTH_STRING", None)
        if self.api_auth:  # the server checks it; every client of ours (serving process, app, CLI) sends it
            secret = api_auth_string(self.data / PREFECT_DIR)
            env["PREFECT_SERVER_API_AUTH_STRING"] = env["PREFECT_API_AUTH_STRING"] = secret
        return env

    def start(self) -> None:
        py = sys.executable
        logs = self.data / "logs"
        self.children = [
            Child("prefect", "Prefect 服务器", [py, "-m", "prefect", "server", "start", "--host", self.host,
                                             "--port", str(self.prefect_port)], logs / "prefect-server.log"),
            Child("serve", "流程服务进程", [py, "-m", "flows", "serve", "--data-dir", str(self.data)],
                  logs / "serve.log"),
            Child("app", "应用", app_command(self.host, self.app_port), logs / "app.log"),
        ]
        env = self.env()
        seed_prefect_home(self.data / PREFECT_DIR)
        self.migrating = not migrated_marker(self.data / PREFECT_DIR).exists()
        for child in self.children:  # all at once: the serving process waits for the server itself
            child.start(env if child.name != "prefect" or self.migrating
                        else {**env, "PREFECT_API_DATABASE_MIGRATE_ON_START": "false"})
        self.info_path.write_text(json.dumps({
            "pid": os.getpid(), "app_url": self.app_url, "prefect_url": self.prefect_url, "api_url": self.api_url,
            "api_auth": bool(self.api_auth), "data_dir": str(self.data),
            "children": {c.name: c.proc.pid for c in self.children}, "started": time.time()}, ensure_ascii=False))

    def health(self) -> dict[str, bool]:
        status = {}
        headers = auth_headers(api_auth_string(self.data / PREFECT_DIR) if self.api_auth else None)
        with httpx.Client(timeout=2, headers=headers) as http:
            def ok(url: str, check: Callable[[httpx.Response], bool] = lambda r: True) -> bool:
                try:
                    r = http.get(url) if not url.endswith("/filter") else http.post(url, json={})
                    return r.status_code == 200 and check(r)
                except httpx.HTTPError:
                    return False

            status["prefect"] = ok(f"{self.api_url}/health")
            status["app"] = ok(f"{self.app_url}/_stcore/health")
            status["serve"] = status["prefect"] and ok(f"{self.api_url}/deployments/filter", self._served)
        return status

    def _served(self, response: httpx.Response) -> bool:
        """Every deployment of ours exists and is being polled (status READY)."""
        from flows.orchestration.dispatch import EFFECTS_DEPLOYMENT
        from flows.service.config import configs_dir

        deployments = response.json()
        effects = [d for d in deployments if d.get("name") == EFFECTS_DEPLOYMENT]
        expected = len(list((configs_dir() / "flows").glob("*.yaml")))
        return len(effects) >= expected and len(deployments) >= expected + JOB_COUNT and \
            all(d.get("status") == "READY" for d in deployments)

    def wait_healthy(self, timeout: float = 120.0) -> dict[str, float]:
        """Wait until every child answers its health check; returns when each first did (seconds)."""
        t0 = time.monotonic()
        end = t0 + timeout
        status: dict[str, bool] = {}
        ready: dict[str, float] = {}
        while time.monotonic() < end:
            for child in self.children:
                if not child.alive():
                    raise FlowError(f"{child.label}启动失败（退出码 {child.proc.returncode}），日志 {child.log}：\n"
                                    f"{child.tail()}")
            status = self.health()
            for name, ok in status.items():
                if ok and name not in ready:
                    ready[name] = time.monotonic() - t0
            if all(status.values()):
                if self.migrating:  # the server migrated its database: later starts may skip the check
                    migrated_marker(self.data / PREFECT_DIR).touch()
                return ready
            time.sleep(0.25)
        waiting = "、".join(c.label for c in self.children if not status.get(c.name))
        raise FlowError(f"等待 {timeout:.0f} 秒后仍未就绪：{waiting}；日志在 {self.data / 'logs'}")

    def stop(self) -> None:
        """TERM every process group (app first, server last), then KILL what is left after the grace period."""
        for child in reversed(self.children):
            child.signal_group(signal.SIGTERM)
        end = time.monotonic() + GRACE_S
        for child in reversed(self.children):
            if child.proc is None:
                continue
            try:
                child.proc.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for child in self.children:  # the group outlives its leader when a run subprocess lingers
            if child.proc is not None and _group_alive(child.proc.pid):
                child.signal_group(signal.SIGKILL)
                try:
                    child.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        self.release()


def up(data: str | Path | None = None, app_port: int = 8501, prefect_port: int = 4200,
       out: TextIO | None = None, timeout: float = 120.0, host: str = HOST, api_auth: bool | None = None) -> int:
    out = out or sys.stdout
    stack = Stack(resolve_data_dir(data).resolve(), app_port=app_port, prefect_port=prefect_port, out=out,
                  host=host, api_auth=api_auth)
    stack.acquire()
    stopping = {"signal": None}

    def on_signal(signum, frame):
        stopping["signal"] = signum
        raise KeyboardInterrupt

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    t0 = time.monotonic()
    try:
        print(f"正在启动（数据目录 {stack.data}）…", file=out, flush=True)
        stack.start()
        ready = stack.wait_healthy(timeout)
        detail = "，".join(f"{c.label} {ready[c.name]:.1f} 秒" for c in stack.children)
        print(f"已就绪（用时 {time.monotonic() - t0:.1f} 秒：{detail}）\n"
              f"  应用：       {stack.app_url}\n"
              f"  Prefect 界面：{stack.prefect_url}" + ("（接口需认证）" if stack.api_auth else "") + "\n"
              "按 Ctrl-C 停止。", file=out, flush=True)
        while True:
            for child in stack.children:
                if not child.alive():
                    raise FlowError(f"{child.label}意外退出（退出码 {child.proc.returncode}），已停止全部服务；"
                                    f"日志 {child.log}：\n{child.tail()}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("正在停止…", file=out, flush=True)
        return 0
    finally:
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        stack.stop()
        for s, handler in old.items():
            signal.signal(s, handler)
        if stopping["signal"] is not None:
            print("已停止。", file=out, flush=True)
