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
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, MaxDepthExceededError
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from flows.core.validate import DefinitionError, field_path

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_NODES = 10_000  # entries, lists and texts in one file, aliases expanded (the largest shipped workflow has ~900)
MAX_TEXT = 20_000
MAX_DIGITS = 18
MAX_REPORTED = 20  # problems listed per file before "…"

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")}
# XML 1.0's characters: what python-docx, the browser and the JSON files all accept
_BAD_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class _Refused(MarkedYAMLError):
    """Something the admins' files may not hold; `found` lists (line, field path, message)."""

    def __init__(self, found: list[tuple[int, str, str]]):
        super().__init__(problem=found[0][2])
        self.found = found


def _char_problem(text: str) -> str | None:
    bad = _BAD_CHAR.search(text)
    if bad is None:
        return None
    code = ord(bad.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"含有无效字符 U+{code:04X}（孤立的代理码位，不是有效的 UTF-8 文字）"
    return f"含有不可用的控制字符 U+{code:04X}"


def _scalar_problem(node: ScalarNode) -> str | None:
    text = node.value
    problem = _char_problem(text)
    if problem:
        return problem
    if len(text) > MAX_TEXT:
        return f"文字太长（{len(text)} 个字符，最多 {MAX_TEXT} 个）"
    if node.tag == _CORE + "int" and sum(c.isdigit() for c in text) > MAX_DIGITS:
        return f"数字位数太多（最多 {MAX_DIGITS} 位）"
    if node.tag == _CORE + "float":
        lowered = text.replace("_", "").lower()
        if "inf" in lowered or "nan" in lowered or len(lowered) > 40:
            return "须为有限的数字（不接受 .inf、.nan 或过长的数字）"
        try:
            if abs(float(lowered)) == float("inf"):
                return "数字太大"
        except ValueError:
            pass  # another float spelling: the constructor reads it
    return None


def _key_label(node: Any) -> str | int:
    if isinstance(node, ScalarNode):
        return node.value if _char_problem(node.value) is None else node.value.encode("utf-8", "backslashreplace").decode()
    return "?"


def _inspect(node: Any, loc: list, found: list[tuple[int, str, str]]) -> None:
    """Every scalar's text, every tag, the depth with aliases expanded (the composer bounds how many
    nodes that is, and the depth without them)."""
    if len(found) >= MAX_REPORTED:
        return
    line = node.start_mark.line + 1
    if len(loc) > MAX_DEPTH:
        if not any(message.startswith("嵌套太深") for _, _, message in found):  # once is enough
            found.append((line, field_path(loc[:8]) + "…", f"嵌套太深（展开别名后超过 {MAX_DEPTH} 层）"))
        return
    tag = str(node.tag)
    if tag not in _ALLOWED_TAGS:
        what = "合并键 <<" if tag == _CORE + "merge" else f"标记「{tag.replace(_CORE, '!!')}」"
        found.append((line, field_path(loc), f"不支持 YAML 的{what}：只写映射、列表、文字、数字和 true/false"))
        return
    if isinstance(node, ScalarNode):
        problem = _scalar_problem(node)
        if problem:
            found.append((line, field_path(loc), problem))
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _inspect(item, [*loc, i], found)
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            _inspect(key, loc, found)
            _inspect(value, [*loc, _key_label(key)], found)


class _AdminComposer(Composer):
    """Counts nodes as they come, an alias as the size of what it repeats; refuses an alias to a
    node still being composed (a cycle); inspects each document before anything is built from it."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.parser.check_event(AliasEvent):
            event = self.parser.peek_event()
            line = event.start_mark.line + 1
            if event.anchor in self.open_anchors:
                raise _Refused([(line, "", f"别名「*{event.anchor}」引用了包含它自己的内容（循环引用）")])
            self.nodes += self.sizes.get(event.anchor, 0)
            if self.nodes > MAX_NODES:
                raise _Refused([(line, "", f"内容太多（别名「*{event.anchor}」展开后超过 {MAX_NODES} 项）：请直接写出或精简")])
            return super().compose_node(parent, index)
        event = self.parser.peek_event()
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Refused([(event.start_mark.line + 1, "", f"内容太多（超过 {MAX_NODES} 项）：请拆分或精简")])
        start, anchor = self.nodes, getattr(event, "anchor", None)
        if anchor is not None:
            self.open_anchors.add(anchor)
        node = super().compose_node(parent, index)
        if anchor is not None:
            self.open_anchors.discard(anchor)
            self.sizes[anchor] = self.nodes - start + 1
        return node

    def compose_document(self) -> Any:
        self.nodes, self.sizes, self.open_anchors = 0, {}, set()
        self.warn_double_anchors = False  # legal YAML: an alias means the latest anchor of its name
        node = super().compose_document()
        found: list[tuple[int, str, str]] = []
        if node is not None:
            _inspect(node, [], found)
        if found:
            raise _Refused(found)
        return node


class _DatesAsText(SafeConstructor):
    """Leaves dates as text: an impossible date (2027-02-30) must come back as a located error
    from our own check, not as a crash inside the YAML library."""


_DatesAsText.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)


def _parser(dates_as_text: bool) -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _AdminComposer
    yaml.max_depth = MAX_DEPTH
    if dates_as_text:
        yaml.Constructor = _DatesAsText
    return yaml


def _located(path: str | Path, found: list[tuple[int, str, str]]) -> list[str]:
    out = [f"{path}: {loc}: {message}（第 {line} 行）" if loc else f"{path}: 第 {line} 行: {message}"
           for line, loc, message in found]
    if len(found) >= MAX_REPORTED:
        out.append(f"{path}: ……（只列出前 {MAX_REPORTED} 处）")
    return out


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
    return read_yaml_text(text, path, dates_as_text=dates_as_text, error=error)


def read_yaml_text(text: str, name: str | Path = "草稿", *, dates_as_text: bool = False,
                   error: type[Exception] = DefinitionError) -> Any:
    """`read_yaml` for text typed in the browser (the designer's YAML view); `name` starts each message."""
    path = name
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise error([f"{path}: 内容太大（超过 {MAX_FILE_BYTES // 1000} KB）：请拆分或精简"]) from None
    bad = _BAD_CHAR.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise error([f"{path}: 第 {line} 行: {_char_problem(bad.group())}"]) from None
    try:
        return _parser(dates_as_text).load(text)
    except _Refused as exc:
        raise error(_located(path, exc.found)) from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行: " if mark else ""
        problem = f"嵌套太深（最多 {MAX_DEPTH} 层）" if isinstance(exc, MaxDepthExceededError) \
            else getattr(exc, "problem", None) or exc
        raise error([f"{path}: {where}YAML 语法错误：{problem}"]) from None
