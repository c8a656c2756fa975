"""Where a case id belongs: its partition (the id without its number) and shard (1000 case numbers)."""
from __future__ import annotations

import re
import zlib

SHARD_CASES = 1000  # case numbers per archive shard
_ID = re.compile(r"^(.+)-(\d+)$")
_UNSAFE = re.compile(r"[^\w.-]")


def partition_of(case_id: str) -> str:
    """`SG-2024-00012` → `SG-2024`; ids without a trailing number share the partition `_other`."""
    m = _ID.match(case_id)
    if not m:
        return "_other"
    name = _UNSAFE.sub("_", m.group(1))
    return name if name.strip(".") else "_" + name


def shard_of(case_id: str) -> int:
    """Case number // `SHARD_CASES`; an id without a number is spread over 16 shards by its crc."""
    m = _ID.match(case_id)
    if not m:
        return zlib.crc32(case_id.encode("utf-8")) % 16
    return int(m.group(2)) // SHARD_CASES
