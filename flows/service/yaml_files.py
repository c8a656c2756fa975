"""Reading the admins' YAML files (workflows, organisation, calendar, documents, drill rules).

One reader for every configuration file, so a file that cannot be read or parsed is refused the
same way everywhere: a `DefinitionError` (or the caller's error type) naming the file and line.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import YAMLError

from flows.core.validate import DefinitionError


class _DatesAsText(SafeConstructor):
    """Leaves dates as text: an impossible date (2027-02-30) must come back as a located error
    from our own check, not as a crash inside the YAML library."""


_DatesAsText.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)


def _parser(dates_as_text: bool) -> YAML:
    yaml = YAML(typ="safe", pure=True)
    if dates_as_text:
        yaml.Constructor = _DatesAsText
    return yaml


def read_yaml(path: str | Path, *, dates_as_text: bool = False,
              error: type[Exception] = DefinitionError) -> Any:
    """The parsed content of one file; `error([message])` when it cannot be read or parsed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error([f"{path}: 无法读取：{exc}"]) from None
    try:
        return _parser(dates_as_text).load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行: " if mark else ""
        raise error([f"{path}: {where}YAML 语法错误：{getattr(exc, 'problem', None) or exc}"]) from None
