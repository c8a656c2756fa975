"""Every problem of a designer draft, told by the table row it concerns, in Chinese, with how to fix it.

The checks are the ones `python -m flows validate` runs (the hardened YAML reader, the pydantic
models, `check_workflow`); this module only places each `field.path: message` on its row
("流转 第 3 行「审批同意」· 目标状态") and adds a hint by the field it names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flows.core.org import Organisation
from flows.core.spec import Workflow
from flows.core.validate import DefinitionError, check_workflow, parse_model
from flows.service.yaml_files import read_yaml_text

DRAFT = "草稿"

SECTIONS = {"states": "状态", "transitions": "流转", "forms": "表单", "splits": "并行拆分", "joins": "并行汇合",
            "computed": "计算字段", "settings": "设置"}
KEYS = {
    "name": "名称", "label": "显示名", "title": "标题", "code": "编号前缀", "version": "版本", "from": "起点状态",
    "to": "目标状态", "roles": "角色", "units": "单位", "users": "人员", "guard": "条件", "form": "表单",
    "documents": "文书", "template": "模板", "when": "条件", "timers": "定时器", "after": "期限", "unit": "单位",
    "transition": "自动流转", "countersign": "会签", "role": "角色", "fields": "字段", "kind": "类型",
    "options": "选项", "required": "必填", "default": "默认值", "visible_when": "显示条件", "columns": "列",
    "start_roles": "发起角色", "start_units": "发起单位", "start_form": "发起表单", "initial": "初始状态",
    "final": "结束状态", "assignee": "指定人员字段", "actor_of": "原经办人", "starts": "关联案件",
    "workflow": "流程", "branches": "分支", "split": "拆分", "min": "最小值", "max": "最大值",
    "pattern": "格式", "max_length": "最长", "notify": "通知角色", "action": "到期处理", "rules": "规则",
    "title_template": "案件标题", "register": "登记册", "extends": "延期定时器", "from_field": "起算字段",
    "guard_field": "提示所在字段",
}
HINTS = {
    "to": "在「状态」表中添加该状态，或改成已有的状态名称",
    "from": "起点须是「状态」表中的状态名称",
    "roles": "角色须是组织机构中已有的角色（用户页可查看）",
    "role": "角色须是组织机构中已有的角色",
    "units": "单位须是组织机构中已登记的单位",
    "form": "在「表单」中添加该表单，或改成已有的表单名称",
    "template": "先在「模板」中上传该文书模板，或改成已有的模板名称",
    "documents": "先在「模板」中上传该文书模板，或改成已有的模板名称",
    "guard": "条件是表达式，如 passed == true 或 amount > 10；只能使用表单字段、settings 和 README 所列函数",
    "when": "条件是表达式，如 passed == true；只能使用表单字段、settings 和 README 所列函数",
    "guard_field": "填写本流转表单中的一个字段名：条件不满足时，提示显示在该字段下",
    "name": "名称用小写英文字母、数字和下划线，以字母开头，且不与同类重复",
    "code": "编号前缀用 2–6 个大写英文字母，且不与其他流程重复",
    "transition": "填写本流程中某个流转的名称",
    "kind": "从列出的类型中选择",
    "initial": "恰好一个状态勾选「初始状态」",
    "final": "至少一个状态勾选「结束状态」，且每个状态都能走到结束",
}
_LINE = re.compile(r"^(?P<path>[A-Za-z_][\w\[\].\-]*): (?P<message>.*)$", re.S)
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Problem:
    path: str      # transitions[3].to
    where: str     # 流转 第 4 行「审批同意」· 目标状态
    message: str
    hint: str
    section: str | None = None  # the table it belongs to (states, transitions, forms...)
    row: int | None = None      # its row in that table, from 0

    def text(self) -> str:
        return f"{self.where}：{self.message}" + (f"（{self.hint}）" if self.hint else "")


def _steps(path: str) -> list[str | int]:
    return [int(index) if index else name for name, index in _STEP.findall(path)]


def _describe(steps: list[str | int], data: Any) -> str:
    words: list[str] = []
    node, previous = data, None
    for step in steps:
        if isinstance(step, int):
            item = node[step] if isinstance(node, list) and step < len(node) else None
            label = (item.get("label") or item.get("name")) if isinstance(item, dict) else None
            words[-1] = f"{words[-1] if words else ''} 第 {step + 1} 行" + (f"「{label}」" if label else "")
            node = item
        else:
            if previous == "forms" and words:  # the form's own name
                words[-1] = f"表单「{step}」"
            elif previous == "settings" and words:
                words[-1] = f"设置「{step}」"
            else:
                words.append(SECTIONS.get(step, KEYS.get(step, step)) if not words else KEYS.get(step, step))
            node = node.get(step) if isinstance(node, dict) else None
        previous = step
    return " · ".join(w for w in words if w) or "流程"


def place(line: str, data: Any) -> Problem:
    """One `path: message` line (its file prefix taken off) put on its row."""
    text = line.removeprefix(f"{DRAFT}: ")
    match = _LINE.match(text)
    if not match:
        return Problem("", "流程", text, "")
    path, message = match["path"], match["message"]
    steps = _steps(path)
    section = steps[0] if steps and isinstance(steps[0], str) else None
    row = steps[1] if len(steps) > 1 and isinstance(steps[1], int) else None
    if section == "forms" and len(steps) > 1:
        row = None
    keys = [s for s in steps if isinstance(s, str)]
    hint = next((HINTS[k] for k in reversed(keys) if k in HINTS), "")
    return Problem(path, _describe(steps, data), message, hint, section, row)


def check_draft(source: str, org: Organisation, workflows: set[str],
                template_fields: dict[str, set[str]]) -> tuple[Workflow | None, list[Problem]]:
    """The draft's definition (None when it does not parse) and every problem found in it."""
    try:
        data = read_yaml_text(source, DRAFT)
    except DefinitionError as exc:
        return None, [Problem("", "YAML", m.removeprefix(f"{DRAFT}: "), "检查缩进、冒号和引号") for m in exc.problems]
    if not isinstance(data, dict):
        return None, [Problem("", "流程", "草稿须是一个映射（name: …, states: …）", "从「新建流程」的模板开始")]
    try:
        wf = parse_model(Workflow, data, DRAFT)
    except DefinitionError as exc:
        return None, [place(m, data) for m in exc.problems]
    return wf, [place(m, data) for m in check_workflow(wf, org, workflows, template_fields)]
