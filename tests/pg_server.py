"""One PostgreSQL server for a test session (not a test module).

`make test` installs Debian's `postgresql` (Makefile TEST_PACKAGES); where it is missing, `ensure_postgres`
installs it with apt-get (root only). `PgServer.start` runs `initdb` and `postgres` as the unprivileged
`postgres` user (runuser, when we are root: postgres refuses to run as root) in a temporary directory,
listening on 127.0.0.1 on a free port with trust authentication; `stop` ends the server by the pid it
wrote (postmaster.pid: a fast shutdown, SIGINT, which does not wait for idle clients), then its process
group if it still runs. `fresh_database` makes an empty database from a template in a fraction of a second
(CREATE DATABASE … TEMPLATE), so every test gets its own.

Used by the session fixture `pg_server` (tests/conftest.py): the storage contract tests on the
PostgreSQL backend and the scale-out test of Prefect's server on PostgreSQL share one server.
"""
from __future__ import annotations

import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def ensure_postgres() -> Path:
    """The directory of PostgreSQL's programs, installing Debian's package when it is missing."""
    bindir = pg_bin()
    if bindir is not None:
        return bindir
    if os.geteuid() != 0:
        raise RuntimeError("PostgreSQL 未安装，且非 root 无法用 apt-get 安装：请以 root 运行 make test-packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"], check=True, env=env,
                   timeout=1200)
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("postgresql 已安装，却找不到 initdb")
    return bindir


def as_postgres(args: list[str]) -> list[str]:
    """Run as the unprivileged `postgres` user when we are root (postgres refuses to run as root)."""
    return ["runuser", "-u", "postgres", "--"] + args if os.geteuid() == 0 else args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """A throwaway PostgreSQL server; `url(name)` is a database's libpq URL (user postgres, no password)."""

    def __init__(self) -> None:
        self.bindir = ensure_postgres()
        self.base = Path(tempfile.mkdtemp(prefix="pg-test-", dir="/tmp"))
        self.datadir = self.base / "data"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._names = itertools.count(1)

    def start(self, timeout: float = 60.0) -> PgServer:
        os.chmod(self.base, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        subprocess.run(as_postgres([str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres",
                                    "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]),
                       check=True, capture_output=True, timeout=300)
        self._log = open(self.base / "postgres.log", "ab")
        # enough connections for several processes with their pools; durability settings are the defaults
        self.proc = subprocess.Popen(as_postgres([str(self.bindir / "postgres"), "-D", str(self.datadir),
                                                  "-k", str(self.base), "-h", "127.0.0.1", "-p", str(self.port),
                                                  "-c", "max_connections=200"]),
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + timeout
        while subprocess.run([str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                             check=False, capture_output=True).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError(f"PostgreSQL 未能启动（日志：{self.base / 'postgres.log'}）")
            time.sleep(0.2)
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """A new database (from `template` when given: a file copy, fast); returns its URL."""
        name = name or f"t{os.getpid()}_{next(self._names)}"
        self.sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self, grace: float = 30.0) -> None:
        """A fast shutdown by the server's own pid; its process group is killed if it still runs after `grace`."""
        if self.proc is not None:
            try:
                pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGINT)
            except (OSError, ValueError, IndexError):
                pass
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.base, ignore_errors=True)
