"""`python -m flows verify` (flows.service.verify): the demo's cases replay to what is stored, and an edit of
what a case is (its data, state, holders, version, or the definition it runs on), a deleted case and a
resealed forgery are each named in Chinese with the case, the field's label and both values."""
from __future__ import annotations

import json
import shutil

import pytest

from flows.cli import main
from flows.service import open_service
from flows.service.catalogue import definition_hash as _definition_hash
from flows.service.verify import definition_digest, verify
from storage._mark import Mark
from storage._seal import Sealer, xor


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    return tmp_path_factory.mktemp("seal") / "seal.key"


@pytest.fixture(autouse=True)
def _seal_key(key_file, monkeypatch):
    monkeypatch.setenv("WORKFLOW_SEAL_KEY_FILE", str(key_file))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, key_file):
    """The demo data of every shipped workflow, made once (copied for each test)."""
    from flows.demo import fill

    folder = tmp_path_factory.mktemp("demo") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKFLOW_SEAL_KEY_FILE", str(key_file))
        fill(str(folder))
    return folder


@pytest.fixture
def data(pristine, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(pristine, folder)
    return folder


def problems_of(folder) -> list[str]:
    svc = open_service(folder, inline_effects=False)
    try:
        return verify(svc)
    finally:
        svc.close()


def load(path) -> dict:
    return json.loads(path.read_bytes())


def save(path, tables: dict) -> None:
    path.write_bytes(json.dumps(tables, ensure_ascii=False, separators=(",", ":")).encode())


def cases_of(tables: dict) -> list[dict]:
    return list(tables.get("cases", {}).values())


def open_case(data, pick=lambda c: True) -> tuple:
    """(its file, the file's tables, the case) of the first open case `pick` takes (open/<partition>/<shard>.json)."""
    for path in sorted((data / "open").rglob("*.json")):
        tables = load(path)
        for c in cases_of(tables):
            if pick(c):
                return path, tables, c
    raise LookupError("no such open case")


def open_accident(data) -> tuple:
    return open_case(data, lambda c: c["workflow"] == "accident" and c["active"] == ["reported"])


def test_every_demo_case_replays_to_what_is_stored(data):
    assert problems_of(data) == []


def test_the_definition_digest_is_the_one_the_service_stores(config):
    for wf in config.workflows.values():
        assert definition_digest(json.loads(json.dumps(wf.model_dump(mode="json", by_alias=True)))) == \
            _definition_hash(wf)


def test_edited_case_data_is_named_by_its_label(data):
    path, tables, case = open_accident(data)
    stored = case["data"]["deaths"]
    case["data"]["deaths"] = stored + 3
    save(path, tables)
    problems = problems_of(data)
    assert f"案件 {case['id']} 的表单数据「死亡人数」（deaths）：记录为 {stored + 3}，按历史重放应为 {stored}" in problems, \
        problems
    assert any(case["id"] in p and "封印不符" in p for p in problems), problems


def test_edited_case_state_is_named_with_the_states_labels(data):
    path, tables, case = open_accident(data)
    case["active"] = ["closing"]
    save(path, tables)
    problems = problems_of(data)
    assert f"案件 {case['id']} 的当前环节：记录为「结案审核」，按历史重放应为「事故报告」" in problems, problems


def test_edited_archived_case_is_caught_by_replay(data):
    closed = next(c for c in (load(p) for p in (data / "archive").rglob("*.json"))
                  if any(d["workflow"] == "accident" for d in cases_of(c)))
    [shard] = [p for p in (data / "archive").rglob("*.json") if load(p) == closed]
    case = next(d for d in cases_of(closed) if d["workflow"] == "accident")
    case["data"]["direct_loss"] = 0.5
    save(shard, closed)
    problems = problems_of(data)
    assert any(p.startswith(f"案件 {case['id']} 的表单数据「直接经济损失」（direct_loss）：记录为 0.5，按历史重放应为")
               for p in problems), problems
    assert any(case["id"] in p and "封印不符" in p and "归档" in p for p in problems), problems


def test_a_deleted_case_leaves_a_hole_below_its_counter(data):
    path, tables, case = open_accident(data)
    tables["cases"] = {k: c for k, c in tables["cases"].items() if c["id"] != case["id"]}
    save(path, tables)
    hot = load(data / "hot.json")
    hot["tasks"] = {k: t for k, t in hot["tasks"].items() if t["case_id"] != case["id"]}
    hot["_due"] = {k: d for k, d in hot["_due"].items() if d["_key"] != case["id"]}
    save(data / "hot.json", hot)
    for segment in (data / "history").rglob("*.json"):
        history = load(segment)
        history["events"] = {k: e for k, e in history.get("events", {}).items() if e["case_id"] != case["id"]}
        save(segment, history)
    code, year, _ = case["id"].split("-")
    problems = problems_of(data)
    assert any(p.startswith(f"案件编号 {case['id']} 缺失：计数器 case:{code}:{year} 已发到") for p in problems), problems
    assert any("整体封印不符" in p for p in problems), problems


def test_an_edited_definition_snapshot_is_caught_by_its_hash(data):
    tables = load(data / "hot.json")
    snapshot = next(d for d in tables["definitions"].values() if d["name"] == "accident")
    snapshot["definition"]["states"][0]["label"] = "已核销"
    save(data / "hot.json", tables)
    problems = problems_of(data)
    assert f"流程定义快照 {snapshot['_key']}（{snapshot['definition']['title']}）：内容与保存的哈希不符，定义在发布后被改动" \
        in problems, problems
    assert f"表 definitions 的记录 {snapshot['_key']}：封印不符，在本程序之外被改动" in problems, problems
    # the cases on it are not replayed on a definition that cannot be trusted
    assert any("所用的流程定义快照 accident@" in p for p in problems), problems


def test_edited_task_holders_are_caught_by_replay(data):
    """Tasks are derived from the case, not sealed one by one: replay is what sees them."""
    case = open_accident(data)[2]
    tables = load(data / "hot.json")
    task = next(t for t in tables["tasks"].values() if t["case_id"] == case["id"])
    task["role"], task["user"] = None, "zf_feng"
    save(data / "hot.json", tables)
    [problem] = problems_of(data)
    assert problem.startswith(f"案件 {case['id']} 的待办（经办人）：记录为") and "zf_feng" in problem, problem


def test_a_version_set_back_is_caught(data):
    top = max(c["version"] for p in (data / "open").rglob("*.json") for c in cases_of(load(p)))
    path, tables, case = open_case(data, lambda c: c["version"] == top)
    case["version"] = 1
    save(path, tables)
    problems = problems_of(data)
    assert any(p.startswith(f"案件 {case['id']} 的版本号：记录为 1，按历史至少应为") for p in problems), problems


def test_a_forgery_resealed_with_the_key_is_still_caught_by_replay(data, key_file):
    """Someone with the key can seal anything; what a case is must still follow from its events."""
    sealer = Sealer(key_file.read_bytes())
    path, shard, case = open_accident(data)
    old, original = sealer.case(case), case["data"]["place"]
    case["data"]["place"] = "别处"
    case["_seal"] = sealer.case(case)
    save(path, shard)
    tables = load(data / "hot.json")
    meta = tables["_meta"]["1"]
    lsn, digest, _ = meta["state"]
    digest = xor(xor(digest, old), case["_seal"])
    meta["state"] = [lsn, digest, sealer.state(lsn, digest)]
    save(data / "hot.json", tables)
    mark = Mark(data / "wal.mark", sealer)
    mark.write(lsn, digest)
    mark.close()
    assert problems_of(data) == [f"案件 {case['id']} 的表单数据「事故地点」（place）：记录为 \"别处\"，"
                                 f"按历史重放应为 \"{original}\""]


def test_the_command_line_says_what_is_wrong(data, capsys):
    assert main(["verify", "--data-dir", str(data)]) == 0
    assert "校验通过" in capsys.readouterr().out
    wal = data / "wal.jsonl"
    svc = open_service(data, inline_effects=False)
    case = next(c for c in svc.store.open_cases() if c["workflow"] == "accident")
    svc.comment(case["id"], "awb_zhang", "补充说明")  # acknowledged, in the journal only
    svc.store._close_files()  # then the machine stops: no checkpoint
    wal.write_bytes(wal.read_bytes().split(b"\n")[0] + b"\n")  # and the journal is cut back to its header
    assert main(["verify", "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert "预写日志缺少已确认的记录" in err and "共 1 处问题" in err, err
