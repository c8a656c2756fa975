"""Two versions of a workflow compared in the office's words: states, steps, forms' fields and
settings added, removed or changed (which properties)."""
from __future__ import annotations

from typing import Any

NAMED = [("states", "状态"), ("transitions", "流转"), ("splits", "并行拆分"), ("joins", "并行汇合"),
         ("computed", "计算字段")]
TOP = {"title": "流程名称", "code": "编号前缀", "description": "说明", "title_template": "案件标题",
       "start_roles": "发起角色", "start_units": "发起单位", "start_role_units": "发起单位字段",
       "start_form": "发起表单", "notify_holders": "流转提醒"}


def _label(item: dict) -> str:
    return f"「{item.get('label') or item.get('name')}」" + (f"（{item['name']}）" if item.get("label") else "")


def _by_name(items: list[dict] | None) -> dict[str, dict]:
    return {item["name"]: item for item in items or [] if isinstance(item, dict) and "name" in item}


def _named(kind: str, old: list[dict] | None, new: list[dict] | None, out: list[str]) -> None:
    before, after = _by_name(old), _by_name(new)
    for name in after.keys() - before.keys():
        out.append(f"新增{kind}{_label(after[name])}")
    for name in before.keys() - after.keys():
        out.append(f"删除{kind}{_label(before[name])}")
    for name in sorted(before.keys() & after.keys()):
        changed = sorted(k for k in before[name].keys() | after[name].keys()
                         if before[name].get(k) != after[name].get(k))
        if changed:
            out.append(f"修改{kind}{_label(after[name])}：" + "、".join(
                f"{k} {_short(before[name].get(k))} → {_short(after[name].get(k))}" for k in changed))


def _short(value: Any) -> str:
    text = "（无）" if value in (None, [], {}, "") else str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def describe(old: dict, new: dict) -> list[str]:
    """What changed from `old` to `new` (two definitions as stored), one line per change."""
    out: list[str] = []
    for key, word in TOP.items():
        if old.get(key) != new.get(key):
            out.append(f"修改{word}：{_short(old.get(key))} → {_short(new.get(key))}")
    for key, word in NAMED:
        _named(word, old.get(key), new.get(key), out)
    old_forms, new_forms = old.get("forms") or {}, new.get("forms") or {}
    for form in sorted(new_forms.keys() - old_forms.keys()):
        out.append(f"新增表单「{new_forms[form].get('title') or form}」（{len(new_forms[form].get('fields', []))} 个字段）")
    for form in sorted(old_forms.keys() - new_forms.keys()):
        out.append(f"删除表单「{old_forms[form].get('title') or form}」")
    for form in sorted(old_forms.keys() & new_forms.keys()):
        _named(f"表单「{new_forms[form].get('title') or form}」的字段",
               old_forms[form].get("fields"), new_forms[form].get("fields"), out)
    settings_old, settings_new = old.get("settings") or {}, new.get("settings") or {}
    for key in sorted(settings_old.keys() | settings_new.keys()):
        if settings_old.get(key) != settings_new.get(key):
            out.append(f"修改设置 {key}：{_short(settings_old.get(key))} → {_short(settings_new.get(key))}")
    return out
