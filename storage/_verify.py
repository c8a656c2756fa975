"""Verification: walk every partition (open cases, archive shards, history segments) and the journal,
and say in words a user can read what is missing, changed or out of place."""
from __future__ import annotations

from storage._chain import verify_chain
from storage._layout import partition_of
from storage._parts import ArchivePart, Part
from storage.errors import StorageError


class VerifyMixin:
    """`Store.verify` (mixed into `Store`: uses its mutex, `_catch_up`, parts and journal problems)."""

    def verify(self) -> list[str]:
        """Check every case's history chain and the journal; [] when everything is intact."""
        with self._mutex:
            self._check_open()
            self._catch_up(locked=False)
            problems = list(self._wal_problems)
            by_partition: dict[str, dict[str, dict]] = {}
            for doc in self.hot.tables.get("cases", {}).values():
                by_partition.setdefault(partition_of(doc["id"]), {})[doc["id"]] = doc
            shards: dict[str, list[ArchivePart]] = {}
            for part in self._archive_parts():
                shards.setdefault(part.path.parent.name, []).append(part)
            partitions = set(by_partition) | set(shards) | {k[1] for k in self._parts if k[0] == "history"}
            root = self.dir / "history"
            if root.is_dir():
                partitions |= {p.name for p in root.iterdir() if p.is_dir()}
            for partition in sorted(partitions):
                problems.extend(self._verify_partition(partition, by_partition.get(partition, {}),
                                                       shards.get(partition, [])))
            return problems

    def _verify_partition(self, partition: str, hot_cases: dict, shards: list[ArchivePart]) -> list[str]:
        problems: list[str] = []
        cases = dict(hot_cases)
        transient: list[Part] = []  # loaded only for this walk: unloaded after, so memory stays small
        try:
            for part in shards:
                was = part.loaded
                try:
                    part.load()
                except StorageError as exc:
                    problems.append(str(exc))
                    continue
                if not was:
                    transient.append(part)
                for doc in part.tables.get("cases", {}).values():
                    cid = doc.get("id")
                    if cid in cases:
                        problems.append(f"案件 {cid} 同时出现在在办数据和归档 {part.name} 中")
                    cases[cid] = doc
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
                for cid, evs in seg.by_case.items():
                    events.setdefault(cid, []).extend(evs)
            for cid in sorted(cases, key=str):
                problems.extend(verify_chain(cid, cases[cid], events.pop(cid, [])))
            for cid, evs in sorted(events.items(), key=lambda kv: str(kv[0])):
                for ev in evs:
                    problems.append(f"案件 {cid} 第 {ev.get('seq')} 条事件：所属案件不存在（事件被改动或案件记录丢失）")
        finally:
            for part in transient:
                part.unload()
        return problems
