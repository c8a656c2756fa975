"""Verification: walk every partition (open cases, archive shards, history segments), the journal, the
seals and the high-water mark, and say in words a user can read what is missing, changed or out of place.

What it checks: each case's hash chain (`_chain.verify_chain`); each sealed document's seal and the
sealed state digest over all of them (`_seal`: a consistent forgery, a deleted or restored document);
that the journal reaches every number the partition files and the mark say was acknowledged (`_mark`);
and the notes the store itself made on opening (table `_integrity`: a journal found cut short).
What a case's events mean (replaying them through the engine) is the service's: `flows.service.verify`.
"""
from __future__ import annotations

from storage._chain import verify_chain
from storage._due import earliest_due
from storage._input import INTEGRITY
from storage._parts import DUE, Part, ShardPart
from storage._seal import SEAL, UNSEALED_HOT, ZERO, xor
from storage.errors import StorageError


class VerifyMixin:
    """`Store.verify` (mixed into `Store`: uses its mutex, lock, `_catch_up`, parts, seals and mark)."""

    def verify(self) -> list[str]:
        """Everything `storage` can tell is wrong with the data directory; [] when it is intact."""
        with self._mutex:
            self._check_open()
            problems = self._verify_pass(locked=False)
            if problems:  # confirm with writers held off: a checkpoint meanwhile is no reason to worry
                with self._lock:
                    problems = self._verify_pass(locked=True)
            return problems

    def _verify_pass(self, *, locked: bool) -> list[str]:
        mark = self._mark.read()  # before catching up: the journal must reach at least this far
        self._catch_up(locked=locked)
        problems = list(dict.fromkeys(self._wal_problems))
        sealed = self._key_ok
        if not sealed:
            problems.append(f"封印密钥与数据目录不符：数据目录由另一把密钥封印（当前密钥文件为 "
                            f"{self.seal_key_file or '调用方给出'}），无法校验封印")
        elif self.seal_key_file is not None and _inside(self.seal_key_file, self.dir):
            problems.append(f"封印密钥文件 {self.seal_key_file} 位于数据目录内：能改动数据的人也能重算封印，"
                            f"请把它移到数据目录之外（环境变量 WORKFLOW_SEAL_KEY_FILE）")
        digest = [ZERO]
        highest_file = [("hot.json", self.hot.file_lsn)]
        opened: dict[str, list[ShardPart]] = {}
        open_ids: set[str] = set()
        for part in self._open_parts():
            opened.setdefault(part.path.parent.name, []).append(part)
        shards: dict[str, list[ShardPart]] = {}
        for part in self._archive_parts():
            shards.setdefault(part.path.parent.name, []).append(part)
        partitions = set(opened) | set(shards) | {k[1] for k in self._parts if k[0] in ("history", "open")}
        root = self.dir / "history"
        if root.is_dir():
            partitions |= {p.name for p in root.iterdir() if p.is_dir()}
        for partition in sorted(partitions):
            problems.extend(self._verify_partition(partition, opened.get(partition, []),
                                                   shards.get(partition, []), digest, highest_file, sealed, open_ids))
        for cid in sorted(set(self.hot.case_due) - open_ids):
            problems.append(f"hot.json 表 {DUE} 记有案件 {cid} 的期限，但没有这件在办案件（期限索引在本程序之外被改动）")
        if sealed:
            problems.extend(self._verify_hot_seals(digest))
            problems.extend(self._verify_state(digest[0]))
        problems.extend(_note_text(doc) for doc in self.hot.tables.get(INTEGRITY, {}).values())
        self._catch_up(locked=locked)  # what the files said was written before this: the journal has it
        end = self._journal_end
        for name, lsn in highest_file:
            if lsn > end:
                problems.append(f"数据文件 {name} 记录到第 {lsn} 号日志记录，预写日志 wal.jsonl 却只到第 {end} 号："
                                f"已确认的记录丢失（日志被截短、删除或换成了旧的）")
        if sealed:
            if self._state[0] != end and self._state[2]:
                problems.append(f"整体封印属于第 {self._state[0]} 号记录，预写日志却到第 {end} 号：hot.json 被换成了"
                                f"旧的副本，或预写日志被改动")
            if mark.status == "ok" and mark.lsn > end:
                problems.append(f"预写日志 wal.jsonl 比已确认的短：高水位标记记到第 {mark.lsn} 号记录，日志只到第 "
                                f"{end} 号（第 {end + 1}–{mark.lsn} 号已确认的记录丢失）")
            elif mark.status == "ok" and mark.lsn == self._state[0] and mark.digest != self._state[1]:
                problems.append(f"高水位标记与第 {mark.lsn} 号记录的封印状态不符：预写日志的最后一条记录被改动")
            elif mark.status != "ok" and self._lsn > 0:
                what = "缺失" if mark.status == "missing" else "已损坏（封印不符）"
                problems.append(f"高水位标记 wal.mark {what}：无法确认已确认的日志记录都还在")
        return problems

    def _verify_partition(self, partition: str, opened: list[ShardPart], shards: list[ShardPart], digest: list[str],
                          highest_file: list, sealed: bool, open_ids: set[str]) -> list[str]:
        problems: list[str] = []
        cases: dict[str, tuple[dict, str]] = {}
        transient: list[Part] = []  # loaded only for this walk: unloaded after, so memory stays small
        try:
            for part in [*opened, *shards]:
                kind = "在办数据" if part in opened else "归档"
                was = part.loaded
                try:
                    part.load()
                except StorageError as exc:
                    problems.append(str(exc))
                    continue
                if not was:
                    transient.append(part)
                highest_file.append((part.name, part.file_lsn))
                for doc in part.tables.get("cases", {}).values():
                    cid = doc.get("id")
                    if cid in cases:
                        problems.append(f"案件 {cid} 同时出现在{cases[cid][1]}和{kind} {part.name} 中")
                    cases[cid] = (doc, f"{kind} {part.name}")
                    if kind == "在办数据":
                        open_ids.add(cid)
                        problems.extend(self._verify_due(cid, doc))
            events: dict[str, list[dict]] = {}
            for seg in self._segments_of(partition):
                was = seg.loaded
                try:
                    seg.load()
                except StorageError as exc:
                    problems.append(str(exc))
                    continue
                if not was:
                    transient.append(seg)
                highest_file.append((seg.name, seg.file_lsn))
                for cid, evs in seg.by_case.items():
                    events.setdefault(cid, []).extend(evs)
            for cid in sorted(cases, key=str):
                doc, where = cases[cid]
                problems.extend(verify_chain(cid, doc, events.pop(cid, [])))
                if sealed:
                    seal = self._sealer.case(doc)
                    digest[0] = xor(digest[0], seal)
                    if SEAL not in doc:
                        problems.append(f"案件 {cid}：{where} 中的案件记录没有封印（不是本程序写入的）")
                    elif doc[SEAL] != seal:
                        problems.append(f"案件 {cid}：封印不符，{where} 中的案件记录在本程序之外被改动")
            for cid, evs in sorted(events.items(), key=lambda kv: str(kv[0])):
                for ev in evs:
                    problems.append(f"案件 {cid} 第 {ev.get('seq')} 条事件：所属案件不存在（事件被改动或案件记录丢失）")
        finally:
            for part in transient:
                part.unload()
        return problems

    def _verify_due(self, case_id: str, doc: dict) -> list[str]:
        """The due time hot.json keeps for the sweep is the case's own (else a deadline would be missed)."""
        kept, due = self.hot.case_due.get(case_id), earliest_due(doc)
        if kept == due:
            return []
        return [f"案件 {case_id}：hot.json 表 {DUE} 记的最早期限为 {kept or '无'}，案件本身为 {due or '无'}"
                f"（期限索引在本程序之外被改动，定时检查会因此漏办或早办）"]

    def _verify_hot_seals(self, digest: list[str]) -> list[str]:
        problems = []
        for table, docs in self.hot.tables.items():
            if table in UNSEALED_HOT:
                continue
            for doc in docs.values():
                seal = self._sealer.of_hot_doc(table, doc)
                digest[0] = xor(digest[0], seal)
                what = f"计数器 {doc.get('_key')}" if table == "sequences" else f"表 {table} 的记录 {doc.get('_key')}"
                if SEAL not in doc:
                    problems.append(f"{what}：没有封印（不是本程序写入的）")
                elif doc[SEAL] != seal:
                    problems.append(f"{what}：封印不符，在本程序之外被改动")
        return problems

    def _verify_state(self, computed: str) -> list[str]:
        lsn, stored, seal = self._state
        if not seal and lsn == 0 and stored == ZERO:
            if computed != ZERO:
                return ["数据目录缺少整体封印（hot.json 的封印状态丢失），而其中已有数据：数据文件被替换或改动"]
            return []
        if seal != self._sealer.state(lsn, stored):
            return [f"第 {lsn} 号记录的整体封印签名不符：hot.json 或预写日志中的封印状态被改动"]
        if computed != stored:
            return ["整体封印不符：有案件、记录或计数器在本程序之外被删除、恢复为旧版本或添加"
                    "（若上面没有逐条指出，即是整条被删除或换回了旧的副本）"]
        return []


def _inside(path, folder) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _note_text(doc: dict) -> str:
    when = doc.get("found_at") or "打开数据目录"
    if doc.get("kind") == "journal_lost":
        a, b = doc.get("from"), doc.get("to")
        n = b - a + 1 if isinstance(a, int) and isinstance(b, int) else "?"
        return (f"预写日志缺少已确认的记录：第 {a}–{b} 号（共 {n} 条）已确认写入，却不在日志中（日志被截短或删除），"
                f"{when} 打开数据目录时发现；这些记录所做的修改已经丢失")
    if doc.get("kind") == "journal_behind":
        return (f"数据文件 {doc.get('file')} 记录到第 {doc.get('file_lsn')} 号日志记录，预写日志却只到第 {doc.get('lsn')} 号"
                f"（日志被截短、删除或换成了旧的），{when} 打开数据目录时发现")
    if doc.get("kind") == "state_seal":
        return (f"hot.json 或预写日志中第 {doc.get('state_lsn')} 号记录的整体封印签名不符（封印状态被改动），"
                f"{when} 打开数据目录时发现")
    if doc.get("kind") == "state_behind":
        return (f"整体封印属于第 {doc.get('state_lsn')} 号记录，预写日志却到第 {doc.get('lsn')} 号：hot.json 被换成了"
                f"旧的副本，或预写日志被改动，{when} 打开数据目录时发现")
    if doc.get("kind") in ("mark_missing", "mark_damaged"):
        what = "缺失" if doc["kind"] == "mark_missing" else "已损坏（封印不符）"
        return (f"高水位标记 wal.mark {what}，{when} 打开数据目录时发现：无法确认此前已确认的日志记录都还在"
                f"（第 {doc.get('lsn')} 号记录之前）")
    return f"存储层记录的问题：{doc}"
