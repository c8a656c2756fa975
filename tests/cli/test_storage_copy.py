"""`python -m flows storage copy --to URL`: a data directory into PostgreSQL with every chain intact, `verify`
agreeing on both sides; and the service itself on PostgreSQL, from two hosts with directories of their own."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage import Store
from storage.pg_store import PgStore

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
REPORT = {"occurred_at": "2025-03-01T08:30", "place": "X354线", "accident_type": "道路运输", "deaths": 0,
          "serious_injuries": 1, "direct_loss": 12, "description": "追尾"}


def cli(*args, url=None):
    env = {k: v for k, v in os.environ.items() if k not in ("WORKFLOW_DATA_DIR", "WORKFLOW_DATABASE_URL")}
    if url is not None:
        env["WORKFLOW_DATABASE_URL"] = url
    out = subprocess.run([sys.executable, "-m", "flows", *args], cwd=ROOT, check=False, capture_output=True, text=True,
                         env=env, timeout=300)
    assert "Traceback" not in out.stderr, out.stderr
    return out


def test_copy_keeps_every_chain_and_verify_agrees_on_both_sides(pg_url, tmp_path):
    data, host = tmp_path / "data", tmp_path / "host"
    assert cli("demo", "--data-dir", str(data)).returncode == 0
    copied = cli("storage", "copy", "--to", pg_url, "--data-dir", str(data))
    assert copied.returncode == 0, copied.stderr
    assert "哈希链原样保留" in copied.stdout and "两边一致" in copied.stdout

    # verify on both sides: the files without the setting, the database with it (from another host's directory)
    files_side = cli("verify", "--data-dir", str(data))
    db_side = cli("verify", "--data-dir", str(host), url=pg_url)
    assert files_side.returncode == 0 and db_side.returncode == 0, (files_side.stderr, db_side.stderr)
    assert "数据完整" in files_side.stdout and "数据完整（数据库 " in db_side.stdout

    with Store(data) as source, PgStore(pg_url, host) as target:
        cases = sorted(source.cases(), key=lambda c: c["id"])
        assert cases == sorted(target.cases(), key=lambda c: c["id"]) and len(cases) > 40
        for case in cases:
            assert source.history(case["id"]) == target.history(case["id"])  # every event, every hash
            assert source.tasks_of(case["id"]) == target.tasks_of(case["id"])
        assert source.sequences() == target.sequences()
        assert source.tables() == target.tables()
        for table in source.tables():
            assert sorted(source.all(table), key=lambda d: d["_key"]) == target.all(table)
        documents = sorted((data / "files").rglob("*.docx"))
        assert documents
        for path in documents:  # the documents reach a host that never had them
            rel = path.relative_to(data / "files").as_posix()
            assert target.file_path(rel).read_bytes() == path.read_bytes()
        assert target.file_path(rel).is_relative_to(host)

    listed = [json.loads(cli("list", "--data-dir", str(d), url=u).stdout) for d, u in ((data, None), (host, pg_url))]
    assert listed[0] == listed[1]

    again = cli("storage", "copy", "--to", pg_url, "--data-dir", str(data))
    assert again.returncode == 3 and "不是空的" in again.stderr and "未写入任何内容" in again.stderr


def test_copy_refuses_a_damaged_data_directory_and_writes_nothing(pg_url, tmp_path):
    data = tmp_path / "data"
    with Store(data) as s:
        s.commit({"id": "SG-2024-00001", "status": "open", "data": {"n": 1}}, [{"type": "start"}], [], 0)
    shard = data / "open" / "SG-2024" / "0000.json"
    tables = json.loads(shard.read_bytes())
    next(iter(tables["cases"].values()))["data"]["n"] = 2  # edited outside the program
    shard.write_text(json.dumps(tables, ensure_ascii=False))
    refused = cli("storage", "copy", "--to", pg_url, "--data-dir", str(data))
    assert refused.returncode == 3 and "校验未通过，不能复制" in refused.stderr and "封印不符" in refused.stderr
    with PgStore(pg_url, tmp_path / "host") as target:
        assert list(target.cases()) == []


def test_copy_refuses_what_is_not_a_postgresql_url_or_a_data_directory(tmp_path, pg_url):
    bad = cli("storage", "copy", "--to", "sqlite:///x.db", "--data-dir", str(tmp_path))
    assert bad.returncode == 3 and "须以 postgresql:// 开头" in bad.stderr
    empty = cli("storage", "copy", "--to", pg_url, "--data-dir", str(tmp_path / "nothing"))
    assert empty.returncode == 3 and "缺少 meta.json" in empty.stderr and not (tmp_path / "nothing").exists()


def test_the_service_on_postgresql_from_two_hosts(pg_url, tmp_path, config, clock):
    """A case started through one host's service is acted on through another's (nothing shared but the
    database), a stale page on the first is refused, and the service's verify (replay included) is clean."""
    from flows.core.errors import StaleVersion
    from flows.service import open_service
    from flows.service.verify import verify

    a = open_service(tmp_path / "a", config=config, clock=clock, store=PgStore(pg_url, tmp_path / "a"))
    b = open_service(tmp_path / "b", config=config, clock=clock, store=PgStore(pg_url, tmp_path / "b"))
    try:
        case = a.start("accident", "awb_zhang", dict(REPORT))
        filing = {"supervised": False, "team": [{"name": "王芳", "unit": "局安委办"}],
                  "enterprise_investigator": "ygk_liu", "supervision_investigator": "gh_sun",
                  "territorial_investigator": "zf_feng"}
        acted = b.act(case["id"], "file_case", "awb_zhang", filing, comment="立案")
        assert sorted(acted["active"]) == ["enterprise_inv", "supervision_inv", "territorial_inv"]
        with pytest.raises(StaleVersion):
            a.act(case["id"], "file_case", "awb_zhang", filing, expected_version=case["version"])
        assert [e["type"] for e in a.history(case["id"])] == ["started", "transition"]
        assert verify(a) == [] and verify(b) == []
    finally:
        a.close()
        b.close()
