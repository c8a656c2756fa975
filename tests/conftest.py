"""Shared fixtures: a service on a fresh data directory with a clock the test moves."""
from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    """Every test, and every process a test starts (they inherit the environment), seals with a key of
    the run's own, never the user's ~/.config/county-safety/seal.key (and keeps its own cache, not ~/.cache/county-safety). Set before any fixture runs, so a
    stack started by a module-scoped fixture and the test process share it."""
    import tempfile

    if "WORKFLOW_SEAL_KEY_FILE" not in os.environ:
        os.environ["WORKFLOW_SEAL_KEY_FILE"] = str(Path(tempfile.mkdtemp(prefix="seal-key-")) / "seal.key")
    if "WORKFLOW_CACHE_DIR" not in os.environ:  # the templates' checks (flows.service.template_checks)
        os.environ["WORKFLOW_CACHE_DIR"] = tempfile.mkdtemp(prefix="workflow-cache-")
    # the embedded default unless a test asks for PostgreSQL (the `pg_url` fixture): never a database of the user's
    os.environ.pop("WORKFLOW_DATABASE_URL", None)


class Clock:
    """Injectable time: tests move it forward instead of sleeping."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> datetime:
        self.now += timedelta(**kw)
        return self.now


@pytest.fixture(scope="session")
def config():
    from flows.service.config import load_config

    return load_config(ROOT / "configs")


@pytest.fixture
def clock():
    return Clock(datetime(2025, 3, 3, 9, 0))  # a Monday


@pytest.fixture
def service(tmp_path, config, clock):
    from flows.service import open_service

    svc = open_service(tmp_path / "data", config=config, clock=clock)
    yield svc
    svc.close()


def _templates_complete(folder: Path) -> bool:
    from flows.documents.templates_build import TEMPLATES

    return all((folder / f"{name}.docx").exists() for name in TEMPLATES)


@pytest.fixture(scope="session")
def configs_root(tmp_path_factory):
    src = ROOT / "configs"
    if _templates_complete(src / "templates"):
        root = src
    else:
        from flows.documents.templates_build import build_all

        root = tmp_path_factory.mktemp("configs") / "configs"
        shutil.copytree(src, root)
        build_all(root / "templates")
    old = os.environ.get("WORKFLOW_CONFIGS_DIR")
    os.environ["WORKFLOW_CONFIGS_DIR"] = str(root)  # subprocesses (the stack, workers) read it
    yield root
    if old is None:
        os.environ.pop("WORKFLOW_CONFIGS_DIR", None)
    else:
        os.environ["WORKFLOW_CONFIGS_DIR"] = old


@pytest.fixture(scope="session")
def orch_config(configs_root):
    from flows.service.config import load_config

    return load_config(configs_root)


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL server for the session (tests/pg_server.py), started on first use, stopped at the end."""
    from pg_server import PgServer

    try:
        server = PgServer().start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server) -> str:
    """A database with the store's schema migrated (no key, no data): each test's database is a copy of it."""
    import psycopg

    from storage.pg_schema import migrate

    pg_server.create_database("store_template")
    with psycopg.connect(pg_server.url("store_template"), autocommit=True) as conn:
        migrate(conn)
    return "store_template"


@pytest.fixture
def pg_url(pg_server, pg_template):
    """A fresh database of the PostgreSQL store for one test (a copy of the template), dropped after it."""
    url = pg_server.create_database(template=pg_template)
    yield url
    pg_server.drop_database(url.rsplit("/", 1)[1])
