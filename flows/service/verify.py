"""`python -m flows verify`: is every case what its history makes it?

`storage` checks what it can without knowing what a case means (hash chains, seals, the journal
against the high-water mark: `Store.verify`). This module adds what needs the engine and the
service's conventions:

* replay: each case's events run again through `engine.replay` on the definition snapshot the case
  runs on, and the result is compared with the stored case, field by field: every field the engine
  derives from the events (status, current states, data, countersigns, deadlines, documents, links,
  title, unit, times...) and the open case's tasks (who holds it). Not derived from events, so not
  compared: `effects` (the outbox's bookkeeping: attempts, numbers, errors, changed by commits that add
  no event), `history_head`/`history_len` (the store's, checked against the chain) and `version`
  (effect bookkeeping commits raise it without an event: it must be at least the version the last
  event was committed with). Fields the engine never writes are reported.
* definition snapshots (table `definitions`) against the hash stored with them, recomputed as the
  service computes it when it publishes a version (sha256 of the sorted JSON).
* case numbers against the counters: `CODE-YEAR-NNNNN` is the counter `case:CODE:YEAR`'s number
  NNNNN; a number below the counter without a case is a deleted case (or a start cut short between
  taking the number and committing), a number above it a counter set back.

`verify(service)` gives every problem as a Chinese sentence naming the case, the field (by its label)
and the stored against the replayed value; [] when all is well.
"""
from __future__ import annotations

import hashlib
import json
import re

from flows.core import engine
from flows.core.errors import FlowError
from flows.core.spec import Workflow
from storage import StorageError, Store

#: fields of a stored case that are not derived from its events (see the module's docstring)
BOOKKEEPING = frozenset({"effects", "history_head", "history_len", "version"})

#: labels of the engine's case fields, in the order a first difference is looked for
FIELD_LABELS = {
    "status": "状态", "active": "当前环节", "data": "表单数据", "countersigns": "会签", "deadlines": "期限",
    "documents": "文书", "links": "关联案件", "title": "标题", "unit": "承办单位", "workflow": "流程",
    "workflow_version": "流程版本", "entered": "进入各环节的时间", "created_by": "发起人",
    "created_at": "发起时间", "updated_at": "最近办理时间", "closed_at": "办结时间", "id": "编号",
}

CASE_ID = re.compile(r"^([A-Z]{2,6})-(\d{4})-(\d{5,})$")
COUNTER = re.compile(r"^case:([A-Z]{2,6}):(\d{4})$")
MAX_LISTED = 20  # missing case numbers named one by one per counter; more are counted


def definition_digest(definition: dict) -> str:
    """The hash the service stores with a definition snapshot (`catalogue.definition_hash`)."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def verify(svc) -> list[str]:
    """Every problem of the service's data directory: the store's checks, then the ones above."""
    problems = list(svc.store.verify())
    definitions, found = definition_problems(svc.store)
    problems += found
    problems += numbering_problems(svc.store)
    problems += replay_problems(svc.store, svc._form_context(), definitions)
    return problems


def _show(value, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


# ---------------------------------------------------------------- definitions

def definition_problems(store: Store) -> tuple[dict[str, Workflow], list[str]]:
    """The definition snapshots that are intact (as models, by `name@version`) and what is wrong."""
    good: dict[str, Workflow] = {}
    problems = []
    for doc in store.all("definitions"):
        key = doc.get("_key")
        definition = doc.get("definition")
        title = definition.get("title") if isinstance(definition, dict) else None
        what = f"流程定义快照 {key}" + (f"（{title}）" if title else "")
        if not isinstance(definition, dict) or definition_digest(definition) != doc.get("hash"):
            problems.append(f"{what}：内容与保存的哈希不符，定义在发布后被改动")
            continue
        if key != f"{definition.get('name')}@{definition.get('version')}" or \
                (doc.get("name"), doc.get("version")) != (definition.get("name"), definition.get("version")):
            problems.append(f"{what}：名称或版本与快照内容（{definition.get('name')}@{definition.get('version')}）不符")
            continue
        try:
            good[key] = Workflow.model_validate(definition)
        except ValueError as exc:
            problems.append(f"{what}：不是有效的流程定义（{str(exc).splitlines()[0]}）")
    return good, problems


# ---------------------------------------------------------------- case numbers

def numbering_problems(store: Store) -> list[str]:
    counters: dict[tuple[str, str], int] = {}
    for name, value in store.sequences().items():
        m = COUNTER.match(name)
        if m:
            counters[(m.group(1), m.group(2))] = int(value)
    numbers: dict[tuple[str, str], set[int]] = {}
    for case in store.cases():
        m = CASE_ID.match(str(case.get("id")))
        if m:
            numbers.setdefault((m.group(1), m.group(2)), set()).add(int(m.group(3)))
    problems = []
    for (code, year), present in sorted(numbers.items()):
        top = counters.get((code, year), 0)
        for n in sorted(x for x in present if x > top):
            problems.append(f"案件 {code}-{year}-{n:05d} 的编号大于计数器 case:{code}:{year} 的值 {top}"
                            f"（计数器被改小，或案件不是本程序发起的）")
    for (code, year), top in sorted(counters.items()):
        present = numbers.get((code, year), set())
        missing = [n for n in range(1, top + 1) if n not in present]
        for n in missing[:MAX_LISTED]:
            problems.append(f"案件编号 {code}-{year}-{n:05d} 缺失：计数器 case:{code}:{year} 已发到 {top}，却没有这个案件"
                            f"（案件连同其历史被删除，或发起时程序在取号与保存之间中断）")
        if len(missing) > MAX_LISTED:
            problems.append(f"计数器 case:{code}:{year} 之下另有 {len(missing) - MAX_LISTED} 个案件编号缺失")
    return problems


# ---------------------------------------------------------------- replay

def replay_problems(store: Store, ctx: engine.Context, definitions: dict[str, Workflow]) -> list[str]:
    problems = []
    for case in store.cases():
        found = case_problem(store, ctx, definitions, case)
        if found:
            problems.append(found)
    return problems


def case_problem(store: Store, ctx: engine.Context, definitions: dict[str, Workflow], case: dict) -> str | None:
    """The first difference between a stored case and its replayed history, as a sentence; None: none."""
    cid = case.get("id")
    key = f"{case.get('workflow')}@{case.get('workflow_version')}"
    defn = definitions.get(key)
    if defn is None:
        return f"案件 {cid}：所用的流程定义快照 {key} 不存在或已损坏，无法按历史重放"
    try:
        events = store.history(cid)
    except StorageError:
        return None  # the store's own check names what is wrong with the history
    try:
        replayed = engine.replay(defn, ctx, cid, events)
    except FlowError as exc:
        return f"案件 {cid}：按历史重放时被引擎拒绝（{exc.message}）：历史被改动，或组织机构、日历在办理后有变"
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return f"案件 {cid}：按历史重放失败（{type(exc).__name__}: {exc}）：历史记录被改动"
    for field in [*FIELD_LABELS, *sorted(set(replayed) - set(FIELD_LABELS) - BOOKKEEPING)]:
        if field in BOOKKEEPING or field not in replayed:
            continue
        stored, expected = case.get(field), replayed[field]
        if stored != expected:
            return _difference(cid, defn, field, stored, expected)
    extra = sorted(set(case) - set(replayed) - BOOKKEEPING)
    if extra:
        return f"案件 {cid}：案件记录有历史中没有的字段 {'、'.join(extra)}（{_show({k: case[k] for k in extra})}）"
    least = max((e["case_version"] for e in events if isinstance(e.get("case_version"), int)), default=0)
    if not isinstance(case.get("version"), int) or case["version"] < least:
        return f"案件 {cid} 的版本号：记录为 {case.get('version')}，按历史至少应为 {least}"
    stored_tasks = _task_rows(store.tasks_of(cid)) if case.get("status") == "open" else []
    expected_tasks = _task_rows(engine.tasks(defn, replayed))
    if stored_tasks != expected_tasks:
        return (f"案件 {cid} 的待办（经办人）：记录为 {_holders(stored_tasks)}，"
                f"按历史重放应为 {_holders(expected_tasks)}")
    return None


def _difference(cid: str, defn: Workflow, field: str, stored, expected) -> str:
    label = FIELD_LABELS.get(field, field)
    if field == "data" and isinstance(stored, dict) and isinstance(expected, dict):
        labels = {name: f.label for name, f in defn.all_fields().items()}
        labels.update({c.name: c.label for c in defn.computed})
        for name in [*expected, *(k for k in stored if k not in expected)]:
            if stored.get(name, _ABSENT) != expected.get(name, _ABSENT):
                what = f"表单数据「{labels[name]}」（{name}）" if name in labels else f"表单数据 {name}"
                return (f"案件 {cid} 的{what}：记录为 {_value(stored, name)}，"
                        f"按历史重放应为 {_value(expected, name)}")
    if field == "active":
        def states(value):
            if not isinstance(value, list):
                return _show(value)
            return "、".join(f"「{defn.state(s).label}」" if isinstance(s, str) and defn.state(s) else _show(s)
                            for s in value) or "（无）"
        return f"案件 {cid} 的{label}：记录为{states(stored)}，按历史重放应为{states(expected)}"
    return f"案件 {cid} 的{label}（{field}）：记录为 {_show(stored)}，按历史重放应为 {_show(expected)}"


_ABSENT = object()


def _value(data: dict, name: str) -> str:
    return "（无）" if name not in data else _show(data[name])


def _task_rows(rows: list[dict]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, ensure_ascii=False, default=str) for r in rows)


def _holders(rows: list[str]) -> str:
    out = []
    for text in rows:
        r = json.loads(text)
        who = r.get("user") or "@".join(x for x in (r.get("role"), r.get("unit")) if x) or "？"
        out.append(f"{r.get('state_label') or r.get('state')}：{who}")
    return "；".join(out) or "（无）"
