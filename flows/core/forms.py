"""Form fields: one definition drives the server-side check and the UI widget.

A workflow's forms are lists of `Field`. `check_form` validates what a user
submitted against them and returns the cleaned values, or raises `FormInvalid`
with one Chinese message per field path.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from math import isfinite
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic import Field as PydField

from flows.core.expressions import parse as parse_expression

IDENTIFIER = r"^[a-z][a-z0-9_]*$"

FieldKind = Literal[
    "text",  # 单行文本
    "textarea",  # 多行文本
    "number",  # 数字 (min/max)
    "date",  # 日期 YYYY-MM-DD
    "datetime",  # 日期时间 YYYY-MM-DDTHH:MM
    "choice",  # 单选
    "multichoice",  # 多选
    "bool",  # 是/否
    "person",  # 人员 (a user id of the organisation)
    "unit",  # 单位 (a unit name of the organisation)
    "enterprise",  # 企业: {name, credit_code} with GB 32100 check character
    "file",  # 附件: list of stored file references
    "table",  # 表格: rows of `columns`
]


class Field(BaseModel):
    """One form field. `name` is the key in the case's data."""

    model_config = ConfigDict(extra="forbid")

    name: str = PydField(pattern=IDENTIFIER)
    label: str = PydField(min_length=1)
    kind: FieldKind
    required: bool = False
    help: str | None = None
    suffix: str | None = None  # shown after the widget, e.g. 万元
    default: Any = None
    # number
    min: float | None = None
    max: float | None = None
    integer: bool = False
    # text / textarea
    min_length: int | None = PydField(default=None, ge=0)
    max_length: int | None = PydField(default=None, ge=1)
    pattern: str | None = None
    pattern_message: str | None = None
    # choice / multichoice
    options: list[str] = []
    # table
    columns: list[Field] = []
    min_rows: int | None = PydField(default=None, ge=0)
    max_rows: int | None = PydField(default=None, ge=1)
    # shown (and checked) only when this expression over the case data is true
    visible_when: str | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"正则表达式无效: {exc}") from None
        return value

    @model_validator(mode="after")
    def _kind_specific(self) -> Field:
        if self.kind in ("choice", "multichoice") and not self.options:
            raise ValueError("单选/多选字段必须列出 options")
        if self.kind != "table" and self.columns:
            raise ValueError("只有表格字段可以有 columns")
        if self.kind == "table" and not self.columns:
            raise ValueError("表格字段必须列出 columns")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min 不能大于 max")
        if len({c.name for c in self.columns}) != len(self.columns):
            raise ValueError("表格的列名重复")
        return self


class Form(BaseModel):
    """A named form a transition asks for."""

    model_config = ConfigDict(extra="forbid")

    title: str
    fields: list[Field]

    @model_validator(mode="after")
    def _unique_names(self) -> Form:
        seen: set[str] = set()
        for f in self.fields:
            if f.name in seen:
                raise ValueError(f"字段名重复: {f.name}")
            seen.add(f.name)
        return self


# ================================================================ checking submitted values
#
# `check_form` is pure: the organisation's people and units and the case data so far
# come in through `FormContext`. It returns the cleaned values of the form's visible
# fields and raises `FormInvalid` listing every bad field at once.

MISSING = "必填"


class FormInvalid(ValueError):
    """A submitted form was refused. `errors`: field path → Chinese message.

    Paths: ``deaths``, ``enterprise.credit_code``, ``persons[2].measure`` (row index
    counted from 0), ``evidence[0]`` for one attachment.
    """

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        detail = "；".join(f"{k}: {v}" for k, v in self.errors.items())
        super().__init__(f"表单填写有误：{detail}")


@dataclasses.dataclass(frozen=True)
class FormContext:
    users: Mapping[str, str] = dataclasses.field(default_factory=dict)  # user id → name
    units: frozenset[str] = frozenset()  # unit names
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # the case's data so far (for visible_when)


# ---------------------------------------------------------------- 统一社会信用代码 (GB 32100-2015)

CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, Z, S, V
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_CHARS)}


def credit_code_check_char(first17: str) -> str:
    """The 18th character for the first 17 (GB 32100-2015: 31 − Σ(value × weight) mod 31, 31 → 0)."""
    total = sum(_CREDIT_VALUE[c] * w for c, w in zip(first17.upper(), CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """None when `code` is a valid 统一社会信用代码, else the Chinese reason."""
    if not isinstance(code, str):
        return "统一社会信用代码须为文字"
    code = code.strip().upper()
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位（现为 {len(code)} 位）"
    bad = [c for c in code if c not in _CREDIT_VALUE]
    if bad:
        return f"统一社会信用代码含有无效字符「{bad[0]}」（不使用 I、O、Z、S、V）"
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        return f"统一社会信用代码校验位错误（应为 {expected}）"
    return None


def credit_code_valid(code: str) -> bool:
    """True when `code` (case-insensitive, surrounding spaces ignored) passes GB 32100-2015."""
    return credit_code_problem(code) is None


# ---------------------------------------------------------------- one value per kind
# Each cleaner returns the clean value, or raises _Bad(message) / _BadMany({subpath: message}).

class _Bad(Exception):
    def __init__(self, message: str):
        self.message = message


class _BadMany(Exception):
    def __init__(self, errors: dict[str, str]):
        self.errors = errors


_LIST_KINDS = ("multichoice", "file", "table")
_TRUE = {"是", "true", "True", "TRUE", "1", "yes", "on"}
_FALSE = {"否", "false", "False", "FALSE", "0", "no", "off"}
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_TEXT = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?")


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return not value
    if isinstance(value, Mapping):  # e.g. an enterprise widget left blank: {"name": "", "credit_code": ""}
        return all(_is_empty(v) for v in value.values())
    return False


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _quote(value: Any) -> str:
    text = str(value)
    return f"「{text[:30]}…」" if len(text) > 30 else f"「{text}」"


def _text(f: Field, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _Bad("须为文字")
    text = str(value)
    if f.kind == "text":
        text = text.strip()
    if f.min_length is not None and len(text) < f.min_length:
        raise _Bad(f"至少 {f.min_length} 个字（现为 {len(text)} 个）")
    if f.max_length is not None and len(text) > f.max_length:
        raise _Bad(f"最多 {f.max_length} 个字（现为 {len(text)} 个）")
    if f.pattern is not None and re.fullmatch(f.pattern, text) is None:
        raise _Bad(f.pattern_message or "格式不符合要求")
    return text


def _number(f: Field, value: Any) -> int | float:
    if isinstance(value, bool):
        raise _Bad("须为数字")
    if isinstance(value, str):
        text = value.strip()
        try:
            number: int | float = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise _Bad("须为数字") from None
    elif isinstance(value, (int, float)):
        number = value
    else:
        raise _Bad("须为数字")
    if isinstance(number, float):
        if not isfinite(number):
            raise _Bad("须为有限的数字")
        if f.integer:
            if not number.is_integer():
                raise _Bad("须为整数")
            number = int(number)
    if f.min is not None and number < f.min:
        raise _Bad(f"应不小于 {_fmt(f.min)}")
    if f.max is not None and number > f.max:
        raise _Bad(f"应不大于 {_fmt(f.max)}")
    return number


def _date(f: Field, value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _DATE_TEXT.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise _Bad("不是有效的日期（格式 YYYY-MM-DD）")


def _datetime(f: Field, value: Any) -> str:
    if isinstance(value, datetime):
        moment = value.replace(microsecond=0, tzinfo=None)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        match = _DATETIME_TEXT.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise _Bad("不是有效的日期时间（格式 YYYY-MM-DDTHH:MM）")
        day, hour, minute, second = match.groups()
        try:
            moment = datetime.fromisoformat(f"{day}T{hour}:{minute}:{second or '00'}")
        except ValueError:
            raise _Bad("不是有效的日期时间（格式 YYYY-MM-DDTHH:MM）") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%S" if moment.second else "%Y-%m-%dT%H:%M")


def _choice(f: Field, value: Any) -> str:
    if not isinstance(value, str) or value not in f.options:
        raise _Bad(f"{_quote(value)}不在可选项中")
    return value


def _multichoice(f: Field, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise _Bad("须为选项列表")
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, str) or item not in f.options:
            raise _Bad(f"{_quote(item)}不在可选项中")
        if item in seen:
            raise _Bad(f"{_quote(item)}重复选择")
        seen.add(item)
    return [o for o in f.options if o in seen]  # the options' order


def _bool(f: Field, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.strip() in _TRUE:
            return True
        if value.strip() in _FALSE:
            return False
    raise _Bad("须为「是」或「否」")


def _person(f: Field, value: Any, ctx: FormContext) -> str:
    if not isinstance(value, str) or value not in ctx.users:
        raise _Bad(f"{_quote(value)}不是系统中的人员")
    return value


def _unit(f: Field, value: Any, ctx: FormContext) -> str:
    if not isinstance(value, str) or value.strip() not in ctx.units:
        raise _Bad(f"{_quote(value)}不是已登记的单位")
    return value.strip()


def _enterprise(f: Field, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _Bad("须填写企业名称和统一社会信用代码")
    errors: dict[str, str] = {}
    name, code = value.get("name"), value.get("credit_code")
    if _is_empty(name):
        errors["name"] = MISSING
    elif not isinstance(name, str):
        errors["name"] = "须为文字"
    if _is_empty(code):
        errors["credit_code"] = MISSING
    else:
        problem = credit_code_problem(code)
        if problem:
            errors["credit_code"] = problem
    if errors:
        raise _BadMany({f".{k}": v for k, v in errors.items()})
    return {"name": name.strip(), "credit_code": code.strip().upper()}


def _files(f: Field, value: Any) -> list[dict[str, str]]:
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise _Bad("须为附件列表")
    out, errors = [], {}
    for i, item in enumerate(value):
        if (not isinstance(item, Mapping) or _is_empty(item.get("name")) or _is_empty(item.get("ref"))
                or not isinstance(item.get("name"), str) or not isinstance(item.get("ref"), str)):
            errors[f"[{i}]"] = "附件须有文件名（name）和存储位置（ref）"
            continue
        out.append({"name": item["name"], "ref": item["ref"]})
    if errors:
        raise _BadMany(errors)
    return out


def _table(f: Field, value: Any, ctx: FormContext, env: Mapping[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(value, (list, tuple)):
        raise _Bad("须为表格行的列表")
    errors: dict[str, str] = {}
    if f.min_rows is not None and len(value) < f.min_rows:
        errors[""] = f"至少填写 {f.min_rows} 行（现为 {len(value)} 行）"
    if f.max_rows is not None and len(value) > f.max_rows:
        errors[""] = f"最多 {f.max_rows} 行（现为 {len(value)} 行）"
    rows = []
    for i, row in enumerate(value):
        if not isinstance(row, Mapping):
            errors[f"[{i}]"] = "每一行须为一组字段值"
            continue
        try:
            rows.append(_check(f.columns, row, ctx, env))
        except FormInvalid as exc:
            errors.update({f"[{i}].{path}": msg for path, msg in exc.errors.items()})
    if errors:
        raise _BadMany(errors)
    return rows


def _clean(f: Field, value: Any, ctx: FormContext, env: Mapping[str, Any]) -> Any:
    kind = f.kind
    if kind in ("text", "textarea"):
        return _text(f, value)
    if kind == "number":
        return _number(f, value)
    if kind == "date":
        return _date(f, value)
    if kind == "datetime":
        return _datetime(f, value)
    if kind == "choice":
        return _choice(f, value)
    if kind == "multichoice":
        return _multichoice(f, value)
    if kind == "bool":
        return _bool(f, value)
    if kind == "person":
        return _person(f, value, ctx)
    if kind == "unit":
        return _unit(f, value, ctx)
    if kind == "enterprise":
        return _enterprise(f, value)
    if kind == "file":
        return _files(f, value)
    if kind == "table":
        return _table(f, value, ctx, env)
    raise _Bad(f"未知的字段类型 {kind}")  # unreachable: Field.kind is a Literal


# ---------------------------------------------------------------- the form

def _visible(f: Field, env: Mapping[str, Any]) -> bool:
    return f.visible_when is None or bool(parse_expression(f.visible_when).evaluate(env))


def _check(fields: Sequence[Field], values: Mapping[str, Any], ctx: FormContext,
           outer: Mapping[str, Any]) -> dict[str, Any]:
    """Clean `values` against `fields`; `outer` is what visible_when sees besides these values."""
    # 1. clean every field, visible or not (a visibility may depend on a cleaned value);
    #    tables last, so their columns' visible_when see this form's cleaned values
    cleaned: dict[str, Any] = {}
    problems: dict[str, dict[str, str]] = {}
    for f in sorted(fields, key=lambda f: f.kind == "table"):
        raw = values.get(f.name)
        if _is_empty(raw):
            cleaned[f.name] = [] if f.kind in _LIST_KINDS else None
            if f.required:
                problems[f.name] = {"": MISSING}
            continue
        try:
            cleaned[f.name] = _clean(f, raw, ctx, {**outer, **cleaned})
        except _Bad as bad:
            problems[f.name] = {"": bad.message}
            cleaned[f.name] = None
        except _BadMany as bad:
            problems[f.name] = bad.errors
            cleaned[f.name] = None
    # 2. decide visibility until it settles: a hidden field's value is not seen by the others
    hidden: set[str] = set()
    for _ in range(len(fields) + 1):
        env = {**outer, **{k: v for k, v in cleaned.items() if k not in hidden}}
        for name in hidden:
            env[name] = outer.get(name)
        now_hidden = {f.name for f in fields if not _visible(f, env)}
        if now_hidden == hidden:
            break
        hidden = now_hidden
    # 3. report the visible fields' problems, keep the visible fields' values
    errors: dict[str, str] = {}
    for f in fields:
        if f.name in hidden:
            continue
        for sub, message in problems.get(f.name, {}).items():
            errors[f"{f.name}{sub}"] = message
    if errors:
        raise FormInvalid(errors)
    return {f.name: cleaned[f.name] for f in fields if f.name not in hidden}


def check_form(fields: Sequence[Field], values: Mapping[str, Any], ctx: FormContext) -> dict[str, Any]:
    """Check a submitted form and return its cleaned values.

    - Only the form's fields are returned (other keys of `values` are dropped), and
      only the visible ones: a field whose `visible_when` is false is neither required
      nor kept. `visible_when` sees ``{**ctx.data, **cleaned values of this form}``
      (a hidden field's own value is not seen; the case data's is).
    - Empty means None, "" (or only spaces), [] or {}; a visible empty field gives
      None ([] for multichoice, file and table), or "必填" when required.
    - Clean values: text stripped (textarea kept as typed), numbers as int/float
      ("12" → 12, integer fields 3.0 → 3), dates "YYYY-MM-DD", datetimes
      "YYYY-MM-DDTHH:MM" (":SS" only when not zero), multichoice in the options' order,
      bool True/False ("是"/"否" accepted), enterprise {"name", "credit_code"} with the
      code upper-cased, files [{"name", "ref"}], table rows checked column by column.
    - Raises FormInvalid with every bad field at once (paths like ``persons[2].measure``).
    """
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise FormInvalid({"": "表单数据须为字段名到值的映射"})
    return _check(fields, values, ctx, dict(ctx.data or {}))


def widget_default(f: Field) -> Any:
    """The value a UI widget starts with: the field's `default`, else empty for its kind."""
    if f.default is not None:
        return f.default
    if f.kind in _LIST_KINDS:
        return []
    if f.kind == "enterprise":
        return {"name": "", "credit_code": ""}
    if f.kind in ("text", "textarea"):
        return ""
    return None
