"""Reading the admins' YAML files (workflows, organisation, calendar, documents, drill rules).

One reader for every configuration file, so a file that cannot be read or parsed is refused the
same way everywhere: a `DefinitionError` (or the caller's error type) naming the file and line.

What an admin's file may hold is bounded here, before any model is built, so that nothing typed
into one can exhaust the machine or make a later step crash:

- at most `MAX_FILE_BYTES` bytes, valid UTF-8;
- at most `MAX_NODES` entries, lists and texts in all, an alias (`*name`) counting as everything it
  repeats (so a "billion laughs" is refused at once; the pure-Python parser takes ~40 µs a node,
  the bound keeps any file under a second); no alias to what contains it (a recursive structure);
- nesting at most `MAX_DEPTH` levels, aliases expanded;
- no merge keys and no explicit tags (`!!binary`, `!!python/...`): plain mappings, lists, text,
  numbers, dates, true/false and null;
- every text at most `MAX_TEXT` characters, made only of characters a Word document (XML 1.0) can
  hold: no lone surrogates ("\\ud800") and no control characters besides tab and newline;
- integers of at most `MAX_DIGITS` digits, floats finite.

The bounds are enforced as the file is composed, by the parser in `yaml_parse`; what a file parsed to
is kept (`yaml_cache`) so an unchanged file is not parsed again.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flows.core.validate import DefinitionError
from flows.service.yaml_rules import BAD_CHAR, MAX_FILE_BYTES, char_problem


def read_yaml(path: str | Path, *, dates_as_text: bool = False,
              error: type[Exception] = DefinitionError) -> Any:
    """The parsed content of one file; `error([message, ...])` when it cannot be read, is too big,
    or holds what admins' files may not (see the module's docstring)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error([f"{path}: 无法读取：{exc.strerror or exc}"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise error([f"{path}: 文件太大（超过 {MAX_FILE_BYTES // 1000} KB）：一个配置文件最多 "
                     f"{MAX_FILE_BYTES // 1000} KB，请拆分或精简"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise error([f"{path}: 第 {line} 行: 不是有效的 UTF-8 文字（请以 UTF-8 编码保存）"]) from None
    return _read(text, path, dates_as_text, error, cached=True)


def read_yaml_text(text: str, name: str | Path = "草稿", *, dates_as_text: bool = False,
                   error: type[Exception] = DefinitionError) -> Any:
    """`read_yaml` for text typed in the browser (the designer's YAML view); `name` starts each message."""
    return _read(text, name, dates_as_text, error, cached=False)


def _read(text: str, path: str | Path, dates_as_text: bool, error: type[Exception], cached: bool) -> Any:
    """`cached`: a file's parse is kept (`yaml_cache`); a draft typed in the browser is parsed each time."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise error([f"{path}: 内容太大（超过 {MAX_FILE_BYTES // 1000} KB）：请拆分或精简"]) from None
    bad = BAD_CHAR.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise error([f"{path}: 第 {line} 行: {char_problem(bad.group())}"]) from None

    def parse() -> Any:
        from flows.service.yaml_parse import parse  # ~0.18 s to import: only when a file is parsed

        return parse(text, path, dates_as_text, error)

    if not cached:
        return parse()
    from flows.service.yaml_cache import cached as kept

    return kept(text, dates_as_text, parse)
