"""The hash chain of a case's history: canonical JSON, the hash of an event, linking new events onto
a case's chain and checking a whole chain.

Every event carries `case_id`, `seq` (1, 2, ...), `prev_hash` (the hash of the event before it, ""
for the first), `case_version` (the case version its commit made; events written before it was kept
have none) and `hash` = sha256 of its canonical JSON without `hash`; the case document keeps
`history_head` (the last hash) and `history_len`, and its seal (`storage._seal`) covers both. What is hashed and how is fixed by stored data:
a change here makes every existing history fail `verify()`.
"""
from __future__ import annotations

import hashlib
import json


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def event_hash(event: dict) -> str:
    """sha256 of the canonical JSON of the event without its `hash`."""
    if "hash" in event:
        event = dict(event)
        del event["hash"]
    return hashlib.sha256(canonical(event)).hexdigest()


def link(case_id: str, events: list[dict], head: str, n: int, version: int | None = None) -> tuple[str, int]:
    """Chain `events` (changed in place) onto a case whose chain ends at `head` after `n` events,
    committed as case version `version`; returns the new head and length, which the case records."""
    for ev in events:
        ev.pop("hash", None)  # a caller's hash is never trusted: the store computes it
        n += 1
        ev["case_id"], ev["seq"], ev["prev_hash"] = case_id, n, head
        if version is not None:
            ev["case_version"] = version
        head = ev["hash"] = event_hash(ev)
    return head, n


def verify_chain(cid: str, case: dict, events: list[dict]) -> list[str]:
    """What is wrong with the chain of case `cid` (its document and all its events, in any order)."""
    problems = []
    events = sorted(events, key=lambda e: (not isinstance(e.get("seq"), int), e.get("seq") or 0))
    prev = ""
    for i, ev in enumerate(events, 1):
        seq = ev.get("seq")
        label = f"案件 {cid} 第 {seq if seq is not None else i} 条事件"
        if seq != i:
            problems.append(f"{label}：序号应为 {i}（事件缺失、重复或序号被改动）")
        if ev.get("prev_hash") != prev:
            problems.append(f"{label}：prev_hash 与前一条事件的哈希不符（链条断开）")
        if event_hash(ev) != ev.get("hash"):
            problems.append(f"{label}：哈希不符，事件内容已被改动")
        prev = ev.get("hash")
    expected_len = case.get("history_len")
    if expected_len != len(events):
        problems.append(f"案件 {cid}：案件记录有 {expected_len} 条历史，实际找到 {len(events)} 条（历史被截断或被添加）")
    if (case.get("history_head") or "") != (prev or ""):
        problems.append(f"案件 {cid}：案件记录的 history_head 与最后一条事件的哈希不符")
    return problems
