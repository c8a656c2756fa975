"""The bounds of what an admin's YAML file may hold (see `flows.service.yaml_files`), and how a
problem is said: shared by the reader (`yaml_files`), the parser (`yaml_parse`) and the cache
(`yaml_cache`, whose entries are keyed by the bounds)."""
from __future__ import annotations

import re
from pathlib import Path

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_NODES = 10_000  # entries, lists and texts in one file, aliases expanded (the largest shipped workflow has ~900)
MAX_TEXT = 20_000
MAX_DIGITS = 18
MAX_REPORTED = 20  # problems listed per file before "…"

CORE_TAG = "tag:yaml.org,2002:"
ALLOWED_TAGS = {CORE_TAG + t for t in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")}
# XML 1.0's characters: what python-docx, the browser and the JSON files all accept
BAD_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def char_problem(text: str) -> str | None:
    bad = BAD_CHAR.search(text)
    if bad is None:
        return None
    code = ord(bad.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"含有无效字符 U+{code:04X}（孤立的代理码位，不是有效的 UTF-8 文字）"
    return f"含有不可用的控制字符 U+{code:04X}"


def located(path: str | Path, found: list[tuple[int, str, str]]) -> list[str]:
    out = [f"{path}: {loc}: {message}（第 {line} 行）" if loc else f"{path}: 第 {line} 行: {message}"
           for line, loc, message in found]
    if len(found) >= MAX_REPORTED:
        out.append(f"{path}: ……（只列出前 {MAX_REPORTED} 处）")
    return out
