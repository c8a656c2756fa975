"""Layout of a data directory: which partition file holds a case, its closed record and its history.

``hot.json`` holds open cases (see `HotPart`); a closed case lives in ``archive/<partition>/<shard>.json``
and its events in ``history/<partition>/<shard>-<span>.json``; the index of people (whose cases are
whose) in ``people/<NN>.json``, a person's all in one file (`PeoplePart`). Partition = case id without its final
``-NNNNN``; shard = 1000 case numbers; span = 10,000 journal numbers (LSNs), so a checkpoint rewrites
only the current segments, never the whole history. Part objects are made on first use and kept in
`Store._parts`, keyed ``("archive", partition, shard)``, ``("history", partition, shard, span)`` or ``("people", NN)``.
"""
from __future__ import annotations

from pathlib import Path

from storage._case_ids import SHARD_CASES, partition_of, shard_of
from storage._parts import ArchivePart, HotPart, Part, PeoplePart, SegmentPart, people_bucket, people_named

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

    def _archive(self, case_id: str) -> ArchivePart:
        """The archive shard that holds (or would hold) closed case `case_id`, made on first use."""
        p, s = partition_of(case_id), shard_of(case_id)
        key = ("archive", p, s)
        part = self._parts.get(key)
        if part is None:
            name = f"archive/{p}/{s:04d}.json"
            part = self._parts[key] = ArchivePart(self.dir / name, name)
        return part

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
        """Where the case is now ("hot" or "archive") and its stored document; (None, None): nowhere."""
        doc = self.hot.get_doc("cases", case_id)
        if doc is not None:
            return "hot", doc
        part = self._archive(case_id)
        part.load()
        doc = part.get_doc("cases", case_id)
        return ("archive", doc) if doc is not None else (None, None)

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

    def _archive_parts(self) -> list[ArchivePart]:
        """Every archive shard, on disk or only in memory so far (not checkpointed yet)."""
        keys = {key[1:] for key in self._parts if key[0] == "archive"}
        root = self.dir / "archive"
        if root.is_dir():
            for folder in root.iterdir():
                if folder.is_dir():
                    for p in folder.glob("*.json"):
                        if p.stem.isdigit():
                            keys.add((folder.name, int(p.stem)))
        out = []
        for partition, shard in sorted(keys):
            key = ("archive", partition, shard)
            if key not in self._parts:
                name = f"archive/{partition}/{shard:04d}.json"
                self._parts[key] = ArchivePart(self.dir / name, name)
            out.append(self._parts[key])
        return out
