"""The command line's way to a stack running on its data directory (`python -m flows up`).

A command that causes effects (start, act, sweep, job, demo) hands them to that stack like the app
does: committed `pending`, then submitted as runs of the `case-<workflow>/effects` deployments, which
the stack's serving process runs, so every case's runs are in the Prefect UI. With no stack (or
`--inline`) they run in the command's own process right after the commit, as they always have.

A stack counts as running only when all of this holds, checked in this order:
  - its marker <data>/stack.json is there (no marker: no stack, nothing said, nothing contacted);
  - its lock <data>/stack.lock is held (the stack holds it with flock for its whole life, so a stack
    that crashed or was killed leaves a marker nobody holds);
  - the stack's process and its serving process (the marker's pids) are alive;
  - its Prefect API answers /health within `HEALTH_TIMEOUT_S`.
A marker that fails any of these is ignored with a note saying why; the effects then run here.

Only the standard library is imported at the top: a data directory with no stack pays for a stat.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flows.service import Service

MARKER = "stack.json"  # in the data directory; flows.orchestration.stack writes these under these names
LOCK = "stack.lock"
PREFECT_DIR = "prefect"  # the stack's PREFECT_HOME inside the data directory
HEALTH_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class RunningStack:
    """A stack found alive on a data directory: where its Prefect API and UI are."""

    data: Path
    pid: int
    serve_pid: int | None
    api_url: str
    prefect_url: str
    app_url: str
    auth: str | None  # the API's secret when the stack protects it (`up --host`), else None

    def service(self) -> Service:
        """A service on the data directory whose effects this stack carries out (`service_for` with
        PREFECT_API_URL, the app's way, but pointed at this stack whatever the environment says)."""
        from flows.orchestration.dispatch import Submitter, orchestrated_service

        return orchestrated_service(self.data, submitter=Submitter(api_url=self.api_url, auth=self.auth))

    def run_url(self, run_id: str) -> str:
        return f"{self.prefect_url}/runs/flow-run/{run_id}"

    def prefect_env(self) -> dict[str, str]:
        """What Prefect's own client in this process needs to talk to the stack (the `job` command)."""
        from flows.orchestration.prefect_home import prefect_env

        env = prefect_env(self.data / PREFECT_DIR, self.api_url)
        if self.auth:
            env["PREFECT_API_AUTH_STRING"] = self.auth
        return env

    @property
    def described(self) -> str:
        return f"数据目录 {self.data} 上正在运行的平台（进程 {self.pid}）"


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_held(path: Path) -> bool:
    """Whether some process holds the stack's flock. Probed with a shared lock, dropped at once."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _secret(data: Path, info: dict) -> str | None:
    """The API's secret when the stack protects its API (a marker older than the `api_auth` field: when
    the secret exists; a server without an auth string ignores it)."""
    from flows.orchestration.prefect_home import AUTH_FILE

    if info.get("api_auth") is False:
        return None
    path = data / PREFECT_DIR / AUTH_FILE
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _healthy(api_url: str, auth: str | None) -> str | None:
    """None when the Prefect API answers /health in time, else why not."""
    import httpx

    from flows.orchestration.prefect_home import auth_headers

    try:
        response = httpx.get(f"{api_url.rstrip('/')}/health", timeout=HEALTH_TIMEOUT_S, headers=auth_headers(auth))
    except httpx.HTTPError as exc:
        return f"其 Prefect 接口 {api_url} 在 {HEALTH_TIMEOUT_S:.0f} 秒内没有响应（{type(exc).__name__}）"
    if response.status_code != 200:
        return f"其 Prefect 接口 {api_url} 回答 HTTP {response.status_code}"
    return None


def find_stack(data: str | Path | None) -> tuple[RunningStack | None, str | None]:
    """The stack running on this data directory, or None with a note when its marker is stale
    (None, None: no marker at all)."""
    from flows.service.config import data_dir

    data = data_dir(data).resolve()
    marker = data / MARKER
    if not marker.exists():
        return None, None
    ignored = f"注意：数据目录中的 {marker} 已过期，忽略"
    try:
        info = json.loads(marker.read_text())
        pid = info["pid"]
        prefect_url = str(info["prefect_url"]).rstrip("/")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"{ignored}（无法读取：{type(exc).__name__}）"
    if not _lock_held(data / LOCK):
        return None, f"{ignored}：它记录的平台（进程 {pid}）已不在运行（未持有 {LOCK}）"
    if not _alive(pid):
        return None, f"{ignored}：它记录的平台进程 {pid} 已退出"
    serve_pid = (info.get("children") or {}).get("serve")
    if not _alive(serve_pid):
        return None, f"{ignored}：平台（进程 {pid}）的流程服务进程（进程 {serve_pid}）已退出"
    api_url = str(info.get("api_url") or f"{prefect_url}/api")
    auth = _secret(data, info)
    problem = _healthy(api_url, auth)
    if problem:
        return None, f"注意：数据目录 {data} 上的平台（进程 {pid}）{problem}（可能仍在启动），忽略"
    return RunningStack(data=data, pid=pid, serve_pid=serve_pid, api_url=api_url, prefect_url=prefect_url,
                        app_url=str(info.get("app_url") or ""), auth=auth), None


def finish(stack: RunningStack, svc: Service, listed: int = 5, stall_s: float = 30.0) -> list[str]:
    """Wait until what `svc` handed to the stack was submitted (however many: the demo queues hundreds,
    one HTTP call each; given up only after `stall_s` seconds without one sent); the lines (Chinese) that
    say where its runs are, and what could not be submitted (left pending: the stack's deadline sweep
    submits it again)."""
    import time

    submitter = svc.effects.submitter
    left, progressed = submitter.waiting, time.monotonic()
    while left and time.monotonic() - progressed < stall_s:
        submitter.flush(1.0)
        if submitter.waiting < left:
            left, progressed = submitter.waiting, time.monotonic()
    lines = []
    if submitter.sent:
        lines.append(f"处理已交给{stack.described}执行：已提交 {submitter.sent} 个运行，由其流程服务进程完成；"
                     f"在 Prefect 界面 {stack.prefect_url} 查看（按标签 case:案件号 筛选）")
        runs = list(submitter.created)
        for run_id, name in runs[-listed:] if listed else []:
            lines.append(f"  {name}：{stack.run_url(run_id)}")
    waiting = submitter.waiting
    if submitter.failed or waiting:
        lines.append(f"注意：{submitter.failed + waiting} 个运行未能提交 Prefect（{submitter.last_error or '超时'}），"
                     "这些处理仍为待执行，平台的期限巡查会重新提交；python -m flows effects 可查看")
    return lines
