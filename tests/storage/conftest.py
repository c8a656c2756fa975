"""Fixtures of the storage tests: the contract tests run on both backends.

`place` is parametrized: a TinyDB data directory, and a fresh PostgreSQL database (a copy of the session's
template, `pg_url` in tests/conftest.py) with a local data directory; `store` is a store opened on it.
Tests that are about the TinyDB files themselves (journal, checkpoints, partition files, byte-level
tampering) take `tmp_path` and `Store` directly and are marked `tinydb_files`.
"""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from storage_places import PG, TINYDB, Place

BACKENDS = [TINYDB, pytest.param(PG, marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def place(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == PG else None
    return Place(request.param, tmp_path / "data", url)


@pytest.fixture
def store(place):
    s = place.open()
    yield s
    s.close()


@pytest.fixture(scope="session")
def fresh_places(request):
    """For tests that need many places in one test function (property tests): `with fresh_places(kind) as place`.
    PostgreSQL: one database of the session, emptied (TRUNCATE) for each place: faster than a new one."""
    database: list[str] = []

    @contextmanager
    def fresh(kind: str):
        folder = Path(tempfile.mkdtemp(prefix="store-"))
        try:
            if kind == PG:
                if not database:
                    server = request.getfixturevalue("pg_server")
                    database.append(server.create_database(template=request.getfixturevalue("pg_template")))
                place = Place(PG, folder / "data", database[0])
                place.sql("TRUNCATE cases, events, tasks, sequences, records, people, seal_slots, files, meta "
                          "RESTART IDENTITY")
                yield place
            else:
                yield Place(TINYDB, folder / "data")
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return fresh
