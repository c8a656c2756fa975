"""What the admins' YAML files parsed to, kept so a command does not parse (nor import the parser for) a
file that did not change.

The parser is pure Python (`yaml_parse`: its composer bounds what a file may hold), about 40 µs a node:
the shipped configuration took 0.15 s to parse and 0.18 s to import the library, in every `python -m
flows` command and every process start. What a parse gave is written under the cache directory as JSON,
named by the SHA-256 of the text together with the parse option, the bounds, the parser's own source and
the library's version, so a changed file, option, bound or parser is parsed again. A failure is never kept: its messages come
from the parser each time. Dates (YAML timestamps) and mappings whose keys are not all text become
tagged lists whose tag begins with U+0000, which no admin's text can hold (`yaml_files` refuses control
characters before parsing), so nothing a file holds reads back as anything else.

The entries live in ``yaml/`` of the cache directory (`flows.service.caches`), the newest `KEEP` of them.
Writing is atomic (a temporary file renamed) and best effort: where nothing can be written, files are
parsed every time.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from flows.service import yaml_rules as rules
from flows.service.caches import cache_dir

KEEP = 200  # entries: the shipped files take a dozen; the rest are admins' earlier editions
_DATE, _DATETIME, _MAP = "\0date", "\0datetime", "\0map"


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return [_MAP, [[_encode(k), _encode(v)] for k, v in value.items()]]
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, datetime):  # before date: a datetime is a date too
        return [_DATETIME, value.isoformat()]
    if isinstance(value, date):
        return [_DATE, value.isoformat()]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(type(value).__name__)  # nothing else comes out of the parser; not kept if it does


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) == 2 and isinstance(value[0], str) and value[0].startswith("\0"):
            tag, body = value
            if tag == _DATETIME:
                return datetime.fromisoformat(body)
            if tag == _DATE:
                return date.fromisoformat(body)
            return {_decode(k): _decode(v) for k, v in body}
        return [_decode(v) for v in value]
    return value


@cache
def _source_digest() -> bytes:
    from importlib import metadata

    here = Path(__file__).resolve().parent
    h = hashlib.sha256(metadata.version("ruamel.yaml").encode())
    for name in ("yaml_parse.py", "yaml_rules.py", "yaml_cache.py"):
        h.update(b"\0" + (here / name).read_bytes())
    return h.digest()


def _parser_digest() -> bytes:
    bounds = (rules.MAX_DEPTH, rules.MAX_NODES, rules.MAX_TEXT, rules.MAX_DIGITS)
    return _source_digest() + repr(bounds).encode()


def cached(text: str, dates_as_text: bool, parse: Callable[[], Any]) -> Any:
    """The parse of `text`: read from the cache, or `parse()` (which raises on a bad file) and kept."""
    key = hashlib.sha256(_parser_digest() + bytes([dates_as_text]) + text.encode("utf-8", "surrogatepass"))
    folder = cache_dir() / "yaml"
    entry = folder / f"{key.hexdigest()}.json"
    try:
        return _decode(json.loads(entry.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        pass  # none yet, or unreadable: parsed again (and written again)
    value = parse()
    try:
        body = json.dumps(_encode(value), ensure_ascii=False)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        os.replace(tmp, entry)
        _prune(folder)
    except (OSError, TypeError, ValueError):
        pass  # a cache only: parsing again next time is the cost
    return value


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)
