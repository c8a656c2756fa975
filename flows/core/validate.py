"""Check workflow definitions and refuse a wrong one with every error as `file: field.path: message`.

Shape errors come from pydantic (translated to Chinese); the checks below catch
what a schema cannot: unknown states, reachability, splits and joins, roles of
the organisation, expressions that do not parse or name unknown fields, timers.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from flows.core import scope
from flows.core.expressions import ExpressionError, evaluate, parse
from flows.core.forms import FormContext, FormInvalid, check_form
from flows.core.org import Organisation
from flows.core.spec import MAX_TIMER_LENGTH, Workflow

MAX_FIELDS = 200  # fields of one form, columns of one table (forms.Form / forms.Field declare none)
MAX_OPTIONS = 500  # options of one choice field
_UNITS = {"days": "天", "workdays": "个工作日", "months": "个月", "years": "年"}

BUILTIN_NAMES = scope.BUILTIN_NAMES

_PYDANTIC_MESSAGES = {
    "missing": "缺少必填项",
    "extra_forbidden": "不认识的字段（拼写错误？）",
    "string_type": "须为文字",
    "int_type": "须为整数",
    "int_parsing": "须为整数",
    "int_from_float": "须为整数",
    "float_type": "须为数字",
    "float_parsing": "须为数字",
    "finite_number": "须为有限的数字",
    "bool_type": "须为 true 或 false",
    "bool_parsing": "须为 true 或 false",
    "list_type": "须为列表",
    "dict_type": "须为映射（键: 值）",
    "model_type": "须为映射（键: 值）",
    "model_attributes_type": "须为映射（键: 值）",
    "date_type": "须为日期（YYYY-MM-DD）",
    "date_parsing": "须为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "须为日期（YYYY-MM-DD）",
    "enum": "不是可选的值",
}
# what a union's member is called in pydantic's error locations, and in our messages
_UNION_KINDS = {"int": "整数", "str": "文字", "float": "数字", "bool": "true 或 false", "list": "列表",
                "dict": "映射"}


class DefinitionError(Exception):
    """A definition (or several) was refused; `problems` lists every error."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def field_path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(根)"


def _pydantic_message(err: dict) -> str:
    kind = err["type"]
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        return f"格式不符，须匹配 {err['ctx']['pattern']}"
    if kind == "literal_error":
        return f"须为以下之一：{err['ctx']['expected']}"
    ctx = err.get("ctx") or {}
    if kind == "too_short":
        return f"至少需要 {ctx.get('min_length')} 项"
    if kind == "too_long":
        return f"太多（{ctx.get('actual_length')} 项，最多 {ctx.get('max_length')} 项）"
    if kind == "string_too_long":
        return f"太长（最多 {ctx.get('max_length')} 个字符）"
    if kind == "string_too_short":
        return f"太短（至少 {ctx.get('min_length')} 个字符）"
    if kind in ("greater_than_equal", "greater_than"):
        return f"数值太小（须{'不小于' if kind == 'greater_than_equal' else '大于'} {ctx.get('ge', ctx.get('gt'))}）"
    if kind in ("less_than_equal", "less_than"):
        return f"数值太大（须{'不大于' if kind == 'less_than_equal' else '小于'} {ctx.get('le', ctx.get('lt'))}）"
    return _PYDANTIC_MESSAGES.get(kind, f"取值不符合要求（{kind}）")


def _union_member(part: Any) -> str | None:
    """The kind a union member stands for when `part` of an error location names one, else None."""
    if not isinstance(part, str):
        return None
    base = part.removeprefix("constrained-").split("[", 1)[0]
    return _UNION_KINDS.get(base)


def _collapse_unions(errors: list[dict]) -> list[tuple[tuple, dict]]:
    """One error per union (pydantic reports one per member, located `after.constrained-int`): a
    value of a member's type gets that member's complaint, one of no member's type 'must be A or B'."""
    out: list[tuple[tuple, dict]] = []
    unions: dict[tuple, list[tuple[str, tuple, dict]]] = {}
    for err in errors:
        loc = tuple(err["loc"])
        cut = next((i for i, part in enumerate(loc) if _union_member(part)), None)
        if cut is None:
            out.append((loc, err))
            continue
        if loc[:cut] not in unions:
            out.append((loc[:cut], None))  # its place in the order
            unions[loc[:cut]] = []
        unions[loc[:cut]].append((_union_member(loc[cut]), loc[:cut] + loc[cut + 1:], err))
    result = []
    for loc, err in out:
        if err is not None:
            result.append((loc, err))
            continue
        members = unions[loc]
        # the value had this member's type when the complaint is not about the type, or is about an item
        matched = [(m_loc, e) for _, m_loc, e in members if not e["type"].endswith("_type") or len(m_loc) > len(loc)]
        if matched:
            result += matched
        else:
            kinds = "或".join(dict.fromkeys(kind for kind, _, _ in members))
            result.append((loc, {"type": "union", "msg": f"须为{kinds}"}))
    return result


def parse_model(model: type, data: Any, source: str):
    """Build a pydantic model (strictly: `true` is not 1, "1" is not a number) or raise
    DefinitionError with every field error, located by its field path."""
    try:
        return model.model_validate(data, strict=True)
    except (ArithmeticError, RecursionError, LookupError, TypeError) as exc:
        # a validator that raised what pydantic does not turn into a field error (re.compile's
        # OverflowError on `a{99999999999}`): refused all the same, never a crash of the loader
        raise DefinitionError([f"{source}: 定义中有无法处理的取值（{type(exc).__name__}: {str(exc)[:200]}）"]) from None
    except ValidationError as exc:
        problems = []
        for loc, err in _collapse_unions(exc.errors(include_url=False)):
            message = err["msg"] if err["type"] == "union" else _pydantic_message(err)
            problems.append(f"{source}: {field_path(loc)}: {message}")
        raise DefinitionError(list(dict.fromkeys(problems))) from None


# ------------------------------------------------------------------ semantic checks

class _Problems(list):
    def add(self, path: str, message: str) -> None:
        self.append(f"{path}: {message}")


def check_workflow(wf: Workflow, org: Organisation, workflows: set[str] | None = None,
                   template_fields: dict[str, set[str]] | None = None) -> list[str]:
    """Every semantic error of one definition as `field.path: message` (empty: fine)."""
    p = _Problems()
    states = {s.name: (i, s) for i, s in enumerate(wf.states)}
    splits = {s.name: s for s in wf.splits}
    fields = _data_fields(wf, p)
    known_names = set(fields) | {c.name for c in wf.computed} | BUILTIN_NAMES

    _duplicates(p, "states", [s.name for s in wf.states])
    _duplicates(p, "transitions", [t.name for t in wf.transitions])
    _duplicates(p, "splits", [s.name for s in wf.splits] + [j.name for j in wf.joins])
    for c_i, comp in enumerate(wf.computed):
        if comp.name in fields:
            p.add(f"computed[{c_i}].name", f"计算字段「{comp.name}」与表单字段重名")
        for r_i, rule in enumerate(comp.rules):
            _expression(p, f"computed[{c_i}].rules[{r_i}].when", rule.when, known_names)

    initials = [s.name for s in wf.states if s.initial]
    if not initials:
        p.add("states", "没有初始状态（需要恰好一个 initial: true）")
    elif len(initials) > 1:
        p.add("states", f"初始状态不止一个：{'、'.join(initials)}")
    if not any(s.final for s in wf.states):
        p.add("states", "没有终态（至少一个 final: true）")
    for i, s in enumerate(wf.states):
        if s.initial and s.final:
            p.add(f"states[{i}]", "初始状态不能同时是终态")

    def known_target(name: str) -> bool:
        return name in states or name in splits

    for i, t in enumerate(wf.transitions):
        path = f"transitions[{i}]"
        for src in t.sources:
            if src not in states:
                p.add(f"{path}.from", f"未知状态「{src}」")
            elif states[src][1].final:
                p.add(f"{path}.from", f"终态「{src}」不能有出口")
        if t.target is not None and not known_target(t.target):
            p.add(f"{path}.to", f"未知状态或并行拆分「{t.target}」")
        if t.assignee and fields.get(t.assignee) != "person":
            p.add(f"{path}.assignee", f"「{t.assignee}」不是本流程的人员字段")
        if t.register_entry:
            _expression(p, f"{path}.register.key", t.register_entry.key, known_names)
            for key, expr in t.register_entry.fields.items():
                _expression(p, f"{path}.register.fields.{key}", expr, known_names)
        for r in t.roles:
            if r not in org.role_names:
                p.add(f"{path}.roles", f"角色「{r}」不在组织机构中")
        for r, field in t.role_units.items():
            if r not in t.roles:
                p.add(f"{path}.role_units.{r}", f"「{r}」不是本操作的角色")
            if fields.get(field) not in ("unit", "enterprise"):
                p.add(f"{path}.role_units.{r}", f"「{field}」不是本流程的单位或企业字段")
        for u in t.units:
            if u not in org.unit_names:
                p.add(f"{path}.units", f"单位「{u}」不在组织机构中")
        if t.units and not t.roles:
            p.add(f"{path}.units", "限定单位时须同时给出角色（roles）")
        if t.units and t.own_unit:
            p.add(f"{path}.units", "units 与 own_unit 只能选一个")
        if t.actor_of is not None and wf.transition(t.actor_of) is None:
            p.add(f"{path}.actor_of", f"未知操作「{t.actor_of}」（须为本流程某个 transition 的 name）")
        elif t.actor_of is not None and not t.roles:
            p.add(f"{path}.actor_of", "须同时给出角色（roles）：尚无人办理该操作时由它们办理")
        if t.form is not None and t.form not in wf.forms:
            p.add(f"{path}.form", f"未知表单「{t.form}」")
        _expression(p, f"{path}.guard", t.guard, known_names)
        if t.guard_field is not None:
            if t.guard is None:
                p.add(f"{path}.guard_field", "只有带条件（guard）的操作才指定 guard_field")
            elif t.form is None or t.form not in wf.forms or \
                    t.guard_field not in {f.name for f in wf.forms[t.form].fields}:
                p.add(f"{path}.guard_field", f"「{t.guard_field}」不是本操作表单中的字段")
        if t.countersign:
            cs = t.countersign
            if cs.role and cs.role not in org.role_names:
                p.add(f"{path}.countersign.role", f"角色「{cs.role}」不在组织机构中")
            if (cs.units or cs.units_field) and not cs.role:
                p.add(f"{path}.countersign.role", "按单位会签时须指定角色")
            for u in cs.units:
                if u not in org.unit_names:
                    p.add(f"{path}.countersign.units", f"单位「{u}」不在组织机构中")
            for u in cs.users:
                if org.user(u) is None:
                    p.add(f"{path}.countersign.users", f"人员「{u}」不在组织机构中")
            if cs.units_field and cs.units_field not in fields:
                p.add(f"{path}.countersign.units_field", f"未知字段「{cs.units_field}」")
            if not (cs.units or cs.units_field or cs.users):
                p.add(f"{path}.countersign", "会签没有参与者")
        if t.extends and not any(tm.name == t.extends for s in wf.states for tm in s.timers):
            p.add(f"{path}.extends", f"未知定时器「{t.extends}」")
        for k, start in enumerate(t.starts):
            if workflows is not None and start.workflow not in workflows:
                p.add(f"{path}.starts[{k}].workflow", f"未知流程「{start.workflow}」")
            _expression(p, f"{path}.starts[{k}].when", start.when, known_names)
            for key, expr in start.data.items():
                _expression(p, f"{path}.starts[{k}].data.{key}", expr, known_names)
        for k, issue in enumerate(t.documents):
            doc = issue.template
            _expression(p, f"{path}.documents[{k}].when", issue.when, known_names)
            if template_fields is not None:
                if doc not in template_fields:
                    p.add(f"{path}.documents[{k}]", f"模板「{doc}」不存在：尚未上传，也不在 configs/templates 中")
                else:
                    for name in sorted(_unknown_template_fields(template_fields[doc], known_names)):
                        p.add(f"{path}.documents[{k}]", f"模板「{doc}」引用了流程没有的字段「{name}」")
                    for message in _template_names(template_fields[doc], wf):
                        p.add(f"{path}.documents[{k}]", f"模板「{doc}」{message}")

    for i, sp in enumerate(wf.splits):
        for b_i, b in enumerate(sp.branches):
            for end in ("start", "end"):
                name = getattr(b, end)
                if name not in states:
                    p.add(f"splits[{i}].branches[{b_i}].{end}", f"未知状态「{name}」")
                elif states[name][1].final:
                    p.add(f"splits[{i}].branches[{b_i}].{end}", f"分支状态「{name}」不能是终态")
        if not any(j.split == sp.name for j in wf.joins):
            p.add(f"splits[{i}]", f"并行拆分「{sp.name}」没有对应的汇合（joins）")
    for i, j in enumerate(wf.joins):
        if j.split not in splits:
            p.add(f"joins[{i}].split", f"汇合没有对应的并行拆分「{j.split}」")
        if j.to not in states:
            p.add(f"joins[{i}].to", f"未知状态「{j.to}」")
    if len([j.split for j in wf.joins]) != len({j.split for j in wf.joins}):
        p.add("joins", "同一并行拆分有多个汇合")

    for i, s in enumerate(wf.states):
        _duplicates(p, f"states[{i}].timers", [tm.name for tm in s.timers])
        for k, tm in enumerate(s.timers):
            path = f"states[{i}].timers[{k}]"
            if s.final:
                p.add(path, f"终态「{s.name}」不能有定时器")
            if tm.action == "fire":
                tr = wf.transition(tm.transition) if tm.transition else None
                if tr is None:
                    p.add(f"{path}.transition", f"到期自动执行的操作「{tm.transition}」不存在")
                elif s.name not in tr.sources and not tm.until:
                    p.add(f"{path}.transition", f"操作「{tr.name}」不从状态「{s.name}」出发")
            elif tm.transition:
                p.add(f"{path}.transition", "只有 action: fire 的定时器才指定 transition")
            for u in tm.until:
                if u not in states:
                    p.add(f"{path}.until", f"未知状态「{u}」")
            for r in tm.notify:
                if r not in org.role_names:
                    p.add(f"{path}.notify", f"角色「{r}」不在组织机构中")
            if tm.from_field and fields.get(tm.from_field) not in ("date", "datetime"):
                p.add(f"{path}.from_field", f"「{tm.from_field}」不是本流程的日期字段")
            if isinstance(tm.after, str):
                _expression(p, f"{path}.after", tm.after, known_names)
            if tm.max_extensions and not tm.extend_by:
                p.add(f"{path}.extend_by", "允许延期时须给出每次延期的长度")
            _timer_length(p, path, wf, tm)

    for r in wf.start_roles:
        if r not in org.role_names:
            p.add("start_roles", f"角色「{r}」不在组织机构中")
    if wf.start_form is not None and wf.start_form not in wf.forms:
        p.add("start_form", f"未知表单「{wf.start_form}」")
    for u in wf.start_units:
        if u not in org.unit_names:
            p.add("start_units", f"单位「{u}」不在组织机构中")
    start_fields = {f.name: f.kind for f in wf.forms[wf.start_form].fields} if wf.start_form in wf.forms else {}
    for r, field in wf.start_role_units.items():
        if r not in wf.start_roles:
            p.add(f"start_role_units.{r}", f"「{r}」不是可发起本流程的角色（start_roles）")
        if start_fields.get(field) not in ("unit", "enterprise"):
            p.add(f"start_role_units.{r}", f"「{field}」不是发起表单中的单位或企业字段")
    for name, form in wf.forms.items():
        _field_counts(p, f"forms.{name}.fields", form.fields)
        for k, f in enumerate(form.fields):
            if f.default is not None:
                _default(p, f"forms.{name}.fields[{k}].default", f, org)
            _expression(p, f"forms.{name}.fields[{k}].visible_when", f.visible_when, known_names)

    if not p:  # graph checks only make sense once names resolve
        _graph(p, wf)
    return list(p)


def _timer_length(p: _Problems, path: str, wf: Workflow, tm) -> None:
    """The longest a deadline can be (its length plus every extension) must stay within about 100
    years, or entering the state would overflow a date. A length computed from settings alone is
    computed here; one that reads the case's data is bounded when the case enters the state."""
    length = tm.after
    if isinstance(length, str):
        try:
            names = parse(length).names
        except ExpressionError:
            return  # reported by _expression
        if not names <= {"settings"}:
            return
        length = evaluate(length, {"settings": wf.settings})
        if isinstance(length, bool) or not isinstance(length, (int, float)):
            p.add(f"{path}.after", f"期限长度「{tm.after}」的值不是数字（settings 中有这一项吗？）")
            return
        if length < 0:
            p.add(f"{path}.after", f"期限长度「{tm.after}」为负数")
            return
    limit = MAX_TIMER_LENGTH[tm.unit]
    longest = length + (tm.extend_by or 0) * tm.max_extensions
    if longest > limit:
        where = "after" if length > limit else "extend_by"
        now = f"（现为 {longest:g}{_UNITS[tm.unit]}）" if longest < 10**15 else ""
        p.add(f"{path}.{where}", f"期限太长：含延期最长 {limit}{_UNITS[tm.unit]}{now}")


def _default(p: _Problems, path: str, f: Any, org: Organisation) -> None:
    """A field's default is a value its own field accepts (it is applied when the field is left out)."""
    users = {u.id: u.name for u in org.users}
    try:
        check_form([f.model_copy(update={"visible_when": None})], {f.name: f.default},
                   FormContext(users=users, units=org.unit_names, file_known=lambda ref: False))
    except FormInvalid as exc:
        for sub, message in exc.errors.items():
            p.add(path + sub.removeprefix(f.name), f"缺省值不符合本字段：{message}")


def _field_counts(p: _Problems, path: str, fields: list) -> None:
    if len(fields) > MAX_FIELDS:
        p.add(path, f"字段太多（{len(fields)} 个，最多 {MAX_FIELDS} 个）")
        return
    for k, f in enumerate(fields):
        if len(f.options) > MAX_OPTIONS:
            p.add(f"{path}[{k}].options", f"选项太多（{len(f.options)} 个，最多 {MAX_OPTIONS} 个）")
        if f.columns:
            _field_counts(p, f"{path}[{k}].columns", f.columns)


def _duplicates(p: _Problems, path: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            p.add(path, f"名称重复「{name}」")
        seen.add(name)


def _data_fields(wf: Workflow, p: _Problems) -> dict[str, str]:
    """Field name → kind across every form; a name declared twice must keep its kind."""
    kinds: dict[str, str] = {}
    for name, form in wf.forms.items():
        for k, f in enumerate(form.fields):
            if f.name in kinds and kinds[f.name] != f.kind:
                p.add(f"forms.{name}.fields[{k}].kind", f"字段「{f.name}」在其他表单中是 {kinds[f.name]}，类型须一致")
            kinds.setdefault(f.name, f.kind)
    return kinds


def _expression(p: _Problems, path: str, source: str | None, known: set[str]) -> None:
    if source is None:
        return
    try:
        expr = parse(source)
    except ExpressionError as exc:
        p.add(path, f"表达式无法解析：{exc}")
        return
    unknown = sorted(n for n in expr.names if n not in known)
    if unknown:
        p.add(path, f"表达式引用了未知字段：{'、'.join(unknown)}")


def _unknown_template_fields(names: set[str], known: set[str]) -> set[str]:
    out = set()
    for dotted in names:
        parts = dotted.split(".")
        if len(parts) >= 3 and parts[0] == "case" and parts[1] == "data" and parts[2] not in known:
            out.add(parts[2])
    return out


DOC_KEYS = {"number", "issuer", "banner", "minutes", "date", "title", "addressee", "cc", "printed_by", "printed_date"}


def _template_names(names: set[str], wf: Workflow) -> list[str]:
    """signatures.<transition> must name a 会签 of the workflow, settings.<key> one of its settings,
    doc.<key> a heading line the platform fills (a typo there would print nothing, silently)."""
    countersigns = {t.name for t in wf.transitions if t.countersign is not None}
    found = []
    for dotted in sorted(names):
        parts = dotted.split(".")
        if len(parts) < 2:
            continue
        if parts[0] == "signatures" and parts[1] not in countersigns:
            found.append(f"引用了不是会签的步骤「{parts[1]}」（{dotted}）：会签步骤有 {'、'.join(sorted(countersigns)) or '（无）'}")
        elif parts[0] == "settings" and parts[1] not in wf.settings:
            found.append(f"引用了流程没有的设置「{parts[1]}」（{dotted}）")
        elif parts[0] == "doc" and parts[1] not in DOC_KEYS:
            found.append(f"引用了文书没有的项目「{parts[1]}」（{dotted}）：可用 {'、'.join(sorted(DOC_KEYS))}")
    return found


def _graph(p: _Problems, wf: Workflow) -> None:
    """Reachability from the initial state, dead ends, branch boundaries, returns going back."""
    edges: dict[str, set[str]] = {s.name: set() for s in wf.states}
    branch_of: dict[str, str] = {}
    for sp in wf.splits:
        for b in sp.branches:
            branch_of[b.start] = branch_of[b.end] = f"{sp.name}.{b.name}"
    for t in wf.transitions:
        for s in t.sources:
            edges[s].update(_targets(wf, t, s))
    for j in wf.joins:
        for b in wf.split(j.split).branches:
            edges[b.end].add(j.to)
    # states reached inside a branch belong to it
    for sp in wf.splits:
        for b in sp.branches:
            for s in _reach(edges, b.start, stop={b.end}):
                branch_of.setdefault(s, f"{sp.name}.{b.name}")
    reached = _reach(edges, wf.initial_state().name)
    for i, s in enumerate(wf.states):
        if s.name not in reached:
            p.add(f"states[{i}]", f"状态「{s.name}」从初始状态不可达")
        elif not s.final and not edges[s.name]:
            p.add(f"states[{i}]", f"非终态「{s.name}」没有出口")
    for i, t in enumerate(wf.transitions):
        for s in t.sources:
            tgt = _targets(wf, t, s)[0]
            if branch_of.get(s) and branch_of.get(tgt) and branch_of[s] != branch_of[tgt]:
                p.add(f"transitions[{i}].to", "不能从一个并行分支跳到另一个分支")
            if t.kind == "return" and s not in _reach(edges, tgt):
                p.add(f"transitions[{i}].to", f"退回的目标「{tgt}」不在「{s}」之前")


def _targets(wf: Workflow, t, source: str) -> list[str]:
    """The states a transition enters from `source`: a split's branch starts, or itself when it stays."""
    split = wf.split(t.target) if t.target else None
    return [b.start for b in split.branches] if split else [t.target or source]


def _reach(edges: dict[str, set[str]], start: str, stop: set[str] = frozenset()) -> set[str]:
    seen, queue = {start}, deque([start])
    while queue:
        node = queue.popleft()
        if node in stop:
            continue
        for nxt in edges.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen
