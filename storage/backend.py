"""Which store a process opens: one setting chooses.

`WORKFLOW_DATABASE_URL` (``postgresql://user@host:5432/db``) set: the case data is in that PostgreSQL
database (`storage.pg_store.PgStore`), and the data directory is this host's working directory (the
files' cache, logs, Prefect's home). Not set: the embedded default, TinyDB files in the data directory
(`storage.store.Store`). Every process of one installation (app, serving process, workers, the command
line) must be given the same setting.
"""
from __future__ import annotations

import os
from pathlib import Path

from storage.errors import StorageError

DATABASE_URL_ENV = "WORKFLOW_DATABASE_URL"
SCHEMES = ("postgresql://", "postgres://")


def database_url(url: str | None = None) -> str | None:
    """The PostgreSQL URL given, else the environment's; None: the TinyDB files. A URL of another kind is refused."""
    url = url if url is not None else os.environ.get(DATABASE_URL_ENV) or None
    if url is None:
        return None
    if not url.startswith(SCHEMES):
        raise StorageError(f"数据库地址须以 postgresql:// 开头（如 postgresql://safety@数据库机:5432/safety），"
                           f"而不是「{url.split('://')[0]}://…」（环境变量 {DATABASE_URL_ENV}）")
    return url


def open_store(data_dir: str | Path, url: str | None = None, *, checkpoint_every: int | None = None,
               seal_key: bytes | None = None):
    """The store of this installation: PostgreSQL when `url` (or `WORKFLOW_DATABASE_URL`) names a database,
    else the TinyDB files of `data_dir`. `checkpoint_every` is the TinyDB store's (PostgreSQL has no
    checkpoints of ours)."""
    url = database_url(url)
    if url is not None:
        from storage.pg_store import PgStore  # psycopg only where it is used

        return PgStore(url, data_dir, seal_key=seal_key)
    from storage.store import Store

    options = {} if checkpoint_every is None else {"checkpoint_every": checkpoint_every}
    return Store(data_dir, seal_key=seal_key, **options)
