"""What only the PostgreSQL store has: its schema versions and migrations, the one setting that chooses it,
files shared by hosts through the database, the changes feed across transactions that overlap, conflicts
between stores racing to create one case, and what `verify` checks of the rows the queries read."""
from __future__ import annotations

import threading

import psycopg
import pytest
from storage_helpers import case_doc, event, task
from storage_places import PG, Place

from storage import ConflictError, StorageError, Store, open_store
from storage.pg_schema import MIGRATIONS, PG_SCHEMA_VERSION, migrate
from storage.pg_store import PgStore

pytestmark = pytest.mark.postgres


@pytest.fixture
def empty_db(pg_server):
    """A database the store never opened (no schema at all)."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def pg(pg_url, tmp_path):
    return Place(PG, tmp_path / "data", pg_url)


def versions(url) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM safety.schema_version ORDER BY version")]


def indexes(url) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'safety'")}


# ---------------------------------------------------------------- schema versions

def test_a_new_database_gets_every_version(empty_db, tmp_path):
    with PgStore(empty_db, tmp_path) as s:
        s.next_sequence("x")
    assert versions(empty_db) == list(range(1, PG_SCHEMA_VERSION + 1))
    assert {"tasks_holder", "tasks_due", "cases_status", "cases_workflow", "cases_changed"} <= indexes(empty_db)


def test_a_version_1_database_is_migrated_on_open_and_keeps_its_data(empty_db, tmp_path):
    with psycopg.connect(empty_db, autocommit=True) as conn:
        migrate(conn, upto=1)
    assert versions(empty_db) == [1] and "tasks_holder" not in indexes(empty_db)
    # a store of version 1 wrote a case (the tables are the same; only the indexes come with version 2)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("SET search_path TO safety")
        conn.execute("INSERT INTO cases (id, workflow, status, version, doc, seal) VALUES "
                     "('SG-2024-00001', 'sg', 'open', 1, '{\"id\": \"SG-2024-00001\", \"version\": 1}', '')")
    with PgStore(empty_db, tmp_path) as s:
        assert s.get_case("SG-2024-00001")["version"] == 1
        assert [c["id"] for c in s.open_cases()] == ["SG-2024-00001"]
    assert versions(empty_db) == list(range(1, PG_SCHEMA_VERSION + 1)) and "tasks_holder" in indexes(empty_db)


def test_a_version_2_database_gets_each_open_cases_next_deadline(empty_db, tmp_path):
    with psycopg.connect(empty_db, autocommit=True) as conn:
        migrate(conn, upto=2)
        conn.execute("SET search_path TO safety")
        rows = [("SG-2024-00001", "open", [{"status": "pending", "due": "2024-06-01T23:59:59"},
                                           {"status": "pending", "due": "2024-05-01T23:59:59"},
                                           {"status": "fired", "due": "2024-01-01T00:00:00"}]),
                ("SG-2024-00002", "open", [{"status": "pending", "due": None}, "junk", {"status": "pending", "due": ""}]),
                ("SG-2024-00003", "closed", [{"status": "pending", "due": "2024-01-01T00:00:00"}]),
                ("SG-2024-00004", "open", {"not": "a list"})]
        for cid, status, deadlines in rows:
            conn.execute("INSERT INTO cases (id, workflow, status, version, doc, seal) VALUES (%s, 'sg', %s, 1, %s, '')",
                         (cid, status, psycopg.types.json.Json({"id": cid, "status": status, "version": 1,
                                                                 "deadlines": deadlines})))
    with PgStore(empty_db, tmp_path) as s:
        assert s.cases_due("2030-01-01T00:00:00") == ["SG-2024-00001"]
        assert s.cases_due("2024-05-01T23:59:58") == []
    with psycopg.connect(empty_db) as conn:
        due = dict(conn.execute("SELECT id, next_due FROM safety.cases").fetchall())
    assert due == {"SG-2024-00001": "2024-05-01T23:59:59", "SG-2024-00002": None, "SG-2024-00003": None,
                   "SG-2024-00004": None}
    assert "cases_next_due" in indexes(empty_db)


def test_every_version_step_has_a_migration():
    assert set(MIGRATIONS) == set(range(1, PG_SCHEMA_VERSION + 1))


def test_a_newer_schema_is_refused(pg):
    pg.open().close()
    pg.sql("INSERT INTO schema_version (version, description) VALUES (%s, 'from the future')", (PG_SCHEMA_VERSION + 1,))
    with pytest.raises(StorageError) as err:
        pg.open()
    assert f"格式版本为 {PG_SCHEMA_VERSION + 1}" in str(err.value) and "升级" in str(err.value)


def test_processes_opening_a_new_database_at_once_migrate_it_once(empty_db, tmp_path):
    stores, errors = [], []

    def open_one(n):
        try:
            stores.append(PgStore(empty_db, tmp_path / f"host{n}"))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(stores) == 4
    assert versions(empty_db) == list(range(1, PG_SCHEMA_VERSION + 1))
    assert len({s._store_id for s in stores}) == 1
    for s in stores:
        s.close()


# ---------------------------------------------------------------- the setting

def test_one_setting_chooses_the_backend(pg_url, tmp_path, monkeypatch):
    monkeypatch.delenv("WORKFLOW_DATABASE_URL", raising=False)
    with open_store(tmp_path / "files") as s:
        assert isinstance(s, Store)
    monkeypatch.setenv("WORKFLOW_DATABASE_URL", pg_url)
    with open_store(tmp_path / "host") as s:
        assert isinstance(s, PgStore) and s.data_dir == tmp_path / "host"
    monkeypatch.setenv("WORKFLOW_DATABASE_URL", "mysql://x@y/z")
    with pytest.raises(StorageError, match="须以 postgresql:// 开头"):
        open_store(tmp_path / "host")


def test_an_unreachable_database_is_said_in_chinese_without_the_password(tmp_path, pg_server):
    url = f"postgresql://postgres:geheim@127.0.0.1:{pg_server.port + 1}/nowhere?connect_timeout=2"
    with pytest.raises(StorageError) as err:
        PgStore(url, tmp_path)
    assert "无法打开数据库" in str(err.value) and "geheim" not in str(err.value) and "***" in str(err.value)


def test_connections_the_server_ended_are_replaced_before_anyone_uses_them(pg_url, tmp_path):
    """A restarted server or an ended session: the pool's connections are dead. The check made when one
    leaves the pool (a look at its socket, no round trip) sees it and the pool gives a new one."""
    import time

    with PgStore(pg_url, tmp_path, pool_size=3) as s:
        s.put("t", "k", {"n": 1})
        with s._pool.connection() as a, s._pool.connection() as b:  # two of them, both in the pool after
            assert a is not b
        with psycopg.connect(pg_url, autocommit=True) as admin:
            me = admin.execute("SELECT pg_backend_pid()").fetchone()[0]
            ended = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                                  "datname = current_database() AND pid <> %s", (me,)).fetchone()[0]
            assert ended >= 2
            deadline = time.monotonic() + 10
            while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> %s", (me,)).fetchone()[0] and time.monotonic() < deadline:
                time.sleep(0.05)
        for _ in range(4):  # every pooled connection in turn, and a write
            assert s.get("t", "k")["n"] == 1
        assert s.put("t", "k", {"n": 2})["n"] == 2
        with s._pool.connection() as a, s._pool.connection() as b:
            assert a.execute("SELECT 1").fetchone() == (1,) and b.execute("SELECT 1").fetchone() == (1,)


# ---------------------------------------------------------------- several hosts

def test_files_are_shared_through_the_database(pg, tmp_path):
    """A document the worker saved on its host is downloadable on an app host with a directory of its own."""
    worker, app = pg.open(tmp_path / "worker"), pg.open(tmp_path / "app")
    try:
        worker.save_file("documents/SG-2024-00001/通知书.docx", b"PK\x03\x04v1")
        path = app.file_path("documents/SG-2024-00001/通知书.docx")
        assert path.is_relative_to(tmp_path / "app" / "files") and path.read_bytes() == b"PK\x03\x04v1"
        worker.save_file("documents/SG-2024-00001/通知书.docx", b"PK\x03\x04v2")  # issued anew
        assert app.file_path("documents/SG-2024-00001/通知书.docx").read_bytes() == b"PK\x03\x04v2"
        scratch = app.file_path("templates/_probe/x.docx")  # a path never saved: only local
        assert not scratch.exists() and not (tmp_path / "worker" / "files" / "templates").exists()
        assert app.verify() == []
    finally:
        worker.close()
        app.close()


def test_two_stores_creating_one_case_at_once_get_one_conflict(pg, tmp_path):
    stores = [pg.open(tmp_path / f"host{n}") for n in range(2)]
    barrier = threading.Barrier(2)
    outcomes = []

    def create(s):
        barrier.wait()
        try:
            s.commit(case_doc("SG-2024-00001"), [event("start")], [task("SG-2024-00001")], 0)
            outcomes.append("ok")
        except ConflictError as exc:
            outcomes.append(str(exc))

    for _ in range(20):
        pg.sql("TRUNCATE cases, events, tasks, people")
        pg.sql("UPDATE seal_slots SET digest = %s, seal = '' ", ("0" * 64,))
        outcomes.clear()
        threads = [threading.Thread(target=create, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(outcomes) == 2 and outcomes.count("ok") == 1, outcomes
        assert "已存在" in [o for o in outcomes if o != "ok"][0]
        assert len(stores[0].history("SG-2024-00001")) == 1
    for s in stores:
        s.close()


def test_changes_catch_a_commit_that_began_before_the_token_and_ended_after(pg):
    with pg.open() as s:
        s.commit(case_doc("SG-2024-00001"), [event("start")], None, 0)
        with psycopg.connect(pg.url) as slow:  # a writer in the middle of its transaction
            slow.execute("UPDATE safety.cases SET changed = pg_current_xact_id() WHERE id = 'SG-2024-00001'")
            token, _ = s.changes()
            slow.commit()
        token, ids = s.changes(token)
        assert ids == ["SG-2024-00001"]
        assert s.changes(token)[1] == []
        assert s.changes(("another database", token[1]))[1] is None


# ---------------------------------------------------------------- a whole 待办 from the task view

CLERK = [("科员", "安监科")]


def whole(s) -> list[tuple[str, str]]:
    return [(t["case_id"], t["state"]) for t in s.inbox(user="wang", roles=CLERK)]


def test_a_whole_inbox_from_the_view_follows_what_other_stores_commit(pg):
    """The view is loaded by the first whole read; what another store (another host) commits after it,
    new cases, tasks moved to someone else, closed cases, shows in the next whole read, in the order
    and with the rows the index query gives."""
    with pg.open() as here, pg.open() as there:
        a = there.commit(case_doc("SG-2024-00001"), [event("start")], [task("SG-2024-00001", due="2024-05-02")], 0)
        assert whole(here) == [("SG-2024-00001", "draft")]
        b = there.commit(case_doc("SG-2024-00002"), [event("start")], [task("SG-2024-00002", due="2024-05-01")], 0)
        assert whole(here) == [("SG-2024-00002", "draft"), ("SG-2024-00001", "draft")]
        there.commit(a, [event("move")], [task("SG-2024-00001", state="s2", due="2024-04-01"),
                                          task("SG-2024-00001", state="s3", role="局长", unit="局领导")], a["version"])
        assert whole(here) == [("SG-2024-00001", "s2"), ("SG-2024-00002", "draft")]
        there.commit({**b, "status": "closed"}, [event("close")], [], b["version"])
        assert whole(here) == [("SG-2024-00001", "s2")]
        assert [t["state"] for t in here.inbox(user="li", roles=[("局长", "局领导")])] == ["s3"]
        for n in (0, 1, 5):
            assert here.inbox(user="wang", roles=CLERK, limit=n) == here.inbox(user="wang", roles=CLERK)[:n]
        with pytest.raises(TypeError, match="read-only"):
            here.inbox(user="wang", roles=CLERK)[0]["state"] = "x"


def test_the_view_catches_a_commit_that_began_before_its_read_and_ended_after(pg):
    with pg.open() as s:
        s.commit(case_doc("SG-2024-00001"), [event("start")], [task("SG-2024-00001")], 0)
        assert whole(s) == [("SG-2024-00001", "draft")]
        with psycopg.connect(pg.url) as slow:  # a writer in the middle of its transaction
            slow.execute("UPDATE safety.cases SET changed = pg_current_xact_id() WHERE id = 'SG-2024-00001'")
            slow.execute("""UPDATE safety.tasks SET doc = '{"case_id": "SG-2024-00001", "state": "s9",
                         "role": "科员", "unit": "安监科", "due": null}' WHERE case_id = 'SG-2024-00001'""")
            assert whole(s) == [("SG-2024-00001", "draft")]  # not committed yet: not seen
            slow.commit()
        assert whole(s) == [("SG-2024-00001", "s9")]


# ---------------------------------------------------------------- what verify checks of the rows

def filled(pg):
    with pg.open() as s:
        c = s.commit(case_doc("SG-2024-00001", created_by="wang"), [event("start")],
                     [task("SG-2024-00001", role="科员", unit="安监科")], 0)
        closed = s.commit(case_doc("SG-2024-00002"), [event("start")], None, 0)
        s.commit({**closed, "status": "closed"}, [event("close")], [], 1)
        s.save_file("documents/SG-2024-00001/a.docx", b"PK\x03\x04data")
        assert s.verify() == []
    return c


def verify(pg) -> list[str]:
    with pg.open() as s:
        return s.verify()


def test_a_task_handed_to_someone_else_in_its_column_is_caught(pg):
    filled(pg)
    pg.sql("""UPDATE tasks SET holder = '["user","mallory"]'""")
    assert verify(pg) == ["案件 SG-2024-00001 的待办：数据库表 tasks 的经办人或期限列与待办记录不符（在本程序之外被改动）"]


def test_a_task_added_to_a_closed_case_is_caught(pg):
    filled(pg)
    pg.sql("""INSERT INTO tasks (case_id, holder, sort_key, doc) SELECT 'SG-2024-00002', holder, sort_key,
              doc FROM tasks""")
    assert any("SG-2024-00002 的待办：案件已办结" in p for p in verify(pg))


def test_a_status_column_out_of_step_with_its_case_is_caught(pg):
    filled(pg)
    pg.sql("UPDATE cases SET status = 'closed' WHERE id = 'SG-2024-00001'")  # hidden from 待办 and the open list
    assert any("SG-2024-00001" in p and "状态或流程列" in p for p in verify(pg))


def test_a_next_deadline_column_out_of_step_with_its_case_is_caught(pg):
    filled(pg)
    pg.sql("UPDATE cases SET next_due = '2024-01-01T00:00:00' WHERE id = 'SG-2024-00001'")  # a sweep would act on it
    assert verify(pg) == ["案件 SG-2024-00001：数据库表 cases 的下一期限列（2024-01-01T00:00:00）与案件记录的期限（无）"
                          "不符（在本程序之外被改动）"]


def test_a_people_row_deleted_or_a_seal_group_removed_is_caught(pg):
    filled(pg)
    pg.sql("DELETE FROM people WHERE person = 'wang'")
    pg.sql("DELETE FROM seal_slots WHERE slot = 3")
    problems = verify(pg)
    assert "人员索引：缺少 wang 发起的案件 SG-2024-00001（在本程序之外被删除）" in problems, problems
    assert "整体封印第 3 组缺失（表 seal_slots 的行被删除）" in problems, problems


def test_a_changed_file_is_caught(pg):
    filled(pg)
    pg.sql("UPDATE files SET content = 'PKxx'::bytea")
    assert verify(pg) == ["文件 documents/SG-2024-00001/a.docx：内容与保存时的哈希不符（在本程序之外被改动或已损坏）"]


def test_commits_acknowledged_before_they_are_durable_are_reported(pg):
    filled(pg)
    database = pg.url.rsplit("/", 1)[1]
    pg.sql(f'ALTER DATABASE "{database}" SET synchronous_commit = off')
    assert any("synchronous_commit = off" in p for p in verify(pg))
