"""The write-ahead journal: one line per transaction, framed so a torn or changed line is recognised.

Line format: ``<crc32 of payload, 8 hex digits> <payload JSON>\\n``. JSON never contains a raw newline,
so lines are the frames. The first line of every journal file is a header
``{"wal": generation, "base": lsn, "schema": n}``: the partition files already hold every record up
to `base`. A last line without its newline is a torn write (never acknowledged); a complete line whose
checksum does not match was changed after it was written.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field


def frame(record: dict) -> bytes:
    payload = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


@dataclass
class Chunk:
    """What reading a journal from some offset found."""

    records: list[tuple[int, dict]] = field(default_factory=list)  # (line offset, record), damaged ones too
    end: int = 0  # offset after the last complete line read
    torn: bool = False  # bytes after `end` that do not form a complete line
    bad: list[tuple[int, str, dict | None]] = field(default_factory=list)  # (offset, reason, record or None)


def parse(data: bytes, start: int, *, trust_last: bool) -> Chunk:
    """Parse journal bytes that begin at file offset `start`.

    `trust_last`: whether a complete last line with a bad checksum is a damaged record (True: the
    caller holds the write lock, nobody is writing) or possibly a write still in progress (False).
    """
    out = Chunk(end=start)
    pos = 0
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            out.torn = True
            break
        line = data[pos:nl]
        offset = start + pos
        is_last = nl == n - 1
        record = None
        ok = len(line) > 9 and line[8:9] == b" "
        payload = line[9:]
        if ok:
            try:
                ok = int(line[:8], 16) == zlib.crc32(payload)
            except ValueError:
                ok = False
        if ok:
            try:
                record = json.loads(payload)
            except ValueError:
                ok, record = False, None
        if not ok:
            if is_last and not trust_last:
                out.torn = True  # perhaps another process is still writing it
                break
            try:
                record = json.loads(payload)
                if not isinstance(record, dict):
                    record = None
            except ValueError:
                record = None
            out.bad.append((offset, "校验和不符", record))
            if record is not None:
                out.records.append((offset, record))  # keep what it says: verify() names what changed
            pos = nl + 1
            out.end = start + pos
            continue
        out.records.append((offset, record))
        pos = nl + 1
        out.end = start + pos
    return out
