"""The local Prefect server's home: the settings every process of the stack shares, a migrated
template database (a fresh Prefect database takes ~15 s of migrations; a copy takes milliseconds),
and the wait for the server's health."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from flows.core.errors import FlowError

HOST = "127.0.0.1"


AUTH_FILE = "api-auth.secret"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def api_auth_string(prefect_home: Path) -> str:
    """The secret that protects the Prefect API of a stack reachable beyond this machine: made once,
    kept in the data directory's Prefect home, readable by its owner only."""
    import secrets

    path = prefect_home / AUTH_FILE
    if not path.exists():
        prefect_home.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"flows:{secrets.token_urlsafe(32)}")
        os.replace(tmp, path)
    return path.read_text().strip()


def auth_headers(secret: str | None = None) -> dict[str, str]:
    """What our own HTTP calls to Prefect send when its API is protected (the secret given, or
    PREFECT_API_AUTH_STRING as Prefect's own client reads it)."""
    import base64

    secret = secret or os.environ.get("PREFECT_API_AUTH_STRING")
    return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()} if secret else {}


def prefect_env(prefect_home: Path, api_url: str) -> dict[str, str]:
    """Settings every process of the stack shares: no network beyond 127.0.0.1, no analytics."""
    return {
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
        "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
        "PREFECT_SERVER_API_HOST": HOST,
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }


def template_db() -> Path:
    """A migrated, empty Prefect SQLite database for this environment's Prefect version.

    A fresh Prefect database takes ~15 s of migrations on first start (and the stack must be up in
    20 s). `python -m flows prepare` (run by `make run`/`make test` after installing) makes the
    database once; a stack on a new data directory starts from a copy of it."""
    from importlib.metadata import version

    return Path(sys.prefix) / "var" / "county-safety" / f"prefect-{version('prefect')}.db"


def prepare_template(force: bool = False) -> Path:
    import shutil
    import sqlite3
    import tempfile

    target = template_db()
    if target.exists() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {**os.environ, **prefect_env(home, "http://127.0.0.1:1/api")}
        env.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)
        done = subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"], env=env,
                              check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise FlowError(f"准备 Prefect 数据库失败：{done.stderr.strip()[-500:]}")
        _first_start(home, env)
        clean = home / "clean.db"
        con = sqlite3.connect(home / "prefect.db")
        try:
            con.execute("VACUUM INTO ?", (str(clean),))  # one self-contained file, no WAL beside it
        finally:
            con.close()
        partial = target.with_suffix(".tmp")
        shutil.copyfile(clean, partial)
        os.replace(partial, target)
    return target


def await_api(api_url: str, timeout: float, interval: float = 0.25,
              exit_code: Callable[[], int | None] = lambda: None) -> str | None:
    """Poll a Prefect API's /health until it answers. None when it does, else why not (in Chinese):
    it did not within `timeout` seconds, or its process ended (`exit_code` returned a code)."""
    end = time.monotonic() + timeout
    while True:
        code = exit_code()
        if code is not None:
            return f"Prefect 服务器已退出（退出码 {code}）"
        try:
            if httpx.get(f"{api_url.rstrip('/')}/health", timeout=2).status_code == 200:
                return None
        except httpx.HTTPError:
            pass
        if time.monotonic() > end:
            return f"Prefect 服务器 {api_url} 在 {timeout:.0f} 秒内没有响应"
        time.sleep(interval)


def _first_start(home: Path, env: dict[str, str], timeout: float = 120.0) -> None:
    """Start the server once on the new database and stop it: its first start also registers Prefect's
    block types (several seconds), which the template should already hold."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    url = f"http://{HOST}:{port}/api"
    with open(home / "server.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port",
                                 str(port)], env={**env, "PREFECT_API_URL": url}, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        problem = await_api(url, timeout, exit_code=proc.poll)
        if problem:
            raise FlowError(f"准备 Prefect 数据库失败：{problem}："
                            f"{(home / 'server.log').read_text(errors='replace')[-500:]}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def seed_prefect_home(prefect_home: Path) -> bool:
    """Start a new data directory's Prefect database from the prepared template, when there is one."""
    import shutil

    db = prefect_home / "prefect.db"
    template = template_db()
    if db.exists() or not template.exists() or os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL"):
        return False
    prefect_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, db.with_suffix(".tmp"))
    os.replace(db.with_suffix(".tmp"), db)
    migrated_marker(prefect_home).touch()
    return True


def migrated_marker(prefect_home: Path) -> Path:
    """Present when prefect.db is known to be migrated for this Prefect version: the server may then
    skip its migration check at start (~3 s here). After an upgrade the marker's name no longer
    matches, so the first start migrates, and writes the new marker once healthy."""
    from importlib.metadata import version

    return prefect_home / f".migrated-prefect-{version('prefect')}"
