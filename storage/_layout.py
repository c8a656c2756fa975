"""Layout of a data directory: which partition file holds a case, its history and whose it is.

An open case lives in ``open/<partition>/<shard>.json``, a closed one in ``archive/<partition>/<shard>.json``
(`ShardPart` both), its events in ``history/<partition>/<shard>-<span>.json``; ``hot.json`` keeps the open
cases' tasks and due times, counters and small tables (`HotPart`); the index of people (whose cases are
whose) is in ``people/<NN>.json``, a person's all in one file (`PeoplePart`). Partition = case id without its
final ``-NNNNN``; shard = 1000 case numbers; span = 10,000 journal numbers (LSNs), so a checkpoint rewrites
only the current segments, never the whole history. Part objects are made on first use and kept in
`Store._parts`, keyed ``("open" or "archive", partition, shard)``, ``("history", partition, shard, span)``
or ``("people", NN)``.
"""
from __future__ import annotations

from pathlib import Path

from storage._case_ids import SHARD_CASES, partition_of, shard_of
from storage._parts import HotPart, Part, PeoplePart, SegmentPart, ShardPart, people_bucket, people_named

__all__ = ["HISTORY_SPAN", "SHARD_CASES", "LayoutMixin", "partition_of", "shard_of"]

HISTORY_SPAN = 10_000  # journal numbers per history segment


def people_file(bucket: int) -> str:
    """The file of the people index that holds the people of `bucket` (`storage._parts.people_bucket`)."""
    return f"people/{bucket:02d}.json"


class LayoutMixin:
    """The Store's parts by case, shard and span. Mixed into `Store`, which sets these attributes."""

    dir: Path
    hot: HotPart
    _parts: dict[tuple, Part]

    def _shard(self, kind: str, case_id: str) -> ShardPart:
        """The shard of `kind` ("open" or "archive") that holds (or would hold) case `case_id`, made on first use."""
        p, s = partition_of(case_id), shard_of(case_id)
        key = (kind, p, s)
        part = self._parts.get(key)
        if part is None:
            name = f"{kind}/{p}/{s:04d}.json"
            part = self._parts[key] = ShardPart(self.dir / name, name)
        return part

    def _open(self, case_id: str) -> ShardPart:
        """The open shard of case `case_id`."""
        return self._shard("open", case_id)

    def _archive(self, case_id: str) -> ShardPart:
        """The archive shard of case `case_id` (its closed record)."""
        return self._shard("archive", case_id)

    def _segment(self, partition: str, shard: int, span: int) -> SegmentPart:
        """A history segment, made on first use (loading is the caller's: most records only queue)."""
        key = ("history", partition, shard, span)
        part = self._parts.get(key)
        if part is None:
            name = f"history/{partition}/{shard:04d}-{span:06d}.json"
            part = self._parts[key] = SegmentPart(self.dir / name, name)
        return part

    def _people(self, bucket: int) -> PeoplePart:
        """A file of the people index, made on first use (loaded by who reads it; records only queue)."""
        key = ("people", bucket)
        part = self._parts.get(key)
        if part is None:
            name = people_file(bucket)
            part = self._parts[key] = PeoplePart(self.dir / name, name, bucket)
        return part

    def _people_of(self, case: dict) -> list[PeoplePart]:
        """The files of the people index that list `case` under someone (each once)."""
        return [self._people(b) for b in sorted({people_bucket(person) for _, person in people_named(case)})]

    def _person(self, person: str) -> PeoplePart:
        """The loaded file of the people index that holds `person`'s documents."""
        part = self._people(people_bucket(person))
        part.load()
        return part

    def _locate(self, case_id: str) -> tuple[str | None, dict | None]:
        """Where the case is now ("open" or "archive") and its stored document; (None, None): nowhere."""
        for kind in ("open", "archive"):
            part = self._shard(kind, case_id)
            part.load()
            doc = part.get_doc("cases", case_id)
            if doc is not None:
                return kind, doc
        return None, None

    def _segments_of(self, partition: str, shard: int | None = None) -> list[SegmentPart]:
        """History segments of a partition (of one shard of it), oldest first."""
        segs = {key[2:] for key in self._parts
                if key[0] == "history" and key[1] == partition and (shard is None or key[2] == shard)}
        folder = self.dir / "history" / partition
        if folder.is_dir():
            for p in folder.glob("*.json" if shard is None else f"{shard:04d}-*.json"):
                a, _, b = p.stem.partition("-")
                if a.isdigit() and b.isdigit():
                    segs.add((int(a), int(b)))
        return [self._segment(partition, sh, span) for sh, span in sorted(segs, key=lambda t: (t[1], t[0]))]

    def _shard_parts(self, kind: str) -> list[ShardPart]:
        """Every shard of `kind` ("open" or "archive"), on disk or only in memory so far (not checkpointed yet)."""
        keys = {key[1:] for key in self._parts if key[0] == kind}
        root = self.dir / kind
        if root.is_dir():
            for folder in root.iterdir():
                if folder.is_dir():
                    for p in folder.glob("*.json"):
                        if p.stem.isdigit():
                            keys.add((folder.name, int(p.stem)))
        out = []
        for partition, shard in sorted(keys):
            key = (kind, partition, shard)
            if key not in self._parts:
                name = f"{kind}/{partition}/{shard:04d}.json"
                self._parts[key] = ShardPart(self.dir / name, name)
            out.append(self._parts[key])
        return out

    def _archive_parts(self) -> list[ShardPart]:
        return self._shard_parts("archive")

    def _open_parts(self) -> list[ShardPart]:
        return self._shard_parts("open")
