"""The YAML parser of the admins' files: ruamel.yaml's pure-Python parser with a composer that bounds what a
file may hold (the rules: `flows.service.yaml_files`). Imported only when a file is parsed, not read
from the cache (`yaml_cache`): the library alone takes ~0.18 s to import.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, MaxDepthExceededError
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from flows.core.validate import field_path
from flows.service.yaml_rules import (
    ALLOWED_TAGS,
    CORE_TAG,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_NODES,
    MAX_REPORTED,
    MAX_TEXT,
    char_problem,
    located,
)


class _Refused(MarkedYAMLError):
    """Something the admins' files may not hold; `found` lists (line, field path, message)."""

    def __init__(self, found: list[tuple[int, str, str]]):
        super().__init__(problem=found[0][2])
        self.found = found


def _scalar_problem(node: ScalarNode) -> str | None:
    text = node.value
    problem = char_problem(text)
    if problem:
        return problem
    if len(text) > MAX_TEXT:
        return f"文字太长（{len(text)} 个字符，最多 {MAX_TEXT} 个）"
    if node.tag == CORE_TAG + "int" and sum(c.isdigit() for c in text) > MAX_DIGITS:
        return f"数字位数太多（最多 {MAX_DIGITS} 位）"
    if node.tag == CORE_TAG + "float":
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
        return node.value if char_problem(node.value) is None else node.value.encode("utf-8", "backslashreplace").decode()
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
    if tag not in ALLOWED_TAGS:
        what = "合并键 <<" if tag == CORE_TAG + "merge" else f"标记「{tag.replace(CORE_TAG, '!!')}」"
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


def parse(text: str, path: str | Path, dates_as_text: bool, error: type[Exception]) -> Any:
    """The content of `text`, checked as it is composed; `error([message, ...])` naming `path` when not."""
    try:
        return _parser(dates_as_text).load(text)
    except _Refused as exc:
        raise error(located(path, exc.found)) from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行: " if mark else ""
        problem = f"嵌套太深（最多 {MAX_DEPTH} 层）" if isinstance(exc, MaxDepthExceededError) \
            else getattr(exc, "problem", None) or exc
        raise error([f"{path}: {where}YAML 语法错误：{problem}"]) from None
