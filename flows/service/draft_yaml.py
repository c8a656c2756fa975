"""A draft's YAML kept as the admin wrote it: ruamel.yaml's round-trip mode edits the parsed text in
place, so the comments, order and layout of everything a table did not change survive a save."""
from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

__all__ = ["CommentedMap", "CommentedSeq", "apply_mapping", "apply_rows", "dump", "form_fields", "load",
           "remove_form", "set_version"]

from flows.service.yaml_files import read_yaml_text


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.width = 4096  # never fold a long guard or label onto two lines
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load(source: str) -> CommentedMap:
    """The draft as ruamel's commented tree; the text is first read by the hardened reader (its
    bounds apply: it raises DefinitionError like a configs/ file would)."""
    read_yaml_text(source, "草稿")
    tree = _yaml().load(source)
    return tree if isinstance(tree, CommentedMap) else CommentedMap()


def dump(tree: Any) -> str:
    out = io.StringIO()
    _yaml().dump(tree, out)
    return out.getvalue()


def set_version(source: str, version: int) -> str:
    tree = load(source)
    tree["version"] = version
    return dump(tree)


def _plain(value: Any) -> Any:
    """A table cell as YAML wants it: blanks, empty lists and false (every flag a table shows
    defaults to false) left out (None), numbers kept."""
    if value is None or value is False or value == "" or value == []:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _update(target: CommentedMap, row: dict, columns: list[str]) -> None:
    """Change only the keys of `columns` that differ; a key emptied is removed."""
    for key in columns:
        value = _plain(row.get(key))
        if value is None:
            if key in target:
                del target[key]
        elif target.get(key) != value:
            target[key] = value


def apply_rows(tree: CommentedMap, section: str, rows: list[dict], columns: list[str], key: str = "name",
               flow_style: bool = True) -> None:
    """Put a table's rows into `tree[section]` (a list of mappings), matching rows to items by `key`:
    an item kept keeps its comments and the keys the table does not show; removed rows are dropped,
    new rows appended, the table's order is the new order."""
    old = tree.get(section)
    items = {item.get(key): item for item in old if isinstance(item, dict)} if isinstance(old, list) else {}
    new = CommentedSeq()
    for row in rows:
        name = row.get(key)
        if name in (None, ""):
            continue
        item = items.pop(name, None)
        if item is None:
            item = CommentedMap()
            if flow_style:
                item.fa.set_flow_style()
        _update(item, row, columns)
        new.append(item)
    if isinstance(old, CommentedSeq):  # keep the comments hung on the list itself
        old.clear()
        old.extend(new)
    else:
        tree[section] = new


def apply_mapping(tree: CommentedMap, section: str, rows: list[dict], key_column: str, value_column: str) -> None:
    """A key → value table (settings) into `tree[section]`."""
    old = tree.get(section)
    target = old if isinstance(old, CommentedMap) else CommentedMap()
    keep = {str(r.get(key_column)) for r in rows if r.get(key_column) not in (None, "")}
    for name in [k for k in target if k not in keep]:
        del target[name]
    for row in rows:
        name = row.get(key_column)
        if name in (None, ""):
            continue
        value = _plain(row.get(value_column))
        if target.get(name) != value:
            target[name] = value
    tree[section] = target


def form_fields(tree: CommentedMap, form: str, title: str, rows: list[dict], columns: list[str]) -> None:
    """One step's form (its fields table) into `tree.forms[form]`, made when new."""
    forms = tree.get("forms")
    if not isinstance(forms, CommentedMap):
        forms = tree["forms"] = CommentedMap()
    target = forms.get(form)
    if not isinstance(target, CommentedMap):
        target = forms[form] = CommentedMap()
    if title:
        target["title"] = title
    apply_rows(target, "fields", rows, columns)


def remove_form(tree: CommentedMap, form: str) -> None:
    forms = tree.get("forms")
    if isinstance(forms, CommentedMap) and form in forms:
        del forms[form]
